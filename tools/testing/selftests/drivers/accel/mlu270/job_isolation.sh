#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 1200
# A local user owns only its open files. On VF 0's job node: a file whose
# READs are interrupted by signals loses its own transfers, never another
# file's jobs; a READ waiting behind another file's transfer ends on a
# signal; threads sharing a file get its 64 places and no more, even
# when they wait for ring space; files that never collect their jobs fill
# their own places only; and a READ stuck on a user page fault (a buffer
# only userfaultfd provides, as a hung FUSE daemon would) does not keep the
# VF from unbinding. Restores sriov_numvfs.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"
JOB=$DIR/mlu270_job

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -x "$JOB" ] || { ktap_skip_all "mlu270_job is not built"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
mlu270_keep_state "$pf"

ktap_set_plan 8
mark start

mlu270_require_pf
echo 0 >"$sys/sriov_numvfs"
modprobe mlu270_vf
echo 2 >"$sys/sriov_numvfs"
vf0=$(mlu270_vf_of "$pf" 0)
vf1=$(mlu270_vf_of "$pf" 1)
node0=/dev/$(cat "/sys/bus/pci/devices/$vf0/job_node")
node1=/dev/$(cat "/sys/bus/pci/devices/$vf1/job_node")

# 1. Signals: a reader is interrupted every 20 ms while another file's
# stream runs on the same node.
rm -f /tmp/jiso.ready
"$JOB" "$node0" hold 600000 /tmp/jiso.ready >/tmp/jiso.stream 2>&1 &
stream_pid=$!
mlu270_wait_file /tmp/jiso.ready 30
rm -f /tmp/jiso.reader
"$JOB" "$node0" readloop 6000 /tmp/jiso.reader >/tmp/jiso.reads 2>&1 &
reader=$!
# SIGUSR1 would kill it before it installs its handler.
mlu270_wait_file /tmp/jiso.reader 30
while kill -USR1 "$reader" 2>/dev/null; do sleep 0.02; done
wait "$reader"
reader_rc=$?
kill "$stream_pid" 2>/dev/null
wait "$stream_pid"
ktap_print_msg "reader: $(cat /tmp/jiso.reads); stream: $(cat /tmp/jiso.stream)"
interrupted() { [ "$reader_rc" = 0 ] && ! grep -q "eintr=0 " /tmp/jiso.reads; }
mlu270_check "signals interrupt the reader's transfers (EINTR), nothing else fails" interrupted
stream_ok() {
	grep -q " reset=0 gone=0 failed=0 enodev=0 errors=0 wiped=0$" /tmp/jiso.stream &&
		! grep -q " ok=0 " /tmp/jiso.stream
}
mlu270_check "the other file's jobs all completed meanwhile" stream_ok

# 2. The ring is full (4 files x 64 uncollected 16 MiB fills, seconds of
# device work); a READ owns the bounce buffer while its job waits for ring
# space; another file's READ waits for the buffer and gets a signal after
# 300 ms: it must end then, not when the first READ's job is done.
fill_ring() {
	pids=""
	for i in 1 2 3 4; do
		rm -f "/tmp/jiso.pending$i"
		"$JOB" "$node0" pending 64 $((16 << 20)) "/tmp/jiso.pending$i" >"/tmp/jiso.pout$i" 2>&1 &
		pids="$pids $!"
	done
	for i in 1 2 3; do mlu270_wait_file "/tmp/jiso.pending$i" 30; done
}
fill_ring
rm -f /tmp/jiso.owner
"$JOB" "$node0" readloop 600000 /tmp/jiso.owner >/tmp/jiso.ownerout 2>&1 &
owner=$!
mlu270_wait_file /tmp/jiso.owner 30
sleep 0.5
"$JOB" "$node0" sigread 300 >/tmp/jiso.sigread 2>&1
kill "$owner" 2>/dev/null
kill -9 $pids 2>/dev/null
wait "$owner" $pids 2>/dev/null
ktap_print_msg "a READ behind another file's transfer, signalled: $(cat /tmp/jiso.sigread); the transfer's owner: $(cat /tmp/jiso.ownerout)"
waiter_interrupted() {
	local late
	late=$(sed -n 's/^read=EINTR late_ms=\([0-9]*\) .*/\1/p' /tmp/jiso.sigread)
	[ -n "$late" ] && [ "$late" -lt 200 ]
}
mlu270_check "a READ waiting for another file's transfer ends on a signal (EINTR)" waiter_interrupted

# 3. The ring is full (4 files x 64 jobs > 255 slots), then 8 threads of
# one file submit 16 jobs each while they wait for ring space.
fill_ring
"$JOB" "$node0" threads 8 16 >/tmp/jiso.threads 2>&1
threads_rc=$?
mlu270_wait_file /tmp/jiso.pending4 30
ktap_print_msg "threads: $(cat /tmp/jiso.threads); pending files: $(cat /tmp/jiso.pout1 /tmp/jiso.pout2 /tmp/jiso.pout3 /tmp/jiso.pout4 | tr '\n' ' ')"
capped() { [ "$threads_rc" = 0 ] && grep -q "^submitted=64 busy=64 other=0$" /tmp/jiso.threads; }
mlu270_check "8 threads sharing a file get its 64 places, no more" capped
# 5 files hold 64 uncollected jobs each: another file is still served.
others_served() { "$JOB" "$node0" stream 32 >/tmp/jiso.after 2>&1 && grep -q " ok=32 " /tmp/jiso.after; }
mlu270_check "files that never collect their jobs do not starve another file" others_served
kill $pids 2>/dev/null
wait $pids 2>/dev/null

# 4. A READ stuck on a user page fault for 8 s; VF 1 unbinds meanwhile.
rm -f /tmp/jiso.uffd
"$JOB" "$node1" uffdread /tmp/jiso.uffd 8000 >/tmp/jiso.uffdout 2>&1 &
uffd_pid=$!
mlu270_wait_file /tmp/jiso.uffd 30
uptime_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
t0=$(uptime_ms)
echo "$vf1" >/sys/bus/pci/drivers/mlu270_vf/unbind
t1=$(uptime_ms)
unbind_ms=$((t1 - t0))
wait "$uffd_pid"
ktap_print_msg "VF 1 unbound in $unbind_ms ms with a READ stuck on a page fault; the READ: $(cat /tmp/jiso.uffdout)"
unbind_fast() { [ "$unbind_ms" -lt 2000 ]; }
mlu270_check "a READ stuck on a user page fault does not hold up the unbind" unbind_fast
echo "$vf1" >/sys/bus/pci/drivers/mlu270_vf/bind

mlu270_check "no warning in the kernel log" clean_log

ktap_finished
