#!/bin/bash
# Liveness probe for dialpop without curl (debian slim has none): one
# HTTP/1.0 GET of /healthz over bash's /dev/tcp; exit 0 on "200".
# Usage: healthcheck.sh [HOST:PORT] [PATH]   (default 127.0.0.1:8080 /healthz)
# The Dockerfile's HEALTHCHECK runs it; .ci/package runs it against the
# daemon the Debian package installed. /readyz instead of /healthz also
# needs the store and a switch that takes calls (503 otherwise).
set -euo pipefail
addr=${1:-127.0.0.1:8080}
path=${2:-/healthz}
host=${addr%:*}
port=${addr##*:}
exec 3<>"/dev/tcp/$host/$port"
printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$addr" >&3
read -r -t 5 _proto status _rest <&3
exec 3<&-
[ "$status" = 200 ]
