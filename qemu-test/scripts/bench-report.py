#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the log of `make bench` into the benchmark report.

    bench-report.py LOG [--markdown OUT.md] [--svg OUT.svg] [--meta TEXT]

LOG holds lines "BENCH <name> <value> <unit>", grouped into rounds by
"# round N" lines (qemu-test/guest/share/bench.sh). Every figure becomes
min / median / max over the rounds; every ratio is computed inside a round
(both sides measured one after the other) and then summarized the same
way. Without --markdown the tables go to stdout.

The figures must be whole: a figure of FIGURES missing from a round, a
value that is not a number or not > 0 (a failed step measures nothing),
or a malformed BENCH line rejects the log: exit 1 and no report written.
A ratio's goal that is not met is a finding: the report is written (with
the problem listed) and the exit is 1 too.
"""
import argparse
import math
import statistics
import sys

# (name, numerator, denominator, meaning, goal: the ratio must be >= goal)
RATIOS = [
    ("enable_vs_igb", "vf_enable_ms", "igb_enable_ms",
     "VF enable until ready: ours / igb+igbvf", None),
    ("enable_vs_stub", "vf_enable_ms", "stub_enable_ms",
     "VF enable until ready: ours / pci-pf-stub (no VF driver)", None),
    ("enable_nodriver_vs_stub", "vf_enable_nodriver_ms", "stub_enable_ms",
     "VF enable without VF drivers: mlu270_pf / pci-pf-stub", None),
    ("disable_vs_igb", "vf_disable_ms", "igb_disable_ms",
     "VF disable (4 -> 0): ours / igb", None),
    ("disable_vs_stub", "vf_disable_ms", "stub_disable_ms",
     "VF disable (4 -> 0): ours / pci-pf-stub", None),
    ("mbox_p50_vs_floor", "mbox_p50_us", "echo_p50_us",
     "mailbox round trip p50, 1 VF: PF driver / doorbell echo", None),
    ("mbox_p99_vs_floor", "mbox_p99_us", "echo_p99_us",
     "mailbox round trip p99, 1 VF: PF driver / doorbell echo", None),
    ("mbox4_p50_vs_floor", "mbox_4vfs_p50_us", "echo_4vfs_p50_us",
     "mailbox round trip p50, 4 VFs at once (worst VF): PF driver / echo", None),
    ("mbox4_p99_vs_floor", "mbox_4vfs_p99_us", "echo_4vfs_p99_us",
     "mailbox round trip p99, 4 VFs at once (worst VF): PF driver / echo", None),
]
OPS = ["memcpy", "fill", "crc32", "matmul", "delta", "zigzag"]
for op in OPS:
    RATIOS.append((f"vf_vs_pf_{op}", f"vf_quarter_{op}_mb_s", f"pf_quarter_{op}_mb_s",
                   f"{op} throughput on 1/4: VF / PF native_slice 1/4", 0.98))
for i in range(4):
    RATIOS.append((f"share_vf{i}", f"four_vfs_vf{i}_memcpy_mb_s", "vf_quarter_memcpy_mb_s",
                   f"four VFs saturated: VF {i}'s memcpy / VF 1 alone", None))
RATIOS += [
    ("flood_effect", "vf_quarter_memcpy_flood_mb_s", "vf_quarter_memcpy_mb_s",
     "VF 1 memcpy while VF 3 floods the mailbox / alone", None),
    ("resets_effect", "vf_quarter_memcpy_resets_mb_s", "vf_quarter_memcpy_mb_s",
     "VF 1 memcpy while VF 2 is FLR'd in a loop / alone", None),
]
# Sums inside a round: (name, parts, meaning)
SUMS = [
    ("repartition_0_4_0_3_ms", ["vf_enable_ms", "vf_disable_ms", "vf_enable3_ms"],
     "re-partition 0 -> 4 -> 0 -> 3 (each step until the VF drivers are ready)"),
]
# Every figure qemu-test/guest/share/bench.sh measures in each round: those
# of the ratios and sums, and the ones shown only as figures.
FIGURES = []
for _name, _num, _den, _meaning, _goal in RATIOS:
    FIGURES += [_num, _den]
for _name, _parts, _meaning in SUMS:
    FIGURES += _parts
FIGURES += ["flr_to_ready_ms", "vf_disable3_ms"]
FIGURES = list(dict.fromkeys(FIGURES))


def parse(path, problems=None):
    """The rounds ({name: value}) and units of a log; a BENCH line that is
    not "BENCH <name> <number> <unit>" inside a round is a problem."""
    if problems is None:
        problems = []
    rounds, units = [], {}
    for n, line in enumerate(open(path, errors="replace"), 1):
        parts = line.split()
        if line.startswith("# round "):
            rounds.append({})
        elif line.startswith("# bench: FAILED"):
            problems.append(f"line {n}: {line[2:].strip()}")
        elif parts and parts[0] == "BENCH":
            if len(parts) != 4 or not rounds:
                problems.append(f"line {n}: malformed or outside a round: {line.strip()!r}")
                continue
            try:
                value = float(parts[2])
            except ValueError:
                problems.append(f"round {len(rounds)}: {parts[1]} is not a number: {parts[2]!r}")
                continue
            rounds[-1][parts[1]] = value
            units[parts[1]] = parts[3]
    return rounds, units


def check_figures(rounds, problems):
    """Every expected figure in every round, every value finite and > 0."""
    for i, r in enumerate(rounds, 1):
        for n in FIGURES:
            if n not in r:
                problems.append(f"round {i}: no value for {n}")
        for n, v in r.items():
            if not (math.isfinite(v) and v > 0):
                problems.append(f"round {i}: {n} = {v:g}, not > 0 (the step failed)")


def summary(values):
    return min(values), statistics.median(values), max(values)


def fmt(v):
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"


def svg(rows, path):
    """Horizontal min/median/max bars of the ratios on a log scale (they
    span from well under 1 to tens), ticks at the powers of ten."""
    import math
    width, left, bar, top = 760, 190, 18, 34
    lo_exp = math.floor(math.log10(min(r[1] for r in rows)))
    hi_exp = math.ceil(math.log10(max(r[3] for r in rows)))
    if hi_exp <= lo_exp:
        hi_exp = lo_exp + 1
    span = width - left - 50

    def x(v):
        return left + (math.log10(v) - lo_exp) / (hi_exp - lo_exp) * span

    bottom = top + bar * len(rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{bottom + 24}" '
           'font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="14">ratio, log scale: bar min - max over the rounds, '
           'tick = median, red line = 1.0</text>']
    for e in range(lo_exp, hi_exp + 1):
        out.append(f'<line x1="{x(10 ** e):.1f}" y1="{top - 6}" x2="{x(10 ** e):.1f}" y2="{bottom}" '
                   'stroke="#ccc"/>')
        out.append(f'<text x="{x(10 ** e):.1f}" y="{bottom + 14}" text-anchor="middle">{10 ** e:g}</text>')
    for i, (name, lo, med, hi) in enumerate(rows):
        y = top + i * bar
        out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{name}</text>')
        out.append(f'<rect x="{x(lo):.1f}" y="{y + 3}" width="{max(2.0, x(hi) - x(lo)):.1f}" '
                   f'height="{bar - 6}" fill="#9ecae1"/>')
        out.append(f'<rect x="{x(med) - 1:.1f}" y="{y + 1}" width="2" height="{bar - 2}" fill="#08519c"/>')
        out.append(f'<text x="{max(x(hi), x(lo) + 2) + 4:.1f}" y="{y + 12}">{fmt(med)}</text>')
    out.append(f'<line x1="{x(1):.1f}" y1="{top - 6}" x2="{x(1):.1f}" y2="{bottom}" '
               'stroke="#d62728" stroke-dasharray="3,3"/>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("--markdown")
    p.add_argument("--svg")
    p.add_argument("--meta", default="")
    args = p.parse_args()
    problems = []
    rounds, units = parse(args.log, problems)
    if not rounds:
        problems.append("no rounds in the log")
    check_figures(rounds, problems)
    for n in units:
        for i, r in enumerate(rounds, 1):
            if n not in FIGURES and n not in r:
                problems.append(f"round {i}: no value for {n}")
    if problems:
        # A failed or partial run: no report from it.
        for x in problems:
            print(f"bench-report: {x}", file=sys.stderr)
        print("bench-report: the log is incomplete or has failed steps: no report written",
              file=sys.stderr)
        return 1
    names = list(units)

    lines = ["| figure | unit | min | median | max |", "|---|---|---|---|---|"]
    for n in names:
        vals = [r[n] for r in rounds]
        lines.append(f"| {n} | {units[n]} | " + " | ".join(fmt(v) for v in summary(vals)) + " |")
    for name, parts, meaning in SUMS:
        vals = [sum(r[x] for x in parts) for r in rounds]
        lines.append(f"| {name} | ms | " + " | ".join(fmt(v) for v in summary(vals)) + " |")
    figures = "\n".join(lines)

    lines = ["| ratio | meaning | min | median | max | goal |", "|---|---|---|---|---|---|"]
    plot = []
    for name, num, den, meaning, goal in RATIOS:
        vals = [r[num] / r[den] for r in rounds]
        lo, med, hi = summary(vals)
        verdict = ""
        if goal is not None:
            verdict = f">= {goal}: " + ("met" if med >= goal else "NOT met")
            if med < goal:
                problems.append(f"ratio {name}: median {med:.3f} below the goal {goal}")
        lines.append(f"| {name} | {meaning} | {fmt(lo)} | {fmt(med)} | {fmt(hi)} | {verdict} |")
        plot.append((name, lo, med, hi))
    ratios = "\n".join(lines)

    if args.svg and plot:
        svg(plot, args.svg)
    if args.markdown:
        head = REPORT_HEAD.format(rounds=len(rounds), meta=args.meta)
        body = f"{head}\n## Ratios\n\n![ratios](benchmarks.svg)\n\n{ratios}\n\n## Figures\n\n{figures}\n"
        if problems:
            body += "\n## Problems in this run\n\n" + "\n".join(f"- {x}" for x in problems) + "\n"
        open(args.markdown, "w").write(body)
    print(ratios)
    print()
    print(figures)
    for x in problems:
        print(f"bench-report: {x}", file=sys.stderr)
    return 1 if problems else 0


REPORT_HEAD = """# MLU270 SR-IOV benchmarks

Written by `make bench` (qemu-test/scripts/bench-report.py); do not edit by
hand: run `make bench` and commit the result. {meta}

## Method

- **Machine:** the emulated MLU270 (`-device mlu270`) and QEMU's igb
  (82576, the peer: Linux's igb and igbvf drivers) in one q35 guest under
  TCG, 2 vCPUs, 2 GiB, the release kernel (no KASAN, lockdep or kmemleak).
  The guest runs with `-icount shift=3,sleep=off`: its clock advances 8 ns
  per guest instruction, so every figure below is guest time and repeats
  from run to run instead of following the host's load (the device model's
  job durations are virtual time too).
- **Rounds:** {rounds} rounds in one boot (`MLU270_BENCH_ROUNDS`); each
  figure is min / median / max over the rounds. A ratio is computed inside
  each round from two figures measured one after the other, then
  summarized the same way.
- **VF enable:** `mlu270_timing enable PF 4 DRIVER` writes `4` to
  `sriov_numvfs` and polls (200 us) until all four VFs are bound to
  DRIVER and, for mlu270_vf, report `state` = `ready` (handshake done).
  The same for igb (`igbvf` bound: its probe resets the VF through igb's
  mailbox, with igb's interface up). The floor is pci-pf-stub on our
  device with `sriov_drivers_autoprobe` = 0 (until the four VFs exist):
  what the kernel's SR-IOV enable costs by itself; `vf_enable_nodriver`
  is mlu270_pf under the same condition.
- **Mailbox:** `mlu270_fuzz VF N SEED ping` drives a VF's mailbox
  registers from userspace (the VF driver unbound): HELLO, then N HEARTBEAT
  round trips 25 ms apart (under the PF's rate limit), doorbell to reply.
  The floor, `echo`, is the same tool with pci-pf-stub as the PF driver
  playing the PF itself through the PF's BAR: it polls `MB_PENDING`, reads
  the message, acknowledges it and sends it back (no interrupt, no
  scheduling, no protocol). "4 VFs" runs four such processes at once and
  reports the worst VF.
- **Throughput:** `mlu270-smi bench FUNCTION OP --len 65536 --count 256`
  (16 jobs in flight; a matmul of M = N = K = 40, whose "MB/s" are
  millions of multiply-accumulates per second), wall-clock MB/s as seen by the process, on VF 1 (a
  1/4 slice, four VFs enabled) and then on the PF's own node with
  `native_slice` = 1/4 (no VFs), per operation. The share of four
  saturated VFs, and VF 1 while VF 3 floods the mailbox (raw fuzzer, no
  pause) or VF 2 is FLR'd in a loop, are compared with VF 1 alone in the
  same round.
- **FLR to ready:** `echo 1 > reset` of VF 1 until its `state` is `ready`
  again. **Re-partition:** 0 -> 4 -> 0 -> 3, each step until the VF
  drivers are ready (the 4 -> 0 step until `echo 0` returns).

## Reading the figures

- Guest time under `-icount` is 8 ns per instruction: a slow, steady CPU.
  Compare figures with each other, not with real hardware.
- Disabling VFs takes about a second with any PF driver: the kernel's
  `sriov_disable()` sleeps 1 s after clearing VF Enable.
- The job figures are bounded by the device model's job durations (a
  quarter slice does 250 MB/s of device time), so the VF/PF ratio shows
  whether the VF path adds host overhead on top, not raw speed.
- The shares of four saturated VFs are bounded by the guest, not the
  device: four bench processes share 2 vCPUs that -icount runs in turn.
- The mailbox ping pins itself and the PF's interrupts to CPU 0 (else a
  reply served on the other vCPU waits for that vCPU's turn); with four
  VFs at once the four pingers share that CPU. The echo floor never
  sleeps or takes an interrupt: it is the hardware path alone.
"""

if __name__ == "__main__":
    sys.exit(main())
