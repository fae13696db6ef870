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

from pyqemu.tcg.ir import Block, MemOp, Op, Temp, globals_of

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
    # The block's fault metadata (named LINEMAP in its globals): ([(line, guest pc,
    # instructions completed on the path since the last count point)], lines that run after a
    # write-back, ((gidx, local name) of the globals it writes), counting instructions?)
    linemap: tuple = ((), frozenset(), (), False)
    helpers: dict = field(default_factory=dict)
    written: list[Temp] = field(default_factory=list)
    members: list[int] = field(default_factory=list)  # a region's inlined blocks (tcg/region.py)


class PyGen:
    def __init__(self, block: Block, count_insns: bool = False, heat: bool = False) -> None:
        self.block = block
        self.count_insns = count_insns
        self.heat = heat
        self.lines: list[str] = []
        self.ind = 2
        self.exits: list[tuple[str, int]] = []
        self.linemap: list[tuple[int, int, int]] = []
        self.insn = -1
        self.used, self.written = globals_of(block.ops)
        self.self_loop = any(op.opc == "goto_tb" and op.args[0] == block.pc for op in block.ops)
        self.softmmu = block.mmu_idx is not None
        # System mode: each vCPU has its own jump cache (its own page tables).
        self.jc_get = "cpu.jc_get" if self.softmmu else "JC_get"
        self.tlb_names: set[str] = set()  # TR<i>/TW<i>: the running vCPU's TLB, loaded on entry
        self.after_writeback: list[int] = []  # body lines that run after a writeback
        # The body runs in `for _ in LOOP` (a block that jumps to its own start, a region):
        # `continue` is the back edge; when LOOP runs out, the function returns itself.
        self.loop = self.self_loop
        if self.self_loop:
            self.ind = 3
            self.exits.append(("_js", block.pc))
        self._plan_inlining()
        self.addr_only = set() if self.softmmu else _address_only_temps(block)

    def _plan_inlining(self) -> None:
        """Pick temps whose expression can be substituted into their only use.

        A pure op's result used exactly once, by the next real op, is emitted
        as a parenthesised expression there instead of a local assignment
        (pure ops cannot fault, so instruction boundaries don't matter).
        """
        ops = self.block.ops
        uses: dict[str, int] = {}
        for op in ops:
            for a in op.args:
                if isinstance(a, Temp) and not a.is_global:
                    uses[a.name] = uses.get(a.name, 0) + 1
        self.inline: set[str] = set()
        self.pending: dict[str, tuple[str, bool]] = {}  # temp -> (expression, exact)
        real = [i for i, op in enumerate(ops) if op.opc != "insn_start"]
        for k, i in enumerate(real[:-1]):
            op = ops[i]
            d = op.dst
            if d is None or d.is_global or op.opc not in _INLINABLE or uses.get(d.name) != 1:
                continue
            nxt = ops[real[k + 1]]
            if nxt.opc not in _INLINE_INTO:
                continue
            args = nxt.args[1:] if nxt.opc == "st" else nxt.args
            if any(a is d for a in args) and not (nxt.opc == "st" and nxt.args[0] is d):
                self.inline.add(d.name)
        # Opt-in (Block.chain_inline, set by the AArch32 front end): also inline a temp whose
        # only use comes after other inlined ops (nothing is emitted in between, so its operands
        # still hold), and load straight into the global a load's value is moved to next.
        self.ld_into: dict[str, str] = {}
        self.fused: set[int] = set()
        if getattr(self.block, "chain_inline", False):
            self._plan_chains(ops, real, uses)

    def _plan_chains(self, ops: list[Op], real: list[int], uses: dict[str, int]) -> None:
        for k in range(len(real) - 2, -1, -1):
            op = ops[real[k]]
            d = op.dst
            if d is None or d.is_global or uses.get(d.name) != 1:
                continue
            if op.opc == "ld":
                nxt = ops[real[k + 1]]
                if nxt.opc == "mov" and nxt.dst.is_global and nxt.args[0] is d:
                    self.ld_into[d.name] = nxt.dst.name
                    self.fused.add(id(nxt))
                continue
            if op.opc not in _INLINABLE or d.name in self.inline:
                continue
            for j in range(k + 1, min(k + 12, len(real))):
                nxt = ops[real[j]]
                if any(a is d for a in nxt.args):
                    if nxt.opc in _INLINE_INTO and not (nxt.opc == "st" and nxt.args[0] is d):
                        self.inline.add(d.name)
                    break
                if nxt.dst is None or nxt.dst.name not in self.inline:
                    break

    def v(self, x, raw_ok: int = 0) -> str:
        """The Python expression of operand ``x``.

        An inlined temp's expression may be *raw*: an add, sub, mul, shl or neg
        whose result is not yet reduced modulo 2**width (Python ints do not
        wrap). The low ``w`` bits of those ops (and of and/or/xor/not) depend
        only on the low ``w`` bits of their operands, so a consumer of width
        ``raw_ok`` <= the temp's width takes it raw and one mask at the end of
        the expression does for all; any other consumer gets it masked.
        """
        if isinstance(x, Temp):
            e = self.pending.pop(x.name, None)
            if e is None:
                return x.name
            expr, exact = e
            if exact or (raw_ok and raw_ok <= x.width):
                return expr
            return f"({expr} & {mask(x.width)})"
        if isinstance(x, bool):
            return "1" if x else "0"
        if isinstance(x, int):
            return hex(x) if x > 9 else str(x)
        raise TypeError(f"bad operand {x!r}")

    def is_exact(self, x) -> bool:
        """Whether operand ``x`` (not yet consumed by v()) is reduced to its width."""
        return not isinstance(x, Temp) or self.pending.get(x.name, ("", True))[1]

    def out(self, s: str) -> None:
        self.lines.append("    " * self.ind + s)

    def assign(self, d: str, expr: str, exact: bool = True, w: int = 64) -> None:
        """`d = expr`, or remember `expr` for substitution into d's only use.

        A raw ``expr`` (see v()) is masked to ``w`` bits when assigned.
        """
        if d in self.inline:
            self.pending[d] = (f"({expr})", exact)
        elif exact:
            self.out(f"{d} = {expr}")
        else:
            self.out(f"{d} = ({expr}) & {mask(w)}")

    def loop_back(self) -> None:
        """The back edge of a looping block or region (after count())."""
        if self.count_insns and self.softmmu:
            # Counted instructions (-icount): the slice ends at an exact instruction budget,
            # so a loop stops at ``cpu.icount_limit`` even within its LOOP iterations.
            self.out("if cpu.icount < cpu.icount_limit: continue")
            self.writeback()
            self.out("return _js")
        else:
            self.out("continue")

    def count(self) -> None:
        if self.count_insns:
            self.out(f"cpu.icount += {self.insn + 1}")

    def writeback(self) -> None:
        for g in self.written:
            self.out(f"R[{g.gidx}] = {g.name}")
        # The statement that follows hands over to a helper or the next block; if it raises,
        # the registers are already in R and may have changed since (an ERET switching the
        # stack pointer bank, an interrupt taken in a lookup): the handler must not write
        # the stale locals back over them.
        self.after_writeback.append(len(self.lines))

    def reload(self) -> None:
        for g in self.used:
            self.out(f"{g.name} = R[{g.gidx}]")

    def emit_body(self) -> None:
        for op in self.block.ops:
            self.op(op)

    def gen(self, name: str) -> Generated:
        self.emit_body()
        b = self.block
        body = self.lines
        head = [f"def {name}(cpu, R):"]
        if self.heat:  # calls left before the block is hot (HEAT, HOT: the TB cache's)
            head += ["    HEAT[0] -= 1", "    if not HEAT[0]: HOT(cpu)"]
        if self.used:
            head.append("    " + "; ".join(f"{g.name} = R[{g.gidx}]" for g in self.used))
        if self.tlb_names:
            head.append("    " + "; ".join(f"{n} = cpu.{n}" for n in sorted(self.tlb_names)))
        head.append("    try:")
        if self.loop:
            head.append("      for _ in LOOP:")
            # LOOP ran out: the loop is hot (the TB cache may form a region or go native).
            body.append("      " + "; ".join([f"R[{g.gidx}] = {g.name}" for g in self.written]
                                            + ["return LOOP_HOT(_js)"]))
        # line numbers are 1-based; body starts after the head
        base = len(head) + 1
        # The handler leaves the work to fault_in_block (accel/tcg/cpu_exec.py), which reads the
        # frame's locals: short generated code compiles faster, and faults are the rare path.
        meta = ([(ln + base, pc, n) for ln, pc, n in self.linemap],
                frozenset(ln + base for ln in self.after_writeback),
                tuple((g.gidx, g.name) for g in self.written), bool(self.count_insns))
        tail = ["    except BaseException as e:", "        raise cpu.fault_in_block(e, LINEMAP)"]
        src = "\n".join(head + body + tail) + "\n"
        linemap = meta
        return Generated(src, name, self.exits, linemap, dict(b.helpers), self.written)

    # --- one op -------------------------------------------------------------
    def op(self, op: Op) -> None:  # noqa: C901 - a dispatch table in code form
        o = op.opc
        d = op.dst.name if op.dst is not None else None
        if o in _RAW:
            self.raw_op(op, d)
            return
        a = [self.v(x) for x in op.args]
        if o == "insn_start":
            self.insn += 1
            self.linemap.append((len(self.lines), op.args[0], self.insn))
            self.out(f"# {op.args[0]:#x}")
            return
        if o == "mov":
            if self.fused and id(op) in self.fused:
                return  # the load before wrote the global itself (ld_into)
            self.assign(d, a[0])
        elif o in _BIN:
            w = op.aux
            self.assign(d, _BIN[o](a[0], a[1], w, mask(w), hex(1 << (w - 1))))
        elif o == "not":
            self.assign(d, f"{a[0]} ^ {mask(op.aux)}")
        elif o == "neg":
            self.assign(d, f"-{a[0]} & {mask(op.aux)}")
        elif o == "ext":
            bits, signed, w = op.aux
            if signed:
                sb = hex(1 << (bits - 1))
                self.assign(d, f"((({a[0]} & {mask(bits)}) ^ {sb}) - {sb}) & {mask(w)}")
            else:
                self.assign(d, f"{a[0]} & {mask(bits)}")
        elif o == "setcond":
            cond, w = op.aux
            self.assign(d, f"1 if {cond_expr(cond, a[0], a[1], w)} else 0")
        elif o == "movcond":
            cond, w = op.aux
            self.assign(d, f"{a[2]} if {cond_expr(cond, a[0], a[1], w)} else {a[3]}")
        elif o == "ld":
            self.load(self.ld_into.get(d, d), a[0], op.aux, op.dst.width)
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
            self.count()  # the raising instruction (SVC, HVC, BRK, UDF) counts as executed
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
            if self.self_loop and op.args[0] == self.block.pc:
                self.count()
                self.loop_back()
                return
            if self.softmmu and (op.args[0] ^ self.block.pc) >> 12:
                # System mode chains only within a page: another page's mapping may change.
                self.count()
                self.writeback()
                self.out(f"return {self.jc_get}({a[0]}) or LOOKUP(cpu, {a[0]})")
                return
            slot = f"_j{len(self.exits)}"
            self.exits.append((slot, op.args[0]))
            self.count()
            self.writeback()
            self.out(f"return {slot}")
        elif o == "exit_jump":
            self.count()
            target = a[0]
            if isinstance(op.args[0], Temp):
                # Count the targets of computed jumps (a Counter per block): a region
                # formed over this block tests for the hot ones and inlines them.
                self.out(f"_t = {target}; _ij[_t] += 1")
                target = "_t"
            self.writeback()
            self.out(f"return {self.jc_get}({target}) or LOOKUP(cpu, {target})")
        elif o == "exit_call":
            self.count()
            self.writeback()
            self.out(f"return {op.aux.name}({', '.join(a)})")
        else:
            raise ValueError(f"pygen: unknown op {o}")

    def raw_op(self, op: Op, d: str) -> None:
        """An op whose low bits depend only on its operands' low bits (see v())."""
        o, w = op.opc, op.aux
        exact = [self.is_exact(x) for x in op.args]
        if o == "shl":  # the shift amount must be exact
            a, b = self.v(op.args[0], w), self.v(op.args[1])
        else:
            a = self.v(op.args[0], w)
            b = self.v(op.args[1], w) if len(op.args) > 1 else ""
        m = mask(w)
        if o == "add" and d in self.addr_only and exact[0] and isinstance(op.args[1], int) \
                and op.args[1] < 1 << 32:
            # User mode: base + small offset used only as an address needs no mask. Without
            # it the sum can only exceed 2**64 for a base past the guest's 39-bit space,
            # where the page tables raise (a fault) either way.
            self.assign(d, f"{a} + {b}", True, w)
        elif o in ("add", "sub", "mul", "shl"):
            self.assign(d, f"{a} {_RAW[o]} {b}", False, w)
        elif o == "neg":
            self.assign(d, f"-{a}", False, w)
        elif o == "not":
            self.assign(d, f"{a} ^ {m}", exact[0], w)
        elif o == "and":
            self.assign(d, f"{a} & {b}", exact[0] or exact[1], w)
        elif o in ("or", "xor"):
            self.assign(d, f"{a} {_RAW[o]} {b}", exact[0] and exact[1], w)
        elif o == "andc":
            self.assign(d, f"{a} & ({b} ^ {m})", exact[0], w)
        elif o == "orc":
            self.assign(d, f"{a} | ({b} ^ {m})", exact[0] and exact[1], w)
        else:  # eqv
            self.assign(d, f"{a} ^ {b} ^ {m}", exact[0] and exact[1], w)

    def load(self, d: str, addr: str, m: MemOp, w: int) -> None:
        # RP[page] is 1 when an access starting in the page needs no other check;
        # otherwise LD_SLOW checks both pages (unmapped, page-crossing) and loads.
        if m.align > 1:
            self.out(f"if {addr} & {m.align - 1}: UNALIGNED(cpu, {addr}, 0)")
        vmask = mask(max(w, 32)) if m.signed else mask(m.size * 8)
        if self.softmmu:
            self.load_softmmu(d, addr, m, vmask)
            return
        slow = f"LD_SLOW(cpu, {addr}, {m.size}, {int(m.signed)}, {vmask})"
        if m.size == 16:
            get = f"int.from_bytes(M[{addr}:{addr} + 16], 'little')"
        elif m.size == 1 and not m.signed:
            get = f"M[{addr}]"
        else:
            get = f"{_STRUCT[m.size, m.signed]}(M, {addr})[0]"
            if m.signed:
                get += f" & {vmask}"
        self.out(f"{d} = {get} if RP[{addr} >> 12] else {slow}")

    def store(self, addr: str, val: str, m: MemOp) -> None:
        if m.align > 1:
            self.out(f"if {addr} & {m.align - 1}: UNALIGNED(cpu, {addr}, 1)")
        if self.softmmu:
            self.store_softmmu(addr, val, m)
            return
        if m.size == 16:
            put = f"M[{addr}:{addr} + 16] = ({val}).to_bytes(16, 'little')"
        elif m.size == 1:
            put = f"M[{addr}] = {val} & 0xff"
        elif m.size == 8:
            put = f"P64(M, {addr}, {val})"
        else:
            put = f"P{m.size * 8}(M, {addr}, {val} & {mask(m.size * 8)})"
        self.out(f"if WP[{addr} >> 12]: {put}")
        self.out(f"else: ST_SLOW(cpu, {addr}, {val}, {m.size})")

    # System mode: P is the 4 KiB host view of the page (see accel/tcg/cputlb.py); an
    # access crossing the page end makes struct raise, and the CPU replays it slowly.
    def load_softmmu(self, d: str, addr: str, m: MemOp, vmask: str) -> None:
        idx = self.block.mmu_idx if m.mmu_idx < 0 else m.mmu_idx
        slow = f"LD_SLOW(cpu, {addr}, {m.size}, {int(m.signed)}, {vmask}, {idx})"
        if self.block.slow_mem:
            self.out(f"{d} = {slow}")
            return
        off = f"{addr} & 4095"
        if m.size == 16:
            get = f"L128(P, {off})"
        elif m.size == 1 and not m.signed:
            get = f"P[{off}]"
        else:
            get = f"{_STRUCT[m.size, m.signed]}(P, {off})[0]"
            if m.signed:
                get += f" & {vmask}"
        self.tlb_names.add(f"TR{idx}")
        self.out(f"{d} = {get} if (P := TR{idx}({addr} >> 12)) is not None else {slow}")

    def store_softmmu(self, addr: str, val: str, m: MemOp) -> None:
        idx = self.block.mmu_idx if m.mmu_idx < 0 else m.mmu_idx
        slow = f"ST_SLOW(cpu, {addr}, {val}, {m.size}, {idx})"
        if self.block.slow_mem:
            self.out(slow)
            return
        off = f"{addr} & 4095"
        if m.size == 16:
            put = f"S128(P, {off}, {val})"
        elif m.size == 1:
            put = f"P[{off}] = {val} & 0xff"
        elif m.size == 8:
            put = f"P64(P, {off}, {val})"
        else:
            put = f"P{m.size * 8}(P, {off}, {val} & {mask(m.size * 8)})"
        self.tlb_names.add(f"TW{idx}")
        self.out(f"if (P := TW{idx}({addr} >> 12)) is not None: {put}")
        self.out(f"else: {slow}")


def _address_only_temps(block: Block) -> set[str]:
    """Temps whose every use is as the address of a load or store."""
    addr: set[str] = set()
    other: set[str] = set()
    for op in block.ops:
        for i, x in enumerate(op.args):
            if isinstance(x, Temp) and not x.is_global:
                (addr if op.opc in ("ld", "st") and i == 0 else other).add(x.name)
    return addr - other


# Ops emitted by raw_op(): operator (or "" when raw_op spells it out).
_RAW = {"add": "+", "sub": "-", "mul": "*", "shl": "<<", "and": "&", "or": "|", "xor": "^",
        "andc": "", "orc": "", "eqv": "", "not": "", "neg": ""}

_INLINABLE = {"mov", "not", "neg", "ext", "setcond", "movcond", "add", "sub", "mul", "and", "or", "xor",
              "andc", "orc", "eqv", "shl", "shr", "sar", "rotr"}
_INLINE_INTO = _INLINABLE | {"if", "st"}

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


def generate(block: Block, name: str, count_insns: bool = False, heat: bool = False) -> Generated:
    """Emit the Python source of `block` as a function called `name`.

    With `count_insns`, every exit adds the number of guest instructions
    executed on its path to ``cpu.icount`` (for benchmarks). With `heat`, the
    function starts by counting its calls down in ``HEAT[0]`` and calls
    ``HOT(cpu)`` when the count reaches 0 (the native tier's promotion).
    """
    return PyGen(block, count_insns, heat).gen(name)
