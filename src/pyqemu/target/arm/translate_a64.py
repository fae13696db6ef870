"""AArch64 front end: guest instructions -> IR, one translation block at a time.

The decoder is generated from ``a64*.decode`` into ``decode_a64.py``; each
pattern ``NAME`` calls ``trans_NAME(s, a)`` from the ``trans_a64_*`` modules.
"""
from __future__ import annotations

from collections.abc import Callable

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.target.arm.translate import CPU, GLOBALS, MAX_INSNS, PAGE, DisasContext, helper, log_disas
from pyqemu.tcg.ir import Block
from pyqemu.util import log

FLAG_FP_OFF = 1 << 3  # cpu_sys.FLAG_FP_OFF: FP/SIMD instructions trap to EL1


def is_fp_insn(insn: int) -> bool:
    """FP/AdvSIMD data processing (op0 x111) or a load/store of a SIMD&FP register (op0 x1x0, V=1)."""
    op0 = (insn >> 25) & 0xF
    if op0 & 0x7 == 0x7:
        return True
    return op0 & 0x5 == 0x4 and bool(insn >> 26 & 1)


@helper(may_fault=True)
def fp_access_trap(cpu):
    raise GuestException("fpaccess")


def translate(cpu, pc: int, fetch: Callable[[int], int], max_insns: int = MAX_INSNS,
              flags: int | None = None, mmu_idx: int | None = None, slow_mem: bool = False) -> Block:
    """Translate the block starting at `pc`. `fetch(addr)` reads 4 code bytes
    (raising GuestException on a fetch fault).

    System mode passes the CPU's translation `flags` (EL, PAN, FP enabled) and
    the soft-TLB regime `mmu_idx` its memory accesses use.
    """
    from pyqemu.target.arm import decode_a64
    block = Block(pc, GLOBALS)
    block.mmu_idx = mmu_idx
    block.slow_mem = slow_mem
    s = DisasContext(block, cpu, flags)
    fp_off = flags is not None and bool(flags & FLAG_FP_OFF)
    disas = [] if log.enabled("in_asm") else None
    n = 0
    while True:
        try:
            insn = fetch(s.pc)
        except GuestException:
            if n:
                s.goto(s.pc)
                break
            raise
        s.insn = insn
        block.b_insn = insn
        s.b.insn_start(s.pc)
        if disas is not None:
            disas.append((s.pc, insn))
        if fp_off and is_fp_insn(insn):
            s.b.raise_(fp_access_trap, CPU)
            s.is_jmp = True
        elif not decode_a64.decode(s, insn):
            s.undef()
        n += 1
        s.pc += 4
        block.size = s.pc - pc
        if s.is_jmp:
            break
        if n >= max_insns or (s.pc & (PAGE - 1)) == 0:
            s.goto(s.pc)
            break
    if disas is not None:
        _log_disas(disas)
    return block


def _log_disas(insns: list[tuple[int, int]]) -> None:
    log_disas([(pc, insn.to_bytes(4, "little"), f"{insn:08x}") for pc, insn in insns], "ARM64", "ARM", 16)


def _install() -> None:
    """Gather the trans_* functions of all A64 modules for the decoder."""
    import types

    from pyqemu.target.arm import decode_a64
    ns = types.SimpleNamespace()
    from pyqemu.target.arm import (
        trans_a64_branch,
        trans_a64_dp,
        trans_a64_fp,
        trans_a64_ldst,
        trans_a64_simd,
        trans_a64_simd_fp,
        trans_a64_sys,
    )
    for mod in (trans_a64_branch, trans_a64_dp, trans_a64_ldst, trans_a64_sys, trans_a64_simd,
                trans_a64_fp, trans_a64_simd_fp):
        for k, v in vars(mod).items():
            if k.startswith("trans_") or k.startswith("ex_"):
                setattr(ns, k, v)
    decode_a64.install(ns)


_install()
