#!/usr/bin/env bash
# Checks the firmware binaries built by `make firmware` (issue 2, D1):
#  - each is a static ELF with no program interpreter;
#  - the arm64 (and armv7) binary runs `edgerec selftest --frames 30` under
#    qemu user-mode emulation and passes (capture → mask → encode → decode).
set -euo pipefail
bin=${1:-bin}
fail=0

check_static() {
  local f=$1 arch=$2
  [ -x "$f" ] || { echo "FAIL $f: missing"; return 1; }
  local desc
  desc=$(file -b "$f")
  echo "$f: $desc"
  case "$desc" in
    *"$arch"*) ;;
    *) echo "FAIL $f: not $arch"; return 1 ;;
  esac
  case "$desc" in
    *"statically linked"*|*"static-pie linked"*) ;;
    *) echo "FAIL $f: not statically linked"; return 1 ;;
  esac
  if readelf -l "$f" | grep -q INTERP; then
    echo "FAIL $f: has a program interpreter"; return 1
  fi
  echo "ok   $f is static ($(du -h "$f" | cut -f1))"
}

run_selftest() {
  local qemu=$1 f=$2
  echo "--- $qemu $f selftest --frames 30"
  if timeout 600 "$qemu" "$f" selftest --frames 30; then
    echo "ok   selftest under $qemu"
  else
    echo "FAIL selftest under $qemu"; return 1
  fi
}

check_static "$bin/edgerec-linux-arm64" "ARM aarch64" || fail=1
check_static "$bin/edgerec-linux-armv7" "ARM, EABI5" || fail=1
timeout 120 qemu-aarch64 "$bin/edgerec-linux-arm64" version || fail=1
run_selftest qemu-aarch64 "$bin/edgerec-linux-arm64" || fail=1
run_selftest qemu-arm "$bin/edgerec-linux-armv7" || fail=1
exit $fail
