"""AArch64 front end: guest instructions -> IR, one translation block at a time.

The decoder is generated from ``a64*.decode`` into ``decode_a64.py``; each
pattern ``NAME`` calls ``trans_NAME(s, a)`` from the ``trans_a64_*`` modules.
"""
from __future__ import annotations

from collections.abc import Callable

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.target.arm.translate import GLOBALS, MAX_INSNS, PAGE, DisasContext
from pyqemu.tcg.ir import Block
from pyqemu.util import log


def translate(cpu, pc: int, fetch: Callable[[int], int], max_insns: int = MAX_INSNS) -> Block:
    """Translate the block starting at `pc`. `fetch(addr)` reads 4 code bytes
    (raising GuestException on a fetch fault)."""
    from pyqemu.target.arm import decode_a64
    block = Block(pc, GLOBALS)
    s = DisasContext(block, cpu)
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
        if not decode_a64.decode(s, insn):
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
    try:
        import capstone
    except ImportError:
        capstone = None
    lines = ["IN:"]
    md = None
    if capstone is not None:
        md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    for pc, insn in insns:
        text = ""
        if md is not None:
            for i in md.disasm(insn.to_bytes(4, "little"), pc):
                text = f"{i.mnemonic} {i.op_str}".strip()
        lines.append(f"0x{pc:016x}:  {insn:08x}      {text or '.inst'}")
    log.log("\n".join(lines) + "\n")


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
