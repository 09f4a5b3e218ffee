#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the kernel's own vfio selftests (tools/testing/selftests/vfio of the
# patched tree, so that our selftest driver is in their libvfio) as static
# binaries for the test guest, against the test kernel's UAPI headers.
# Output: $CACHE/vfio-selftests/<tree key>/ (the binaries and run.sh's
# helpers); the KTAP suite vfio_selftests.sh runs them against the card.
source "$(dirname "$0")/common.sh"

tree=$(kernel_tree_dir)
kbuild=$(kernel_build_dir test)
[ -f "$kbuild/.mlu270-build-ready" ] || die "the test kernel is not built: run 'make kernel'"
out=$CACHE/vfio-selftests/$(kernel_tree_key)
[ -f "$out/.ready" ] && exit 0
prune_cache "$CACHE/vfio-selftests" 3

log "building the kernel's vfio selftests"
# The UAPI headers of this kernel (linux/vfio.h, linux/iommufd.h are newer
# than the build machine's).
make -s -C "$tree" O="$kbuild" headers >/dev/null || die "make headers failed"
rm -rf "$out"
mkdir -p "$out"
# lib.mk builds into OUTPUT; the tree itself is not written.
make -s -C "$tree/tools/testing/selftests/vfio" OUTPUT="$out" CC=gcc \
	KHDR_INCLUDES="-isystem $kbuild/usr/include" EXTRA_CFLAGS="-static -O2" \
	>"$out/build.log" 2>&1 || { cat "$out/build.log"; die "building the vfio selftests failed"; }
find "$out" -name '*.o' -delete -o -name '*.d' -delete
touch "$out/.ready"
log "vfio selftests: $(cd "$out" && find . -maxdepth 1 -type f -perm -u+x -printf '%f ' )"
