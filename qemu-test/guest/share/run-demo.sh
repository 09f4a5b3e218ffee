#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# `make run` inside the guest: show the emulated card and split it into VFs.
# Until the MLU270 drivers exist this uses the kernel's pci-pf-stub.
set -e

pf=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0xcabc ] && [ "$(cat "$d/device")" = 0x0270 ]; then
		pf=$(basename "$d")
	fi
done
echo "== PCI devices in the guest"
lspci -nn 2>/dev/null || lspci
[ -n "$pf" ] || { echo "no MLU270 PF (cabc:0270) found"; exit 1; }
echo
echo "== MLU270 PF at $pf: sriov_totalvfs=$(cat /sys/bus/pci/devices/$pf/sriov_totalvfs)"
modprobe pci-pf-stub
echo "cabc 0270" >/sys/bus/pci/drivers/pci-pf-stub/new_id
echo 4 >/sys/bus/pci/devices/$pf/sriov_numvfs
echo "== after echo 4 > sriov_numvfs"
lspci -nn 2>/dev/null | grep -i cabc || lspci | grep -i cabc
n=$(cat /sys/bus/pci/devices/$pf/sriov_numvfs)
echo 0 >/sys/bus/pci/devices/$pf/sriov_numvfs
[ "$n" = 4 ] || { echo "expected 4 VFs, got $n"; exit 1; }
echo "== VFs removed again; the card works"
