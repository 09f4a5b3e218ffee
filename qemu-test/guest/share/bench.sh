#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# `make bench` inside the guest (release kernel): every figure of
# Documentation/accel/mlu270/benchmarks.md, MLU270_BENCH_ROUNDS times (5),
# as lines
#   BENCH <name> <value> <unit>
# that qemu-test/scripts/bench-report.py turns into min/median/max and
# per-round ratios. Figures that are compared are measured in the same
# round, one after the other. Times come from the guest's clock (under
# -icount: guest time, repeatable).
set -e
[ -f /etc/mlu270/env ] && . /etc/mlu270/env
ROUNDS=${MLU270_BENCH_ROUNDS:-5}
PINGS=${MLU270_BENCH_PINGS:-100}
S=/selftests/drivers/accel/mlu270
T=$S/mlu270_timing
FZ=$S/mlu270_fuzz
OPS="memcpy fill crc32 matmul delta zigzag"

# find_dev VENDOR DEVICE: the first PCI function with these IDs
find_dev() {
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ]; then
			basename "$d"
			return 0
		fi
	done
	return 1
}
pf=$(find_dev 0xcabc 0x0270) || { echo "no MLU270"; exit 1; }
igb=$(find_dev 0x8086 0x10c9) || { echo "no igb (the runner adds one in bench mode)"; exit 1; }
sys=/sys/bus/pci/devices/$pf
isys=/sys/bus/pci/devices/$igb
vf() { basename "$(readlink -f "$sys/virtfn$1")"; }
bench() { echo "BENCH $1 $2 $3"; }
# us_to_ms MICROSECONDS
us_to_ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }
# wall FUNCTION OP: wall-clock MB/s of 256 jobs of 64 KiB, 16 in flight
wall() {
	mlu270-smi --json bench "$1" "$2" --len 65536 --count 256 |
		sed -n 's/.*"wall_mb_s": \([0-9.]*\).*/\1/p'
}
# stat OUTPUT NAME INDEX: field INDEX (1 min, 2 p50, 3 p99, 4 max) of
# NAME=a/b/c/d in a line of mlu270_fuzz
stat() {
	echo "$1" | sed -n "s/.*$2=\([0-9]*\)\/\([0-9]*\)\/\([0-9]*\)\/\([0-9]*\).*/\\$3/p"
}
# worst NAME INDEX FILE...: the largest field over several outputs
worst() {
	local name=$1 idx=$2 f v m=0
	shift 2
	for f in "$@"; do
		v=$(stat "$(cat "$f")" "$name" "$idx")
		[ -n "$v" ] || v=999999999
		[ "$v" -gt "$m" ] && m=$v
	done
	echo "$m"
}
# rebind DEVICE DRIVER: move DEVICE to DRIVER (driver_override)
rebind() {
	local d=/sys/bus/pci/devices/$1
	[ -e "$d/driver" ] && echo "$1" >"$d/driver/unbind"
	echo "$2" >"$d/driver_override"
	echo "$1" >"/sys/bus/pci/drivers/$2/bind"
	echo >"$d/driver_override"
}
# Under -icount the vCPUs run in turn, not at once: a reply served on the
# other vCPU than the one polling for it would wait for that vCPU's turn,
# and the round trip would measure QEMU's scheduling. So the PF's
# interrupts (and their threads) go to CPU 0 and the pinging processes run
# there too: the reply's interrupt preempts the poller.
pin_pf_irqs() {
	local irq
	for irq in $(awk '/mlu270_pf/ { sub(":", "", $1); print $1 }' /proc/interrupts); do
		echo 0 >"/proc/irq/$irq/smp_affinity_list"
	done
}
# pings TAG ARGS...: mailbox round trips of VF 0 alone, then of all four at
# once; the VFs have no driver. ARGS after the VF: "ping", or "echo" for
# the floor (the tool plays the PF).
pings() {
	local tag=$1 i out
	shift
	if [ "$1" = echo ]; then
		out=$(taskset 1 $FZ "/sys/bus/pci/devices/$(vf 0)" "$PINGS" 0 echo "$sys" 0) || true
	else
		out=$(taskset 1 $FZ "/sys/bus/pci/devices/$(vf 0)" "$PINGS" 0 ping) || true
	fi
	echo "# $tag 1 VF: $out"
	bench "${tag}_p50_us" "$(stat "$out" reply_us 2)" us
	bench "${tag}_p99_us" "$(stat "$out" reply_us 3)" us
	for i in 0 1 2 3; do
		if [ "$1" = echo ]; then
			taskset 1 $FZ "/sys/bus/pci/devices/$(vf $i)" "$PINGS" 0 echo "$sys" $i >/tmp/ping.$i 2>&1 &
		else
			taskset 1 $FZ "/sys/bus/pci/devices/$(vf $i)" "$PINGS" 0 ping >/tmp/ping.$i 2>&1 &
		fi
	done
	wait || true
	for i in 0 1 2 3; do echo "# $tag VF $i of 4: $(cat /tmp/ping.$i)"; done
	bench "${tag}_4vfs_p50_us" "$(worst reply_us 2 /tmp/ping.0 /tmp/ping.1 /tmp/ping.2 /tmp/ping.3)" us
	bench "${tag}_4vfs_p99_us" "$(worst reply_us 3 /tmp/ping.0 /tmp/ping.1 /tmp/ping.2 /tmp/ping.3)" us
}

modprobe mlu270_pf
modprobe mlu270_vf
modprobe pci_pf_stub
# igbvf's probe resets the VF through igb's mailbox, which igb only
# serves while its interface is up.
$T up "$(ls "$isys/net")"
echo "# MLU270 PF $pf, igb PF $igb, $ROUNDS rounds, $PINGS pings"

r=0
while [ $r -lt "$ROUNDS" ]; do
	r=$((r + 1))
	echo "# round $r"
	# VF enable: echo 4 until the four VF drivers are ready.
	bench vf_enable_ms "$(us_to_ms "$($T enable "$pf" 4 mlu270_vf)")" ms
	bench flr_to_ready_ms "$(us_to_ms "$($T flr "$(vf 1)")")" ms

	# Mailbox round trips through the PF driver (HEARTBEAT).
	pin_pf_irqs
	for i in 0 1 2 3; do echo "$(vf $i)" >/sys/bus/pci/drivers/mlu270_vf/unbind; done
	pings mbox ping
	for i in 0 1 2 3; do echo "$(vf $i)" >/sys/bus/pci/drivers/mlu270_vf/bind; done

	# Throughput of a VF on a 1/4 slice, per operation.
	for op in $OPS; do
		bench "vf_quarter_${op}_mb_s" "$(wall "$(vf 1)" "$op")" MB/s
	done
	# Four VFs saturated at once: each one's share.
	for i in 0 1 2 3; do wall "$(vf $i)" memcpy >"/tmp/share.$i" & done
	wait
	for i in 0 1 2 3; do bench "four_vfs_vf${i}_memcpy_mb_s" "$(cat /tmp/share.$i)" MB/s; done
	# VF 1 while VF 3 floods the mailbox (the raw fuzzer, no pause).
	echo "$(vf 3)" >/sys/bus/pci/drivers/mlu270_vf/unbind
	$FZ "/sys/bus/pci/devices/$(vf 3)" 100000000 1 >/dev/null 2>&1 &
	f=$!
	bench vf_quarter_memcpy_flood_mb_s "$(wall "$(vf 1)" memcpy)" MB/s
	kill $f
	wait $f 2>/dev/null || true
	echo "$(vf 3)" >/sys/bus/pci/drivers/mlu270_vf/bind
	# VF 1 while VF 2 is reset (FLR) in a loop.
	(while :; do echo 1 >"/sys/bus/pci/devices/$(vf 2)/reset"; done) 2>/dev/null &
	l=$!
	bench vf_quarter_memcpy_resets_mb_s "$(wall "$(vf 1)" memcpy)" MB/s
	kill $l
	wait $l 2>/dev/null || true

	# Re-partition: 4 (above) -> 0 -> 3 -> 0.
	bench vf_disable_ms "$(us_to_ms "$($T disable "$pf")")" ms
	bench vf_enable3_ms "$(us_to_ms "$($T enable "$pf" 3 mlu270_vf)")" ms
	bench vf_disable3_ms "$(us_to_ms "$($T disable "$pf")")" ms

	# The PF's own node on the same 1/4 slice, per operation.
	echo 1/4 >"$sys/native_slice"
	for op in $OPS; do
		bench "pf_quarter_${op}_mb_s" "$(wall "$pf" "$op")" MB/s
	done
	echo 1/1 >"$sys/native_slice"

	# Our PF driver without VF drivers (the VFs only appear).
	echo 0 >"$sys/sriov_drivers_autoprobe"
	bench vf_enable_nodriver_ms "$(us_to_ms "$($T enable "$pf" 4)")" ms
	$T disable "$pf" >/dev/null
	echo 1 >"$sys/sriov_drivers_autoprobe"

	# The kernel's floor: pci-pf-stub on the same device, no VF driver;
	# then the mailbox floor (no PF driver: the tool echoes).
	rebind "$pf" pci-pf-stub
	echo 0 >"$sys/sriov_drivers_autoprobe"
	bench stub_enable_ms "$(us_to_ms "$($T enable "$pf" 4)")" ms
	pings echo echo
	bench stub_disable_ms "$(us_to_ms "$($T disable "$pf")")" ms
	echo 1 >"$sys/sriov_drivers_autoprobe"
	rebind "$pf" mlu270_pf

	# The peer: igb, echo 4 until igbvf is bound to the four VFs.
	bench igb_enable_ms "$(us_to_ms "$($T enable "$igb" 4 igbvf)")" ms
	bench igb_disable_ms "$(us_to_ms "$($T disable "$igb")")" ms
done
echo "# done"
