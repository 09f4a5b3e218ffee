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
# POSIX sh + busybox only. Exits 4 (KSFT_SKIP) when no card is present.

DIR=$(dirname "$0")
if [ -z "${KTAP_HELPERS:-}" ]; then
	for h in "$DIR/../../../kselftest/ktap_helpers.sh" /selftests/kselftest/ktap_helpers.sh; do
		[ -f "$h" ] && KTAP_HELPERS=$h && break
	done
fi
# shellcheck source=../../../kselftest/ktap_helpers.sh
. "$KTAP_HELPERS"

MOD=rust_driver_sriov
DRV=/sys/bus/pci/drivers/$MOD
PF_VENDOR=0xcabc
PF_DEVICE=0x0270
VF_DEVICE=0x0271
TOTALVFS=4
NTESTS=30

# Marks the kernel log so that the splat check only looks at this test.
MARK="rust_sriov_sample: start $$"

find_pf() {
	for d in /sys/bus/pci/devices/*; do
		[ -r "$d/vendor" ] || continue
		if [ "$(cat "$d/vendor")" = $PF_VENDOR ] && [ "$(cat "$d/device")" = $PF_DEVICE ]; then
			basename "$d"
			return 0
		fi
	done
	return 1
}

# Number of VF functions (0xcabc:0x0271) present on the PCI bus.
count_vfs() {
	n=0
	for d in /sys/bus/pci/devices/*; do
		[ -r "$d/vendor" ] || continue
		if [ "$(cat "$d/vendor")" = $PF_VENDOR ] && [ "$(cat "$d/device")" = $VF_DEVICE ]; then
			n=$((n + 1))
		fi
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

# ktap_test_result runs its command unquoted ($@): compound checks are
# functions, never "sh -c '...'" strings.
vfs_logged() {
	dmesg | grep -q "VF 3 of PF $PF probed"
}

numvfs_is() {
	[ "$(cat "$PFDIR/sriov_numvfs" 2>/dev/null)" = "$1" ]
}

totalvfs_is() {
	[ "$(cat "$PFDIR/sriov_totalvfs" 2>/dev/null)" = "$1" ]
}

bind_pf() {
	echo "$PF" >"$DRV/bind" && [ -e "$DRV/$PF" ] && numvfs_is 0
}

reload_and_bind() {
	modprobe $MOD || return 1
	[ -e "$DRV/$PF" ] || echo "$PF" >"$DRV/bind" 2>/dev/null
	[ -e "$DRV/$PF" ]
}

# reset_vf: FLR the last VF through sysfs; the sample logs its reset hooks.
reset_vf() {
	echo 1 >"$VFDIR/reset" || return 1
	dmesg | grep -q "$(basename "$VFDIR"): Vf reset_prepare" &&
		dmesg | grep -q "$(basename "$VFDIR"): Vf reset_done"
}

# remove_pf: hot-remove the PF (its removal path holds pci_rescan_remove_lock
# while the driver disables SR-IOV), then rescan; the PF must come back bound.
remove_pf() {
	echo 1 >"$PFDIR/remove" || return 1
	[ ! -e "$PFDIR" ] && wait_vfs 0
}

rescan_pf() {
	echo 1 >/sys/bus/pci/rescan || return 1
	[ -e "$DRV/$PF" ] && numvfs_is 0
}

# attr_is FILE VALUE: the attribute reads VALUE.
attr_is() {
	[ "$(cat "$1" 2>/dev/null)" = "$2" ]
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
	) &
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
	! dmesg | sed -n "/$MARK/,\$p" |
		grep -Eq 'WARNING:|BUG:|Oops|Call Trace|KASAN|kmemleak|circular locking|driver left SR-IOV enabled'
}

ktap_print_header

PF=$(find_pf)
if [ -z "$PF" ]; then
	ktap_skip_all "no MLU270 PF ($PF_VENDOR:$PF_DEVICE) in this system"
	exit "$KSFT_SKIP"
fi
PFDIR=/sys/bus/pci/devices/$PF
echo "$MARK" >/dev/kmsg 2>/dev/null

ktap_set_plan $NTESTS

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
ktap_test_result "modprobe $MOD" modprobe $MOD
[ -e "$DRV/$PF" ] || echo "$PF" >"$DRV/bind" 2>/dev/null
# 2
ktap_test_result "$MOD bound the PF $PF" [ -e "$DRV/$PF" ]
# 3
ktap_test_result "sriov_totalvfs is $TOTALVFS" totalvfs_is $TOTALVFS
# 4
ktap_test_result "no VFs after probe" numvfs_is 0

# 5-9: the sample's sysfs attributes on the PF.
ktap_test_result "PF attribute function reads pf" attr_is "$PFDIR/function" pf
ktap_test_result "PF attribute sample_value reads 0 after probe" attr_is "$PFDIR/sample_value" 0
ktap_test_result "echo 42 > sample_value reads back 42" write_and_read_back "$PFDIR/sample_value" 42
ktap_test_result "echo abc > sample_value fails with EINVAL" expect_einval "$PFDIR/sample_value" abc
ktap_test_result "echo 1001 > sample_value fails with EINVAL" expect_einval "$PFDIR/sample_value" 1001

# 10
if set_numvfs 4 && wait_vfs 4; then
	ktap_test_pass "echo 4 > sriov_numvfs creates four $VF_DEVICE functions"
else
	ktap_print_msg "numvfs=$(cat "$PFDIR/sriov_numvfs") vfs=$(count_vfs) err: $ERR"
	ktap_test_fail "echo 4 > sriov_numvfs creates four $VF_DEVICE functions"
fi
# 11: the sample binds the VFs too and logs their index and PF.
ktap_test_result "the VFs probed with their index and PF (dmesg)" vfs_logged
# 12
ktap_test_result "VF attributes: function reads vf, sample_value 0" vf_attrs
# 13: reset_prepare/reset_done around a VF function reset.
VFDIR=/sys/bus/pci/devices/$(basename "$(readlink "$PFDIR/virtfn3" 2>/dev/null)")
if [ -w "$VFDIR/reset" ]; then
	ktap_test_result "a VF reset calls reset_prepare and reset_done" reset_vf
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
ktap_test_result "still four VFs after the refused changes" [ "$(count_vfs)" = 4 ]
# 17
if set_numvfs 0 && wait_vfs 0; then
	ktap_test_pass "echo 0 > sriov_numvfs removes the VFs"
else
	ktap_test_fail "echo 0 > sriov_numvfs removes the VFs"
fi

# 18-22: unbinding the PF with VFs enabled must remove them.
set_numvfs 4
wait_vfs 4
echo "$PF" >"$DRV/unbind" 2>/dev/null
ktap_test_result "unbind of the PF with 4 VFs enabled" [ ! -e "$PFDIR/driver" ]
ktap_test_result "the VFs are gone after unbinding the PF" wait_vfs 0
ktap_test_result "the attributes are gone after unbinding the PF" attrs_gone
ktap_test_result "rebind the PF, which starts without VFs" bind_pf
ktap_test_result "sample_value starts at 0 again after rebind" attr_is "$PFDIR/sample_value" 0

# 23-25: rmmod with VFs enabled must remove them, too.
set_numvfs 4
ktap_test_result "4 VFs enabled again" wait_vfs 4
ktap_test_result "rmmod $MOD with 4 VFs enabled" rmmod $MOD
ktap_test_result "the VFs are gone after rmmod" wait_vfs 0

# 26: reload works (nothing was leaked that blocks a second load).
ktap_test_result "modprobe $MOD again and bind the PF" reload_and_bind

# 27: the attribute callbacks racing with unbind/bind.
ktap_test_result "read/write the attributes while unbinding and binding the PF" race_unbind

# 28-29: removing the PF device itself with VFs enabled.
set_numvfs 4
wait_vfs 4
ktap_test_result "remove the PF device with 4 VFs enabled" remove_pf
ktap_test_result "rescan brings the PF back, bound, without VFs" rescan_pf
rmmod $MOD 2>/dev/null
# Give the card back to the driver that had it.
[ -n "${old:-}" ] && [ "$old" != $MOD ] && echo "$PF" >"/sys/bus/pci/drivers/$old/bind" 2>/dev/null

# 30
if no_splat; then
	ktap_test_pass "no kernel warning, oops or leftover SR-IOV in dmesg"
else
	dmesg | sed -n "/$MARK/,\$p" | sed 's/^/# /' | tail -40
	ktap_test_fail "no kernel warning, oops or leftover SR-IOV in dmesg"
fi

ktap_finished
