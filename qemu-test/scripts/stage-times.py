#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The table of stage times `make check` prints before its totals.

stage-times.py TIMES_TSV CONSOLE_LOG [CONSOLE_LOG...]

TIMES_TSV has one "stage<TAB>seconds" line per stage of this make
invocation, in the order they ran (qemu-test/scripts/timed.sh for the build
stages, check.sh for its own). The guest stage is split with the guest's
console log: its boot (kernel, KUnit) until the first test starts, each
test ("mlu270-test: running X" .. "finished X", guest clock), and the rest
(initramfs, kmemleak scan, power-off). With more than one test guest (the
runner's --guests), one console log each, guest 0 first: each guest's
split follows.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runner  # noqa: E402

STAMP = re.compile(r"^\[\s*(\d+\.\d+)\]")
# how the guest's CPUs spent a test's time (qemu-test/guest/init)
CPU = re.compile(r"cpu (user \d+%, system \d+%, idle \d+%(?:, \d+ processes)?)")


def guest_tests(console):
    """(boot seconds, [(test, seconds, cpu)], seconds until the last
    line) from the guest's console log."""
    lines = runner.read_lines(console)
    if not lines:
        return None, [], 0.0
    spans = runner.test_spans(lines)
    tests = []
    for name, start, end, rest in spans:
        cpu = CPU.search(rest)
        tests.append((name, end - start, cpu.group(1) if cpu else ""))
    last = 0.0
    for line in lines:
        stamp = STAMP.match(line)
        if stamp:
            last = float(stamp.group(1))
    first = min((start for _, start, _, _ in spans), default=None)
    return first, tests, last


def main():
    rows = []
    try:
        for line in open(sys.argv[1]):
            stage, _, secs = line.rstrip("\n").partition("\t")
            rows.append((stage, float(secs)))
    except (OSError, ValueError):
        return 0
    consoles = [c for c in sys.argv[2:] if os.path.exists(c)]
    out = []
    for stage, secs in rows:
        if stage != "guest" or not consoles:
            out.append((stage, secs))
            continue
        out.append(("guest", secs))
        for k, console in enumerate(consoles):
            boot, tests, last = guest_tests(console)
            if boot is None:
                continue
            indent = "  "
            if len(consoles) > 1:
                out.append((f"  guest {k} (until power-off)", last))
                indent = "    "
            out.append((f"{indent}boot (kernel{', KUnit' if k == 0 else ''})", boot))
            for name, t, cpu in tests:
                out.append((f"{indent}{name}", t, cpu))
            if len(consoles) == 1:
                rest = secs - boot - sum(t for _, t, _ in tests)
                out.append(("  initramfs, kmemleak, power-off", max(rest, 0.0)))
    total = sum(secs for stage, secs in rows)
    width = max(len(row[0]) for row in out + [("total", 0)])
    print("Stage times (wall clock; guest tests by the guest's clock, with the")
    print("share of the guest's CPU time each spent in user space, the kernel and idle,")
    print("and the processes each started):")
    for stage, secs, *cpu in out:
        print(f"  {stage:<{width}}  {secs:7.1f} s  {cpu[0] if cpu else ''}".rstrip())
    print(f"  {'total':<{width}}  {total:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
