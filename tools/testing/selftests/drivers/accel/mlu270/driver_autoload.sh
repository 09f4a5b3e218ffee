#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Drivers load the way a host loads them: by the modalias of each device the
# kernel adds (udev on a host; the kernel's uevent helper in the test guest). The card's
# PF gets mlu270_pf at boot, and after `echo N > sriov_numvfs` every VF ends
# up with mlu270_vf, with nobody loading a driver by name; the Rust SR-IOV
# sample, which knows the same card, never takes it away from them, even
# when it is loaded. Run first: it looks at what boot left. Restores
# sriov_numvfs and the PF's driver.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
mlu270_keep_state "$pf"
# Whether a uevent loads the sample can only be seen with the sample
# unloaded: unload it now, load it again on exit if it was loaded.
sample_loaded=$(grep -c '^rust_driver_sriov ' /proc/modules)
[ "$sample_loaded" = 0 ] || rmmod rust_driver_sriov
restore() {
	if [ "$sample_loaded" = 0 ]; then
		rmmod rust_driver_sriov 2>/dev/null
	else
		modprobe rust_driver_sriov
	fi
	mlu270_restore_state
}
trap restore EXIT

ktap_set_plan 6

# The boot coldplugged the card: its modalias loaded mlu270_pf.
mlu270_check "at boot the PF got mlu270_pf by its modalias" [ "$(mlu270_driver_of "$pf")" = mlu270_pf ]
[ "$(mlu270_driver_of "$pf")" = mlu270_pf ] || mlu270_pf_bound >/dev/null

# vfs_bound N: every one of the N VFs is bound to mlu270_vf and ready.
vfs_bound() {
	local i vf
	for i in $(seq 0 $(($1 - 1))); do
		vf=$(mlu270_vf_of "$pf" "$i")
		[ "$(mlu270_driver_of "$vf")" = mlu270_vf ] || return 1
		[ "$(cat "/sys/bus/pci/devices/$vf/state" 2>/dev/null)" = ready ] || return 1
	done
}
# autoload N: with mlu270_vf unloaded, echo N; the VFs' uevents load it.
autoload() {
	local rc=0
	echo 0 >"$sys/sriov_numvfs" || return 1
	rmmod mlu270_vf 2>/dev/null
	grep -q '^mlu270_vf ' /proc/modules && {
		echo "# mlu270_vf could not be unloaded"
		return 1
	}
	echo "$1" >"$sys/sriov_numvfs" || return 1
	wait_for "vfs_bound $1" 30 || {
		for i in $(seq 0 $(($1 - 1))); do
			vf=$(mlu270_vf_of "$pf" "$i")
			echo "# VF $i ($vf): driver '$(mlu270_driver_of "$vf")'"
		done
		rc=1
	}
	return $rc
}
mlu270_check "echo 4: all four VFs bind mlu270_vf, loaded by their modalias" autoload 4
mlu270_check "echo 3 after echo 0: the three VFs bind mlu270_vf too" autoload 3

no_alias() {
	modinfo rust_driver_sriov >/dev/null &&
		[ -z "$(modinfo -F alias rust_driver_sriov)" ]
}
mlu270_check "the Rust SR-IOV sample has no modalias for the card" no_alias
not_loaded() { ! grep -q '^rust_driver_sriov ' /proc/modules; }
mlu270_check "no uevent loaded the sample" not_loaded

# Even loaded first, the sample takes neither the PF nor the VFs.
sample_stays_off() {
	echo 0 >"$sys/sriov_numvfs" || return 1
	modprobe rust_driver_sriov || return 1
	echo "$pf" >"$sys/driver/unbind" || return 1
	echo "$pf" >/sys/bus/pci/drivers_probe
	[ "$(mlu270_driver_of "$pf")" = mlu270_pf ] || {
		echo "# the PF went to '$(mlu270_driver_of "$pf")'"
		return 1
	}
	autoload 2
}
mlu270_check "with the sample loaded the card still goes to mlu270_pf and mlu270_vf" sample_stays_off

ktap_finished
