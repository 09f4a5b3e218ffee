#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The PF's mailbox service, driven from a VF's registers directly (as an
# untrusted guest would, with no VF driver): handshake, resources, and
# malformed input answered with errors, counted, logged within a budget.
# See Documentation/accel/mlu270/mailbox.rst for the message encoding.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -c /dev/mem ] || { ktap_skip_all "no /dev/mem"; exit "$KSFT_SKIP"; }
pf=$(mlu270_pf_bound) || { ktap_print_msg "mlu270_pf does not bind"; exit "$KSFT_FAIL"; }
sys=/sys/bus/pci/devices/$pf
trap 'echo 0 >"$sys/sriov_numvfs" 2>/dev/null; echo 1 >"$sys/sriov_drivers_autoprobe"' EXIT
echo 0 >"$sys/sriov_numvfs"
# This test plays the VFs itself through their registers: no VF driver may
# bind them (the guest loads drivers by modalias, as a host does).
echo 0 >"$sys/sriov_drivers_autoprobe"
echo 4 >"$sys/sriov_numvfs"

ktap_set_plan 14
mark start

status() { echo $((REPLY1 >> 16)); }

vf0=$(mlu270_vf_of "$pf" 0)
vf1=$(mlu270_vf_of "$pf" 1)
mlu270_enable_mem "$vf0"
mlu270_enable_mem "$vf1"
b0=$(mlu270_bar0 "$vf0")
b1=$(mlu270_bar0 "$vf1")

mlu270_check "VF 0's registers are reachable (MAGIC)" [ "$(mlu270_rd "$b0" 0)" = 0x4d4c5532 ]

# HELLO, seq 7, offering v1..v2: the PF picks v2.
hello_v2() { mlu270_send "$b0" 0x00040001 7 0x00020001 && [ $((REPLY0 & 0xffff)) = $((0x0101)) ] &&
	[ $((REPLY1 & 0xffff)) = 7 ] && [ "$(status)" = 0 ] && [ $((REPLY2)) = 2 ]; }
mlu270_check "HELLO v1..v2 is answered with v2" hello_v2

# GET_RESOURCES: VF 0 of a 4-way split owns IPU cluster 0, VPU 0, JPU 0.
resources() { mlu270_send "$b0" 0x00000002 8 && [ "$(status)" = 0 ] && [ $((REPLY2)) = $((0xf)) ] &&
	[ $((REPLY3)) = 1 ]; }
mlu270_check "GET_RESOURCES gives VF 0 a quarter (IPU 0xf, VPU 0x1)" resources

# Before HELLO, VF 1 may not ask for resources (EPROTO = 71).
early() { mlu270_send "$b1" 0x00000002 1 && [ "$(status)" = 71 ]; }
mlu270_check "GET_RESOURCES before HELLO fails with EPROTO" early

unknown() { mlu270_send "$b0" 0x0000007f 9 && [ "$(status)" = 95 ] && [ $((REPLY1 & 0xffff)) = 9 ]; }
mlu270_check "an unknown opcode gets EOPNOTSUPP, same seq" unknown

reserved() { mlu270_send "$b0" 0xff000004 10 && [ "$(status)" = 22 ]; }
mlu270_check "reserved header bits get EINVAL" reserved

badlen() { mlu270_send "$b0" 0x00080004 11 1 2 && [ "$(status)" = 90 ]; }
mlu270_check "a wrong payload length gets EMSGSIZE" badlen

# The first rejection is logged; the rest come out of the VF's log budget
# (5 lines at once, then one per 5 s): fewer lines than rejections here.
logged_within_budget() {
	local n
	n=$(log_count start "mlu270_pf $pf: VF 0: rejected message")
	ktap_print_msg "$n log lines for VF 0's rejections"
	[ "$n" -ge 1 ] && [ "$n" -le 5 ]
}
mlu270_check "rejections of one VF are logged within its log budget" logged_within_budget

heartbeat() { mlu270_send "$b0" 0x00000004 12 && [ "$(status)" = 0 ] && [ $((REPLY3)) -ge 3 ]; }
mlu270_check "HEARTBEAT reports VF 0's rejected messages" heartbeat

hello_vf1() { mlu270_send "$b1" 0x00040001 1 0x00010001 && [ "$(status)" = 0 ] && [ $((REPLY2)) = 1 ]; }
mlu270_check "VF 1 still negotiates (v1 only)" hello_vf1

# debugfs has the PF's per-VF view: "vf quarters ipu vpu jpu mem_mb version
# accepted rejected ..." (see Documentation/accel/mlu270/pf-driver.rst).
state=/sys/kernel/debug/mlu270_pf-$pf/vfs
vf_field() { awk -v vf="$1" -v col="$2" '$1 == vf && NF > 10 { print $col }' "$state"; }
counters() { [ "$(vf_field 0 7)" = 2 ] && [ "$(vf_field 0 9)" -ge 3 ] && [ "$(vf_field 1 7)" = 1 ]; }
mlu270_check "debugfs shows versions and VF 0's rejected messages" counters
slices() { [ "$(vf_field 2 3)" = 0x0f00 ] && [ "$(vf_field 3 2)" = 1 ]; }
mlu270_check "debugfs shows the 4-way slices" slices

# An FLR of VF 0 (as vfio-pci or a guest would do) starts its session over;
# VF 1 keeps its own.
flr_resets_session() {
	echo 1 >"/sys/bus/pci/devices/$vf0/reset" || return 1
	wait_for '[ "$(vf_field 0 7)" = 0 ] && [ "$(vf_field 0 12)" = 1 ]' 5 && [ "$(vf_field 1 7)" = 1 ]
}
mlu270_check "an FLR of VF 0 resets its session only" flr_resets_session
mlu270_enable_mem "$vf0"
after_flr() { mlu270_send "$b0" 0x00000002 13 && [ "$(status)" = 71 ] && hello_v2; }
mlu270_check "after the FLR VF 0 must say HELLO again" after_flr

ktap_finished
