#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# `make run` inside the guest: bind the emulated MLU270 to its PF driver,
# split it four ways, then re-partition it 1/2 + 1/4 + 1/4 without unloading
# anything, showing the PF's view each time. Exits non-zero on any failure.
set -e

step() { printf '\n== %s\n' "$*"; }
count_vfs() { grep -lx 0x0271 /sys/bus/pci/devices/*/device 2>/dev/null | wc -l; }

pf=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0xcabc ] && [ "$(cat "$d/device")" = 0x0270 ]; then
		pf=$(basename "$d")
	fi
done
[ -n "$pf" ] || { echo "no MLU270 PF (cabc:0270) found"; exit 1; }
sys=/sys/bus/pci/devices/$pf

step "PCI devices"
lspci -nn

step "loading mlu270_pf"
modprobe mlu270_pf
dmesg | grep "mlu270_pf $pf" | sed 's/^\[[^]]*\] //'
[ "$(basename "$(readlink "$sys/driver")")" = mlu270_pf ]

step "echo 4 > sriov_numvfs"
echo 4 >"$sys/sriov_numvfs"
[ "$(count_vfs)" = 4 ]
lspci -nn 2>/dev/null | grep -i cabc || true
cat "/sys/kernel/debug/mlu270_pf-$pf/vfs"

step "re-partition: echo 0, then echo 3 (1/2 + 1/4 + 1/4)"
echo 0 >"$sys/sriov_numvfs"
echo 3 >"$sys/sriov_numvfs"
[ "$(count_vfs)" = 3 ]
cat "/sys/kernel/debug/mlu270_pf-$pf/vfs"

echo 0 >"$sys/sriov_numvfs"
[ "$(count_vfs)" = 0 ]
step "done: the card was partitioned 4 ways and 3 ways without unloading anything"
