#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The PF driver: binding, card report, sriov_numvfs for every count with the
# default layouts, and the errors of invalid counts. Leaves SR-IOV disabled.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
trap 'echo 0 >"$sys/sriov_numvfs" 2>/dev/null' EXIT

ktap_set_plan 15

pf=$(mlu270_pf_bound)
ktap_test_result "mlu270_pf binds the PF" [ -n "$pf" ]
sys=/sys/bus/pci/devices/$pf

reported() { dmesg | grep -q "mlu270_pf $pf: MLU270: 16 IPU cores, 4 VPUs, 4 JPUs, 256 MiB"; }
ktap_test_result "the card is reported in dmesg" reported
card_attrs() {
	[ "$(cat "$sys/ipu_cores")" = 16 ] && [ "$(cat "$sys/vpus")" = 4 ] &&
		[ "$(cat "$sys/jpus")" = 4 ] && [ "$(cat "$sys/mem_mb")" = 256 ] &&
		[ "$(cat "$sys/protocol_version")" = 1-2 ]
}
ktap_test_result "the card is reported in sysfs" card_attrs
ktap_test_result "sriov_totalvfs is 4" [ "$(cat "$sys/sriov_totalvfs")" = 4 ]

# Each count enables that many VFs, with the default layout in dmesg.
enable_count() {
	local n=$1 want=$2
	echo "$n" >"$sys/sriov_numvfs" || return 1
	[ "$(mlu270_count_devices 0x0271)" = "$n" ] || return 1
	dmesg | tail -20 | grep -q "enabling $n VFs, layout $want" || return 1
	echo 0 >"$sys/sriov_numvfs" || return 1
	[ "$(mlu270_count_devices 0x0271)" = 0 ]
}
ktap_test_result "1 VF: layout 1/1" enable_count 1 1/1
ktap_test_result "2 VFs: layout 1/2 1/2" enable_count 2 "1/2"
ktap_test_result "3 VFs: layout 1/2 1/4 1/4" enable_count 3 "1/2"
ktap_test_result "4 VFs: layout 1/4 x 4" enable_count 4 "1/4"

echo 4 >"$sys/sriov_numvfs"
err=$(mlu270_write "$sys/sriov_numvfs" 2)
err_says() { mlu270_matches "$err" "$1"; }
ktap_test_result "a new count while VFs exist fails with EBUSY" err_says busy
ktap_test_result "and leaves the 4 VFs alone" [ "$(mlu270_count_devices 0x0271)" = 4 ]
echo 0 >"$sys/sriov_numvfs"

err=$(mlu270_write "$sys/sriov_numvfs" 5)
ktap_test_result "5 VFs fail with ERANGE" err_says range
ktap_test_result "no VF after the failed write" [ "$(mlu270_count_devices 0x0271)" = 0 ]

# Unbind with VFs enabled: they go first, nothing is left behind.
echo 4 >"$sys/sriov_numvfs"
echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/unbind
gone=$(mlu270_count_devices 0x0271)
echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/bind
ktap_test_result "unbinding the PF with 4 VFs removes them (left: $gone)" [ "$gone" = 0 ]

# rmmod with VFs enabled: the same, and the module loads again.
echo 4 >"$sys/sriov_numvfs"
rmmod mlu270_pf
gone=$(mlu270_count_devices 0x0271)
ktap_test_result "rmmod with 4 VFs removes them (left: $gone)" [ "$gone" = 0 ]
pf=$(mlu270_pf_bound)
ktap_test_result "mlu270_pf loads and binds again" [ -n "$pf" ]

ktap_finished
