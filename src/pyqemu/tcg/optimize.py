"""Block-local optimisation of the IR.

* constant folding, copy propagation and common subexpressions of
  temporaries (forward pass);
* dead-code elimination of unused temporaries;
* dead-store elimination of globals: a global written again before anything
  reads it, with no exit or possibly-faulting op in between, is dropped. This
  is what removes dead condition-flag computations (the lazy-flag globals
  written by one flag-setting instruction and overwritten by the next).
"""
from __future__ import annotations

from pyqemu.tcg.ir import EXITS, MAY_FAULT, Block, Op, Temp
from pyqemu.tcg.pygen import _BIN

_PURE = set(_BIN) | {"mov", "not", "neg", "ext", "setcond", "movcond"}
_BARRIERS = {"if", "else", "endif"} | EXITS | MAY_FAULT


def _mask(w: int) -> int:
    return (1 << w) - 1


def _fold(op: Op):
    """Return the constant value of `op` if its operands are constants."""
    o = op.opc
    args = op.args
    if not all(isinstance(x, int) for x in args):
        return None
    if o == "mov":
        return args[0]
    if o in _BIN:
        w = op.aux
        if o in ("shl", "shr", "sar", "rotr") and not 0 <= args[1] < w + 1:
            return None
        expr = _BIN[o](str(args[0]), str(args[1]), w, hex(_mask(w)), hex(1 << (w - 1)))
        return eval(expr)  # noqa: S307 - expression built from ints by us
    if o == "not":
        return args[0] ^ _mask(op.aux)
    if o == "neg":
        return -args[0] & _mask(op.aux)
    if o == "ext":
        bits, signed, w = op.aux
        v = args[0] & _mask(bits)
        if signed and v >> (bits - 1):
            v -= 1 << bits
        return v & _mask(w)
    return None


def _simplify(op: Op, bits_of=None):
    """Algebraic identities: return a replacement operand or None.

    ``bits_of(temp)`` bounds a value's width when known (so ``x & 0xffffffff`` of
    a value already below 2**32, a W register read after a 32-bit write, is ``x``).
    """
    o = op.opc
    if o not in _BIN:
        return None
    a, b = op.args
    w = op.aux
    if isinstance(b, int):
        if b == 0 and o in ("add", "sub", "or", "xor", "shl", "shr", "sar", "rotr", "andc"):
            return a
        if o == "and" and b == _mask(w) and isinstance(a, Temp) and a.width <= w:
            return a
        if o == "and" and isinstance(a, Temp) and bits_of is not None and b & (b + 1) == 0:
            known = bits_of(a)
            if known is not None and (1 << known) - 1 <= b:
                return a
    if isinstance(a, int) and a == 0 and o in ("add", "or", "xor"):
        return b
    return None


def optimize(block: Block) -> None:
    """Optimise `block.ops` in place."""
    _propagate(block)
    _dead_code(block)


# Ops whose result is below 2**(dst.width): their temps' widths bound their values.
_SIZED = (set(_BIN) - {"sar"}) | {"not", "neg", "ext", "setcond", "movcond", "ld"}


def _propagate(block: Block) -> None:
    assigned: dict[str, int] = {}
    sized: set[str] = set()  # temps whose width bounds their value
    for op in block.ops:
        if op.dst is not None and not op.dst.is_global:
            assigned[op.dst.name] = assigned.get(op.dst.name, 0) + 1
            if op.opc in _SIZED:
                sized.add(op.dst.name)
    repl: dict[str, object] = {}
    # A temp may stand for a global (x + 0 -> x) only until that global is written:
    # gidx -> the temps replaced by it, forgotten at the write.
    aliases: dict[int, list[str]] = {}
    # Globals whose value is known to fit in fewer bits (written unconditionally in this
    # block by a 32-bit op or a narrow load): gidx -> bits.
    narrow: dict[int, int] = {}

    def bits_of(t: Temp) -> int | None:
        if t.is_global:
            return narrow.get(t.gidx)
        return t.width if t.name in sized and assigned.get(t.name) == 1 else None

    # Common subexpressions: (opc, args, aux) -> the temp that holds it, while its operands
    # hold (a global operand is dropped when written) and within one straight-line stretch.
    avail: dict[tuple, Temp] = {}
    avail_by_global: dict[int, list[tuple]] = {}
    depth = 0
    for op in block.ops:
        if repl and op.args:
            op.args = tuple(repl.get(x.name, x) if isinstance(x, Temp) else x for x in op.args)
        if op.opc == "if":
            depth += 1
        elif op.opc == "endif":
            depth -= 1
        d = op.dst
        if avail:
            if op.opc in ("if", "else", "endif") or (op.opc == "call" and op.aux.sync):
                avail.clear()
                avail_by_global.clear()
            elif d is not None and d.is_global:
                for key in avail_by_global.pop(d.gidx, ()):
                    avail.pop(key, None)
        if d is not None and d.is_global:
            src = op.args[0] if op.opc == "mov" else None
            bits = (src.bit_length() if isinstance(src, int)
                    else bits_of(src) if isinstance(src, Temp) else None)
            if depth == 0 and bits is not None and bits < 64:
                narrow[d.gidx] = bits
            else:
                narrow.pop(d.gidx, None)
        elif op.opc == "call" and op.aux.sync:
            narrow.clear()
        if aliases:
            if d is not None and d.is_global:
                for name in aliases.pop(d.gidx, ()):
                    del repl[name]
            elif op.opc == "call" and op.aux.sync:  # may write any global
                for names in aliases.values():
                    for name in names:
                        del repl[name]
                aliases.clear()
        if d is None or d.is_global or assigned.get(d.name, 0) != 1:
            continue
        if op.opc not in _PURE:
            continue
        val = _fold(op)
        if val is None:
            val = _simplify(op, bits_of)
            if val is None and op.opc == "mov" and isinstance(op.args[0], Temp):
                val = op.args[0]  # a global stands in until it is written (aliases)
        if val is None and op.opc != "mov" and not any(
                isinstance(x, Temp) and not x.is_global and assigned.get(x.name) != 1 for x in op.args):
            key = (op.opc, op.args, op.aux)
            val = avail.get(key)
            if val is None:
                avail[key] = d
                for x in op.args:
                    if isinstance(x, Temp) and x.is_global:
                        avail_by_global.setdefault(x.gidx, []).append(key)
        if val is not None:
            repl[d.name] = val
            if isinstance(val, Temp) and val.is_global:
                aliases.setdefault(val.gidx, []).append(d.name)
            op.opc = "mov"
            op.args = (val,)
            op.aux = None


def _dead_code(block: Block) -> None:
    used: set[str] = set()
    dead: set[int] = set()  # globals overwritten later with no read in between
    keep: list[Op] = []
    for op in reversed(block.ops):
        d = op.dst
        removable = op.opc in _PURE or (op.opc == "call" and op.aux.pure)
        if d is not None and removable:
            if d.is_global:
                if d.gidx in dead:
                    continue
            elif d.name not in used:
                continue
        if op.opc in _BARRIERS or (op.opc == "call" and (op.aux.sync or op.aux.may_fault)):
            dead.clear()
        if d is not None and d.is_global:
            dead.add(d.gidx)
        for x in op.args:
            if isinstance(x, Temp):
                if x.is_global:
                    dead.discard(x.gidx)
                else:
                    used.add(x.name)
        keep.append(op)
    keep.reverse()
    block.ops[:] = keep
