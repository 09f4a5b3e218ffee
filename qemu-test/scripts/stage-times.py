#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The table of stage times `make check` prints before its totals.

stage-times.py TIMES_TSV CONSOLE_LOG

TIMES_TSV has one "stage<TAB>seconds" line per stage of this make
invocation, in the order they ran (qemu-test/scripts/timed.sh for the build
stages, check.sh for its own). The guest stage is split with the guest's
console log: its boot (kernel, KUnit) until the first test starts, each
test ("mlu270-test: running X" .. "finished X", guest clock), and the rest
(initramfs, kmemleak scan, power-off).
"""
import re
import sys

LINE = re.compile(r"^\[\s*(\d+\.\d+)\] mlu270-test: (running|finished) (\S+)")


def guest_tests(console):
    """(boot seconds, [(test, seconds)]) from the guest's console log."""
    first = None
    started = {}
    tests = []
    try:
        lines = open(console, errors="replace").read().splitlines()
    except OSError:
        return None, []
    for line in lines:
        m = LINE.match(line)
        if not m:
            continue
        t, what, name = float(m.group(1)), m.group(2), m.group(3)
        if what == "running":
            started[name] = t
            if first is None:
                first = t
        elif name in started:
            tests.append((name, t - started.pop(name)))
    return first, tests


def main():
    rows = []
    try:
        for line in open(sys.argv[1]):
            stage, _, secs = line.rstrip("\n").partition("\t")
            rows.append((stage, float(secs)))
    except (OSError, ValueError):
        return 0
    boot, tests = guest_tests(sys.argv[2])
    out = []
    for stage, secs in rows:
        if stage == "guest" and boot is not None:
            out.append(("guest", secs))
            out.append(("  boot (kernel, KUnit)", boot))
            for name, t in tests:
                out.append((f"  {name}", t))
            rest = secs - boot - sum(t for _, t in tests)
            out.append(("  initramfs, kmemleak, power-off", max(rest, 0.0)))
        else:
            out.append((stage, secs))
    total = sum(secs for stage, secs in rows)
    width = max(len(s) for s, _ in out + [("total", 0)])
    print("Stage times (wall clock; guest tests by the guest's clock):")
    for stage, secs in out:
        print(f"  {stage:<{width}}  {secs:7.1f} s")
    print(f"  {'total':<{width}}  {total:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
