"""The target-independent intermediate representation of a translation block.

A block is a list of :class:`Op`. Operands are :class:`Temp` (a block-local
value, or a *global*: a slot of the CPU's register list, cached in a Python
local while the block runs) or plain ``int`` constants. Values are unsigned
integers of the operation's width (32 or 64; 128 for vector registers).

Control flow inside a block is structured (``if``/``else``/``endif``) because
the back end emits Python, which has no goto. A block leaves through one of the
exit ops: ``goto_tb`` (direct, chainable), ``exit_jump`` (computed target) or
``exit_call`` (a helper that decides where to go, e.g. a system call).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Value = "Temp | int"

# Conditions for setcond/movcond/if: unsigned, signed (width-aware) and bit tests.
CONDS = ("eq", "ne", "ltu", "leu", "gtu", "geu", "lt", "le", "gt", "ge", "tst", "tstz")
INVERT = {"eq": "ne", "ne": "eq", "ltu": "geu", "geu": "ltu", "leu": "gtu", "gtu": "leu",
          "lt": "ge", "ge": "lt", "le": "gt", "gt": "le", "tst": "tstz", "tstz": "tst",
          "true": "false", "false": "true"}

# Ops that may raise a guest exception: globals must be exact when they run.
MAY_FAULT = {"ld", "st", "call_fault", "raise"}
# Ops that end the block on every path through them.
EXITS = {"goto_tb", "exit_jump", "exit_call", "raise"}


class Temp:
    """A value: a block temporary (``t3``) or a CPU global (``x0``)."""

    __slots__ = ("name", "gidx", "width")

    def __init__(self, name: str, gidx: int = -1, width: int = 64) -> None:
        self.name = name
        self.gidx = gidx  # index in the CPU register list for globals, else -1
        self.width = width

    @property
    def is_global(self) -> bool:
        return self.gidx >= 0

    def __repr__(self) -> str:
        return self.name


@dataclass(slots=True)
class MemOp:
    """Size in bytes, sign extension and alignment requirement of an access."""

    size: int
    signed: bool = False
    align: int = 0  # required alignment in bytes, 0 = none
    mmu_idx: int = -1  # system mode: translation regime, -1 = the block's (LDTR/STTR pass EL0's)

    def __str__(self) -> str:
        return (f"{'s' if self.signed else 'u'}{self.size * 8}" + (f"+al{self.align}" if self.align else "")
                + (f"+mmu{self.mmu_idx}" if self.mmu_idx >= 0 else ""))


@dataclass(slots=True)
class Op:
    opc: str
    dst: Temp | None
    args: tuple
    aux: Any = None

    def __str__(self) -> str:
        a = ", ".join(_fmt(x) for x in self.args)
        aux = f" [{_fmt(self.aux)}]" if self.aux is not None else ""
        if self.dst is not None:
            return f"{self.opc} {self.dst.name} = {a}{aux}"
        return f"{self.opc} {a}{aux}"


def _fmt(x: Any) -> str:
    if isinstance(x, int) and not isinstance(x, bool):
        return hex(x)
    if callable(x) and hasattr(x, "__name__"):
        return x.__name__
    return str(x)


def globals_of(ops) -> tuple[list[Temp], list[Temp]]:
    """The globals that ``ops`` read or write, and those they write, in gidx order."""
    used: dict[int, Temp] = {}
    written: dict[int, Temp] = {}
    for op in ops:
        for a in op.args:
            if isinstance(a, Temp) and a.is_global:
                used[a.gidx] = a
        if op.dst is not None and op.dst.is_global:
            used[op.dst.gidx] = op.dst
            written[op.dst.gidx] = op.dst
    return [used[k] for k in sorted(used)], [written[k] for k in sorted(written)]


@dataclass
class Helper:
    """A Python function callable from generated code."""

    func: Callable
    name: str
    may_fault: bool = False  # may raise a guest exception
    sync: bool = False  # reads/writes CPU state: globals written back first, reloaded after
    pure: bool = False  # no side effects: may be removed if the result is unused

    def __post_init__(self) -> None:
        old = HELPERS.get(self.name)
        if old is not None and old.func is not self.func and \
                getattr(old.func, "__code__", None) is not getattr(self.func, "__code__", None):
            raise ValueError(f"two helpers named {self.name}: {old.func!r} and {self.func!r}")
        HELPERS[self.name] = self


# Every helper by name: generated code (and the persistent code cache) refer
# to helpers by name, so names must be unique.
HELPERS: dict[str, Helper] = {}


@dataclass
class Block:
    """A translation block under construction."""

    pc: int
    globals: dict[int, Temp]  # gidx -> Temp
    ops: list[Op] = field(default_factory=list)
    ntemps: int = 0
    insn_pcs: list[int] = field(default_factory=list)
    size: int = 0  # bytes of guest code covered
    helpers: dict[str, Helper] = field(default_factory=dict)
    # System mode: memory goes through the soft TLB of this MMU index (None: user mode's flat map).
    mmu_idx: int | None = None
    # System mode: every access takes the slow path (the replay of a page-crossing access).
    slow_mem: bool = False

    # --- construction -------------------------------------------------------
    def new_temp(self, width: int = 64) -> Temp:
        t = Temp(f"t{self.ntemps}", -1, width)
        self.ntemps += 1
        return t

    def emit(self, opc: str, dst: Temp | None, *args: Any, aux: Any = None) -> Temp | None:
        self.ops.append(Op(opc, dst, args, aux))
        return dst

    def op(self, opc: str, *args: Any, aux: Any = None, width: int = 64) -> Temp:
        d = self.new_temp(width)
        self.ops.append(Op(opc, d, args, aux))
        return d

    def dump(self) -> str:
        out = []
        depth = 0
        for o in self.ops:
            if o.opc in ("else", "endif"):
                depth -= 1
            prefix = " ---- " if o.opc == "insn_start" else "  " + "  " * depth
            out.append(prefix + str(o))
            if o.opc in ("if", "else"):
                depth += 1
        return "\n".join(out)


class Builder:
    """Convenience methods that append ops to a :class:`Block`."""

    def __init__(self, block: Block) -> None:
        self.block = block
        self.mmu_idx = -1  # translation regime of ld/st that do not name one (LDTR/STTR set EL0's)

    # arithmetic on `w`-bit unsigned values
    def mov(self, dst: Temp, a: Temp | int) -> None:
        self.block.emit("mov", dst, a)

    def _bin(self, opc: str, a, b, w: int) -> Temp:
        return self.block.op(opc, a, b, aux=w, width=w)

    def add(self, a, b, w=64):
        return self._bin("add", a, b, w)

    def sub(self, a, b, w=64):
        return self._bin("sub", a, b, w)

    def mul(self, a, b, w=64):
        return self._bin("mul", a, b, w)

    def and_(self, a, b, w=64):
        return self._bin("and", a, b, w)

    def or_(self, a, b, w=64):
        return self._bin("or", a, b, w)

    def xor(self, a, b, w=64):
        return self._bin("xor", a, b, w)

    def andc(self, a, b, w=64):
        """a & ~b"""
        return self._bin("andc", a, b, w)

    def orc(self, a, b, w=64):
        """a | ~b"""
        return self._bin("orc", a, b, w)

    def eqv(self, a, b, w=64):
        """a ^ ~b"""
        return self._bin("eqv", a, b, w)

    def shl(self, a, b, w=64):
        return self._bin("shl", a, b, w)

    def shr(self, a, b, w=64):
        return self._bin("shr", a, b, w)

    def sar(self, a, b, w=64):
        return self._bin("sar", a, b, w)

    def rotr(self, a, b, w=64):
        return self._bin("rotr", a, b, w)

    def not_(self, a, w=64):
        return self.block.op("not", a, aux=w, width=w)

    def neg(self, a, w=64):
        return self.block.op("neg", a, aux=w, width=w)

    def ext(self, a, bits: int, signed: bool, w: int = 64) -> Temp:
        """Zero/sign-extend the low `bits` of `a` to `w` bits."""
        return self.block.op("ext", a, aux=(bits, signed, w), width=w)

    def setcond(self, cond: str, a, b, w=64) -> Temp:
        return self.block.op("setcond", a, b, aux=(cond, w))

    def movcond(self, cond: str, a, b, v1, v2, w=64) -> Temp:
        """v1 if (a cond b) else v2"""
        return self.block.op("movcond", a, b, v1, v2, aux=(cond, w), width=w)

    def ld(self, addr, size: int, signed: bool = False, align: int = 0, w: int = 0,
           mmu_idx: int = -1) -> Temp:
        """Load `size` bytes; a signed load sign-extends to `w` bits (default 64)."""
        if not w:
            w = 64 if signed else size * 8
        if mmu_idx < 0:
            mmu_idx = self.mmu_idx
        return self.block.op("ld", addr, aux=MemOp(size, signed, align, mmu_idx), width=w)

    def st(self, addr, val, size: int, align: int = 0, mmu_idx: int = -1) -> None:
        if mmu_idx < 0:
            mmu_idx = self.mmu_idx
        self.block.emit("st", None, addr, val, aux=MemOp(size, False, align, mmu_idx))

    def call(self, helper: Helper, *args, width: int = 64) -> Temp:
        self.block.helpers[helper.name] = helper
        return self.block.op("call", *args, aux=helper, width=width)

    def call_void(self, helper: Helper, *args) -> None:
        self.block.helpers[helper.name] = helper
        self.block.emit("call", None, *args, aux=helper)

    # structured control flow
    def if_(self, cond: str, a, b, w=64) -> None:
        self.block.emit("if", None, a, b, aux=(cond, w))

    def else_(self) -> None:
        self.block.emit("else", None)

    def endif(self) -> None:
        self.block.emit("endif", None)

    # block exits
    def goto_tb(self, pc: int) -> None:
        self.block.emit("goto_tb", None, pc)

    def exit_jump(self, pc) -> None:
        self.block.emit("exit_jump", None, pc)

    def exit_call(self, helper: Helper, *args) -> None:
        self.block.helpers[helper.name] = helper
        self.block.emit("exit_call", None, *args, aux=helper)

    def raise_(self, helper: Helper, *args) -> None:
        """Call a helper that raises a guest exception (never returns)."""
        self.block.helpers[helper.name] = helper
        self.block.emit("raise", None, *args, aux=helper)

    def insn_start(self, pc: int) -> None:
        self.block.emit("insn_start", None, pc)
