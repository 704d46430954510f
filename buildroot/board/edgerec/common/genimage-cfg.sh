#!/usr/bin/env bash
# genimage-cfg.sh FILE... — prints genimage.cfg for an edgerec card: the
# template genimage.cfg.in with the numbers of layout.conf (next to this
# script) and FILE... (paths relative to genimage's input path) as the boot
# partition's files. Used by post-image.sh (the Raspberry Pi images) and by
# scripts/qemu-gateway.sh (the emulated board), so the two cannot drift.
set -euo pipefail
dir=$(dirname "$0")
# shellcheck disable=SC1091 # layout.conf: NAME=VALUE lines
. "$dir/layout.conf"
files=""
for f in "$@"; do
	case $f in *'"'* | *'|'* | *\\*) echo "genimage-cfg.sh: bad file name $f" >&2; exit 2 ;; esac
	files+=$(printf '\t\t\t"%s",' "$f")$'\n'
done
files=${files%$'\n'}
while IFS= read -r line; do
	case $line in
	'#BOOT_FILES#') [ -z "$files" ] || printf '%s\n' "$files" ;;
	*)
		line=${line//#BOOT_LABEL#/$BOOT_LABEL}
		line=${line//#BOOT_OFFSET#/$BOOT_OFFSET}
		line=${line//#BOOT_SIZE#/$BOOT_SIZE}
		line=${line//#ROOTFS_SIZE#/$ROOTFS_SIZE}
		line=${line//#DATA_LABEL#/$DATA_LABEL}
		printf '%s\n' "$line"
		;;
	esac
done <"$dir/genimage.cfg.in"
