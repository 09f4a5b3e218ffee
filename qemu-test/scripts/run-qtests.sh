#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run the MLU270 device-model qtests against the QEMU that build-qemu.sh
# built last in $MLU270_CACHE. Prints TAP on stdout ("ok N name",
# "ok N name # SKIP reason" for a case that called g_test_skip, or
# "not ok N name", then the plan "1..N") and exits non-zero on any failure.
# A skip is reported as one (ktap.py tap-count counts it as skipped, and
# `make check` fails on it unless qemu-test/config/expected-skips lists it
# as host/qtest/<case>); a `not ok` (g_test_incomplete's "# TODO" too) is a
# failure.
#
# Each test case runs in its own process (a failed g_assert aborts the
# whole binary, which would hide the cases after it), plus one case that
# checks Documentation/accel/mlu270/hardware.rst against mlu270_regs.h.
#
#   MLU270_CACHE=... bash qemu-test/scripts/run-qtests.sh [-v]
source "$(dirname "$0")/common.sh"

verbose=0
[ "${1:-}" = "-v" ] && verbose=1

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

# The +ds QEMU source has no firmware blobs: use Debian's seabios. The
# test adds MLU270_QEMU_EXTRA_ARGS to every QEMU command line (extra words
# in QTEST_QEMU_BINARY would confuse libqtest's architecture detection).
[ -f /usr/share/seabios/bios-256k.bin ] ||
	die "no /usr/share/seabios/bios-256k.bin: install the seabios package"
export MLU270_QEMU_EXTRA_ARGS=${MLU270_QEMU_EXTRA_ARGS:-"-L /usr/share/seabios"}
export QTEST_QEMU_BINARY=$qemu

mapfile -t cases < <(cd "$build" && "$test_bin" -l | grep '^/')
[ ${#cases[@]} -gt 0 ] || die "the qtest binary lists no test cases"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
n=0 failed=0
for c in "${cases[@]}"; do
	n=$((n + 1))
	if (cd "$build" && timeout 300 "$test_bin" --tap -p "$c") >"$log" 2>&1 &&
		grep -q '^ok ' "$log" && ! grep -q '^not ok ' "$log"; then
		if grep -qE '^ok [0-9]+ .* # SKIP( |$)' "$log"; then
			# g_test_skip: "ok 1 /path # SKIP reason"
			reason=$(sed -n 's/^ok [0-9][0-9]* .* # SKIP *//p' "$log" | head -1)
			echo "ok $n $c # SKIP${reason:+ $reason}"
		else
			echo "ok $n $c"
		fi
		[ $verbose -eq 1 ] && sed 's/^/# /' "$log"
	else
		failed=$((failed + 1))
		grep -vE '^(ok|not ok|1\.\.)' "$log" | grep -v '^# starting QEMU' |
			tail -20 | sed 's/^/# /'
		echo "not ok $n $c"
	fi
done

n=$((n + 1))
if "$PYTHON" "$TOP/qemu-test/mlu270/check_spec.py" >"$log" 2>&1; then
	echo "ok $n /mlu270/spec-matches-header"
else
	failed=$((failed + 1))
	sed 's/^/# /' "$log"
	echo "not ok $n /mlu270/spec-matches-header"
fi
echo "1..$n"
[ $failed -eq 0 ]
