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
mark start

mlu270_require_pf

# (logged at probe: bind again after the mark, so that an old line from an
# earlier test cannot stand in for this one)
reported() {
	echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/unbind &&
		echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/bind &&
		log_since start | grep -q "mlu270_pf $pf: MLU270: 16 IPU cores, 4 VPUs, 4 JPUs, 256 MiB"
}
mlu270_check "the card is reported in dmesg" reported
card_attrs() {
	[ "$(cat "$sys/ipu_cores")" = 16 ] && [ "$(cat "$sys/vpus")" = 4 ] &&
		[ "$(cat "$sys/jpus")" = 4 ] && [ "$(cat "$sys/mem_mb")" = 256 ] &&
		[ "$(cat "$sys/protocol_version")" = 1-2 ]
}
mlu270_check "the card is reported in sysfs" card_attrs
mlu270_check "sriov_totalvfs is 4" [ "$(cat "$sys/sriov_totalvfs")" = 4 ]

# Each count enables that many VFs with the default layout: the whole
# layout in dmesg, and every VF's slice in the PF's debugfs table.
# slice_is VF "QUARTERS IPU VPU JPU MEM_MB": VF's row of the table.
slice_is() {
	local row
	row=$(awk -v vf="$1" '$1 == vf { print $2, $3, $4, $5, $6 }' "/sys/kernel/debug/mlu270_pf-$pf/vfs")
	[ "$row" = "$2" ] || {
		echo "# VF $1: slice '$row', want '$2'"
		return 1
	}
}
# enable_count N LAYOUT SLICE...: echo N, check, echo 0.
enable_count() {
	local n=$1 want=$2 i=0 rc=0
	shift 2
	mark "enable$n" || return 1
	echo "$n" >"$sys/sriov_numvfs" || return 1
	[ "$(mlu270_count_devices 0x0271)" = "$n" ] || rc=1
	log_since "enable$n" | grep -q "mlu270_pf $pf: enabling $n VFs, layout $want\$" || {
		echo "# no 'enabling $n VFs, layout $want' in the kernel log"
		rc=1
	}
	[ $# = "$n" ] || rc=1
	for slice in "$@"; do
		slice_is $i "$slice" || rc=1
		i=$((i + 1))
	done
	echo 0 >"$sys/sriov_numvfs" || return 1
	[ "$(mlu270_count_devices 0x0271)" = 0 ] && return $rc
}
H0="2 0x00ff 0x3 0x3 128" H1="2 0xff00 0xc 0xc 128"
Q0="1 0x000f 0x1 0x1 64" Q1="1 0x00f0 0x2 0x2 64" Q2="1 0x0f00 0x4 0x4 64" Q3="1 0xf000 0x8 0x8 64"
mlu270_check "1 VF: layout 1/1" enable_count 1 1/1 "4 0xffff 0xf 0xf 256"
mlu270_check "2 VFs: layout 1/2 1/2" enable_count 2 "1/2 1/2" "$H0" "$H1"
mlu270_check "3 VFs: layout 1/2 1/4 1/4" enable_count 3 "1/2 1/4 1/4" "$H0" "$Q2" "$Q3"
mlu270_check "4 VFs: layout 1/4 x 4" enable_count 4 "1/4 1/4 1/4 1/4" "$Q0" "$Q1" "$Q2" "$Q3"

echo 4 >"$sys/sriov_numvfs"
err=$(mlu270_write "$sys/sriov_numvfs" 2)
err_says() { mlu270_matches "$err" "$1"; }
mlu270_check "a new count while VFs exist fails with EBUSY" err_says busy
mlu270_check "and leaves the 4 VFs alone" [ "$(mlu270_count_devices 0x0271)" = 4 ]
echo 0 >"$sys/sriov_numvfs"

err=$(mlu270_write "$sys/sriov_numvfs" 5)
mlu270_check "5 VFs fail with ERANGE" err_says range
mlu270_check "no VF after the failed write" [ "$(mlu270_count_devices 0x0271)" = 0 ]

# Unbind with VFs enabled: they go first, nothing is left behind.
echo 4 >"$sys/sriov_numvfs" && enabled=$(mlu270_count_devices 0x0271)
echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/unbind
gone=$(mlu270_count_devices 0x0271)
echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/bind
vfs_removed() { [ "$enabled" = 4 ] && [ "$gone" = 0 ]; }
mlu270_check "unbinding the PF with 4 VFs removes them (before: $enabled, left: $gone)" vfs_removed

# rmmod with VFs enabled: the same, and the module loads again.
enabled=
echo 4 >"$sys/sriov_numvfs" && enabled=$(mlu270_count_devices 0x0271)
rmmod mlu270_pf
gone=$(mlu270_count_devices 0x0271)
mlu270_check "rmmod with 4 VFs removes them (before: $enabled, left: $gone)" vfs_removed
rebound() { [ "$(mlu270_pf_bound)" = "$pf" ]; }
mlu270_check "mlu270_pf loads and binds again" rebound

ktap_finished
