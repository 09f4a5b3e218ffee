# SPDX-License-Identifier: GPL-2.0
# Helpers shared by the MLU270 selftests. Sourced, never run.

# The first MLU270 PF (cabc:0270) in the system, as a PCI address, or "".
mlu270_find_pf() {
	local d
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = 0xcabc ] && [ "$(cat "$d/device")" = 0x0270 ]; then
			basename "$d"
			return 0
		fi
	done
	return 1
}

# The driver bound to PCI device $1, or "".
mlu270_driver_of() {
	[ -e "/sys/bus/pci/devices/$1/driver" ] &&
		basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
}

# Count the functions with device ID $1 (e.g. 0x0271).
mlu270_count_devices() {
	local d n=0
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0xcabc ] && [ "$(cat "$d/device")" = "$1" ] && n=$((n + 1))
	done
	echo "$n"
}

# Write $2 to sysfs file $1 and print the shell's error message, if any;
# returns the write's status.
mlu270_write() {
	local err
	err=$( (echo "$2" >"$1") 2>&1)
	local rc=$?
	[ -n "$err" ] && echo "$err"
	return $rc
}

# True if text $1 contains pattern $2 (case-insensitive).
mlu270_matches() {
	echo "$1" | grep -qi -- "$2"
}
