#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The job path, through the job nodes (/dev/mlu270-pf<n>, /dev/mlu270-vf<n>)
# and the mlu270_job helper: the native node on the PF while no VF is
# enabled; every default layout's VF nodes (slice, every engine op against
# a reference, the cost of a slice); bad input; concurrent submitters;
# isolation of the slices; an FLR of one VF during jobs on all four; unbind
# of a VF and of the PF during jobs. Restores the PF's driver and
# sriov_numvfs.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"
JOB=$DIR/mlu270_job

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -x "$JOB" ] || { ktap_skip_all "mlu270_job is not built"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
mlu270_keep_state "$pf"

ktap_set_plan 37

mark start

mlu270_require_pf
echo 0 >"$sys/sriov_numvfs"
modprobe mlu270_vf

# node BDF: the job node of a bound function.
node() {
	local name
	mlu270_attr name "/sys/bus/pci/devices/$1/job_node"
	echo "/dev/$name"
}
# info BDF: the node's INFO (KEY=VALUE lines) into $INFO; then has KEY
# VALUE: $INFO says KEY=VALUE. (One INFO for several keys: a process
# costs 40-70 ms under the debug kernel and TCG.)
info() { INFO=$("$JOB" "$(node "$1")" info); }
has() {
	case "
$INFO
" in
	*"
$1=$2
"*) return 0 ;;
	esac
	return 1
}
# info_is BDF KEY VALUE: the node's INFO says KEY=VALUE.
info_is() { info "$1" && has "$2" "$3"; }

pfnode=$(node "$pf")
native_node() { [ -c "$pfnode" ] && mlu270_matches "$pfnode" '^/dev/mlu270-pf[0-3]$'; }
mlu270_check "the PF has a job node ($pfnode)" native_node
native_info() {
	info "$pf" && has function 0 && has quarters 4 && has mem_mb 256 &&
		has ipu_mask 0xffff && has abi_version 2
}
mlu270_check "native INFO: function 0, the whole card" native_info
native_ops() { "$JOB" "$pfnode" ops; }
mlu270_check "native: every engine op matches the reference" native_ops
native_errors() { "$JOB" "$pfnode" errors; }
mlu270_check "native: bad input gets the documented errno" native_errors
# time BDF OP LEN: device time of one job, ns.
jtime() { "$JOB" "$(node "$1")" time "$2" "$3"; }
native_cost() { [ "$(jtime "$pf" memcpy 65536)" = 65536 ]; }
mlu270_check "native: the whole card copies 1 byte/ns" native_cost
native_quarter() {
	local rc=0
	mlu270_write "$sys/native_slice" 1/4 || return 1
	[ "$(cat "$sys/native_slice")" = 1/4 ] && info "$pf" && has quarters 1 && has mem_mb 64 &&
		has ipu_mask 0x000f && [ "$(jtime "$pf" memcpy 65536)" = 262144 ] || rc=1
	mlu270_write "$sys/native_slice" 1/1 || rc=1
	info_is "$pf" mem_mb 256 || rc=1
	return $rc
}
mlu270_check "native_slice 1/4: the PF's node is a quarter of the card (4x slower)" native_quarter
native_bad() {
	local out
	out=$(mlu270_write "$sys/native_slice" 3/4) && return 1
	mlu270_matches "$out" "invalid argument" && [ "$(cat "$sys/native_slice")" = 1/1 ] &&
		log_since start | grep -q "mlu270_pf $pf: native_slice: want 1/4, 1/2 or 1/1"
}
mlu270_check "native_slice 3/4 fails with EINVAL and changes nothing" native_bad

# Native jobs in flight keep the VFs off; then VFs keep native jobs off.
rm -f /tmp/jobs.hold.ready
# (held until the check is done: a fixed 3 s once ran out before the
# echo under load; SIGTERM ends the stream with its report)
"$JOB" "$pfnode" hold 600000 /tmp/jobs.hold.ready >/tmp/jobs.hold 2>&1 &
holder=$!
mlu270_wait_file /tmp/jobs.hold.ready 30
busy_enable() {
	local out
	out=$(mlu270_write "$sys/sriov_numvfs" 4) && return 1
	mlu270_matches "$out" "busy" &&
		log_since start | grep -q "mlu270_pf $pf: cannot enable VFs while native jobs are in flight"
}
mlu270_check "echo 4 with native jobs in flight fails with EBUSY" busy_enable
kill -TERM "$holder"
wait "$holder"
holder_rc=$?
# (nothing resets the PF meanwhile: no job may be excused)
holder_ok() {
	[ "$holder_rc" = 0 ] &&
		grep -q " reset=0 gone=0 failed=0 enodev=0 errors=0 wiped=0$" /tmp/jobs.hold &&
		! grep -q " ok=0 " /tmp/jobs.hold
}
mlu270_check "the native jobs completed" holder_ok

echo 4 >"$sys/sriov_numvfs"
native_blocked() {
	local out
	out=$("$JOB" "$pfnode" time nop 64 2>&1) && return 1
	mlu270_matches "$out" "busy" && info "$pf" && has quarters 0 && has mem_mb 0
}
mlu270_check "with VFs enabled the native node refuses jobs (EBUSY)" native_blocked
native_slice_busy() {
	local out
	out=$(mlu270_write "$sys/native_slice" 1/2) && return 1
	mlu270_matches "$out" "busy"
}
mlu270_check "with VFs enabled native_slice fails with EBUSY" native_slice_busy
echo 0 >"$sys/sriov_numvfs"

# Completions found by the fallback poll on the VFs, summed before a VF's
# counters go away (unbind, echo 0, rmmod). A VF without its debugfs file
# counts as 1000: its counter could not be read.
vf_poll_total=0
add_vf_polls() {
	local vf n
	for vf in "$@"; do
		n=$(sed -n 's/^poll_completions: //p' "/sys/kernel/debug/mlu270_vf-$vf/jobs" 2>/dev/null)
		vf_poll_total=$((vf_poll_total + ${n:-1000}))
	done
}
# (VF 3's masked interrupt below makes some on purpose)
deliberate_polls=0

# layout N "Q0 Q1 .." "MB0 MB1 ..": every VF's node reports its slice and
# runs every op; the cost of a memcpy scales with the slice.
layout() {
	local n=$1 quarters=$2 mbs=$3 i=0 vf q mb rc=0
	echo "$n" >"$sys/sriov_numvfs" || return 1
	for q in $quarters; do
		set -- $mbs
		shift $i
		mb=$1
		vf=$(mlu270_vf_of "$pf" $i)
		if ! info "$vf" || ! has function $((i + 1)) || ! has quarters "$q" ||
			! has mem_mb "$mb" || ! has protocol_version 2; then
			echo "# VF $i: INFO is not a $q/4 slice of $mb MiB"
			rc=1
		elif ! "$JOB" "$(node "$vf")" ops; then
			echo "# VF $i: ops failed"
			rc=1
		elif [ "$(jtime "$vf" memcpy 65536)" != $((65536 * 4 / q)) ]; then
			echo "# VF $i: a 64 KiB memcpy took $(jtime "$vf" memcpy 65536) ns"
			rc=1
		fi
		i=$((i + 1))
	done
	add_vf_polls $(for i in $(seq 0 $((n - 1))); do mlu270_vf_of "$pf" "$i"; done)
	echo 0 >"$sys/sriov_numvfs"
	return $rc
}
layout1() { layout 1 "4" "256"; }
layout2() { layout 2 "2 2" "128 128"; }
layout3() { layout 3 "2 1 1" "128 64 64"; }
layout4() { layout 4 "1 1 1 1" "64 64 64 64"; }
mlu270_check "1 VF: INFO, every op, 1 byte/ns" layout1
mlu270_check "2 VFs: INFO, every op, 1/2 byte/ns" layout2
mlu270_check "3 VFs: INFO, every op, cost per slice" layout3
mlu270_check "4 VFs: INFO, every op, a quarter slice is 4x slower" layout4

echo 4 >"$sys/sriov_numvfs"
vf0=$(mlu270_vf_of "$pf" 0)
vf1=$(mlu270_vf_of "$pf" 1)
vf2=$(mlu270_vf_of "$pf" 2)
vf3=$(mlu270_vf_of "$pf" 3)
vf_nodes() {
	[ -c "$(node "$vf0")" ] && [ -c "$(node "$vf3")" ] && [ "$(node "$vf0")" != "$(node "$vf3")" ]
}
mlu270_check "each VF has its own job node" vf_nodes
vf_errors() { "$JOB" "$(node "$vf2")" errors; }
mlu270_check "VF: bad input gets the documented errno" vf_errors

# A lost completion interrupt would only slow jobs down (the waiters poll
# the device every 100 ms): at queue depth 1 a job's round trip must stay
# far below the poll period, and no completion may have been found by the
# poll rather than the interrupt. The job is a 256 KiB fill (1 ms of device
# time on a quarter slice): a NOP is complete before its WAIT even starts,
# so it would not need the interrupt at all.
# jobs_counter BDF DRIVER NAME: a counter of a function's debugfs "jobs".
jobs_counter() { sed -n "s/^$3: //p" "/sys/kernel/debug/$2-$1/jobs"; }
qd1_latency() {
	local out p99
	out=$("$JOB" "$(node "$1")" latency 100 fill 262144) || return 1
	echo "# $1 256 KiB fill round trip at queue depth 1: $out"
	p99=$(echo "$out" | sed -n 's/.* p99_us=\([0-9]*\).*/\1/p')
	[ -n "$p99" ] && [ "$p99" -lt 20000 ]
}
vf_latency() { qd1_latency "$vf0" && [ "$(jobs_counter "$vf0" mlu270_vf poll_completions)" = 0 ]; }
mlu270_check "VF: job round trip p99 under 20 ms at queue depth 1, no completion found by polling" vf_latency
# The two checks above can fail: with VF 3's JOB_DONE interrupt masked in
# the device (INT_ENABLE bit 0, as a lost interrupt), its jobs complete only
# through the poll: slow, and counted.
lost_interrupt() {
	local base en out p50 n
	base=$(mlu270_bar0 "$vf3")
	en=$(mlu270_rd "$base" 0x44)
	mlu270_wr "$base" 0x44 $((en & ~1))
	out=$("$JOB" "$(node "$vf3")" latency 5 fill 262144)
	mlu270_wr "$base" 0x44 "$en"
	# (a polled completion is counted once 100 ms passed without its IRQ)
	wait_for '[ "$(jobs_counter "$vf3" mlu270_vf poll_completions)" -gt 0 ]' 5
	n=$(jobs_counter "$vf3" mlu270_vf poll_completions)
	deliberate_polls=${n:-0}
	echo "# VF 3 with JOB_DONE masked: $out; poll_completions $n"
	p50=$(echo "$out" | sed -n 's/.* p50_us=\([0-9]*\).*/\1/p')
	# (most, not all 5: a job the device finished before its submitter
	# went to sleep is collected by the pass before sleeping, uncounted;
	# under load that happened to the first job, in 3 ms)
	[ -n "$p50" ] && [ "$p50" -ge 50000 ] && [ "${n:-0}" -ge 3 ]
}
mlu270_check "a masked completion interrupt shows: jobs wait for the poll, poll_completions counts them" lost_interrupt

# Isolation: VF 0 fills the start of its window; VF 1's window (freshly
# zeroed by the device) does not see it, and neither can reach the other's.
isolation() {
	local mine theirs zeroes
	"$JOB" "$(node "$vf0")" fill 0 0x5a 65536 || return 1
	mine=$("$JOB" "$(node "$vf0")" crc 0 65536)
	theirs=$("$JOB" "$(node "$vf1")" crc 0 65536)
	"$JOB" "$(node "$vf2")" fill 0 0 65536 || return 1
	zeroes=$("$JOB" "$(node "$vf2")" crc 0 65536)
	echo "# CRC of 64 KiB: VF 0 (filled with 0x5a) $mine, VF 1 $theirs, zeroes $zeroes"
	[ "$theirs" = "$zeroes" ] && [ "$mine" != "$theirs" ]
}
mlu270_check "slices are isolated: VF 1 does not see VF 0's memory" isolation
beyond() {
	local out
	out=$("$JOB" "$(node "$vf1")" fill $((64 << 20)) 0x5a 64 2>&1) && return 1
	mlu270_matches "$out" "numerical result out of range\|ERANGE\|-34"
}
mlu270_check "a VF cannot address past its window (ERANGE)" beyond

# Concurrent submitters: two processes on each VF.
concurrent() {
	local i n=0 pids="" rc=0
	for i in 0 1 2 3 0 1 2 3; do
		n=$((n + 1))
		"$JOB" "$(node "$(mlu270_vf_of "$pf" $i)")" stream 150 16384 >"/tmp/jobs.c$n.$$" 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p" || rc=1; done
	grep -h . /tmp/jobs.c*.$$ | sed 's/^/# /'
	# Nothing resets these VFs: every job of every process completes with
	# the right data; none may be excused as cancelled or wiped.
	[ "$(cat /tmp/jobs.c*.$$ | grep -cx "submitted=150 ok=150 reset=0 gone=0 failed=0 enodev=0 errors=0 wiped=0")" = 8 ] || rc=1
	rm -f /tmp/jobs.c*.$$
	return $rc
}
mlu270_check "8 processes on 4 VFs: every job completes with the right data" concurrent

# FLR of VF 1 while all four VFs run jobs: VF 1's jobs in flight fail with
# RESET, the others notice nothing, VF 1 works again.
flr_during_jobs() {
	local i pids="" rc=0
	for i in 0 1 2 3; do
		rm -f "/tmp/jobs.f$i.ready"
		"$JOB" "$(node "$(mlu270_vf_of "$pf" $i)")" hold 4000 "/tmp/jobs.f$i.ready" >"/tmp/jobs.f$i" 2>&1 &
		pids="$pids $!"
	done
	for i in 0 1 2 3; do mlu270_wait_file "/tmp/jobs.f$i.ready" 30 || rc=1; done
	mlu270_write "/sys/bus/pci/devices/$vf1/reset" 1 || rc=1
	for p in $pids; do wait "$p" || rc=1; done
	for i in 0 1 2 3; do echo "# VF $i: $(cat /tmp/jobs.f$i)"; done
	grep -q " reset=[1-9].* failed=0 " /tmp/jobs.f1 || rc=1
	for i in 0 2 3; do
		grep -q " reset=0 gone=0 failed=0 .* wiped=0$" "/tmp/jobs.f$i" || rc=1
		grep -q " ok=0 " "/tmp/jobs.f$i" && rc=1
	done
	return $rc
}
mlu270_check "FLR of VF 1 during jobs: its jobs fail with RESET, the others complete" flr_during_jobs

# A reset between two jobs fails none of them, yet it zeroes the window:
# INFO's resets tells the user. It changes with an idle FLR, only on the
# VF that was reset.
info_resets() { "$JOB" "$(node "$1")" info | sed -n 's/^resets=//p'; }
resets_count() {
	local r0 r1 n0 n1
	r0=$(info_resets "$vf0") && r1=$(info_resets "$vf1") || return 1
	mlu270_write "/sys/bus/pci/devices/$vf1/reset" 1 || return 1
	n0=$(info_resets "$vf0") && n1=$(info_resets "$vf1") || return 1
	echo "# INFO resets: VF 0 $r0 -> $n0, VF 1 $r1 -> $n1 (one idle FLR of VF 1)"
	[ -n "$r0" ] && [ -n "$r1" ] && [ -n "$n0" ] && [ -n "$n1" ] &&
		[ "$n1" != "$r1" ] && [ "$n0" = "$r0" ]
}
mlu270_check "an idle FLR changes INFO's resets of that VF only" resets_count
after_flr() { "$JOB" "$(node "$vf1")" ops; }
mlu270_check "VF 1 runs every op after its FLR" after_flr

# The PF resets VF 2 (sysfs reset_vf) while VFs 0 and 2 run jobs: VF 2 is
# told (RESET_NOTIFY), its jobs in flight fail with RESET, it comes back by
# itself (new handshake, queue restarted); VF 0 notices nothing.
mark pfreset
pf_reset_during_jobs() {
	local i pids="" rc=0
	for i in 0 2; do
		rm -f "/tmp/jobs.r$i.ready"
		"$JOB" "$(node "$(mlu270_vf_of "$pf" $i)")" hold 4000 "/tmp/jobs.r$i.ready" >"/tmp/jobs.r$i" 2>&1 &
		pids="$pids $!"
	done
	for i in 0 2; do mlu270_wait_file "/tmp/jobs.r$i.ready" 30 || rc=1; done
	mlu270_write "$sys/reset_vf" 2 || rc=1
	for p in $pids; do wait "$p" || rc=1; done
	for i in 0 2; do echo "# VF $i: $(cat /tmp/jobs.r$i)"; done
	grep -q " reset=[1-9].* failed=0 " /tmp/jobs.r2 || rc=1
	grep -q " reset=0 gone=0 failed=0 .* wiped=0$" /tmp/jobs.r0 || rc=1
	grep -q " ok=0 " /tmp/jobs.r0 && rc=1
	return $rc
}
mlu270_check "PF reset of VF 2 during jobs: its jobs fail with RESET, VF 0 completes" pf_reset_during_jobs
recovered() {
	log_since pfreset | grep -q "mlu270_pf $pf: VF 2: reset by the administrator" &&
		log_since pfreset | grep -q "mlu270_vf $vf2: VF 2: PF notification (reset by the administrator); recovering after the reset" &&
		log_since pfreset | grep -q "mlu270_vf $vf2: VF 2: recovered from the PF's reset" &&
		[ "$(cat "/sys/bus/pci/devices/$vf2/state")" = ready ] &&
		"$JOB" "$(node "$vf2")" ops
}
mlu270_check "VF 2 recovers by itself and runs every op" recovered
bad_reset_vf() {
	local out
	out=$(mlu270_write "$sys/reset_vf" 7) && return 1
	mlu270_matches "$out" "invalid argument" &&
		log_since pfreset | grep -q "mlu270_pf $pf: reset_vf: VF 7 is not enabled (4 VFs)"
}
mlu270_check "reset_vf of a VF that is not enabled fails with EINVAL" bad_reset_vf

# Unbind a VF during jobs: the jobs end (GONE or ENODEV), no hang, and a
# rebind brings the node back.
mark unbind
unbind_vf() {
	local holder rc=0 node2
	node2=$(node "$vf2")
	rm -f /tmp/jobs.u.ready
	"$JOB" "$node2" hold 5000 /tmp/jobs.u.ready >/tmp/jobs.u 2>&1 &
	holder=$!
	mlu270_wait_file /tmp/jobs.u.ready 30 || rc=1
	add_vf_polls "$vf2"
	echo "$vf2" >/sys/bus/pci/drivers/mlu270_vf/unbind || rc=1
	wait "$holder"
	echo "# $(cat /tmp/jobs.u)"
	grep -q "gone=[1-9]\|enodev=[1-9]" /tmp/jobs.u || rc=1
	[ -e "$node2" ] && rc=1
	echo "$vf2" >/sys/bus/pci/drivers/mlu270_vf/bind || rc=1
	info_is "$vf2" function 3 || rc=1
	return $rc
}
mlu270_check "unbinding a VF during jobs cancels them; rebinding works" unbind_vf

# Disable the VFs while they run jobs.
disable_busy() {
	local i pids="" rc=0
	for i in 0 3; do
		rm -f "/tmp/jobs.d$i.ready"
		"$JOB" "$(node "$(mlu270_vf_of "$pf" $i)")" hold 5000 "/tmp/jobs.d$i.ready" >"/tmp/jobs.d$i" 2>&1 &
		pids="$pids $!"
	done
	for i in 0 3; do mlu270_wait_file "/tmp/jobs.d$i.ready" 30 || rc=1; done
	add_vf_polls "$vf0" "$vf1" "$vf2" "$vf3"
	echo 0 >"$sys/sriov_numvfs" || rc=1
	for p in $pids; do wait "$p"; done
	for i in 0 3; do
		echo "# VF $i: $(cat /tmp/jobs.d$i)"
		grep -q "gone=[1-9]\|enodev=[1-9]" "/tmp/jobs.d$i" || rc=1
	done
	[ "$(mlu270_count_devices 0x0271)" = 0 ] || rc=1
	return $rc
}
mlu270_check "echo 0 while VFs run jobs: the jobs end, the VFs go away" disable_busy

# Unbind the PF during native jobs, then bind it again.
unbind_pf() {
	local holder rc=0
	rm -f /tmp/jobs.p.ready
	"$JOB" "$pfnode" hold 5000 /tmp/jobs.p.ready >/tmp/jobs.p 2>&1 &
	holder=$!
	mlu270_wait_file /tmp/jobs.p.ready 30 || rc=1
	echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/unbind || rc=1
	wait "$holder"
	echo "# $(cat /tmp/jobs.p)"
	grep -q "gone=[1-9]\|enodev=[1-9]" /tmp/jobs.p || rc=1
	echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/bind || rc=1
	"$JOB" "$(node "$pf")" ops || rc=1
	return $rc
}
mlu270_check "unbinding the PF during native jobs cancels them; rebinding works" unbind_pf

# rmmod of the PF driver while VFs run jobs: the VFs go away with their
# jobs; modprobe brings the PF back.
rmmod_busy() {
	local i pids="" rc=0
	echo 4 >"$sys/sriov_numvfs" || return 1
	for i in 0 3; do
		rm -f "/tmp/jobs.m$i.ready"
		"$JOB" "$(node "$(mlu270_vf_of "$pf" $i)")" hold 5000 "/tmp/jobs.m$i.ready" >"/tmp/jobs.m$i" 2>&1 &
		pids="$pids $!"
	done
	for i in 0 3; do mlu270_wait_file "/tmp/jobs.m$i.ready" 30 || rc=1; done
	add_vf_polls $(mlu270_vf_of "$pf" 0) $(mlu270_vf_of "$pf" 1) $(mlu270_vf_of "$pf" 2) $(mlu270_vf_of "$pf" 3)
	rmmod mlu270_pf || rc=1
	for p in $pids; do wait "$p"; done
	for i in 0 3; do
		echo "# VF $i: $(cat /tmp/jobs.m$i)"
		grep -q "gone=[1-9]\|enodev=[1-9]" "/tmp/jobs.m$i" || rc=1
	done
	[ "$(mlu270_count_devices 0x0271)" = 0 ] || rc=1
	modprobe mlu270_pf || rc=1
	[ "$(mlu270_driver_of "$pf")" = mlu270_pf ] || rc=1
	return $rc
}
mlu270_check "rmmod mlu270_pf while 2 VFs run jobs; modprobe binds again" rmmod_busy

# The queue counters in debugfs.
counters() {
	local f="/sys/kernel/debug/mlu270_pf-$pf/jobs"
	"$JOB" "$(node "$pf")" time nop 64 >/dev/null &&
		grep -qx "state: running" "$f" && grep -qx "window_mb: 256" "$f" &&
		grep -qx "jobs_submitted: 1" "$f" && grep -qx "jobs_completed: 1" "$f" &&
		grep -qx "in_flight: 0" "$f"
}
mlu270_check "debugfs counts the native jobs" counters
native_latency() { qd1_latency "$pf" && [ "$(jobs_counter "$pf" mlu270_pf poll_completions)" = 0 ]; }
mlu270_check "native: job round trip p99 under 20 ms at queue depth 1, no completion found by polling" native_latency
# Every VF's jobs above completed through the interrupt (the VFs are gone
# now; their counters were read before each unbind and disable), except
# those of VF 3 with its interrupt masked.
polls_only_deliberate() {
	echo "# VF completions found by polling: $vf_poll_total, of them $deliberate_polls with VF 3's interrupt masked"
	[ "$deliberate_polls" -ge 3 ] && [ "$vf_poll_total" = "$deliberate_polls" ]
}
mlu270_check "no VF completion was found by the fallback poll (but VF 3's, masked)" polls_only_deliberate

mlu270_check "no warning in the kernel log" clean_log

ktap_finished
