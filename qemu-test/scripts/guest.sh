#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot the test guest for `make run` (the demo), `make shell` (a console) or
# just build its initramfs.
source "$(dirname "$0")/common.sh"

mode=${1:-run}
cfg=${KERNEL_CONFIG:-test}
runner=(
	"$PYTHON" "$TOP/qemu-test/scripts/runner.py"
	--qemu "$(qemu_binary_current)"
	--kernel "$(kernel_build_dir "$cfg")/arch/x86/boot/bzImage"
	--initrd "$TOP/.build/initramfs-$cfg.cpio.gz"
	--mkinitramfs "$TOP/qemu-test/scripts/mkinitramfs.sh"
	--config "$cfg" --logdir "$TOP/.build/logs/$mode" --no-kunit
)
case "$mode" in
initramfs) exec "${runner[@]}" --build-only ;;
run) exec "${runner[@]}" --tests '^$' --mode run --timeout "${RUNNER_TIMEOUT:-900}" ;;
bench) exec "${runner[@]}" --tests '^$' --mode bench --timeout "${RUNNER_TIMEOUT:-3600}" ;;
shell) exec "${runner[@]}" --tests '^$' --mode shell ;;
*) die "unknown mode $mode" ;;
esac
