"""Position-independent native regions remembered in the code cache (system mode).

A region that compiled position-independent (accel/tcg/native_pic.py) runs at
any virtual address with the same code bytes, page offsets and shape. Making it
again costs the CPU thread two translations of every member and two LLVM IR
texts, only to find the object code on disk by the digest of that text. So the
code cache (accel/tcg/code_cache.py, keyed by the physical page's digest, under
the translator's digest) also keeps, per region *shape*, the object's digest and
what the wrapper needs (the globals it copies, its members' sizes, the CPU
values it reads): a region of the same shape at a new address skips translation
and IR generation and loads the object.

The shape: the head's page offset and flags, the members' page offsets, the
direct jumps between members that may stay native and the computed-jump targets
the region tests for (llvmgen's inputs besides the code bytes).
"""
from __future__ import annotations

from typing import Any

from pyqemu.tcg.ir import Temp
from pyqemu.tcg.llvmgen import CPU_VALUES, NativeCode

GROUP = "native"  # the code cache group of position-independent region entries
PAGE = 0xFFF


def group(pc: int, pic: bool) -> str:
    """The code cache group of regions headed at ``pc``: position-dependent ones (code that
    is not in the kernel half: a kernel's early boot with the MMU off or identity-mapped)
    apply only at the virtual page they were made for."""
    return GROUP if pic else f"{GROUP}-{pc >> 12:x}"


def shape(key: tuple[int, int, int], members: list[int], taken: dict[int, set[int]] | None,
          indirect: dict[int, list[int]]) -> tuple:
    """The cache key of the region headed at ``key`` = (pc, pa, flags) over ``members``
    (all on the head's page), independent of the page's virtual address."""
    pc0, _pa, flags = key
    inside = set(members)
    order = sorted(inside)
    return (pc0 & PAGE, flags, tuple(pc & PAGE for pc in order),
            None if taken is None else
            tuple(tuple(sorted(t & PAGE for t in taken.get(pc, ()) if t in inside)) for pc in order),
            tuple(tuple(t & PAGE for t in indirect.get(pc, ()) if t in inside) for pc in order))


def head(key: tuple[int, int, int]) -> tuple:
    """The cache key under which the shape of the region last headed at ``key`` is kept."""
    return ("head", key[0] & PAGE, key[2])


def entry(code: NativeCode, object_key: str, sizes: dict[int, int], llvm_id: str,
          prepared: tuple | None = None) -> tuple:
    """What the code cache keeps of a compiled region (position-independent or not);
    ``prepared``: its object as native_loader.prepare makes it (loaded from there, without
    opening the object's file)."""
    return (object_key, llvm_id,
            tuple((g.name, g.gidx, g.width) for g in code.used),
            tuple((g.name, g.gidx, g.width) for g in code.written),
            tuple((pc & PAGE, sizes[pc]) for pc in code.members),
            code.fallbacks, tuple(code.helpers),
            tuple((slot, cv.name, consts) for slot, (cv, consts) in sorted(code.cpu_values.items())),
            bool(code.pic), prepared)


def code_of(e: Any, head: int, llvm_id: str) -> tuple[NativeCode, dict[int, int]] | None:
    """The NativeCode (no IR: ``object_key`` names the object) and member sizes of a cached
    entry for a region headed at virtual ``head``; None if it does not apply here."""
    try:
        object_key, made_by, used, written, members, fallbacks, helpers, cpu_values, *rest = e
    except (TypeError, ValueError):
        return None
    pic = bool(rest[0]) if rest else True  # (entries of earlier versions: position-independent)
    prepared = rest[1] if len(rest) > 1 else None
    if made_by != llvm_id:
        return None
    values = {}
    for slot, name, consts in cpu_values:
        cv = CPU_VALUES.get(name)
        if cv is None:
            return None
        values[slot] = (cv, tuple(consts))
    base = head & ~PAGE
    sizes = {base + off: size for off, size in members}
    code = NativeCode(None, "region", _temps(used), _temps(written),  # type: ignore[arg-type]
                      sorted(sizes), fallbacks, list(helpers), values,
                      pic=pic, object_key=object_key, prepared=prepared)
    return code, sizes


_GLOBALS: dict[tuple, Temp] = {}  # (name, index, width) -> the Temp (globals are few)


def _temps(described: tuple) -> list[Temp]:
    """The global Temps a cached entry describes as (name, index, width)."""
    out = []
    for d in described:
        t = _GLOBALS.get(d)
        if t is None:
            t = _GLOBALS[d] = Temp(*d)
        out.append(t)
    return out
