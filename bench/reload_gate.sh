#!/bin/bash
# The reload acceptance runs of issue 4: mlb-reloader under load at one bundle per
# 300 ms and per 100 ms (keep-alive off and on), container handovers, invalid bundles
# interleaved, and the positive control (classic -sf reloads must lose requests here,
# or the run proves nothing). Prints each run's final lines. DURATION (default 30 s).
# Needs wrk and, for load high enough to expose the -sf race, nginx-light
# (apt-get install wrk nginx-light); bench/results/ holds a run.
set -uo pipefail
cd "$(dirname "$0")/.."
D="${DURATION:-30}"
RB="${RB:-$(cd .. && pwd)/shared/tools/reload-bench/reload_bench.sh}"
for ka in off on; do
  for i in 300 100; do bench/reload_bench_mlb.sh bundles -i "$i" -d "$D" --keepalive "$ka"; done
  bench/reload_bench_mlb.sh handover -i 2000 -d "$D" --keepalive "$ka"
done
bench/reload_bench_mlb.sh invalid -i 300 -d "$D" --keepalive off
echo "positive control (strategy B, classic -sf):"
"$RB" -q -s B -i 100 -d 20 --keepalive off
