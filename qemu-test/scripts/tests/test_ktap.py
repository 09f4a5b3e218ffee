# SPDX-License-Identifier: GPL-2.0
"""Unit tests of the runner: its KTAP judge (ktap.py), its run-level rules
(runner.py) and run-qtests.sh's report of skips (host side, run by `make check`)."""

import io
import json
import os
import re
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ktap  # noqa: E402
import runner  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

KUNIT = """\
[    1.000000] KTAP version 1
[    1.000001] 1..2
[    1.000002]     KTAP version 1
[    1.000003]     # Subtest: suite_a
[    1.000004]     1..2
[    1.000005]     ok 1 case_one
[    1.000006] some unrelated kernel line
[    1.000007]     ok 2 case_two # SKIP not here
[    1.000008] # suite_a: pass:1 fail:0 skip:1 total:2
[    1.000009] ok 1 suite_a
[    1.000010]     KTAP version 1
[    1.000011]     # Subtest: suite_b
[    1.000012]     1..1
[    1.000013]     not ok 1 case_three
[    1.000014] not ok 2 suite_b
"""


class Judge(unittest.TestCase):
    def judge(self, text, rc=0):
        return ktap.judge_test("t", text.splitlines(), rc)

    def test_pass(self):
        counts, probs = self.judge("TAP version 13\n1..2\nok 1 a\nok 2 b\n")
        self.assertEqual((counts.passed, counts.failed, counts.skipped), (2, 0, 0))
        self.assertEqual(probs, [])

    def test_not_ok_fails_even_with_exit_0(self):
        counts, probs = self.judge("TAP version 13\n1..2\nok 1 a\nnot ok 2 b\n")
        self.assertEqual((counts.passed, counts.failed), (1, 1))
        self.assertTrue(any("not ok" in p for p in probs))

    def test_missing_plan(self):
        counts, probs = self.judge("TAP version 13\nok 1 a\n")
        self.assertGreater(counts.failed, 0)
        self.assertTrue(any("no test plan" in p for p in probs))

    def test_short_plan(self):
        counts, probs = self.judge("TAP version 13\n1..3\nok 1 a\n")
        self.assertGreater(counts.failed, 0)
        self.assertTrue(any("plan says 3" in p for p in probs))

    def test_trailing_plan_without_version(self):
        counts, probs = self.judge("ok 1 a\nok 2 b\n1..2\n")
        self.assertEqual((counts.passed, counts.failed), (2, 0))
        self.assertEqual(probs, [])

    def test_no_output(self):
        counts, probs = self.judge("", 0)
        self.assertEqual(counts.failed, 1)

    def test_skip_all(self):
        counts, probs = self.judge("TAP version 13\n1..0 # SKIP no card\n", 4)
        self.assertEqual((counts.passed, counts.failed, counts.skipped), (0, 0, 1))
        self.assertEqual(probs, [])

    def test_bad_exit_code(self):
        counts, probs = self.judge("TAP version 13\n1..1\nok 1 a\n", 1)
        self.assertEqual(counts.failed, 1)

    def test_timeout(self):
        counts, probs = self.judge("TAP version 13\n1..1\nok 1 a\n", 124)
        self.assertTrue(any("timed out" in p for p in probs))

    def test_unfinished(self):
        counts, probs = self.judge("TAP version 13\n1..2\nok 1 a\n", None)
        self.assertGreater(counts.failed, 0)

    def test_kunit_nested_with_timestamps(self):
        counts, probs = self.judge(KUNIT)
        self.assertEqual((counts.passed, counts.failed, counts.skipped), (1, 1, 1))
        self.assertEqual(len([p for p in probs if "not ok" in p]), 2)

    # Rule 1: exit 4 is a skip only with a skip-all plan or no output.
    def test_exit_4_with_a_plan_and_no_results_fails(self):
        counts, probs = self.judge("TAP version 13\n1..3\n", 4)
        self.assertEqual((counts.skipped, counts.failed), (0, 1))
        self.assertTrue(any("plan says 3 tests, 0 reported" in p for p in probs))

    def test_exit_4_after_results_fails(self):
        counts, probs = self.judge("TAP version 13\n1..2\nok 1 a\nok 2 b\n", 4)
        self.assertEqual((counts.passed, counts.failed, counts.skipped), (2, 1, 0))
        self.assertTrue(any("exit code 4 (skip) after 2 results" in p for p in probs))

    def test_exit_4_without_output_is_a_skip_with_no_reason(self):
        skips = []
        counts, probs = ktap.judge_test("t", [], 4, skips)
        self.assertEqual((counts.passed, counts.failed, counts.skipped), (0, 0, 1))
        self.assertEqual((probs, skips), ([], [("t", "")]))

    def test_skip_all_keeps_its_reason(self):
        skips = []
        counts, probs = ktap.judge_test("t", ["TAP version 13", "1..0 # SKIP no card"], 4, skips)
        self.assertEqual((counts.skipped, probs, skips), (1, [], [("t", "no card")]))

    # Rule 2: results are numbered 1, 2, 3... in order.
    def test_duplicate_result_number_fails(self):
        counts, probs = self.judge("TAP version 13\n1..3\nok 1 a\nok 1 b\nok 3 c\n")
        self.assertGreater(counts.failed, 0)
        self.assertTrue(any("result 2 is numbered 1" in p for p in probs))

    def test_gap_in_result_numbers_fails(self):
        counts, probs = self.judge("TAP version 13\n1..2\nok 1 a\nok 3 b\n")
        self.assertGreater(counts.failed, 0)
        self.assertTrue(any("result 2 is numbered 3" in p for p in probs))

    def test_out_of_order_result_numbers_fail(self):
        counts, probs = self.judge("TAP version 13\n1..2\nok 2 b\nok 1 a\n")
        self.assertGreater(counts.failed, 0)
        self.assertTrue(any("result 1 is numbered 2" in p for p in probs))

    def test_numbering_restarts_in_each_subtest(self):
        counts, probs = self.judge("KTAP version 1\n1..2\n    KTAP version 1\n    1..2\n"
                                   "    ok 1 x\n    ok 2 y\nok 1 s1\n    KTAP version 1\n"
                                   "    1..1\n    ok 1 z\nok 2 s2\n")
        self.assertEqual((counts.passed, counts.failed, probs), (3, 0, []))

    def test_misnumbered_subtest_fails(self):
        counts, probs = self.judge("KTAP version 1\n1..1\n    KTAP version 1\n    1..2\n"
                                   "    ok 1 x\n    ok 1 y\nok 1 s1\n")
        self.assertGreater(counts.failed, 0)
        self.assertTrue(any(p.startswith("t/s1: result 2 is numbered 1") for p in probs))

    # Rule 3: only a real directive on an `ok` line makes a skip.
    def test_not_ok_with_skip_directive_is_a_failure(self):
        skips = []
        counts, probs = ktap.judge_test("t", ["TAP version 13", "1..1", "not ok 1 a # SKIP no card"], 0, skips)
        self.assertEqual((counts.passed, counts.failed, counts.skipped), (0, 1, 0))
        self.assertTrue(any(p.startswith("t/a: not ok") for p in probs))
        self.assertEqual(skips, [])

    def test_skip_inside_a_description_is_not_a_directive(self):
        # (a directive's '#' has a blank on both sides: "a# SKIP b" is a description)
        for line in ("ok 1 parses '# SKIPPED' lines", "ok 1 a #SKIP b", "ok 1 a # SKIP: b", "ok 1 a# SKIP b"):
            counts, probs = self.judge(f"TAP version 13\n1..1\n{line}\n")
            self.assertEqual((counts.passed, counts.skipped, probs), (1, 0, []), line)

    def test_hash_in_a_description_is_kept(self):
        root = ktap.parse_ktap(["1..2", "ok 1 issue #12 is fixed", "ok 2 - a # b c # SKIP why # not"])
        self.assertEqual((root.results[0].name, root.results[0].directive), ("issue #12 is fixed", ""))
        r = root.results[1]
        self.assertEqual((r.name, r.directive, r.reason), ("a # b c", "SKIP", "why # not"))
        self.assertEqual(ktap.split_result(" a # # SKIP x"), ("a #", "SKIP", "x"))

    def test_last_directive_counts(self):
        skips = []
        counts, probs = ktap.judge_test("t", ["1..1", "ok 1 a # SKIP x # TODO y"], 0, skips)
        self.assertEqual((counts.passed, counts.skipped, skips), (1, 0, []))
        counts, probs = ktap.judge_test("t", ["1..1", "ok 1 a # todo x # skip y z"], 0, skips)
        self.assertEqual((counts.passed, counts.skipped, skips), (0, 1, [("t/a # todo x", "y z")]))

    def test_per_result_skip_reasons(self):
        skips = []
        counts, probs = ktap.judge_test("t", KUNIT.splitlines(), 0, skips)
        self.assertEqual(skips, [("t/suite_a/case_two", "not here")])

    # Rule 4: the kernel's RCU stall reports (kernel/rcu/tree_stall.h,
    # tree_exp.h, tasks.h) are splats.
    def test_rcu_stalls_are_splats(self):
        stalls = [
            "[  30.1] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
            "[  30.1] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:",
            "[  30.1] rcu: INFO: rcu_preempt self-detected stall on CPU",
            "[  30.1] rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 1-... } 21 jiffies s: 9 root: 0x2/.",
            "[  30.1] INFO: rcu_tasks detected stalls on tasks:",
            "[  30.1] rcu: INFO: rcu_preempt detected stall, but suppressed full report due to a stuck CSD-lock.",
        ]
        for line in stalls:
            self.assertEqual(ktap.find_splats([line]), [ktap.strip_line(line)], line)
        quiet = ["[ 0.1] rcu: Preemptible hierarchical RCU implementation.",
                 "[ 0.1] rcu: \tRCU event tracing is enabled.",
                 "[ 0.1] rcu: RCU calculated value of scheduler-enlistment delay is 25 jiffies."]
        self.assertEqual(ktap.find_splats(quiet), [])

    # Rule 6: the list of expected skips and its matching (the runner's
    # use of it: class Runner below).
    def test_expected_skips_match_whole_name_and_reason(self):
        with tempfile.NamedTemporaryFile("w", suffix=".skips", delete=False) as f:
            f.write("# why: ...\n\n# the hot-plug test on a machine without ACPI hotplug\n"
                    "drivers/accel/mlu270/hotplug\tno card was hot-plugged.*\n")
        try:
            expected = ktap.load_expected_skips(f.name)
        finally:
            os.unlink(f.name)
        skips = [("drivers/accel/mlu270/hotplug", "no card was hot-plugged (no runner)"),
                 ("drivers/accel/mlu270/hotplug", "no MLU270 card"),
                 ("drivers/accel/mlu270/hotplug/x", "no card was hot-plugged")]
        self.assertEqual(ktap.unexpected_skips(skips, expected), skips[1:])

    def test_malformed_expected_skips_are_refused(self):
        for text in ("only-a-name\n", "a\tb\tc\n", "(\tx\n"):
            with tempfile.NamedTemporaryFile("w", delete=False) as f:
                f.write(text)
            try:
                with self.assertRaises(ValueError, msg=text):
                    ktap.load_expected_skips(f.name)
            finally:
                os.unlink(f.name)

    def test_the_expected_skips_list_parses(self):
        ktap.load_expected_skips(os.path.join(TOP, "qemu-test", "config", "expected-skips"))

    # Rule 8: a qtest's skip is a skip, and with --strict-skips a failure.
    def test_tap_count_counts_a_qtest_skip(self):
        tap = "ok 1 /mlu270/a\nok 2 /mlu270/b # SKIP no KVM\n1..2\n"
        self.assertEqual(self.tap_count(tap), (0, {"passed": 1, "failed": 0, "skipped": 1, "problems": []}))

    def test_tap_count_strict_refuses_an_unlisted_qtest_skip(self):
        tap = "ok 1 /mlu270/a\nok 2 /mlu270/b # SKIP no KVM\n1..2\n"
        rc, d = self.tap_count(tap, "# none\n")
        self.assertEqual((rc, d["passed"], d["failed"], d["skipped"]), (1, 1, 1, 0))
        self.assertEqual(len(d["problems"]), 1)
        self.assertIn("host/qtest/mlu270/b: skipped (no KVM)", d["problems"][0])
        rc, d = self.tap_count(tap, "# b needs KVM\nhost/qtest/mlu270/b\tno KVM\n")
        self.assertEqual((rc, d["passed"], d["failed"], d["skipped"]), (0, 1, 0, 1))

    def tap_count(self, tap, skips_list=None):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "in.tap"), "w") as f:
                f.write(tap)
            argv = ["ktap.py", "tap-count", os.path.join(d, "in.tap"), os.path.join(d, "out.json"),
                    "--name", "host/qtest"]
            if skips_list is not None:
                with open(os.path.join(d, "skips"), "w") as f:
                    f.write(skips_list)
                argv += ["--strict-skips", os.path.join(d, "skips")]
            out, sys.stdout = sys.stdout, io.StringIO()
            try:
                rc = ktap.main(argv)
            finally:
                sys.stdout = out
            with open(os.path.join(d, "out.json")) as f:
                return rc, json.load(f)

    def test_splats(self):
        log = ["[    2.0] ------------[ cut here ]------------",
               "[    2.1] WARNING: CPU: 0 PID: 1 at foo.c:1 bar",
               "[    2.2] kasan: KernelAddressSanitizer initialized (generic)",
               "[    2.3] ok 1 fine"]
        self.assertEqual(len(ktap.find_splats(log)), 2)
        self.assertEqual(ktap.find_splats(["[ 1.0] kasan: KernelAddressSanitizer initialized"]), [])


def kunit_doc(t, suites):
    """A KUnit document at time t: one suite per name, one passing case."""
    lines = [f"[{t:12.6f}] KTAP version 1", f"[{t:12.6f}] 1..{len(suites)}"]
    for i, name in enumerate(suites, 1):
        lines += [f"[{t:12.6f}]     KTAP version 1", f"[{t:12.6f}]     # Subtest: {name}",
                  f"[{t:12.6f}]     1..1", f"[{t:12.6f}]     ok 1 {name}_case",
                  f"[{t:12.6f}] ok {i} {name}"]
    return lines


def port(*tests):
    """The test port of a run: (name, output lines, exit code) per test."""
    lines = []
    for name, out, rc in tests:
        lines += [f"MLU270-TEST-BEGIN {name}", *out, f"MLU270-TEST-END {name} {rc}"]
    return lines + ["MLU270-ALL-DONE"]


BUILTIN = ["rust_doctests_kernel", "rust_kernel_pci_sriov", "rust_kernel_device_attribute",
           "rust_vfio_migration"]


class Runner(unittest.TestCase):
    """The run-level rules of runner.py (judge_run, host_actions)."""

    def judge(self, tests, console, port_lines, **kw):
        out, sys.stdout = sys.stdout, io.StringIO()
        try:
            return runner.judge_run(tests, console, port_lines, **kw)
        finally:
            sys.stdout = out

    def expected_suites(self):
        return runner.load_expected_suites(os.path.join(TOP, "qemu-test", "config", "expected-kunit-suites"))

    # Rule 5: the expected KUnit suites must have run.
    def test_the_expected_suites_list(self):
        suites = self.expected_suites()
        self.assertIn(("mlu270_pf", "mlu270_pf"), suites)
        for name in BUILTIN:
            self.assertIn((name, None), suites)

    # A test the guest finished but whose END line the test port lost.
    def test_a_lost_end_line_takes_the_consoles_exit_code(self):
        ktap_ok = ["TAP version 13", "1..1", "ok 1 a"]
        lines = port(("t/a", ktap_ok, 0), ("t/b", ktap_ok, 0))
        lines.remove("MLU270-TEST-END t/a 0")
        tests = [("t/a", "a"), ("t/b", "b")]
        finished = ["[   1.000000] mlu270-test: running t/a",
                    "[   2.000000] mlu270-test: finished t/a (exit {}; cpu user 1%)"]
        total, probs = self.judge(tests, [finished[0], finished[1].format(0)], lines,
                                  kunit=False)
        self.assertEqual((probs, total.failed), ([], 0))
        total, probs = self.judge(tests, [finished[0], finished[1].format(1)], lines,
                                  kunit=False)
        self.assertEqual(total.failed, 1)
        # Without the console's word, it did not finish.
        total, probs = self.judge(tests, [finished[0]], lines, kunit=False)
        self.assertIn("t/a: did not finish (guest died or hung)", probs)

    def test_all_expected_suites_ran(self):
        # built-in suites at boot; mlu270_pf's when the module loads, among
        # other kernel messages, later
        console = (["[    0.000000] Linux version 7.3.4"] + kunit_doc(1.0, BUILTIN)
                   + ["[   20.000000] mlu270-test: running drivers/accel/mlu270/pf_sriov"]
                   + kunit_doc(21.0, ["mlu270_pf", "mlu270_pf_mig"])
                   + ["[   21.500000] mlu270_pf 0000:00:05.0: MLU270 card, 16 IPU cores"])
        total, probs = self.judge([], console, port(), expected_suites=self.expected_suites())
        self.assertEqual(probs, [])
        self.assertEqual((total.passed, total.failed), (len(BUILTIN) + 2, 0))

    def test_a_missing_suite_fails_the_run(self):
        console = kunit_doc(1.0, BUILTIN[:2])
        total, probs = self.judge([], console, port(), expected_suites=self.expected_suites())
        self.assertIn("kunit: suite rust_kernel_device_attribute did not run", probs)
        self.assertIn("kunit: suite mlu270_pf did not run", probs)
        self.assertIn("kunit: suite mlu270_pf_mig did not run", probs)
        self.assertIn("kunit: suite rust_vfio_migration did not run", probs)
        self.assertEqual(total.failed, 4)

    def test_module_suites_are_required_in_full_runs_only(self):
        console = kunit_doc(1.0, BUILTIN)
        total, probs = self.judge([], console, port(), expected_suites=self.expected_suites(),
                                  full_run=False)
        self.assertEqual((probs, total.failed), ([], 0))

    def test_no_suite_required_without_kunit(self):
        total, probs = self.judge([], [], port(), kunit=False, expected_suites=self.expected_suites())
        self.assertEqual((probs, total.failed), ([], 0))

    # Rule 6: with --strict-skips, a skip of our own tests is a failure.
    SKIPPING = [
        ("drivers/accel/mlu270/hotplug", ["TAP version 13", "1..0 # SKIP no card was hot-plugged"], 4),
        ("drivers/accel/mlu270/jobs", [], 4),
        ("drivers/accel/mlu270/vf_probe", ["TAP version 13", "1..2", "ok 1 probes",
                                           "ok 2 an incompatible PF fails (no /dev/mem) # SKIP"], 0),
        ("extra/mine", ["TAP version 13", "1..0 # SKIP not here"], 4),
    ]

    def run_skipping(self, expected):
        tests = [(name, "x") for name, _out, _rc in self.SKIPPING]
        return self.judge(tests, kunit_doc(1.0, BUILTIN), port(*self.SKIPPING), kunit=False,
                          expected_skips=expected, skips_source="expected-skips")

    def test_skips_without_strict_skips(self):
        total, probs = self.run_skipping(None)
        self.assertEqual((str(total), probs), ("1 passed, 0 failed, 4 skipped", []))

    def test_unexpected_skips_fail(self):
        total, probs = self.run_skipping([])
        self.assertEqual(str(total), "1 passed, 3 failed, 1 skipped")
        self.assertEqual(len(probs), 3)
        self.assertIn("drivers/accel/mlu270/hotplug: skipped (no card was hot-plugged)", probs[0])
        self.assertIn("drivers/accel/mlu270/jobs: skipped (no reason given)", probs[1])
        self.assertIn("drivers/accel/mlu270/vf_probe/an incompatible PF fails (no /dev/mem): skipped", probs[2])
        self.assertIn("unless expected-skips lists it", probs[0])

    def test_listed_skips_pass(self):
        expected = [(re.compile(n), re.compile(r)) for n, r in (
            ("drivers/accel/mlu270/hotplug", "no card was hot-plugged"),
            ("drivers/accel/mlu270/jobs", ""),
            (r"drivers/accel/mlu270/vf_probe/an incompatible PF fails \(no /dev/mem\)", ""))]
        total, probs = self.run_skipping(expected)
        self.assertEqual((str(total), probs), ("1 passed, 0 failed, 4 skipped", []))

    def test_kunit_skips_fail(self):
        console = [ktap.strip_line(x) for x in KUNIT.splitlines()]
        total, probs = self.judge([], console, port(), expected_skips=[], skips_source="expected-skips")
        self.assertTrue(any(p.startswith("kunit/suite_a/case_two: skipped (not here)") for p in probs))
        self.assertEqual((total.skipped, total.failed), (0, 2))

    # Rule 7: a failed host action fails the run.
    def test_failed_host_actions(self):
        class FakeQmp:
            def __init__(self, path):
                pass

            def execute(self, command, arguments):
                if command == "device_del":
                    raise OSError("QMP closed")
                return {"error": {"class": "GenericError", "desc": "Bus 'hp0' is full"}}

        with tempfile.TemporaryDirectory() as d:
            tests_port = os.path.join(d, "tests.log")
            with open(tests_port, "w") as f:
                f.write("MLU270-HOST plug-card\nMLU270-HOST unplug-card\nMLU270-HOST reboot\n")
            saved, runner.Qmp = runner.Qmp, FakeQmp
            failures = []
            try:
                with open(os.path.join(d, "host-actions.log"), "w") as log:
                    runner.host_actions(tests_port, 0, [None], log, failures)
            finally:
                runner.Qmp = saved
        self.assertEqual(failures, [
            "host action plug-card failed: QMP device_add: GenericError: Bus 'hp0' is full",
            "host action unplug-card failed: QMP closed",
            "host action reboot failed: unknown action"])
        total, probs = self.judge([], [], port(), kunit=False, action_failures=failures)
        self.assertEqual(total.failed, 3)
        self.assertEqual(probs, failures)

    def test_a_request_left_when_qemu_exits_fails(self):
        with tempfile.TemporaryDirectory() as d:
            tests_port = os.path.join(d, "tests.log")
            with open(tests_port, "w") as f:
                f.write("MLU270-HOST unplug-card\n")
            failures = []
            with open(os.path.join(d, "host-actions.log"), "w") as log:
                runner.host_actions(tests_port, 0, [None], log, failures, exited=True)
        self.assertEqual(failures, ["host action unplug-card failed: QEMU exited before it was carried out"])

    def test_a_host_action_that_works(self):
        class FakeQmp:
            def __init__(self, path):
                pass

            def execute(self, command, arguments):
                return {"return": {}}

        with tempfile.TemporaryDirectory() as d:
            tests_port = os.path.join(d, "tests.log")
            with open(tests_port, "w") as f:
                f.write("MLU270-HOST plug-card\n")
            saved, runner.Qmp = runner.Qmp, FakeQmp
            failures = []
            try:
                with open(os.path.join(d, "host-actions.log"), "w") as log:
                    offset = runner.host_actions(tests_port, 0, [None], log, failures)
            finally:
                runner.Qmp = saved
        self.assertEqual((failures, offset), ([], len("MLU270-HOST plug-card\n")))


FAKE_QEMU = """#!/bin/sh
# a stand-in for QEMU: a passing KUnit document on the console (the first
# -serial file:), the file "port" next to it on the test port (the second),
# and no QMP socket: a host action asked for is never carried out
console= port= prev=
for a; do
	if [ "$prev" = -serial ]; then
		if [ -z "$console" ]; then console=${a#file:}; else port=${a#file:}; fi
	fi
	prev=$a
done
printf 'KTAP version 1\\n1..1\\nok 1 suite\\n' >"$console"
cat "$(dirname "$0")/port" >"$port"
"""


class RunnerMain(unittest.TestCase):
    """Rule 7 end to end: runner.main() fails `make test` and `make run` on
    a host action that failed (its request is read while QEMU runs or
    once it has exited)."""

    def run_main(self, mode, port_lines):
        """runner.main() with FAKE_QEMU and no guest test: (exit code,
        stdout, the --counts JSON or None)."""
        with tempfile.TemporaryDirectory() as d:
            qemu = os.path.join(d, "qemu")
            with open(qemu, "w") as f:
                f.write(FAKE_QEMU)
            os.chmod(qemu, 0o755)
            with open(os.path.join(d, "port"), "w") as f:
                f.write("".join(line + "\n" for line in port_lines))
            suites = os.path.join(d, "suites")
            open(suites, "w").close()
            counts = os.path.join(d, "counts.json")
            argv = ["runner.py", "--qemu", qemu, "--kernel", "k", "--initrd", os.path.join(d, "initrd"),
                    "--mkinitramfs", "true", "--logdir", os.path.join(d, "logs"), "--counts", counts,
                    "--kunit-suites", suites, "--mode", mode]
            saved = sys.argv, sys.stdout, runner.discover
            sys.argv, sys.stdout, runner.discover = argv, io.StringIO(), lambda _selftests: []
            try:
                with mock.patch.dict(os.environ, ACCEL="tcg"):
                    rc = runner.main()
                out = sys.stdout.getvalue()
            finally:
                sys.argv, sys.stdout, runner.discover = saved
            if not os.path.exists(counts):
                return rc, out, None
            with open(counts) as f:
                return rc, out, json.load(f)

    def test_a_failed_host_action_fails_make_test(self):
        rc, out, counts = self.run_main("test", ["MLU270-ALL-DONE"])
        self.assertEqual((rc, counts["failed"], counts["problems"]), (0, 0, []), out)
        rc, out, counts = self.run_main("test", ["MLU270-HOST plug-card", "MLU270-ALL-DONE"])
        self.assertEqual((rc, counts["passed"], counts["failed"]), (1, 1, 1), out)
        self.assertEqual(len(counts["problems"]), 1, counts)
        self.assertTrue(counts["problems"][0].startswith("host action plug-card failed: "), counts)

    def test_a_failed_host_action_fails_make_run(self):
        rc, out, _ = self.run_main("run", ["MLU270-DEMO-EXIT 0"])
        self.assertEqual(rc, 0, out)
        rc, out, _ = self.run_main("run", ["MLU270-HOST plug-card", "MLU270-DEMO-EXIT 0"])
        self.assertEqual(rc, 1, out)
        self.assertIn("host action plug-card failed: ", out)


class RunnerSplit(unittest.TestCase):
    """How runner.py splits the tests across its guests (--guests)."""

    TESTS = [("a", "x/a.sh"), ("b", "x/b.sh"), ("c", "x/c.sh"), ("d", "x/d.sh"), ("e", "x/e.sh")]

    def test_one_guest_runs_everything(self):
        self.assertEqual(runner.split_tests(self.TESTS, [False] * 5, 1, {}, True), [0] * 5)

    def test_longest_first_on_the_least_loaded_guest(self):
        durations = {"a": 100, "b": 60, "c": 50, "d": 10, "e": 5}
        where = runner.split_tests(self.TESTS, [False] * 5, 2, durations, kunit=False)
        loads = [sum(durations[n] for (n, _), g in zip(self.TESTS, where) if g == k)
                 for k in range(2)]
        self.assertEqual(where[0], 0)
        self.assertEqual(sorted(loads), [110, 115], where)

    def test_solo_tests_run_in_guest_0(self):
        durations = {"a": 100, "b": 100, "c": 100, "d": 100, "e": 100}
        solo = [False, False, False, True, True]
        where = runner.split_tests(self.TESTS, solo, 3, durations, kunit=True)
        self.assertEqual(where[3:], [0, 0])
        # guest 0 has KUnit: the first unsolo test goes elsewhere
        self.assertNotEqual(where[0], 0)

    def test_unknown_tests_have_a_default_duration(self):
        where = runner.split_tests(self.TESTS, [False] * 5, 5, {}, kunit=False)
        self.assertEqual(sorted(where), [0, 1, 2, 3, 4])

    def test_header(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.sh")
            with open(path, "w") as f:
                f.write("#!/bin/sh\n# timeout: 60\n# solo: it measures a latency\necho\n")
            self.assertEqual(runner.test_header(path, "solo"), "it measures a latency")
            self.assertEqual(runner.test_header(path, "timeout"), "60")
            self.assertIsNone(runner.test_header(path, "exclusive"))
            self.assertIsNone(runner.test_header(os.path.join(d, "none"), "solo"))

    def test_durations_from_the_console(self):
        lines = ["[    1.500000] mlu270-test: running a",
                 "[    4.000000] mlu270-test: finished a (exit 0; cpu user 1%, system 50%, idle 49%)",
                 "[    4.100000] mlu270-test: running b"]
        self.assertEqual(runner.test_durations(lines), {"a": 2.5})

    def test_the_committed_durations_name_real_tests(self):
        names = {name for name, _ in runner.discover(False)}
        with open(runner.DURATIONS) as f:
            listed = [line.split()[0] for line in f if line.strip() and not line.startswith("#")]
        self.assertTrue(listed)
        self.assertEqual([n for n in listed if n not in names], [])


QTEST_STUB = """#!/bin/sh
# a stand-in for the qtest binary: one passing case, one g_test_skip
if [ "$1" = -l ]; then
	echo /mlu270/a
	echo /mlu270/b
	exit 0
fi
echo "# random seed: R02S0"
case "$3" in
/mlu270/a) echo "ok 1 /mlu270/a" ;;
/mlu270/b) echo "ok 1 /mlu270/b # SKIP needs KVM" ;;
esac
echo "1..1"
"""


@unittest.skipUnless(os.path.exists("/usr/share/seabios/bios-256k.bin"), "no seabios")
class Qtests(unittest.TestCase):
    """Rule 8: run-qtests.sh reports a g_test_skip case as a skip."""

    def test_a_skipped_case_is_reported_as_a_skip(self):
        import subprocess
        scripts = os.path.join(TOP, "qemu-test", "scripts")
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, MLU270_CACHE=cache)
            model_hash = subprocess.run(
                ["bash", "-c", f"source {scripts}/common.sh && hash_inputs $TOP/qemu-test/mlu270"],
                env=env, capture_output=True, text=True, check=True).stdout.strip()
            build = os.path.join(cache, "qemu-build", "build")
            os.makedirs(os.path.join(build, "tests", "qtest", "mlu270"))
            with open(os.path.join(cache, "qemu-build", ".mlu270-model-hash"), "w") as f:
                f.write(model_hash + "\n")
            for path, text in ((os.path.join(build, "qemu-system-x86_64"), "#!/bin/sh\nexit 1\n"),
                               (os.path.join(build, "tests", "qtest", "mlu270", "mlu270-test"), QTEST_STUB)):
                with open(path, "w") as f:
                    f.write(text)
                os.chmod(path, 0o755)
            os.symlink(os.path.join(cache, "qemu-build"), os.path.join(cache, "qemu-current"))
            tap = subprocess.run(["bash", os.path.join(scripts, "run-qtests.sh")], env=env,
                                 capture_output=True, text=True).stdout
        lines = tap.splitlines()
        self.assertIn("ok 1 /mlu270/a", lines)
        self.assertIn("ok 2 /mlu270/b # SKIP needs KVM", lines)
        counts, probs = ktap.parse_tap_summary(lines[:2] + ["1..2"], "host/qtest")
        self.assertEqual((counts.passed, counts.skipped, probs), (1, 1, []))


if __name__ == "__main__":
    unittest.main()
