#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build one kernel configuration ("test", "release" or "inner") from the pristine
# Linux source plus the rust/ patch series plus the config fragments.
# Does nothing when a build with the same inputs is already in the cache.
source "$(dirname "$0")/common.sh"

cfg=${1:-test}
[ -f "$TOP/qemu-test/config/$cfg.config" ] || die "no config fragment qemu-test/config/$cfg.config"

mapfile -t fragments < <(config_fragments "$cfg")
KMAKE=(make -s LLVM="$LLVM_SUFFIX" -j"$JOBS" RUST_LIB_SRC="$(rust_lib_src)")

# The patched tree: hard links to the pristine source, with the rust/
# series applied on top (patch(1) replaces the files it changes, so the
# pristine copy stays pristine).
prepare_tree() {
	local tree src p
	tree=$(kernel_tree_dir)
	[ -f "$tree/.mlu270-tree-ready" ] && return 0
	src=$(kernel_src_dir)
	[ -f "$src/Makefile" ] || die "no kernel source in $src: run 'make deps'"
	log "preparing the patched kernel tree $tree"
	rm -rf "$tree"
	mkdir -p "$(dirname "$tree")"
	cp -al "$src" "$tree"
	if [ -f "$TOP/rust/patches/series" ]; then
		while read -r p; do
			case "$p" in '' | '#'*) continue ;; esac
			log "applying rust/patches/$p"
			patch -s -p1 -d "$tree" --no-backup-if-mismatch <"$TOP/rust/patches/$p" ||
				die "rust/patches/$p does not apply to Linux $(kernel_pkg_version)"
		done <"$TOP/rust/patches/series"
	fi
	touch "$tree/.mlu270-tree-ready"
	prune_cache "$CACHE/kernel-tree" 3
}

# Every option the fragments ask for must survive olddefconfig; a silent
# drop (RUST with MODVERSIONS, KASAN without clang...) fails the build here.
check_config() {
	local out=$1 frag line opt want have bad=0
	for frag in "${fragments[@]}"; do
		while read -r line; do
			case "$line" in CONFIG_*=*) ;; *) continue ;; esac
			opt=${line%%=*}
			want=${line#*=}
			have=$(grep -E "^$opt=" "$out/.config" | cut -d= -f2- || true)
			[ -n "$have" ] || have=n
			if [ "$want" != "$have" ]; then
				printf 'error: %s: %s=%s requested, got %s\n' "$(basename "$frag")" "$opt" "$want" "$have" >&2
				bad=1
			fi
		done <"$frag"
	done
	[ $bad = 0 ] || die "the kernel configuration lost requested options (see above)"
}

build() {
	local tree out start
	tree=$(kernel_tree_dir)
	out=$(kernel_build_dir "$cfg")
	if [ -f "$out/.mlu270-build-ready" ]; then
		log "kernel ($cfg) up to date: $out"
		return 0
	fi
	start=$(date +%s)
	mkdir -p "$out"
	log "configuring the $cfg kernel in $out"
	"${KMAKE[@]}" -C "$tree" O="$out" tinyconfig >/dev/null
	"$tree/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${fragments[@]}" >/dev/null
	"${KMAKE[@]}" -C "$tree" O="$out" olddefconfig >/dev/null
	check_config "$out"
	log "building the $cfg kernel (a few minutes on 2 cores)"
	"${KMAKE[@]}" -C "$tree" O="$out" bzImage modules
	rm -rf "$out/modules-install"
	"${KMAKE[@]}" -C "$tree" O="$out" INSTALL_MOD_PATH="$out/modules-install" \
		INSTALL_MOD_STRIP=1 modules_install >/dev/null
	echo "$(($(date +%s) - start))" >"$out/.mlu270-build-seconds"
	touch "$out/.mlu270-build-ready"
	log "kernel ($cfg) built in $(cat "$out/.mlu270-build-seconds") s: $out"
	# keep the newest two builds of each configuration
	ls -1dt "$CACHE/kernel-build/$cfg"-*/ 2>/dev/null | tail -n +3 | xargs -r rm -rf
}

prepare_tree
build
