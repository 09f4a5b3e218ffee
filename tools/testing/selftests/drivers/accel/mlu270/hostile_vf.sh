#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 7200
# A hostile VF: mlu270_fuzz drives VF 1's mailbox registers directly
# (resource0, no driver) with random, malformed, replayed, wrong-direction
# and out-of-slice messages as fast as the PF takes them, while VF 0 runs
# jobs and VF 2 is reset (its handshake needs the PF). The PF must take
# every message, count each one (accepted + rejected = sent), log within
# VF 1's log budget, keep serving the other VFs, and VF 1 must bind normally
# afterwards. MLU270_STRESS=1 (make stress) sends 100,000 messages instead
# of 10,000. Restores sriov_numvfs.
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

if [ "${MLU270_STRESS:-0}" = 1 ]; then count=100000; else count=10000; fi
seed=${MLU270_SEED:-$(date +%s)}

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
node0=/dev/$(cat "/sys/bus/pci/devices/$vf0/job_node")

# debugfs column NAME of VF $1 in the PF's table.
col() { mlu270_vfs_col "$pf" "$1" "$2"; }

ktap_print_msg "fuzzing VF 1 with $count messages, seed $seed"
# What VF 1's driver sent before it was unbound (HELLO, GET_RESOURCES).
before=$(($(col 1 accepted) + $(col 1 rejected)))
mark fuzz
start=$(date +%s)
rm -f /tmp/hostile.ready
"$JOB" "$node0" hold 600000 /tmp/hostile.ready >/tmp/hostile.jobs 2>&1 &
jobs_pid=$!
# VF 0's jobs are in flight before the first hostile message.
mlu270_wait_file /tmp/hostile.ready 30
vf0_jobs_done() { sed -n 's/^jobs_completed: //p' "/sys/kernel/debug/mlu270_vf-$vf0/jobs"; }
done_at_start=$(vf0_jobs_done)
"$FUZZ" "/sys/bus/pci/devices/$vf1" "$count" "$seed" >/tmp/hostile.fuzz 2>&1 &
fuzz_pid=$!
# Meanwhile VF 2 is reset (FLR) every second: each time its driver needs
# the PF to answer its HELLO and GET_RESOURCES within 2 s.
resets=0 reset_failures=0
while :; do
	echo 1 >"/sys/bus/pci/devices/$vf2/reset" || reset_failures=$((reset_failures + 1))
	[ "$(cat "/sys/bus/pci/devices/$vf2/state")" = ready ] || reset_failures=$((reset_failures + 1))
	resets=$((resets + 1))
	kill -0 "$fuzz_pid" 2>/dev/null || break
	sleep 1
done
wait "$fuzz_pid"
fuzz_rc=$?
# VF 0's stream must have completed some jobs meanwhile, even if the
# fuzzer was quick: a DEPTH's worth.
wait_for '[ "$(vf0_jobs_done)" -ge $((done_at_start + 8)) ]' 30 ||
	echo "# VF 0 completed no 8 jobs while VF 1 was fuzzed"
kill "$jobs_pid" 2>/dev/null
wait "$jobs_pid"
elapsed=$(($(date +%s) - start))
ktap_print_msg "fuzzer: $(cat /tmp/hostile.fuzz) in $elapsed s"
ktap_print_msg "VF 0 jobs meanwhile: $(cat /tmp/hostile.jobs)"
ktap_print_msg "VF 2 resets meanwhile: $resets, failed: $reset_failures"

taken() { [ "$fuzz_rc" = 0 ] && grep -q "^sent=$count .* stuck=0$" /tmp/hostile.fuzz; }
mlu270_check "the PF took all $count messages" taken
counted() {
	local acc rej
	acc=$(col 1 accepted)
	rej=$(col 1 rejected)
	ktap_print_msg "PF counters of VF 1: accepted $acc, rejected $rej, rate-limited $(col 1 rate_limited) ($before before the fuzzer)"
	[ $((acc + rej - before)) = "$count" ] && [ "$(col 1 rate_limited)" -gt 0 ]
}
mlu270_check "the PF counted every message (accepted + rejected = sent), the flood hit the rate limit" counted
# The first rejection is logged (an operator must learn that a VF
# misbehaves); after that every line a VF causes comes out of its log
# budget (5 lines, then one per 5 s; LogBudget in protocol.rs), whatever
# kind of line it is and however often the VF resets itself.
log_bounded() {
	local n bound
	n=$(log_count fuzz "mlu270_pf $pf: VF 1[: ]")
	bound=$((5 + elapsed / 5 + 1))
	ktap_print_msg "$n log lines about VF 1 in $elapsed s (budget $bound)"
	[ "$(log_count fuzz "mlu270_pf $pf: VF 1: rejected message")" -ge 1 ] && [ "$n" -le "$bound" ]
}
mlu270_check "VF 1's rejections are logged, within its log budget" log_bounded
others_served() { [ "$resets" -gt 0 ] && [ "$reset_failures" = 0 ]; }
mlu270_check "VF 2's handshakes after each FLR succeeded meanwhile" others_served
# VF 0 is never reset here: none of its jobs may fail, be cancelled or
# run on wiped memory.
jobs_ok() {
	grep -q " reset=0 gone=0 failed=0 enodev=0 errors=0 wiped=0$" /tmp/hostile.jobs &&
		! grep -q " ok=0 " /tmp/hostile.jobs
}
mlu270_check "VF 0's jobs all completed meanwhile" jobs_ok
rebind() {
	echo "$vf1" >/sys/bus/pci/drivers/mlu270_vf/bind &&
		[ "$(cat "/sys/bus/pci/devices/$vf1/state")" = ready ] &&
		"$JOB" "/dev/$(cat "/sys/bus/pci/devices/$vf1/job_node")" ops
}
mlu270_check "VF 1 binds mlu270_vf afterwards and runs every op" rebind

mlu270_check "no warning in the kernel log" clean_log

ktap_finished
