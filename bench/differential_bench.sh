#!/bin/sh
# The long differential run (issue 22): 1000 random steps on each of three seeds, each
# step applied by `mlb-reloader watch` (runtime or reload, as it plans) and loaded
# fresh by a second HAProxy; prints per seed how each step was applied and every
# difference with its seed and step. Loopback only, bounded, ends what it starts.
#
# usage: bench/differential_bench.sh [steps] [seeds...]   (env: RELOADER, HAPROXY)
set -u
cd "$(dirname "$0")/.."
STEPS="${1:-1000}"
[ $# -gt 0 ] && shift
SEEDS="${*:-1 2 3}"
export RELOADER="${RELOADER:-build/reloader/mlb-reloader}"
rc=0
for seed in $SEEDS; do
  python3 e2e/differential_test.py --seed "$seed" --steps "$STEPS" || rc=1
done
exit $rc
