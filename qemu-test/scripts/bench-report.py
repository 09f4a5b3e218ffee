#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the BENCH lines of `make bench` into min / median / max (WIP)."""
import statistics
import sys

figures = {}
for line in open(sys.argv[1], errors="replace"):
    parts = line.split()
    if len(parts) == 4 and parts[0] == "BENCH":
        try:
            figures.setdefault((parts[1], parts[3]), []).append(float(parts[2]))
        except ValueError:
            pass
print("| figure | unit | min | median | max | runs |")
print("|---|---|---|---|---|---|")
for (name, unit), v in figures.items():
    print(f"| {name} | {unit} | {min(v):g} | {statistics.median(v):g} | {max(v):g} | {len(v)} |")
