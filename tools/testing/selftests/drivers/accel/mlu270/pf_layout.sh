#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The PF's `layout` attribute (Documentation/ABI/testing/sysfs-driver-mlu270):
# custom layouts reach the partition table, invalid ones fail with EINVAL
# and change nothing, and no layout changes while VFs exist (EBUSY).
# Restores the default layout and sriov_numvfs 0.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
pf=$(mlu270_pf_bound) || { ktap_print_msg "mlu270_pf does not bind"; exit "$KSFT_FAIL"; }
sys=/sys/bus/pci/devices/$pf
state=/sys/kernel/debug/mlu270_pf-$pf/vfs
restore() {
	echo 0 >"$sys/sriov_numvfs" 2>/dev/null
	echo default >"$sys/layout" 2>/dev/null
}
trap restore EXIT
restore

ktap_set_plan 11
mark start

mlu270_check "layout reads 'default'" [ "$(cat "$sys/layout")" = default ]

# "vf quarters ipu ..." lines of debugfs: the planned slices.
vf_field() { awk -v vf="$1" -v col="$2" '$1 == vf && NF > 10 { print $col }' "$state"; }

two_quarters() {
	echo "1/4 1/4" >"$sys/layout" && [ "$(cat "$sys/layout")" = "1/4 1/4" ] &&
		echo 2 >"$sys/sriov_numvfs" && [ "$(mlu270_count_devices 0x0271)" = 2 ] &&
		[ "$(vf_field 0 3)" = 0x000f ] && [ "$(vf_field 1 3)" = 0x00f0 ] &&
		[ "$(vf_field 1 6)" = 64 ]
}
mlu270_check "'1/4 1/4' gives two quarter VFs" two_quarters

err=$(mlu270_write "$sys/layout" "1/2")
err_says() { mlu270_matches "$err" "$1"; }
mlu270_check "changing the layout with VFs enabled fails with EBUSY" err_says busy
# mlu270_check word-splits its command: compare in a function.
layout_is() { [ "$(cat "$sys/layout")" = "$*" ]; }
mlu270_check "and keeps the layout" layout_is 1/4 1/4
echo 0 >"$sys/sriov_numvfs"

err=$(mlu270_write "$sys/sriov_numvfs" 3)
mlu270_check "3 VFs with a 2-VF layout fail with EINVAL" err_says invalid
mlu270_check "and create no VF" [ "$(mlu270_count_devices 0x0271)" = 0 ]

mixed() {
	echo "1/4,1/4,1/2" >"$sys/layout" && echo 3 >"$sys/sriov_numvfs" &&
		[ "$(vf_field 2 2)" = 2 ] && [ "$(vf_field 2 3)" = 0x00ff ] &&
		[ "$(vf_field 0 3)" = 0x0f00 ] && [ "$(vf_field 1 3)" = 0xf000 ]
}
mlu270_check "'1/4,1/4,1/2' places the half first (aligned), quarters after" mixed
echo 0 >"$sys/sriov_numvfs"

bad_layouts_rejected() {
	local l
	for l in "1/2 1/2 1/4" "3/4" "" "1/4 x" "1/4 1/4 1/4 1/4 1/4" "1/1 1/4"; do
		mlu270_write "$sys/layout" "$l" >/dev/null && return 1
		[ "$(cat "$sys/layout")" = "1/4 1/4 1/2" ] || return 1
	done
	return 0
}
mlu270_check "invalid layouts fail and change nothing" bad_layouts_rejected
logged() { log_since start | grep -q "mlu270_pf $pf: layout: invalid layout"; }
mlu270_check "and say why in dmesg" logged

back_to_default() {
	echo default >"$sys/layout" && [ "$(cat "$sys/layout")" = default ] &&
		echo 3 >"$sys/sriov_numvfs" && [ "$(vf_field 0 3)" = 0x00ff ]
}
mlu270_check "'default' restores the default layouts" back_to_default
echo 0 >"$sys/sriov_numvfs"
mlu270_check "sriov_numvfs 0 leaves no VF" [ "$(mlu270_count_devices 0x0271)" = 0 ]

ktap_finished
