"""A64 branches and exception-generating instructions."""
from __future__ import annotations

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.target.arm import trans_a64_system as sysmode
from pyqemu.target.arm.translate import CPU, DisasContext, helper


def trans_B(s: DisasContext, a) -> bool:
    s.goto(s.pc + a.imm * 4)
    return True


def trans_BL(s: DisasContext, a) -> bool:
    s.set_x(30, s.pc + 4)
    s.goto(s.pc + a.imm * 4)
    return True


def trans_B_cond(s: DisasContext, a) -> bool:
    if a.cond >= 14:
        s.goto(s.pc + a.imm * 4)
    else:
        s.branch_cond(s.test_cc(a.cond), s.pc + a.imm * 4)
    return True


def trans_CBZ(s: DisasContext, a) -> bool:
    w = 64 if a.sf else 32
    r = s.x(a.rt, a.sf)
    s.branch_cond(("ne" if a.nz else "eq", r, 0, w), s.pc + a.imm * 4)
    return True


def trans_TBZ(s: DisasContext, a) -> bool:
    r = s.x(a.rt)
    s.branch_cond(("tst" if a.nz else "tstz", r, 1 << a.bitpos, 64), s.pc + a.imm * 4)
    return True


def _indirect(s: DisasContext, rn: int, link: bool) -> None:
    target = s.tmp_copy(s.x(rn))
    if link:
        s.set_x(30, s.pc + 4)
    s.jump(target)


def trans_BR(s: DisasContext, a) -> bool:
    _indirect(s, a.rn, False)
    return True


def trans_BLR(s: DisasContext, a) -> bool:
    _indirect(s, a.rn, True)
    return True


def trans_RET(s: DisasContext, a) -> bool:
    _indirect(s, a.rn, False)
    return True


@helper(sync=True, may_fault=True)
def svc(cpu, next_pc: int):
    """SVC #imm: hand over to the OS layer (user mode: a Linux system call)."""
    cpu.pc = next_pc
    cpu.exception_svc()
    return cpu.lookup(cpu.pc)


def trans_ERET(s: DisasContext, a) -> bool:
    if s.sys:
        return sysmode.eret(s)
    s.undef()
    return True


def trans_SVC(s: DisasContext, a) -> bool:
    if s.sys:
        return sysmode.exc_gen(s, "svc", a.imm)
    s.b.exit_call(svc, CPU, s.pc + 4)
    s.is_jmp = True
    return True


@helper(may_fault=True)
def brk(cpu, imm: int):
    raise GuestException("trap", code=imm)


def trans_BRK(s: DisasContext, a) -> bool:
    s.b.raise_(brk, CPU, a.imm)
    s.is_jmp = True
    return True


def trans_HLT(s: DisasContext, a) -> bool:
    s.undef()
    return True


def trans_HVC(s: DisasContext, a) -> bool:
    if s.sys:
        return sysmode.exc_gen(s, "hvc", a.imm)
    s.undef()  # not at EL0
    return True


def trans_SMC(s: DisasContext, a) -> bool:
    if s.sys:
        return sysmode.exc_gen(s, "smc", a.imm)
    s.undef()
    return True
