#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the userspace tool as a static binary for the guest image (glibc's
# static libc: the guest has no shared libraries for it).
source "$(dirname "$0")/common.sh"

# The selftests' C helper (kselftest TEST_GEN_PROGS), against our UAPI header.
selftest=$TOP/tools/testing/selftests/drivers/accel/mlu270
mkdir -p "$CACHE/tool"
gcc -static -O2 -Wall -Wextra -Werror -I"$TOP/include/uapi" \
	-o "$CACHE/tool/mlu270_job.new" "$selftest/mlu270_job.c" ||
	die "building $selftest/mlu270_job.c failed"
mv -f "$CACHE/tool/mlu270_job.new" "$CACHE/tool/mlu270_job"

crate=$TOP/tools/mlu270-smi
[ -f "$crate/Cargo.toml" ] || { log "no userspace tool yet"; exit 0; }
mkdir -p "$CACHE/tool"
(cd "$crate" && RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$CACHE/cargo-target-tool" \
	cargo build --quiet --release --target x86_64-unknown-linux-gnu) ||
	die "building tools/mlu270-smi failed"
cp -u "$CACHE/cargo-target-tool/x86_64-unknown-linux-gnu/release/mlu270-smi" "$CACHE/tool/mlu270-smi"
log "tool: $CACHE/tool/mlu270-smi"
