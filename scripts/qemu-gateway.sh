#!/usr/bin/env bash
# The gateway on an emulated ARM board (issue 16; D1, R23-R25): a card laid
# out like the Raspberry Pi SD image, from the same layout description
# (buildroot/board/edgerec/common/layout.conf → genimage-cfg.sh → genimage),
# with the same overlay and post-build fix-ups, booted in
# qemu-system-aarch64 -M virt.
#
#   qemu-gateway.sh image BIN_ARM64 OUTDIR
#       OUTDIR/sdcard.img (boot FAT: kernel, initrd; rootfs ext4: busybox
#       from Debian's arm64 busybox-static, util-linux/e2fsprogs tools with
#       their libraries from Debian arm64, the overlay, post-build.sh, the
#       static edgerec as /usr/bin/edgerec), OUTDIR/vmlinuz, OUTDIR/initrd.gz
#       OUTDIR/rootfs.ext4 (the root slot image, for update bundles)
#   qemu-gateway.sh bundle OUTDIR VERSION CERT KEY OUT.raucb [broken]
#       a RAUC bundle (host rauc; plain format) of OUTDIR/rootfs.ext4 with
#       /etc/edgerec/system-version set to VERSION, signed with CERT/KEY;
#       "broken" replaces /usr/bin/edgerec with a program that exits 1 (a
#       slot that never comes up healthy: the rollback test)
#   qemu-gateway.sh card OUTDIR BUNDLE_DIR [SIZE]
#       OUTDIR/card.img: a blank "card" of SIZE (default 1G) with sdcard.img
#       written to it by scripts/flash.sh --bundle BUNDLE_DIR, as an
#       installer does
#   qemu-gateway.sh boot OUTDIR
#       execs qemu-system-aarch64 -M virt on OUTDIR/card.img (virtio disk),
#       an i6300esb watchdog (reset), user networking (the guest reaches the
#       host's 127.0.0.1 as 10.0.2.2) with the LAN page forwarded to
#       127.0.0.1:$QEMU_GW_LAN_PORT, and the test hook port
#
# Environment:
#   QEMU_GW_CACHE     Debian package cache (default /var/cache/edgerec-qemu,
#                     shared with qemu-vivid.sh)
#   QEMU_GW_LAN_PORT  host port for the LAN page (default 18443)
#   QEMU_GW_HOOK      unix socket for the test hook (a shell in the guest on
#                     the virtio serial port edgerec.test; default
#                     OUTDIR/hook.sock)
#   QEMU_GW_CONSOLE   file for the serial console (default: stdout)
#   QEMU_GW_CARD      the card image (default OUTDIR/card.img)
#   QEMU_GW_UPDATE_CA the vendor's update CA (PEM) for /etc/edgerec/update-ca.pem
#                     (image; without it the gateway has no updater)
#   QEMU_GW_VERSION   system version written to /etc/edgerec/system-version
#                     (image; default qemu-1)
#
# Needs root (mknod, apt-get), qemu-system-arm, genimage, mtools,
# dosfstools, e2fsprogs, cpio, kmod, qemu-user (busybox's applet list).
set -euo pipefail

die() { echo "qemu-gateway: FAIL: $*" >&2; exit 1; }
log() { echo "qemu-gateway: $*"; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
common=$repo/buildroot/board/edgerec/common
board=$repo/buildroot/board/edgerec/qemu
cache=${QEMU_GW_CACHE:-/var/cache/edgerec-qemu}
# shellcheck disable=SC1091 # scripts/lib/debian-arm64.sh (checked on its own)
. "$repo/scripts/lib/debian-arm64.sh"
# shellcheck disable=SC1091 # NAME=VALUE lines
. "$common/layout.conf"

need_tools() {
	declare -A need=([qemu-system-aarch64]=qemu-system-arm [cpio]=cpio [depmod]=kmod
		[gzip]=gzip [dpkg-deb]=dpkg [apt-get]=apt [genimage]=genimage [mcopy]=mtools
		[mkfs.vfat]=dosfstools [mke2fs]=e2fsprogs [qemu-aarch64]=qemu-user [readelf]=binutils [sfdisk]=fdisk)
	local missing=() cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]:-$cmd}")
	done
	[ ${#missing[@]} -eq 0 ] || die "missing tools; install: apt-get install ${missing[*]}"
}

# Modules the Pi kernel has built in and Debian's has as modules.
MODULES=(virtio_pci virtio_blk virtio_net virtio_console virtio_rng i6300esb
	ext4 crc32c_generic vfat nls_cp437 nls_ascii nls_iso8859-1 nls_utf8 loop squashfs)
# Tools the init scripts need beyond busybox (Buildroot: util-linux and
# e2fsprogs, selected by package/edgerec/Config.in): package → paths.
TOOLS=(fdisk:sbin/sfdisk util-linux:usr/bin/partx util-linux:sbin/blkid
	util-linux:bin/findmnt util-linux:bin/lsblk util-linux:bin/mountpoint
	e2fsprogs:sbin/mke2fs e2fsprogs:sbin/e2fsck e2fsprogs:sbin/resize2fs)
LIBPKGS=(libc6 libfdisk1 libsmartcols1 libblkid1 libuuid1 libmount1 libselinux1
	libpcre2-8-0 libtinfo6 libreadline8 libudev1 libext2fs2 libcom-err2 libss2)

# copy_libs STAGE FILE...: the shared libraries FILEs need (transitively),
# from the unpacked packages into STAGE/lib/aarch64-linux-gnu.
copy_libs() {
	local stage=$1
	shift
	local dirs=() p
	for p in "${LIBPKGS[@]}"; do
		dirs+=("${DEB_ROOT[$p]}/lib/aarch64-linux-gnu" "${DEB_ROOT[$p]}/usr/lib/aarch64-linux-gnu")
	done
	local queue=("$@") f n d found
	declare -A done_=()
	mkdir -p "$stage/lib/aarch64-linux-gnu"
	while [ ${#queue[@]} -gt 0 ]; do
		f=${queue[0]}
		queue=("${queue[@]:1}")
		for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			[ -z "${done_[$n]:-}" ] || continue
			done_[$n]=1
			found=
			for d in "${dirs[@]}"; do
				if [ -e "$d/$n" ]; then found=$d/$n; break; fi
			done
			[ -n "$found" ] || die "no $n (needed by ${f##*/}) in ${LIBPKGS[*]}"
			cp -L "$found" "$stage/lib/aarch64-linux-gnu/$n"
			queue+=("$found")
		done
	done
	ln -sfn aarch64-linux-gnu/ld-linux-aarch64.so.1 "$stage/lib/ld-linux-aarch64.so.1"
}

cmd_image() {
	[ $# -eq 2 ] || die "usage: $0 image BIN_ARM64 OUTDIR"
	local bin out
	bin=$(readlink -f "$1")
	out=$2
	need_tools qemu-system-aarch64 cpio depmod gzip dpkg-deb genimage mcopy mkfs.vfat mke2fs qemu-aarch64 readelf
	[ "$(id -u)" -eq 0 ] || die "needs root (mknod, ownership in the root file system, apt-get)"
	[ -x "$bin" ] || die "$bin: not an executable"
	case "$(file -b "$bin")" in
	*"ARM aarch64"*"statically linked"* | *"ARM aarch64"*"static-pie linked"*) ;;
	*) die "$bin: not a static linux/arm64 ELF ($(file -b "$bin"))" ;;
	esac
	mkdir -p "$out"
	out=$(readlink -f "$out")
	local pkgs=(kernel busybox-static fdisk util-linux e2fsprogs "${LIBPKGS[@]}")
	debs_fetch "$cache" "${pkgs[@]}" || die "cannot get the Debian arm64 packages"
	local kroot=${DEB_ROOT[kernel]} broot=${DEB_ROOT[busybox-static]}
	local kver
	kver=$(find "$kroot/lib/modules" -mindepth 1 -maxdepth 1 -printf "%f\n" | head -1)
	[ -n "$kver" ] || die "no lib/modules in the kernel package"
	cp "$kroot/boot/vmlinuz-$kver" "$out/vmlinuz"

	local work
	work=$(mktemp -d "$out/build.XXXXXX")
	# shellcheck disable=SC2064 # expand now
	trap "rm -rf '$work'" EXIT

	# --- initramfs: modules, then mount the root read-only -------------------
	local ir=$work/initramfs m n=0 name
	mkdir -p "$ir"/{bin,sbin,dev,proc,sys,newroot,lib/modules}
	cp "$broot/bin/busybox" "$ir/bin/busybox"
	ln -s busybox "$ir/bin/sh"
	cp "$board/init" "$ir/init"
	chmod 755 "$ir/init"
	mknod -m 600 "$ir/dev/console" c 5 1
	mknod -m 666 "$ir/dev/null" c 1 3
	local mods
	mods=$(kernel_modules "$kroot" "$kver" "${MODULES[@]}") || die "modules"
	: >"$ir/lib/modules/load-order"
	for m in $mods; do
		n=$((n + 1))
		name=$(printf '%02d-%s.ko' "$n" "$(basename "${m%%.ko*}")")
		copy_module "$kroot/lib/modules/$kver/$m" "$ir/lib/modules/$name"
		echo "$name" >>"$ir/lib/modules/load-order"
	done
	(cd "$ir" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -6 >"$out/initrd.gz"
	log "initramfs: $n modules ($(tr '\n' ' ' <"$ir/lib/modules/load-order"))"

	# --- root file system ----------------------------------------------------
	local st=$work/rootfs
	mkdir -p "$st"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,var/lib,etc}
	chmod 1777 "$st/tmp"
	chmod 700 "$st/root"
	ln -s ../tmp "$st/var/log"
	ln -s ../run "$st/var/run"
	ln -s ../tmp "$st/var/tmp"
	ln -s ../tmp/resolv.conf "$st/etc/resolv.conf"
	ln -s ../proc/self/mounts "$st/etc/mtab"
	local t pkg path
	for t in "${TOOLS[@]}"; do
		pkg=${t%%:*}
		path=${t#*:}
		[ -f "${DEB_ROOT[$pkg]}/$path" ] || die "$pkg has no $path"
		mkdir -p "$st/$(dirname "$path")"
		cp "${DEB_ROOT[$pkg]}/$path" "$st/$path"
	done
	ln -s mke2fs "$st/sbin/mkfs.ext4"
	ln -s e2fsck "$st/sbin/fsck.ext4"
	copy_libs "$st" "${TOOLS[@]/#*:/$st/}"
	cp "$broot/bin/busybox" "$st/bin/busybox"
	local a
	for a in $(qemu-aarch64 "$st/bin/busybox" --list-full); do
		[ -e "$st/$a" ] || [ -L "$st/$a" ] || { mkdir -p "$st/$(dirname "$a")"; ln -s /bin/busybox "$st/$a"; }
	done
	cp -a "$board/skeleton/." "$st/"
	cp -a "$common/overlay/." "$st/"
	install -m 0755 "$bin" "$st/usr/bin/edgerec"
	mkdir -p "$st/etc/edgerec"
	echo "${QEMU_GW_VERSION:-qemu-1}" >"$st/etc/edgerec/system-version"
	if [ -n "${QEMU_GW_UPDATE_CA:-}" ]; then
		install -m 0644 "$QEMU_GW_UPDATE_CA" "$st/etc/edgerec/update-ca.pem"
	fi
	"$common/post-build.sh" "$st" qemu >/dev/null
	mke2fs -q -F -t ext4 -L rootfs -d "$st" "$work/rootfs.ext4" "$ROOTFS_SIZE" || die "mke2fs -d failed"

	# --- the card image: genimage with the shared layout ----------------------
	local in=$work/input
	mkdir -p "$in"
	cp "$work/rootfs.ext4" "$out/rootfs.ext4"
	mv "$work/rootfs.ext4" "$in/"
	cp "$out/vmlinuz" "$in/Image"
	cp "$out/initrd.gz" "$in/initrd.gz"
	cp "$board/cmdline.txt" "$in/cmdline.txt"
	"$common/genimage-cfg.sh" Image initrd.gz cmdline.txt >"$work/genimage.cfg"
	mkdir -p "$work/gi-root"
	genimage --rootpath "$work/gi-root" --tmppath "$work/gi-tmp" --inputpath "$in" \
		--outputpath "$work/gi-out" --config "$work/genimage.cfg" >"$work/genimage.log" 2>&1 ||
		{ cat "$work/genimage.log" >&2; die "genimage failed"; }
	mv "$work/gi-out/sdcard.img" "$out/sdcard.img"
	log "image: $out/sdcard.img ($(du -h --apparent-size "$out/sdcard.img" | cut -f1); kernel $kver, edgerec $(du -h "$bin" | cut -f1))"
}

cmd_bundle() {
	if [ $# -lt 5 ] || [ $# -gt 6 ]; then die "usage: $0 bundle OUTDIR VERSION CERT KEY OUT.raucb [broken]"; fi
	local out=$1 version=$2 cert=$3 key=$4 dst=$5 broken=${6:-}
	command -v rauc >/dev/null || die "rauc missing (scripts/deps.sh)"
	command -v debugfs >/dev/null || die "debugfs missing (e2fsprogs)"
	[ -f "$out/rootfs.ext4" ] || die "no $out/rootfs.ext4 (run: $0 image BIN $out)"
	case $version in *[!A-Za-z0-9._+-]* | '') die "bad version $version" ;; esac
	local work
	work=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now
	trap "rm -rf '$work'" EXIT
	mkdir -p "$work/content"
	cp "$out/rootfs.ext4" "$work/content/rootfs.ext4"
	echo "$version" >"$work/system-version"
	{
		echo "cd /etc/edgerec"
		echo "rm system-version"
		echo "write $work/system-version system-version"
		echo "sif system-version mode 0100644"
		if [ "$broken" = broken ]; then
			printf '#!/bin/sh\necho "edgerec: broken build (update rollback test)" >&2\nexit 1\n' >"$work/edgerec"
			echo "cd /usr/bin"
			echo "rm edgerec"
			echo "write $work/edgerec edgerec"
			echo "sif edgerec mode 0100755"
		fi
	} >"$work/debugfs.cmd"
	debugfs -w -f "$work/debugfs.cmd" "$work/content/rootfs.ext4" >"$work/debugfs.log" 2>&1 ||
		{ cat "$work/debugfs.log" >&2; die "debugfs failed"; }
	e2fsck -fn "$work/content/rootfs.ext4" >/dev/null 2>&1 || die "the edited rootfs does not pass e2fsck"
	cat >"$work/content/manifest.raucm" <<EOF2
[update]
compatible=edgerec-gateway
version=$version

[bundle]
format=plain

[image.rootfs]
filename=rootfs.ext4
EOF2
	rm -f "$dst"
	rauc bundle --cert="$cert" --key="$key" --mksquashfs-args="-comp gzip" "$work/content" "$dst" >"$work/rauc.log" 2>&1 ||
		{ cat "$work/rauc.log" >&2; die "rauc bundle failed"; }
	log "bundle: $dst (version $version${broken:+, broken edgerec}; $(du -h "$dst" | cut -f1))"
}

cmd_card() {
	if [ $# -lt 2 ] || [ $# -gt 3 ]; then die "usage: $0 card OUTDIR BUNDLE_DIR [SIZE]"; fi
	local out=$1 bundle=$2 size=${3:-1G}
	[ -f "$out/sdcard.img" ] || die "no $out/sdcard.img (run: $0 image BIN $out)"
	rm -f "$out/card.img"
	truncate -s "$size" "$out/card.img"
	"$repo/scripts/flash.sh" "$out/sdcard.img" "$out/card.img" --bundle "$bundle" --yes --allow-file >"$out/flash.log" 2>&1 ||
		{ cat "$out/flash.log" >&2; die "flash.sh failed"; }
	log "card: $out/card.img ($size) with the bundle from $bundle"
}

cmd_boot() {
	[ $# -eq 1 ] || die "usage: $0 boot OUTDIR"
	local out=$1
	need_tools qemu-system-aarch64
	local card=${QEMU_GW_CARD:-$out/card.img} port=${QEMU_GW_LAN_PORT:-18443} hook=${QEMU_GW_HOOK:-$out/hook.sock}
	[ -f "$card" ] || die "no $card (run: $0 card $out BUNDLE)"
	local serial=(-serial stdio)
	[ -z "${QEMU_GW_CONSOLE:-}" ] || serial=(-serial "file:$QEMU_GW_CONSOLE")
	rm -f "$hook"
	exec qemu-system-aarch64 -M virt -cpu max -smp 2 -m 1024 \
		-display none -monitor none "${serial[@]}" \
		-kernel "$out/vmlinuz" -initrd "$out/initrd.gz" -append "$(cat "$board/cmdline.txt")" \
		-drive "file=$card,format=raw,if=none,id=card,cache=writeback" -device virtio-blk-pci,drive=card \
		-netdev "user,id=lan,hostfwd=tcp:127.0.0.1:$port-:8443" -device virtio-net-pci,netdev=lan,romfile= \
		-device i6300esb -action watchdog=reset \
		-device virtio-rng-pci \
		-device virtio-serial-pci -chardev "socket,id=hook,path=$hook,server=on,wait=off" \
		-device virtserialport,chardev=hook,name=edgerec.test
}

case "${1:-}" in
image | bundle | card | boot)
	c=$1
	shift
	"cmd_$c" "$@"
	;;
*) die "usage: $0 image BIN_ARM64 OUTDIR | bundle OUTDIR VERSION CERT KEY OUT.raucb [broken] | card OUTDIR BUNDLE_DIR [SIZE] | boot OUTDIR" ;;
esac
