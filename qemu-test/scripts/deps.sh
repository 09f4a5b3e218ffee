#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install whatever the build is missing, and nothing else: Debian packages,
# rust-src, bindgen-cli, the Linux 7.3 source and the QEMU source.
# Safe to run again: every step checks first and does nothing when satisfied.
source "$(dirname "$0")/common.sh"

export DEBIAN_FRONTEND=noninteractive

# Packages from bookworm (the machine's own apt setup).
BOOKWORM_PKGS=(
	build-essential bc flex bison cpio xz-utils curl kmod
	libelf-dev libssl-dev
	"clang$LLVM_SUFFIX" "lld$LLVM_SUFFIX" "llvm$LLVM_SUFFIX" "libclang$LLVM_SUFFIX-dev"
	busybox-static
	ninja-build pkgconf libglib2.0-dev zlib1g-dev libpixman-1-dev
	device-tree-compiler python3-venv pciutils
	seabios ipxe-qemu
)
# Packages bookworm has too old: from bookworm-backports, by the project's
# own apt state (QEMU 10 needs meson >= 1.5 and pycotap; bookworm has meson 1.0; the
# option ROMs for direct kernel boot, linuxboot_dma.bin and kvmvapic.bin,
# come from qemu-system-data, which the +ds source tarball cannot rebuild
# without a 32-bit toolchain).
BACKPORTS_PKGS=(meson python3-pycotap qemu-system-data)

missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
	done
}

need_sudo() { [ "$(id -u)" = 0 ] || echo sudo; }

install_debian_packages() {
	local missing
	missing=$(missing_pkgs "${BOOKWORM_PKGS[@]}")
	if [ -n "$missing" ]; then
		log "installing from bookworm: $(echo $missing)"
		# shellcheck disable=SC2086
		$(need_sudo) apt-get install -y -q --no-install-recommends $missing ||
			{ $(need_sudo) apt-get update -q && $(need_sudo) apt-get install -y -q --no-install-recommends $missing; } ||
			die "could not install: $missing"
	fi
	if ! meson --version 2>/dev/null | awk -F. '{ exit !($1 > 1 || ($1 == 1 && $2 >= 5)) }' ||
		[ -n "$(missing_pkgs python3-pycotap qemu-system-data)" ]; then
		apt_project_setup install
		log "installing from bookworm-backports: ${BACKPORTS_PKGS[*]}"
		apt_project install install -y -q --no-install-recommends \
			-t bookworm-backports "${BACKPORTS_PKGS[@]}" ||
			die "could not install ${BACKPORTS_PKGS[*]} from bookworm-backports"
	fi
}

install_rust_tools() {
	command -v rustup >/dev/null || die "rustup not found: install the Rust toolchain (https://rustup.rs) first"
	local sysroot
	sysroot=$(rustc --print sysroot)
	if [ ! -d "$(rust_lib_src)" ]; then
		log "adding the rust-src component"
		rustup component add rust-src || fetch_debian_rust_src
	fi
	for c in rustfmt clippy; do
		rustup component list --installed | grep -q "^$c" || rustup component add "$c"
	done
	if ! bindgen --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
		log "installing bindgen-cli $BINDGEN_VERSION (about 2 minutes)"
		cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION" ||
			die "cargo install bindgen-cli $BINDGEN_VERSION failed"
	fi
}

# Fallback when rustup's server is out of reach: Debian's rust-src of the
# same version as the installed rustc (an architecture-independent package,
# unpacked into the cache, never installed).
fetch_debian_rust_src() {
	local ver deb
	ver=$(rustc --version | awk '{ print $2 }')
	apt_project_setup fetch
	deb=$(apt_project fetch cache show rust-src 2>/dev/null |
		awk -v v="$ver" '/^Version:/ { ok = index($2, v "+dfsg") == 1 } /^Version:/ && ok { print $2; exit }' || true)
	[ -n "$deb" ] || die "rustup could not add rust-src and Debian has no rust-src $ver (tried trixie-backports, trixie, sid)"
	log "using Debian's rust-src $deb"
	mkdir -p "$CACHE/downloads"
	(cd "$CACHE/downloads" && apt_project fetch download "rust-src=$deb") || die "download of rust-src=$deb failed"
	rm -rf "$CACHE/rust-src"
	dpkg-deb -x "$CACHE"/downloads/rust-src_*.deb "$CACHE/rust-src"
	rm -f "$CACHE"/downloads/rust-src_*.deb
	[ -d "$(rust_lib_src)" ] || die "Debian's rust-src $deb has no library sources"
}

# The newest linux-source-7.3 that the mirror has, from whichever suite.
fetch_kernel_source() {
	local have ver deb dir
	have=$(kernel_pkg_version)
	if [ -n "$have" ] && [ -f "$CACHE/src/linux-source-$have/Makefile" ]; then
		return 0
	fi
	apt_project_setup fetch
	ver=$(apt_project fetch cache show "linux-source-$KERNEL_SERIES" 2>/dev/null |
		awk '/^Version:/ { print $2 }' | sort -V | tail -1)
	[ -n "$ver" ] || die "no linux-source-$KERNEL_SERIES in bookworm, trixie, trixie-backports or sid; the build needs Linux $KERNEL_SERIES"
	log "fetching linux-source-$KERNEL_SERIES $ver"
	mkdir -p "$CACHE/downloads" "$CACHE/src"
	(cd "$CACHE/downloads" && apt_project fetch download "linux-source-$KERNEL_SERIES=$ver") ||
		die "download of linux-source-$KERNEL_SERIES=$ver failed"
	deb=$(ls "$CACHE"/downloads/linux-source-"$KERNEL_SERIES"_*.deb | sort -V | tail -1)
	dir=$CACHE/src/linux-source-$ver
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp/deb"
	dpkg-deb -x "$deb" "$dir.tmp/deb"
	tar -C "$dir.tmp" -xf "$dir.tmp/deb/usr/src/linux-source-$KERNEL_SERIES.tar.xz"
	mv "$dir.tmp/linux-source-$KERNEL_SERIES" "$dir"
	rm -rf "$dir.tmp" "$deb"
	echo "$ver" >"$kernel_version_file"
	log "kernel source: $dir"
}

# QEMU from a Debian orig tarball; the pinned versions in order.
fetch_qemu_source() {
	local have v url sum tarball tried=()
	have=$(qemu_version)
	if [ -n "$have" ] && [ -f "$CACHE/src/qemu-$have/configure" ]; then
		return 0
	fi
	apt_project_setup fetch
	mkdir -p "$CACHE/downloads" "$CACHE/src"
	for v in $QEMU_VERSIONS; do
		# "directory/file sha256" of the orig tarball of version $v, if listed.
		url=$(apt_project fetch cache showsrc qemu 2>/dev/null | awk -v f="qemu_$v+ds.orig.tar.xz" '
			BEGIN { RS = "" }
			{
				dir = ""; sum = ""
				n = split($0, line, "\n")
				for (i = 1; i <= n; i++) {
					if (line[i] ~ /^Directory:/) { split(line[i], w, " "); dir = w[2] }
					split(line[i], w, " ")
					if (w[3] == f && length(w[1]) == 64) sum = w[1]
				}
				if (dir != "" && sum != "" && !done) { print dir "/" f, sum; done = 1 }
			}')
		if [ -z "$url" ]; then
			tried+=("$v (no source package on the mirror)")
			continue
		fi
		sum=${url#* }
		url=${url% *}
		tarball=$CACHE/downloads/$(basename "$url")
		log "fetching QEMU $v: $url"
		if curl -fsSL -o "$tarball.part" "http://deb.debian.org/debian/$url" &&
			echo "$sum  $tarball.part" | sha256sum -c --quiet; then
			mv "$tarball.part" "$tarball"
			rm -rf "$CACHE/src/qemu-$v" "$CACHE/src/qemu-$v.tmp"
			mkdir -p "$CACHE/src/qemu-$v.tmp"
			tar -C "$CACHE/src/qemu-$v.tmp" -xf "$tarball"
			mv "$CACHE/src/qemu-$v.tmp"/* "$CACHE/src/qemu-$v"
			rm -rf "$CACHE/src/qemu-$v.tmp" "$tarball"
			echo "$v" >"$qemu_version_file"
			[ ${#tried[@]} -eq 0 ] || log "QEMU: used $v; not available: ${tried[*]}"
			return 0
		fi
		rm -f "$tarball.part"
		tried+=("$v (download of $url failed)")
	done
	die "no pinned QEMU version could be fetched; tried: ${tried[*]}"
}

case "${1:-all}" in
all)
	install_debian_packages
	install_rust_tools
	fetch_kernel_source
	fetch_qemu_source
	;;
packages) install_debian_packages ;;
rust) install_rust_tools ;;
kernel-source) fetch_kernel_source ;;
qemu-source) fetch_qemu_source ;;
*) die "unknown step $1" ;;
esac
