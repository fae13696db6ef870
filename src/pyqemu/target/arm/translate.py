"""Shared A64 translation machinery: the DisasContext that trans_* functions use.

The decoder is generated from ``a64*.decode`` (``decode_a64.py``); each
pattern ``NAME`` calls ``trans_NAME(s, a)`` defined in the ``trans_a64_*``
modules, which append IR through ``s.b`` (a :class:`Builder`) and the helpers
on :class:`DisasContext` below (register access, flags, conditions, branches).

Rules every ``trans_*`` follows so that guest state stays precise on faults:
do all memory accesses of an instruction before writing any guest register,
and return True when the pattern was handled (False means unallocated).
"""
from __future__ import annotations

from collections.abc import Callable

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.target.arm import cpu as C
from pyqemu.tcg.ir import Block, Builder, Helper, Temp
from pyqemu.util import log

CPU = Temp("cpu")  # operand that passes the CPU object to a helper

MAX_INSNS = 256
PAGE = 4096


def _mk_globals() -> dict[int, Temp]:
    g = {i: Temp(f"x{i}", i, 64) for i in range(31)}
    g[C.REG_SP] = Temp("sp", C.REG_SP, 64)
    g[C.REG_CC_OP] = Temp("cc_op", C.REG_CC_OP, 64)
    g[C.REG_CC_A] = Temp("cc_a", C.REG_CC_A, 64)
    g[C.REG_CC_B] = Temp("cc_b", C.REG_CC_B, 64)
    g[C.REG_TPIDR] = Temp("tpidr", C.REG_TPIDR, 64)
    g[C.REG_TPIDRRO] = Temp("tpidrro", C.REG_TPIDRRO, 64)
    g[C.REG_FPCR] = Temp("fpcr", C.REG_FPCR, 64)
    g[C.REG_FPSR] = Temp("fpsr", C.REG_FPSR, 64)
    g[C.REG_EXCL_ADDR] = Temp("excl_addr", C.REG_EXCL_ADDR, 64)
    g[C.REG_EXCL_VAL] = Temp("excl_val", C.REG_EXCL_VAL, 128)
    g[C.REG_EXCL_SIZE] = Temp("excl_size", C.REG_EXCL_SIZE, 64)
    g[C.REG_DAIF] = Temp("daif", C.REG_DAIF, 64)
    g[C.REG_IRQ_PENDING] = Temp("irq_pending", C.REG_IRQ_PENDING, 64)
    for i in range(32):
        g[C.REG_V0 + i] = Temp(f"v{i}", C.REG_V0 + i, 128)
    return g


GLOBALS = _mk_globals()


def helper(may_fault: bool = False, sync: bool = False, pure: bool = False) -> Callable:
    """Decorator: make a Python function callable from generated code."""
    def wrap(fn: Callable) -> Helper:
        return Helper(fn, "h_" + fn.__name__, may_fault=may_fault, sync=sync, pure=pure)
    return wrap


def log_disas(insns: list[tuple[int, bytes, str]], cs_arch: str, cs_mode: str, pc_digits: int) -> None:
    """Log an ``IN:`` listing of ``(pc, bytes, hex)`` entries as QEMU's ``-d in_asm`` does,
    disassembled with capstone's ``CS_ARCH_<cs_arch>`` / ``CS_MODE_<cs_mode>`` when installed."""
    try:
        import capstone
    except ImportError:
        capstone = None
    md = None
    if capstone is not None:
        md = capstone.Cs(getattr(capstone, f"CS_ARCH_{cs_arch}"), getattr(capstone, f"CS_MODE_{cs_mode}"))
    lines = ["IN:"]
    for pc, raw, hexs in insns:
        text = ""
        if md is not None:
            for i in md.disasm(raw, pc):
                text = f"{i.mnemonic} {i.op_str}".strip()
        lines.append(f"0x{pc:0{pc_digits}x}:  {hexs}      {text or '.inst'}")
    log.log("\n".join(lines) + "\n")


# --- helpers shared by the trans_ modules -------------------------------------

@helper(pure=True)
def nzcv_from(op, a, b):
    return C.nzcv_from(op, a, b)


def _raise_undef(cpu, insn):
    log.unimp(f"pyqemu: unimplemented or unallocated A64 instruction {insn:#010x}")
    raise GuestException("ill", code=1)


h_undef = Helper(_raise_undef, "h_undef", may_fault=True)


class DisasContext:
    """Translation state of the block being built."""

    def __init__(self, block: Block, cpu, flags: int | None = None) -> None:
        self.block = block
        self.b = Builder(block)
        self.cpu = cpu
        # System mode: the translation flags (cpu_sys.flags_for); None in user mode.
        self.flags = flags
        self.sys = flags is not None
        self.el = flags & 3 if flags is not None else 0
        self.pc = block.pc
        self.insn = 0
        self.is_jmp = False  # the instruction ended the block
        # Statically known flag state inside this block: (cc_op, a, b) or None.
        self.cc: tuple[int, object, object] | None = None

    # --- registers ------------------------------------------------------------
    def g(self, idx: int) -> Temp:
        return GLOBALS[idx]

    def x(self, n: int, sf: int = 1) -> Temp | int:
        """Read Xn (sf=1) or Wn (sf=0); register 31 is XZR."""
        if n == 31:
            return 0
        r = GLOBALS[n]
        return r if sf else self.b.and_(r, C.M32)

    def xsp(self, n: int, sf: int = 1) -> Temp:
        """Read Xn or SP when n == 31."""
        r = GLOBALS[n]
        return r if sf else self.b.and_(r, C.M32)

    def set_x(self, n: int, val, sf: int = 1) -> None:
        """Write Xn (a W write must pass a 32-bit value); XZR discards."""
        if n != 31:
            self.b.mov(GLOBALS[n], val)

    def set_xsp(self, n: int, val) -> None:
        self.b.mov(GLOBALS[n], val)

    def v(self, n: int) -> Temp:
        return GLOBALS[C.REG_V0 + n]

    def set_v(self, n: int, val) -> None:
        self.b.mov(GLOBALS[C.REG_V0 + n], val)

    def tmp_copy(self, val):
        """Snapshot `val` into a temp (globals may change later in the block)."""
        if isinstance(val, Temp) and val.is_global:
            t = self.block.new_temp(val.width)
            self.b.mov(t, val)
            return t
        return val

    # --- flags ----------------------------------------------------------------
    def _set_cc(self, op: int, a, b) -> None:
        a = self.tmp_copy(a)
        b = self.tmp_copy(b)
        self.b.mov(GLOBALS[C.REG_CC_OP], op)
        self.b.mov(GLOBALS[C.REG_CC_A], a)
        self.b.mov(GLOBALS[C.REG_CC_B], b)
        self.cc = (op, a, b)

    def flags_sub(self, a, b, sf: int) -> None:
        """NZCV of a - b (operands already of the operation's width)."""
        self._set_cc(C.CC_SUB64 if sf else C.CC_SUB32, a, b)

    def flags_add(self, a, b, sf: int) -> None:
        self._set_cc(C.CC_ADD64 if sf else C.CC_ADD32, a, b)

    def flags_logic(self, r, sf: int) -> None:
        self._set_cc(C.CC_LOGIC64 if sf else C.CC_LOGIC32, r, 0)

    def flags_nzcv(self, nzcv) -> None:
        """Set the flags to an explicit NZCV value (bits 31..28)."""
        self._set_cc(C.CC_NZCV, nzcv, 0)

    def get_nzcv(self):
        """The current NZCV (bits 31..28) as an IR value."""
        if self.cc is not None:
            op, a, b = self.cc
            if op == C.CC_NZCV:
                return a
            return self.b.call(nzcv_from, op, a, b)
        return self.b.call(nzcv_from, GLOBALS[C.REG_CC_OP], GLOBALS[C.REG_CC_A],
                           GLOBALS[C.REG_CC_B])

    def test_cc(self, cc: int) -> tuple:
        """Condition `cc` as a (cond, a, b, width) tuple for if_/movcond/setcond."""
        b = self.b
        if cc >= 14:
            return ("eq", 0, 0, 64)
        inv = cc & 1
        t = self._test_cc_static(cc & ~1) if self.cc is not None else None
        if t is None:
            nzcv = self.get_nzcv()
            idx = b.shr(nzcv, 28)
            bits = b.shr(C.COND_TABLE[cc], idx)
            return ("tst", bits, 1, 64)
        if inv:
            from pyqemu.tcg.ir import INVERT
            return (INVERT[t[0]],) + t[1:]
        return t

    def _test_cc_static(self, cc: int) -> tuple | None:
        op, a, bv = self.cc
        b = self.b
        if op == C.CC_NZCV:
            return None
        w = 32 if op in (C.CC_ADD32, C.CC_SUB32, C.CC_LOGIC32) else 64
        s = 1 << (w - 1)
        if op in (C.CC_SUB32, C.CC_SUB64):
            if cc == 0:
                return ("eq", a, bv, w)
            if cc == 2:
                return ("geu", a, bv, w)
            if cc == 4:
                return ("tst", b.sub(a, bv, w), s, w)
            if cc == 6:
                r = b.sub(a, bv, w)
                return ("tst", b.and_(b.xor(a, bv, w), b.xor(a, r, w), w), s, w)
            if cc == 8:
                return ("gtu", a, bv, w)
            if cc == 10:
                return ("ge", a, bv, w)
            if cc == 12:
                return ("gt", a, bv, w)
            return None
        if op in (C.CC_LOGIC32, C.CC_LOGIC64):
            r = a
            return {0: ("eq", r, 0, w), 2: ("ne", 0, 0, w), 4: ("tst", r, s, w),
                    6: ("ne", 0, 0, w), 8: ("ne", 0, 0, w), 10: ("tstz", r, s, w),
                    12: ("ltu", b.sub(r, 1, w), s - 1, w)}.get(cc)
        # ADD
        r = b.add(a, bv, w)
        if cc == 0:
            return ("eq", r, 0, w)
        if cc == 2:
            return ("ltu", r, a, w)
        if cc == 4:
            return ("tst", r, s, w)
        if cc == 6:
            return ("tst", b.and_(b.xor(a, r, w), b.xor(bv, r, w), w), s, w)
        if cc == 10:
            t = b.xor(r, b.and_(b.xor(a, r, w), b.xor(bv, r, w), w), w)
            return ("tstz", t, s, w)
        return None

    # --- control flow ---------------------------------------------------------
    def goto(self, dest: int) -> None:
        self.b.goto_tb(dest & C.M64)
        self.is_jmp = True

    def jump(self, val) -> None:
        self.b.exit_jump(val)
        self.is_jmp = True

    def branch_cond(self, cond: tuple, dest: int) -> None:
        """If `cond` go to `dest`, else fall through to the next instruction."""
        self.b.if_(*cond)
        self.b.goto_tb(dest & C.M64)
        self.b.endif()
        self.b.goto_tb(self.pc + 4)
        self.is_jmp = True

    def undef(self) -> None:
        self.b.raise_(h_undef, CPU, self.insn)
        self.is_jmp = True

    def unimp(self, what: str) -> bool:
        log.unimp(f"pyqemu: unimplemented A64 {what} at {self.pc:#x}")
        self.undef()
        return True
