#!/bin/sh
# Runs the whole test suite: build, unit + integration tests (real haproxy -c, the
# conformance suite when ../shared is present), the unit tests again under
# ASan+UBSan, a Release build of the binaries, the libFuzzer targets briefly, a
# clang-format check, and the render benchmark's smoke run.
set -eu
cd "$(dirname "$0")/.."
JOBS="${JOBS:-2}"

echo "== build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$JOBS"

echo "== tests"
(cd build && ctest --output-on-failure -j "$JOBS")

echo "== unit tests under ASan+UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMLB_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$JOBS"
(cd build-asan && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  ctest --output-on-failure -j "$JOBS" -L unit)

echo "== Release build of the binaries (GCC 12 at -O3 must compile them too)"
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j "$JOBS" --target mlb-controller mlb-reloader mlb mlb-run mlb-deploy

echo "== fuzz targets (libFuzzer, a short run each)"
./scripts/fuzz.sh "${FUZZ_SECONDS:-20}"

echo "== clang-format"
FILES=$(git ls-files '*.cc' '*.h' 2>/dev/null || find . -name '*.cc' -o -name '*.h' | grep -v build)
clang-format --dry-run --Werror $FILES

echo "== benchmark smoke run (figures: build/bench/render_bench)"
./build/bench/render_bench --smoke

echo "ALL TESTS PASSED"
