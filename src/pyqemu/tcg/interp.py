"""An interpreter for the IR: the tier below the Python back end, for cold blocks.

Most blocks of a Linux boot run only a few times (in one measured boot, two thirds of the
62,000 blocks ran fewer than 16 times), and generating and compiling a block's Python costs
some 0.2 ms, far more than interpreting its IR a few times. So a system-mode block first runs
here; after a few calls the TB cache compiles it (accel/tcg/tb_sys.py).

The interpreter gives the results the generated code gives, op for op (tcg/pygen.py is the
reference): values are exact unsigned integers of their width, guest registers are read and
written straight in the CPU's register list ``R`` (the IR commits an instruction's register
writes after its memory accesses, so ``R`` is exact whenever an op raises), and memory goes
through the vCPU's soft TLB with the same fast and slow paths. A page-crossing access takes
the slow path at once instead of a replay of the instruction.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyqemu.tcg.ir import Op, Temp

M64 = 0xFFFFFFFFFFFFFFFF


def _cond(c: str, a: int, b: int, w: int) -> bool:
    if c == "eq":
        return a == b
    if c == "ne":
        return a != b
    if c == "ltu":
        return a < b
    if c == "geu":
        return a >= b
    if c == "leu":
        return a <= b
    if c == "gtu":
        return a > b
    if c == "tst":
        return bool(a & b)
    if c == "tstz":
        return not a & b
    if c == "true":
        return True
    if c == "false":
        return False
    s = 1 << (w - 1)
    a ^= s
    b ^= s
    if c == "lt":
        return a < b
    if c == "le":
        return a <= b
    if c == "gt":
        return a > b
    if c == "ge":
        return a >= b
    raise ValueError(c)


def _sar(a: int, b: int, w: int) -> int:
    s = 1 << (w - 1)
    return (((a ^ s) - s) >> b) & ((1 << w) - 1)


def _rotr(a: int, b: int, w: int) -> int:
    return ((a >> b) | (a << (w - b))) & ((1 << w) - 1)


_BIN: dict[str, Callable[[int, int, int], int]] = {
    "add": lambda a, b, w: (a + b) & ((1 << w) - 1),
    "sub": lambda a, b, w: (a - b) & ((1 << w) - 1),
    "mul": lambda a, b, w: (a * b) & ((1 << w) - 1),
    "and": lambda a, b, w: a & b,
    "or": lambda a, b, w: a | b,
    "xor": lambda a, b, w: a ^ b,
    "andc": lambda a, b, w: a & (b ^ ((1 << w) - 1)),
    "orc": lambda a, b, w: a | (b ^ ((1 << w) - 1)),
    "eqv": lambda a, b, w: a ^ b ^ ((1 << w) - 1),
    "shl": lambda a, b, w: (a << b) & ((1 << w) - 1),
    "shr": lambda a, b, w: a >> b,
    "sar": _sar,
    "rotr": _rotr,
}


def _skip(ops: list[Op], i: int, stop_at_else: bool) -> int:
    """The index after the ``else`` (if ``stop_at_else``) or ``endif`` matching the ``if`` or
    ``else`` just before ``i``."""
    depth = 0
    while True:
        o = ops[i].opc
        i += 1
        if o == "if":
            depth += 1
        elif o == "endif":
            if depth == 0:
                return i
            depth -= 1
        elif o == "else" and depth == 0 and stop_at_else:
            return i


class Interpreter:
    """Runs system-mode blocks' IR for the vCPUs of one machine.

    ``ns`` is the namespace generated code sees (cputlb.namespace(): the struct accessors,
    ``LD_SLOW``/``ST_SLOW``, ``UNALIGNED``); ``pin(cpu, e, pc)`` turns an exception raised
    at guest ``pc`` into the one the CPU loop expects (accel/tcg/cpu_exec.py).
    """

    def __init__(self, ns: dict[str, Any], pin: Callable[[Any, BaseException, int | None], BaseException],
                 count_insns: bool = False) -> None:
        self.pin = pin
        self.count_insns = count_insns
        self.ld_slow = ns["LD_SLOW"]
        self.st_slow = ns["ST_SLOW"]
        self.unaligned = ns["UNALIGNED"]
        # (size, signed) -> unpack_from of the host view; size -> pack_into
        self.unpack = {(size, signed): ns[f"{'S' if signed else 'U'}{size * 8}"]
                       for size in (1, 2, 4, 8) for signed in (False, True)}
        self.pack = {size: ns[f"P{size * 8}"] for size in (1, 2, 4, 8)}
        self.load128 = ns["L128"]
        self.store128 = ns["S128"]

    def run(self, cpu: Any, R: list, ops: list[Op], mmu_idx: int, taken: list, g: dict) -> Callable:
        """Run a block's ``ops`` on ``cpu``; returns the function of the block to run next.

        ``taken`` collects (slot, pc) of the direct exits taken, as a compiled block's chained
        slots tell them (for region formation); ``g["_ij"]`` counts computed-jump targets and
        ``g["_taken"]`` is the set of the pcs in ``taken``.
        """
        vals: dict[str, Any] = {"cpu": cpu}  # temps by name; `cpu` passes the CPU to helpers
        pc = None
        n = 0  # instructions started
        counted = False
        i = 0
        bins = _BIN
        try:
            while True:
                op = ops[i]
                i += 1
                o = op.opc
                if o == "insn_start":
                    pc = op.args[0]
                    n += 1
                    continue
                args = op.args
                if len(args) == 1:
                    a = args[0]
                    if a.__class__ is Temp:
                        a = R[a.gidx] if a.gidx >= 0 else vals[a.name]
                    b = None
                elif args:
                    a, b = args[0], args[1]
                    if a.__class__ is Temp:
                        a = R[a.gidx] if a.gidx >= 0 else vals[a.name]
                    if b.__class__ is Temp:
                        b = R[b.gidx] if b.gidx >= 0 else vals[b.name]
                d = op.dst
                if o in bins:
                    v = bins[o](a, b, op.aux)
                elif o == "mov":
                    v = a
                elif o == "ld":
                    v = self._load(cpu, a, op.aux, mmu_idx, d.width)
                elif o == "st":
                    self._store(cpu, a, b, op.aux, mmu_idx)
                    continue
                elif o == "ext":
                    bits, signed, w = op.aux
                    v = a & ((1 << bits) - 1)
                    if signed:
                        sb = 1 << (bits - 1)
                        v = ((v ^ sb) - sb) & ((1 << w) - 1)
                elif o == "setcond":
                    v = 1 if _cond(op.aux[0], a, b, op.aux[1]) else 0
                elif o == "movcond":
                    c, v2 = args[2], args[3]
                    if c.__class__ is Temp:
                        c = R[c.gidx] if c.gidx >= 0 else vals[c.name]
                    if v2.__class__ is Temp:
                        v2 = R[v2.gidx] if v2.gidx >= 0 else vals[v2.name]
                    v = c if _cond(op.aux[0], a, b, op.aux[1]) else v2
                elif o == "if":
                    if not _cond(op.aux[0], a, b, op.aux[1]):
                        i = _skip(ops, i, True)
                    continue
                elif o == "else":
                    i = _skip(ops, i, False)
                    continue
                elif o == "endif":
                    continue
                elif o == "not":
                    v = a ^ ((1 << op.aux) - 1)
                elif o == "neg":
                    v = -a & ((1 << op.aux) - 1)
                elif o == "call":
                    v = op.aux.func(*self._values(args, R, vals))
                    if d is None:
                        continue
                elif o == "goto_tb":
                    if self.count_insns:
                        cpu.icount += n
                    counted = True
                    if a not in g["_taken"]:
                        g["_taken"].add(a)
                        taken.append((f"_j{len(taken)}", a))
                    return cpu.jc_get(a) or cpu.lookup(a)  # (lookup takes interrupts)
                elif o == "exit_jump":
                    if self.count_insns:
                        cpu.icount += n
                    counted = True
                    if args[0].__class__ is Temp:
                        g["_ij"][a] += 1
                    return cpu.jc_get(a) or cpu.lookup(a)  # (lookup takes interrupts)
                elif o == "exit_call":
                    if self.count_insns:
                        cpu.icount += n
                    counted = True
                    return op.aux.func(*self._values(args, R, vals))
                elif o == "raise":
                    if self.count_insns:
                        cpu.icount += n  # the raising instruction counts as executed
                    counted = True
                    op.aux.func(*self._values(args, R, vals))
                    raise RuntimeError(f"helper {op.aux.name} returned")
                else:
                    raise ValueError(f"interp: unknown op {o}")
                if d.gidx >= 0:
                    R[d.gidx] = v
                else:
                    vals[d.name] = v
        except BaseException as e:
            if self.count_insns and not counted and n:
                cpu.icount += n - 1
            raise self.pin(cpu, e, pc) from None

    @staticmethod
    def _values(args: tuple, R: list, vals: dict) -> list:
        return [(R[x.gidx] if x.gidx >= 0 else vals[x.name]) if x.__class__ is Temp else x for x in args]

    def _load(self, cpu: Any, addr: int, m: Any, mmu_idx: int, w: int) -> int:
        size = m.size
        if m.align > 1 and addr & (m.align - 1):
            self.unaligned(cpu, addr, 0)
        idx = mmu_idx if m.mmu_idx < 0 else m.mmu_idx
        vmask = (1 << max(w, 32)) - 1 if m.signed else (1 << (size * 8)) - 1
        off = addr & 4095
        if off + size <= 4096:
            page = cpu.tlb.read[idx].get(addr >> 12)
            if page is not None:
                if size == 16:
                    return self.load128(page, off)
                v = self.unpack[size, m.signed](page, off)[0]
                return v & vmask if m.signed else v
        return self.ld_slow(cpu, addr, size, int(m.signed), vmask, idx)

    def _store(self, cpu: Any, addr: int, val: int, m: Any, mmu_idx: int) -> None:
        size = m.size
        if m.align > 1 and addr & (m.align - 1):
            self.unaligned(cpu, addr, 1)
        idx = mmu_idx if m.mmu_idx < 0 else m.mmu_idx
        off = addr & 4095
        if off + size <= 4096:
            page = cpu.tlb.write[idx].get(addr >> 12)
            if page is not None:
                if size == 16:
                    self.store128(page, off, val)
                elif size == 1:
                    page[off] = val & 0xFF
                else:
                    self.pack[size](page, off, val & ((1 << (size * 8)) - 1))
                return
        self.st_slow(cpu, addr, val, size, idx)
