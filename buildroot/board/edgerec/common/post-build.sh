#!/usr/bin/env bash
# Post-build: called by Buildroot with TARGET_DIR as $1 (and the board name,
# rpi4 or rpi5, from BR2_ROOTFS_POST_SCRIPT_ARGS). Makes the root file system
# fit a read-only, console-less gateway.
set -euo pipefail
TARGET_DIR=${1:?TARGET_DIR}

# Mount points: /data (data partition), /boot (first boot only).
mkdir -p "$TARGET_DIR/data" "$TARGET_DIR/boot"

# No login on any console: no getty in inittab, root account locked.
if grep -E '^[^#].*getty' "$TARGET_DIR/etc/inittab"; then
	echo "post-build: inittab starts a getty (login on a console); refusing" >&2
	exit 1
fi
sed -i -e 's/^root:[^:]*:/root:*:/' "$TARGET_DIR/etc/shadow"

# No telnet; dropbear is started only by S60edgerec-maintenance.
rm -f "$TARGET_DIR/etc/init.d/S50telnet" "$TARGET_DIR/etc/init.d/S50dropbear"
if [ -x "$TARGET_DIR/usr/sbin/dropbear" ]; then
	mkdir -p "$TARGET_DIR/root/.ssh"
	chmod 0700 "$TARGET_DIR/root/.ssh"
	ln -sfn /data/edgerec/maintenance/authorized_keys "$TARGET_DIR/root/.ssh/authorized_keys"
fi

# Read-only root: state that must survive a reboot lives on /data.
rm -rf "$TARGET_DIR/var/lib/seedrng"
ln -sfn /data/system "$TARGET_DIR/var/lib/seedrng"

# What this image is.
{
	echo "EDGEREC_BOARD=${2:-unknown}"
	echo "EDGEREC_IMAGE_BUILT=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$TARGET_DIR/etc/edgerec-release"
