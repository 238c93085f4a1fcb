#!/bin/sh
# Runs every case of ../shared/conformance through `mlb render` and its checker.
# Exit 77 (reported by CTest as skipped) where ../shared is absent (a user's clone).
MLB="$1"
SRC="$2"
CONF="${MLB_CONFORMANCE_DIR:-$SRC/../shared/conformance}"
if [ ! -f "$CONF/run_cases.py" ]; then
  echo "SKIPPED: no conformance suite at $CONF"
  exit 77
fi
exec python3 "$CONF/run_cases.py" -q --cmd "$MLB render --apps {apps} --out {outdir} {args}"
