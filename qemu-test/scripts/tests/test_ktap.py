# SPDX-License-Identifier: GPL-2.0
"""Unit tests of the runner's KTAP judge (host side, run by `make check`)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ktap  # noqa: E402

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

    def test_splats(self):
        log = ["[    2.0] ------------[ cut here ]------------",
               "[    2.1] WARNING: CPU: 0 PID: 1 at foo.c:1 bar",
               "[    2.2] kasan: KernelAddressSanitizer initialized (generic)",
               "[    2.3] ok 1 fine"]
        self.assertEqual(len(ktap.find_splats(log)), 2)
        self.assertEqual(ktap.find_splats(["[ 1.0] kasan: KernelAddressSanitizer initialized"]), [])


if __name__ == "__main__":
    unittest.main()
