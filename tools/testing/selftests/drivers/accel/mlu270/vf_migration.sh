#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 900
# The PF driver's migration service through MLU270_IOCTL_VF_MIG (and
# mlu270-smi migrate): a VF's state and memory saved, the VF reset, the
# stream loaded back, the data there again; corrupt and mismatched streams
# refused with the documented errno and one log line naming both ends;
# pre-copy; a reset ending a migration; only CAP_SYS_ADMIN may do it.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
command -v mlu270-smi >/dev/null || { ktap_skip_all "mlu270-smi is not installed"; exit "$KSFT_SKIP"; }
pf=$(mlu270_pf_bound) || { ktap_print_msg "mlu270_pf does not bind"; exit "$KSFT_FAIL"; }
sys=/sys/bus/pci/devices/$pf
job=$DIR/mlu270_job
tmp=
restore() {
	echo 0 >"$sys/sriov_numvfs" 2>/dev/null
	rmmod mlu270_vf 2>/dev/null
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap restore EXIT
restore
tmp=$(mktemp -d)
mark start

ktap_set_plan 15

modprobe mlu270_vf
echo 2 >"$sys/sriov_numvfs"
vf0=$(mlu270_vf_of "$pf" 0)
vf1=$(mlu270_vf_of "$pf" 1)
attr() { mlu270_attr _attr "/sys/bus/pci/devices/$1/$2" && echo "$_attr"; }
pfnode=/dev/$(attr "$pf" job_node)
node_of() { echo "/dev/$(attr "$1" job_node)"; }
bound() { [ -e "/sys/bus/pci/devices/$1/driver" ] && [ -n "$(attr "$1" job_node)" ]; }
unbind() { echo "$1" >"/sys/bus/pci/devices/$1/driver/unbind"; }
bind() { echo "$1" >/sys/bus/pci/drivers/mlu270_vf/bind && wait_for "bound $1" 10; }
flr() { echo 1 >"/sys/bus/pci/devices/$1/reset"; }
state() { mlu270-smi migrate state "$pf" "$1"; }

# A megabyte of pattern and a marked page far into VF 0's half of the card.
data() {
	wait_for "bound $vf0" 10 || return 1
	n=$(node_of "$vf0")
	"$job" "$n" fill 0 0x5a 1048576 && "$job" "$n" fill 0x3000000 0xa7 4096 &&
		crc_a=$("$job" "$n" crc 0 1048576) && crc_b=$("$job" "$n" crc 0x3000000 4096) &&
		crc_z=$("$job" "$n" crc 0x100000 4096)
}
mlu270_check "VF 0 holds data" data

# The tenant's driver lets go (as vfio-pci would keep it, quiescent).
saved() {
	unbind "$vf0" || return 1
	out=$(mlu270-smi --json migrate save "$pf" 0 "$tmp/vf0.mig") || return 1
	echo "# $out"
	size=$(stat -c %s "$tmp/vf0.mig")
	[ "$size" -gt 1048576 ] && [ "$(state 0)" = stop ]
}
mlu270_check "migrate save writes VF 0's state and memory and leaves it paused" saved

# An FLR (vfio-pci does one between VMs) ends the migration and wipes it.
reset_ends() { flr "$vf0" && [ "$(state 0)" = running ]; }
mlu270_check "an FLR ends VF 0's migration" reset_ends

corrupt() {
	cp "$tmp/vf0.mig" "$tmp/bad.mig" &&
		printf '\377' | dd of="$tmp/bad.mig" bs=1 seek=70000 conv=notrunc 2>/dev/null || return 1
	mark corrupt
	err=$(mlu270-smi migrate load "$pf" 0 "$tmp/bad.mig" 2>&1) && return 1
	echo "# $err"
	mlu270_matches "$err" EINVAL && [ "$(state 0)" = error ] &&
		[ "$(log_count corrupt "$pf.*VF 0: migration stream from VF 0 .* refused at byte .*target VF 0")" = 1 ]
}
mlu270_check "a corrupt stream: EINVAL, VF 0 in error, one log line naming both ends" corrupt

mismatch() {
	unbind "$vf1" && flr "$vf1" || return 1
	mark mismatch
	err=$(mlu270-smi migrate load "$pf" 1 "$tmp/vf0.mig" 2>&1) && return 1
	echo "# $err"
	mlu270_matches "$err" EOPNOTSUPP &&
		[ "$(log_count mismatch "$pf.*VF 1: migration stream from VF 0 .*refused.*target VF 1")" = 1 ]
}
mlu270_check "VF 0's stream into VF 1: EOPNOTSUPP, one log line naming both ends" mismatch

# A VF that ran something since its reset is not fresh: a load never
# overwrites a tenant.
not_fresh() {
	flr "$vf1" && bind "$vf1" || return 1
	"$job" "$(node_of "$vf1")" fill 0 1 4096 && unbind "$vf1" || return 1
	err=$(mlu270-smi migrate load "$pf" 1 "$tmp/vf0.mig" 2>&1) && return 1
	echo "# $err"
	mlu270_matches "$err" EBUSY
}
mlu270_check "a load into a VF that is not fresh: EBUSY" not_fresh

# The reset made the PF forget VF 0's mailbox version; the stream brings
# it back (the guest's driver goes on without a new HELLO).
loads() {
	flr "$vf0" && [ "$(state 0)" = running ] || return 1
	wait_for '[ "$(mlu270_vfs_col "$pf" 0 version)" = 0 ]' 5 || return 1
	mlu270-smi migrate load "$pf" 0 "$tmp/vf0.mig" && [ "$(state 0)" = running ] &&
		[ "$(mlu270_vfs_col "$pf" 0 version)" = 2 ]
}
mlu270_check "after a reset the intact stream loads into VF 0, runs it, with its protocol version" loads

back() {
	bind "$vf0" || return 1
	n=$(node_of "$vf0")
	[ "$("$job" "$n" crc 0 1048576)" = "$crc_a" ] &&
		[ "$("$job" "$n" crc 0x3000000 4096)" = "$crc_b" ] &&
		[ "$("$job" "$n" crc 0x100000 4096)" = "$crc_z" ]
}
mlu270_check "VF 0's data is back, and nothing else is" back

# Pre-copy: the memory goes while the VF runs, the stop-copy phase only
# carries what changed after the last round (nothing here).
precopy() {
	unbind "$vf0" || return 1
	out=$(mlu270-smi --json migrate save --precopy "$pf" 0 "$tmp/pre.mig") || return 1
	echo "# $out"
	rounds=$(echo "$out" | sed -n 's/.*"rounds": \([0-9]*\).*/\1/p')
	stop=$(echo "$out" | sed -n 's/.*"stop_copy_bytes": \([0-9]*\).*/\1/p')
	[ "${rounds:-0}" -ge 1 ] && [ "${stop:-999999999}" -lt 65536 ] || return 1
	flr "$vf0" && mlu270-smi migrate load "$pf" 0 "$tmp/pre.mig" && bind "$vf0" &&
		[ "$("$job" "$(node_of "$vf0")" crc 0 1048576)" = "$crc_a" ]
}
mlu270_check "save --precopy: rounds while running, a small stop-copy, the data loads" precopy

# The card logs the host pages the VF's DMA wrote; a report clears them;
# the log survives an FLR of the VF (the guest resetting its device must
# not make QEMU miss pages).
dma_log() {
	out=$("$job" "$pfnode" vfmig-log 0 "$(node_of "$vf0")" "$vf0") || return 1
	echo "# $out"
	case "$out" in
	"after_flr="*" idle=0 after="*" again=0 stop=0 stop2=EINVAL") ;;
	*) return 1 ;;
	esac
	after=${out#*" after="}
	flr_bits=${out#after_flr=}
	[ "${after%% *}" -ge 1 ] && [ "${flr_bits%% *}" -ge 1 ]
}
mlu270_check "DMA logging: a READ's writes are logged, a report clears them, an FLR keeps it" dma_log

# VFIO's arcs: one it does not define leaves the state as it was; an
# incomplete stream is refused at the commit (the VF then needs a reset).
arcs() {
	flr "$vf1" || return 1
	out=$("$job" "$pfnode" vfmig-arcs 1)
	echo "# $out"
	flr "$vf1"
	[ "$out" = "undefined=EINVAL state=4 commit=EINVAL after=0" ] && [ "$(state 1)" = running ]
}
mlu270_check "an arc VFIO does not define: EINVAL, state unchanged; an empty stream refused" arcs

# Figure (guest clock, TCG): save and load of a VF with 64 MiB of data;
# it moves with the driver's chunking, copies and waits.
now_ms() { read -r up _ </proc/uptime; echo "${up%.*}${up#*.}0"; }
timed() {
	n=$(node_of "$vf0")
	for off in 0 0x1000000 0x2000000 0x3000000; do
		"$job" "$n" fill "$off" 0x3c 16777216 || return 1
	done
	crc=$("$job" "$n" crc 0x3000000 16777216) && unbind "$vf0" || return 1
	t0=$(now_ms)
	mlu270-smi migrate save "$pf" 0 "$tmp/big.mig" >/dev/null || return 1
	t1=$(now_ms)
	flr "$vf0" && mlu270-smi migrate load "$pf" 0 "$tmp/big.mig" >/dev/null || return 1
	t2=$(now_ms)
	echo "# figure: 64 MiB of VF data: save $((t1 - t0)) ms, load $((t2 - t1)) ms ($(stat -c %s "$tmp/big.mig") bytes; guest clock)"
	bind "$vf0" && [ "$("$job" "$(node_of "$vf0")" crc 0x3000000 16777216)" = "$crc" ]
}
mlu270_check "64 MiB saved and loaded back (figure)" timed

# The opener's CAP_SYS_ADMIN counts: root without it gets EPERM, a node
# root opened before dropping it still works.
admin_only() {
	out=$("$job" "$pfnode" vfmig-nocap 0)
	echo "# $out"
	[ "$out" = "own=EPERM passed=0" ]
}
mlu270_check "only an opener with CAP_SYS_ADMIN may migrate (EPERM otherwise)" admin_only

vf_node() {
	err=$(mlu270-smi migrate state "$vf0" 0 2>&1) && return 1
	echo "# $err"
	mlu270_matches "$err" ENOTTY
}
mlu270_check "a VF's own node has no migration ioctl (ENOTTY)" vf_node

mlu270_check "no warning in the kernel log" clean_log

ktap_finished
