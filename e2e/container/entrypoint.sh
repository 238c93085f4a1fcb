#!/bin/sh
# The image's entrypoint: makes sure the default TLS certificate exists (as
# marathon-lb's run script did: a self-signed one when none is mounted), then runs
# the command (mlb-controller, mlb-reloader watch|haproxy, mlb ...). `sse` and `poll`
# are marathon-lb's image interface: mlb-run supervises all three processes.
set -eu
cert="${MLB_SSL_CERTS%%,*}"
if [ -n "$cert" ] && [ ! -e "$cert" ] && [ -w "$(dirname "$cert")" ]; then
  tmp=$(mktemp -d)
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k" -out "$tmp/c" -days 3650 \
    -subj "/CN=mlb-default" >/dev/null 2>&1
  cat "$tmp/c" "$tmp/k" > "$cert.tmp" && mv "$cert.tmp" "$cert"
  rm -rf "$tmp"
fi
case "${1:-}" in
  sse|poll) exec mlb-run "$@" ;;
esac
exec "$@"
