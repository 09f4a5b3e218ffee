#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 1800
# solo: VF 2's round-trip bound (5 ms) is a latency the runner's other
# test guests would add to
# One VF's mailbox misbehaviour costs the other VFs nothing. VF 1 (no
# driver) asks for a reset over and over and never acknowledges the
# replies, while VF 2 (no driver) measures its HEARTBEAT round trips and
# VF 0 (mlu270_vf) runs jobs. The PF must not wait for VF 1 (the card
# resets it at the acknowledgement deadline), must rate-limit VF 1's
# resets (a RESET_REQUEST costs 25 tokens), log VF 1's lines within its
# log budget across all of its resets, and keep VF 2's round trips short.
# Figures (figure: lines): VF 2's reply p99, VF 1's log lines per minute.
# Restores sriov_numvfs.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"
JOB=$DIR/mlu270_job
FUZZ=$DIR/mlu270_fuzz

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -x "$FUZZ" ] && [ -x "$JOB" ] || { ktap_skip_all "the C helpers are not built"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
mlu270_keep_state "$pf"

# VF 2's pings are 25 ms apart: 400 take 10 s, 2400 a minute.
if [ "${MLU270_STRESS:-0}" = 1 ]; then pings=2400; else pings=400; fi

ktap_set_plan 8
mark start

mlu270_require_pf
echo 0 >"$sys/sriov_numvfs"
modprobe mlu270_vf
echo 4 >"$sys/sriov_numvfs"
vf0=$(mlu270_vf_of "$pf" 0)
vf1=$(mlu270_vf_of "$pf" 1)
vf2=$(mlu270_vf_of "$pf" 2)
echo "$vf1" >/sys/bus/pci/drivers/mlu270_vf/unbind
echo "$vf2" >/sys/bus/pci/drivers/mlu270_vf/unbind
node0=/dev/$(cat "/sys/bus/pci/devices/$vf0/job_node")

col() { mlu270_vfs_col "$pf" "$1" "$2"; }

# As in make bench: the PF's interrupts (and their threads) and VF 2's
# pinger share CPU 0, so that a reply's interrupt preempts the poller
# instead of waiting for the other vCPU's turn; VF 1 and VF 0's jobs run
# on CPU 1. What VF 2 then sees is the PF's service, not vCPU scheduling.
for irq in $(awk '/mlu270_pf/ { sub(":", "", $1); print $1 }' /proc/interrupts); do
	echo 0 >"/proc/irq/$irq/smp_affinity_list" 2>/dev/null
done
# VF 2's floor: round trips while nobody misbehaves.
taskset 1 "$FUZZ" "/sys/bus/pci/devices/$vf2" 200 1 ping >/tmp/mbiso.quiet 2>&1
ktap_print_msg "VF 2 alone: $(cat /tmp/mbiso.quiet)"

# The test VM's console is a 115200-baud serial port printing at
# loglevel 7: every info line costs the thread that logs it ~10 ms of
# serial output, which would measure the console, not the driver. Host
# consoles print warnings and worse (loglevel 5), as here during the
# measurement; splats still reach the console.
printk_was=$(cut -f1 /proc/sys/kernel/printk)
echo 5 >/proc/sys/kernel/printk
mark loop
start=$(date +%s)
rm -f /tmp/mbiso.ready
# VF 0 runs 64 KiB jobs: the emulated card runs a job's DMA in one piece
# under QEMU's global lock, so that other vCPUs' MMIO (VF 2's polling)
# waits for it; with 4 MiB jobs that made single round trips of 9-13 ms
# and a p99 above 5 ms in some runs, with 64 KiB jobs the max was 2-4 ms
# (five runs each). That is the model's doing, not the PF's.
taskset 2 "$JOB" "$node0" stream 100000000 65536 /tmp/mbiso.ready >/tmp/mbiso.jobs 2>&1 &
jobs_pid=$!
mlu270_wait_file /tmp/mbiso.ready 30
# As many requests as it can make while VF 2 measures (each waits for its
# reset or a rate-limited silence).
taskset 2 "$FUZZ" "/sys/bus/pci/devices/$vf1" 100000 1 resetloop >/tmp/mbiso.loop 2>&1 &
loop_pid=$!
taskset 1 "$FUZZ" "/sys/bus/pci/devices/$vf2" "$pings" 2 ping >/tmp/mbiso.ping 2>&1
ping_rc=$?
kill "$loop_pid" 2>/dev/null
wait "$loop_pid"
elapsed=$(($(date +%s) - start))
echo "$printk_was" >/proc/sys/kernel/printk
kill "$jobs_pid" 2>/dev/null
wait "$jobs_pid"
ktap_print_msg "VF 2 while VF 1 loops: $(cat /tmp/mbiso.ping)"
ktap_print_msg "VF 0 jobs meanwhile: $(cat /tmp/mbiso.jobs)"
ktap_print_msg "PF: VF 1 resets $(col 1 resets) rejected $(col 1 rejected) rate_limited $(col 1 rate_limited) replies_dropped $(col 1 replies_dropped) log_suppressed $(col 1 log_suppressed)"

p99() { sed -n 's/.*reply_us=[0-9]*\/[0-9]*\/\([0-9]*\)\/.*/\1/p' "$1"; }
quiet_p99=$(p99 /tmp/mbiso.quiet)
loop_p99=$(p99 /tmp/mbiso.ping)
lines=$(log_count loop "mlu270_pf $pf: VF 1[: ]")
echo "# figure: other_vf_mailbox_p99_us quiet=$quiet_p99 misbehaving_neighbour=$loop_p99"
echo "# figure: misbehaving_vf_log_lines $lines in $elapsed s (budget: 5 + 1 per 5 s = $((5 + elapsed / 5)); 17 in any minute)"

resets_made() { [ "$(col 1 resets)" -ge 3 ]; }
mlu270_check "VF 1's unacknowledged resets happen (the card's deadline)" resets_made
# 50 tokens/s, 25 per reset: at most 2 resets a second plus the burst.
rate_limited() { [ "$(col 1 resets)" -le $((2 * elapsed + 2)) ]; }
mlu270_check "VF 1's resets are rate-limited" rate_limited
served() { [ "$ping_rc" = 0 ] && grep -q " lost=0$" /tmp/mbiso.ping; }
mlu270_check "VF 2 got every HEARTBEAT reply" served
# The goal is 2 ms of guest time (the figure above). Under TCG the quiet
# p99 alone is about 1 ms and a few samples of 400 land on vCPU scheduling,
# so the check fails above 5 ms: what it must catch is the PF waiting for
# VF 1 (100 ms per reset with a driver that waits for the acknowledgement:
# 460 ms measured), not TCG's noise.
fast() { [ -n "$loop_p99" ] && [ "$loop_p99" -lt 5000 ]; }
mlu270_check "VF 2's reply p99 stays within 5 ms while VF 1 loops ($loop_p99 us; goal 2 ms)" fast
# LogBudget: 5 lines, then one per 5 s, across VF 1's resets.
budget() { [ "$lines" -ge 1 ] && [ "$lines" -le $((5 + elapsed / 5 + 1)) ]; }
mlu270_check "VF 1's log lines stay within its budget ($lines in $elapsed s)" budget
jobs_ok() {
	grep -q " reset=0 gone=0 failed=0 enodev=0 errors=0 wiped=0$" /tmp/mbiso.jobs &&
		! grep -q " ok=0 " /tmp/mbiso.jobs
}
mlu270_check "VF 0's jobs all completed meanwhile" jobs_ok

mlu270_check "no warning in the kernel log" clean_log

ktap_finished
