#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 900
# Teardown races: with four VFs busy (jobs on VF 0 and VF 3, a mailbox
# flood on VF 1, FLRs of VF 2), (1) rmmod mlu270_pf, then rmmod mlu270_vf
# once its files are closed; (2) the same load, then the PF is removed
# from the PCI bus (sysfs remove, what a hot-unplug does to the drivers)
# and found again by a rescan. Each time the load must end by itself
# (ENODEV or GONE, no hang), and the card must come back and work.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"
JOB=$DIR/mlu270_job
FUZZ=$DIR/mlu270_fuzz

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -x "$FUZZ" ] && [ -x "$JOB" ] || { ktap_skip_all "the C helpers are not built"; exit "$KSFT_SKIP"; }
restore() {
	[ -e "/sys/bus/pci/devices/$pf" ] || echo 1 >/sys/bus/pci/rescan
	modprobe mlu270_pf 2>/dev/null
	[ -e "/sys/bus/pci/devices/$pf/driver" ] && echo 0 >"/sys/bus/pci/devices/$pf/sriov_numvfs" 2>/dev/null
}
trap restore EXIT

ktap_set_plan 8
mark start

# load: four busy VFs; sets $pids.
load() {
	local sys=/sys/bus/pci/devices/$pf i vf
	echo 0 >"$sys/sriov_numvfs"
	echo 4 >"$sys/sriov_numvfs" || return 1
	pids=""
	for i in 0 3; do
		vf=$(mlu270_vf_of "$pf" $i)
		rm -f "/tmp/teardown.$i.ready"
		"$JOB" "/dev/$(cat "/sys/bus/pci/devices/$vf/job_node")" hold 600000 "/tmp/teardown.$i.ready" >"/tmp/teardown.$i" 2>&1 &
		pids="$pids $!"
	done
	vf=$(mlu270_vf_of "$pf" 1)
	echo "$vf" >/sys/bus/pci/drivers/mlu270_vf/unbind
	"$FUZZ" "/sys/bus/pci/devices/$vf" 100000000 1 >/tmp/teardown.1 2>&1 &
	fuzz=$!
	vf=$(mlu270_vf_of "$pf" 2)
	( while [ -e "/sys/bus/pci/devices/$vf/reset" ]; do echo 1 >"/sys/bus/pci/devices/$vf/reset" 2>/dev/null; sleep 0.2; done ) &
	flr=$!
	# The jobs are in flight before anything is torn down.
	mlu270_wait_file /tmp/teardown.0.ready 30 && mlu270_wait_file /tmp/teardown.3.ready 30
}

# ended: the job streams ended by themselves within 30 s with GONE/ENODEV.
ended() {
	local p i t=0
	for p in $pids; do
		while kill -0 "$p" 2>/dev/null && [ $t -lt 300 ]; do sleep 0.1; t=$((t + 1)); done
		kill -0 "$p" 2>/dev/null && { kill "$p"; return 1; }
	done
	kill "$fuzz" "$flr" 2>/dev/null
	wait 2>/dev/null
	for i in 0 3; do
		echo "# VF $i: $(cat /tmp/teardown.$i)"
		grep -q "gone=[1-9]\|enodev=[1-9]" "/tmp/teardown.$i" || return 1
	done
}

mlu270_require_pf
modprobe mlu270_vf

mark rmmod
load
rmmod_pf() { rmmod mlu270_pf && ! grep -q '^mlu270_pf ' /proc/modules; }
mlu270_check "rmmod mlu270_pf under load" rmmod_pf
mlu270_check "the jobs end with GONE or ENODEV, nothing hangs" ended
rmmod_vf() { rmmod mlu270_vf && [ "$(mlu270_count_devices 0x0271)" = 0 ]; }
mlu270_check "rmmod mlu270_vf once its files are closed" rmmod_vf

pf=$(mlu270_pf_bound)
modprobe mlu270_vf
mark remove
load
remove_pf() { echo 1 >"/sys/bus/pci/devices/$pf/remove" && [ ! -e "/sys/bus/pci/devices/$pf" ]; }
mlu270_check "removing the PF from the bus under load" remove_pf
mlu270_check "the jobs end with GONE or ENODEV, nothing hangs" ended
back() {
	echo 1 >/sys/bus/pci/rescan &&
		[ "$(mlu270_driver_of "$pf")" = mlu270_pf ] &&
		echo 2 >"/sys/bus/pci/devices/$pf/sriov_numvfs" &&
		mlu270-smi run "$(mlu270_vf_of "$pf" 1)" crc32 >/dev/null &&
		echo 0 >"/sys/bus/pci/devices/$pf/sriov_numvfs"
}
mlu270_check "a rescan finds the card; it binds and runs jobs again" back

mlu270_check "no warning in the kernel log" clean_log

ktap_finished
