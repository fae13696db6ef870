"""A64 in system mode: exception generation and return, WFI/WFE, PSTATE fields,
TLB and cache maintenance, address translation (AT) and unprivileged accesses.

The user-mode ``trans_*`` functions call these when ``s.sys`` is set. Every
instruction that changes the translation flags (EL, PAN, interrupt masks that
may let an interrupt in) ends its block with an exit through the CPU's
``lookup``, which takes pending interrupts and re-reads the flags.
"""
from __future__ import annotations

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.target.arm import cpregs
from pyqemu.target.arm import cpu as C
from pyqemu.target.arm import exceptions as X
from pyqemu.target.arm.translate import CPU, DisasContext, helper

_EXC_KINDS = ("svc", "hvc", "smc")
M64 = 0xFFFFFFFFFFFFFFFF


@helper(may_fault=True)
def sys_exc_gen(cpu, kind: int, imm: int):
    """SVC/HVC/SMC: the CPU takes the exception (or runs PSCI) with the syndrome's imm16."""
    raise GuestException(_EXC_KINDS[kind], code=imm)


@helper(sync=True, may_fault=True)
def sys_eret(cpu):
    return cpu.lookup(cpu.exception_return())


@helper(sync=True, may_fault=True)
def sys_wfi(cpu, next_pc: int):
    cpu.wfi(next_pc)
    return cpu.lookup(next_pc)


@helper(sync=True, may_fault=True)
def sys_wfe(cpu, next_pc: int):
    cpu.wfe(next_pc)
    return cpu.lookup(next_pc)


@helper(sync=True, may_fault=True)
def sys_daif_unmasked(cpu, pending: int, next_pc: int) -> None:
    """After a write of PSTATE.DAIF: ``pending`` (interrupt lines that are up and no longer
    masked) ends the slice before ``next_pc``; the CPU loop's lookup takes the interrupt."""
    if pending:
        from pyqemu.accel.tcg.cpu_exec import CPUStop
        cpu.pc = next_pc
        raise CPUStop()


def _write_daif(s: DisasContext, value) -> None:
    """PSTATE.DAIF = ``value`` (DAIF bits only) at EL1, in translated code: an interrupt
    pending and now unmasked ends the slice after this instruction."""
    s.b.mov(s.g(C.REG_DAIF), value)
    s.b.call_void(sys_daif_unmasked, CPU, s.b.andc(s.g(C.REG_IRQ_PENDING), value), s.pc + 4)


# MSR (immediate) PSTATE fields, by (op1, op2).
PSTATE_FIELDS = {(3, 6): "daifset", (3, 7): "daifclr", (0, 5): "spsel", (0, 4): "pan", (0, 3): "uao"}
_FIELD_CODES = {name: i for i, name in enumerate(PSTATE_FIELDS.values())}


@helper(sync=True, may_fault=True)
def sys_msr_pstate(cpu, field: int, imm: int, next_pc: int):
    p = cpu.full_pstate()
    if field == 0:    # DAIFSet
        p |= (imm & 0xF) << 6
    elif field == 1:  # DAIFClr
        p &= ~((imm & 0xF) << 6)
    elif field == 2:  # SPSel
        p = (p & ~X.PSTATE_SP) | (imm & 1)
    elif field == 3:  # PAN
        p = (p & ~X.PSTATE_PAN) | (X.PSTATE_PAN if imm & 1 else 0)
    else:             # UAO
        p = (p & ~X.PSTATE_UAO) | (X.PSTATE_UAO if imm & 1 else 0)
    cpu.set_pstate(p)
    return cpu.lookup(next_pc)


def exc_gen(s: DisasContext, kind: str, imm: int) -> bool:
    if kind != "svc" and s.el == 0:
        s.undef()
        return True
    s.b.raise_(sys_exc_gen, CPU, _EXC_KINDS.index(kind), imm)
    s.is_jmp = True
    return True


def eret(s: DisasContext) -> bool:
    if s.el == 0:
        s.undef()
        return True
    s.b.exit_call(sys_eret, CPU)
    s.is_jmp = True
    return True


def hint(s: DisasContext, crm: int, op2: int) -> bool:
    if crm == 0 and op2 in (2, 3):  # WFE, WFI
        s.b.exit_call(sys_wfi if op2 == 3 else sys_wfe, CPU, s.pc + 4)
        s.is_jmp = True
    return True  # NOP, YIELD, SEV(L), ESB, PSB, CSDB, BTI and the pointer-auth hints (no PAuth)


def msr_pstate(s: DisasContext, op1: int, op2: int, crm: int) -> bool:
    name = PSTATE_FIELDS.get((op1, op2))
    if name is None or s.el == 0:
        s.undef()
        return True
    if name == "daifset":  # (masks more: no interrupt to take)
        s.b.mov(s.g(C.REG_DAIF), s.b.or_(s.g(C.REG_DAIF), (crm & 0xF) << 6))
        return True
    if name == "daifclr":
        _write_daif(s, s.b.andc(s.g(C.REG_DAIF), (crm & 0xF) << 6))
        return True
    s.b.exit_call(sys_msr_pstate, CPU, _FIELD_CODES[name], crm, s.pc + 4)
    s.is_jmp = True
    return True


# --- SYS: TLB maintenance, address translation, caches ---------------------------------------

def _tlbi_va(xt: int) -> int:
    va = (xt & ((1 << 44) - 1)) << 12
    return va | (0xFF00000000000000 if va >> 55 & 1 else 0)


_TCR_AS = 1 << 36


@helper(may_fault=True)
def sys_tlbi(cpu, op2: int, shareable: int, xt: int) -> None:
    cpus = cpu.peers if shareable else (cpu,)
    if op2 == 0:       # VMALLE1: every entry
        for c in cpus:
            c.tlb.flush()
    elif op2 == 2:     # ASIDE1: the non-global entries of one ASID
        asid = (xt >> 48) & (0xFFFF if cpu.sr["TCR_EL1"] & _TCR_AS else 0xFF)
        for c in cpus:
            c.tlb.flush_asid(asid)
            c.walk_cache.clear()
    else:              # VAE1, VAAE1, VALE1, VAALE1: one page, every ASID (a superset is allowed)
        va = _tlbi_va(xt)
        for c in cpus:
            c.tlb.flush_page(va)
            if not op2 & 4:  # (VALE1/VAALE1 are last-level only: table walk caches stay)
                c.walk_cache.clear()


@helper(may_fault=True)
def sys_at(cpu, op2: int, va: int) -> None:
    cpu.address_translate(va, write=bool(op2 & 1), el0=op2 >= 2)


@helper(may_fault=True)
def sys_dc_zva(cpu, va: int) -> None:
    base = va & ~63
    idx = cpu.data_mmu_idx()
    view = cpu.tlb.write[idx].get(base >> 12)
    if view is not None:
        off = base & 0xFFF
        view[off:off + 64] = _ZEROS_64
        return
    for off in range(0, 64, 8):
        cpu.tlb.st_slow(cpu, base + off, 0, 8, idx)


_ZEROS_64 = bytes(64)


def sys(s: DisasContext, a) -> bool:
    """SYS/SYSL with op0 = 1; returns True when handled."""
    op1, crn, crm, op2 = a.op1, a.crn, a.crm, a.op2
    if a.l:
        s.undef()
        return True
    if crn == 8 and op1 == 0 and s.el >= 1:
        if op2 in (0, 1, 2, 3, 5, 7) and crm in (3, 7, 1):
            s.b.call_void(sys_tlbi, CPU, op2, int(crm != 7), s.x(a.rt))
            return True
    elif crn == 7 and op1 == 0 and crm == 8 and op2 < 4 and s.el >= 1:
        s.b.call_void(sys_at, CPU, op2, s.x(a.rt))
        return True
    elif crn == 7 and op1 == 3 and crm == 4 and op2 == 1:  # DC ZVA
        s.b.call_void(sys_dc_zva, CPU, s.x(a.rt))
        return True
    elif crn == 7 and op1 == 3:  # DC CVAU/CVAC/CVAP/CIVAC, IC IVAU: caches are coherent here
        return True
    elif crn == 7 and op1 == 0 and s.el >= 1:  # IC IALLU(IS), DC IVAC/ISW/CSW/CISW
        return True
    s.undef()
    return True


# --- MRS / MSR through the system-register table (target/arm/cpregs.py) --------------------

def _packed(key: tuple[int, int, int, int, int]) -> int:
    op0, op1, crn, crm, op2 = key
    return op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2


def _unpacked(p: int) -> tuple[int, int, int, int, int]:
    return (p >> 14 & 3, p >> 11 & 7, p >> 7 & 15, p >> 3 & 15, p & 7)


def _desc(cpu, packed: int, is_read: bool):
    # MRS/MSR helpers run often (Linux reads SP_EL0 for `current`): cache the table lookup.
    table = cpu.sr.table
    k = packed << 1 | is_read
    try:
        return table.packed_cache[k]
    except KeyError:
        desc = table.packed_cache[k] = table.lookup(_unpacked(packed), bool(is_read))
        return desc


def _trap_esr(packed: int, rt: int, is_read: bool) -> int:
    return X.syn_sysreg_trap(*_unpacked(packed), rt, is_read)


_SPSEL = cpregs.Gate.SPSEL


@helper(may_fault=True)
def sys_reg_check(cpu, packed: int, rt: int, is_read: int) -> None:
    """The runtime part of an access check (a gate on SCTLR/CNTKCTL/PMUSERENR/... or SPSel)."""
    desc = _desc(cpu, packed, is_read)
    if desc.gate == _SPSEL:  # SP_EL0 at EL1: the hot case (no gate reads NZCV, so no full_pstate)
        if cpu.pstate & X.PSTATE_SP:
            return
        raise GuestException("ill")
    res = cpu.sr.check(desc, cpu.el, bool(is_read), cpu.pstate)
    if res == cpregs.Check.OK:
        return
    if res == cpregs.Check.UNDEF:
        raise GuestException("ill")
    if res == cpregs.Check.TRAP_FP:
        raise GuestException("fpaccess")
    raise cpu.trap(_trap_esr(packed, rt, bool(is_read)))


@helper(may_fault=True)
def sys_reg_trap(cpu, packed: int, rt: int, is_read: int) -> None:
    raise cpu.trap(_trap_esr(packed, rt, bool(is_read)))


@helper()
def sys_reg_read(cpu, packed: int) -> int:
    return cpu.read_sysreg(_desc(cpu, packed, True))


@helper()
def sys_reg_write(cpu, packed: int, value: int) -> None:
    cpu.write_sysreg(_desc(cpu, packed, False), value)


@helper(may_fault=True)
def sys_read_sp_el0(cpu) -> int:
    """MRS SP_EL0 at EL1 in one call (Linux's ``current``): UNDEFINED while SPSel selects SP_EL0."""
    if cpu.pstate & X.PSTATE_SP:
        return cpu.sp_el[0]
    raise GuestException("ill")


@helper()
def sys_reg_read_store(cpu, slot: int) -> int:
    """MRS of a plain stored register with no run-time gate (TPIDR_EL1, ...)."""
    return cpu.sr.values[slot]


@helper(sync=True, may_fault=True)
def sys_reg_write_end(cpu, packed: int, value: int, next_pc: int):
    cpu.write_sysreg(_desc(cpu, packed, False), value)
    return cpu.lookup(next_pc)


def mrs_msr(s: DisasContext, a, nzcv_read, nzcv_write) -> bool:
    """MRS/MSR (register) in system mode; NZCV goes through the caller's lazy-flag code."""
    key = (2 + a.o0, a.op1, a.crn, a.crm, a.op2)
    is_read = bool(a.l)
    desc = s.cpu.sr.table.lookup(key, is_read)
    if desc is None:
        from pyqemu.util import log
        log.unimp(f"pyqemu: {'MRS' if is_read else 'MSR'} of unknown system register "
                  f"S{key[0]}_{key[1]}_C{key[2]}_C{key[3]}_{key[4]} at {s.pc:#x}")
        s.undef()
        return True
    packed = _packed(key)
    check = cpregs.static_check(desc, s.el, is_read)
    if check == cpregs.Check.UNDEF:
        s.undef()
        return True
    if check == cpregs.Check.TRAP:
        s.b.raise_(sys_reg_trap, CPU, packed, a.rt, int(is_read))
        s.is_jmp = True
        return True
    kind = desc.kind
    if is_read and s.el == 1 and desc.name == "SP_EL0":  # the gate and the read in one helper
        s.set_x(a.rt, s.b.call(sys_read_sp_el0, CPU))
        return True
    if desc.name == "DAIF" and check == cpregs.Check.OK:  # (EL1: irqsave/irqrestore)
        if is_read:
            s.set_x(a.rt, s.g(C.REG_DAIF))
        else:
            _write_daif(s, s.b.and_(s.x(a.rt), X.PSTATE_DAIF))
        return True
    if check is None:
        s.b.call_void(sys_reg_check, CPU, packed, a.rt, int(is_read))
    if desc.name == "NZCV":
        if is_read:
            nzcv_read()
        else:
            nzcv_write()
        return True
    if kind == cpregs.Kind.CPUREG:
        if is_read:
            s.set_x(a.rt, s.g(desc.cpu_reg))
        else:
            s.b.mov(s.g(desc.cpu_reg), s.b.and_(s.x(a.rt), desc.write_mask) if desc.write_mask != M64
                    else s.x(a.rt))
        return True
    if is_read:
        if kind == cpregs.Kind.CONST:
            s.set_x(a.rt, desc.value)
        elif desc.name == "CurrentEL":
            s.set_x(a.rt, s.el << 2)
        elif desc.name == "DCZID_EL0" and s.el >= 1:  # (DZP only concerns EL0: a constant)
            s.set_x(a.rt, s.cpu.sr.model.dczid)
        elif kind == cpregs.Kind.STORE and check == cpregs.Check.OK:
            s.set_x(a.rt, s.b.call(sys_reg_read_store, CPU, desc.slot))
        else:
            s.set_x(a.rt, s.b.call(sys_reg_read, CPU, packed))
        return True
    if kind == cpregs.Kind.PSTATE or desc.effects & cpregs.FX_END_TB:
        s.b.exit_call(sys_reg_write_end, CPU, packed, s.x(a.rt), s.pc + 4)
        s.is_jmp = True
    else:
        s.b.call_void(sys_reg_write, CPU, packed, s.x(a.rt))
    return True
