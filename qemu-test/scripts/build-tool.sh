#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the userspace tool as a static binary for the guest image (glibc's
# static libc: the guest has no shared libraries for it).
source "$(dirname "$0")/common.sh"

# The selftests' C helpers (kselftest TEST_GEN_FILES), against our UAPI header.
selftest=$TOP/tools/testing/selftests/drivers/accel/mlu270
mkdir -p "$CACHE/tool/selftests"
for src in "$selftest"/*.c; do
	bin=$CACHE/tool/selftests/$(basename "$src" .c)
	gcc -static -O2 -Wall -Wextra -Werror -I"$TOP/include/uapi" -o "$bin.new" "$src" ||
		die "building $src failed"
	mv -f "$bin.new" "$bin"
done
rm -f "$CACHE/tool/mlu270_job"

# /init of the vfio test's nested VM.
gcc -static -Os -s -Wall -Wextra -Werror -o "$CACHE/tool/inner-init.new" "$TOP/qemu-test/guest/inner-init.c" ||
	die "building qemu-test/guest/inner-init.c failed"
mv -f "$CACHE/tool/inner-init.new" "$CACHE/tool/inner-init"

crate=$TOP/tools/mlu270-smi
[ -f "$crate/Cargo.toml" ] || { log "no userspace tool yet"; exit 0; }
mkdir -p "$CACHE/tool"
(cd "$crate" && RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$CACHE/cargo-target-tool" \
	cargo build --quiet --release --target x86_64-unknown-linux-gnu) ||
	die "building tools/mlu270-smi failed"
cp -u "$CACHE/cargo-target-tool/x86_64-unknown-linux-gnu/release/mlu270-smi" "$CACHE/tool/mlu270-smi"
log "tool: $CACHE/tool/mlu270-smi"
