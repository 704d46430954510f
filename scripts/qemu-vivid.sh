#!/usr/bin/env bash
# V4L2 without hardware (issue 4, D2; README design §6): boots Debian's arm64
# kernel in qemu-system-aarch64 with an initramfs holding busybox-static,
# the vivid test driver and every module it needs, and the static arm64
# edgerec; /init loads vivid (which gives /dev/video0 with a test pattern)
# and runs `edgerec selftest --source v4l2:///dev/video0 --frames 30`
# (capture → mask → encode → decode, masked pixels checked), then
# hal/camera's device tests (see QEMU_VIVID_TESTBIN). About 20-60 s with
# the packages cached (kernel boot ≈ 7-13 s under TCG).
#
# Usage: scripts/qemu-vivid.sh BIN_ARM64 [OUTDIR]
#   BIN_ARM64  the static linux/arm64 edgerec (make firmware)
#   OUTDIR     cache for the downloaded packages, the unpacked kernel and
#              the run log (default /var/cache/edgerec-qemu); reruns reuse it
#
# Environment (optional):
#   QEMU_VIVID_TIMEOUT  seconds for the whole boot + selftest (default 300)
#   QEMU_VIVID_SOURCE   source URL(s) for selftest, space-separated, each
#                       run in turn (default v4l2:///dev/video0); e.g.
#                       "v4l2:///dev/video0?format=nv12 v4l2:///dev/video0?format=i420"
#   QEMU_VIVID_FRAMES   frames for selftest (default 30)
#   QEMU_VIVID_TESTBIN  hal/camera's device tests (List, every pixel format's
#                       colours, busy, unplug via vivid's Disconnect control),
#                       run after the selftests with EDGEREC_TEST_V4L2=/dev/video0:
#                       unset = cross-build them here with `go test -c` (needs go
#                       and aarch64-linux-gnu-gcc, as `make firmware` does);
#                       a path = that static arm64 test binary; "none" = skip
#
# Exits 0 only if the selftest (and the device tests) inside the VM passed. Needs root (apt-get,
# mknod) and the Debian packages qemu-system-arm, cpio, kmod (depmod) and,
# for compressed modules, xz-utils and zstd.
set -euo pipefail

die() { echo "qemu-vivid: FAIL: $*" >&2; exit 1; }
log() { echo "qemu-vivid: $*"; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then die "usage: $0 BIN_ARM64 [OUTDIR]"; fi
bin=$(readlink -f "$1")
out=${2:-/var/cache/edgerec-qemu}
timeout_s=${QEMU_VIVID_TIMEOUT:-300}
src_urls=${QEMU_VIVID_SOURCE:-v4l2:///dev/video0}
case "$src_urls" in *"'"*) die "QEMU_VIVID_SOURCE must not contain a single quote" ;; esac
read -r -a urls <<<"$src_urls"
[ ${#urls[@]} -gt 0 ] || die "QEMU_VIVID_SOURCE is empty"
quoted_urls=""
for u in "${urls[@]}"; do quoted_urls+="'$u' "; done
frames=${QEMU_VIVID_FRAMES:-30}
marker=EDGEREC-QEMU-VIVID-RESULT

# --- tools -----------------------------------------------------------------
declare -A need=([qemu-system-aarch64]=qemu-system-arm [cpio]=cpio [depmod]=kmod
  [gzip]=gzip [dpkg-deb]=dpkg [apt-get]=apt [file]=file [timeout]=coreutils)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] || die "missing tools; install: apt-get install ${missing[*]}"
[ "$(id -u)" -eq 0 ] || die "needs root (apt-get download of arm64 packages, mknod for the initramfs)"

[ -x "$bin" ] || die "$bin: not an executable"
case "$(file -b "$bin")" in
  *"ARM aarch64"*"statically linked"*|*"ARM aarch64"*"static-pie linked"*) ;;
  *) die "$bin: not a static linux/arm64 ELF ($(file -b "$bin"))" ;;
esac

mkdir -p "$out/debs"
out=$(readlink -f "$out")

# --- packages (cached) -----------------------------------------------------
# Debian's kernel: the linux-image-arm64 metapackage names the current ABI
# package (bookworm: linux-image-6.1.0-NN-arm64, signed, modules
# uncompressed .ko; later releases ship .ko.xz). busybox-static:arm64
# gives a static /bin/busybox.
apt_ready() {
  local p
  p=$(apt-cache policy linux-image-arm64:arm64 2>/dev/null || true)
  [[ $p == *"Candidate: "[0-9]* ]]
}
kdeb=$(ls "$out"/debs/linux-image-*-arm64_*_arm64.deb 2>/dev/null | sort -V | tail -1 || true)
bdeb=$(ls "$out"/debs/busybox-static_*_arm64.deb 2>/dev/null | tail -1 || true)
if [ -z "$kdeb" ] || [ -z "$bdeb" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
  fi
  if ! apt_ready; then
    log "apt-get update"
    apt-get update -qq
  fi
  apt_ready || die "apt has no linux-image-arm64:arm64 (are Debian's arm64 indexes reachable?)"
  kpkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -1)
  [ -n "$kpkg" ] || die "cannot tell which kernel linux-image-arm64:arm64 depends on"
  log "downloading $kpkg:arm64 busybox-static:arm64 into $out/debs"
  # apt downloads as its _apt user where it can (else it warns and goes on as root).
  if id _apt >/dev/null 2>&1; then chown _apt "$out/debs" || true; fi
  (cd "$out/debs" && apt-get download -qq "$kpkg:arm64" busybox-static:arm64) ||
    die "apt-get download $kpkg:arm64 busybox-static:arm64 failed"
  kdeb=$(ls "$out"/debs/"$kpkg"_*_arm64.deb | sort -V | tail -1)
  bdeb=$(ls "$out"/debs/busybox-static_*_arm64.deb | tail -1)
fi
log "kernel package  $(basename "$kdeb")"
log "busybox package $(basename "$bdeb")"

# Unpack once per package file.
kroot="$out/unpacked/$(basename "$kdeb" .deb)"
if [ ! -e "$kroot/.done" ]; then
  rm -rf "$kroot"; mkdir -p "$kroot"
  dpkg-deb -x "$kdeb" "$kroot"
  touch "$kroot/.done"
fi
broot="$out/unpacked/$(basename "$bdeb" .deb)"
if [ ! -e "$broot/.done" ]; then
  rm -rf "$broot"; mkdir -p "$broot"
  dpkg-deb -x "$bdeb" "$broot"
  touch "$broot/.done"
fi
kver=$(ls "$kroot/lib/modules" | head -1)
[ -n "$kver" ] || die "no lib/modules in $(basename "$kdeb")"
vmlinuz="$kroot/boot/vmlinuz-$kver"
[ -f "$vmlinuz" ] || die "no /boot/vmlinuz-$kver in $(basename "$kdeb")"
mdir="$kroot/lib/modules/$kver"
# The .deb has no modules.dep (its postinst runs depmod): make it.
[ -s "$mdir/modules.dep" ] || depmod -b "$kroot" "$kver" || die "depmod failed"

# --- vivid and its dependencies, in load order ------------------------------
# modules.dep: "path: dep1 dep2 …" with the full closure; loading the list
# from the end to the start satisfies every symbol.
vline=$(grep -E '^([^:]*/)?vivid\.ko(\.(xz|zst|gz))?:' "$mdir/modules.dep" || true)
[ -n "$vline" ] || die "kernel $kver has no vivid module (CONFIG_VIDEO_VIVID)"
vivid=${vline%%:*}
read -r -a deps <<<"${vline#*:}"
order=()
for ((i = ${#deps[@]} - 1; i >= 0; i--)); do order+=("${deps[i]}"); done
order+=("$vivid")

# --- initramfs ----------------------------------------------------------------
work=$(mktemp -d "$out/initramfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,lib/modules}
cp "$broot/bin/busybox" "$root/bin/busybox"
cp "$bin" "$root/bin/edgerec"
testbin=${QEMU_VIVID_TESTBIN:-}
if [ -z "$testbin" ]; then
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  testbin="$work/camera.test"
  log "building hal/camera device tests for arm64"
  (cd "$repo" && CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ \
    go test -c -tags netgo,osusergo -trimpath -ldflags '-s -w -linkmode external -extldflags "-static"' \
    -o "$testbin" ./hal/camera) || die "cannot build hal/camera tests for arm64 (QEMU_VIVID_TESTBIN=none skips them)"
elif [ "$testbin" = none ]; then
  testbin=""
fi
if [ -n "$testbin" ]; then
  [ -x "$testbin" ] || die "QEMU_VIVID_TESTBIN=$testbin: not an executable"
  cp "$testbin" "$root/bin/camera.test"
fi
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3

insmods=""
n=0
for m in "${order[@]}"; do
  n=$((n + 1))
  base=$(basename "$m")
  name=$(printf '%02d-%s' "$n" "${base%%.ko*}.ko")
  case "$m" in
    *.ko) cp "$mdir/$m" "$root/lib/modules/$name" ;;
    *.ko.xz) xz -dc "$mdir/$m" >"$root/lib/modules/$name" ;;
    *.ko.zst) zstd -qdc "$mdir/$m" >"$root/lib/modules/$name" ;;
    *.ko.gz) gzip -dc "$mdir/$m" >"$root/lib/modules/$name" ;;
    *) die "unknown module file $m" ;;
  esac
  args=""
  # vivid: one instance, a video capture node only (/dev/video0), single
  # planar API (what the V4L2 driver uses), inputs as default (input 0 is
  # the webcam: 75% colour bars with moving text, detail everywhere).
  [ "$m" = "$vivid" ] && args="n_devs=1 node_types=0x1 multiplanar=1"
  insmods+="load $name $args"$'\n'
done
log "modules: ${order[*]##*/}"

cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "qemu-vivid: kernel \$(uname -r), booted in \$(cut -d' ' -f1 /proc/uptime) s"
load() {
  m=\$1; shift
  insmod /lib/modules/\$m "\$@" || echo "qemu-vivid: insmod \$m failed"
}
$insmods
i=0
while [ ! -e /dev/video0 ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
ls -l /dev/video* 2>&1
cat /sys/class/video4linux/video0/name 2>/dev/null
result=0
for url in $quoted_urls; do
  echo "qemu-vivid: selftest --source \$url --frames $frames starts at \$(cut -d' ' -f1 /proc/uptime) s"
  /bin/edgerec selftest --source "\$url" --frames $frames
  rc=\$?
  echo "qemu-vivid: selftest --source \$url rc=\$rc, ended at \$(cut -d' ' -f1 /proc/uptime) s"
  [ \$rc -eq 0 ] || [ \$result -ne 0 ] || result=\$rc
done
if [ -x /bin/camera.test ]; then
  echo "qemu-vivid: hal/camera device tests start at \$(cut -d' ' -f1 /proc/uptime) s"
  EDGEREC_TEST_V4L2=/dev/video0 /bin/camera.test -test.v -test.run Device
  rc=\$?
  echo "qemu-vivid: hal/camera device tests rc=\$rc"
  [ \$rc -eq 0 ] || [ \$result -ne 0 ] || result=\$rc
fi
echo "$marker rc=\$result"
sync
poweroff -f
EOF
chmod 755 "$root/init"
initrd="$work/initrd.gz"
(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$initrd"
log "initramfs $(du -h "$initrd" | cut -f1) (edgerec $(du -h "$bin" | cut -f1))"

# --- boot -------------------------------------------------------------------
logf="$out/last-run.log"
log "booting $kver under qemu-system-aarch64 (timeout ${timeout_s}s, log $logf)"
start=$(date +%s)
set +e
timeout --kill-after=10 "$timeout_s" qemu-system-aarch64 \
  -M virt -cpu max -smp 2 -m 1024 -nographic -no-reboot -nic none \
  -kernel "$vmlinuz" -initrd "$initrd" \
  -append "console=ttyAMA0 panic=-1 quiet" </dev/null 2>&1 | tr -d '\r' | tee "$logf"
qrc=${PIPESTATUS[0]}
set -e
elapsed=$(($(date +%s) - start))

line=$(grep -a "^$marker rc=" "$logf" | tail -1 || true)
if [ -z "$line" ]; then
  [ "$qrc" -eq 124 ] && die "no result after ${timeout_s}s (qemu timed out; log $logf)"
  die "no result line from the VM (qemu exit $qrc after ${elapsed}s; log $logf)"
fi
rc=${line##*rc=}
if [ "$rc" != 0 ]; then
  die "selftest in the VM exited $rc after ${elapsed}s (log $logf)"
fi
log "ok   selftest on vivid passed: $src_urls${testbin:+, and hal/camera device tests} (${elapsed}s including boot)"
