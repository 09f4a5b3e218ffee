#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the shared MLU270 driver files the way a kernel module includes
# them (private `#[path]` modules of a no_std rlib, the kernel's rustc and
# clippy lints, -Cpanic=abort, overflow checks on) and checks that
#  1. the kernel lints are silent, and
#  2. at -O2 and -Os (the kernel's optimisation levels) the object code
#     references no core::panicking function, i.e. no panic path survives.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
common=$(cd "$here/../../drivers/accel/mlu270/common" && pwd)
pf=$(cd "$here/../../drivers/accel/mlu270/pf" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/drv.rs" <<EOR
//! Stand-in for a driver crate root.
#![no_std]
#[path = "$common/layout.rs"]
mod layout;
#[path = "$common/protocol.rs"]
mod protocol;
#[path = "$pf/mig_blob.rs"]
mod mig_blob;

/// Instantiates the generic stream parser as the PF driver will, so that
/// its code is built (and checked for panic paths) too.
pub fn check_stream(mem_size_mb: u32, seen: &mut [u64], chunks: &[&[u8]]) -> i32 {
    let mut slice = layout::Slice::EMPTY;
    slice.mem_size_mb = mem_size_mb;
    let target = mig_blob::Target::new(0, slice, layout::CardCaps::mlu270(256), 1);
    let Ok(mut p) = mig_blob::StreamParser::new(target, seen) else {
        return -1;
    };
    for c in chunks {
        if let Err(e) = p.feed(c) {
            return -e.errno();
        }
    }
    match p.finish() {
        Ok(()) => 0,
        Err(e) => -e.errno(),
    }
}
EOR
sed 's/^mod /pub mod /' "$tmp/drv.rs" >"$tmp/drvpub.rs"

flags=(--edition=2021 --crate-type rlib -Cpanic=abort -Coverflow-checks=y
       -Dnon_ascii_idents -Dunsafe_op_in_unsafe_fn -Wmissing_docs
       -Wrust_2018_idioms -Wunreachable_pub)
clippy=(-Wclippy::all -Wclippy::as_underscore -Wclippy::cast_lossless
        -Wclippy::ignored_unit_patterns -Wclippy::mut_mut
        -Wclippy::needless_bitwise_bool -Wclippy::float_arithmetic
        -Aclippy::uninlined_format_args -Dwarnings)

clippy-driver "${flags[@]}" "${clippy[@]}" "$tmp/drv.rs" -o "$tmp/drv.rlib"
echo "ok: kernel lints"

rc=0
for opt in 2 s; do
	rustc "${flags[@]}" -Copt-level=$opt --emit=obj -o "$tmp/o$opt.o" "$tmp/drvpub.rs"
	if nm -C "$tmp/o$opt.o" | grep ' U core::panicking'; then
		echo "FAIL: panic path at -Copt-level=$opt"
		rc=1
	else
		echo "ok: no panic path at -Copt-level=$opt"
	fi
done
exit $rc
