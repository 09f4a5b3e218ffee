# SPDX-License-Identifier: GPL-2.0
"""KTAP/TAP parsing and judging for the host-side runner.

The guest only reports; every verdict is made here: a test passes only when
it printed a plan, as many results as the plan promised, numbered 1, 2, 3...,
no failure, and exited 0 (or 4 for a whole-test skip: `1..0 # SKIP reason`,
or no KTAP output at all). A `not ok` line is always a failure; only an `ok`
line's directive (`# SKIP reason`) makes a skip. Every skip is also returned
with its reason, so that a caller can refuse the skips it does not expect
(see `unexpected_skips`).
"""

import re
import sys
from dataclasses import dataclass, field

TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")
VERSION = re.compile(r"^(KTAP version \d+|TAP version \d+)\s*$")
PLAN = re.compile(r"^1\.\.(\d+)(?:\s*#\s*(.*))?\s*$")
RESULT = re.compile(r"^(not ok|ok)\s+(\d+)(?=\s|$)(.*)$")
# A '#' with a blank (or the start) before it and a blank after it ...
HASH = re.compile(r"(?<!\S)#(?=\s)")
# ... is a directive when SKIP, TODO or XFAIL is the first word after it.
DIRECTIVE = re.compile(r"#\s+(SKIP|TODO|XFAIL)(?:\s+(.*?))?\s*$", re.I)
BAIL = re.compile(r"^Bail out!")

# A kernel log line matching any of these is a splat and fails the run.
SPLATS = [
    re.compile(p)
    for p in (
        r"cut here \]",
        r"\bBUG:",
        r"\bWARNING:",
        r"\bKASAN:",
        r"\bUBSAN:",
        r"\bOops\b",
        r"Kernel panic",
        r"general protection fault",
        r"unreferenced object 0x",
        r"kmemleak: \d+ new suspected memory leak",
        r"panicked at",
        r"Call Trace:",
        r"possible circular locking dependency",
        r"inconsistent lock state",
        r"hung_task|blocked for more than \d+ seconds",
        # kernel/rcu/tree_stall.h, tree_exp.h, tasks.h: "rcu: INFO: rcu_preempt
        # detected stalls on CPUs/tasks:", "... self-detected stall on CPU",
        # "... detected expedited stalls on CPUs/tasks", "INFO: rcu_tasks
        # detected stalls on tasks:"
        r"rcu: INFO:",
        r"\brcu_(?:preempt|sched|bh|tasks\w*) (?:self-)?detected (?:expedited )?stalls?",
        r"detected (?:expedited )?stalls? on (?:CPUs|tasks)",
        r"self-detected stall",
        r"RCU detected stall",
        r"soft lockup|hard LOCKUP",
    )
]


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped

    def __str__(self):
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


@dataclass
class Result:
    """One result line: `ok`/`not ok`, its number, its description, its
    directive (SKIP, TODO or XFAIL, upper case, or ""), the directive's
    reason, and the subtest documents printed before it."""

    ok: bool
    number: int
    name: str
    directive: str = ""
    reason: str = ""
    children: list = field(default_factory=list)


@dataclass
class Node:
    """One KTAP (sub)test document: its plan, results and children."""

    indent: int
    plan: int | None = None
    skip_all: str | None = None  # the reason of `1..0 # SKIP reason`
    bailed: bool = False
    results: list = field(default_factory=list)  # of Result
    pending_children: list = field(default_factory=list)


def strip_line(line):
    line = line.rstrip("\r\n").replace("\r", "")
    return TIMESTAMP.sub("", line)


def split_result(rest):
    """The text after a result's number -> (description, directive, reason).

    The directive is the text after the last " # " whose first word is SKIP,
    TODO or XFAIL (any case); a '#' anywhere else belongs to the
    description. TAP's optional "- " before the description is dropped.
    """
    text = rest.strip()
    directive = reason = ""
    last = None
    for m in HASH.finditer(text):
        d = DIRECTIVE.match(text, m.start())
        if d:
            last = d
    if last:
        directive, reason = last.group(1).upper(), (last.group(2) or "").strip()
        text = text[: last.start()].rstrip()
    if text.startswith("- "):
        text = text[2:].lstrip()
    elif text == "-":
        text = ""
    return text, directive, reason


def parse_ktap(lines, start_indent=0):
    """Parse a KTAP document (with nested subtests by indentation).

    Returns the top Node, or None when no version line or plan was found.
    """
    root = None
    stack = []
    for raw in lines:
        line = strip_line(raw)
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if root is None:
            if VERSION.match(stripped) and indent == start_indent:
                root = Node(indent)
                stack = [root]
            elif (PLAN.match(stripped) or RESULT.match(stripped)) and indent == start_indent:
                # TAP without a version line; the plan may come last.
                root = Node(indent)
                stack = [root]
            else:
                continue
        if not (VERSION.match(stripped) or PLAN.match(stripped)
                or RESULT.match(stripped) or BAIL.match(stripped)):
            continue  # diagnostics and interleaved kernel messages
        if VERSION.match(stripped):
            # A nested document starts deeper than the current one.
            if indent > stack[-1].indent:
                child = Node(indent)
                stack[-1].pending_children.append(child)
                stack.append(child)
            continue
        # Pop back to the document this line belongs to.
        while len(stack) > 1 and indent < stack[-1].indent:
            stack.pop()
        node = stack[-1]
        if indent > node.indent:
            # Subtest lines without their own version line ("# Subtest:" style).
            child = Node(indent)
            node.pending_children.append(child)
            stack.append(child)
            node = child
        m = PLAN.match(stripped)
        if m:
            if node.plan is None:
                node.plan = int(m.group(1))
                skip = re.match(r"SKIP\b\s*(.*)$", m.group(2) or "", re.I)
                if node.plan == 0:
                    # 1..0: nothing to run, a skip (with or without reason)
                    node.skip_all = skip.group(1).strip() if skip else ""
            continue
        m = RESULT.match(stripped)
        if m:
            name, directive, reason = split_result(m.group(3))
            children = node.pending_children
            node.pending_children = []
            node.results.append(Result(m.group(1) == "ok", int(m.group(2)), name,
                                       directive, reason, children))
            continue
        if BAIL.match(stripped):
            node.bailed = True
    return root


def label_of(prefix, result):
    name = result.name or str(result.number)
    return prefix + ("" if name.startswith("/") else "/") + name


def judge_node(node, prefix, problems, skips=None):
    """Count leaf results of a parsed document; record every problem, and
    every skip as (name, reason) in `skips` when given."""
    counts = Counts()
    if skips is None:
        skips = []
    if node.skip_all is not None and not node.results:
        counts.skipped += 1
        skips.append((prefix, node.skip_all))
        return counts
    if node.plan is None:
        problems.append(f"{prefix}: no test plan")
        counts.failed += 1
    elif len(node.results) != node.plan:
        problems.append(
            f"{prefix}: plan says {node.plan} tests, {len(node.results)} reported"
            + (" (bailed out)" if node.bailed else "")
        )
        counts.failed += 1
    # Results are numbered 1, 2, 3... in order: a duplicate, a gap or a
    # number out of order means lost or repeated output.
    for i, res in enumerate(node.results, 1):
        if res.number != i:
            problems.append(f"{prefix}: result {i} is numbered {res.number} "
                            "(results must be numbered 1, 2, 3... in order)")
            counts.failed += 1
            break
    for res in node.results:
        label = label_of(prefix, res)
        leaf = Counts()
        for child in res.children:
            leaf.add(judge_node(child, label, problems, skips))
        if not res.ok:
            # never a skip, whatever its description or directive says
            if leaf.failed == 0:
                leaf.failed += 1
                # a failed parent without failed children still fails
            problems.append(f"{label}: not ok" + (f" (# {res.directive})" if res.directive else ""))
        elif res.directive == "SKIP":
            if leaf.passed + leaf.failed + leaf.skipped == 0:
                leaf.skipped += 1
                skips.append((label, res.reason))
        elif leaf.passed + leaf.failed + leaf.skipped == 0:
            leaf.passed += 1
        counts.add(leaf)
    return counts


def judge_test(name, lines, exit_code, skips=None):
    """Judge one test program's output and exit code (kselftest rules).

    Returns (counts, problems); every skip is appended to `skips` as
    (name, reason): the test's name for a whole-test skip, the result's
    path (test/result/subresult) for a result's `# SKIP`.
    """
    problems = []
    if skips is None:
        skips = []
    root = parse_ktap(lines)
    if exit_code is None:
        problems.append(f"{name}: did not finish (guest died or hung)")
        counts = judge_node(root, name, problems, skips) if root else Counts()
        counts.failed += 1
        return counts, problems
    if exit_code == 4 and root is None:
        # kselftest's skip without any output: no reason to show
        skips.append((name, ""))
        return Counts(skipped=1), problems
    if root is None:
        problems.append(f"{name}: no KTAP output (exit {exit_code})")
        return Counts(failed=1), problems
    # Exit 4 with a plan of N > 0 and no results is not a skip: the plan
    # promised results (judge_node reports the short plan). A skip-all
    # document (1..0 # SKIP reason) is.
    counts = judge_node(root, name, problems, skips)
    if exit_code in (124, 143):
        problems.append(f"{name}: timed out")
        counts.failed += 1
    elif exit_code not in (0, 4):
        if counts.failed == 0:
            counts.failed += 1
        problems.append(f"{name}: exit code {exit_code}")
    elif exit_code == 4 and root.results:
        # kselftest exits 4 only for a skip-all: after results, the exit
        # code contradicts them.
        if counts.failed == 0:
            counts.failed += 1
        problems.append(f"{name}: exit code 4 (skip) after {len(root.results)} results")
    return counts, problems


def load_expected_skips(path):
    """qemu-test/config/expected-skips: `<name regex><TAB><reason regex>`
    per line, '#' comments. Returns [(name_re, reason_re)]; raises
    ValueError on a malformed line."""
    entries = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0]:
                raise ValueError(f"{path}:{n}: expected '<test-name regex><TAB><skip-reason regex>'")
            try:
                entries.append((re.compile(parts[0]), re.compile(parts[1])))
            except re.error as e:
                raise ValueError(f"{path}:{n}: {e}") from None
    return entries


def unexpected_skips(skips, expected):
    """The skips (name, reason) that no expected entry fully matches."""
    return [(name, reason) for name, reason in skips
            if not any(n.fullmatch(name) and r.fullmatch(reason) for n, r in expected)]


def refuse_skips(counts, problems, skips, expected, source):
    """Turn every unexpected skip into a failure (counts and a problem line
    naming the skipped test and its reason)."""
    for name, reason in unexpected_skips(skips, expected):
        counts.skipped -= 1
        counts.failed += 1
        problems.append(f"{name}: skipped ({reason or 'no reason given'}); "
                        f"a skip fails this run unless {source} lists it")


def find_splats(lines):
    found = []
    for raw in lines:
        line = strip_line(raw)
        for pat in SPLATS:
            if pat.search(line):
                found.append(line)
                break
    return found


def parse_tap_summary(lines, name="tap", skips=None):
    """Count a flat TAP stream (qtests, cargo's per-test lines)."""
    problems = []
    root = parse_ktap(lines)
    if root is None:
        return Counts(failed=1), ["no TAP output"]
    return judge_node(root, name, problems, skips), problems


def main(argv):
    """`ktap.py tap-count IN.tap OUT.json [--name NAME] [--strict-skips FILE]`:
    judge a TAP file, write counts. With --strict-skips, a skip that FILE
    does not list (as NAME/<case>) is a failure."""
    import argparse
    import json

    p = argparse.ArgumentParser(prog="ktap.py")
    p.add_argument("command", choices=["tap-count"])
    p.add_argument("tap")
    p.add_argument("out")
    p.add_argument("--name", default="tap", help="prefix of the cases' names")
    p.add_argument("--strict-skips", metavar="FILE",
                   help="fail every skip not listed in FILE (qemu-test/config/expected-skips)")
    args = p.parse_args(argv[1:])
    skips = []
    with open(args.tap, errors="replace") as f:
        counts, problems = parse_tap_summary(f.read().splitlines(), args.name, skips)
    if args.strict_skips:
        try:
            expected = load_expected_skips(args.strict_skips)
        except (OSError, ValueError) as e:
            print(f"ktap.py: {e}", file=sys.stderr)
            return 2
        refuse_skips(counts, problems, skips, expected, args.strict_skips)
    for prob in problems:
        print(f"# FAIL {prob}")
    with open(args.out, "w") as f:
        json.dump({"passed": counts.passed, "failed": counts.failed,
                   "skipped": counts.skipped, "problems": problems}, f)
    return 1 if problems or counts.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
