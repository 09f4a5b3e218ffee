#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 300
# A VM that takes a VF while the administrator disables SR-IOV: the PF
# driver refuses `echo 0 > sriov_numvfs` (EBUSY) while a VF is open through
# vfio-pci, and from its check until the VFs are removed no VF can be
# opened (rust/patches/0016), so the removal never waits for a VM with the
# PF's device lock and the PCI rescan lock held. mlu270_vfio_open plays the
# VM (QEMU's legacy vfio group path). Leaves SR-IOV disabled.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"
OPEN=$DIR/mlu270_vfio_open

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -x "$OPEN" ] || { ktap_skip_all "mlu270_vfio_open is not built"; exit "$KSFT_SKIP"; }
[ -n "$(ls /sys/class/iommu 2>/dev/null)" ] ||
	{ ktap_skip_all "no IOMMU (boot with an emulated VT-d: -device intel-iommu)"; exit "$KSFT_SKIP"; }
[ -d /sys/bus/pci/drivers/vfio-pci ] || modprobe vfio-pci 2>/dev/null
[ -d /sys/bus/pci/drivers/vfio-pci ] || { ktap_skip_all "no vfio-pci driver"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
holder=

cleanup() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
	mlu270_release_vf "$vf"
	mlu270_restore_state
}
mlu270_keep_state "$pf"
trap cleanup EXIT

ktap_set_plan 8
mark start

mlu270_require_pf
modprobe mlu270_vf

# two VFs: VF 0 with mlu270_vf (it acknowledges the PF's SHUTDOWN), VF 1
# with vfio-pci (nobody reads its mailbox: the PF waits for it, so the time
# between the PF's check and the removal is as long as it gets)
to_vfio() {
	echo 0 >"$sys/sriov_numvfs" && echo 2 >"$sys/sriov_numvfs" || return 1
	vf=$(mlu270_vf_of "$pf" 1)
	wait_for '[ -e "/sys/bus/pci/devices/$vf/driver" ]' 10 && mlu270_to_vfio "$vf"
}
setup() {
	to_vfio && "$OPEN" once "$vf"
}
mlu270_check "VF 1 is bound to vfio-pci and a VM can open it" setup
# mlu270_vf had enabled VF 1; its unbind must disable it again
# (rust/patches/0018), or the VF looks open by a VM for ever.
mlu270_check "VF 1 is not enabled while no VM has it open" \
	[ "$(cat "/sys/bus/pci/devices/$vf/enable")" = 0 ]

refused() {
	local err
	"$OPEN" hold "$vf" 20000 >/tmp/vfio_hold.out &
	holder=$!
	wait_for 'grep -q opened /tmp/vfio_hold.out' 10 || return 1
	err=$(echo 0 2>&1 >"$sys/sriov_numvfs") && return 1
	echo "# echo 0 while a VM has VF 1: $err"
	kill "$holder" && wait "$holder" 2>/dev/null
	holder=
	echo "$err" | grep -qi busy && [ "$(cat "$sys/sriov_numvfs")" = 2 ]
}
mlu270_check "echo 0 > sriov_numvfs fails with EBUSY while a VM has VF 1 open" refused

# The refusal must not leave the VFs blocked.
mlu270_check "after the refusal, a VM can open VF 1 again" "$OPEN" once "$vf"

# race: echo 0 while a VM tries to open VF 1 every millisecond, starting
# 10 ms later (after the PF's check, during its SHUTDOWN wait); a VM that
# gets the VF keeps it 5 s. The PF's check comes first: if the VM got there
# before it (echo 0 refused, VF count unchanged), try again.
race() {
	local out i=0
	while [ $i -lt 3 ]; do
		i=$((i + 1))
		out=$("$OPEN" race "$vf" "$sys/sriov_numvfs" 10 5000) || return 1
		echo "# try $i: $out"
		case $out in
		write=EBUSY*) to_vfio || return 1 ;;
		*) break ;;
		esac
	done
	field() { echo "$out" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
	case $out in write=0*) ;; *) return 1 ;; esac
	[ "$(field opened)" = 0 ] && [ "$(field refused)" -ge 1 ] &&
		[ "$(field write_ms)" -lt 4000 ] && [ "$(cat "$sys/sriov_numvfs")" = 0 ]
}
mlu270_check "a VM opening VF 1 during echo 0 is refused (EBUSY), echo 0 does not wait for it" race

# The block ends with the VFs: new VFs can be opened.
again() {
	to_vfio && "$OPEN" once "$vf" && echo 0 >"$sys/sriov_numvfs"
}
mlu270_check "new VFs can be opened after SR-IOV was disabled" again
mlu270_check "no warning in the kernel log" clean_log

ktap_finished
