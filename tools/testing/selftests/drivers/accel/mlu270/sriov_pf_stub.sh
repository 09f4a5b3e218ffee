#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The emulated card's SR-IOV capability, driven by the kernel's own
# pci-pf-stub (no MLU270 driver): VF count limits and errors as the PCI core
# reports them. Restores the PF's original driver afterwards.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
orig_driver=$(mlu270_driver_of "$pf")

restore() {
	[ -e "$sys/driver" ] && echo 0 >"$sys/sriov_numvfs" 2>/dev/null
	[ -e "$sys/driver" ] && echo "$pf" >"$sys/driver/unbind"
	echo >"$sys/driver_override"
	echo 1 >"$sys/sriov_drivers_autoprobe"
	[ -n "$orig_driver" ] && echo "$pf" >"/sys/bus/pci/drivers/$orig_driver/bind" 2>/dev/null
}
trap restore EXIT

ktap_set_plan 8

modprobe pci-pf-stub
# The PCI core's view of the card only: no VF driver binds the VFs.
echo 0 >"$sys/sriov_drivers_autoprobe"
[ -n "$orig_driver" ] && echo "$pf" >"$sys/driver/unbind"
echo pci-pf-stub >"$sys/driver_override"
echo "$pf" >/sys/bus/pci/drivers/pci-pf-stub/bind
mlu270_check "pci-pf-stub bound $pf" [ "$(mlu270_driver_of "$pf")" = pci-pf-stub ]

mlu270_check "sriov_totalvfs is 4" [ "$(cat "$sys/sriov_totalvfs")" = 4 ]

mlu270_write "$sys/sriov_numvfs" 4 >/dev/null
mlu270_check "echo 4 gives four cabc:0271 functions" [ "$(mlu270_count_devices 0x0271)" = 4 ]

vfs_at_functions_1_to_4() {
	local slot=${pf%.*} i
	for i in 1 2 3 4; do
		[ "$(readlink -f "$sys/virtfn$((i - 1))")" = "$(readlink -f "/sys/bus/pci/devices/$slot.$i")" ] || return 1
	done
}
mlu270_check "VFs are functions .1 to .4 of the PF's slot" vfs_at_functions_1_to_4

# mlu270_check word-splits its command: pass single words only.
err=$(mlu270_write "$sys/sriov_numvfs" 2)
err_says() { mlu270_matches "$err" "$1"; }
mlu270_check "changing a non-zero count fails with EBUSY ($err)" err_says busy

echo 0 >"$sys/sriov_numvfs"
mlu270_check "echo 0 removes the VFs" [ "$(mlu270_count_devices 0x0271)" = 0 ]

err=$(mlu270_write "$sys/sriov_numvfs" 5)
mlu270_check "echo 5 fails with ERANGE ($err)" err_says range
mlu270_check "nothing changed after the failed writes" [ "$(cat "$sys/sriov_numvfs")" = 0 ]

ktap_finished
