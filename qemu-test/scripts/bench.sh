#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: boot the release kernel with the card and the igb peer,
# run qemu-test/guest/share/bench.sh in the guest, and turn its log into
# Documentation/accel/mlu270/benchmarks.md and benchmarks.svg.
source "$(dirname "$0")/common.sh"

mkdir -p "$TOP/.build"
logfile=$TOP/.build/bench.log
log "bench: ${MLU270_BENCH_ROUNDS:-5} rounds, -icount ${MLU270_BENCH_ICOUNT:-1} (log: $logfile)"
set -o pipefail
KERNEL_CONFIG=release "$TOP/qemu-test/scripts/guest.sh" bench | tee "$logfile" ||
	die "the benchmark run failed (see $logfile and $TOP/.build/logs/bench)"
grep -q '^# done' "$logfile" || die "the benchmark did not finish (see $logfile)"

icount=on
[ "${MLU270_BENCH_ICOUNT:-1}" = 0 ] && icount=off
meta="Last run: $(date -u +%Y-%m-%d), Linux $(kernel_pkg_version) (release config), QEMU $(qemu_version), -icount $icount."
doc=$TOP/Documentation/accel/mlu270
# The report is written next to the log first: bench-report.py writes
# nothing from a log with a missing or non-positive figure, and only what
# it wrote replaces the committed report (a missed goal is written, with
# its problem listed, and still fails).
out=$TOP/.build/bench-report
rm -rf "$out"
mkdir -p "$out"
rc=0
"$PYTHON" "$TOP/qemu-test/scripts/bench-report.py" "$logfile" \
	--markdown "$out/benchmarks.md" --svg "$out/benchmarks.svg" --meta "$meta" || rc=$?
if [ -f "$out/benchmarks.md" ]; then
	mv "$out/benchmarks.md" "$doc/benchmarks.md"
	[ ! -f "$out/benchmarks.svg" ] || mv "$out/benchmarks.svg" "$doc/benchmarks.svg"
	log "report: $doc/benchmarks.md"
fi
[ $rc = 0 ] || die "the benchmark report has problems (see above and $logfile)"
