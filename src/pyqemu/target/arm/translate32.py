"""AArch32 front end (A32 and T32): guest instructions -> IR, one block at a time.

Four decoders are generated from ``.decode`` tables by scripts/decodetree.py:
``decode_a32.py`` (``a32_*.decode``: ARM encodings with a condition, bits
31..28 ignored by the patterns), ``decode_a32u.py`` (``a32u_*.decode``: the
unconditional space, condition 0b1111, including NEON), ``decode_t32.py``
(``t32_*.decode``, 32-bit Thumb encodings as ``hw1 << 16 | hw2``) and
``decode_t16.py`` (``t16_*.decode``, 16-bit Thumb encodings, ``--insnwidth 16``).
They share the ``trans_*`` functions of the ``trans_a32_*`` modules, as QEMU's
decoders do: a Thumb pattern fills the same argument set as the ARM pattern of
the same instruction, so one function implements both.

Rules every ``trans_*`` follows (as for A64): do all memory accesses of an
instruction before writing any guest register, and return True when the
pattern was handled (False means unallocated: SIGILL).

Conditional execution: the driver wraps an instruction whose condition is not
AL (an ARM condition field, or the current IT-block condition in Thumb) in
``if cond: ... endif``; a ``trans_*`` that ends the block inside it is
followed by a jump to the next instruction for the not-taken path.
``trans_*`` never sees the condition, except through :attr:`DisasContext32.in_it`
(16-bit Thumb data-processing sets flags only outside IT blocks).

ITSTATE is translation-time state (it is not in the block key), so a block never
ends inside an IT block: an instruction that would end it there but may be followed
by more of the IT block (ISB, SVC) checks :attr:`DisasContext32.it_continues`, and
BKPT/HLT run whatever their IT condition (as in QEMU).
"""
from __future__ import annotations

from collections.abc import Callable

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.target.arm import cpu32 as C
from pyqemu.target.arm.translate import DisasContext, log_disas
from pyqemu.tcg.ir import Block, Builder, Helper, Temp
from pyqemu.util import log

CPU = Temp("cpu")  # operand that passes the CPU object to a helper

MAX_INSNS = 256
PAGE = 4096
M32 = C.M32
SIGN = 0x80000000


def _mk_globals() -> dict[int, Temp]:
    g = {i: Temp(f"r{i}", i, 32) for i in range(15)}
    for idx, name in ((C.REG_NF, "nf"), (C.REG_ZF, "zf"), (C.REG_CF, "cf"), (C.REG_VF, "vf"),
                      (C.REG_QF, "qf"), (C.REG_GE, "ge"), (C.REG_TPIDRURW, "tpidrurw"),
                      (C.REG_TPIDRURO, "tpidruro"), (C.REG_FPSCR, "fpscr"),
                      (C.REG_EXCL_ADDR, "excl_addr"), (C.REG_EXCL_SIZE, "excl_size")):
        g[idx] = Temp(name, idx, 32)
    g[C.REG_EXCL_ADDR].width = 64  # all ones when the monitor is open
    g[C.REG_EXCL_VAL] = Temp("excl_val", C.REG_EXCL_VAL, 64)
    for i in range(32):
        g[C.REG_D0 + i] = Temp(f"d{i}", C.REG_D0 + i, 64)
    return g


GLOBALS = _mk_globals()
NF, ZF, CF, VF = (GLOBALS[i] for i in (C.REG_NF, C.REG_ZF, C.REG_CF, C.REG_VF))


def helper(may_fault: bool = False, sync: bool = False, pure: bool = False) -> Callable:
    """Decorator: make a Python function callable from generated code. Helper names are
    global (generated code and the code cache refer to them by name): AArch32 helpers are
    registered as ``h_a32_<name>``."""
    def wrap(fn: Callable) -> Helper:
        return Helper(fn, "h_a32_" + fn.__name__, may_fault=may_fault, sync=sync, pure=pure)
    return wrap


def _raise_undef(cpu, insn):
    log.unimp(f"pyqemu: unimplemented or unallocated A32/T32 instruction {insn:#010x}")
    raise GuestException("ill", code=1)


h_undef = Helper(_raise_undef, "h_a32_undef", may_fault=True)


@helper(sync=True, may_fault=True)
def svc(cpu, next_pc: int):
    """SVC: hand over to the OS layer (user mode: a Linux system call)."""
    cpu.pc = next_pc
    cpu.exception_svc()
    return cpu.lookup(cpu.pc)


@helper(sync=True, may_fault=True)
def svc_in_it(cpu, next_pc: int) -> int:
    """SVC followed by more instructions of its IT block: 0 when execution goes on at
    ``next_pc`` (the block goes on with the rest of the IT block), else the key to jump
    to (a signal handler, a restarted call) with bit 32 set."""
    cpu.pc = next_pc
    cpu.exception_svc()
    pc = cpu.pc
    return 0 if pc == next_pc else pc | (1 << 32)


SHIFT_LSL, SHIFT_LSR, SHIFT_ASR, SHIFT_ROR = range(4)


@helper(pure=True)
def shift_reg_carry(val, shtype, amt, cf):
    """A shift by a register amount (bottom byte) with the shifter's carry out:
    ``result | carry << 32`` (the carry is ``cf`` when the amount is 0)."""
    amt &= 0xFF
    if amt == 0:
        return val | (cf << 32)
    if shtype == SHIFT_LSL:
        r = (val << amt) & M32
        c = (val >> (32 - amt)) & 1 if amt <= 32 else 0
    elif shtype == SHIFT_LSR:
        r = val >> amt
        c = (val >> (amt - 1)) & 1 if amt <= 32 else 0
    elif shtype == SHIFT_ASR:
        sv = val - ((val & SIGN) << 1)
        r = (sv >> min(amt, 32)) & M32
        c = (sv >> min(amt - 1, 31)) & 1
    else:
        n = amt & 31
        r = ((val >> n) | (val << (32 - n))) & M32 if n else val
        c = r >> 31
    return r | (c << 32)


class DisasContext32:
    """Translation state of the AArch32 block being built."""

    def __init__(self, block: Block, cpu, thumb: bool) -> None:
        self.block = block
        self.b = Builder(block)
        self.cpu = cpu
        self.sys = False
        self.thumb = thumb
        self.pc = block.pc & ~1  # address of the current instruction
        self.insn = 0
        self.insn_len = 2 if thumb else 4
        self.is_jmp = False  # the instruction ended the block
        # IT block state: (firstcond << 4) | mask as ITSTATE holds it (0: not in an IT block).
        self.itstate = 0
        self.in_it = False  # the current instruction is inside an IT block
        # End the block after the current IT block (an instruction inside it wanted to end
        # the block: ITSTATE is translation-time state, so the block may not end before).
        self.end_after_it = False

    # --- keys ------------------------------------------------------------------
    def key(self, addr: int, thumb: bool | None = None) -> int:
        """The block key of ``addr`` in the current (or the given) instruction set."""
        return C.key_for(addr & M32, self.thumb if thumb is None else thumb)

    @property
    def it_continues(self) -> bool:
        """Whether more instructions of the current IT block follow this one."""
        return self.in_it and self.itstate & 0x7 != 0

    @property
    def next_pc(self) -> int:
        """Address of the next instruction."""
        return (self.pc + self.insn_len) & M32

    # --- registers ---------------------------------------------------------------
    def g(self, idx: int) -> Temp:
        return GLOBALS[idx]

    def pc_value(self) -> int:
        """What reading R15 gives: the instruction's address + 8 (ARM) or + 4 (Thumb)."""
        return (self.pc + (4 if self.thumb else 8)) & M32

    def reg(self, n: int) -> Temp | int:
        """Read Rn (R15 reads as :meth:`pc_value`)."""
        if n == 15:
            return self.pc_value()
        return GLOBALS[n]

    def reg_aligned_pc(self, n: int) -> Temp | int:
        """Rn, with R15 as Align(PC, 4) (literal loads, ADR, in Thumb)."""
        if n == 15:
            return self.pc_value() & ~3
        return GLOBALS[n]

    def set_reg(self, n: int, val) -> None:
        """Write Rn from a data-processing result; R15 branches (ALUWritePC: interworking in
        ARM state, a plain branch in Thumb state)."""
        if n == 15:
            if self.thumb:
                self.branch_reg(self.b.or_(val, 1, 32))
            else:
                self.bx(val)
            return
        self.b.mov(GLOBALS[n], val)

    def set_reg_load(self, n: int, val) -> None:
        """Write Rn from a load; R15 branches with interworking (LoadWritePC)."""
        if n == 15:
            self.bx(val)
            return
        self.b.mov(GLOBALS[n], val)

    def d(self, n: int) -> Temp:
        return GLOBALS[C.REG_D0 + n]

    def set_d(self, n: int, val) -> None:
        self.b.mov(GLOBALS[C.REG_D0 + n], val)

    tmp_copy = DisasContext.tmp_copy  # snapshot a global into a temp, as in A64

    # --- the shifter ------------------------------------------------------------------
    def shift_imm(self, val, shtype: int, amount: int, want_carry: bool = False):
        """``val`` shifted by a constant as an instruction encodes it (LSR/ASR #0 mean #32,
        ROR #0 means RRX). Returns ``(result, carry)``; carry is None when it is C unchanged
        (or not wanted)."""
        bb = self.b
        if shtype == SHIFT_LSL:
            if amount == 0:
                return val, None
            r = bb.shl(val, amount, 32)
            c = bb.and_(bb.shr(val, 32 - amount, 32), 1, 32) if want_carry else None
        elif shtype in (SHIFT_LSR, SHIFT_ASR):
            n = amount or 32
            if shtype == SHIFT_LSR:
                r = bb.shr(val, n, 32) if n < 32 else 0
            else:
                r = bb.sar(val, min(n, 31), 32)
            c = bb.and_(bb.shr(val, n - 1, 32), 1, 32) if want_carry else None
        elif amount == 0:  # RRX
            r = bb.or_(bb.shl(CF, 31, 32), bb.shr(val, 1, 32), 32)
            c = bb.and_(val, 1, 32) if want_carry else None
        else:
            r = bb.rotr(val, amount, 32)
            c = bb.shr(val, amount - 1, 32) if want_carry else None
            if c is not None:
                c = bb.and_(c, 1, 32)
        return r, c

    def shift_reg(self, val, shtype: int, rs, want_carry: bool = False):
        """``val`` shifted by the bottom byte of register value ``rs``; ``(result, carry)``."""
        bb = self.b
        if want_carry:
            t = bb.call(shift_reg_carry, val, shtype, rs, CF)
            return bb.and_(t, M32, 32), bb.shr(t, 32, 64)
        amt = bb.and_(rs, 0xFF, 32)
        if shtype == SHIFT_LSL:
            return bb.shl(val, amt, 32), None
        if shtype == SHIFT_LSR:
            return bb.shr(val, amt, 32), None
        if shtype == SHIFT_ASR:
            return bb.sar(val, amt, 32), None
        return bb.rotr(val, bb.and_(amt, 31, 32), 32), None

    # --- flags ----------------------------------------------------------------------
    def set_nz(self, r) -> None:
        """N and Z from the 32-bit result ``r``."""
        r = self.tmp_copy(r)
        self.b.mov(NF, r)
        self.b.mov(ZF, r)

    def set_c(self, c) -> None:
        """C from a 0/1 value."""
        self.b.mov(CF, c)

    def flags_logic(self, r, carry=None) -> None:
        """Flags of a logical operation: N, Z from ``r``; C from the shifter (unchanged when
        ``carry`` is None); V unchanged."""
        self.set_nz(r)
        if carry is not None:
            self.set_c(carry)

    def add_flags(self, a, b, carry_in=0) -> Temp:
        """``a + b + carry_in`` (32-bit), setting N, Z, C, V; returns the result."""
        bb = self.b
        a = self.tmp_copy(a)
        b = self.tmp_copy(b)
        if isinstance(carry_in, int) and carry_in == 0:
            # No carry in: C is "the 32-bit sum wrapped" (one comparison, no 64-bit sum).
            r = bb.add(a, b, 32)
            c = bb.setcond("ltu", r, a, 32) if not isinstance(a, int) else bb.setcond("ltu", r, b, 32)
            self.b.mov(CF, c)
        else:
            full = bb.add(bb.add(a, b, 64), carry_in, 64)
            r = bb.and_(full, M32, 32)
            self.b.mov(CF, bb.shr(full, 32, 64))
        self.b.mov(VF, bb.and_(bb.xor(a, r, 32), bb.xor(b, r, 32), 32))
        self.set_nz(r)
        return r

    def sub_flags(self, a, b) -> Temp:
        """``a - b`` (32-bit), setting N, Z, C (no borrow), V; returns the result."""
        bb = self.b
        a = self.tmp_copy(a)
        b = self.tmp_copy(b)
        r = bb.sub(a, b, 32)
        if isinstance(b, int) and b == 0:  # CMP Rn, #0: no borrow, no overflow
            self.b.mov(CF, 1)
            self.b.mov(VF, 0)
        else:
            self.b.mov(CF, bb.setcond("geu", a, b, 32))
            self.b.mov(VF, bb.and_(bb.xor(a, b, 32), bb.xor(a, r, 32), 32))
        self.set_nz(r)
        return r

    def sbc_flags(self, a, b) -> Temp:
        """``a - b - NOT(C)`` = ``a + NOT(b) + C``, setting N, Z, C, V."""
        return self.add_flags(a, self.b.xor(b, M32, 32), CF)

    def get_nzcv(self) -> Temp:
        """NZCV in bits 31..28 as an IR value (MRS APSR, VMRS)."""
        bb = self.b
        n = bb.and_(NF, SIGN, 32)
        z = bb.shl(bb.setcond("eq", ZF, 0, 32), 30, 32)
        c = bb.shl(CF, 29, 32)
        v = bb.and_(bb.shr(VF, 3, 32), 1 << 28, 32)
        return bb.or_(bb.or_(n, z, 32), bb.or_(c, v, 32), 32)

    def set_nzcv(self, nzcv) -> None:
        """Set N, Z, C, V from bits 31..28 of ``nzcv`` (MSR APSR, VMRS APSR_nzcv)."""
        bb = self.b
        nzcv = self.tmp_copy(nzcv)
        bb.mov(NF, bb.and_(nzcv, SIGN, 32))
        bb.mov(ZF, bb.xor(bb.and_(bb.shr(nzcv, 30, 32), 1, 32), 1, 32))
        bb.mov(CF, bb.and_(bb.shr(nzcv, 29, 32), 1, 32))
        bb.mov(VF, bb.and_(bb.shl(nzcv, 3, 32), SIGN, 32))

    def test_cc(self, cc: int) -> tuple:
        """Condition ``cc`` (0..14) as a (cond, a, b, width) tuple for if_/movcond/setcond."""
        bb = self.b
        base, inv = cc >> 1, cc & 1
        if base == 0:  # EQ / NE
            t = ("eq", ZF, 0, 32)
        elif base == 1:  # CS / CC
            t = ("ne", CF, 0, 32)
        elif base == 2:  # MI / PL
            t = ("tst", NF, SIGN, 32)
        elif base == 3:  # VS / VC
            t = ("tst", VF, SIGN, 32)
        elif base == 4:  # HI / LS: C set and Z clear
            t = ("ne", bb.and_(bb.neg(CF, 32), ZF, 32), 0, 32)
        elif base == 5:  # GE / LT: N == V
            t = ("tstz", bb.xor(NF, VF, 32), SIGN, 32)
        elif base == 6:  # GT / LE: Z clear and N == V
            t = ("ne", bb.andc(ZF, bb.sar(bb.xor(NF, VF, 32), 31, 32), 32), 0, 32)
        else:
            return ("eq", 0, 0, 32)  # AL
        if inv:
            from pyqemu.tcg.ir import INVERT
            return (INVERT[t[0]],) + t[1:]
        return t

    # --- control flow ---------------------------------------------------------------
    def goto(self, addr: int, thumb: bool | None = None) -> None:
        """Branch to the constant ``addr`` (in the current instruction set unless given)."""
        self.b.goto_tb(self.key(addr, thumb))
        self.is_jmp = True

    def branch_reg(self, key) -> None:
        """Jump to a computed block key (``addr | thumb``)."""
        self.b.exit_jump(key)
        self.is_jmp = True

    def bx(self, val) -> None:
        """BXWritePC: Thumb if bit 0 of ``val`` is set, else ARM with bit 1 cleared."""
        bb = self.b
        v = self.tmp_copy(val)
        # Clear bit 1 only when bit 0 is clear: mask = ((v & 1) ^ 1) << 1.
        mask = bb.shl(bb.xor(bb.and_(v, 1, 32), 1, 32), 1, 32)
        self.branch_reg(bb.andc(v, mask, 32))

    def undef(self) -> None:
        self.b.raise_(h_undef, CPU, self.insn)
        self.is_jmp = True

    def unimp(self, what: str) -> bool:
        log.unimp(f"pyqemu: unimplemented A32/T32 {what} at {self.pc:#x}")
        self.undef()
        return True

    def svc(self) -> None:
        if self.it_continues:
            # Go on with the IT block in this block unless the call redirected execution.
            bb = self.b
            t = bb.call(svc_in_it, CPU, self.key(self.next_pc), width=64)
            bb.if_("ne", t, 0, 64)
            bb.exit_jump(bb.and_(t, M32, 32))
            bb.endif()
            return
        self.b.exit_call(svc, CPU, self.key(self.next_pc))
        self.is_jmp = True

    def end_block_lookup(self) -> None:
        """End the block after this instruction with a lookup of the next one (ISB: code
        written before it is seen at once); inside an IT block, after the IT block."""
        if self.it_continues:
            self.end_after_it = True
            return
        self.b.exit_jump(self.key(self.next_pc))
        self.is_jmp = True


# --- the driver -------------------------------------------------------------------------

def _it_advance(itstate: int) -> int:
    """ITSTATE after one instruction of an IT block (0 when the block is over)."""
    if itstate & 0x7 == 0:
        return 0
    return (itstate & 0xE0) | ((itstate << 1) & 0x1F)


def _t16_unconditional(insn: int, size: int) -> bool:
    """BKPT and HLT run even where their IT condition fails (as QEMU runs them)."""
    return size == 2 and (insn & 0xFF00 == 0xBE00 or insn & 0xFFC0 == 0xBA80)


def is_t32_prefix(hw1: int) -> bool:
    """Whether the halfword ``hw1`` starts a 32-bit Thumb instruction."""
    return (hw1 >> 11) in (0b11101, 0b11110, 0b11111)


def translate(cpu, key: int, fetch16: Callable[[int], int], max_insns: int = MAX_INSNS) -> Block:
    """Translate the block whose key is ``key`` (address | Thumb bit).

    ``fetch16(addr)`` reads 2 code bytes (raising GuestException on a fetch fault).
    A block never ends inside an IT block (ITSTATE is translation-time state): an
    instruction that would end it there ends it after the IT block instead
    (:meth:`DisasContext32.end_block_lookup`, :meth:`DisasContext32.svc`).
    """
    from pyqemu.target.arm import decode_a32, decode_a32u, decode_t16, decode_t32
    thumb = bool(key & 1)
    block = Block(key, GLOBALS)
    block.chain_inline = True  # pygen: chained inlining and loads into globals (see pygen.py)
    # Instructions inside an IT block -> the key of their IT instruction: no other tier may
    # resume in the middle of an IT block (tcg/llvmgen.py restarts at the IT instruction).
    block.it_pcs = {}
    it_start = 0
    block.mmu_idx = None
    block.slow_mem = False
    s = DisasContext32(block, cpu, thumb)
    disas: list | None = [] if log.enabled("in_asm") else None
    n = 0
    b = s.b
    while True:
        addr = s.pc
        try:
            if thumb:
                hw1 = fetch16(addr)
                if is_t32_prefix(hw1):
                    insn = (hw1 << 16) | fetch16((addr + 2) & M32)
                    s.insn_len = 4
                    decoder = decode_t32.decode
                else:
                    insn = hw1
                    s.insn_len = 2
                    decoder = decode_t16.decode
            else:
                insn = fetch16(addr) | (fetch16(addr + 2) << 16)
                decoder = decode_a32u.decode if insn >> 28 == 15 else decode_a32.decode
        except GuestException:
            if n:
                s.goto(addr)
                break
            raise
        s.insn = insn
        block.b_insn = insn
        b.insn_start(s.key(addr))
        if thumb and s.itstate:
            block.it_pcs[s.key(addr)] = it_start
        if disas is not None:
            disas.append((addr, insn, s.insn_len))
        cond = 14
        if thumb:
            s.in_it = bool(s.itstate)
            if s.in_it and not _t16_unconditional(insn, s.insn_len):
                cond = s.itstate >> 4
        else:
            cond = insn >> 28
            if cond == 15:
                cond = 14  # the unconditional space (decode_a32u)
        if cond != 14:
            b.if_(*s.test_cc(cond))
        itstate_before = s.itstate
        if not decoder(s, insn):
            s.undef()
        if thumb and s.itstate and not itstate_before:
            it_start = s.key(addr)  # an IT instruction
        if cond != 14:
            b.endif()
            if s.is_jmp:
                b.goto_tb(s.key(s.next_pc))
        if thumb and itstate_before:
            # An IT instruction sets s.itstate itself; others advance it.
            s.itstate = _it_advance(s.itstate)
        n += 1
        s.pc = s.next_pc
        block.size = s.pc - (key & ~1)
        if s.is_jmp:
            break
        if s.itstate:
            continue  # finish the IT block in this translation block
        if s.end_after_it:
            b.exit_jump(s.key(s.pc))
            break
        if n >= max_insns or (s.pc & (PAGE - 1)) == 0:
            s.goto(s.pc)
            break
    if disas is not None:
        _log_disas(disas, thumb)
    return block


def _log_disas(insns: list[tuple[int, int, int]], thumb: bool) -> None:
    entries = []
    for pc, insn, size in insns:
        if size == 4 and thumb:
            raw = (insn >> 16).to_bytes(2, "little") + (insn & 0xFFFF).to_bytes(2, "little")
        else:
            raw = insn.to_bytes(size, "little")
        entries.append((pc, raw, f"{insn:08x}" if size == 4 else f"{insn:04x}    "))
    log_disas(entries, "ARM", "THUMB" if thumb else "ARM", 8)


def _install() -> None:
    """Gather the trans_* functions of the AArch32 modules for the three decoders."""
    import importlib
    import pkgutil
    import types

    from pyqemu.target import arm
    from pyqemu.target.arm import decode_a32, decode_a32u, decode_t16, decode_t32
    ns = types.SimpleNamespace()
    for info in pkgutil.iter_modules(arm.__path__):
        if not info.name.startswith("trans_a32_"):
            continue
        mod = importlib.import_module(f"pyqemu.target.arm.{info.name}")
        for k, v in vars(mod).items():
            if k.startswith("trans_") or k.startswith("ex_"):
                setattr(ns, k, v)
    for dec in (decode_a32, decode_a32u, decode_t32, decode_t16):
        dec.install(ns)


_install()
