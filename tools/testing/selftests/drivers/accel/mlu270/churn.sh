#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 14400
# Churn: cycles of sriov_numvfs 0 -> N -> 0 with a random N and a random
# valid layout, interleaved with unbinding and rebinding a random VF's
# driver. After each step every VF must be bound and ready with the slice
# of the layout. 12 cycles; MLU270_STRESS=1 (make stress) runs 1,000.
# MLU270_SEED picks the sequence. Restores sriov_numvfs and the layout.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"

ktap_print_header
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
sys=/sys/bus/pci/devices/$pf
mlu270_keep_state "$pf"

if [ "${MLU270_STRESS:-0}" = 1 ]; then cycles=1000; else cycles=12; fi
seed=${MLU270_SEED:-$(date +%s)}
rnd_state=$seed
# rnd N: sets $r to a pseudo-random number in 0..N-1 (an LCG, so a seed
# replays). Not printed: inside $(...) the state would never advance.
rnd() {
	rnd_state=$(((rnd_state * 1103515245 + 12345) % 2147483648))
	r=$(((rnd_state / 65536) % $1))
}

ktap_set_plan 4
mark start

mlu270_require_pf
echo 0 >"$sys/sriov_numvfs"
modprobe mlu270_vf

# The valid layouts of each VF count (besides "default").
layouts_1="1/1|1/2|1/4"
layouts_2="1/2 1/2|1/4 1/4|1/2 1/4|1/4 1/2"
layouts_3="1/2 1/4 1/4|1/4 1/4 1/4|1/4 1/2 1/4|1/4 1/4 1/2"
layouts_4="1/4 1/4 1/4 1/4"
default_1="1/1" default_2="1/2 1/2" default_3="1/2 1/4 1/4" default_4="1/4 1/4 1/4 1/4"

# check N "S0 S1 ..": N VFs, each bound to mlu270_vf, ready, with slice Si.
check() {
	local n=$1 i=0 s addr vf state slice
	[ "$(mlu270_count_devices 0x0271)" = "$n" ] || { echo "# $(mlu270_count_devices 0x0271) VFs, want $n"; return 1; }
	for s in $2; do
		addr=$(mlu270_vf_of "$pf" $i)
		vf=/sys/bus/pci/devices/$addr
		mlu270_attr state "$vf/state"
		mlu270_attr slice "$vf/slice"
		[ -e "/sys/bus/pci/drivers/mlu270_vf/$addr" ] && [ -n "$addr" ] &&
			[ "$state" = ready ] && [ "$slice" = "$s" ] ||
			{ echo "# VF $i ($addr): driver $(mlu270_driver_of "$addr"), state $state, slice $slice, want $s"; return 1; }
		i=$((i + 1))
	done
	# (an empty or short list of slices must not pass for N VFs)
	[ "$i" = "$n" ] || { echo "# $i slices checked, want $n"; return 1; }
}

ktap_print_msg "$cycles cycles, seed $seed"
failed=0 binds=0 cycle=0
t0=$(date +%s)
while [ $cycle -lt $cycles ]; do
	cycle=$((cycle + 1))
	rnd 4
	n=$((r + 1))
	eval "choices=\$layouts_$n"
	# the choices as positional parameters (no process in the loop)
	old_ifs=$IFS IFS='|'
	set -- $choices
	IFS=$old_ifs
	rnd $(($# + 1))
	pick=$r
	if [ "$pick" = 0 ]; then
		layout=default
		eval "want=\$default_$n"
	else
		eval "layout=\${$pick}"
		want=$layout
	fi
	if ! echo "$layout" >"$sys/layout" || ! echo "$n" >"$sys/sriov_numvfs" || ! check "$n" "$want"; then
		echo "# cycle $cycle: $n VFs, layout $layout failed"
		failed=$((failed + 1))
	fi
	# Unbind and rebind one VF's driver.
	rnd "$n"
	i=$r
	vf=$(mlu270_vf_of "$pf" "$i")
	if echo "$vf" >/sys/bus/pci/drivers/mlu270_vf/unbind &&
		echo "$vf" >/sys/bus/pci/drivers/mlu270_vf/bind; then
		binds=$((binds + 1))
	fi
	if ! check "$n" "$want"; then
		echo "# cycle $cycle: VF $i after unbind/bind"
		failed=$((failed + 1))
	fi
	echo 0 >"$sys/sriov_numvfs" || failed=$((failed + 1))
	[ "$failed" -gt 5 ] && break
done
echo default >"$sys/layout"
ktap_print_msg "$cycle cycles, $binds unbind/bind, $failed failures in $(($(date +%s) - t0)) s"

all_cycles() { [ "$failed" = 0 ] && [ "$cycle" = "$cycles" ] && [ "$binds" = "$cycles" ]; }
mlu270_check "$cycles cycles of 0 -> N -> 0 with random layouts and VF rebinds" all_cycles
none_left() { [ "$(mlu270_count_devices 0x0271)" = 0 ] && [ "$(cat "$sys/layout")" = default ]; }
mlu270_check "no VF left, layout back to default" none_left
mlu270_check "no warning in the kernel log" clean_log

ktap_finished
