#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The runner's self-tests: boot once per deliberately broken test and check
# that the run fails, for the reason it should.
source "$(dirname "$0")/common.sh"

# name | runner timeout (s) | text the runner must print
cases=(
	"runner-selftest/failing_result|600|runner-selftest/failing_result/a failing test: not ok"
	"runner-selftest/missing_plan|600|runner-selftest/missing_plan: no test plan"
	"runner-selftest/guest_hang|${HANG_TIMEOUT:-150}|guest: timed out after"
	"runner-selftest/kernel_warn|600|kernel splat:"
)
pass=0 fail=0
for c in "${cases[@]}"; do
	IFS='|' read -r name timeout expect <<<"$c"
	log "runner self-test: $name (must fail)"
	out=$("$PYTHON" "$TOP/qemu-test/scripts/runner.py" \
		--qemu "$(qemu_binary_current)" \
		--kernel "$(kernel_build_dir test)/arch/x86/boot/bzImage" \
		--initrd "$TOP/.build/initramfs-runner.cpio.gz" \
		--mkinitramfs "$TOP/qemu-test/scripts/mkinitramfs.sh" \
		--config test --logdir "$TOP/.build/logs/runner-selftest" \
		--runner-selftests --no-kunit --tests "^$name\$" --timeout "$timeout" 2>&1) && rc=0 || rc=$?
	echo "$out" | sed 's/^/    /'
	if [ $rc -ne 0 ] && grep -qF -- "$expect" <<<"$out"; then
		echo "ok - $name failed the run as it should (exit $rc)"
		pass=$((pass + 1))
	else
		echo "not ok - $name: runner exit $rc, expected failure with \"$expect\""
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed, 0 skipped"
[ $fail = 0 ]
