# shellcheck shell=bash
# Debian arm64 packages for the emulated boards (sourced by
# scripts/qemu-vivid.sh and scripts/qemu-gateway.sh): downloads them once
# with apt-get (adding the arm64 architecture if needed) into a cache and
# unpacks each .deb once.
#
#   debs_fetch CACHE PKG...   ensures every PKG's arm64 .deb is in
#                             CACHE/debs and unpacked; fills DEB_ROOT[PKG]
#                             with its unpacked directory. PKG "kernel" is
#                             the package linux-image-arm64:arm64 depends on
#                             (a cached one is used as it is).
#
# Needs root (apt-get, dpkg --add-architecture) unless everything is cached.
# shellcheck disable=SC2034 # read by the scripts that source this
declare -A DEB_ROOT=()

_debs_apt_ready() {
	local p
	p=$(apt-cache policy linux-image-arm64:arm64 2>/dev/null || true)
	[[ $p == *"Candidate: "[0-9]* ]]
}

_debs_apt_prepare() {
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		echo "debs: dpkg --add-architecture arm64"
		dpkg --add-architecture arm64
	fi
	if ! _debs_apt_ready; then
		echo "debs: apt-get update"
		apt-get update -qq
	fi
	_debs_apt_ready || { echo "debs: apt has no arm64 packages (are Debian's arm64 indexes reachable?)" >&2; return 1; }
}

# _debs_cached CACHE NAME prints the newest cached .deb of NAME.
_debs_cached() {
	local f
	f=$(ls "$1"/debs/"$2"_*_arm64.deb 2>/dev/null | sort -V | tail -1 || true)
	[ -n "$f" ] && echo "$f"
}

debs_fetch() {
	local cache=$1
	shift
	mkdir -p "$cache/debs" "$cache/unpacked"
	local want=() missing=() p name deb root
	for p in "$@"; do
		name=$p
		if [ "$p" = kernel ]; then
			deb=$(ls "$cache"/debs/linux-image-*-arm64_*_arm64.deb 2>/dev/null | sort -V | tail -1 || true)
			if [ -z "$deb" ]; then
				_debs_apt_prepare || return 1
				name=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null |
					sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -1)
				[ -n "$name" ] || { echo "debs: cannot tell which kernel linux-image-arm64:arm64 depends on" >&2; return 1; }
			else
				name=$(basename "$deb")
				name=${name%%_*}
			fi
		fi
		want+=("$p=$name")
		_debs_cached "$cache" "$name" >/dev/null || missing+=("$name:arm64")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		_debs_apt_prepare || return 1
		echo "debs: downloading ${missing[*]} into $cache/debs"
		# apt downloads as its _apt user where it can.
		if id _apt >/dev/null 2>&1; then chown _apt "$cache/debs" || true; fi
		(cd "$cache/debs" && apt-get download -qq "${missing[@]}") || {
			echo "debs: apt-get download ${missing[*]} failed" >&2
			return 1
		}
	fi
	local w
	for w in "${want[@]}"; do
		p=${w%%=*}
		name=${w#*=}
		deb=$(_debs_cached "$cache" "$name") || { echo "debs: $name: no .deb after download" >&2; return 1; }
		root="$cache/unpacked/$(basename "$deb" .deb)"
		if [ ! -e "$root/.done" ]; then
			rm -rf "$root"
			mkdir -p "$root"
			dpkg-deb -x "$deb" "$root"
			touch "$root/.done"
		fi
		DEB_ROOT[$p]=$root
	done
}

# kernel_modules KROOT KVER MODNAME... prints, in load order (dependencies
# first, no duplicates), the modules.dep paths of MODNAMEs and everything
# they need; names built into the kernel or absent are skipped (absent ones
# are reported on stderr).
kernel_modules() {
	local kroot=$1 kver=$2
	shift 2
	local mdir="$kroot/lib/modules/$kver" m line mod deps i
	[ -s "$mdir/modules.dep" ] || depmod -b "$kroot" "$kver" || return 1
	declare -A seen=()
	for m in "$@"; do
		local re=${m//[-_]/[-_]}
		if grep -qE "/${re}\.ko(\.(xz|zst|gz))?$" "$mdir/modules.builtin" 2>/dev/null; then
			continue
		fi
		line=$(grep -E "^([^:]*/)?${re}\.ko(\.(xz|zst|gz))?:" "$mdir/modules.dep" || true)
		if [ -z "$line" ]; then
			echo "kernel_modules: $m: not in kernel $kver" >&2
			continue
		fi
		mod=${line%%:*}
		read -r -a deps <<<"${line#*:}"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
			[ -n "${seen[${deps[i]}]:-}" ] || { seen[${deps[i]}]=1; echo "${deps[i]}"; }
		done
		[ -n "${seen[$mod]:-}" ] || { seen[$mod]=1; echo "$mod"; }
	done
}

# copy_module SRC DST: a module file, decompressed.
copy_module() {
	case "$1" in
	*.ko) cp "$1" "$2" ;;
	*.ko.xz) xz -dc "$1" >"$2" ;;
	*.ko.zst) zstd -qdc "$1" >"$2" ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	*) echo "copy_module: unknown module file $1" >&2; return 1 ;;
	esac
}
