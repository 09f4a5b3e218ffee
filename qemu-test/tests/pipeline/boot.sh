#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest booted the kernel we built, with the devices the runner asked for.
. "$KTAP_HELPERS"

# One KTAP result: the command runs with its arguments as given (the
# kernel's check runs $@ unquoted, so `[ -n "" ]` would pass).
check() {
	local desc=$1
	shift
	if [ $# -gt 0 ] && "$@"; then ktap_test_pass "$desc"; else ktap_test_fail "$desc"; fi
}

ktap_print_header
ktap_set_plan 4

check "64-bit kernel ($(uname -r))" [ "$(uname -m)" = x86_64 ]

ncpu=$(grep -c ^processor /proc/cpuinfo)
check "SMP kernel sees 2 CPUs (saw $ncpu)" [ "$ncpu" -eq 2 ]

# has_dev VENDOR DEVICE: one function has both IDs.
has_dev() {
	local d
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ] && return 0
	done
	return 1
}
check "QEMU pci-testdev is on the bus" has_dev 0x1b36 0x0005
check "the emulated MLU270 PF is on the bus" has_dev 0xcabc 0x0270

ktap_finished
