#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 240
#
# Exercise the Rust PCI SR-IOV abstractions through samples/rust/rust_driver_sriov
# on the emulated MLU270 (PF 0xcabc:0x0270, VFs 0xcabc:0x0271, TotalVFs 4):
# sysfs sriov_numvfs, the kernel's argument checks, that unbinding the PF
# or unloading the module with VFs enabled never leaves VFs behind, and the
# driver's sysfs attributes (pci::Driver::ATTRIBUTE_GROUPS): reads, writes,
# invalid writes, and reads racing with unbind.
#
# The sample has no ID table: it binds only functions whose driver_override
# names it (it must never take the card away from mlu270_pf/mlu270_vf), so
# this test hands it the PF, and the VFs with sriov_drivers_autoprobe off.
#
# POSIX sh + busybox only. Exits 4 (KSFT_SKIP) when no card is present.

DIR=$(dirname "$0")
if [ -z "${KTAP_HELPERS:-}" ]; then
	for h in "$DIR/../../../kselftest/ktap_helpers.sh" /selftests/kselftest/ktap_helpers.sh; do
		[ -f "$h" ] && KTAP_HELPERS=$h && break
	done
fi
# shellcheck source=../../../kselftest/ktap_helpers.sh
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"

MOD=rust_driver_sriov
DRV=/sys/bus/pci/drivers/$MOD
PF_VENDOR=0xcabc
PF_DEVICE=0x0270
VF_DEVICE=0x0271
TOTALVFS=4
NTESTS=30


# is_fn DIR DEVICE: the PCI device at sysfs DIR is ours with ID DEVICE.
# (read, not cat: these loops run over every PCI device, and a process
# costs 40-70 ms under the debug kernel and TCG)
is_fn() {
	local vendor device
	read -r vendor 2>/dev/null <"$1/vendor" && read -r device 2>/dev/null <"$1/device" &&
		[ "$vendor" = $PF_VENDOR ] && [ "$device" = "$2" ]
}

find_pf() {
	for d in /sys/bus/pci/devices/*; do
		if is_fn "$d" $PF_DEVICE; then
			echo "${d##*/}"
			return 0
		fi
	done
	return 1
}

# Number of VF functions (0xcabc:0x0271) present on the PCI bus.
count_vfs() {
	n=0
	for d in /sys/bus/pci/devices/*; do
		is_fn "$d" $VF_DEVICE && n=$((n + 1))
	done
	echo "$n"
}

# set_numvfs N: write N to sriov_numvfs; returns the write's status and
# leaves the error message (if any) in $ERR.
set_numvfs() {
	ERR=$( (echo "$1" >"$PFDIR/sriov_numvfs") 2>&1)
}

# wait_vfs N: give the PCI core a moment (VF probe/removal is synchronous,
# but be tolerant of slow TCG guests).
wait_vfs() {
	i=0
	while [ "$(count_vfs)" != "$1" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(count_vfs)" = "$1" ]
}

# hand_over BDF: bind the function to the sample through driver_override.
hand_over() {
	echo $MOD >"/sys/bus/pci/devices/$1/driver_override" &&
		echo "$1" >"$DRV/bind" && [ -e "$DRV/$1" ]
}

# enable_vfs N: N VFs, each handed to the sample (autoprobe is off, so no
# other driver takes them first).
enable_vfs() {
	local v
	echo 0 >"$PFDIR/sriov_drivers_autoprobe" || return 1
	set_numvfs "$1" && wait_vfs "$1" || return 1
	for v in "$PFDIR"/virtfn*; do
		hand_over "$(basename "$(readlink "$v")")" || return 1
	done
}

vfs_logged() {
	log_since start | grep -q "VF 3 of PF $PF probed"
}

numvfs_is() {
	[ "$(cat "$PFDIR/sriov_numvfs" 2>/dev/null)" = "$1" ]
}

totalvfs_is() {
	[ "$(cat "$PFDIR/sriov_totalvfs" 2>/dev/null)" = "$1" ]
}

bind_pf() {
	hand_over "$PF" && numvfs_is 0
}

reload_and_bind() {
	modprobe $MOD || return 1
	[ -e "$DRV/$PF" ] || echo "$PF" >"$DRV/bind" 2>/dev/null
	[ -e "$DRV/$PF" ]
}

# Nothing but driver_override binds the sample: a PF without it stays with
# no driver when the sample's bind is asked for, and the sample's module has
# no alias that modprobe by modalias could load.
no_autobind() {
	local alias
	echo >"$PFDIR/driver_override"
	echo "$PF" >"$DRV/bind" 2>/dev/null && return 1
	alias=$(modinfo -F alias $MOD 2>/dev/null)
	[ ! -e "$DRV/$PF" ] && [ -z "$alias" ] && hand_over "$PF"
}

# reset_vf: FLR the last VF through sysfs; the sample logs its reset hooks.
reset_vf() {
	echo 1 >"$VFDIR/reset" || return 1
	log_since start | grep -q "$(basename "$VFDIR"): Vf reset_prepare" &&
		log_since start | grep -q "$(basename "$VFDIR"): Vf reset_done"
}

# remove_pf: hot-remove the PF (its removal path holds pci_rescan_remove_lock
# while the driver disables SR-IOV), then rescan; the PF must come back bound.
remove_pf() {
	echo 1 >"$PFDIR/remove" || return 1
	[ ! -e "$PFDIR" ] && wait_vfs 0
}

# (a new pci_dev: no driver_override, so a real driver may have taken it;
# the sample gets it back only when handed over again)
rescan_pf() {
	echo 1 >/sys/bus/pci/rescan || return 1
	[ -e "$PFDIR" ] && numvfs_is 0 || return 1
	[ -e "$PFDIR/driver" ] && ! [ -e "$DRV/$PF" ] && echo "$PF" >"$PFDIR/driver/unbind"
	hand_over "$PF"
}

# attr_is FILE VALUE: the attribute reads VALUE.
attr_is() {
	local v=
	IFS= read -r v 2>/dev/null <"$1"
	[ "$v" = "$2" ]
}

# write_attr FILE VALUE: write VALUE; leaves the error message (if any) in $ERR.
write_attr() {
	ERR=$( (echo "$2" >"$1") 2>&1)
}

write_and_read_back() {
	write_attr "$1" "$2" && attr_is "$1" "$2"
}

# expect_einval FILE VALUE: the write fails with EINVAL and the value stays.
expect_einval() {
	before=$(cat "$1")
	if write_attr "$1" "$2"; then
		ktap_print_msg "writing '$2' to $1 succeeded"
		return 1
	fi
	case "$ERR" in
	*"Invalid argument"*) attr_is "$1" "$before" ;;
	*)
		ktap_print_msg "error was: $ERR"
		return 1
		;;
	esac
}

vf_attrs() {
	for v in "$PFDIR"/virtfn*; do
		if ! attr_is "$v/function" vf || ! attr_is "$v/sample_value" 0; then
			return 1
		fi
	done
}

attrs_gone() {
	[ ! -e "$PFDIR/function" ] && [ ! -e "$PFDIR/sample_value" ]
}

# race_unbind: read and write the attributes in the background while the PF
# is unbound and bound again; the callbacks must never see a dropped device
# (KASAN, lockdep and the splat check below would catch it).
race_unbind() {
	(
		i=0
		while [ $i -lt 3000 ]; do
			cat "$PFDIR/sample_value" "$PFDIR/function" >/dev/null 2>&1
			echo $((i % 1000)) >"$PFDIR/sample_value" 2>/dev/null
			i=$((i + 1))
		done
	# A failed redirection is reported before "2>/dev/null" applies: keep
	# the racer's messages out of the KTAP stream, which they would split.
	) 2>/dev/null &
	racer=$!
	n=0
	while [ $n -lt 10 ]; do
		echo "$PF" >"$DRV/unbind" || break
		echo "$PF" >"$DRV/bind" || break
		n=$((n + 1))
	done
	kill $racer 2>/dev/null
	wait $racer 2>/dev/null
	[ $n = 10 ] && [ -e "$DRV/$PF" ]
}

no_splat() {
	log_has_no start 'WARNING:|BUG:|Oops|Call Trace|KASAN|kmemleak|circular locking|driver left SR-IOV enabled'
}

ktap_print_header

PF=$(find_pf)
if [ -z "$PF" ]; then
	ktap_skip_all "no MLU270 PF ($PF_VENDOR:$PF_DEVICE) in this system"
	exit "$KSFT_SKIP"
fi
PFDIR=/sys/bus/pci/devices/$PF

ktap_set_plan $NTESTS
mark start

# Another driver (e.g. the real PF driver) may own the card: hand it over,
# and give it back at the end.
old=
if [ -e "$PFDIR/driver" ]; then
	old=$(basename "$(readlink "$PFDIR/driver")")
	if [ "$old" != $MOD ]; then
		ktap_print_msg "unbinding $PF from $old"
		[ -w "$PFDIR/sriov_numvfs" ] && echo 0 >"$PFDIR/sriov_numvfs" 2>/dev/null
		echo "$PF" >"/sys/bus/pci/drivers/$old/unbind"
	fi
fi

# 1
mlu270_check "modprobe $MOD" modprobe $MOD
# 2
mlu270_check "$MOD binds the PF only through driver_override" no_autobind
# 3
mlu270_check "sriov_totalvfs is $TOTALVFS" totalvfs_is $TOTALVFS
# 4
mlu270_check "no VFs after probe" numvfs_is 0

# 5-9: the sample's sysfs attributes on the PF.
mlu270_check "PF attribute function reads pf" attr_is "$PFDIR/function" pf
mlu270_check "PF attribute sample_value reads 0 after probe" attr_is "$PFDIR/sample_value" 0
mlu270_check "echo 42 > sample_value reads back 42" write_and_read_back "$PFDIR/sample_value" 42
mlu270_check "echo abc > sample_value fails with EINVAL" expect_einval "$PFDIR/sample_value" abc
mlu270_check "echo 1001 > sample_value fails with EINVAL" expect_einval "$PFDIR/sample_value" 1001

# 10
if enable_vfs 4; then
	ktap_test_pass "echo 4 > sriov_numvfs creates four $VF_DEVICE functions"
else
	ktap_print_msg "numvfs=$(cat "$PFDIR/sriov_numvfs") vfs=$(count_vfs) err: $ERR"
	ktap_test_fail "echo 4 > sriov_numvfs creates four $VF_DEVICE functions"
fi
# 11: the sample binds the VFs too and logs their index and PF.
mlu270_check "the VFs probed with their index and PF (dmesg)" vfs_logged
# 12
mlu270_check "VF attributes: function reads vf, sample_value 0" vf_attrs
# 13: reset_prepare/reset_done around a VF function reset.
VFDIR=/sys/bus/pci/devices/$(basename "$(readlink "$PFDIR/virtfn3" 2>/dev/null)")
if [ -w "$VFDIR/reset" ]; then
	mlu270_check "a VF reset calls reset_prepare and reset_done" reset_vf
else
	ktap_test_skip "a VF reset calls reset_prepare and reset_done (no VF reset method)"
fi
# 14
if set_numvfs 5; then
	ktap_test_fail "echo 5 > sriov_numvfs fails (more than TotalVFs)"
else
	ktap_test_pass "echo 5 > sriov_numvfs fails (more than TotalVFs)"
fi
# 15
if set_numvfs 2; then
	ktap_test_fail "changing a non-zero VF count fails with EBUSY"
else
	case "$ERR" in
	*[Bb]usy* | *BUSY*) ktap_test_pass "changing a non-zero VF count fails with EBUSY" ;;
	*)
		ktap_print_msg "error was: $ERR"
		ktap_test_fail "changing a non-zero VF count fails with EBUSY"
		;;
	esac
fi
# 16
mlu270_check "still four VFs after the refused changes" [ "$(count_vfs)" = 4 ]
# 17
if set_numvfs 0 && wait_vfs 0; then
	ktap_test_pass "echo 0 > sriov_numvfs removes the VFs"
else
	ktap_test_fail "echo 0 > sriov_numvfs removes the VFs"
fi

# 18-22: unbinding the PF with VFs enabled must remove them.
set_numvfs 4
wait_vfs 4
vfs_were=$(count_vfs)
echo "$PF" >"$DRV/unbind" 2>/dev/null
mlu270_check "unbind of the PF with 4 VFs enabled" [ ! -e "$PFDIR/driver" ]
# (only if there were 4 to remove)
vfs_removed() { [ "$vfs_were" = 4 ] && wait_vfs 0; }
mlu270_check "the VFs are gone after unbinding the PF" vfs_removed
mlu270_check "the attributes are gone after unbinding the PF" attrs_gone
mlu270_check "rebind the PF, which starts without VFs" bind_pf
mlu270_check "sample_value starts at 0 again after rebind" attr_is "$PFDIR/sample_value" 0

# 23-25: rmmod with VFs enabled must remove them, too.
set_numvfs 4
mlu270_check "4 VFs enabled again" wait_vfs 4
mlu270_check "rmmod $MOD with 4 VFs enabled" rmmod $MOD
mlu270_check "the VFs are gone after rmmod" wait_vfs 0

# 26: reload works (nothing was leaked that blocks a second load).
mlu270_check "modprobe $MOD again and bind the PF" reload_and_bind

# 27: the attribute callbacks racing with unbind/bind.
mlu270_check "read/write the attributes while unbinding and binding the PF" race_unbind

# 28-29: removing the PF device itself with VFs enabled.
set_numvfs 4
wait_vfs 4
vfs_were=$(count_vfs)
removed_with_vfs() { [ "$vfs_were" = 4 ] && remove_pf; }
mlu270_check "remove the PF device with 4 VFs enabled" removed_with_vfs
mlu270_check "rescan brings the PF back, bound, without VFs" rescan_pf
rmmod $MOD 2>/dev/null
# Give the card back to the driver that had it.
[ -e "$PFDIR/driver_override" ] && echo >"$PFDIR/driver_override"
[ -e "$PFDIR/sriov_drivers_autoprobe" ] && echo 1 >"$PFDIR/sriov_drivers_autoprobe"
[ -n "${old:-}" ] && [ "$old" != $MOD ] && echo "$PF" >"/sys/bus/pci/drivers/$old/bind" 2>/dev/null

# 30
if no_splat; then
	ktap_test_pass "no kernel warning, oops or leftover SR-IOV in dmesg"
else
	log_since start | sed 's/^/# /' | tail -40
	ktap_test_fail "no kernel warning, oops or leftover SR-IOV in dmesg"
fi

ktap_finished
