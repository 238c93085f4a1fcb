#!/bin/sh
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a while. Any
# target that fails to build, fails to start, or finds a failing input fails the run.
# usage: scripts/fuzz.sh [SECONDS per target, default 20]
set -eu
cd "$(dirname "$0")/.."
SECS="${1:-20}"
OUT=build-fuzz
mkdir -p "$OUT"
CXX="${FUZZ_CXX:-clang++}"
FLAGS="-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I."
SIMD="-msse4.2 -mpclmul -mpopcnt"
echo "== building fuzz targets ($CXX)"
$CXX $FLAGS fuzz/sse_parser_fuzz.cc controller/marathon/sse_parser.cc -o "$OUT/sse_parser_fuzz"
$CXX $FLAGS $SIMD fuzz/app_json_fuzz.cc controller/marathon/app_json.cc \
  -lsimdjson -o "$OUT/app_json_fuzz"
$CXX $FLAGS fuzz/http_chunked_fuzz.cc controller/marathon/http_chunked.cc \
  controller/marathon/http_message.cc -o "$OUT/http_chunked_fuzz"
# The injection property: the whole pure pipeline (parse, build, render, audit).
cmake -DSRC_DIR=templates -DOUT="$OUT/builtin_templates.cc" -P cmake/embed_templates.cmake
$CXX $FLAGS $SIMD fuzz/render_injection_fuzz.cc controller/render/injection_check.cc \
  controller/render/config_audit.cc controller/render/config_renderer.cc controller/render/config_shape.cc \
  controller/render/mlb_globals.cc \
  controller/render/template.cc controller/render/template_set.cc "$OUT/builtin_templates.cc" \
  controller/model/service_builder.cc controller/model/labels.cc controller/marathon/app_json.cc \
  common/hash.cc common/fs/file_system.cc common/fs/files.cc common/fs/config_edits.cc \
  -lsimdjson -lcrypto \
  -o "$OUT/render_injection_fuzz"
$CXX $FLAGS fuzz/config_edits_fuzz.cc common/fs/config_edits.cc common/fs/file_system.cc \
  common/fs/files.cc common/hash.cc -lcrypto -o "$OUT/config_edits_fuzz"
for t in sse_parser app_json http_chunked render_injection config_edits; do
  case $t in
    sse_parser) corpus=fuzz/corpus/sse;;
    app_json) corpus=fuzz/corpus/apps;;
    http_chunked) corpus=fuzz/corpus/chunked;;
    render_injection) corpus=fuzz/corpus/injection;;
    config_edits) corpus=fuzz/corpus/edits;;
  esac
  work="$OUT/corpus-$t"; mkdir -p "$work"
  log="$OUT/$t.log"
  echo "== fuzzing $t for ${SECS}s"
  status=0
  "$OUT/${t}_fuzz" -max_total_time="$SECS" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$OUT/$t-" "$work" "$corpus" >"$log" 2>&1 || status=$?
  grep -E "stat::number_of_executed_units|ERROR|SUMMARY|injection through" "$log" || true
  if [ "$status" != 0 ]; then
    echo "fuzz: $t exited with status $status (log: $log)"; tail -n 20 "$log"; exit 1
  fi
  if ! grep -q "stat::number_of_executed_units" "$log"; then
    echo "fuzz: $t did not run (log: $log)"; tail -n 20 "$log"; exit 1
  fi
  if ls "$OUT/$t-"crash-* >/dev/null 2>&1 || ls "$OUT/$t-"leak-* >/dev/null 2>&1; then
    echo "fuzz: $t found a failing input: $(ls "$OUT/$t-"*)"; exit 1
  fi
done
echo "fuzz: no crash"
