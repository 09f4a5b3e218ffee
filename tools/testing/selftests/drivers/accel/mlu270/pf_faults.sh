#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Device faults of a VF reach the PF, which records them (debugfs,
# QUERY_FAULT) and resets a VF that keeps faulting; the other VFs notice
# nothing. The faults are caused from userspace through the VF's registers
# (a queue pointing at memory that does not exist), as a hostile guest would.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"

Q_BASE_LO=0x100 Q_BASE_HI=0x104 Q_SIZE=0x108 Q_TAIL=0x110 Q_CTRL=0x114
CQ_BASE_LO=0x120 CQ_BASE_HI=0x124 Q_STATUS=0x118
FAULTS_BEFORE_RESET=8

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -c /dev/mem ] || { ktap_skip_all "no /dev/mem"; exit "$KSFT_SKIP"; }
pf=$(mlu270_pf_bound) || { ktap_print_msg "mlu270_pf does not bind"; exit "$KSFT_FAIL"; }
sys=/sys/bus/pci/devices/$pf
state=/sys/kernel/debug/mlu270_pf-$pf/vfs
trap 'echo 0 >"$sys/sriov_numvfs" 2>/dev/null; echo 1 >"$sys/sriov_drivers_autoprobe"; echo $FAULTS_BEFORE_RESET >"$sys/fault_reset_after"' EXIT
echo 0 >"$sys/sriov_numvfs"
# This test plays the VFs itself through their registers: no VF driver may
# bind them (the guest loads drivers by modalias, as a host does).
echo 0 >"$sys/sriov_drivers_autoprobe"
echo 2 >"$sys/sriov_numvfs"

ktap_set_plan 9
mark start

vf0=$(mlu270_vf_of "$pf" 0)
vf1=$(mlu270_vf_of "$pf" 1)
mlu270_enable_mem "$vf0"
mlu270_enable_mem "$vf1"
b0=$(mlu270_bar0 "$vf0")
b1=$(mlu270_bar0 "$vf1")
vf_field() { awk -v vf="$1" -v col="$2" '$1 == vf && NF > 10 { print $col }' "$state"; }


# One fault: a two-slot queue at 64 GiB, where nothing is mapped; ringing
# the doorbell makes the device fetch a descriptor from there (DMA_ERROR).
# The fault was handled: the device stopped the queue (STOPPED), or the
# PF's reset already cleared it (not ENABLED).
queue_faulted() {
	local st
	st=$(mlu270_rd "$1" $Q_STATUS) || return 1
	[ $((st & 4)) = 4 ] || [ $((st & 1)) = 0 ]
}
fault_once() {
	# (in this order, in one process)
	"$MLU270_MMIO" $(($1)) $((Q_CTRL))=0 $((Q_BASE_LO))=0 $((Q_BASE_HI))=0x10 \
		$((CQ_BASE_LO))=0x1000 $((CQ_BASE_HI))=0x10 $((Q_SIZE))=2 $((Q_CTRL))=1 \
		$((Q_TAIL))=1 || return 1
	wait_for "queue_faulted $1" 5 || {
		echo "# the queue of $1 neither stopped nor was reset"
		return 1
	}
}

mlu270_send "$b1" 0x00040001 1 0x00020001
mlu270_send "$b0" 0x00040001 1 0x00020001
fault_once "$b0"

one_fault() { [ "$(vf_field 0 13)" = 1 ] && [ "$(vf_field 1 13)" = 0 ]; }
mlu270_check "a fault of VF 0 is counted for VF 0 only" wait_for one_fault 5
logged() { log_since start | grep -q "mlu270_pf $pf: VF 0 faulted (status 5"; }
mlu270_check "and logged with its status (DMA_ERROR)" logged
stopped() { [ $(($(mlu270_rd "$b0" $Q_STATUS) & 4)) = 4 ]; }
mlu270_check "the faulting queue is stopped" stopped

# QUERY_FAULT (v2): valid, status 5, the offending host address.
query() { mlu270_send "$b0" 0x00000010 2 && [ $((REPLY1 >> 16)) = 0 ] && [ $((REPLY2)) = 1 ] &&
	[ $((REPLY3)) = 5 ]; }
mlu270_check "QUERY_FAULT tells VF 0 about its own fault" query

i=1 faults_made=1
while [ $i -lt $FAULTS_BEFORE_RESET ]; do
	fault_once "$b0" && faults_made=$((faults_made + 1))
	i=$((i + 1))
done
reset_done() {
	[ "$faults_made" = "$FAULTS_BEFORE_RESET" ] && [ "$(vf_field 0 12)" = 1 ] &&
		[ "$(vf_field 0 7)" = 0 ]
}
mlu270_check "after $FAULTS_BEFORE_RESET faults the PF resets VF 0" wait_for reset_done 5
reset_logged() { log_since start | grep -q "mlu270_pf $pf: VF 0: $FAULTS_BEFORE_RESET faults since its last reset: resetting it"; }
mlu270_check "and says so in dmesg" reset_logged
vf1_untouched() { [ "$(vf_field 1 12)" = 0 ] && [ "$(vf_field 1 7)" = 2 ] &&
	mlu270_send "$b1" 0x00000004 3 && [ $((REPLY1 >> 16)) = 0 ]; }
mlu270_check "VF 1 keeps its session and is served" vf1_untouched

# The administrator turns the policy off (fault_reset_after = 0): VF 1's
# faults are still counted, and it is not reset.
policy_off() {
	local i=0 n=$((FAULTS_BEFORE_RESET + 2))
	[ "$(cat "$sys/fault_reset_after")" = $FAULTS_BEFORE_RESET ] &&
		echo 0 >"$sys/fault_reset_after" || return 1
	while [ $i -lt $n ]; do
		fault_once "$b1" || return 1
		i=$((i + 1))
	done
	sleep 0.5
	echo "# VF 1 after $n faults: $(vf_field 1 13) faults, $(vf_field 1 12) policy resets"
	[ "$(vf_field 1 13)" = $n ] && [ "$(vf_field 1 12)" = 0 ]
}
mlu270_check "with fault_reset_after = 0, $((FAULTS_BEFORE_RESET + 2)) faults of VF 1 reset nothing" policy_off
bad_limit() {
	! echo 100001 >"$sys/fault_reset_after" 2>/dev/null &&
		[ "$(cat "$sys/fault_reset_after")" = 0 ] &&
		echo $FAULTS_BEFORE_RESET >"$sys/fault_reset_after"
}
mlu270_check "fault_reset_after refuses 100001 (EINVAL) and takes the default back" bad_limit

ktap_finished
