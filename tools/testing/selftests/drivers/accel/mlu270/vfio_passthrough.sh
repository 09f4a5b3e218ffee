#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 1500
# VF pass-through: this guest plays the host (an emulated VT-d with
# interrupt remapping). VF 1 goes to vfio-pci and into a nested VM (QEMU
# under KVM where this guest's CPU has SVM or VMX, as on a cloud host, else
# TCG; a kernel made for it) where mlu270_vf binds, negotiates with the PF
# driver here over the mailbox and runs checked jobs, its DMA translated
# by the IOMMU. While the VM has the VF, sriov_numvfs cannot change; when
# the VM exits, and again when it is killed, the VF is left clean (its
# memory scrubbed) and works on the host. The first VM uses QEMU's iommufd
# backend (/dev/iommu and the VFIO device cdev, as on a modern host), the
# second the legacy type1 container. Prints the nested VM's boot and job
# times.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"
JOB=$DIR/mlu270_job
INNER=/usr/share/mlu270/inner
QEMU=$(command -v qemu-system-x86_64)

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -n "$QEMU" ] && [ -f "$INNER/bzImage" ] && [ -x "$JOB" ] ||
	{ ktap_skip_all "no nested VM payload (QEMU, inner kernel) in this guest"; exit "$KSFT_SKIP"; }
[ -n "$(ls /sys/class/iommu 2>/dev/null)" ] ||
	{ ktap_skip_all "no IOMMU (boot with an emulated VT-d: -device intel-iommu)"; exit "$KSFT_SKIP"; }
[ -d /sys/bus/pci/drivers/vfio-pci ] || modprobe vfio-pci 2>/dev/null
[ -d /sys/bus/pci/drivers/vfio-pci ] || { ktap_skip_all "no vfio-pci driver"; exit "$KSFT_SKIP"; }
pf=$(mlu270_pf_bound) || ktap_exit_fail_msg "mlu270_pf does not bind the card"
mlu270_keep_state "$pf"
modprobe mlu270_vf
sys=/sys/bus/pci/devices/$pf
qpid=
# KVM if this guest can run it (under TCG the CPU is an AMD model with SVM
# and nested paging); the PMU stays hidden from the VM, whose kernel would
# otherwise program counters KVM does not emulate here.
modprobe kvm_amd 2>/dev/null || modprobe kvm_intel 2>/dev/null
hw_virt=$(grep -m1 -ow 'svm\|vmx' /proc/cpuinfo)
if [ -c /dev/kvm ]; then
	accel="-accel kvm -cpu host,pmu=off"
else
	accel="-accel tcg -cpu max"
fi
# kvm_used: a CPU with SVM or VMX gets KVM, and QEMU holds /dev/kvm (TCG
# only where the CPU has neither)
kvm_used() {
	if [ -z "$hw_virt" ]; then
		echo "# this CPU has neither SVM nor VMX: the nested VM runs under TCG"
		return 0
	fi
	[ -c /dev/kvm ] || {
		echo "# the CPU has $hw_virt, but there is no /dev/kvm (kvm_amd/kvm_intel did not load)"
		return 1
	}
	ls -l "/proc/$qpid/fd" 2>/dev/null | grep -q ' -> /dev/kvm$' || {
		echo "# QEMU does not use /dev/kvm"
		return 1
	}
}

cleanup() {
	[ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
	mlu270_release_vf "$vf"
	mlu270_restore_state
}
trap cleanup EXIT

ktap_set_plan 12
mark start

node_of() { echo "/dev/$(cat "/sys/bus/pci/devices/$1/job_node")"; }
# inner LINE-PATTERN: the nested VM's console has it
inner() { grep -q "^INNER $1" /tmp/inner.log 2>/dev/null; }
inner_field() { sed -n "s/^INNER $1 .*$2=\([0-9.]*\).*/\1/p" /tmp/inner.log | tail -1; }
# start_vm MODE BACKEND: the nested VM with the VF, in the background
# ($qpid); BACKEND is iommufd or container.
start_vm() {
	local vfio="-device vfio-pci,host=$vf"
	[ "$2" = iommufd ] && vfio="-object iommufd,id=iommufd0 -device vfio-pci,host=$vf,iommufd=iommufd0"
	rm -f /tmp/inner.log
	t_start=$(cut -d' ' -f1 /proc/uptime)
	# (qboot: a firmware that only loads the kernel; no5lvl: 4-level
	# page tables, one walk step less for each TLB miss of the VM)
	"$QEMU" -M q35 $accel -smp 1 -m 128M -nodefaults -no-reboot \
		-display none -monitor none -L /usr/share/qemu -bios qboot.rom \
		-kernel "$INNER/bzImage" -initrd "$INNER/initramfs.cpio" \
		-append "console=ttyS0 panic=-1 loglevel=4 no5lvl inner.mode=$1" \
		-serial file:/tmp/inner.log $vfio >/tmp/qemu.log 2>&1 &
	qpid=$!
}
since_start() { awk -v a="$t_start" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }'; }

setup() {
	echo 0 >"$sys/sriov_numvfs" && echo 2 >"$sys/sriov_numvfs" || return 1
	vf0=$(mlu270_vf_of "$pf" 0)
	vf=$(mlu270_vf_of "$pf" 1)
	wait_for '[ "$(cat /sys/bus/pci/devices/$vf/state 2>/dev/null)" = ready ]' 10 || return 1
	zero_crc=$("$JOB" "$(node_of "$vf0")" crc 0 65536) || return 1
	mlu270_to_vfio "$vf" || return 1
	group=$(basename "$(readlink -f "/sys/bus/pci/devices/$vf/iommu_group")")
	members=$(ls "/sys/bus/pci/devices/$vf/iommu_group/devices")
	echo "# VF 1 ($vf) is in IOMMU group $group: $members"
	[ -c "/dev/vfio/$group" ] && [ "$members" = "$vf" ]
}
mlu270_check "VF 1 is bound to vfio-pci, alone in its IOMMU group" setup

vm_started() {
	start_vm jobs iommufd
	wait_for 'inner booted' 600 || { cat /tmp/qemu.log; return 1; }
	echo "# nested VM (${accel#-accel }): kernel up after $(since_start) s"
	# QEMU holds /dev/iommu and the VF's cdev, not the container
	ls -l "/proc/$qpid/fd" 2>/dev/null | grep -q ' -> /dev/iommu$' &&
		ls -l "/proc/$qpid/fd" | grep -q ' -> /dev/vfio/devices/vfio[0-9]*$' &&
		kvm_used
}
mlu270_check "the nested VM boots with the VF, under KVM where the CPU has it (QEMU's iommufd backend)" vm_started

# While the VM has the VF: no change of the VF count.
refused() {
	local err
	mark refuse
	err=$(echo 0 2>&1 >"$sys/sriov_numvfs") && return 1
	echo "# echo 0: $err"
	echo "$err" | grep -qi "busy" && [ "$(cat "$sys/sriov_numvfs")" = 2 ] &&
		log_since refuse | grep -q "VF 1 ($vf) is in use by vfio-pci"
}
mlu270_check "echo 0 > sriov_numvfs fails with EBUSY while the VM has VF 1" refused

vm_ready() {
	wait_for 'inner ready || inner "no ready VF"' 900 || return 1
	inner ready || { grep '^INNER' /tmp/inner.log | sed 's/^/# /'; return 1; }
	echo "# nested VM: VF ready (mlu270_vf bound, handshake with the PF done) after $(since_start) s"
}
mlu270_check "mlu270_vf binds in the VM and negotiates with the PF" vm_ready

vm_jobs() {
	wait_for 'inner done' 900 || return 1
	grep '^INNER' /tmp/inner.log | sed 's/^/# /'
	[ "$(inner_field jobs ok)" = 12 ] && [ "$(inner_field jobs failed)" = 0 ] && ! inner splat
}
mlu270_check "the VM runs 12 checked jobs on the VF (DMA through the IOMMU), no warning" vm_jobs

vm_exits() {
	wait_for '! kill -0 $qpid 2>/dev/null' 60 || return 1
	wait "$qpid"
	local rc=$?
	qpid=
	echo "# nested VM: powered off after $(since_start) s (QEMU exit code $rc)"
	[ $rc = 0 ]
}
mlu270_check "the VM powers off and QEMU exits" vm_exits

# give_back: VF 1 back to mlu270_vf; its memory must have been scrubbed
# (the VM's jobs wrote at offset 0) and a checked job must work.
give_back() {
	local crc
	echo >"/sys/bus/pci/devices/$vf/driver_override"
	echo "$vf" >/sys/bus/pci/drivers/vfio-pci/unbind || return 1
	echo "$vf" >/sys/bus/pci/drivers/mlu270_vf/bind || return 1
	wait_for '[ "$(cat /sys/bus/pci/devices/$vf/state 2>/dev/null)" = ready ]' 10 || return 1
	crc=$("$JOB" "$(node_of "$vf")" crc 0 65536) || return 1
	echo "# VF 1 memory CRC after the VM: $crc (zeroes: $zero_crc)"
	[ "$crc" = "$zero_crc" ] && mlu270-smi run "$vf" crc32 >/dev/null
}
mlu270_check "after the VM, VF 1 is clean and works on the host" give_back

killed() {
	mlu270_to_vfio "$vf" || return 1
	start_vm hold container
	wait_for 'inner "jobs ok"' 900 || { grep '^INNER' /tmp/inner.log | sed 's/^/# /'; return 1; }
	ls -l "/proc/$qpid/fd" | grep -q ' -> /dev/vfio/vfio$' || {
		echo "# QEMU does not use the legacy container"
		return 1
	}
	kill -9 "$qpid"
	wait "$qpid" 2>/dev/null
	qpid=
	echo "# nested VM killed (SIGKILL) during jobs, after $(since_start) s"
}
mlu270_check "a VM running jobs on VF 1 (legacy type1 container) is killed" killed
mlu270_check "after the kill, VF 1 is clean and works on the host" give_back

others() { mlu270-smi run "$vf0" memcpy >/dev/null; }
mlu270_check "VF 0 on the host kept working" others
disable() { echo 0 >"$sys/sriov_numvfs" && [ "$(cat "$sys/sriov_numvfs")" = 0 ]; }
mlu270_check "echo 0 > sriov_numvfs works once no VM has a VF" disable
mlu270_check "no warning in the kernel log" clean_log

ktap_finished
