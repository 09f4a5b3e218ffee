# SPDX-License-Identifier: GPL-2.0
"""KTAP/TAP parsing and judging for the host-side runner.

The guest only reports; every verdict is made here: a test passes only when
it printed a plan, as many results as the plan promised, no failure, and
exited 0 (or 4 for a whole-test skip).
"""

import re
import sys
from dataclasses import dataclass, field

TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")
VERSION = re.compile(r"^(KTAP version \d+|TAP version \d+)\s*$")
PLAN = re.compile(r"^1\.\.(\d+)(?:\s*#\s*(.*))?\s*$")
RESULT = re.compile(r"^(not ok|ok)\s+(\d+)\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(\S+)\s*(.*))?$")
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
class Node:
    """One KTAP (sub)test document: its plan, results and children."""

    indent: int
    plan: int | None = None
    skip_all: str | None = None
    bailed: bool = False
    results: list = field(default_factory=list)  # (ok, number, name, directive, children)
    pending_children: list = field(default_factory=list)


def strip_line(line):
    line = line.rstrip("\r\n").replace("\r", "")
    return TIMESTAMP.sub("", line)


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
                if m.group(2) and m.group(2).upper().startswith("SKIP"):
                    node.skip_all = m.group(2)
            continue
        m = RESULT.match(stripped)
        if m:
            ok = m.group(1) == "ok"
            directive = (m.group(4) or "").upper()
            children = node.pending_children
            node.pending_children = []
            node.results.append((ok, int(m.group(2)), m.group(3), directive, children))
            continue
        if BAIL.match(stripped):
            node.bailed = True
    return root


def judge_node(node, prefix, problems):
    """Count leaf results of a parsed document; record every problem."""
    counts = Counts()
    if node.skip_all is not None and not node.results:
        counts.skipped += 1
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
    for ok, num, name, directive, children in node.results:
        label = f"{prefix}/{name or num}"
        leaf = Counts()
        for child in children:
            leaf.add(judge_node(child, label, problems))
        if directive.startswith("SKIP"):
            if leaf.passed + leaf.failed + leaf.skipped == 0:
                leaf.skipped += 1
        elif not ok:
            if leaf.failed == 0:
                leaf.failed += 1
                # a failed parent without failed children still fails
            problems.append(f"{label}: not ok")
        elif leaf.passed + leaf.failed + leaf.skipped == 0:
            leaf.passed += 1
        counts.add(leaf)
    return counts


def judge_test(name, lines, exit_code):
    """Judge one test program's output and exit code (kselftest rules)."""
    problems = []
    root = parse_ktap(lines)
    if exit_code is None:
        problems.append(f"{name}: did not finish (guest died or hung)")
        counts = judge_node(root, name, problems) if root else Counts()
        counts.failed += 1
        return counts, problems
    if exit_code == 4 and (root is None or not root.results):
        return Counts(skipped=1), problems
    if root is None:
        problems.append(f"{name}: no KTAP output (exit {exit_code})")
        return Counts(failed=1), problems
    counts = judge_node(root, name, problems)
    if exit_code in (124, 143):
        problems.append(f"{name}: timed out")
        counts.failed += 1
    elif exit_code not in (0, 4):
        if counts.failed == 0:
            counts.failed += 1
        problems.append(f"{name}: exit code {exit_code}")
    return counts, problems


def find_splats(lines):
    found = []
    for raw in lines:
        line = strip_line(raw)
        for pat in SPLATS:
            if pat.search(line):
                found.append(line)
                break
    return found


def parse_tap_summary(lines):
    """Count a flat TAP stream (qtests, cargo's per-test lines)."""
    problems = []
    root = parse_ktap(lines)
    if root is None:
        return Counts(failed=1), ["no TAP output"]
    return judge_node(root, "tap", problems), problems


def main(argv):
    """`ktap.py tap-count IN.tap OUT.json`: judge a TAP file, write counts."""
    import json

    if len(argv) != 4 or argv[1] != "tap-count":
        print("usage: ktap.py tap-count IN.tap OUT.json", file=sys.stderr)
        return 2
    counts, problems = parse_tap_summary(open(argv[2], errors="replace").read().splitlines())
    for prob in problems:
        print(f"# FAIL {prob}")
    with open(argv[3], "w") as f:
        json.dump({"passed": counts.passed, "failed": counts.failed,
                   "skipped": counts.skipped, "problems": problems}, f)
    return 1 if problems or counts.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
