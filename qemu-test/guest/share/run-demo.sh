#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# `make run` inside the guest: bind the emulated MLU270 to its PF driver,
# split it four ways, bind the VF drivers, show the operator tool's table,
# run a checked job on every VF, then re-partition it 1/2 + 1/4 + 1/4
# without unloading anything and do it again. Exits non-zero on any failure.
set -e

step() { printf '\n== %s\n' "$*"; }
count_vfs() { grep -lx 0x0271 /sys/bus/pci/devices/*/device 2>/dev/null | wc -l; }
fail() { echo "FAILED: $*"; exit 1; }

pf=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0xcabc ] && [ "$(cat "$d/device")" = 0x0270 ]; then
		pf=$(basename "$d")
	fi
done
[ -n "$pf" ] || fail "no MLU270 PF (cabc:0270) found"
sys=/sys/bus/pci/devices/$pf

# every_vf N: the N VFs are bound to mlu270_vf and ready; each runs a job
# whose result the tool checks (a CRC-32 of data it wrote, and a copy).
every_vf() {
	local i vf
	[ "$(count_vfs)" = "$1" ] || fail "$(count_vfs) VFs instead of $1"
	i=0
	while [ "$i" -lt "$1" ]; do
		vf=$(basename "$(readlink -f "$sys/virtfn$i")")
		[ "$(basename "$(readlink "/sys/bus/pci/devices/$vf/driver")")" = mlu270_vf ] ||
			fail "VF $i ($vf) is not bound to mlu270_vf"
		[ "$(cat "/sys/bus/pci/devices/$vf/state")" = ready ] || fail "VF $i is not ready"
		mlu270-smi run "$vf" crc32 || fail "VF $i: crc32 job"
		mlu270-smi run "$vf" memcpy || fail "VF $i: memcpy job"
		i=$((i + 1))
	done
}

step "PCI devices"
lspci -nn

step "loading mlu270_pf and mlu270_vf"
modprobe mlu270_pf
modprobe mlu270_vf
dmesg | grep "mlu270_pf $pf" | sed 's/^\[[^]]*\] //'
[ "$(basename "$(readlink "$sys/driver")")" = mlu270_pf ] || fail "mlu270_pf did not bind"

step "a native job on the whole card"
mlu270-smi run "$pf" crc32 || fail "native crc32 job"

step "mlu270-smi set-vfs $pf 4"
mlu270-smi set-vfs "$pf" 4
lspci -nn 2>/dev/null | grep -i cabc || true
mlu270-smi list

step "a job on every VF"
every_vf 4

step "re-partition: set-vfs 0, set-vfs 3 (1/2 + 1/4 + 1/4)"
mlu270-smi set-vfs "$pf" 0
mlu270-smi set-vfs "$pf" 3
mlu270-smi list
mlu270-smi list | grep -q "layout default" || fail "layout"

step "a job on every VF"
every_vf 3

step "a short benchmark on VF 0 (1/2) and VF 1 (1/4)"
mlu270-smi bench "$(basename "$(readlink -f "$sys/virtfn0")")" memcpy --count 64
mlu270-smi bench "$(basename "$(readlink -f "$sys/virtfn1")")" memcpy --count 64

mlu270-smi set-vfs "$pf" 0
[ "$(count_vfs)" = 0 ] || fail "VFs left after set-vfs 0"
step "done: the card was partitioned 4 ways and 3 ways, every VF ran checked jobs, nothing was unloaded"
