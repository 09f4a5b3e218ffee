#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The operator's tool against the real drivers: listing (table and JSON),
# changing the layout and the VF count, and its errors.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
command -v mlu270-smi >/dev/null || { ktap_skip_all "mlu270-smi is not installed"; exit "$KSFT_SKIP"; }
pf=$(mlu270_pf_bound) || { ktap_print_msg "mlu270_pf does not bind"; exit "$KSFT_FAIL"; }
sys=/sys/bus/pci/devices/$pf
restore() {
	echo 0 >"$sys/sriov_numvfs" 2>/dev/null
	echo default >"$sys/layout" 2>/dev/null
	rmmod mlu270_vf 2>/dev/null
}
trap restore EXIT
restore

ktap_set_plan 11

modprobe mlu270_vf
four() { mlu270-smi set-vfs "$pf" 4 && [ "$(mlu270_count_devices 0x0271)" = 4 ]; }
mlu270_check "set-vfs 4 enables four VFs" four

json=$(mlu270-smi --json list)
json_has() { echo "$json" | grep -q "$1"; }
listed() { json_has "\"address\": \"$pf\"" && [ "$(echo "$json" | grep -o '"driver": "mlu270_vf"' | wc -l)" = 4 ]; }
mlu270_check "list --json shows the PF and four VFs bound to mlu270_vf" listed
slices() { json_has '"ipu_mask": "0xf000"' && json_has '"protocol_version": 2'; }
mlu270_check "with their slices and negotiated protocol" slices

err=$(mlu270-smi set-vfs "$pf" 2 2>&1)
busy() { mlu270_matches "$err" "$pf" && mlu270_matches "$err" EBUSY; }
mlu270_check "set-vfs while VFs exist names the device and EBUSY" busy

quarters() { mlu270-smi set-vfs "$pf" 0 && mlu270-smi set-layout "$pf" "1/4 1/4" &&
	mlu270-smi set-vfs "$pf" 2 && mlu270-smi list | grep -q "layout 1/4 1/4"; }
mlu270_check "set-layout '1/4 1/4' then set-vfs 2" quarters

table() { mlu270-smi list | grep -q "0x00f0"; }
mlu270_check "the table shows VF 1's quarter" table

vf1=$(mlu270_vf_of "$pf" 1)
nodes() { mlu270-smi list | grep "$vf1" | grep -q "mlu270-vf[0-9]$"; }
mlu270_check "the table shows the VFs' job nodes" nodes
run_all() {
	local op
	for op in nop memcpy fill crc32 matmul delta zigzag; do
		mlu270-smi run "$vf1" "$op" || return 1
	done
}
mlu270_check "run checks every op on VF 1" run_all
run_json() { mlu270-smi --json run "$vf1" crc32 | grep -q '"ok": true}$'; }
mlu270_check "run --json" run_json
# A quarter slice copies 1/4 byte/ns: 250 MB/s of device time.
bench() {
	local out
	out=$(mlu270-smi --json bench "$vf1" memcpy --len 65536 --count 32) || return 1
	echo "# $out"
	echo "$out" | grep -q '"jobs": 32' && echo "$out" | grep -q '"device_mb_s": 250.0'
}
mlu270_check "bench: a quarter slice copies at 250 MB/s of device time" bench
native_busy() {
	local err
	err=$(mlu270-smi run "$pf" nop 2>&1) && return 1
	echo "# $err"
	mlu270_matches "$err" "EBUSY" && mlu270_matches "$err" "no jobs while VFs are enabled"
}
mlu270_check "run on the PF while VFs are enabled: EBUSY with a hint" native_busy

ktap_finished
