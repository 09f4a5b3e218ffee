#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: every test suite, then one line with the totals.
#   TESTS=REGEX       run only the tests whose name matches
#   EXTRA_TESTS=DIR   also run the KTAP scripts in DIR inside the guest
#   RUNNER_SELFTESTS=1  include the deliberately failing runner self-tests
source "$(dirname "$0")/common.sh"

results=$TOP/.build/results
rm -rf "$results"
mkdir -p "$results"
status=0
tests_re=${TESTS:-}

# A stage that failed without a counted failure (a crash, a build error)
# still counts as one failure in the totals.
stage_failed() {
	local json=$1
	[ -f "$json" ] || echo '{"passed": 0, "failed": 0, "skipped": 0, "problems": []}' >"$json"
	"$PYTHON" - "$json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if d["failed"] == 0:
    d["failed"] = 1
    d["problems"].append(sys.argv[2])
json.dump(d, open(sys.argv[1], "w"))
PY
	status=1
}

selected() { [ -z "$tests_re" ] || echo "$1" | grep -Eq -- "$tests_re"; }

# The stage times of this make invocation (timed.sh; a check.sh run by hand
# gets a name of its own), printed as a table before the totals.
export MLU270_RUN=${MLU270_RUN:-$(date +%s%N)}
times=$TOP/.build/stage-times/$MLU270_RUN.tsv
mkdir -p "$(dirname "$times")"
find "$(dirname "$times")" -name '*.tsv' -mtime +7 -delete
stage_began=$SECONDS
# stage_done NAME: the stage since the last stage_done (or the start) took
stage_done() {
	printf '%s\t%d\n' "$1" $((SECONDS - stage_began)) >>"$times"
	stage_began=$SECONDS
}

# The runner's own unit tests (its KTAP judge).
if selected host/runner; then
	log "host/runner"
	if (cd "$TOP/qemu-test/scripts" && "$PYTHON" -m unittest -v tests.test_ktap tests.test_bench_report) >"$results/runner.log" 2>&1; then rc=0; else rc=1; fi
	grep -E '\.\.\. (ok|FAIL|ERROR|skipped)' "$results/runner.log" | sed 's/^/    /'
	awk '/\.\.\. ok$/ { p++ } /\.\.\. (FAIL|ERROR)$/ { f++ } /\.\.\. skipped/ { s++ }
		END { printf "{\"passed\": %d, \"failed\": %d, \"skipped\": %d, \"problems\": []}\n", p, f, s }' \
		"$results/runner.log" >"$results/host_runner.json"
	[ $rc = 0 ] || { tail -20 "$results/runner.log"; stage_failed "$results/host_runner.json" "host/runner failed"; }
	stage_done host/runner
fi

# Kernel Rust hygiene of the drivers: rustfmt and clippy, no warnings.
if [ -d "$TOP/drivers/accel" ] && selected host/lint; then
	log "host/lint"
	p=0 f=0
	if (cd "$TOP" && make -s rustfmt); then echo "ok 1 rustfmt"; p=$((p + 1)); else echo "not ok 1 rustfmt"; f=$((f + 1)); fi
	if CLIPPY=1 "$TOP/qemu-test/scripts/build-modules.sh" test; then echo "ok 2 clippy"; p=$((p + 1)); else echo "not ok 2 clippy"; f=$((f + 1)); fi
	echo "{\"passed\": $p, \"failed\": $f, \"skipped\": 0, \"problems\": []}" >"$results/host_lint.json"
	[ $f = 0 ] || status=1
	stage_done "host/lint (rustfmt, clippy)"
fi

# Host-side Rust unit tests: every cargo workspace under tools/.
for manifest in $(find "$TOP/tools" -name Cargo.toml -not -path '*/target/*' 2>/dev/null | sort); do
	name=host/cargo/$(basename "$(dirname "$manifest")")
	selected "$name" || continue
	log "$name"
	if (cd "$(dirname "$manifest")" && CARGO_TARGET_DIR=$CACHE/cargo-target cargo test --quiet 2>&1) | tee "$results/cargo.log"; then rc=0; else rc=1; fi
	awk -v n="$name" '/^test result:/ { p += $4; f += $6; s += $8 }
		END { printf "{\"passed\": %d, \"failed\": %d, \"skipped\": %d, \"problems\": []}\n", p, f, s }' \
		"$results/cargo.log" >"$results/$(echo "$name" | tr / _).json"
	[ $rc = 0 ] || stage_failed "$results/$(echo "$name" | tr / _).json" "$name failed"
	stage_done "$name"
done

# QEMU qtests of the device model.
if [ -x "$TOP/qemu-test/scripts/run-qtests.sh" ] && selected host/qtest; then
	log "host/qtest"
	if "$TOP/qemu-test/scripts/run-qtests.sh" >"$results/qtest.tap" 2>"$results/qtest.err"; then rc=0; else rc=1; fi
	cat "$results/qtest.tap"
	# (a g_test_skip case is a skip: a failure unless expected-skips lists it)
	"$PYTHON" "$TOP/qemu-test/scripts/ktap.py" tap-count "$results/qtest.tap" "$results/host_qtest.json" \
		--name host/qtest --strict-skips "$TOP/qemu-test/config/expected-skips" || rc=1
	[ $rc = 0 ] || { tail -20 "$results/qtest.err"; stage_failed "$results/host_qtest.json" "host/qtest failed"; }
	stage_done host/qtest
fi

# KUnit, Rust doctests and the KTAP suites in the test guest. The pipeline
# provides the card, the drivers and the hot-plug slot: a skip of our own
# tests fails the run unless qemu-test/config/expected-skips lists it.
log "guest"
if "$PYTHON" "$TOP/qemu-test/scripts/runner.py" \
	--qemu "$(qemu_binary_current)" \
	--kernel "$(kernel_build_dir test)/arch/x86/boot/bzImage" \
	--initrd "$TOP/.build/initramfs-test.cpio.gz" \
	--mkinitramfs "$TOP/qemu-test/scripts/mkinitramfs.sh" \
	--config test --logdir "$TOP/.build/logs/check" \
	--counts "$results/guest.json" \
	--strict-skips "$TOP/qemu-test/config/expected-skips" \
	${TESTS:+--tests "$TESTS"} ${EXTRA_TESTS:+--extra "$EXTRA_TESTS"} \
	${RUNNER_SELFTESTS:+--runner-selftests}; then :; else stage_failed "$results/guest.json" "guest run failed"; fi
stage_done guest

# (guest 0's console, then those of the other test guests, if any)
"$PYTHON" "$TOP/qemu-test/scripts/stage-times.py" "$times" "$TOP/.build/logs/check/console.log" \
	$(ls -d "$TOP"/.build/logs/check/guest[0-9]*/console.log 2>/dev/null || true) || true

"$PYTHON" - "$results" <<'PY' || status=1
import glob, json, os, sys
p = f = s = 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    d = json.load(open(path))
    p += d["passed"]; f += d["failed"]; s += d["skipped"]
print(f"{p} passed, {f} failed, {s} skipped")
sys.exit(1 if f else 0)
PY
exit $status
