#!/usr/bin/env bash
# Installs what edgerec's build and tests need, and only what is missing.
# Idempotent. As root with apt it installs; otherwise it prints the list
# and exits non-zero. Nothing here is needed on the gateway at run time.
set -euo pipefail

# Usage: scripts/deps.sh [build]   — "build": only what `make build` and
# `make demo` need (the C++ compiler for the static openh264 link).
declare -A need
if [ "${1:-}" = build ]; then
  need=([g++]=g++)
else
# command → Debian package
need=(
  [g++]=g++
  [aarch64-linux-gnu-g++]=g++-aarch64-linux-gnu
  [arm-linux-gnueabihf-g++]=g++-arm-linux-gnueabihf
  [qemu-aarch64]=qemu-user
  [qemu-arm]=qemu-user
  [ffmpeg]=ffmpeg
  [ffprobe]=ffmpeg
  [file]=file
  [readelf]=binutils
  [bc]=bc
  [mosquitto]=mosquitto
  [sfdisk]=fdisk
  [mkfs.vfat]=dosfstools
  [mcopy]=mtools
  [shellcheck]=shellcheck
  [mkfs.ext4]=e2fsprogs
  [partx]=util-linux
  [losetup]=mount
  [chromium]=chromium
  [qemu-system-aarch64]=qemu-system-arm
  [cpio]=cpio
  [depmod]=kmod
  [swtpm]=swtpm
  [swtpm_setup]=swtpm-tools
  [promtool]=prometheus
  [prometheus]=prometheus
  [genimage]=genimage
  [node]=nodejs
  [npm]=npm
  [ip]=iproute2
  [unshare]=util-linux
  [rauc]=rauc
  [mksquashfs]=squashfs-tools
)
fi

# The independent ONVIF client (npm "onvif" 0.8.3) the ONVIF test device
# must satisfy (edge/onvif/onviftest/node_test.go), pinned, into a cache
# directory outside the repository (same path rule as the test).
node_deps() {
  [ "${1:-}" = build ] && return 0
  local base="${EDGEREC_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgerec/node}"
  local dir="$base/onvif-0.8.3"
  local lock
  lock="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/edge/onvif/onviftest/testdata/node"
  if grep -qs '"version": "0.8.3"' "$dir/node_modules/onvif/package.json" &&
    cmp -s "$lock/package-lock.json" "$dir/package-lock.json"; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || { echo "deps: npm missing, cannot install the onvif client" >&2; return 1; }
  mkdir -p "$dir"
  cp "$lock/package.json" "$lock/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
  echo "deps: installed npm onvif@0.8.3 (package-lock.json) into $dir"
}

missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# unique
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps: all build and test tools present"
  node_deps "${1:-}"
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "deps: installed ${missing[*]}"
  node_deps "${1:-}"
  exit 0
fi

echo "deps: missing packages: ${missing[*]}" >&2
echo "deps: install them with: sudo apt-get install ${missing[*]}" >&2
exit 1
