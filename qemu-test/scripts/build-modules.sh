#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the project's modules (drivers/) as external modules against one
# kernel configuration's build tree. Kbuild's own dependency tracking means
# touching one driver source rebuilds only that driver.
source "$(dirname "$0")/common.sh"

cfg=${1:-test}
kbuild=$(kernel_build_dir "$cfg")
[ -f "$kbuild/.mlu270-build-ready" ] || die "the $cfg kernel is not built: run 'make kernel'"
out=$(modules_dir "$cfg")
mkdir -p "$out"

if [ ! -f "$TOP/drivers/Kbuild" ] && [ ! -f "$TOP/drivers/Makefile" ]; then
	log "no drivers yet"
	exit 0
fi
# MO= keeps the objects out of the repository (Linux >= 6.13). A clippy
# build goes to its own directory so that it does not invalidate the
# normal one. Any compiler or clippy warning fails the build: the drivers
# are kept warning-free.
obj=$out/obj${CLIPPY:+-clippy}
buildlog=$(mktemp)
trap 'rm -f "$buildlog"' EXIT
if ! make -s LLVM="$LLVM_SUFFIX" -j"$JOBS" RUST_LIB_SRC="$(rust_lib_src)" -C "$kbuild" M="$TOP/drivers" MO="$obj" \
	${CLIPPY:+CLIPPY=1} modules >"$buildlog" 2>&1; then
	cat "$buildlog"
	die "building the drivers failed"
fi
cat "$buildlog"
if grep -q '^warning' "$buildlog"; then
	die "the drivers build with warnings${CLIPPY:+ (clippy)}"
fi
[ -n "${CLIPPY:-}" ] && { log "clippy: no warnings"; exit 0; }
find "$obj" -name '*.ko' -exec cp -u {} "$out/" \;
log "modules ($cfg): $(cd "$out" && ls *.ko 2>/dev/null | tr '\n' ' ')"
# The kernel's vfio selftests run in the test guest (vfio_selftests.sh).
if [ "$cfg" = test ]; then
	"$(dirname "$0")/build-vfio-selftests.sh"
fi
