#!/usr/bin/env bash
# Post-image: builds sdcard.img with genimage from genimage.cfg.in (boot files
# from the rpi-firmware package, the kernel and the device trees) — the same
# steps as Buildroot's board/raspberrypi/post-image.sh, with edgerec's
# partition layout (layout.conf, through genimage-cfg.sh). Output: $BINARIES_DIR/sdcard.img.
set -euo pipefail
BOARD_DIR=$(dirname "$0")
GENIMAGE_CFG=$BINARIES_DIR/genimage.cfg
GENIMAGE_TMP=$BUILD_DIR/genimage.tmp

cat >"$BINARIES_DIR/edgerec-bundle-README.txt" <<'TXT'
edgerec provisioning bundle: put it here as edgerec-bundle/ with
scripts/flash.sh IMAGE DEVICE --bundle DIR (edgerec.yaml; optional
uplink/ca.pem, uplink/cert.pem, uplink/key.pem, ring-size,
maintenance/authorized_keys). On first boot the gateway provisions itself
from it, moves the secrets to its data partition and deletes the bundle
from this partition.
TXT

FILES=()
for i in "$BINARIES_DIR"/*.dtb "$BINARIES_DIR"/rpi-firmware/* "$BINARIES_DIR/edgerec-bundle-README.txt"; do
	FILES+=("${i#"$BINARIES_DIR"/}")
done
KERNEL=$(sed -n 's/^kernel=//p' "$BINARIES_DIR/rpi-firmware/config.txt")
FILES+=("$KERNEL")
# Sizes and offsets: layout.conf, shared with scripts/qemu-gateway.sh.
"$BOARD_DIR/genimage-cfg.sh" "${FILES[@]}" >"$GENIMAGE_CFG"

ROOTPATH_TMP=$(mktemp -d)
trap 'rm -rf "$ROOTPATH_TMP"' EXIT
rm -rf "$GENIMAGE_TMP"
genimage \
	--rootpath "$ROOTPATH_TMP" \
	--tmppath "$GENIMAGE_TMP" \
	--inputpath "$BINARIES_DIR" \
	--outputpath "$BINARIES_DIR" \
	--config "$GENIMAGE_CFG"
echo "post-image: $BINARIES_DIR/sdcard.img (flash with scripts/flash.sh)"
