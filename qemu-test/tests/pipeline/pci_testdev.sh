#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel's Rust sample PCI driver binds QEMU's pci-testdev: proves that
# Rust modules built by the pipeline load, probe real hardware and unload.
. "$KTAP_HELPERS"
# The kernel log by record number (see the MLU270 selftests' mlu270_lib.sh).
KMSG=/selftests/drivers/accel/mlu270/mlu270_kmsg

check() {
	local desc=$1
	shift
	if [ $# -gt 0 ] && "$@"; then ktap_test_pass "$desc"; else ktap_test_fail "$desc"; fi
}

drv=/sys/bus/pci/drivers/rust_driver_pci

testdev=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1b36 ] && [ "$(cat "$d/device")" = 0x0005 ]; then
		testdev=$(basename "$d")
	fi
done

# The sample logs this at probe: look only after our own modprobe.
sample_drove_bar() { "$KMSG" since "$since" | grep -q "pci-testdev data-match count"; }

ktap_print_header
if [ -z "$testdev" ]; then
	ktap_skip_all "no pci-testdev in this guest"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 4

# Loaded at boot by its modalias: start from an unloaded module.
rmmod rust_driver_pci 2>/dev/null
since=$("$KMSG" mark "pci_testdev: start") || ktap_exit_fail_msg "cannot mark the kernel log"
check "modprobe rust_driver_pci" modprobe rust_driver_pci
check "rust_driver_pci bound $testdev" [ -e "$drv/$testdev" ]
check "the sample drove the device's BAR (dmesg)" sample_drove_bar
rmmod rust_driver_pci
check "rmmod unbinds $testdev" [ ! -e "/sys/bus/pci/devices/$testdev/driver" ]

ktap_finished
