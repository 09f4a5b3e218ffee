#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# timed.sh STAGE COMMAND...: runs COMMAND and records how long it took, for
# the table of stage times that `make check` prints at its end. The Makefile
# names each make invocation (MLU270_RUN); without it nothing is recorded.
stage=$1
shift
start=$(date +%s.%N)
"$@"
rc=$?
if [ -n "${MLU270_RUN:-}" ]; then
	dir=$(cd "$(dirname "$0")/../.." && pwd)/.build/stage-times
	mkdir -p "$dir"
	awk -v s="$stage" -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%s\t%.1f\n", s, b - a }' \
		>>"$dir/$MLU270_RUN.tsv"
fi
exit $rc
