#!/bin/sh
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a while.
# usage: scripts/fuzz.sh [SECONDS per target, default 20]
set -eu
cd "$(dirname "$0")/.."
SECS="${1:-20}"
OUT=build-fuzz
mkdir -p "$OUT"
CXX="${FUZZ_CXX:-clang++}"
FLAGS="-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I."
echo "== building fuzz targets ($CXX)"
$CXX $FLAGS fuzz/sse_parser_fuzz.cc controller/marathon/sse_parser.cc -o "$OUT/sse_parser_fuzz"
$CXX $FLAGS -msse4.2 -mpclmul -mpopcnt fuzz/app_json_fuzz.cc controller/marathon/app_json.cc \
  -lsimdjson -o "$OUT/app_json_fuzz"
$CXX $FLAGS fuzz/http_chunked_fuzz.cc controller/marathon/http_chunked.cc \
  -o "$OUT/http_chunked_fuzz"
for t in sse_parser app_json http_chunked; do
  case $t in
    sse_parser) corpus=fuzz/corpus/sse;;
    app_json) corpus=fuzz/corpus/apps;;
    http_chunked) corpus=fuzz/corpus/chunked;;
  esac
  work="$OUT/corpus-$t"; mkdir -p "$work"
  echo "== fuzzing $t for ${SECS}s"
  "$OUT/${t}_fuzz" -max_total_time="$SECS" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$OUT/$t-" "$work" "$corpus" 2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY|crash" || true
  if ls "$OUT/$t-"crash-* >/dev/null 2>&1 || ls "$OUT/$t-"leak-* >/dev/null 2>&1; then
    echo "fuzz: $t found a failing input: $(ls "$OUT/$t-"*)"; exit 1
  fi
done
echo "fuzz: no crash"
