#!/bin/bash
# Drives the shared reload benchmark (../shared/tools/reload-bench/reload_bench.sh,
# strategy `custom`) through the real mlb-reloader: HAProxy is started by
# `mlb-reloader haproxy`, reloaded by `mlb-reloader watch`, and every tick writes a
# new bundle into the state dir exactly as mlb-controller does.
#
# usage: bench/reload_bench_mlb.sh MODE [reload_bench.sh args...]
#   MODE bundles   every tick publishes the bench's re-rendered config as a bundle
#        invalid   every other tick publishes a config HAProxy rejects
#        handover  every tick starts a new `mlb-reloader haproxy` (a container upgrade)
# Prints the bench's final line plus the reloads HAProxy really did (show proc).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-bundles}"; shift || true
RB="${RB:-$(cd .. && pwd)/shared/tools/reload-bench/reload_bench.sh}"
RELOADER="$(realpath "${RELOADER:-build/reloader/mlb-reloader}")"
HAPROXY="${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}"
[ -x "$RB" ] || { echo "reload bench not found at $RB (set RB=...)" >&2; exit 1; }
STATE="$(mktemp -d /tmp/mlb-rb.XXXXXX)"
trap 'rm -rf "$STATE"' EXIT
export STATE RELOADER HAPROXY MODE

# publish NAME FILE: a bundle directory, then `current` swapped by rename (as the controller).
cat > "$STATE/publish.sh" <<'PUB'
#!/bin/bash
set -e
d="$STATE/bundles/$1"; mkdir -p "$d"
cp "$2" "$d/haproxy.cfg"; : > "$d/domain2backend.map"; : > "$d/app2backend.map"
if [ "${3:-}" = broken ]; then echo "  this-is-not-a-keyword" >> "$d/haproxy.cfg"; fi
ln -sfn "bundles/$1" "$STATE/current.tmp" && mv -T "$STATE/current.tmp" "$STATE/current"
PUB
chmod +x "$STATE/publish.sh"

START='"$STATE/publish.sh" g0 "$RB_CFG"
nohup "$RELOADER" watch --state-dir "$STATE" --haproxy-bin "$HAPROXY" --listen 127.0.0.1:0 \
  --min-reload-interval 0.05 --recheck-interval 0.5 >>"$STATE/watch.log" 2>&1 </dev/null &
echo $! > "$STATE/watch.pid"
nohup "$RELOADER" haproxy --state-dir "$STATE" --haproxy-bin "$HAPROXY" >>"$STATE/entry.log" 2>&1 </dev/null &
echo $! >> "$STATE/entry.pids"'
case "$MODE" in
  bundles)  RELOAD='"$STATE/publish.sh" "g$RB_GEN" "$RB_CFG"' ;;
  invalid)  RELOAD='if [ $((RB_GEN % 2)) = 1 ]; then "$STATE/publish.sh" "g$RB_GEN" "$RB_CFG" broken; else "$STATE/publish.sh" "g$RB_GEN" "$RB_CFG"; fi' ;;
  handover) RELOAD='nohup "$RELOADER" haproxy --state-dir "$STATE" --haproxy-bin "$HAPROXY" >>"$STATE/entry.log" 2>&1 </dev/null &
echo $! >> "$STATE/entry.pids"' ;;
  *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac
# Ends only what START/RELOAD started, by pid: the watch loop, then the masters.
STOP='python3 -c "import socket,sys
s=socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b\"show proc\\n\"); s.shutdown(socket.SHUT_WR)
out=b\"\"
while True:
  d=s.recv(65536)
  if not d: break
  out+=d
sys.stdout.write(out.decode())" "$STATE/master.sock" > "$STATE/showproc" 2>/dev/null || true
kill "$(cat "$STATE/watch.pid")" 2>/dev/null || true
for p in $(cat "$STATE/entry.pids"); do kill "$p" 2>/dev/null || true; done
for p in $(cat "$STATE/watch.pid" "$STATE/entry.pids"); do
  for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done'

out=$("$RB" -q -s custom --start-cmd "$START" --reload-cmd "$RELOAD" --stop-cmd "$STOP" \
  --proc-match "$STATE/live/haproxy.cfg" \
  --global "stats socket $STATE/stats.sock mode 600 level admin expose-fd listeners" \
  --defaults 'option idle-close-on-response' "$@") || true
echo "$out"
master_reloads=$(awk '$2 == "master" {print $3}' "$STATE/showproc" 2>/dev/null || true)
applied=$(grep -c 'msg="bundle applied"' "$STATE/watch.log" 2>/dev/null || true)
rejected=$(grep -c 'msg="bundle rejected' "$STATE/watch.log" 2>/dev/null || true)
takeovers=$(grep -c 'taking over from the running HAProxy master' "$STATE/entry.log" 2>/dev/null || true)
echo "mlb mode=$MODE master_reloads=${master_reloads:-?} bundles_applied=$applied bundles_rejected=$rejected takeovers=$takeovers"
