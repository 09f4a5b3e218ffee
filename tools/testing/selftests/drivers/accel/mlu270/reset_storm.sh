#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 14400
# Resets under load: all four VFs run checked job streams while each VF in
# turn is reset (FLR) 5 times (MLU270_STRESS=1, make stress: 100 times).
# A VF's own stream may lose jobs to its resets (status RESET, or memory
# the reset zeroed); no stream may see a failed or corrupted job otherwise.
# Restores sriov_numvfs.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"
JOB=$DIR/mlu270_job

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -x "$JOB" ] || { ktap_skip_all "mlu270_job is not built"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
mlu270_keep_state "$pf"

if [ "${MLU270_STRESS:-0}" = 1 ]; then rounds=100; else rounds=5; fi

ktap_set_plan 5
mark start

mlu270_require_pf
echo 0 >"$sys/sriov_numvfs"
modprobe mlu270_vf
echo 4 >"$sys/sriov_numvfs"

pids=""
for i in 0 1 2 3; do
	vf=$(mlu270_vf_of "$pf" $i)
	rm -f "/tmp/storm.$i.ready"
	"$JOB" "/dev/$(cat "/sys/bus/pci/devices/$vf/job_node")" hold 100000000 "/tmp/storm.$i.ready" >"/tmp/storm.$i" 2>&1 &
	pids="$pids $!"
done
for i in 0 1 2 3; do mlu270_wait_file "/tmp/storm.$i.ready" 30; done
resets=0 reset_failures=0
t0=$(date +%s)
r=0
while [ $r -lt $rounds ]; do
	r=$((r + 1))
	for i in 0 1 2 3; do
		vf=/sys/bus/pci/devices/$(mlu270_vf_of "$pf" $i)
		if echo 1 >"$vf/reset" && [ "$(cat "$vf/state")" = ready ]; then
			resets=$((resets + 1))
		else
			reset_failures=$((reset_failures + 1))
		fi
	done
done
elapsed=$(($(date +%s) - t0))
for p in $pids; do kill -TERM "$p"; done
for p in $pids; do wait "$p"; done
for i in 0 1 2 3; do ktap_print_msg "VF $i: $(cat /tmp/storm.$i)"; done
ktap_print_msg "$resets FLRs ($reset_failures failed) in $elapsed s"

mlu270_check "$((rounds * 4)) FLRs under load, each VF ready after its reset" [ "$resets" = $((rounds * 4)) ]
streams_ok() {
	local i
	for i in 0 1 2 3; do
		grep -q " failed=0 enodev=0 errors=0 " "/tmp/storm.$i" || return 1
		grep -q " ok=0 " "/tmp/storm.$i" && return 1
	done
	return 0
}
mlu270_check "no failed or corrupted job on any VF (only its own resets' losses)" streams_ok
lost_to_resets() { grep -q " reset=[1-9]" /tmp/storm.0 || grep -q " wiped=[1-9]" /tmp/storm.0; }
mlu270_check "VF 0's own resets did cancel some of its jobs" lost_to_resets
mlu270_check "no warning in the kernel log" clean_log

ktap_finished
