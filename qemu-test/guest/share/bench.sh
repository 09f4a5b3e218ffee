#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# `make bench` inside the guest (release kernel): every figure of
# Documentation/accel/mlu270/benchmarks.md, ROUNDS times, as lines
#   BENCH <name> <value> <unit>
# that qemu-test/scripts/bench-report.py turns into min/median/max.
set -e
ROUNDS=${ROUNDS:-5}
S=/selftests/drivers/accel/mlu270
T=$S/mlu270_timing
FZ=$S/mlu270_fuzz

pf=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0xcabc ] && [ "$(cat "$d/device")" = 0x0270 ]; then
		pf=$(basename "$d")
		break
	fi
done
[ -n "$pf" ] || { echo "no MLU270"; exit 1; }
sys=/sys/bus/pci/devices/$pf
vf() { basename "$(readlink -f "$sys/virtfn$1")"; }
bench() { echo "BENCH $1 $2 $3"; }
wall() { mlu270-smi --json bench "$1" "$2" --len 65536 --count 256 | sed -n 's/.*"wall_mb_s": \([0-9.]*\).*/\1/p'; }

modprobe mlu270_pf
modprobe mlu270_vf

r=0
while [ $r -lt "$ROUNDS" ]; do
	r=$((r + 1))
	# VF enable until the four VF drivers are ready; disable.
	bench vf_enable_ms "$(($($T enable "$pf" 4 mlu270_vf) / 1000))" ms
	# FLR to ready, VF 1.
	bench flr_to_ready_ms "$(($($T flr "$(vf 1)") / 1000))" ms
	# Mailbox round trips, one VF, then four at once (VF 0's figures).
	echo "$(vf 0)" >/sys/bus/pci/drivers/mlu270_vf/unbind
	out=$($FZ "/sys/bus/pci/devices/$(vf 0)" 100 0 ping 2>/dev/null || true)
	bench mbox_reply_p50_us "$(echo "$out" | sed -n 's/.*reply_us=[0-9]*\/\([0-9]*\)\/.*/\1/p')" us
	bench mbox_reply_p99_us "$(echo "$out" | sed -n 's/.*reply_us=[0-9]*\/[0-9]*\/\([0-9]*\)\/.*/\1/p')" us
	bench mbox_ack_p50_us "$(echo "$out" | sed -n 's/.*ack_us=[0-9]*\/\([0-9]*\)\/.*/\1/p')" us
	echo "$(vf 0)" >/sys/bus/pci/drivers/mlu270_vf/bind
	# Throughput: a VF on 1/4 (VF 1).
	bench vf_quarter_memcpy_mb_s "$(wall "$(vf 1)" memcpy)" MB/s
	# Four VFs saturated at once: each one's share.
	for i in 0 1 2 3; do wall "$(vf $i)" memcpy >"/tmp/share.$i" & done
	wait
	for i in 0 1 2 3; do bench "four_vfs_vf${i}_mb_s" "$(cat /tmp/share.$i)" MB/s; done
	# VF 1 while VF 3 floods the mailbox.
	echo "$(vf 3)" >/sys/bus/pci/drivers/mlu270_vf/unbind
	$FZ "/sys/bus/pci/devices/$(vf 3)" 100000000 1 >/dev/null 2>&1 &
	f=$!
	bench vf_quarter_memcpy_flood_mb_s "$(wall "$(vf 1)" memcpy)" MB/s
	kill $f; wait $f 2>/dev/null || true
	echo "$(vf 3)" >/sys/bus/pci/drivers/mlu270_vf/bind
	# VF 1 while VF 2 is reset in a loop.
	( while :; do echo 1 >"/sys/bus/pci/devices/$(vf 2)/reset"; done ) &
	l=$!
	bench vf_quarter_memcpy_resets_mb_s "$(wall "$(vf 1)" memcpy)" MB/s
	kill $l; wait $l 2>/dev/null || true
	# Re-partition 0 -> 4 (above) -> 0 -> 3 -> 0.
	bench vf_disable_ms "$(($($T disable "$pf") / 1000))" ms
	bench vf_enable3_ms "$(($($T enable "$pf" 3 mlu270_vf) / 1000))" ms
	$T disable "$pf" >/dev/null
	# The PF on the same 1/4 slice.
	echo 1/4 >"$sys/native_slice"
	bench pf_quarter_memcpy_mb_s "$(wall "$pf" memcpy)" MB/s
	echo 1/1 >"$sys/native_slice"
done
