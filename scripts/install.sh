#!/usr/bin/env bash
# install.sh --device-id ID [options] — installs edgerec on an ARM Linux box
# that runs its own OS (Jetson with L4T, Debian or Raspberry Pi OS on a Pi):
# the static binary, a system user, a hardened systemd unit, the data
# directory, and provisions the device (keys, ring, config). The Buildroot
# image does not need this (it provisions itself on first boot).
#
#   --device-id ID      device id (a-z, 0-9, - and _); must match device.id
#                       of --config when both are given
#   --config FILE       edgerec.yaml to validate and install (default: a
#                       minimal one without cameras)
#   --ring-size SIZE    ring size, e.g. 64GiB (default: the config's)
#   --data DIR          data directory (default /var/lib/edgerec)
#   --binary FILE       the edgerec binary (default: bin/edgerec-linux-ARCH
#                       next to this script, ARCH from uname -m)
#   --no-start          install and provision, but do not enable or start
#   --root DIR          install into DIR as a staging root: no user, no
#                       systemctl (tests, image builders)
#
# Re-running upgrades the binary and the unit; an already provisioned data
# directory is kept as it is (provision refuses an existing device).
# Needs root (except with --root), systemd, and useradd.
set -euo pipefail

prog=install.sh
die() {
	echo "$prog: $*" >&2
	exit 1
}
usage() {
	sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
id='' config='' ring='' data=/var/lib/edgerec binary='' start=1 root=''
while [ $# -gt 0 ]; do
	case $1 in
	--device-id | --config | --ring-size | --data | --binary | --root)
		[ $# -ge 2 ] || usage
		case $1 in
		--device-id) id=$2 ;;
		--config) config=$2 ;;
		--ring-size) ring=$2 ;;
		--data) data=$2 ;;
		--binary) binary=$2 ;;
		--root) root=$2 ;;
		esac
		shift 2
		;;
	--no-start)
		start=0
		shift
		;;
	-h | --help) usage ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[ -n "$id" ] || die "--device-id is required (see --help)"
case $data in
/*) ;;
*) die "--data must be an absolute path" ;;
esac
if [ -n "$root" ]; then
	mkdir -p "$root"
	root=$(cd "$root" && pwd)
	start=0
else
	[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 …)"
	command -v systemctl >/dev/null || die "systemd is required (no systemctl)"
fi

if [ -z "$binary" ]; then
	case $(uname -m) in
	aarch64 | arm64) arch=arm64 ;;
	armv7l | armv8l) arch=armv7 ;;
	*) die "no prebuilt binary for $(uname -m); give --binary" ;;
	esac
	binary=$here/../bin/edgerec-linux-$arch
fi
[ -f "$binary" ] || die "$binary: not found (run 'make firmware' first, or give --binary)"
"$binary" version >/dev/null 2>&1 || die "$binary does not run on this machine ($(uname -m))"

bindir=/usr/local/bin
unitdir=/etc/systemd/system
user=edgerec

# 1. The binary (atomically replaced, so a running recorder keeps its inode).
mkdir -p "$root$bindir"
install -m 0755 "$binary" "$root$bindir/.edgerec.new"
mv -f "$root$bindir/.edgerec.new" "$root$bindir/edgerec"
echo "installed $bindir/edgerec ($("$root$bindir/edgerec" version | head -n1))"

# 2. The system user, with the device groups that exist on this box.
groups=()
if [ -z "$root" ]; then
	if ! getent passwd "$user" >/dev/null; then
		useradd --system --user-group --no-create-home --home-dir "$data" \
			--shell /usr/sbin/nologin --comment "edgerec recorder" "$user"
		echo "created system user $user"
	fi
	for g in video gpio i2c; do
		getent group "$g" >/dev/null && groups+=("$g")
	done
fi

# 3. The unit.
mkdir -p "$root$unitdir"
cat >"$root$unitdir/.edgerec.service.new" <<EOF
# Installed by edgerec scripts/install.sh. Edit with 'systemctl edit edgerec'.
[Unit]
Description=edgerec camera recorder (privacy masks, encrypted ring buffer)
Documentation=https://github.com/edgerec/edgerec
Wants=network-online.target
After=network-online.target time-sync.target
StartLimitIntervalSec=0

[Service]
Type=simple
User=$user
Group=$user
SupplementaryGroups=${groups[*]}
ExecStart=$bindir/edgerec run --config $data/edgerec.yaml
Restart=always
RestartSec=2s
# edgerec closes its open segment and syncs the index on SIGTERM.
KillSignal=SIGTERM
TimeoutStopSec=30s
UMask=0077

# Hardening: read-only system, writable data dir only, no privileges.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$data
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RemoveIPC=yes
CapabilityBoundingSet=
AmbientCapabilities=
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
# Cameras (V4L2), GPIO (status LED, tamper, wipe button); nothing else.
DevicePolicy=closed
DeviceAllow=char-video4linux rw
DeviceAllow=char-gpiochip rw
DeviceAllow=/dev/gpiomem rw

[Install]
WantedBy=multi-user.target
EOF
chmod 0644 "$root$unitdir/.edgerec.service.new"
mv -f "$root$unitdir/.edgerec.service.new" "$root$unitdir/edgerec.service"
echo "installed $unitdir/edgerec.service"

# 4. The data directory and provisioning.
mkdir -p "$root$data"
chmod 0700 "$root$data"
if [ -f "$root$data/edgerec.yaml" ]; then
	echo "already provisioned: $data/edgerec.yaml exists (kept as it is)"
else
	args=(provision --data "$root$data" --device-id "$id")
	[ -z "$ring" ] || args+=(--ring-size "$ring")
	[ -z "$config" ] || args+=(--config "$config")
	"$root$bindir/edgerec" "${args[@]}"
fi
if [ -z "$root" ]; then
	chown -R "$user:$user" "$data"
fi

# 5. Start.
if [ "$start" = 1 ]; then
	systemctl daemon-reload
	systemctl enable edgerec.service
	systemctl restart edgerec.service
	echo "started: systemctl status edgerec; logs: journalctl -u edgerec"
else
	echo "not started (--no-start or --root): systemctl daemon-reload && systemctl enable --now edgerec"
fi
