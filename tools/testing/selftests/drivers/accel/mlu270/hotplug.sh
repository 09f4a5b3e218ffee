#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 600
# Hot-unplug with VFs enabled and busy: the host plugs a second card into
# the empty PCIe hot-plug slot (QMP device_add, asked for with an
# MLU270-HOST line), its PF binds mlu270_pf, four VFs run jobs and take a
# mailbox flood; then the host unplugs the card (device_del). The load must
# end by itself (GONE/ENODEV), the card must disappear cleanly, the first
# card must keep working, and a second plug/unplug must work too. Skips
# only where no host can answer: the MLU270 test runner
# (qemu-test/scripts/runner.py) says it carries out host actions with
# mlu270.host_actions=1 on the kernel command line; there, no card is a
# failure.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"
JOB=$DIR/mlu270_job
FUZZ=$DIR/mlu270_fuzz

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -x "$FUZZ" ] && [ -x "$JOB" ] || { ktap_skip_all "the C helpers are not built"; exit "$KSFT_SKIP"; }
[ -n "$(mlu270_other_pfs "$pf")" ] && { ktap_skip_all "a second card is already present"; exit "$KSFT_SKIP"; }

card_present() { [ -n "$(mlu270_other_pfs "$pf")" ]; }

grep -qw mlu270.host_actions=1 /proc/cmdline || {
	ktap_skip_all "no MLU270 test runner on the host to plug a card (mlu270.host_actions=1)"
	exit "$KSFT_SKIP"
}

ktap_set_plan 11
pf=$(mlu270_pf_bound) || ktap_exit_fail_msg "mlu270_pf does not bind the first card"
modprobe mlu270_vf
mark start
mlu270_host plug-card
wait_for card_present 20 ||
	ktap_exit_fail_msg "the host runner did not hot-plug a card within 20 s (see host-actions.log)"
# pci_release_dev() logs "device released" (dev_dbg) when the last
# reference to a struct pci_dev is gone: the proof that nothing kept the
# unplugged functions alive (a leaked reference never shows up otherwise).
DDEBUG=/proc/dynamic_debug/control
[ -w "$DDEBUG" ] && echo 'func pci_release_dev +p' >"$DDEBUG"
restore() {
	if card_present; then
		mlu270_host unplug-card
		wait_for '! card_present' 30
	fi
	[ -w "$DDEBUG" ] && echo 'func pci_release_dev -p' >"$DDEBUG"
}
trap restore EXIT

# released MARK BDF...: every one of them was freed since the mark
released() {
	local mark=$1 d
	shift
	for d in "$@"; do
		wait_for 'log_since $mark | grep -q "$d: device released"' 10 || {
			echo "# $d was not released: a reference to its pci_dev leaked"
			return 1
		}
	done
}

hot=$(mlu270_other_pfs "$pf" | head -1)
hsys=/sys/bus/pci/devices/$hot
bound() { wait_for '[ "$(mlu270_driver_of "$hot")" = mlu270_pf ]' 10; }
mlu270_check "the hot-plugged card ($hot) binds mlu270_pf" bound

busy() {
	local i vf
	hotnode=/dev/$(cat "$hsys/job_node")
	echo 4 >"$hsys/sriov_numvfs" || return 1
	pids=""
	for i in 0 3; do
		vf=$(mlu270_vf_of "$hot" $i)
		rm -f "/tmp/hotplug.$i.ready"
		"$JOB" "/dev/$(cat "/sys/bus/pci/devices/$vf/job_node")" hold 600000 "/tmp/hotplug.$i.ready" >"/tmp/hotplug.$i" 2>&1 &
		pids="$pids $!"
	done
	hot_vfs="$(for i in 0 1 2 3; do mlu270_vf_of "$hot" $i; done)"
	vf=$(mlu270_vf_of "$hot" 1)
	echo "$vf" >/sys/bus/pci/drivers/mlu270_vf/unbind || return 1
	"$FUZZ" "/sys/bus/pci/devices/$vf" 100000000 3 >/tmp/hotplug.1 2>&1 &
	fuzz=$!
	mlu270-smi run "$(mlu270_vf_of "$hot" 2)" crc32 >/dev/null &&
		mlu270_wait_file /tmp/hotplug.0.ready 30 && mlu270_wait_file /tmp/hotplug.3.ready 30
}
mlu270_check "4 VFs on it: jobs on two, a mailbox flood on a third, a checked job" busy

mark unplug
mlu270_host unplug-card
gone() { wait_for '! card_present' 30 && [ "$(mlu270_count_devices 0x0271)" = 0 ]; }
mlu270_check "device_del removes the card with its VFs" gone
ended() {
	local p i t=0
	for p in $pids; do
		while kill -0 "$p" 2>/dev/null && [ $t -lt 300 ]; do sleep 0.1; t=$((t + 1)); done
		kill -0 "$p" 2>/dev/null && { kill "$p"; return 1; }
	done
	kill "$fuzz" 2>/dev/null
	wait 2>/dev/null
	for i in 0 3; do
		echo "# VF $i: $(cat /tmp/hotplug.$i)"
		grep -q "gone=[1-9]\|enodev=[1-9]" "/tmp/hotplug.$i" || return 1
	done
}
mlu270_check "the jobs on the unplugged card end with GONE or ENODEV" ended
# (the job files held the VFs: released only now)
if [ -w "$DDEBUG" ]; then
	# shellcheck disable=SC2086 # one BDF per word
	mlu270_check "the unplugged PF and its VFs are released" released unplug "$hot" $hot_vfs
else
	ktap_test_skip "the unplugged PF and its VFs are released (no dynamic debug)"
fi
node_gone() { [ -n "$hotnode" ] && [ ! -e "$hotnode" ]; }
mlu270_check "the unplugged card's job node is gone" node_gone
first_ok() {
	echo 1 >"/sys/bus/pci/devices/$pf/sriov_numvfs" &&
		mlu270-smi run "$(mlu270_vf_of "$pf" 0)" memcpy >/dev/null &&
		echo 0 >"/sys/bus/pci/devices/$pf/sriov_numvfs"
}
mlu270_check "the first card still works" first_ok

again() {
	mlu270_host plug-card
	wait_for card_present 20 || return 1
	hot=$(mlu270_other_pfs "$pf" | head -1)
	wait_for '[ "$(mlu270_driver_of "$hot")" = mlu270_pf ]' 10 || return 1
	mlu270-smi run "$hot" crc32 >/dev/null || return 1
	echo 2 >"/sys/bus/pci/devices/$hot/sriov_numvfs" || return 1
	hot_vfs="$(mlu270_vf_of "$hot" 0) $(mlu270_vf_of "$hot" 1)"
	mark unplug2
	mlu270_host unplug-card
	wait_for '! card_present' 30
}
mlu270_check "plug and unplug again (2 VFs enabled)" again
if [ -w "$DDEBUG" ]; then
	# shellcheck disable=SC2086 # one BDF per word
	mlu270_check "the second unplugged card is released too" released unplug2 "$hot" $hot_vfs
else
	ktap_test_skip "the second unplugged card is released too (no dynamic debug)"
fi
none_left() { [ "$(mlu270_count_devices 0x0271)" = 0 ] && ! card_present; }
mlu270_check "nothing left of the second card" none_left
mlu270_check "no warning in the kernel log" clean_log

ktap_finished
