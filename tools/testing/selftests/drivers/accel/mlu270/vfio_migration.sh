#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 900
# VFIO live migration of a VF through mlu270_vfio_pci (the VFIO variant
# driver of the card's VFs), from userspace without a VM (mlu270_vfio_mig
# plays QEMU on both ends, through iommufd and the VFIO device cdev): the
# host plugs a second card, both cards are split in four quarters, VF 1 of
# each goes to mlu270_vfio_pci (through driver_override only) and:
# - VF 1 migrates live from one card to the other and back, with pre-copy
#   rounds and jobs in flight at the stop; every job completes once, the
#   job stream and the device memory go on on the target (figures: bytes,
#   rounds, downtime);
# - DMA dirty logging; every arc of the migration state machine against
#   vfio_mig_get_next_state(); an FLR during STOP_COPY; VFIO_DEVICE_RESET
#   in a loop racing migration arcs and data fd reads; the device fd
#   closed in RESUMING;
# - a corrupt stream (EINVAL), a stream of VF 1 into VF 2 and into a card
#   with another layout (EOPNOTSUPP) are refused, the target stays in ERROR
#   until reset, the source goes on;
# then both VFs work again with mlu270_vf. Skips only where there is no
# IOMMU or no host runner to plug a card (mlu270.host_actions=1); there,
# a missing driver or card is a failure. A missing C helper always is: the
# pipeline builds them.
DIR=$(dirname "$0")
. "$KTAP_HELPERS"
. "$DIR/mlu270_lib.sh"
MIG=$DIR/mlu270_vfio_mig
JOB=$DIR/mlu270_job
VARIANT=mlu270_vfio_pci
K=1	# the VF that migrates: the same index on both cards
J=2	# another index, for a stream the target must refuse
QUARTERS="1/4 1/4 1/4 1/4"

ktap_print_header
for helper in "$MIG" "$JOB"; do
	[ -x "$helper" ] ||
		ktap_exit_fail_msg "$helper is missing or not executable (the pipeline builds the C helpers)"
done
pf=$(mlu270_find_pf) || { ktap_skip_all "no MLU270 card"; exit "$KSFT_SKIP"; }
[ -n "$(ls /sys/class/iommu 2>/dev/null)" ] ||
	{ ktap_skip_all "no IOMMU (boot with an emulated VT-d: -device intel-iommu)"; exit "$KSFT_SKIP"; }
grep -qw mlu270.host_actions=1 /proc/cmdline || {
	ktap_skip_all "no MLU270 test runner on the host to plug a second card (mlu270.host_actions=1)"
	exit "$KSFT_SKIP"
}

ktap_set_plan 16
mark start
mlu270_require_pf
mlu270_keep_state "$pf"
variant_loaded=$(grep -c "^$VARIANT " /proc/modules)
hot= plugged= vfs= a= b= bj= b3=

card_present() { [ -n "$(mlu270_other_pfs "$pf")" ]; }
cleanup() {
	local v
	for v in $vfs; do mlu270_release_vf "$v"; done
	if [ -n "$plugged" ]; then
		card_present && mlu270_host unplug-card
		wait_for '! card_present' 30
	elif [ -n "$hot" ] && [ -e "/sys/bus/pci/devices/$hot/driver" ]; then
		# a card that was there before: as it was
		echo 0 >"/sys/bus/pci/devices/$hot/sriov_numvfs" 2>/dev/null
		echo default >"/sys/bus/pci/devices/$hot/layout" 2>/dev/null
	fi
	[ "$variant_loaded" = 0 ] && rmmod "$VARIANT" 2>/dev/null
	mlu270_restore_state
}
trap cleanup EXIT

# VF $1 is bound to mlu270_vf and has finished its handshake with the PF.
vf_ready() {
	local s
	[ "$(mlu270_driver_of "$1")" = mlu270_vf ] &&
		mlu270_attr s "/sys/bus/pci/devices/$1/state" && [ "$s" = ready ]
}

# split PF LAYOUT N: LAYOUT with N VFs on PF, each ready with mlu270_vf.
split() {
	local s=/sys/bus/pci/devices/$1 i v l
	echo 0 >"$s/sriov_numvfs" && echo "$2" >"$s/layout" && echo "$3" >"$s/sriov_numvfs" ||
		return 1
	mlu270_attr l "$s/layout" && [ "$l" = "$2" ] || return 1
	for i in $(seq 0 $(($3 - 1))); do
		v=$(mlu270_vf_of "$1" "$i") && wait_for "vf_ready $v" 20 || {
			echo "# VF $i of $1 ($v) is not ready with mlu270_vf"
			return 1
		}
	done
}

# to_variant VF: VF to mlu270_vfio_pci by driver_override (as an
# administrator hands a VF to a VMM); it gets a VFIO device cdev.
to_variant() {
	local dev=/sys/bus/pci/devices/$1
	if [ -e "$dev/driver" ]; then
		echo "$1" >"$dev/driver/unbind" || return 1
	fi
	vfs="$vfs $1"
	echo "$VARIANT" >"$dev/driver_override" && echo "$1" >"/sys/bus/pci/drivers/$VARIANT/bind" &&
		[ "$(mlu270_driver_of "$1")" = "$VARIANT" ] &&
		ls "$dev/vfio-dev/" 2>/dev/null | grep -q '^vfio'
}

# The VF is alone in its IOMMU group (VFIO can use it only then).
alone() {
	local members
	members=$(ls "/sys/bus/pci/devices/$1/iommu_group/devices" 2>/dev/null)
	echo "# $1: $(mlu270_driver_of "$1"), $(ls "/sys/bus/pci/devices/$1/vfio-dev/" 2>/dev/null)," \
		"IOMMU group of: $members"
	[ "$members" = "$1" ]
}

hot_card() {
	hot=$(mlu270_other_pfs "$pf" | head -1)
	if [ -n "$hot" ]; then
		echo "# a second card is already present: $hot"
	else
		plugged=1
		mlu270_host plug-card
		wait_for card_present 20 || {
			echo "# the host runner did not hot-plug a card within 20 s (see host-actions.log)"
			return 1
		}
		hot=$(mlu270_other_pfs "$pf" | head -1)
	fi
	wait_for '[ "$(mlu270_driver_of "$hot")" = mlu270_pf ]' 10
}
mlu270_check "a second card is plugged in and binds mlu270_pf" hot_card
[ -n "$hot" ] || ktap_exit_fail_msg "no second card: nothing to migrate to"
hsys=/sys/bus/pci/devices/$hot

cards() {
	split "$pf" "$QUARTERS" 4 && split "$hot" "$QUARTERS" 4 || return 1
	a=$(mlu270_vf_of "$pf" $K) && b=$(mlu270_vf_of "$hot" $K) && bj=$(mlu270_vf_of "$hot" $J)
	echo "# VF $K: $a (card $pf) and $b (card $hot); VF $J of $hot: $bj"
}
mlu270_check "both cards in four quarters ($QUARTERS), 4 VFs each, ready with mlu270_vf" cards

# A vfio variant driver binds only through driver_override: without it, a
# bind to mlu270_vfio_pci fails (its ID table matches nothing else).
bound() {
	modprobe "$VARIANT" || { echo "# modprobe $VARIANT failed"; return 1; }
	[ -d "/sys/bus/pci/drivers/$VARIANT" ] && [ -c /dev/iommu ] || {
		echo "# no $VARIANT driver or no /dev/iommu"
		return 1
	}
	echo "$a" >"/sys/bus/pci/devices/$a/driver/unbind" || return 1
	if echo "$a" >"/sys/bus/pci/drivers/$VARIANT/bind" 2>/dev/null; then
		vfs="$vfs $a"
		echo "# $VARIANT bound $a without driver_override"
		return 1
	fi
	[ -z "$(mlu270_driver_of "$a")" ] && to_variant "$a" && to_variant "$b" && alone "$a" && alone "$b"
}
mlu270_check "$VARIANT binds VF $K of both cards through driver_override only" bound
[ "$(mlu270_driver_of "$a")" = "$VARIANT" ] && [ "$(mlu270_driver_of "$b")" = "$VARIANT" ] ||
	ktap_exit_fail_msg "VF $K is not bound to $VARIANT on both cards: nothing else can be tested"

mlu270_check "VF $K migrates live from card $pf to card $hot (jobs in flight; figures)" \
	"$MIG" migrate "$a" "$b"
mlu270_check "and back from card $hot to card $pf" "$MIG" migrate "$b" "$a"
mlu270_check "DMA dirty logging: exactly the pages written, a report clears, STOP, errnos" \
	"$MIG" dirty "$a"
mlu270_check "every arc of the migration FSM as vfio_mig_get_next_state() defines it" \
	"$MIG" arcs "$a"
mlu270_check "VFIO_DEVICE_RESET in STOP_COPY: RUNNING, the data fd gives ENODEV, jobs run" \
	"$MIG" flr-stopcopy "$a"
# (before the final clean_log: a lockdep splat or a WARN of the race fails
# the run)
mlu270_check "VFIO_DEVICE_RESET racing migration arcs and data fd reads for 2 s: then RUNNING, jobs run" \
	"$MIG" reset-race "$a"
mlu270_check "the device fd closed in RESUMING: reopened RUNNING, a whole load then works" \
	"$MIG" close-resuming "$b"

# refused MARK VF_TARGET: the PF of the target card logged exactly one
# line naming both ends of the refused stream (migration.rst).
refused() {
	local n
	n=$(log_count "$1" "$hot.*VF $2: migration stream from VF $K .*refused at byte .*target VF $2")
	[ "$n" = 1 ] || {
		echo "# $n lines of the target's PF name the refused stream (want 1)"
		return 1
	}
}
corrupt() {
	mark corrupt
	"$MIG" corrupt "$a" "$b" && refused corrupt $K
}
mlu270_check "a corrupt stream: EINVAL, the target in ERROR until reset, the source goes on" corrupt

index_mismatch() {
	to_variant "$bj" && alone "$bj" || return 1
	mark mismatch
	"$MIG" mismatch "$a" "$bj" && refused mismatch $J
}
mlu270_check "VF $K's stream into VF $J: EOPNOTSUPP, the target in ERROR until reset, the source goes on" \
	index_mismatch

# The target card split another way: VF 1 is a quarter there too, but
# another one (another partition entry): EOPNOTSUPP, the source keeps
# running.
other_layout() {
	mlu270_release_vf "$b"
	mlu270_release_vf "$bj"
	split "$hot" "1/4 1/4 1/2" 3 || return 1
	b3=$(mlu270_vf_of "$hot" $K) && to_variant "$b3" || return 1
	mark layout
	"$MIG" mismatch "$a" "$b3" && refused layout $K
}
mlu270_check "a target card with another layout: EOPNOTSUPP, the source VF keeps running" other_layout

# works VF: VF back to mlu270_vf runs a checked job stream.
works() {
	local dev=/sys/bus/pci/devices/$1 node out
	echo >"$dev/driver_override"
	if [ -e "$dev/driver" ]; then
		echo "$1" >"$dev/driver/unbind" || return 1
	fi
	echo "$1" >/sys/bus/pci/drivers/mlu270_vf/bind && wait_for "vf_ready $1" 10 &&
		mlu270_attr node "$dev/job_node" || return 1
	out=$("$JOB" "/dev/$node" stream 8)
	echo "# $1: $out"
	[ "$out" = "submitted=8 ok=8 reset=0 gone=0 failed=0 enodev=0 errors=0 wiped=0" ]
}
# (VF $K of the re-split card has the same address as before)
both_work() { works "$a" && works "${b3:-$b}"; }
mlu270_check "released by $VARIANT, both VFs run jobs with mlu270_vf again" both_work

mlu270_check "no warning in the kernel log" clean_log

ktap_finished
