#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 900
# Device memory that leaves its owner is zero before anybody else can read
# it: each VF's tenant data after `echo 0 > sriov_numvfs` (the PF's native
# node covers the whole card again), the native users' data once VFs are
# enabled, a VF's data after the administrator resets it. The PF checks the
# card's scrub completion (PART_SCRUBS) and gives the native node back only
# then. Restores sriov_numvfs.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"
JOB=$DIR/mlu270_job

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -x "$JOB" ] || { ktap_skip_all "mlu270_job is not built"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
mlu270_keep_state "$pf"

ktap_set_plan 8
mark start

mlu270_require_pf
echo 0 >"$sys/sriov_numvfs"
echo 1/1 >"$sys/native_slice"
modprobe mlu270_vf
pfnode=/dev/$(cat "$sys/job_node")
mb=$((1 << 20))
win=$(($(cat "$sys/mem_mb") / 4 * mb))

vfnode() { echo "/dev/$(cat "/sys/bus/pci/devices/$(mlu270_vf_of "$pf" "$1")/job_node")"; }
# The CRC-32 of 1 MiB of zeroes, from the card itself.
"$JOB" "$pfnode" fill $((3 * mb)) 0 $mb
zero=$("$JOB" "$pfnode" crc $((3 * mb)) $mb)
# Every comparison below is with $zero: an empty one (a failed CRC) would
# make two failed CRCs look equal.
[ -n "$zero" ] || zero="no CRC of zeroes"

# Each of 4 tenants writes the first and the last MiB of its window.
echo 4 >"$sys/sriov_numvfs"
tenants_write() {
	local i=0 node
	while [ $i -lt 4 ]; do
		node=$(vfnode $i)
		"$JOB" "$node" fill 0 $((0xa5 + i)) $mb &&
			"$JOB" "$node" fill $((win - mb)) $((0x5a + i)) $mb &&
			[ "$("$JOB" "$node" crc 0 $mb)" != "$zero" ] || return 1
		i=$((i + 1))
	done
}
mlu270_check "4 tenants write the ends of their windows" tenants_write

echo 0 >"$sys/sriov_numvfs"
# A job, not INFO: the node answers INFO while it refuses jobs (EBUSY).
native_back() { "$JOB" "$pfnode" crc 0 4096 >/dev/null; }
mlu270_check "the native node is back after echo 0 (the card reported its scrubs)" native_back
# VF i's window is [i * win, (i + 1) * win) of the card.
tenants_gone() {
	local i=0 a b
	while [ $i -lt 4 ]; do
		a=$("$JOB" "$pfnode" crc $((i * win)) $mb)
		b=$("$JOB" "$pfnode" crc $(((i + 1) * win - mb)) $mb)
		[ "$a" = "$zero" ] && [ "$b" = "$zero" ] || {
			echo "# VF $i's data is readable through the native node ($a, $b)"
			return 1
		}
		i=$((i + 1))
	done
}
mlu270_check "no tenant's data is readable through the native node" tenants_gone

# The native user's data does not reach the VFs.
"$JOB" "$pfnode" fill 0 $((0x3c)) $mb
"$JOB" "$pfnode" fill $((4 * win - mb)) $((0x3d)) $mb
echo 4 >"$sys/sriov_numvfs"
native_gone() {
	[ "$("$JOB" "$(vfnode 0)" crc 0 $mb)" = "$zero" ] &&
		[ "$("$JOB" "$(vfnode 3)" crc $((win - mb)) $mb)" = "$zero" ]
}
mlu270_check "the native user's data is not readable by a VF" native_gone

# The administrator resets VF 1: its data is gone, VF 2's is not.
"$JOB" "$(vfnode 1)" fill 0 $((0x11)) $mb
"$JOB" "$(vfnode 2)" fill 0 $((0x22)) $mb
vf2_crc=$("$JOB" "$(vfnode 2)" crc 0 $mb)
vf1=$(mlu270_vf_of "$pf" 1)
echo 1 >"$sys/reset_vf"
vf1_ready() { [ "$(cat "/sys/bus/pci/devices/$vf1/state")" = ready ]; }
wait_for vf1_ready 10
reset_scrubs() {
	[ "$("$JOB" "$(vfnode 1)" crc 0 $mb)" = "$zero" ] &&
		[ "$("$JOB" "$(vfnode 2)" crc 0 $mb)" = "$vf2_crc" ]
}
mlu270_check "a reset VF's data is gone, its neighbour's is not" reset_scrubs

col() { mlu270_vfs_col "$pf" "$1" "$2"; }
scrubs_reported() { [ "$(col 1 scrubs_missing)" = 0 ] && [ "$(col 1 resets)" -ge 1 ]; }
mlu270_check "the card reported the scrub of VF 1's reset" scrubs_reported

mlu270_check "no warning in the kernel log" clean_log

ktap_finished
