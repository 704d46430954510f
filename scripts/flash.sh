#!/usr/bin/env bash
# flash.sh IMAGE DEVICE [--bundle DIR] [--yes] [--dry-run] [--allow-file]
#
# Writes an edgerec SD card image (sdcard.img from `make image`) to a card
# and optionally puts an installer's provisioning bundle on its boot
# partition (the gateway provisions itself from it on first boot, moves the
# secrets to its data partition and deletes them from the boot partition).
#
#   IMAGE          the raw image (sdcard.img; decompress .xz/.gz first)
#   DEVICE         the whole card, e.g. /dev/sdb or /dev/mmcblk0 (not a
#                  partition)
#   --bundle DIR   copy DIR to edgerec-bundle/ on the card's boot partition:
#                  edgerec.yaml (required), device-id, ring-size,
#                  uplink/ca.pem, uplink/cert.pem, uplink/key.pem,
#                  maintenance/authorized_keys, restore/backup.json,
#                  restore/device-key, README.txt — nothing else
#   --yes          do not ask (scripted use); the safety checks still run
#   --dry-run      run every check, show the plan, write nothing
#   --allow-file   DEVICE may be a regular file (tests; or to prepare a
#                  card image with the bundle in it)
#
# Refuses: the disk the running system's root file system is on; any disk
# with a mounted partition, an active swap or a device-mapper/RAID holder; a
# partition; a read-only device; a device smaller than the image. Shows what
# it will overwrite and asks for the device path. Writes with dd
# conv=fsync, flushes, reads back exactly the image's length (O_DIRECT on a
# block device, so not from the page cache) and compares SHA-256. The bundle
# is copied with mtools (no mount) after the image is verified, and read back.
#
# Needs: bash, coreutils, util-linux (lsblk, findmnt, blockdev, partx), and
# mtools for --bundle. Run as root for a block device.
set -euo pipefail

prog=flash.sh
die() {
	echo "$prog: $*" >&2
	exit 1
}
refuse() {
	echo "$prog: REFUSING $*" >&2
	exit 3
}
usage() {
	sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

image='' dev='' bundle='' yes=0 dry=0 allow_file=0
while [ $# -gt 0 ]; do
	case $1 in
	--bundle)
		[ $# -ge 2 ] || usage
		bundle=$2
		shift 2
		;;
	--bundle=*)
		bundle=${1#--bundle=}
		shift
		;;
	--yes | -y)
		yes=1
		shift
		;;
	--dry-run)
		dry=1
		shift
		;;
	--allow-file)
		allow_file=1
		shift
		;;
	-h | --help) usage ;;
	-*) die "unknown option $1 (see --help)" ;;
	*)
		if [ -z "$image" ]; then
			image=$1
		elif [ -z "$dev" ]; then
			dev=$1
		else
			die "too many arguments (see --help)"
		fi
		shift
		;;
	esac
done
if [ -z "$image" ] || [ -z "$dev" ]; then usage; fi
if [ ! -f "$image" ] || [ ! -r "$image" ]; then die "$image: not a readable file"; fi
case $image in
*.xz | *.gz | *.zst | *.bz2 | *.zip) die "$image is compressed; decompress it first" ;;
esac
img_size=$(stat -c %s "$image")
[ "$img_size" -gt 0 ] || die "$image is empty"

# ---------------------------------------------------------------------------
# The bundle: checked before anything is written.

bundle_files=()
check_bundle() {
	[ -d "$bundle" ] || die "--bundle $bundle: not a directory"
	[ -f "$bundle/edgerec.yaml" ] || die "--bundle $bundle: edgerec.yaml is missing"
	local f bad=()
	while IFS= read -r -d '' f; do
		f=${f#"$bundle"/}
		case $f in
		edgerec.yaml | device-id | ring-size | uplink/ca.pem | uplink/cert.pem | uplink/key.pem | \
			maintenance/authorized_keys | restore/backup.json | restore/device-key | README.txt) bundle_files+=("$f") ;;
		*) bad+=("$f") ;;
		esac
	done < <(find "$bundle" -mindepth 1 ! -type d -print0 | sort -z)
	[ ${#bad[@]} -eq 0 ] || die "--bundle $bundle: unexpected files: ${bad[*]}"
	if [ -f "$bundle/uplink/cert.pem" ] && [ ! -f "$bundle/uplink/key.pem" ] ||
		{ [ -f "$bundle/uplink/key.pem" ] && [ ! -f "$bundle/uplink/cert.pem" ]; }; then
		die "--bundle $bundle: uplink/cert.pem and uplink/key.pem go together"
	fi
	if ! command -v mcopy >/dev/null || ! command -v mtype >/dev/null; then
		die "--bundle needs mtools (apt-get install mtools)"
	fi
}
[ -z "$bundle" ] || check_bundle

# ---------------------------------------------------------------------------
# The target.

# majmin_of_dev DEV prints MAJ:MIN of a block device.
majmin_of_dev() {
	local n
	n=$(stat -L -c '%t %T' "$1") || return 1
	# shellcheck disable=SC2086 # two hex words: major, minor
	set -- $n
	echo "$((16#$1)):$((16#$2))"
}

# sysname MAJ:MIN prints the kernel name (sda, mmcblk0p2, dm-0).
sysname() {
	basename "$(readlink -f "/sys/dev/block/$1")"
}

# top_disks NAME prints the whole disks NAME sits on (through partitions,
# device-mapper, RAID and loop).
top_disks() {
	local name=$1 s slave
	s=$(readlink -f "/sys/class/block/$name")
	if [ -f "$s/partition" ]; then
		top_disks "$(basename "$(dirname "$s")")"
		return
	fi
	local found=0
	for slave in "$s"/slaves/*; do
		[ -e "$slave" ] || continue
		found=1
		top_disks "$(basename "$slave")"
	done
	[ $found = 1 ] || echo "$name"
}

# root_disks prints the disks holding the running system's / (and /usr,
# /boot, /boot/efi when they are separate).
root_disks() {
	local m mm src
	for m in / /usr /boot /boot/efi /boot/firmware; do
		mountpoint -q "$m" 2>/dev/null || [ "$m" = / ] || continue
		mm=$(findmnt -n -o MAJ:MIN --target "$m" 2>/dev/null | head -n1 | tr -d ' ') || true
		if [ -n "$mm" ] && [ -e "/sys/dev/block/$mm" ]; then
			top_disks "$(sysname "$mm")"
		fi
		src=$(findmnt -n -o SOURCE --target "$m" 2>/dev/null | head -n1) || true
		src=${src%%\[*}
		if [ -n "$src" ] && [ -b "$src" ]; then
			top_disks "$(sysname "$(majmin_of_dev "$src")")"
		fi
	done | sort -u
}

# members NAME prints NAME and its partitions.
members() {
	local s p
	s=/sys/class/block/$1
	echo "$1"
	for p in "$s"/"$1"*; do
		[ -f "$p/partition" ] && basename "$p"
	done
	return 0
}

# in_use NAME prints why the disk NAME or one of its partitions is in use.
in_use() {
	local name=$1 m mm src s h
	while read -r m; do
		mm=$(cat "/sys/class/block/$m/dev")
		# mountinfo: field 3 is MAJ:MIN, field 5 the mount point, the
		# source follows " - fstype ".
		awk -v mm="$mm" -v m="$m" '$3 == mm { print "/dev/" m " is mounted on " $5 }' /proc/self/mountinfo
		while read -r src mp; do
			[ -b "$src" ] || continue
			[ "$(majmin_of_dev "$src" 2>/dev/null)" = "$mm" ] && echo "/dev/$m is mounted on $mp"
		done < <(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 2), $5; break } }' /proc/self/mountinfo)
		if [ -r /proc/swaps ]; then
			while read -r src _; do
				[ -b "$src" ] || continue
				[ "$(majmin_of_dev "$src" 2>/dev/null)" = "$mm" ] && echo "/dev/$m is an active swap"
			done < <(tail -n +2 /proc/swaps)
		fi
		s=/sys/class/block/$m
		for h in "$s"/holders/*; do
			[ -e "$h" ] && echo "/dev/$m is held by $(basename "$h") (device-mapper, LVM or RAID)"
		done
	done < <(members "$name")
	return 0
}

mode=block
if [ -b "$dev" ]; then
	[ "$(id -u)" -eq 0 ] || [ $dry = 1 ] || die "writing $dev needs root"
	dev=$(readlink -f "$dev")
	mm=$(majmin_of_dev "$dev")
	name=$(sysname "$mm")
	[ -e "/sys/class/block/$name" ] || die "$dev: not found in /sys/class/block"
	if [ -f "/sys/class/block/$name/partition" ]; then
		refuse "$dev: it is a partition; give the whole card (e.g. /dev/$(basename "$(dirname "$(readlink -f "/sys/class/block/$name")")"))"
	fi
	for r in $(root_disks); do
		if [ "$r" = "$name" ]; then
			refuse "$dev: the running system's root file system is on it"
		fi
	done
	why=$(in_use "$name" | sort -u)
	[ -z "$why" ] || refuse "$dev: it is in use:
$why"
	[ "$(cat "/sys/class/block/$name/ro" 2>/dev/null || echo 0)" = 0 ] || refuse "$dev: it is read-only (write-protect switch?)"
	dev_size=$(($(cat "/sys/class/block/$name/size") * 512))
	[ "$dev_size" -gt 0 ] || refuse "$dev: no medium (size 0)"
elif [ $allow_file = 1 ] && { [ -f "$dev" ] || [ ! -e "$dev" ]; }; then
	mode='file'
	dev_size=
	if [ -f "$dev" ]; then
		dev_size=$(stat -c %s "$dev")
		[ "$dev_size" -ge "$img_size" ] || dev_size=
	fi
elif [ -e "$dev" ]; then
	refuse "$dev: not a block device (use --allow-file for a regular file)"
else
	die "$dev: no such device"
fi
if [ -n "${dev_size:-}" ] && [ "$dev_size" -lt "$img_size" ]; then
	refuse "$dev: too small ($dev_size bytes) for $image ($img_size bytes)"
fi
if [ "$(readlink -f "$image")" = "$(readlink -f "$dev")" ]; then
	refuse "$dev is the image itself"
fi

# ---------------------------------------------------------------------------
# Show and ask.

human() { numfmt --to=iec-i --suffix=B "$1" 2>/dev/null || echo "$1 bytes"; }
echo "image:  $image ($(human "$img_size"))"
img_sha=$(sha256sum "$image" | cut -d' ' -f1)
echo "sha256: $img_sha"
if [ $mode = block ]; then
	echo "device: $dev ($(human "$dev_size")) — EVERYTHING ON IT WILL BE OVERWRITTEN:"
	lsblk -o NAME,SIZE,TYPE,FSTYPE,LABEL,MODEL,SERIAL,TRAN "$dev" 2>/dev/null | sed 's/^/  /' || true
else
	echo "target: $dev (regular file, --allow-file)"
fi
[ -z "$bundle" ] || echo "bundle: $bundle → edgerec-bundle/ on the boot partition (${bundle_files[*]})"

if [ $dry = 1 ]; then
	echo "$prog: dry run: all checks passed; nothing written"
	exit 0
fi
if [ $yes = 0 ]; then
	printf 'Type the device path (%s) to overwrite it: ' "$dev" >&2
	answer=
	read -r answer || true
	[ "$answer" = "$dev" ] || die "not confirmed; nothing written"
fi

# ---------------------------------------------------------------------------
# Write, flush, verify.

trap 'echo "$prog: interrupted: $dev is INCOMPLETE; flash it again" >&2' INT TERM
echo "writing…"
dd if="$image" of="$dev" bs=4M conv=fsync,notrunc status=progress 2>&1 | tr '\r' '\n' | tail -n 1
sync
if [ $mode = block ]; then
	blockdev --flushbufs "$dev"
	# O_DIRECT read (not the page cache) of the image's length rounded up
	# to 512-byte sectors, cut to the exact length. The excess (< 512 bytes)
	# goes out in dd's last write, so head never cuts dd short.
	nbytes=$(((img_size + 511) / 512 * 512))
	read_back() { dd if="$dev" iflag=direct,count_bytes bs=1M count="$nbytes" status=none | head -c "$img_size"; }
else
	read_back() { head -c "$img_size" "$dev"; }
fi
dev_sha=$(read_back | sha256sum | cut -d' ' -f1)
if [ "$dev_sha" != "$img_sha" ]; then
	die "VERIFY FAILED: $dev reads back sha256 $dev_sha, image is $img_sha (bad card or reader?)"
fi
echo "verified: the first $img_size bytes of $dev have sha256 $img_sha"

# ---------------------------------------------------------------------------
# The bundle, on partition 1 (FAT), with mtools.

if [ -n "$bundle" ]; then
	if [ $mode = block ]; then
		partx --update "$dev" >/dev/null 2>&1 || true
	fi
	start=$(partx -g -o START -n 1 "$dev" | tr -d ' ')
	ptype=$(partx -g -o TYPE -n 1 "$dev" | tr -d ' ')
	case $ptype in
	0xb | 0xc | 0xe | 0x0b | 0x0c | 0x0e) ;;
	*) die "partition 1 of $dev is type ${ptype:-?}, not FAT: is $image an edgerec image?" ;;
	esac
	export MTOOLS_SKIP_CHECK=1
	fat="$dev@@$((start * 512))"
	mlog=$(mktemp)
	trap 'rm -f "$mlog"' EXIT
	# mtools warn about the geometry of loop devices and card readers: keep
	# their messages, show them only when a command fails.
	mt() { "$@" 2>>"$mlog" || { cat "$mlog" >&2; die "$1 failed"; }; }
	mt mdir -i "$fat" :: >/dev/null
	if mdir -i "$fat" ::/edgerec-bundle >/dev/null 2>&1; then
		die "the boot partition already has edgerec-bundle/"
	fi
	mt mmd -i "$fat" ::/edgerec-bundle
	for d in uplink maintenance; do
		for f in "${bundle_files[@]}"; do
			if [ "${f%%/*}" = "$d" ]; then
				mt mmd -i "$fat" "::/edgerec-bundle/$d"
				break
			fi
		done
	done
	for f in "${bundle_files[@]}"; do
		mt mcopy -i "$fat" -o "$bundle/$f" "::/edgerec-bundle/$f"
	done
	sync
	[ $mode = file ] || blockdev --flushbufs "$dev"
	for f in "${bundle_files[@]}"; do
		want=$(sha256sum <"$bundle/$f" | cut -d' ' -f1)
		got=$(mtype -i "$fat" "::/edgerec-bundle/$f" 2>>"$mlog" | sha256sum | cut -d' ' -f1)
		[ "$want" = "$got" ] || die "bundle VERIFY FAILED for $f"
	done
	echo "bundle: ${#bundle_files[@]} files copied to edgerec-bundle/ and read back"
	echo "bundle: the gateway deletes them from the boot partition on first boot; keep the card safe until then"
fi
trap - INT TERM
echo "done: $dev is ready$([ $mode = block ] && echo "; remove it (eject $dev)")"
