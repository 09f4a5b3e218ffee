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
    r = {n: 100.0 for n in bench_report.FIGURES}
    r.update(over)
    return r


def run_report(rounds, text=None):
    """Runs bench-report.py on a log made of `rounds`, or on `text`:
    (exit code, report or None, svg or None, stderr)."""
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "bench.log")
        md = os.path.join(d, "report.md")
        svg = os.path.join(d, "report.svg")
        with open(log, "w") as f:
            f.write(log_text(rounds) if text is None else text)
        out, sys.stdout = sys.stdout, io.StringIO()
        err, sys.stderr = sys.stderr, io.StringIO()
        try:
            sys.argv = ["bench-report.py", log, "--markdown", md, "--svg", svg]
            rc = bench_report.main()
            stderr = sys.stderr.getvalue()
        finally:
            sys.stdout, sys.stderr = out, err
        written = []
        for path in (md, svg):
            if os.path.exists(path):
                with open(path) as f:
                    written.append(f.read())
            else:
                written.append(None)
        return rc, written[0], written[1], stderr


class Report(unittest.TestCase):
    def run_report(self, rounds, text=None):
        rc, md, svg, self.stderr = run_report(rounds, text)
        return rc, md, svg

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

    # A failed step measures nothing: the log is rejected, no report.
    def test_a_missing_figure_fails(self):
        r = full_round()
        del r["igb_enable_ms"]
        rc, md, svg = self.run_report([full_round(), r])
        self.assertEqual((rc, md, svg), (1, None, None))
        self.assertIn("round 2: no value for igb_enable_ms", self.stderr)

    def test_a_figure_missing_from_every_round_fails(self):
        # (a figure no ratio uses: nothing else would notice)
        rounds = [full_round(), full_round()]
        for r in rounds:
            del r["flr_to_ready_ms"]
        rc, md, _ = self.run_report(rounds)
        self.assertEqual((rc, md), (1, None))
        self.assertIn("round 1: no value for flr_to_ready_ms", self.stderr)

    def test_a_zero_input_of_a_ratio_fails(self):
        # bench.sh used to print 0 for a step that failed (a 0 denominator
        # used to drop the round from the ratio, a 0 numerator to crash the plot)
        for over in ({"igb_enable_ms": 0}, {"vf_enable_ms": 0}, {"vf_enable_ms": 0.0, "igb_enable_ms": 0}):
            rc, md, _ = self.run_report([full_round(), full_round(**over)])
            self.assertEqual((rc, md), (1, None), over)
            self.assertIn("not > 0", self.stderr)

    def test_negative_and_non_finite_figures_fail(self):
        for value in (-1, float("nan"), float("inf")):
            rc, md, _ = self.run_report([full_round(flr_to_ready_ms=value)])
            self.assertEqual((rc, md), (1, None), value)

    def test_a_malformed_figure_fails(self):
        text = log_text([full_round()]).replace("BENCH flr_to_ready_ms 100.0 ms", "BENCH flr_to_ready_ms  ms")
        rc, md, _ = self.run_report(None, text)
        self.assertEqual((rc, md), (1, None))
        text = log_text([full_round()]).replace("BENCH flr_to_ready_ms 100.0 ms", "BENCH flr_to_ready_ms fast ms")
        rc, md, _ = self.run_report(None, text)
        self.assertEqual((rc, md), (1, None))
        self.assertIn("not a number", self.stderr)

    def test_a_failed_run_is_rejected(self):
        text = log_text([full_round()]).replace("# done", "# bench: FAILED: modprobe mlu270_pf")
        rc, md, _ = self.run_report(None, text)
        self.assertEqual((rc, md), (1, None))

    def test_no_rounds(self):
        rc, md, _ = self.run_report([])
        self.assertEqual((rc, md), (1, None))


GUEST_SCRIPT = os.path.join(HERE, "..", "..", "guest", "share", "bench.sh")
# Stand-ins for the guest's tools; BENCH_FAIL=<tool>-<step> makes one fail.
STUBS = {
    "bin/mlu270_timing": """#!/bin/sh
[ "$BENCH_FAIL" = "timing-$1" ] && exit 1
case "$1" in
up) ;;
*) echo 137200 ;;
esac
""",
    "bin/mlu270_fuzz": """#!/bin/sh
case "$4" in
ping|echo)
	[ "$BENCH_FAIL" = "fuzz-$4" ] && exit 1
	echo "ack_us=1/2/3/4 reply_us=40/48/50/60 lost=0" ;;
*)	[ "$BENCH_FAIL" = "fuzz-flood" ] && exit 1
	exec sleep 60 ;;
esac
""",
    "path/mlu270-smi": """#!/bin/sh
[ "$BENCH_FAIL" = "smi-$4" ] && exit 1
echo '{"wall_mb_s": 249.7, "jobs": 256}'
""",
}
# (busybox runs its own modprobe and taskset before $PATH: functions)
FUNCTIONS = """modprobe() { [ "$BENCH_FAIL" != "modprobe-$1" ]; }
taskset() { shift; "$@"; }
"""


def fake_guest(d):
    """A sysfs with the card (four VFs) and igb, and the tools: enough for
    the guest's bench.sh to run on the host. Returns the script, rewritten
    to use them."""
    def write(path, text=""):
        path = os.path.join(d, path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    devs = "sys/bus/pci/devices"
    pf = f"{devs}/0000:00:05.0"
    for attr, value in (("vendor", "0xcabc"), ("device", "0x0270"), ("native_slice", ""),
                        ("sriov_drivers_autoprobe", ""), ("driver_override", ""), ("driver/unbind", "")):
        write(f"{pf}/{attr}", value + "\n")
    for i in range(4):
        vf = f"0000:00:05.{i + 1}"
        for attr, value in (("vendor", "0xcabc"), ("device", "0x0271"), ("reset", ""),
                            ("driver_override", "")):
            write(f"{devs}/{vf}/{attr}", value + "\n")
        os.symlink(f"../{vf}", os.path.join(d, pf, f"virtfn{i}"))
    write(f"{devs}/0000:02:00.0/vendor", "0x8086\n")
    write(f"{devs}/0000:02:00.0/device", "0x10c9\n")
    os.makedirs(os.path.join(d, devs, "0000:02:00.0", "net", "eth0"))
    for drv in ("mlu270_pf", "mlu270_vf", "pci-pf-stub"):
        write(f"sys/bus/pci/drivers/{drv}/bind")
        write(f"sys/bus/pci/drivers/{drv}/unbind")
    for path, text in STUBS.items():
        os.chmod(write(path, text), 0o755)
    os.makedirs(os.path.join(d, "t"))
    with open(GUEST_SCRIPT) as f:
        script = f.read()
    script = (script.replace("/tmp/", "@TMP@/").replace("/sys/", f"{d}/sys/")
              .replace("@TMP@/", f"{d}/t/")
              .replace("S=/selftests/drivers/accel/mlu270", f"S={d}/bin")
              .replace("/etc/mlu270/env", f"{d}/no-env"))
    first, rest = script.split("\n", 1)
    script = f"{first}\n{FUNCTIONS}{rest}"
    return write("bench.sh", script)


class GuestScript(unittest.TestCase):
    """qemu-test/guest/share/bench.sh against stand-ins: a failed step must
    end the run (exit 1), never become a figure."""

    def run_guest(self, fail=""):
        import shutil
        import subprocess
        shell = ["busybox", "sh"] if shutil.which("busybox") else ["sh"]
        with tempfile.TemporaryDirectory() as d:
            script = fake_guest(d)
            env = dict(os.environ, PATH=f"{d}/path:{os.environ['PATH']}", BENCH_FAIL=fail,
                       MLU270_BENCH_ROUNDS="2", MLU270_BENCH_PINGS="3")
            p = subprocess.run(shell + [script], env=env, capture_output=True, text=True, timeout=120)
            return p.returncode, p.stdout + p.stderr

    def test_a_complete_run_gives_every_figure(self):
        rc, out = self.run_guest()
        self.assertEqual(rc, 0, out)
        self.assertIn("# done", out)
        names = {line.split()[1] for line in out.splitlines() if line.startswith("BENCH ")}
        self.assertEqual(names, set(bench_report.FIGURES))
        rc, md, _, stderr = run_report([], out)
        self.assertEqual(rc, 0, stderr)

    def test_a_failed_step_fails_the_run(self):
        for fail, figure in (("smi-zigzag", "vf_quarter_zigzag_mb_s"), ("timing-flr", "flr_to_ready_ms"),
                             ("fuzz-echo", "echo"), ("fuzz-flood", "vf_quarter_memcpy_flood_mb_s"),
                             ("timing-disable", "vf_disable_ms"), ("modprobe-mlu270_vf", "modprobe")):
            rc, out = self.run_guest(fail)
            self.assertNotEqual(rc, 0, f"{fail}:\n{out}")
            self.assertIn(f"# bench: FAILED: {figure}", out, fail)
            self.assertNotIn("# done", out, fail)
            for line in out.splitlines():
                if line.startswith("BENCH "):
                    self.assertEqual(len(line.split()), 4, line)
                    self.assertGreater(float(line.split()[2]), 0, line)


if __name__ == "__main__":
    unittest.main()
