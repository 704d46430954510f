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
  [rauc]=rauc
  [mksquashfs]=squashfs-tools
)
fi

missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# unique
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps: all build and test tools present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "deps: installed ${missing[*]}"
  exit 0
fi

echo "deps: missing packages: ${missing[*]}" >&2
echo "deps: install them with: sudo apt-get install ${missing[*]}" >&2
exit 1
