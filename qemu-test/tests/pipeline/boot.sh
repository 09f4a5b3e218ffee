#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest booted the kernel we built, with the devices the runner asked for.
. "$KTAP_HELPERS"

ktap_print_header
ktap_set_plan 4

ktap_test_result "64-bit kernel ($(uname -r))" [ "$(uname -m)" = x86_64 ]

ncpu=$(grep -c ^processor /proc/cpuinfo)
ktap_test_result "SMP kernel sees 2 CPUs (saw $ncpu)" [ "$ncpu" -eq 2 ]

has_dev() { grep -qx "$1" /sys/bus/pci/devices/*/vendor 2>/dev/null && grep -qx "$2" /sys/bus/pci/devices/*/device; }
ktap_test_result "QEMU pci-testdev is on the bus" has_dev 0x1b36 0x0005
ktap_test_result "the emulated MLU270 PF is on the bus" has_dev 0xcabc 0x0270

ktap_finished
