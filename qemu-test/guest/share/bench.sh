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
#
# A step that fails, or a figure that is missing, not a number or not > 0,
# ends the run at once with a "# bench: FAILED: ..." line and exit 1 (the
# runner then sees MLU270-DEMO-EXIT 1 and `make bench` writes no report).
# set -e alone cannot see it: the status of a $(...) inside an argument is
# lost, so every measurement goes through a variable assignment checked
# with `|| fail`, and bench() checks the value it prints. Any other
# command that fails ends the run through set -e, and the EXIT trap says so.
set -e
failed=
trap 'rc=$?; [ $rc -eq 0 ] || [ -n "$failed" ] || echo "# bench: FAILED: a step failed (exit $rc): see the lines above"' EXIT
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
# fail MESSAGE: end the run (see the top)
fail() {
	failed=1
	echo "# bench: FAILED: $*"
	exit 1
}
pf=$(find_dev 0xcabc 0x0270) || fail "no MLU270"
igb=$(find_dev 0x8086 0x10c9) || fail "no igb (the runner adds one in bench mode)"
sys=/sys/bus/pci/devices/$pf
isys=/sys/bus/pci/devices/$igb
# vf INDEX: the PCI address of the PF's VF INDEX (fails if there is none)
vf() {
	[ -e "$sys/virtfn$1" ] || return 1
	basename "$(readlink -f "$sys/virtfn$1")"
}
# four_vfs WHAT: set vf0..vf3 to the PF's VFs 0..3 (the run fails without)
four_vfs() {
	vf0=$(vf 0) && vf1=$(vf 1) && vf2=$(vf 2) && vf3=$(vf 3) ||
		fail "$1: the PF does not have 4 VFs"
}
# bench NAME VALUE UNIT: one figure; VALUE must be a number > 0
bench() {
	case "$2" in
	'' | *[!0-9.]* | *.*.* | .) fail "$1: no figure (got '$2')" ;;
	esac
	awk -v v="$2" 'BEGIN { exit !(v + 0 > 0) }' || fail "$1: figure $2 is not > 0"
	echo "BENCH $1 $2 $3"
}
# us_to_ms MICROSECONDS
us_to_ms() {
	case "$1" in
	'' | *[!0-9]*) return 1 ;;
	esac
	awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'
}
# timed NAME CMD...: CMD prints microseconds (mlu270_timing); report NAME in ms
timed() {
	local name=$1 us ms
	shift
	us=$("$@") || fail "$name: '$*' failed (exit $?)"
	ms=$(us_to_ms "$us") || fail "$name: '$*' printed '$us', not microseconds"
	bench "$name" "$ms" ms
}
# wall FUNCTION OP: wall-clock MB/s of 256 jobs of 64 KiB, 16 in flight
wall() {
	local out
	out=$(mlu270-smi --json bench "$1" "$2" --len 65536 --count 256) || return 1
	echo "$out" | sed -n 's/.*"wall_mb_s": \([0-9.]*\).*/\1/p'
}
# throughput NAME FUNCTION OP: report wall FUNCTION OP as NAME
throughput() {
	local v
	v=$(wall "$2" "$3") || fail "$1: mlu270-smi bench $2 $3 failed"
	bench "$1" "$v" MB/s
}
# stat OUTPUT NAME INDEX: field INDEX (1 min, 2 p50, 3 p99, 4 max) of
# NAME=a/b/c/d in a line of mlu270_fuzz
stat() {
	echo "$1" | sed -n "s/.*$2=\([0-9]*\)\/\([0-9]*\)\/\([0-9]*\)\/\([0-9]*\).*/\\$3/p"
}
# worst NAME INDEX FILE...: the largest field over several outputs (fails
# if one of them lacks it)
worst() {
	local name=$1 idx=$2 f v m=0
	shift 2
	for f in "$@"; do
		v=$(stat "$(cat "$f")" "$name" "$idx")
		[ -n "$v" ] || return 1
		[ "$v" -gt "$m" ] && m=$v
	done
	echo "$m"
}
# stop PID: end a background load that must still be running; fails if it
# had ended by itself (it was not killed by this TERM)
stop() {
	local rc=0
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || rc=$?
	[ $rc -gt 128 ]
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
# pings TAG MODE: mailbox round trips of VF 0 alone, then of all four at
# once; the VFs have no driver. MODE: "ping", or "echo" for the floor (the
# tool plays the PF).
pings() {
	local tag=$1 i v out pids p
	four_vfs "$tag"
	if [ "$2" = echo ]; then
		out=$(taskset 1 $FZ "/sys/bus/pci/devices/$vf0" "$PINGS" 0 echo "$sys" 0) ||
			fail "$tag: mlu270_fuzz echo on VF 0 failed: $out"
	else
		out=$(taskset 1 $FZ "/sys/bus/pci/devices/$vf0" "$PINGS" 0 ping) ||
			fail "$tag: mlu270_fuzz ping on VF 0 failed: $out"
	fi
	echo "# $tag 1 VF: $out"
	bench "${tag}_p50_us" "$(stat "$out" reply_us 2)" us
	bench "${tag}_p99_us" "$(stat "$out" reply_us 3)" us
	i=0
	pids=""
	for v in $vf0 $vf1 $vf2 $vf3; do
		if [ "$2" = echo ]; then
			taskset 1 $FZ "/sys/bus/pci/devices/$v" "$PINGS" 0 echo "$sys" $i >/tmp/ping.$i 2>&1 &
		else
			taskset 1 $FZ "/sys/bus/pci/devices/$v" "$PINGS" 0 ping >/tmp/ping.$i 2>&1 &
		fi
		pids="$pids $!"
		i=$((i + 1))
	done
	i=0
	for p in $pids; do
		wait "$p" || fail "$tag: mlu270_fuzz on VF $i of 4 failed: $(cat /tmp/ping.$i)"
		i=$((i + 1))
	done
	for i in 0 1 2 3; do echo "# $tag VF $i of 4: $(cat /tmp/ping.$i)"; done
	v=$(worst reply_us 2 /tmp/ping.0 /tmp/ping.1 /tmp/ping.2 /tmp/ping.3) ||
		fail "${tag}_4vfs_p50_us: a VF's output has no reply_us"
	bench "${tag}_4vfs_p50_us" "$v" us
	v=$(worst reply_us 3 /tmp/ping.0 /tmp/ping.1 /tmp/ping.2 /tmp/ping.3) ||
		fail "${tag}_4vfs_p99_us: a VF's output has no reply_us"
	bench "${tag}_4vfs_p99_us" "$v" us
}

for m in mlu270_pf mlu270_vf pci_pf_stub; do
	modprobe $m || fail "modprobe $m"
done
# igbvf's probe resets the VF through igb's mailbox, which igb only
# serves while its interface is up.
ifname=$(ls "$isys/net") && [ -n "$ifname" ] || fail "igb $igb has no network interface"
$T up "$ifname" || fail "cannot bring $ifname up"
echo "# MLU270 PF $pf, igb PF $igb, $ROUNDS rounds, $PINGS pings"

r=0
while [ $r -lt "$ROUNDS" ]; do
	r=$((r + 1))
	echo "# round $r"
	# VF enable: echo 4 until the four VF drivers are ready.
	timed vf_enable_ms $T enable "$pf" 4 mlu270_vf
	four_vfs "round $r"
	timed flr_to_ready_ms $T flr "$vf1"

	# Mailbox round trips through the PF driver (HEARTBEAT).
	pin_pf_irqs
	for v in $vf0 $vf1 $vf2 $vf3; do echo "$v" >/sys/bus/pci/drivers/mlu270_vf/unbind; done
	pings mbox ping
	for v in $vf0 $vf1 $vf2 $vf3; do echo "$v" >/sys/bus/pci/drivers/mlu270_vf/bind; done

	# Throughput of a VF on a 1/4 slice, per operation.
	for op in $OPS; do
		throughput "vf_quarter_${op}_mb_s" "$vf1" "$op"
	done
	# Four VFs saturated at once: each one's share.
	i=0
	pids=""
	for v in $vf0 $vf1 $vf2 $vf3; do
		wall "$v" memcpy >"/tmp/share.$i" &
		pids="$pids $!"
		i=$((i + 1))
	done
	i=0
	for p in $pids; do
		wait "$p" || fail "four_vfs_vf${i}_memcpy_mb_s: mlu270-smi bench failed"
		i=$((i + 1))
	done
	for i in 0 1 2 3; do bench "four_vfs_vf${i}_memcpy_mb_s" "$(cat /tmp/share.$i)" MB/s; done
	# VF 1 while VF 3 floods the mailbox (the raw fuzzer, no pause; it
	# only ends by itself if the PF stops taking messages).
	echo "$vf3" >/sys/bus/pci/drivers/mlu270_vf/unbind
	$FZ "/sys/bus/pci/devices/$vf3" 100000000 1 >/tmp/flood 2>&1 &
	f=$!
	throughput vf_quarter_memcpy_flood_mb_s "$vf1" memcpy
	stop $f || fail "vf_quarter_memcpy_flood_mb_s: the flood ended by itself: $(cat /tmp/flood)"
	echo "$vf3" >/sys/bus/pci/drivers/mlu270_vf/bind
	# VF 1 while VF 2 is reset (FLR) in a loop (the loop ends at the
	# first reset that fails).
	(while :; do echo 1 >"/sys/bus/pci/devices/$vf2/reset" || exit 1; done) 2>/dev/null &
	l=$!
	throughput vf_quarter_memcpy_resets_mb_s "$vf1" memcpy
	stop $l || fail "vf_quarter_memcpy_resets_mb_s: a reset of VF 2 failed"

	# Re-partition: 4 (above) -> 0 -> 3 -> 0.
	timed vf_disable_ms $T disable "$pf"
	timed vf_enable3_ms $T enable "$pf" 3 mlu270_vf
	timed vf_disable3_ms $T disable "$pf"

	# The PF's own node on the same 1/4 slice, per operation.
	echo 1/4 >"$sys/native_slice"
	for op in $OPS; do
		throughput "pf_quarter_${op}_mb_s" "$pf" "$op"
	done
	echo 1/1 >"$sys/native_slice"

	# Our PF driver without VF drivers (the VFs only appear).
	echo 0 >"$sys/sriov_drivers_autoprobe"
	timed vf_enable_nodriver_ms $T enable "$pf" 4
	$T disable "$pf" >/dev/null
	echo 1 >"$sys/sriov_drivers_autoprobe"

	# The kernel's floor: pci-pf-stub on the same device, no VF driver;
	# then the mailbox floor (no PF driver: the tool echoes).
	rebind "$pf" pci-pf-stub
	echo 0 >"$sys/sriov_drivers_autoprobe"
	timed stub_enable_ms $T enable "$pf" 4
	pings echo echo
	timed stub_disable_ms $T disable "$pf"
	echo 1 >"$sys/sriov_drivers_autoprobe"
	rebind "$pf" mlu270_pf

	# The peer: igb, echo 4 until igbvf is bound to the four VFs.
	timed igb_enable_ms $T enable "$igb" 4 igbvf
	timed igb_disable_ms $T disable "$igb"
done
echo "# done"
