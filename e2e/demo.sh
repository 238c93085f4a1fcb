#!/bin/sh
# The demo: the Marathon simulator with sample apps, real backends on loopback,
# mlb-controller, mlb-reloader (watch + the haproxy entrypoint) and a real HAProxy,
# all on this machine; then routed traffic. `--check` asserts the routing and exits (used by the test suite);
# otherwise it keeps serving until Ctrl-C. Ends only the processes it started.
#
# Needs root for ports 80/443 (or CAP_NET_BIND_SERVICE). Build first (scripts/test.sh
# or: cmake -S . -B build -G Ninja && cmake --build build).
set -eu
# Ports 80/443/9090/9091 need root: re-run through sudo when started as a user.
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then
  exec sudo -E "$0" "$@"
fi
cd "$(dirname "$0")/.."
MODE="${1:-serve}"
BUILD="${BUILD:-build}"
CONTROLLER="${CONTROLLER:-$BUILD/controller/mlb-controller}"
RELOADER="${RELOADER:-$BUILD/reloader/mlb-reloader}"
HAPROXY="${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}"
STATE="$(mktemp -d /tmp/mlb-demo.XXXXXX)"
PIDS=""

cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  # The HAProxy master is the `mlb-reloader haproxy` process we started (execv keeps its pid).
  for p in $PIDS; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  done
  rm -rf "$STATE"
}
trap cleanup EXIT INT TERM

for b in "$CONTROLLER" "$RELOADER"; do
  [ -x "$b" ] || { echo "demo: $b not built (run: cmake -S . -B build -G Ninja && cmake --build build)"; exit 1; }
done

# Real backends: one python3 http.server per task, each serving a page naming itself.
for spec in 18081:shop-web-1 18082:shop-web-2 18083:shop-api 18084:db; do
  port=${spec%%:*}; name=${spec#*:}
  mkdir -p "$STATE/www/$name/api"
  echo "$name" > "$STATE/www/$name/index.html"
  echo "$name" > "$STATE/www/$name/api/index.html"
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$STATE/www/$name" >/dev/null 2>&1 &
  PIDS="$PIDS $!"
done

# wait_for WHAT CURL-ARGS...: retry for up to 10 s until curl gets a 2xx answer.
wait_for() {
  what=$1; shift
  i=0
  until curl -fs -o /dev/null "$@" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: $what did not start"; exit 1; }; sleep 0.1
  done
}

# Every backend answers on its own first (python starts in ~0.1-1 s).
for port in 18081 18082 18083 18084; do
  wait_for "backend on :$port" "http://127.0.0.1:$port/"
done

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$STATE/key.pem" -out "$STATE/crt.pem" \
  -days 2 -subj "/CN=*.demo.local" >/dev/null 2>&1
cat "$STATE/crt.pem" "$STATE/key.pem" > "$STATE/cert.pem"

SIM_PORT=${SIM_PORT:-18080}
CTL_LISTEN=${CTL_LISTEN:-127.0.0.1:9102}
RLD_LISTEN=${RLD_LISTEN:-127.0.0.1:9103}

echo "== Marathon simulator with the sample apps on :$SIM_PORT"
python3 e2e/marathon_sim.py --apps e2e/demo/apps.json --listen "127.0.0.1:$SIM_PORT" \
  --heartbeat 2 >"$STATE/sim.log" 2>&1 &
PIDS="$PIDS $!"
wait_for simulator "http://127.0.0.1:$SIM_PORT/ping"

echo "== mlb-controller (watches the simulator, publishes bundles into $STATE)"
"$CONTROLLER" --marathon "http://127.0.0.1:$SIM_PORT" --group external --health-check \
  --ssl-certs "$STATE/cert.pem" --state-dir "$STATE" --maxconn 4000 --listen "$CTL_LISTEN" \
  --min-interval 0.2 >"$STATE/controller.log" 2>&1 &
PIDS="$PIDS $!"
wait_for "controller readiness" "http://$CTL_LISTEN/readyz"

echo "== mlb-reloader watch (sidecar) and mlb-reloader haproxy (execs HAProxy master-worker)"
"$RELOADER" watch --state-dir "$STATE" --haproxy-bin "$HAPROXY" --listen "$RLD_LISTEN" \
  --min-reload-interval 0.2 --recheck-interval 0.5 >"$STATE/reloader.log" 2>&1 &
PIDS="$PIDS $!"
# MLB_RELOADER_URL, MLB_CONTROLLER_URL: where HAProxy's :9090 sends marathon-lb's
# /_haproxy_get*, /haproxy?stats;csv and /_mlb_signal/* requests.
MLB_RELOADER_URL="http://$RLD_LISTEN" MLB_CONTROLLER_URL="http://$CTL_LISTEN" \
  "$RELOADER" haproxy --state-dir "$STATE" --haproxy-bin "$HAPROXY" --listen "$RLD_LISTEN" \
  >"$STATE/haproxy.log" 2>&1 &
PIDS="$PIDS $!"

wait_for haproxy -H 'Host: shop.demo.local' http://127.0.0.1/

show() { printf '%-72s -> %s\n' "$1" "$(sh -c "$1" 2>&1 | head -1)"; }
echo "== routed traffic"
show "curl -s -H 'Host: shop.demo.local' http://127.0.0.1/"
show "curl -s -H 'Host: shop.demo.local' http://127.0.0.1/"
show "curl -s -H 'Host: shop.demo.local' http://127.0.0.1/api/"
show "curl -sk --resolve shop.demo.local:443:127.0.0.1 https://shop.demo.local/api/"
show "curl -s -H 'X-Marathon-App-Id: /shop/api' http://127.0.0.1:9091/api/"
show "curl -s http://127.0.0.1:10003/"
show "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9090/_haproxy_health_check"
show "curl -s http://127.0.0.1:9090/_haproxy_getpids"

if [ "$MODE" = "--check" ]; then
  fail=0
  # Each check retries briefly: HAProxy's first health checks may still be running.
  expect() {
    n=0
    while :; do
      got=$(sh -c "$1" 2>/dev/null | head -1)
      case "$got" in $2) return 0;; esac
      n=$((n + 1))
      [ $n -lt 20 ] || { echo "FAIL: $1 -> '$got' (want $2)"; fail=1; return 0; }
      sleep 0.2
    done
  }
  expect "curl -s -H 'Host: shop.demo.local' http://127.0.0.1/" "shop-web-[12]"
  expect "curl -s -H 'Host: shop.demo.local' http://127.0.0.1/api/" "shop-api"
  expect "curl -sk --resolve shop.demo.local:443:127.0.0.1 https://shop.demo.local/api/" "shop-api"
  expect "curl -s -H 'X-Marathon-App-Id: /shop/api' http://127.0.0.1:9091/api/" "shop-api"
  expect "curl -s http://127.0.0.1:10003/" "db"
  expect "curl -s -o /dev/null -w '%{http_code}' -H 'Host: unknown.demo.local' http://127.0.0.1/" "503"
  # Both web tasks receive traffic (roundrobin).
  seen=$(for n in 1 2 3 4; do curl -s -H 'Host: shop.demo.local' http://127.0.0.1/; done | sort -u | wc -l)
  [ "$seen" = 2 ] || { echo "FAIL: roundrobin reached $seen of 2 web tasks"; fail=1; }
  grep -q "broken" "$STATE/live/haproxy.cfg" && { echo "FAIL: quarantined app reached the config"; fail=1; }
  curl -s "http://$CTL_LISTEN/v1/status" | grep -q '"app_id": "/broken"' ||
    { echo "FAIL: /broken not listed as quarantined in /v1/status"; fail=1; }

  echo "== scale /db to 2 in the simulator: the new task must get traffic"
  mkdir -p "$STATE/www/db-2"; echo "db-2" > "$STATE/www/db-2/index.html"
  python3 -m http.server 18086 --bind 127.0.0.1 --directory "$STATE/www/db-2" >/dev/null 2>&1 &
  PIDS="$PIDS $!"
  wait_for "backend on :18086" http://127.0.0.1:18086/
  curl -fs -X POST "http://127.0.0.1:$SIM_PORT/_sim/scale" -d '{"app": "/db", "instances": 2, "ports": [[18086]]}' >/dev/null
  expect "for n in 1 2 3 4; do curl -s http://127.0.0.1:10003/; done | sort -u | tr '\n' ' '" "db db-2 "
  echo "== a bad label on /shop/api: quarantined with its last good config, /db still changes"
  curl -fs -X POST "http://127.0.0.1:$SIM_PORT/_sim/labels" -d '{"app": "/shop/api", "labels": {"HAPROXY_0_BALANCE": "roundrobin\nbind :1"}}' >/dev/null
  curl -fs -X POST "http://127.0.0.1:$SIM_PORT/_sim/scale" -d '{"app": "/db", "instances": 1}' >/dev/null
  expect "for n in 1 2 3 4; do curl -s http://127.0.0.1:10003/; done | sort -u | tr '\n' ' '" "db "
  expect "curl -s -H 'Host: shop.demo.local' http://127.0.0.1/api/" "shop-api"
  curl -s "http://$CTL_LISTEN/v1/status" | grep -q '"app_id": "/shop/api"' ||
    { echo "FAIL: /shop/api not quarantined"; fail=1; }
  # Changes went live, by a reload or through the Runtime API (server changes).
  expect "curl -s http://$RLD_LISTEN/metrics | awk '/^mlb_reloader_reloads_total[{].*success/ {s += \$2} END {print (s >= 1)}'" "1"
  # marathon-lb's endpoints on HAProxy's :9090, answered by mlb-reloader.
  expect "curl -s http://127.0.0.1:9090/_haproxy_getconfig | grep -c '^frontend marathon_http_in'" "1"
  expect "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9090/_haproxy_getpids" "200"
  [ $fail = 0 ] && echo "DEMO CHECK PASSED"
  exit $fail
fi
echo "== serving; bundles in $STATE, logs in $STATE/*.log"
echo "   metrics: curl http://$CTL_LISTEN/metrics   curl http://$RLD_LISTEN/metrics"
echo "   status:  curl http://$CTL_LISTEN/v1/status"
echo "   change:  curl -X POST http://127.0.0.1:$SIM_PORT/_sim/scale -d '{\"app\": \"/shop/web\", \"instances\": 1}'"
echo "   Ctrl-C to stop"
while :; do sleep 1; done
