# SPDX-License-Identifier: GPL-2.0
# Shared settings for the build and test scripts. Sourced, never executed.
#
# Every large build output lives in one cache directory outside the
# repository, keyed by a hash of its inputs, so that an unchanged input is
# never rebuilt and CI and later sessions reuse what was built before.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${MLU270_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlu270-sriov}
mkdir -p "$CACHE"

# Pinned versions. The first one the mirror still has is used; the scripts
# say which one was missing and which alternative they tried.
KERNEL_SERIES=7.3
QEMU_VERSIONS=${QEMU_VERSIONS:-"10.0.13 10.2.2"}
BINDGEN_VERSION=0.73.2
LLVM_SUFFIX=-19

JOBS=${JOBS:-$(nproc)}
# Debian's python3, not a pyenv shim: meson and QEMU's configure need the
# system packages.
PYTHON=/usr/bin/python3

export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '>>> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# hash_inputs FILE|DIR... -- a stable digest of the contents and names of
# every file given, in sorted order.
hash_inputs() {
	local f
	for f in "$@"; do
		if [ -d "$f" ]; then
			find "$f" -type f ! -name '*~' -print0 | LC_ALL=C sort -z |
				xargs -0 -r sha256sum
		elif [ -e "$f" ]; then
			sha256sum "$f"
		else
			echo "missing $f"
		fi
	done | sed "s|$TOP/||" | sha256sum | cut -c1-16
}

hash_string() { printf '%s' "$*" | sha256sum | cut -c1-16; }

# The project's own apt configuration: other Debian suites are reached only
# through these sources lists and state directories, so the machine's plain
# `apt-get install` keeps resolving to bookworm. Two profiles:
#   install -- bookworm plus bookworm-backports, for packages we install
#              (backports keeps its low default priority; we ask for it by -t);
#   fetch   -- every suite with deb-src, only ever used to download sources
#              and architecture-independent packages, never to install.
APT_DIR=$CACHE/apt
apt_project() {
	local profile=$1 tool=apt-get
	shift
	if [ "$1" = cache ]; then
		tool=apt-cache
		shift
	fi
	$tool -q -o Dir::Etc::SourceList="$APT_DIR/$profile/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$APT_DIR/$profile/lists" \
		-o Dir::Cache::pkgcache="$APT_DIR/$profile/pkgcache.bin" \
		-o Dir::Cache::srcpkgcache="$APT_DIR/$profile/srcpkgcache.bin" \
		-o APT::Sandbox::User=root \
		"$@"
}

apt_project_setup() {
	local profile=$1 d=$APT_DIR/$1
	mkdir -p "$d/lists/partial"
	{
		echo "deb http://deb.debian.org/debian bookworm main"
		echo "deb http://deb.debian.org/debian bookworm-updates main"
		echo "deb http://deb.debian.org/debian-security bookworm-security main"
		echo "deb http://deb.debian.org/debian bookworm-backports main"
		if [ "$profile" = fetch ]; then
			echo "deb http://deb.debian.org/debian trixie main"
			echo "deb-src http://deb.debian.org/debian trixie main"
			echo "deb http://deb.debian.org/debian trixie-backports main"
			echo "deb-src http://deb.debian.org/debian trixie-backports main"
			echo "deb http://deb.debian.org/debian sid main"
			echo "deb-src http://deb.debian.org/debian sid main"
		fi
	} >"$d/sources.list.new"
	if ! cmp -s "$d/sources.list.new" "$d/sources.list" ||
		[ -z "$(find "$d/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
		mv "$d/sources.list.new" "$d/sources.list"
		log "updating the project's apt lists ($profile) in $d"
		apt_project "$profile" update >/dev/null
	else
		rm -f "$d/sources.list.new"
	fi
}

# The kernel source version we build: the newest linux-source-7.3 the
# project's apt lists know about, remembered so that every later step agrees.
kernel_version_file=$CACHE/kernel-version
kernel_pkg_version() { cat "$kernel_version_file" 2>/dev/null || true; }

kernel_src_dir() {
	local v
	v=$(kernel_pkg_version)
	[ -n "$v" ] || die "kernel source not fetched yet: run 'make deps'"
	echo "$CACHE/src/linux-source-$v"
}

# Key of the patched kernel tree: pristine version + the rust/ patch series.
kernel_tree_key() { hash_string "$(kernel_pkg_version) $(hash_inputs "$TOP/rust/patches")"; }
kernel_tree_dir() { echo "$CACHE/kernel-tree/$(kernel_tree_key)"; }

# The config fragments of one kernel configuration, merged onto tinyconfig in
# this order: the test and release kernels share base.config; the nested VM's
# kernel (inner) is its own.
config_fragments() {
	[ "$1" = inner ] || echo "$TOP/qemu-test/config/base.config"
	echo "$TOP/qemu-test/config/$1.config"
}

# Key of one kernel build: the tree key + the config fragments it uses.
kernel_build_key() {
	local frags
	mapfile -t frags < <(config_fragments "$1")
	hash_string "$(kernel_tree_key) $(hash_inputs "${frags[@]}")"
}
kernel_build_dir() { echo "$CACHE/kernel-build/$1-$(kernel_build_key "$1")"; }

qemu_version_file=$CACHE/qemu-version
qemu_version() { cat "$qemu_version_file" 2>/dev/null || true; }

modules_dir() { echo "$CACHE/modules/$1-$(kernel_build_key "$1")"; }

# Keep only the newest $2 entries of directory $1 (old cache keys).
prune_cache() {
	local dir=$1 keep=$2
	[ -d "$dir" ] || return 0
	ls -1dt "$dir"/*/ 2>/dev/null | tail -n +"$((keep + 1))" | xargs -r rm -rf
}

# The QEMU binary of the newest build (build-qemu.sh points this link at it).
qemu_binary_current() { echo "$CACHE/qemu-current/build/qemu-system-x86_64"; }

# The Rust standard library sources the kernel build needs: rustup's
# rust-src component, or Debian's rust-src unpacked into the cache.
rust_lib_src() {
	local sysroot
	sysroot=$(rustc --print sysroot)
	if [ -d "$sysroot/lib/rustlib/src/rust/library" ]; then
		echo "$sysroot/lib/rustlib/src/rust/library"
	else
		echo "$CACHE/rust-src/usr/lib/rustlib/src/rust/library"
	fi
}
