"""Position-independent native regions, for the object cache (system mode, KASLR).

The native tier caches object code by the digest of a region's LLVM IR
(accel/tcg/native.py). A kernel that randomises its virtual address (KASLR) runs
the same code at a new address at every boot, and the IR holds the region's pcs
(exit pcs, return addresses, ADR/ADRP results, the cases of a computed jump), so
no object would ever be found again. As for Python blocks (accel/tcg/pic.py), the
pc-derived constants are found by generating the region a second time from
blocks translated :data:`~pyqemu.accel.tcg.pic.SHIFT` lower and comparing the
two IR texts line by line: literals that differ by exactly SHIFT become
``%VB + offset``, ``%VB`` being the page base of the pc the region was entered
at, which the state block holds on entry (the wrapper stores it; a chained call
stores its exit pc there before it jumps). A computed jump's ``switch`` compares
``target - %VB`` with the members' offsets. Anything else that differs makes the
region not relocatable, and it is compiled for its address as before.
"""
from __future__ import annotations

import re

from pyqemu.accel.tcg.pic import SHIFT

M64 = (1 << 64) - 1
_LITERAL = re.compile(r"(?<![\w.%@!])(-?\d+)(?![\w.])")
_SWITCH = re.compile(r"^(\s*)switch i64 (%[\w.]+), label (%[\w.]+) \[(.*)\]$")
_CASE = re.compile(r"i64 (-?\d+), label (%[\w.]+)")


def relocatable_ir(ir: str, shifted: str, head: int, pc_off: int) -> str | None:
    """``ir`` (the LLVM IR of a region headed at ``head``) made position-independent by
    comparison with ``shifted`` (the same region generated SHIFT lower); None if they
    differ in anything but pc-derived literals; ``ir`` itself if they do not differ (no
    pc-derived literal: a leaf function that returns, say). ``pc_off``: where the state
    block holds the entry pc."""
    base = head & ~0xFFF
    ours, theirs = ir.split("\n"), shifted.split("\n")
    if len(ours) != len(theirs):
        return None
    out: list[str] = []
    n = 0
    changed = in_region = False
    for line, other in zip(ours, theirs, strict=True):
        if line == other:
            out.append(line)
            if line.startswith("define i32 @region("):
                in_region = True  # (native helpers' functions come before it)
            elif line == "entry:" and in_region:
                in_region = False
                out += [f"  %picp = getelementptr i8, ptr %S, i64 {pc_off}",
                        "  %picpc = load i64, ptr %picp, align 8",
                        "  %VB = and i64 %picpc, -4096"]
            continue
        changed = True
        sw = _SWITCH.match(line)
        if sw is not None:
            fixed = _relocated_switch(sw, other, n, base)
        else:
            fixed = _relocated_line(line, other, n, base)
        if fixed is None:
            return None
        pre, line, n = fixed
        out += pre
        out.append(line)
    # (Unchanged IR is position-independent as it is: such regions, 130 in a Linux boot, were
    # not remembered by shape and were made again at every boot.)
    return "\n".join(out) if changed else ir


def _relocated_line(line: str, other: str, n: int, base: int) -> tuple[list[str], str, int] | None:
    """(lines to insert before, ``line`` with SHIFT-differing literals as ``%picN``, next N)."""
    a, b = _LITERAL.split(line), _LITERAL.split(other)
    if len(a) != len(b) or a[::2] != b[::2]:
        return None
    pre = []
    indent = line[:len(line) - len(line.lstrip())]
    for i in range(1, len(a), 2):
        if a[i] != b[i]:
            x, y = int(a[i]) & M64, int(b[i]) & M64
            if (x - y) & M64 != SHIFT:
                return None
            pre.append(f"{indent}%pic{n} = add i64 %VB, {(x - base) & M64}")
            a[i] = f"%pic{n}"
            n += 1
    return pre, "".join(a), n


def _relocated_switch(sw: re.Match, other: str, n: int, base: int) -> tuple[list[str], str, int] | None:
    """A computed jump's switch over member pcs as a switch over their page offsets."""
    sw2 = _SWITCH.match(other)
    if sw2 is None or sw2.group(2, 3) != sw.group(2, 3):
        return None
    ours, theirs = _CASE.findall(sw.group(4)), _CASE.findall(sw2.group(4))
    if len(ours) != len(theirs) or not ours:
        return None
    cases = []
    for (x, lbl), (y, lbl2) in zip(ours, theirs, strict=True):
        x, y = int(x) & M64, int(y) & M64
        if lbl != lbl2 or (x - y) & M64 != SHIFT:
            return None
        cases.append(f"i64 {(x - base) & M64}, label {lbl}")
    indent = sw.group(1)
    pre = [f"{indent}%pic{n} = sub i64 {sw.group(2)}, %VB"]
    return pre, f"{indent}switch i64 %pic{n}, label {sw.group(3)} [{' '.join(cases)}]", n + 1


def shifted_key(key: tuple[int, int, int]) -> tuple[int, int, int]:
    """The (virtual pc, physical pc, flags) key of the same code SHIFT lower."""
    pc, pa, flags = key
    return (pc - SHIFT, pa, flags)
