#!/bin/sh
# The demo: render sample Marathon apps with `mlb render`, start a real HAProxy
# (master-worker) on the result, start real backends on loopback, and show routed
# traffic. `--check` asserts the routing and exits (used by the test suite);
# otherwise it keeps serving until Ctrl-C. Ends only the processes it started.
#
# Needs root for ports 80/443 (or CAP_NET_BIND_SERVICE). Build first (scripts/test.sh
# or: cmake -S . -B build -G Ninja && cmake --build build).
set -eu
cd "$(dirname "$0")/.."
MODE="${1:-serve}"
MLB="${MLB:-build/cli/mlb}"
HAPROXY="${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}"
STATE="$(mktemp -d /tmp/mlb-demo.XXXXXX)"
PIDS=""

cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  if [ -f "$STATE/haproxy.pid" ]; then kill "$(cat "$STATE/haproxy.pid")" 2>/dev/null || true; fi
  rm -rf "$STATE"
}
trap cleanup EXIT INT TERM

[ -x "$MLB" ] || { echo "demo: $MLB not built (run: cmake -S . -B build -G Ninja && cmake --build build)"; exit 1; }

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

echo "== mlb render (the /broken app has a bad label: it is quarantined, the others go out)"
"$MLB" render --apps e2e/demo/apps.json --out "$STATE/current" --group external --health-check \
  --ssl-certs "$STATE/cert.pem" --state-dir "$STATE" --maxconn 4000

"$HAPROXY" -c -q -f "$STATE/current/haproxy.cfg"
"$HAPROXY" -W -D -S "$STATE/master.sock" -p "$STATE/haproxy.pid" -f "$STATE/current/haproxy.cfg"

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
  grep -q "broken" "$STATE/current/haproxy.cfg" && { echo "FAIL: quarantined app reached the config"; fail=1; }
  [ $fail = 0 ] && echo "DEMO CHECK PASSED"
  exit $fail
fi
echo "== serving; config in $STATE/current/haproxy.cfg; Ctrl-C to stop"
while kill -0 "$(cat "$STATE/haproxy.pid")" 2>/dev/null; do sleep 1; done
