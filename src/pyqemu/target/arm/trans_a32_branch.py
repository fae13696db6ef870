"""AArch32 branches: B, BL, BLX (immediate and register), BX, BXJ, Thumb B<cond>,
CBZ/CBNZ, TBB/TBH.

Offsets arrive in bytes (the decoders scale them with the ``ex_ls_*`` field
functions below). A branch target is relative to the PC as the instruction
reads it (``s.pc_value()``: address + 8 in ARM state, + 4 in Thumb state);
BLX (immediate) from Thumb uses Align(PC, 4). Calls from Thumb state set
LR to the return address with bit 0 set.
"""
from __future__ import annotations

from pyqemu.target.arm.translate32 import M32, DisasContext32

# --- field functions (decodetree !function=) shared by the AArch32 decoders --------------


def ex_ls_times_2(s, x: int) -> int:
    return x * 2


def ex_ls_times_4(s, x: int) -> int:
    return x * 4


def ex_ls_plus_1(s, x: int) -> int:
    return x + 1


def ex_ls_t32_bl(s, x: int) -> int:
    """S:J1:J2:imm10:imm11 (S the sign) -> the byte offset of BL/B.W/BLX:
    SignExtend(S:I1:I2:imm10:imm11:'0') with I1 = NOT(J1 EOR S), I2 = NOT(J2 EOR S)."""
    u = x & 0xFFFFFF
    sgn = u >> 23
    i1 = 1 ^ ((u >> 22) & 1) ^ sgn
    i2 = 1 ^ ((u >> 21) & 1) ^ sgn
    v = (sgn << 23) | (i1 << 22) | (i2 << 21) | (u & 0x1FFFFF)
    return (v - ((v & 0x800000) << 1)) * 2


def ex_ls_push_list(s, x: int) -> int:
    """T16 PUSH: M:register_list -> LR (bit 14) and R0-R7."""
    return ((x & 0x100) << 6) | (x & 0xFF)


def ex_ls_pop_list(s, x: int) -> int:
    """T16 POP: P:register_list -> PC (bit 15) and R0-R7."""
    return ((x & 0x100) << 7) | (x & 0xFF)


# --- branches ---------------------------------------------------------------------------

def _lr(s: DisasContext32) -> int:
    """The return address a call writes to LR (bit 0 set in Thumb state)."""
    return s.next_pc | 1 if s.thumb else s.next_pc


def trans_B(s: DisasContext32, a) -> bool:
    s.goto(s.pc_value() + a.imm)
    return True


def trans_BL(s: DisasContext32, a) -> bool:
    s.b.mov(s.g(14), _lr(s))
    s.goto(s.pc_value() + a.imm)
    return True


def trans_BLX_i(s: DisasContext32, a) -> bool:
    """BLX (immediate): call and switch instruction set."""
    if s.thumb:
        target = (s.pc_value() & ~3) + a.imm
    else:
        target = s.pc_value() + a.imm
    s.b.mov(s.g(14), _lr(s))
    s.goto(target & M32, not s.thumb)
    return True


def trans_B_cond_thumb(s: DisasContext32, a) -> bool:
    if a.cond >= 14:
        return False  # the UDF/SVC (T16) or miscellaneous control (T32) space
    s.b.if_(*s.test_cc(a.cond))
    s.goto(s.pc_value() + a.imm)
    s.b.endif()
    s.goto(s.next_pc)
    return True


def trans_BX(s: DisasContext32, a) -> bool:
    s.bx(s.reg(a.rm))
    return True


trans_BXJ = trans_BX  # no Jazelle: BXJ is BX (as QEMU)


def trans_BLX_r(s: DisasContext32, a) -> bool:
    target = s.tmp_copy(s.reg(a.rm))  # BLX LR: the target is LR's old value
    s.b.mov(s.g(14), _lr(s))
    s.bx(target)
    return True


def trans_CBZ(s: DisasContext32, a) -> bool:
    """CBZ / CBNZ (nz = 1): compare with zero and branch forward."""
    s.b.if_("ne" if a.nz else "eq", s.reg(a.rn), 0, 32)
    s.goto(s.pc_value() + a.imm)
    s.b.endif()
    s.goto(s.next_pc)
    return True


def _table_branch(s: DisasContext32, a, half: bool) -> bool:
    b = s.b
    rm = s.reg(a.rm)
    ofs = b.shl(rm, 1, 32) if half else rm
    addr = b.add(s.reg(a.rn), ofs, 32)
    n = b.ld(addr, 2 if half else 1)
    target = b.add(b.shl(n, 1, 32), s.pc_value() | 1, 32)
    s.branch_reg(target)
    return True


def trans_TBB(s: DisasContext32, a) -> bool:
    return _table_branch(s, a, False)


def trans_TBH(s: DisasContext32, a) -> bool:
    return _table_branch(s, a, True)
