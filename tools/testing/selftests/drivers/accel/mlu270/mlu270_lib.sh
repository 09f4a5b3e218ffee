# SPDX-License-Identifier: GPL-2.0
# Helpers shared by the MLU270 selftests. Sourced, never run.

# mlu270_check DESCRIPTION COMMAND [ARG...]: one KTAP result, "ok" only if
# COMMAND succeeds. Use it instead of ktap_test_result: that one runs $@
# unquoted, so `[ -n "$pf" ]` with an empty $pf becomes `[ -n ]`, which is
# true. Here the arguments reach COMMAND exactly as given, and a missing
# COMMAND is a failure.
mlu270_check() {
	local desc=$1
	shift
	if [ $# -gt 0 ] && "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
}

# mlu270_require_pf: bind the PF to mlu270_pf (one KTAP result) and set
# $pf and $sys; if it does not bind, the test cannot go on: bail out (a
# failure, never a skip: where a card is present the driver must bind).
mlu270_require_pf() {
	pf=$(mlu270_pf_bound)
	mlu270_check "mlu270_pf binds the PF" [ -n "$pf" ]
	[ -n "$pf" ] || ktap_exit_fail_msg "mlu270_pf does not bind the card: nothing else can be tested"
	sys=/sys/bus/pci/devices/$pf
}

# mlu270_wait_file FILE SECONDS: wait until FILE exists (a helper running
# in the background creates it when it is ready, e.g. mlu270_job hold MS
# READY_FILE once its jobs are in flight).
mlu270_wait_file() {
	wait_for "[ -e '$1' ]" "$2" || {
		echo "# $1 did not appear within $2 s"
		return 1
	}
}

# The helpers below walk sysfs with the shell's own read, test and
# parameter expansion instead of cat, basename and readlink: they run in
# loops over every PCI device, and under the test kernel (KASAN, kmemleak,
# lockdep) and TCG every process costs 40-70 ms.

# mlu270_is_fn SYSFS_DIR ID: true if the PCI device at SYSFS_DIR is an
# MLU270 function with device ID ID (0x0270 the PF, 0x0271 a VF).
mlu270_is_fn() {
	local vendor device
	read -r vendor 2>/dev/null <"$1/vendor" && read -r device 2>/dev/null <"$1/device" &&
		[ "$vendor" = 0xcabc ] && [ "$device" = "$2" ]
}

# The first MLU270 PF (cabc:0270) in the system, as a PCI address, or "".
mlu270_find_pf() {
	local d
	for d in /sys/bus/pci/devices/*; do
		if mlu270_is_fn "$d" 0x0270; then
			echo "${d##*/}"
			return 0
		fi
	done
	return 1
}

# The driver bound to PCI device $1, or "" (and status 1): the driver's
# directory holds a link named after each device it is bound to.
mlu270_driver_of() {
	local d
	[ -n "$1" ] || return 1
	for d in /sys/bus/pci/drivers/*/"$1"; do
		[ -e "$d" ] || continue
		d=${d%/*}
		echo "${d##*/}"
		return 0
	done
	return 1
}

# Count the functions with device ID $1 (e.g. 0x0271).
mlu270_count_devices() {
	local d n=0
	for d in /sys/bus/pci/devices/*; do
		mlu270_is_fn "$d" "$1" && n=$((n + 1))
	done
	echo "$n"
}

# mlu270_attr VAR FILE: set VAR to the first line of FILE, "" if it cannot
# be read (status 1). A sysfs read without a process, for loops.
mlu270_attr() {
	local _mlu270_v= _mlu270_rc
	IFS= read -r _mlu270_v 2>/dev/null <"$2"
	_mlu270_rc=$?
	eval "$1=\$_mlu270_v"
	[ -n "$_mlu270_v" ] || return $_mlu270_rc
}

# Write $2 to sysfs file $1 and print the shell's error message, if any;
# returns the write's status.
mlu270_write() {
	local err
	err=$( (echo "$2" >"$1") 2>&1)
	local rc=$?
	[ -n "$err" ] && echo "$err"
	return $rc
}

# True if text $1 contains pattern $2 (case-insensitive).
mlu270_matches() {
	echo "$1" | grep -qi -- "$2"
}

# Make sure the PF is bound to mlu270_pf (loading it if needed); prints the
# PF's address. Returns 1 if there is no card, 2 if the driver cannot bind.
mlu270_pf_bound() {
	local pf
	pf=$(mlu270_find_pf) || return 1
	modprobe mlu270_pf 2>/dev/null
	if [ "$(mlu270_driver_of "$pf")" != mlu270_pf ]; then
		[ -e "/sys/bus/pci/devices/$pf/driver" ] &&
			echo "$pf" >"/sys/bus/pci/devices/$pf/driver/unbind"
		echo >"/sys/bus/pci/devices/$pf/driver_override"
		[ -d /sys/bus/pci/drivers/mlu270_pf ] &&
			echo "$pf" >/sys/bus/pci/drivers/mlu270_pf/bind 2>/dev/null
	fi
	[ "$(mlu270_driver_of "$pf")" = mlu270_pf ] || return 2
	echo "$pf"
}

# VF number $2 (0-based) of PF $1, as a PCI address, or "" (and status 1)
# if the PF has no such VF.
mlu270_vf_of() {
	local d link=/sys/bus/pci/devices/$1/virtfn$2
	[ -e "$link" ] || return 1
	for d in /sys/bus/pci/devices/*; do
		if [ "$d" -ef "$link" ]; then
			echo "${d##*/}"
			return 0
		fi
	done
	return 1
}

# mlu270_to_vfio VF: hands VF to vfio-pci (driver_override), as an
# administrator does before giving it to a VM; its driver lets go first.
mlu270_to_vfio() {
	local dev=/sys/bus/pci/devices/$1
	if [ -e "$dev/driver" ]; then
		echo "$1" >"$dev/driver/unbind" || return 1
	fi
	echo vfio-pci >"$dev/driver_override" && echo "$1" >/sys/bus/pci/drivers/vfio-pci/bind
}

# mlu270_release_vf VF: VF without a driver and without an override (a
# test's cleanup); nothing if VF is empty or gone.
mlu270_release_vf() {
	local dev=/sys/bus/pci/devices/$1
	[ -n "$1" ] && [ -e "$dev" ] || return 0
	echo >"$dev/driver_override"
	[ -e "$dev/driver" ] && echo "$1" >"$dev/driver/unbind"
	return 0
}

# mlu270_vfs_col PF VF NAME: column NAME of VF's line in the PF's debugfs
# table (/sys/kernel/debug/mlu270_pf-<PF>/vfs), found by its header.
mlu270_vfs_col() {
	awk -v vf="$2" -v name="$3" '
		NR == 2 { for (i = 1; i <= NF; i++) if ($i == name) c = i }
		NR > 2 && $1 == vf { print $c }' "/sys/kernel/debug/mlu270_pf-$1/vfs"
}

# Physical address of BAR 0 of PCI device $1.
mlu270_bar0() {
	local start
	read -r start _ <"/sys/bus/pci/devices/$1/resource"
	echo "$start"
}

# Turn on memory decoding of PCI device $1 without binding a driver, so
# that the tests can drive a VF's registers the way a guest would.
mlu270_enable_mem() {
	local cfg=/sys/bus/pci/devices/$1/config cmd
	cmd=$(dd if="$cfg" bs=1 skip=4 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	cmd=$((cmd | 2))
	printf "\\$(printf %o "$cmd")" | dd of="$cfg" bs=1 seek=4 count=1 conv=notrunc 2>/dev/null
}

# 32-bit register access through /dev/mem (mlu270_mmio): mlu270_rd BASE
# OFFSET prints the register as 0x%08x, mlu270_wr BASE OFFSET VALUE writes
# it; mlu270_wr_words BASE OFFSET WORD... writes consecutive registers in
# one process. Offsets and values in any shell number form.
MLU270_MMIO=${DIR:-$(dirname "$0")}/mlu270_mmio
mlu270_rd() {
	"$MLU270_MMIO" $(($1)) $(($2))
}
mlu270_wr() {
	"$MLU270_MMIO" $(($1)) $(($2))=$(($3))
}
mlu270_wr_words() {
	local base=$(($1)) off=$(($2)) ops= w
	shift 2
	for w in "$@"; do
		ops="$ops $off=$((w))"
		off=$((off + 4))
	done
	"$MLU270_MMIO" $base $ops
}

# VF mailbox registers (Documentation/accel/mlu270/hardware.rst).
MB_DOORBELL=0x200 MB_STATUS=0x204 MB_ACK=0x208 MB_OUT=0x280 MB_IN=0x2c0

# mlu270_send BASE W0 W1 [PAYLOAD...]: write a 16-word message into the
# mailbox of the VF whose BAR 0 is at BASE and ring; then wait (bounded,
# 2 s) for the PF's reply, leave its first words in REPLY0..REPLY3 and
# acknowledge it. Returns 1 if no reply came.
mlu270_send() {
	local base=$1 i=0 w tries=0 ops=
	shift
	for w in "$@" 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0; do
		[ $i -lt 16 ] || break
		ops="$ops $((MB_OUT + 4 * i))=$((w))"
		i=$((i + 1))
	done
	# the message and the doorbell, in this order, in one process
	"$MLU270_MMIO" $((base)) $ops $((MB_DOORBELL))=1 || return 1
	while [ $(($(mlu270_rd "$base" $MB_STATUS) & 2)) = 0 ]; do
		tries=$((tries + 1))
		[ $tries -lt 200 ] || return 1
		sleep 0.01
	done
	set -- $("$MLU270_MMIO" $((base)) $((MB_IN)) $((MB_IN + 4)) $((MB_IN + 8)) $((MB_IN + 12)) \
		$((MB_ACK))=1)
	REPLY0=$1 REPLY1=$2 REPLY2=$3 REPLY3=$4
}

# Ask the host for an action: "plug-card" (a second MLU270 into the empty
# hot-plug slot) or "unplug-card". Only the MLU270 test runner listens
# (qemu-test/scripts/runner.py); elsewhere nothing happens, and the caller
# finds no card appearing.
mlu270_host() {
	echo "MLU270-HOST $1" >/dev/ttyS1
}

# The MLU270 PFs other than $1, one per line.
mlu270_other_pfs() {
	local d
	for d in /sys/bus/pci/devices/*; do
		[ "${d##*/}" = "$1" ] && continue
		mlu270_is_fn "$d" 0x0270 && echo "${d##*/}"
	done
	return 0
}

# mlu270_keep_state PF: at exit, put back what the test may change: VF
# count 0, the default layout and native slice, the PF's driver, and
# mlu270_vf unloaded if it was not loaded before.
mlu270_keep_state() {
	_mlu270_pf=$1
	_mlu270_driver=$(mlu270_driver_of "$1")
	_mlu270_vf_loaded=$(grep -c '^mlu270_vf ' /proc/modules)
	trap mlu270_restore_state EXIT
}

mlu270_restore_state() {
	local sys=/sys/bus/pci/devices/$_mlu270_pf
	if [ -e "$sys/driver" ]; then
		echo 0 >"$sys/sriov_numvfs" 2>/dev/null
		[ -e "$sys/layout" ] && echo default >"$sys/layout" 2>/dev/null
		[ -e "$sys/native_slice" ] && echo 1/1 >"$sys/native_slice" 2>/dev/null
	fi
	if [ "$(mlu270_driver_of "$_mlu270_pf")" != "$_mlu270_driver" ]; then
		[ -e "$sys/driver" ] && echo "$_mlu270_pf" >"$sys/driver/unbind"
		[ -n "$_mlu270_driver" ] &&
			echo "$_mlu270_pf" >"/sys/bus/pci/drivers/$_mlu270_driver/bind" 2>/dev/null
	fi
	[ "$_mlu270_vf_loaded" = 0 ] && rmmod mlu270_vf 2>/dev/null
	return 0
}

# wait_for CONDITION SECONDS: evaluates CONDITION until it holds (0) or
# SECONDS pass (1): every 0.1 s for the first 2 s, then every 0.5 s. (A
# condition may start processes, 40-70 ms of CPU each under the test
# kernel and TCG: a minute's wait for a nested VM at 0.1 s took the CPU
# that VM needed.)
wait_for() {
	local t=0
	while ! eval "$1"; do
		[ $t -ge $(($2 * 10)) ] && return 1
		if [ $t -lt 20 ]; then
			sleep 0.1
			t=$((t + 1))
		else
			sleep 0.5
			t=$((t + 5))
		fi
	done
}

# The kernel log by sequence number (mlu270_kmsg): "mark NAME" logs a
# marker and remembers its record number; "log_since NAME" prints every
# record after it and fails (status 3) if some of them were overwritten
# before they could be read, so that "the log has no X" is never concluded
# from a log that was not all there. dmesg and a text marker cannot tell:
# once the marker rolls out of the ring buffer, nothing after it is found.
MLU270_KMSG=${DIR:-$(dirname "$0")}/mlu270_kmsg
mark() {
	local seq
	seq=$("$MLU270_KMSG" mark "$(basename "$0" .sh): mark $1") || {
		echo "# could not mark the kernel log ($1)"
		return 1
	}
	eval "_mlu270_mark_$1=\$seq"
}
log_since() {
	local seq
	eval "seq=\${_mlu270_mark_$1:-}"
	if [ -z "$seq" ]; then
		echo "log_since: no mark '$1' in this test" >&2
		return 2
	fi
	"$MLU270_KMSG" since "$seq"
}
# log_has_no MARK PATTERN: the whole log since MARK was read and has no line
# matching the extended regex PATTERN (the matches are printed).
log_has_no() {
	local log
	log=$(log_since "$1") || {
		echo "# the kernel log since mark $1 could not be read completely"
		return 1
	}
	! echo "$log" | grep -E -- "$2" | sed 's/^/# /' | grep -q .
}
# log_count MARK PATTERN: how many lines of the log since MARK match the
# extended regex PATTERN; prints "lost" (and fails) if the log was not all
# there.
log_count() {
	local log
	log=$(log_since "$1") || {
		echo lost
		return 1
	}
	echo "$log" | grep -cE -- "$2"
}
# clean_log: no warning of any kind since the mark "start".
clean_log() {
	log_has_no start 'WARNING|BUG|KASAN|UBSAN|lockdep|circular locking|Oops|refcount|DMA-API|Call Trace|hung_task|blocked for more than|detected stall'
}
