#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check that the register tables of hardware.rst match mlu270_regs.h.

Every table preceded by a ``.. regblock: PREFIX`` comment is parsed; each
row's offset must equal ``#define PREFIX<NAME>`` in the header, and a
numeric reset value must equal ``#define <RESET_PREFIX><NAME>`` (where the
reset prefix is PREFIX with REG_ replaced by RESET_, or MLU270_RESET_ +
the block name for the other blocks). Conversely every PREFIX define of a
documented block must be in the rst. Exits 1 on any mismatch.
"""
import re
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
rst = Path(sys.argv[1]) if len(sys.argv) > 1 else \
    here.parents[1] / "Documentation/accel/mlu270/hardware.rst"
hdr = Path(sys.argv[2]) if len(sys.argv) > 2 else here / "mlu270_regs.h"

defines = {}
for m in re.finditer(r"^#define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)\s*$",
                     hdr.read_text(), re.M):
    defines[m.group(1)] = int(m.group(2), 0)


def reset_prefix(prefix):
    if prefix == "MLU270_REG_":
        return "MLU270_RESET_"
    # MLU270_PFVF_ -> MLU270_RESET_PFVF_
    return "MLU270_RESET_" + prefix[len("MLU270_"):]


errors = []
rows = 0
documented = {}
lines = rst.read_text().splitlines()
i = 0
while i < len(lines):
    m = re.match(r"^\.\. regblock:\s*(\w+)\s*$", lines[i])
    if not m:
        i += 1
        continue
    prefix = m.group(1)
    i += 1
    # Skip to the table: border, header, border, rows..., border.
    while i < len(lines) and not lines[i].startswith("===="):
        i += 1
    borders = 0
    while i < len(lines) and borders < 3:
        line = lines[i]
        i += 1
        if line.startswith("===="):
            borders += 1
            continue
        if borders != 2:
            continue
        cols = line.split()
        if len(cols) < 6:
            errors.append(f"malformed row: {line!r}")
            continue
        off, name, width, access, reset, writer = cols[:6]
        rows += 1
        documented.setdefault(prefix, set()).add(name)
        if not re.fullmatch(r"32(x\d+)?", width):
            errors.append(f"{name}: bad width {width}")
        if access not in ("RO", "RW", "WO", "RW1C"):
            errors.append(f"{name}: bad access {access}")
        if writer not in ("any", "vf", "pf", "none"):
            errors.append(f"{name}: bad writer {writer}")
        if (access == "RO") != (writer == "none"):
            errors.append(f"{name}: access {access} vs writer {writer}")
        key = prefix + name
        if key not in defines:
            errors.append(f"{key} missing from {hdr.name}")
        elif defines[key] != int(off, 16):
            errors.append(f"{key}: rst {off} != header {defines[key]:#06x}")
        if reset != "-":
            rkey = reset_prefix(prefix) + name
            if rkey not in defines:
                errors.append(f"{rkey} missing from {hdr.name}")
            elif defines[rkey] != int(reset, 16):
                errors.append(f"{rkey}: rst {reset} != header "
                              f"{defines[rkey]:#x}")

# Reverse direction: plain register defines of a documented block.
for prefix, names in documented.items():
    for key in defines:
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):]
        # Non-register helpers share the prefix in the header.
        if prefix == "MLU270_REG_" and name in ("BAR", "BAR_SIZE"):
            continue
        if prefix == "MLU270_PFVF_" and name in ("WINDOW_SIZE",):
            continue
        if prefix == "MLU270_PART_" and name in ("ENTRY_SIZE",):
            continue
        # command codes, result codes and status bits of the window
        if prefix == "MLU270_MIG_" and (
                name in ("WINDOW_SIZE", "PAGE_SIZE", "SIZE_STATE",
                         "SIZE_PAGES") or
                name.startswith(("CMD_", "RES_", "STATUS_", "MAX_",
                                 "MIN_"))):
            continue
        if name not in names:
            errors.append(f"{key} in header but not in {rst.name}")

if rows == 0:
    errors.append("no register tables found")
for e in errors:
    print("MISMATCH:", e)
print(f"check_spec: {rows} registers checked, {len(errors)} mismatches")
sys.exit(1 if errors else 0)
