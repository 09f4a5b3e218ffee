#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The VF driver: with mlu270_pf bound, every default layout's VFs bind
# mlu270_vf, which logs the slice the PF described over the mailbox; an FLR of
# one VF re-runs its handshake while the others stay bound; echo 0 removes
# them cleanly. Without a PF driver (pci-pf-stub on the PF) the VF probe
# times out and the VF stays unbound. Restores the PF's driver, sriov_numvfs
# and unloads mlu270_vf if it loaded it.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
orig_driver=$(mlu270_driver_of "$pf")
vf_loaded=$(grep -c '^mlu270_vf ' /proc/modules)

restore() {
	[ -e "$sys/driver" ] && echo 0 >"$sys/sriov_numvfs" 2>/dev/null
	if [ "$(mlu270_driver_of "$pf")" != "$orig_driver" ]; then
		[ -e "$sys/driver" ] && echo "$pf" >"$sys/driver/unbind"
		echo >"$sys/driver_override"
		[ -n "$orig_driver" ] && echo "$pf" >"/sys/bus/pci/drivers/$orig_driver/bind" 2>/dev/null
	fi
	[ "$vf_loaded" = 0 ] && rmmod mlu270_vf 2>/dev/null
}
trap restore EXIT

ktap_set_plan 18

mlu270_require_pf
echo 0 >"$sys/sriov_numvfs"

modprobe mlu270_vf
mlu270_check "mlu270_vf loads" grep -q '^mlu270_vf ' /proc/modules

mark start

# expect_slices N "SLICE0" "SLICE1" ...: echo N, then every VF is bound to
# mlu270_vf and logged "VF i: SLICEi, protocol v2"; echo 0 again.
expect_slices() {
	local n=$1 i=0 vf rc=0
	shift
	mark "layout$n"
	echo "$n" >"$sys/sriov_numvfs" || return 1
	for want in "$@"; do
		vf=$(mlu270_vf_of "$pf" $i)
		if [ "$(mlu270_driver_of "$vf")" != mlu270_vf ]; then
			echo "# $vf is not bound"
			rc=1
		elif ! log_since "layout$n" | grep -q "mlu270_vf $vf: VF $i: $want, protocol v2$"; then
			echo "# no 'VF $i: $want' for $vf"
			rc=1
		fi
		i=$((i + 1))
	done
	echo 0 >"$sys/sriov_numvfs"
	[ "$i" = "$n" ] && return $rc
}
# mlu270_check word-splits its command: one function per layout.
layout1() { expect_slices 1 "1/1 slice: IPU 0xffff, VPU 0xf, JPU 0xf, 256 MiB"; }
layout2() {
	expect_slices 2 "1/2 slice: IPU 0x00ff, VPU 0x3, JPU 0x3, 128 MiB" \
		"1/2 slice: IPU 0xff00, VPU 0xc, JPU 0xc, 128 MiB"
}
layout3() {
	expect_slices 3 "1/2 slice: IPU 0x00ff, VPU 0x3, JPU 0x3, 128 MiB" \
		"1/4 slice: IPU 0x0f00, VPU 0x4, JPU 0x4, 64 MiB" \
		"1/4 slice: IPU 0xf000, VPU 0x8, JPU 0x8, 64 MiB"
}
layout4() {
	expect_slices 4 "1/4 slice: IPU 0x000f, VPU 0x1, JPU 0x1, 64 MiB" \
		"1/4 slice: IPU 0x00f0, VPU 0x2, JPU 0x2, 64 MiB" \
		"1/4 slice: IPU 0x0f00, VPU 0x4, JPU 0x4, 64 MiB" \
		"1/4 slice: IPU 0xf000, VPU 0x8, JPU 0x8, 64 MiB"
}
mlu270_check "1 VF: 1/1 slice, IPU 0xffff" layout1
mlu270_check "2 VFs: 1/2 slices, IPU 0x00ff and 0xff00" layout2
mlu270_check "3 VFs: 1/2 + 1/4 + 1/4 slices, IPU 0x00ff 0x0f00 0xf000" layout3
mlu270_check "4 VFs: 4 x 1/4 slices, IPU 0x000f 0x00f0 0x0f00 0xf000" layout4

# Four VFs stay enabled for the reset cases.
echo 4 >"$sys/sriov_numvfs"
res() { cat "/sys/kernel/debug/mlu270_vf-$(mlu270_vf_of "$pf" "$1")/resources"; }
res_has() { res "$1" | grep -qx "$2"; }
debugfs_ok() { res_has 3 "ipu_mask: 0xf000" && res_has 3 "mem_mb: 64" && res_has 3 "state: ready"; }
mlu270_check "debugfs shows VF 3's slice" debugfs_ok
attr() { cat "/sys/bus/pci/devices/$(mlu270_vf_of "$pf" "$1")/$2"; }
sysfs_ok() {
	[ "$(attr 3 vf_index)" = 3 ] && [ "$(attr 3 slice)" = 1/4 ] &&
		[ "$(attr 3 ipu_mask)" = 0xf000 ] && [ "$(attr 3 vpu_mask)" = 0x8 ] &&
		[ "$(attr 3 jpu_mask)" = 0x8 ] && [ "$(attr 3 mem_mb)" = 64 ] &&
		[ "$(attr 3 protocol_version)" = 2 ] && [ "$(attr 3 state)" = ready ] &&
		[ "$(attr 0 ipu_mask)" = 0x000f ]
}
mlu270_check "sysfs attributes show VF 3's slice" sysfs_ok

vf1=$(mlu270_vf_of "$pf" 1)
mark flr
mlu270_check "FLR of VF 1 succeeds" mlu270_write "/sys/bus/pci/devices/$vf1/reset" 1
rehandshake() {
	log_since flr | grep -q "mlu270_vf $vf1: VF 1: 1/4 slice: IPU 0x00f0" &&
		res_has 1 "handshakes: 2" && [ "$(attr 1 state)" = ready ] &&
		[ "$(attr 1 ipu_mask)" = 0x00f0 ]
}
mlu270_check "VF 1 re-handshakes after the FLR" rehandshake
others_untouched() {
	local i
	for i in 0 2 3; do
		[ "$(mlu270_driver_of "$(mlu270_vf_of "$pf" $i)")" = mlu270_vf ] || return 1
		res_has $i "handshakes: 1" || return 1
	done
}
mlu270_check "VFs 0, 2 and 3 stay bound, no new handshake" others_untouched

mark disable
echo 0 >"$sys/sriov_numvfs"
mlu270_check "echo 0 removes the 4 VFs" [ "$(mlu270_count_devices 0x0271)" = 0 ]
shutdown_seen() { [ "$(log_count disable 'PF notification \(shutdown: VFs are being disabled\)')" = 4 ]; }
mlu270_check "each VF logged the PF's SHUTDOWN notification" shutdown_seen

# Unbinding the PF with VFs: they hear why (SHUTDOWN, Removing) before
# they go.
echo 4 >"$sys/sriov_numvfs"
mark pfunbind
echo "$pf" >"$sys/driver/unbind"
removing_seen() {
	[ "$(log_count pfunbind 'PF notification \(shutdown: the PF driver is unbinding\)')" = 4 ] &&
		[ "$(mlu270_count_devices 0x0271)" = 0 ]
}
mlu270_check "unbinding the PF: each VF logged SHUTDOWN (the PF driver is unbinding)" removing_seen
echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/bind

# No PF driver: pci-pf-stub enables the VF, nobody answers the mailbox.
modprobe pci-pf-stub
echo "$pf" >"$sys/driver/unbind"
echo pci-pf-stub >"$sys/driver_override"
echo "$pf" >/sys/bus/pci/drivers/pci-pf-stub/bind
mark nopf
echo 1 >"$sys/sriov_numvfs"
vf0=$(mlu270_vf_of "$pf" 0)
no_pf() {
	[ "$(mlu270_driver_of "$pf")" = pci-pf-stub ] && [ -e "/sys/bus/pci/devices/$vf0" ] &&
		[ -z "$(mlu270_driver_of "$vf0")" ] &&
		log_since nopf | grep -q "mlu270_vf $vf0: VF 0: no reply to HELLO from the PF within 2000 ms"
}
mlu270_check "without a PF driver the VF probe times out, VF unbound" no_pf
echo 0 >"$sys/sriov_numvfs"

# An incompatible PF, played by this script through the PF's BAR: it answers
# every HELLO with EPROTO (an error reply: opcode and seq echoed, status 71;
# the payload words are 0 since the VF was enabled). It sends the reply
# before it acknowledges the request: until then the VF cannot send a retry
# with a new seq, so even a slow fake answers the request outstanding.
PFVF_VF_MSG=0x1000 PFVF_PF_MSG=0x1040 PFVF_DOORBELL=0x1080 PFVF_STATUS=0x1084 PFVF_ACK=0x1088
fake_pf() {
	local base=$1 tries=0 w0 w1
	while [ $tries -lt 400 ]; do
		tries=$((tries + 1))
		if [ $(($(mlu270_rd "$base" $PFVF_STATUS) & 2)) = 0 ]; then
			sleep 0.01
			continue
		fi
		set -- $("$MLU270_MMIO" $((base)) $((PFVF_VF_MSG)) $((PFVF_VF_MSG + 4)))
		w0=$1 w1=$2
		# the reply, its doorbell, then the ack, in this order
		"$MLU270_MMIO" $((base)) $((PFVF_PF_MSG))=$(((w0 & 0xff) | 0x100)) \
			$((PFVF_PF_MSG + 4))=$(((w1 & 0xffff) | (71 << 16))) \
			$((PFVF_DOORBELL))=1 $((PFVF_ACK))=1
	done
}
bad_pf() {
	[ -z "$(mlu270_driver_of "$vf0")" ] &&
		log_since badpf | grep -q "mlu270_vf $vf0: VF 0: the PF refused HELLO for protocol v1..v2 (errno 71): incompatible PF driver" &&
		log_since badpf | grep -q "mlu270_vf $vf0: probe with driver mlu270_vf failed with error -71"
}
if [ -c /dev/mem ]; then
	mlu270_enable_mem "$pf"
	pfbar=$(mlu270_bar0 "$pf")
	mark badpf
	fake_pf "$pfbar" &
	fake=$!
	echo 1 >"$sys/sriov_numvfs"
	kill "$fake" 2>/dev/null
	wait "$fake" 2>/dev/null
	mlu270_check "an incompatible PF fails the VF probe with EPROTO" bad_pf
	echo 0 >"$sys/sriov_numvfs"
else
	ktap_test_skip "an incompatible PF fails the VF probe with EPROTO (no /dev/mem)"
fi
echo "$pf" >"$sys/driver/unbind"
echo >"$sys/driver_override"
echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/bind
mlu270_check "mlu270_pf binds the PF again" [ "$(mlu270_driver_of "$pf")" = mlu270_pf ]

mlu270_check "no warning in the kernel log" clean_log

ktap_finished
