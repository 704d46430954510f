#!/usr/bin/env bash
# ONVIF discovery and set-up through the API of `edgerec run --demo` (issue 18):
# makes an admin, an approver and an installer, then as the installer
# searches the LAN (the demo's loopback ONVIF camera answers), reads the camera
# (timed), and shows the answers to a wrong password and a public address.
# Usage: scripts/onvif-demo.sh [path/to/edgerec]   (after make build)
set -euo pipefail
BIN=${1:-./bin/edgerec}
D=$(mktemp -d)
B=https://127.0.0.1:18443
"$BIN" run --demo --demo-dir "$D/demo" --listen 127.0.0.1:18443 >"$D/out" 2>"$D/err" &
PID=$!
trap 'kill $PID; wait $PID 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 60); do grep -q "setup code" "$D/out" 2>/dev/null && break; sleep 0.5; done
CODE=$(sed -n 's/.*one-time setup code: \([^ ]*\).*/\1/p' "$D/out")
c() { curl -sk -H "Origin: $B" -H "Sec-Fetch-Site: same-origin" -H 'Content-Type: application/json' "$@"; }
P='Str0ng-Passw0rd-2026'; OT='One-Time-Pass-123'
c -c "$D/admin" -d "{\"code\":\"$CODE\",\"user\":\"admin\",\"password\":\"$P\"}" $B/api/v1/setup >/dev/null
mk() { c -b "$D/admin" -d "{\"user\":\"$1\",\"password\":\"$OT\"}" $B/api/v1/users | sed 's/.*"id":"\([^"]*\)".*/\1/'; }
first() { c -c "$D/$1" -d "{\"user\":\"$1\",\"password\":\"$OT\"}" $B/api/v1/login >/dev/null
          c -b "$D/$1" -c "$D/$1" -d "{\"old\":\"$OT\",\"password\":\"$P\"}" $B/api/v1/account/password >/dev/null; }
AP=$(mk approver); c -b "$D/admin" -d '{"role":"approver"}' "$B/api/v1/users/$AP/role" >/dev/null; first approver
IN=$(mk installer); G=$(c -b "$D/admin" -d '{"role":"installer"}' "$B/api/v1/users/$IN/role" | sed 's/.*"id":"\([^"]*\)".*/\1/')
c -b "$D/approver" -X POST "$B/api/v1/grants/$G/approve" >/dev/null; first installer
c -b "$D/installer" -c "$D/installer" -d "{\"user\":\"installer\",\"password\":\"$P\"}" $B/api/v1/login >/dev/null
echo "== GET /api/v1/onvif/discover"
c -b "$D/installer" -w '\nHTTP %{http_code} in %{time_total}s\n' $B/api/v1/onvif/discover
X=$(c -b "$D/installer" $B/api/v1/onvif/discover | sed 's/.*"xaddrs":\["\([^"]*\)".*/\1/')
echo "== POST /api/v1/onvif/setup ($X)"
c -b "$D/installer" -w '\nHTTP %{http_code} in %{time_total}s\n' -d "{\"xaddr\":\"$X\",\"username\":\"admin\",\"password\":\"secret-pass\",\"set_clock\":true}" $B/api/v1/onvif/setup
echo "== wrong password"
c -b "$D/installer" -w '\nHTTP %{http_code} in %{time_total}s\n' -d "{\"xaddr\":\"$X\",\"username\":\"admin\",\"password\":\"nope\"}" $B/api/v1/onvif/setup
echo "== public address"
c -b "$D/installer" -w '\nHTTP %{http_code} in %{time_total}s\n' -d '{"xaddr":"http://8.8.8.8/onvif/device_service","username":"admin","password":"x"}' $B/api/v1/onvif/setup
echo "== password in the daemon's log: $(grep -c secret-pass "$D/err" || true) lines"
