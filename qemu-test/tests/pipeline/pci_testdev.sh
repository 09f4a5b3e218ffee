#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel's Rust sample PCI driver binds QEMU's pci-testdev: proves that
# Rust modules built by the pipeline load, probe real hardware and unload.
. "$KTAP_HELPERS"

drv=/sys/bus/pci/drivers/rust_driver_pci

testdev=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1b36 ] && [ "$(cat "$d/device")" = 0x0005 ]; then
		testdev=$(basename "$d")
	fi
done

sample_drove_bar() { dmesg | grep -q "pci-testdev data-match count"; }

ktap_print_header
if [ -z "$testdev" ]; then
	ktap_skip_all "no pci-testdev in this guest"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 4

ktap_test_result "modprobe rust_driver_pci" modprobe rust_driver_pci
ktap_test_result "rust_driver_pci bound $testdev" [ -e "$drv/$testdev" ]
ktap_test_result "the sample drove the device's BAR (dmesg)" sample_drove_bar
rmmod rust_driver_pci
ktap_test_result "rmmod unbinds $testdev" [ ! -e "/sys/bus/pci/devices/$testdev/driver" ]

ktap_finished
