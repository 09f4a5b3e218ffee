# SPDX-License-Identifier: GPL-2.0
"""Unit tests of bench-report.py (host side, run by `make check`)."""

import importlib.util
import io
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("bench_report", os.path.join(HERE, "..", "bench-report.py"))
bench_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_report)


def log_text(rounds):
    """A bench log: every figure the report needs, per round."""
    lines = ["booting ...", "# MLU270 PF 0000:00:05.0"]
    for i, r in enumerate(rounds, 1):
        lines.append(f"# round {i}")
        lines += [f"BENCH {k} {v} {'MB/s' if k.endswith('_mb_s') else 'ms'}" for k, v in r.items()]
    lines.append("# done")
    return "\n".join(lines) + "\n"


def full_round(**over):
    names = set()
    for _, num, den, _, _ in bench_report.RATIOS:
        names |= {num, den}
    for _, parts, _ in bench_report.SUMS:
        names |= set(parts)
    r = {n: 100.0 for n in sorted(names)}
    r.update(over)
    return r


class Report(unittest.TestCase):
    def run_report(self, rounds):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "bench.log")
            md = os.path.join(d, "report.md")
            svg = os.path.join(d, "report.svg")
            with open(log, "w") as f:
                f.write(log_text(rounds))
            out, sys.stdout = sys.stdout, io.StringIO()
            err, sys.stderr = sys.stderr, io.StringIO()
            try:
                sys.argv = ["bench-report.py", log, "--markdown", md, "--svg", svg]
                rc = bench_report.main()
            finally:
                sys.stdout, sys.stderr = out, err
            with open(md) as f, open(svg) as g:
                return rc, f.read(), g.read()

    def test_ratios_are_taken_inside_each_round(self):
        # Round 1: ours 150 / igb 1500; round 2: 300 / 1500; round 3: 120 / 1200.
        rounds = [full_round(vf_enable_ms=150, igb_enable_ms=1500),
                  full_round(vf_enable_ms=300, igb_enable_ms=1500),
                  full_round(vf_enable_ms=120, igb_enable_ms=1200)]
        rc, md, svg = self.run_report(rounds)
        self.assertEqual(rc, 0)
        row = next(line for line in md.splitlines() if line.startswith("| enable_vs_igb "))
        self.assertIn("| 0.100 | 0.100 | 0.200 |", row)
        self.assertIn("<svg", svg)

    def test_sum_of_repartition_steps(self):
        rc, md, _ = self.run_report([full_round(vf_enable_ms=100, vf_disable_ms=1000, vf_enable3_ms=90)])
        row = next(line for line in md.splitlines() if line.startswith("| repartition_0_4_0_3_ms "))
        self.assertIn("| 1190 | 1190 | 1190 |", row)

    def test_a_missed_goal_fails(self):
        rc, md, _ = self.run_report([full_round(vf_quarter_memcpy_mb_s=90, pf_quarter_memcpy_mb_s=100)])
        self.assertEqual(rc, 1)
        self.assertIn("NOT met", md)
        self.assertIn("below the goal", md)

    def test_a_missing_figure_fails(self):
        r = full_round()
        del r["igb_enable_ms"]
        rc, md, _ = self.run_report([full_round(), r])
        self.assertEqual(rc, 1)
        self.assertIn("round 2: no value for igb_enable_ms", md)


if __name__ == "__main__":
    unittest.main()
