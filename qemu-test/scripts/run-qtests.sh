#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run the MLU270 device-model qtests against the QEMU that build-qemu.sh
# built (same cache, same build-directory key). Prints TAP on stdout
# ("1..N", "ok N name" / "not ok N name") and exits non-zero on any failure.
# Also checks hardware.rst against mlu270_regs.h first (one more TAP line).
#
#   MLU270_CACHE=... bash qemu-test/scripts/run-qtests.sh [gtest args]
source "$(dirname "$0")/common.sh"

# build-qemu.sh points qemu-current at the build directory it used last.
dir=$(readlink -f "$CACHE/qemu-current" 2>/dev/null) || true
[ -n "$dir" ] || die "no $CACHE/qemu-current: run qemu-test/scripts/build-qemu.sh"
build=$dir/build
qemu=$build/qemu-system-x86_64
test_bin=$build/tests/qtest/mlu270/mlu270-test
[ -x "$qemu" ] && [ -x "$test_bin" ] ||
	die "no QEMU or qtest binary in $build: run qemu-test/scripts/build-qemu.sh"
[ "$(cat "$dir/.mlu270-model-hash" 2>/dev/null)" = "$(hash_inputs "$TOP/qemu-test/mlu270")" ] ||
	die "the build in $dir is older than qemu-test/mlu270: rerun build-qemu.sh"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The qtest's own TAP (a plan and one line per test case); its stderr
# (QEMU's and glib's diagnostics) goes to our stderr.
rc=0
# The +ds QEMU source has no firmware blobs: use Debian's seabios. The
# test adds MLU270_QEMU_EXTRA_ARGS to every QEMU command line (extra words
# in QTEST_QEMU_BINARY would confuse libqtest's architecture detection).
[ -f /usr/share/seabios/bios-256k.bin ] ||
	die "no /usr/share/seabios/bios-256k.bin: install the seabios package"
export MLU270_QEMU_EXTRA_ARGS=${MLU270_QEMU_EXTRA_ARGS:-"-L /usr/share/seabios"}
(cd "$build" && QTEST_QEMU_BINARY="$qemu" \
	QTEST_QEMU_IMG= "$test_bin" --tap -k "$@") >"$out" || rc=$?

# Append the spec check as one more test and renumber the plan.
spec_ok=0
spec_msg=$("$PYTHON" "$TOP/qemu-test/mlu270/check_spec.py" 2>&1) || spec_ok=1
n=$(grep -cE '^(not )?ok ' "$out" || true)
grep -vE '^1\.\.[0-9]+' "$out"
n=$((n + 1))
if [ $spec_ok -eq 0 ]; then
	echo "ok $n /mlu270/spec-matches-header"
else
	printf '%s\n' "$spec_msg" | sed 's/^/# /'
	echo "not ok $n /mlu270/spec-matches-header"
fi
echo "1..$n"
if [ $rc -ne 0 ] || [ $spec_ok -ne 0 ] || grep -q '^not ok ' "$out"; then
	exit 1
fi
# A crashed test binary may print fewer results than planned.
planned=$(grep -oE '^1\.\.[0-9]+' "$out" | head -1 | cut -d. -f3)
[ -n "$planned" ] && [ "$planned" -eq $((n - 1)) ] || exit 1
