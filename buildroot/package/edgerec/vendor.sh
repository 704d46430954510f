#!/usr/bin/env bash
# vendor.sh DIR — vendors the Go module in DIR for an offline build with
# GOFLAGS=-mod=vendor (Buildroot's Go infrastructure, or any build host).
#
# `go mod vendor` copies only the directories of imported Go packages, so it
# drops the cgo assets of github.com/pion/mediadevices/pkg/codec/openh264:
# the static libopenh264 archives (lib/) and the headers (include/) that
# edgerec links and compiles against. This script copies them back from the
# module cache. Nothing happens if DIR already has vendor/modules.txt (a
# pre-vendored source tree).
#
# Environment: GO (default go), and the usual GOMODCACHE, GOPROXY, GOFLAGS.
# Offline: GOPROXY=off with a GOMODCACHE that holds the modules.
set -euo pipefail
dir=${1:?usage: vendor.sh DIR}
go=${GO:-go}
cd "$dir"
if [ -f vendor/modules.txt ]; then
  echo "vendor.sh: $dir is already vendored"
else
  "$go" mod vendor
fi
mod=github.com/pion/mediadevices
pkg=pkg/codec/openh264
moddir=$("$go" list -mod=mod -m -f '{{.Dir}}' "$mod")
if [ -z "$moddir" ] || [ ! -d "$moddir/$pkg/lib" ]; then
  echo "vendor.sh: $mod is not in the module cache (GOMODCACHE=${GOMODCACHE:-default}); run 'go mod download' or allow GOPROXY" >&2
  exit 1
fi
dst=vendor/$mod/$pkg
for sub in lib include; do
  if [ ! -d "$dst/$sub" ]; then
    cp -R "$moddir/$pkg/$sub" "$dst/$sub"
    chmod -R u+w "$dst/$sub"
  fi
done
echo "vendor.sh: vendored $(grep -c '^# ' vendor/modules.txt) modules, openh264 cgo assets from $moddir/$pkg"
