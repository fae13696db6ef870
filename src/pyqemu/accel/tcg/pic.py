"""Position-independent block code, for the persistent code cache (system mode).

A kernel that randomises its virtual address (KASLR) runs the same code bytes at
a new virtual address at every boot, so blocks cached by virtual address never
hit again. Its code is position-independent, and so is a block translated from
it, except for the constants derived from the block's pc: branch targets,
return addresses, ADR/ADRP results, the pcs of its instructions.

Which constants those are is found by translating the block a second time at
its virtual address minus :data:`SHIFT` (~4.5 GiB; the same bytes) and comparing the two
Python sources: they must be equal but for integer literals that differ by
exactly SHIFT, which become ``(VB + offset)``, ``VB`` being the base of the
block's virtual page (a global of the block's module). Anything else that
differs (a constant the code generator derived from the pc some other way)
makes the block not relocatable, and it is cached by virtual page as before.
The cost is one more translation (IR and Python source, not ``compile()``) of
each block that goes to the cache.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The second translation's distance below the first: whole pages (page-relative values keep
# their offsets) but no larger power of two, so that a constant the translator masked out of
# the pc (pc & ~0xffffffff, say) differs by something else and is caught.
SHIFT = 0x1_2345_6000
GROUP = "pic"  # the code cache group of position-independent entries


def eligible(pc: int) -> bool:
    """Whether code at ``pc`` is cached position-independent: a kernel's (KASLR) and a
    process's (ASLR: a position-independent executable or library at a new address in every
    run) at any address the second translation, SHIFT lower, can use."""
    return pc >= SHIFT
_LITERAL = re.compile(r"\b(0x[0-9a-f]+|[0-9]+)\b")


@dataclass
class PicCode:
    """A block's relocatable source and its metadata, pcs relative to its page base."""

    source: str
    exits: list[tuple[str, int]]  # (chaining slot, target - base)
    linemap: tuple  # pygen's line map, pcs - base


def relocatable(gen, shifted, base: int) -> PicCode | None:
    """``gen`` (pygen's Generated for a block at page ``base``) made position-independent
    by comparison with ``shifted`` (the same block translated SHIFT lower); None if the two
    differ in anything but pc-derived constants."""
    if gen.helpers.keys() != shifted.helpers.keys():
        return None
    ours, theirs = gen.source.split("\n"), shifted.source.split("\n")
    if len(ours) != len(theirs) or len(gen.exits) != len(shifted.exits):
        return None
    out = []
    for line, other in zip(ours, theirs, strict=True):
        if line != other:  # (most lines hold no pc-derived constant)
            line = _relocated_line(line, other, base)
            if line is None:
                return None
        out.append(line)
    exits = []
    for (slot, target), (slot2, target2) in zip(gen.exits, shifted.exits, strict=True):
        if slot != slot2 or target - target2 != SHIFT:
            return None
        exits.append((slot, target - base))
    lines, after, written, counted = gen.linemap
    if (after, written, counted) != shifted.linemap[1:] or len(lines) != len(shifted.linemap[0]):
        return None
    rel = []
    for (ln, pc, n), (ln2, pc2, n2) in zip(lines, shifted.linemap[0], strict=True):
        if ln != ln2 or n != n2 or pc - pc2 != SHIFT:
            return None
        rel.append((ln, pc - base, n))
    return PicCode("\n".join(out), exits, (rel, after, written, counted))


def _relocated_line(line: str, other: str, base: int) -> str | None:
    """``line`` with the literals that are SHIFT more than ``other``'s as ``(VB + offset)``;
    None if the two lines differ in anything else."""
    ours, theirs = _LITERAL.split(line), _LITERAL.split(other)
    if len(ours) != len(theirs):
        return None
    for i in range(1, len(ours), 2):
        a, b = ours[i], theirs[i]
        if a != b:
            if int(a, 0) - int(b, 0) != SHIFT:
                return None
            off = int(a, 0) - base
            ours[i] = f"(VB + {off:#x})" if off >= 0 else f"(VB - {-off:#x})"
    if ours[::2] != theirs[::2]:
        return None
    return "".join(ours)


def relocate(exits, linemap, base: int) -> tuple[list[tuple[str, int]], Any]:
    """A cached PicCode's exits and line map (a code_cache.StoredLineMap) for a block on the
    page at ``base``."""
    linemap.base = base
    return [(slot, off + base) for slot, off in exits], linemap
