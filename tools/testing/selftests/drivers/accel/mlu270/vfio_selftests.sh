#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 1200
# The kernel's own vfio selftests (tools/testing/selftests/vfio of the
# kernel under test, built by qemu-test/scripts/build-vfio-selftests.sh)
# against the card, in every IOMMU mode they have (iommufd, the iommufd
# compat containers, the legacy type1 container):
# - VF 1 bound to vfio-pci, the PF with mlu270_pf: config space, BARs,
#   MSI-X, reset, DMA mappings (also of the VF's own BARs), device init;
# - vfio_pci_sriov_uapi_test: the PF itself bound to vfio-pci, its VF
#   created through it (the card driven by a userspace PF), VF tokens.
# One result per binary; its own TAP output is printed as diagnostics.
# vfio_pci_driver_test uses the MLU270 driver of their libvfio
# (rust/patches) and DMAs to unmapped addresses on purpose: the PF's fault
# policy is off meanwhile (fault_reset_after = 0), as a host running such
# a tenant would set it.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"
VFIO=$(cd "$DIR/../../../vfio" 2>/dev/null && pwd)

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -n "$VFIO" ] && [ -x "$VFIO/vfio_pci_device_test" ] ||
	{ ktap_skip_all "the kernel's vfio selftests are not built"; exit "$KSFT_SKIP"; }
[ -n "$(ls /sys/class/iommu 2>/dev/null)" ] ||
	{ ktap_skip_all "no IOMMU (boot with an emulated VT-d: -device intel-iommu)"; exit "$KSFT_SKIP"; }
[ -d /sys/bus/pci/drivers/vfio-pci ] || modprobe vfio-pci 2>/dev/null
[ -d /sys/bus/pci/drivers/vfio-pci ] || { ktap_skip_all "no vfio-pci driver"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
enable_sriov=/sys/module/vfio_pci/parameters/enable_sriov
old_enable_sriov=$(cat "$enable_sriov" 2>/dev/null)
# vfio_pci_driver_test pins 1 GiB of shared anonymous memory per test: as
# on a host with THP for shmem, in 2 MiB folios (seconds, not minutes,
# under TCG with KASAN)
shmem_thp=/sys/kernel/mm/transparent_hugepage/shmem_enabled
old_shmem_thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$shmem_thp" 2>/dev/null)

cleanup() {
	mlu270_release_vf "$vf"
	pf_to_mlu270
	[ -n "$old_fault_reset_after" ] && echo "$old_fault_reset_after" >"$sys/fault_reset_after" 2>/dev/null
	[ -n "$old_enable_sriov" ] && echo "$old_enable_sriov" >"$enable_sriov" 2>/dev/null
	[ -n "$old_shmem_thp" ] && echo "$old_shmem_thp" >"$shmem_thp" 2>/dev/null
	mlu270_restore_state
}
# pf_to_mlu270: the PF back from vfio-pci (if there) to mlu270_pf.
pf_to_mlu270() {
	[ "$(mlu270_driver_of "$pf")" = vfio-pci ] || return 0
	echo 0 >"$sys/sriov_numvfs" 2>/dev/null
	echo "$pf" >/sys/bus/pci/drivers/vfio-pci/unbind
	echo >"$sys/driver_override"
	echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/bind
}
mlu270_keep_state "$pf"
trap cleanup EXIT

tests="vfio_pci_device_test vfio_dma_mapping_test vfio_dma_mapping_mmio_test vfio_iommufd_setup_test vfio_pci_device_init_perf_test vfio_pci_driver_test"
ktap_set_plan $((5 + $(echo $tests | wc -w)))
mark start

mlu270_require_pf
modprobe mlu270_vf
old_fault_reset_after=$(cat "$sys/fault_reset_after")
echo 0 >"$sys/fault_reset_after"
echo always >"$shmem_thp"

setup() {
	echo 0 >"$sys/sriov_numvfs" && echo 2 >"$sys/sriov_numvfs" || return 1
	vf=$(mlu270_vf_of "$pf" 1)
	wait_for '[ -e "/sys/bus/pci/devices/$vf/driver" ]' 10 && mlu270_to_vfio "$vf" &&
		[ -c /dev/iommu ] && [ -n "$(ls /dev/vfio/devices 2>/dev/null)" ]
}
mlu270_check "VF 1 is bound to vfio-pci; /dev/iommu and the VFIO device cdev exist" setup

# run_upstream BINARY ARGS...: runs it, prints its output as diagnostics
# and passes if it exits 0 with no failed test and no skip but the one the
# device explains: it has MSI-X and no MSI (vfio_pci_irq_test.msi.*). A
# skip is how these tests report a host that lacks something (no 1 GiB
# huge page, no IOMMU mode), which the pipeline provides.
run_upstream() {
	local bin=$1 log=/tmp/vfio_selftest.log rc totals t0
	shift
	t0=$(cut -d' ' -f1 /proc/uptime)
	"$VFIO/$bin" "$@" >"$log" 2>&1
	rc=$?
	sed 's/^/# /' "$log" | grep -E '^# (not ok|ok .*# SKIP|# Totals)|FAIL|Assertion|[Tt]imeout|[Tt]erminated' | head -40
	totals=$(grep -m1 '^# Totals' "$log")
	echo "# $bin: exit $rc after $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }') s; $totals"
	[ "$rc" = 0 ] && echo "$totals" | grep -q ' fail:0 ' && echo "$totals" | grep -q ' error:0' &&
		! grep '^ok .* # SKIP' "$log" |
			grep -qv '^ok [0-9]* vfio_pci_irq_test\.msi\.[a-z_]* # SKIP MSI: not supported$'
}
for t in $tests; do
	mlu270_check "$t (VF 1)" run_upstream "$t" "$vf"
done

# The card driven by a userspace PF: the PF bound to vfio-pci, which
# enables SR-IOV (vfio-pci's enable_sriov) and hands its VF to vfio-pci.
userspace_pf() {
	mlu270_release_vf "$vf"
	vf=
	echo 0 >"$sys/sriov_numvfs" || return 1
	echo 1 >"$enable_sriov" || return 1
	echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/unbind &&
		echo vfio-pci >"$sys/driver_override" &&
		echo "$pf" >/sys/bus/pci/drivers/vfio-pci/bind || return 1
	run_upstream vfio_pci_sriov_uapi_test "$pf"
}
mlu270_check "vfio_pci_sriov_uapi_test (the PF bound to vfio-pci)" userspace_pf
mlu270_check "mlu270_pf takes the PF back" pf_to_mlu270
mlu270_check "no warning in the kernel log" clean_log

ktap_finished
