"""The Python back end: a translation block's IR becomes one Python function.

The function is ``tb(cpu, R)``: ``R`` is the CPU's register list. Globals
used by the block are cached in locals on entry and written back at every
exit, so guest registers cost a LOAD_FAST/STORE_FAST inside the block. The
body runs inside ``try``: a guest exception writes the globals back (they are
exact, since every instruction commits its register writes after its memory
accesses) and the line number of the failing statement tells which guest
instruction raised. The function returns the next block's function:
``goto_tb`` returns a chaining slot (a name in the block's globals that the
TB cache patches), the other exits look the target up.

Guest memory (user mode) is a flat host mapping ``M`` (a memoryview) with
per-page permission tables ``RP``/``WP``; a write to a page holding
translated code (``WP`` value 2) goes to a slow path that invalidates it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pyqemu.tcg.ir import Block, MemOp, Op, Temp

_STRUCT = {(1, False): "U8", (2, False): "U16", (4, False): "U32", (8, False): "U64",
           (1, True): "S8", (2, True): "S16", (4, True): "S32", (8, True): "S64"}


def mask(w: int) -> str:
    return hex((1 << w) - 1)


def cond_expr(cond: str, a: str, b: str, w: int) -> str:
    s = hex(1 << (w - 1))
    if cond == "eq":
        return f"{a} == {b}"
    if cond == "ne":
        return f"{a} != {b}"
    if cond in ("ltu", "leu", "gtu", "geu"):
        o = {"ltu": "<", "leu": "<=", "gtu": ">", "geu": ">="}[cond]
        return f"{a} {o} {b}"
    if cond in ("lt", "le", "gt", "ge"):
        o = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}[cond]
        return f"({a} ^ {s}) {o} ({b} ^ {s})"
    if cond == "tst":
        return f"{a} & {b}"
    if cond == "tstz":
        return f"not {a} & {b}"
    if cond == "true":
        return "True"
    if cond == "false":
        return "False"
    raise ValueError(cond)


@dataclass
class Generated:
    """Python source of one block plus what the TB cache needs to link it."""

    source: str
    name: str
    exits: list[tuple[str, int]] = field(default_factory=list)  # (slot, pc)
    linemap: list[tuple[int, int]] = field(default_factory=list)  # (line, guest pc)
    helpers: dict = field(default_factory=dict)
    written: list[Temp] = field(default_factory=list)


class PyGen:
    def __init__(self, block: Block) -> None:
        self.block = block
        self.lines: list[str] = []
        self.ind = 2
        self.exits: list[tuple[str, int]] = []
        self.linemap: list[tuple[int, int]] = []
        self.insn = -1
        used: dict[int, Temp] = {}
        written: dict[int, Temp] = {}
        for op in block.ops:
            for a in op.args:
                if isinstance(a, Temp) and a.is_global:
                    used[a.gidx] = a
            if op.dst is not None and op.dst.is_global:
                used[op.dst.gidx] = op.dst
                written[op.dst.gidx] = op.dst
        self.used = [used[k] for k in sorted(used)]
        self.written = [written[k] for k in sorted(written)]

    def v(self, x) -> str:
        if isinstance(x, Temp):
            return x.name
        if isinstance(x, bool):
            return "1" if x else "0"
        if isinstance(x, int):
            return hex(x) if x > 9 else str(x)
        raise TypeError(f"bad operand {x!r}")

    def out(self, s: str) -> None:
        self.lines.append("    " * self.ind + s)

    def writeback(self) -> None:
        for g in self.written:
            self.out(f"R[{g.gidx}] = {g.name}")

    def reload(self) -> None:
        for g in self.used:
            self.out(f"{g.name} = R[{g.gidx}]")

    def gen(self, name: str) -> Generated:
        b = self.block
        for op in b.ops:
            self.op(op)
        body = self.lines
        head = [f"def {name}(cpu, R):"]
        if self.used:
            head.append("    " + "; ".join(f"{g.name} = R[{g.gidx}]" for g in self.used))
        head.append("    try:")
        # line numbers are 1-based; body starts after the head
        base = len(head) + 1
        linemap = [(ln + base, i) for ln, i in self.linemap]
        tail = ["    except BaseException as e:"]
        for g in self.written:
            tail.append(f"        R[{g.gidx}] = {g.name}")
        tail.append("        raise cpu.fault_in_block(e, LINEMAP)")
        src = "\n".join(head + body + tail) + "\n"
        return Generated(src, name, self.exits, linemap, dict(b.helpers), self.written)

    # --- one op -------------------------------------------------------------
    def op(self, op: Op) -> None:  # noqa: C901 - a dispatch table in code form
        o = op.opc
        a = [self.v(x) for x in op.args]
        d = op.dst.name if op.dst is not None else None
        if o == "insn_start":
            self.insn += 1
            self.linemap.append((len(self.lines), op.args[0]))
            self.out(f"# {op.args[0]:#x}")
            return
        if o == "mov":
            self.out(f"{d} = {a[0]}")
        elif o in _BIN:
            w = op.aux
            self.out(f"{d} = " + _BIN[o](a[0], a[1], w, mask(w), hex(1 << (w - 1))))
        elif o == "not":
            self.out(f"{d} = {a[0]} ^ {mask(op.aux)}")
        elif o == "neg":
            self.out(f"{d} = -{a[0]} & {mask(op.aux)}")
        elif o == "ext":
            bits, signed, w = op.aux
            if signed:
                sb = hex(1 << (bits - 1))
                self.out(f"{d} = ((({a[0]} & {mask(bits)}) ^ {sb}) - {sb}) & {mask(w)}")
            else:
                self.out(f"{d} = {a[0]} & {mask(bits)}")
        elif o == "setcond":
            cond, w = op.aux
            self.out(f"{d} = 1 if {cond_expr(cond, a[0], a[1], w)} else 0")
        elif o == "movcond":
            cond, w = op.aux
            self.out(f"{d} = {a[2]} if {cond_expr(cond, a[0], a[1], w)} else {a[3]}")
        elif o == "ld":
            self.load(d, a[0], op.aux, op.dst.width)
        elif o == "st":
            self.store(a[0], a[1], op.aux)
        elif o == "call":
            h = op.aux
            if h.sync:
                self.writeback()
            call = f"{h.name}({', '.join(a)})"
            self.out(f"{d} = {call}" if d else call)
            if h.sync:
                self.reload()
        elif o == "raise":
            self.writeback()
            self.out(f"{op.aux.name}({', '.join(a)})")
        elif o == "if":
            cond, w = op.aux
            self.out(f"if {cond_expr(cond, a[0], a[1], w)}:")
            self.ind += 1
            self.out("pass")
        elif o == "else":
            self.ind -= 1
            self.out("else:")
            self.ind += 1
            self.out("pass")
        elif o == "endif":
            self.ind -= 1
        elif o == "goto_tb":
            slot = f"_j{len(self.exits)}"
            self.exits.append((slot, op.args[0]))
            self.writeback()
            self.out(f"return {slot}")
        elif o == "exit_jump":
            self.writeback()
            self.out(f"return JC_get({a[0]}) or LOOKUP(cpu, {a[0]})")
        elif o == "exit_call":
            self.writeback()
            self.out(f"return {op.aux.name}({', '.join(a)})")
        else:
            raise ValueError(f"pygen: unknown op {o}")

    def load(self, d: str, addr: str, m: MemOp, w: int) -> None:
        if m.align > 1:
            self.out(f"if {addr} & {m.align - 1}: UNALIGNED(cpu, {addr}, 0)")
        if m.size == 16:
            self.out(f"{d} = int.from_bytes(M[{addr}:{addr} + 16], 'little') "
                     f"if RP[{addr} >> 12] else SEGV(cpu, {addr}, 0)")
            return
        if m.size == 1 and not m.signed:
            get = f"M[{addr}]"
        else:
            get = f"{_STRUCT[m.size, m.signed]}(M, {addr})[0]"
            if m.signed:
                get += f" & {mask(max(w, 32))}"
        self.out(f"{d} = {get} if RP[{addr} >> 12] else SEGV(cpu, {addr}, 0)")

    def store(self, addr: str, val: str, m: MemOp) -> None:
        if m.align > 1:
            self.out(f"if {addr} & {m.align - 1}: UNALIGNED(cpu, {addr}, 1)")
        if m.size == 16:
            put = f"M[{addr}:{addr} + 16] = {val}.to_bytes(16, 'little')"
        elif m.size == 1:
            put = f"M[{addr}] = {val} & 0xff"
        elif m.size == 8:
            put = f"P64(M, {addr}, {val})"
        else:
            put = f"P{m.size * 8}(M, {addr}, {val} & {mask(m.size * 8)})"
        self.out(f"if WP[{addr} >> 12] == 1: {put}")
        self.out(f"else: ST_SLOW(cpu, {addr}, {val}, {m.size})")


_BIN = {
    "add": lambda a, b, w, m, s: f"({a} + {b}) & {m}",
    "sub": lambda a, b, w, m, s: f"({a} - {b}) & {m}",
    "mul": lambda a, b, w, m, s: f"({a} * {b}) & {m}",
    "and": lambda a, b, w, m, s: f"{a} & {b}",
    "or": lambda a, b, w, m, s: f"{a} | {b}",
    "xor": lambda a, b, w, m, s: f"{a} ^ {b}",
    "andc": lambda a, b, w, m, s: f"{a} & ({b} ^ {m})",
    "orc": lambda a, b, w, m, s: f"{a} | ({b} ^ {m})",
    "eqv": lambda a, b, w, m, s: f"{a} ^ {b} ^ {m}",
    "shl": lambda a, b, w, m, s: f"({a} << {b}) & {m}",
    "shr": lambda a, b, w, m, s: f"{a} >> {b}",
    "sar": lambda a, b, w, m, s: f"((({a} ^ {s}) - {s}) >> {b}) & {m}",
    "rotr": lambda a, b, w, m, s: f"(({a} >> {b}) | ({a} << ({w} - {b}))) & {m}",
}


def generate(block: Block, name: str) -> Generated:
    """Emit the Python source of `block` as a function called `name`."""
    return PyGen(block).gen(name)
