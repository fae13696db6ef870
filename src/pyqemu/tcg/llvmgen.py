"""The native back end: a region of translation blocks becomes one LLVM IR function.

The same IR that :mod:`pyqemu.tcg.pygen` turns into Python is emitted here as
LLVM IR text (compiled by :mod:`pyqemu.accel.tcg.native` with llvmlite). Unlike a
Python region, which is a tree, a native region is a real control-flow graph:
every member block is emitted once and a direct jump to a member is a branch,
so nested loops stay inside native code.

The function is ``i32 @name(ptr %S)``. ``S`` is the CPU-state block: guest
global ``g`` lives in the 16 bytes at ``S + 16*g`` (64-bit values use the low
8), then the exit pc and the instruction count (see :class:`StateLayout`).
Globals are copied to ``alloca`` slots on entry (LLVM turns them into SSA
registers) and the written ones are stored back at the single exit block.

Returns: ``EXIT_JUMP`` (run the block at the exit pc next, any tier) or
``EXIT_FALLBACK`` (the instruction at the exit pc needs the Python tier: a
slow-path memory access, a helper without a native version, a system call;
guest state is exactly as before that instruction, because every instruction
commits its register writes after its memory accesses, as pygen relies on).

Native regions chain to each other without returning to Python: at an
``EXIT_JUMP`` the exit block looks the target pc up in the *chain table*
(direct-mapped, ``CHAIN_SLOTS`` entries of (pc, function address), kept by
accel/tcg/native.py) and tail-calls the region found there with the same
state block. So the state block, not the Python register list, holds the
guest registers while native code runs: the caller copies in every global
that any native region reads. Loops are bounded: every branch between
member blocks and every chained call spends one unit of the budget kept in
the state block; an empty budget exits with ``EXIT_JUMP``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyqemu.tcg.ir import Block, MemOp, Op, Temp, globals_of

EXIT_JUMP, EXIT_FALLBACK = 0, 1
CHAIN_SLOTS = 1 << 14  # entries of the chain table (pc >> 2 indexes it)
# System mode's chain tables (per vCPU): more entries, indexed by the pc folded once (a kernel's
# hot code spans megabytes: with 16 K entries by pc >> 2, pcs 64 KiB apart took each other's
# slot, and 100,000 exits of a Linux boot to native code were not chained for that).
SYS_CHAIN_BITS = 18  # (16: 12,500 exits per warm boot found another pc's entry in the slot)
SYS_CHAIN_SLOTS = 1 << SYS_CHAIN_BITS


def sys_chain_slot(pc: int) -> int:
    """The entry of a system-mode chain table for ``pc``."""
    return ((pc >> 2) ^ (pc >> (2 + SYS_CHAIN_BITS))) & (SYS_CHAIN_SLOTS - 1)
M64 = (1 << 64) - 1


# The state block after the globals: 8-byte fields, in this order (StateLayout.off).
STATE_FIELDS = ("pc", "icount", "budget", "lazyok", "base", "rpf", "wpf", "chain", "tlb", "key", "miss",
                "misskind", "fill", "pycall", "mmio", "chainfill")
# Globals the system-mode wrapper copies into the state block only for regions that use them
# (targets register theirs: the vector registers, which few regions touch). ``lazyok`` in the
# state block says whether they were copied; a region that uses one checks it on entry and,
# if not, leaves at once with ``misskind`` = MISS_LAZY (its own wrapper then copies them).
LAZY_GLOBALS: set[int] = set()
MISS_LAZY = 1 << 32
# What the fill function returns (SoftMMU): the entry now holds the page, or the access was
# done by the fill function itself (MMIO); 0: leave for the Python tier.
MISS_FILLED, MISS_DONE = 1, 2
MISS_SIZE_SHIFT = 16  # ``misskind`` bits 16 and up: the size of an access fill may do itself


@dataclass(frozen=True)
class StateLayout:
    """Where things live in the CPU-state block shared with the Python tier."""

    nregs: int

    def off(self, name: str) -> int:
        """Offset of the 8-byte field ``name`` (STATE_FIELDS)."""
        return 16 * self.nregs + 8 * STATE_FIELDS.index(name)

    @property
    def pc_off(self) -> int:
        return self.off("pc")

    @property
    def icount_off(self) -> int:
        return self.off("icount")

    @property
    def budget_off(self) -> int:
        return self.off("budget")

    def host_off(self, name: str) -> int:
        """Offset of the host address ``name`` (base, rpf, wpf, chain, tlb)."""
        return self.off(name)

    @property
    def size(self) -> int:
        """(Rounded up to 16 bytes: what follows, CpuValue slots, is read 16-byte aligned.)"""
        return -(-(16 * self.nregs + 8 * len(STATE_FIELDS)) // 16) * 16


@dataclass(frozen=True)
class GuestRAM:
    """User mode's flat guest address space: host addresses of the guest's byte 0 and of
    the per-page fast-path tables (1 byte per page: an access of up to 16 bytes starting
    in the page needs no other check), and the number of address bits. The addresses are
    not in the generated code (which can so be cached across runs): they are stored in
    the state block (StateLayout.host_off), and native code loads them from there."""

    base: int
    rpf: int
    wpf: int
    va_bits: int
    chain: int = 0  # host address of the chain table (0: no chaining)


# A native soft-TLB entry (accel/tcg/native_tlb.py): read tag, write tag, addend, padding;
# a set holds TLB_WAYS of them (one 64-byte cache line).
TLB_ENTRY = 32
TLB_WAYS = 2


@dataclass(frozen=True)
class SoftMMU:
    """System mode's guest memory: every access goes through the vCPU's *native TLB*, a
    direct-mapped table per MMU index of ``1 << tlb_bits`` entries, indexed by the page number
    folded once (``page ^ page >> tlb_bits``) (read tag = virtual page
    number or all ones, write tag, addend: host address = addend + guest address; see
    accel/tcg/native_tlb.py) whose address is in the state block (``tlb``). A miss stores
    the address and ``1 + 2 * mmu_idx + is_store`` in the state block (``miss``,
    ``misskind``) and calls the function whose address is the state block's ``fill``
    (``i64 fill(ptr S)``); when that returns nonzero (it filled the entry: RAM, no fault),
    the access goes on. A plain load or store (1, 2, 4 or 8 bytes) also puts its size in
    ``misskind``'s bits 16 and up, and a store its value in ``mmio``: then ``fill`` may do
    the access itself (MMIO) and return MISS_DONE; a load's value is then in ``mmio``, which
    the instruction reads (a store writes it there, harmlessly) and goes on.
    Otherwise native code leaves before the instruction; the Python
    tier runs it (filling the TLB, or doing MMIO, or raising the guest's fault) and the
    wrapper copies the Python TLB's entry, if any, into the native one. Chain-table entries carry a key
    (the vCPU's translation flags and mapping generation, ``key`` in the state block)."""

    tlb_bits: int
    chain: int = 1  # nonzero: chain natively (the tables are per vCPU, in the state block)


@dataclass
class NativeHelper:
    """A helper's native version: ``ir`` defines ``@<llvm_name>`` (``nat_<name>`` by default),
    taking ``nargs`` i64 and returning i64. It must compute exactly what the Python helper
    ``name`` computes for every argument the Python tier can pass."""

    name: str
    nargs: int
    ir: str
    llvm_name: str = ""
    # Whether a call with these IR operands can use the native version (e.g. constant widths).
    accepts: Callable[[tuple], bool] | None = None

    def __post_init__(self) -> None:
        self.llvm_name = self.llvm_name or f"nat_{self.name}"
        NATIVE_HELPERS[self.name] = self


# Helpers with a native version, by the Python helper's name (targets register theirs).
NATIVE_HELPERS: dict[str, NativeHelper] = {}

CPU_VALUE_SLOTS = 1024  # state-block slots for CpuValues, after StateLayout.size


@dataclass
class CpuValue:
    """A helper ``name(cpu, *consts)`` that only reads a vCPU value native code never changes
    (a system register that only helpers write). The wrapper stores ``get(cpu, *consts)``
    in state-block slot ``slot(consts)`` (16 bytes: the value, then 1 if present) before
    each native call; native code loads it. ``get`` returning None (``may_fail``) makes
    the instruction run on the Python tier (which raises the guest's exception)."""

    name: str
    slot: Callable[[tuple], int | None]  # None: these constant arguments are not supported
    get: Callable[..., int | None]
    may_fail: bool = False

    def __post_init__(self) -> None:
        CPU_VALUES[self.name] = self


CPU_VALUES: dict[str, CpuValue] = {}

# Helpers that are memory operations the back end emits itself (targets register theirs):
# a store-exclusive ``h(..)`` -> argument positions of (address, monitor address, value the
# load-exclusive saw, value to store, size); returns 0 (stored) or 1, as pygen's helper.
STORE_EXCLUSIVE: dict[str, tuple[int, int, int, int, int]] = {}
# zeroing a naturally aligned block (DC ZVA) -> (argument position of the address, block size)
ZERO_BLOCK: dict[str, tuple[int, int]] = {}
# Helpers that do nothing when their argument at this position is 0 and otherwise end the
# slice (an interrupt that a write of PSTATE.DAIF unmasked): natively a guard, so the
# instruction runs on the Python tier when it is not 0.
LEAVE_IF_NONZERO: dict[str, int] = {}
# Helpers that system-mode native code calls back into Python for (the state block's
# ``pycall``: ``i64 pycall(ptr S, i64 number, i64 a0, .. a3)`` runs ``helper(cpu, a0, ..)``),
# by name -> a number that never changes (it is in the IR text, so in cached object code).
# Only helpers that read no guest register, change none, and may run twice (void, or in
# PY_CALL_RESULTS): a nonzero answer (the helper raised) makes the instruction run again on
# the Python tier.
PY_CALLS: dict[str, int] = {}
PY_CALL_ARGS = 4
# PY_CALLS helpers with a result (read from the state block's ``mmio`` after the call): by
# name -> which calls may (their IR arguments): reads with no side effects whose value native
# code does not hold (a timer's counter: Linux's sched_clock and delay loops read it).
PY_CALL_RESULTS: dict[str, Callable[[list], bool]] = {}


def _cpu_value_slot(op: Op) -> int | None:
    """The state-block slot of a call of a CpuValue with constant arguments (else None)."""
    cv = CPU_VALUES.get(op.aux.name)
    if cv is None or not op.args or not isinstance(op.args[0], Temp) or op.args[0].name != "cpu":
        return None
    consts = op.args[1:]
    if not all(isinstance(a, int) for a in consts):
        return None
    slot = cv.slot(tuple(consts))
    return slot if slot is not None and 0 <= slot < CPU_VALUE_SLOTS else None


@dataclass
class NativeCode:
    """LLVM IR of one region and what the Python wrapper needs to call it."""

    ir: str
    name: str
    used: list[Temp]
    written: list[Temp]
    members: list[int]
    fallbacks: int = 0  # instructions that leave for the Python tier (unsupported ops)
    helpers: list[str] = field(default_factory=list)
    # state-block slot -> (CpuValue, constant arguments): what the wrapper must store there
    cpu_values: dict[int, tuple[CpuValue, tuple]] = field(default_factory=dict)
    # The IR reads its page base from the entry pc in the state block (accel/tcg/native_pic.py):
    # the caller must store the head's pc there.
    pic: bool = False
    # The digest of the object code (accel/tcg/native.py) when ``ir`` is None: a region
    # remembered by the code cache (accel/tcg/native_regions.py).
    object_key: str | None = None
    # ... and that object as accel/tcg/native_loader.prepare made it, when the cache kept it
    prepared: tuple | None = None


def uses_lazy_globals(used, written) -> bool:
    """Whether a region with these globals needs the LAZY_GLOBALS in the state block."""
    return any(g.gidx in LAZY_GLOBALS for g in used) or any(g.gidx in LAZY_GLOBALS for g in written)


def supported(op: Op) -> bool:
    """Whether the native back end can emit ``op`` (else its instruction falls back)."""
    o = op.opc
    if _too_wide(op):
        return False  # values wider than 128 bits (NEON VEXT of two Q registers) stay in Python
    if o == "call":
        name = op.aux.name
        if name in CPU_VALUES:
            return _cpu_value_slot(op) is not None
        if name in STORE_EXCLUSIVE:
            size = op.args[STORE_EXCLUSIVE[name][4]]
            return isinstance(size, int) and size in (1, 2, 4, 8, 16)
        if name in ZERO_BLOCK or name in LEAVE_IF_NONZERO:
            return op.dst is None
        if name in PY_CALLS:
            if op.dst is not None and (op.dst.width > 64 or name not in PY_CALL_RESULTS
                                       or not PY_CALL_RESULTS[name](op.args)):
                return False
            return 1 <= len(op.args) <= PY_CALL_ARGS + 1 and _is_cpu(op.args[0]) and all(
                isinstance(a, int) and 0 <= a <= M64 or isinstance(a, Temp) and a.width <= 64
                and not _is_cpu(a) for a in op.args[1:])
        h = NATIVE_HELPERS.get(op.aux.name)
        if h is None or len(op.args) != h.nargs or (op.dst is not None and op.dst.width > 64):
            return False
        for a in op.args:
            if isinstance(a, Temp) and (a.width > 64 or not a.is_global and a.name == "cpu"):
                return False
            if isinstance(a, int) and not 0 <= a <= M64:
                return False
        return h.accepts is None or h.accepts(op.args)
    if o in ("exit_call", "raise"):
        return False
    if o in ("ld", "st"):
        return op.aux.size in (1, 2, 4, 8, 16)
    return True


def _is_cpu(a) -> bool:
    return isinstance(a, Temp) and not a.is_global and a.name == "cpu"


def _too_wide(op: Op) -> bool:
    if op.dst is not None and op.dst.width > 128:
        return True
    if any(isinstance(a, Temp) and a.width > 128 for a in op.args):
        return True
    aux = op.aux
    if isinstance(aux, tuple):
        return any(isinstance(x, int) and not isinstance(x, bool) and x > 128 for x in aux)
    return isinstance(aux, int) and not isinstance(aux, bool) and aux > 128


def _truncate(block: Block) -> tuple[list[Op], int | None]:
    """The ops of ``block`` up to its first instruction the back end cannot emit, and that
    instruction's pc (None: the whole block is supported). The cut is at an instruction
    start outside any ``if`` (an earlier one when the instruction is inside one). Inside a
    Thumb IT block (``block.it_pcs``) the cut is at the IT instruction, and so is a memory
    access there (its slow path could not resume mid-block either): the Python tier only
    starts blocks outside IT blocks."""
    ops = block.ops
    it_pcs: dict[int, int] = getattr(block, "it_pcs", None) or {}
    depth = 0
    starts: dict[int, int] = {}  # pc -> op index of top-level insn_starts
    last_top: tuple[int, int] | None = None  # (op index, pc) of the last top-level insn_start
    pc = block.pc
    for i, op in enumerate(ops):
        if op.opc == "insn_start":
            pc = op.args[0]
            if depth == 0:
                last_top = (i, pc)
                starts[pc] = i
            continue
        if op.opc == "if":
            depth += 1
        elif op.opc == "endif":
            depth -= 1
        in_it = pc in it_pcs
        if not supported(op) or in_it and op.opc in ("ld", "st"):
            target = it_pcs.get(pc) if in_it else None
            if target is not None:
                if target not in starts:
                    return [], block.pc
                return ops[:starts[target]], target
            if last_top is None:
                return [], block.pc
            return ops[:last_top[0]], last_top[1]
    return ops, None


_ICMP = {"eq": "eq", "ne": "ne", "ltu": "ult", "leu": "ule", "gtu": "ugt", "geu": "uge",
         "lt": "ult", "le": "ule", "gt": "ugt", "ge": "uge"}


def _ty(w: int) -> str:
    return "i128" if w > 64 else "i64"


class LLVMGen:
    """Emit the region headed at ``head`` over ``blocks`` (pc -> optimised IR).

    ``inline_ok(src, dst)``: the direct jump from member ``src`` to ``dst`` may stay native
    (it has been taken); ``indirect[pc]``: hot targets of member ``pc``'s computed jump.
    """

    def __init__(self, head: int, blocks: dict[int, Block], inline_ok: Callable[[int, int], bool],
                 layout: StateLayout, ram: GuestRAM | SoftMMU, count_insns: bool = False,
                 indirect: dict[int, list[int]] | None = None) -> None:
        self.head = head
        self.blocks = blocks
        self.inline_ok = inline_ok
        self.layout = layout
        self.ram = ram
        self.softmmu = isinstance(ram, SoftMMU)
        self.block_mmu_idx = 0  # system mode: the MMU index of the member being emitted
        self.count_insns = count_insns
        self.indirect = indirect or {}
        self.lines: list[str] = []
        self.nval = 0
        self.nlabel = 0
        self.open = False
        self.fallbacks = 0
        self.helpers: set[str] = set()
        self.cut: dict[int, tuple[list[Op], int | None]] = {pc: _truncate(b) for pc, b in blocks.items()}
        self.used, self.written = globals_of(op for ops, _ in self.cut.values() for op in ops)
        self.temps: dict[int, str] = {}  # id(Temp) -> SSA name or alloca pointer
        self.slot_temps: set[int] = set()  # temps kept in an alloca (defined twice or in an if)
        self.cur_pc = self.cur_block = head
        self.ifs: list[list] = []  # open ifs: [else label, end label, else seen]
        self.cpu_values: dict[int, tuple[CpuValue, tuple]] = {}

    # --- low level ----------------------------------------------------------------
    def val(self) -> str:
        self.nval += 1
        return f"%v{self.nval}"

    def new_label(self, hint: str) -> str:
        self.nlabel += 1
        return f"{hint}{self.nlabel}"

    def emit(self, s: str) -> None:
        if not self.open:
            self.lines.append(f"{self.new_label('dead')}:")
            self.open = True
        self.lines.append("  " + s)

    def term(self, s: str) -> None:
        self.emit(s)
        self.open = False

    def label(self, name: str) -> None:
        if self.open:
            self.lines.append(f"  br label %{name}")
        self.lines.append(f"{name}:")
        self.open = True

    def compute(self, expr: str) -> str:
        v = self.val()
        self.emit(f"{v} = {expr}")
        return v

    def conv(self, v: str, src: str, dst: str) -> str:
        if src == dst:
            return v
        if src == "i64" and dst == "i128":
            return self.compute(f"zext i64 {v} to i128")
        return self.compute(f"trunc {src} {v} to {dst}")

    # --- operands -------------------------------------------------------------------
    def arg(self, x, ty: str) -> str:
        """Operand ``x`` as a value of LLVM type ``ty``."""
        if isinstance(x, bool):
            return "1" if x else "0"
        if isinstance(x, int):
            return str(x & (M64 if ty == "i64" else (1 << 128) - 1))
        if not isinstance(x, Temp):
            raise TypeError(f"llvmgen: bad operand {x!r}")
        src = _ty(x.width)
        if x.is_global:
            v = self.compute(f"load {src}, ptr %g{x.gidx}")
        else:
            name = self.temps.get(id(x))
            if name is None:
                raise ValueError(f"llvmgen: temp {x.name} used before it is defined")
            if id(x) in self.slot_temps:
                v = self.compute(f"load {src}, ptr {name}")
            else:
                v = name
        return self.conv(v, src, ty)

    def define(self, d: Temp, v: str, ty: str) -> None:
        """Give ``d`` the value ``v`` (of type ``ty``)."""
        dty = _ty(d.width)
        v = self.conv(v, ty, dty)
        if d.is_global:
            self.emit(f"store {dty} {v}, ptr %g{d.gidx}")
        elif id(d) in self.slot_temps:
            self.emit(f"store {dty} {v}, ptr {self.temps[id(d)]}")
        else:
            self.temps[id(d)] = v

    # --- function -------------------------------------------------------------------
    def gen(self, name: str) -> NativeCode:
        lay = self.layout
        head = [f"define i32 @{name}(ptr noalias %S) {{", "entry:"]
        allocas = []
        for g in self.used:
            t = _ty(g.width)
            allocas.append(f"  %g{g.gidx} = alloca {t}, align 16")
            allocas.append(f"  %gp{g.gidx} = getelementptr i8, ptr %S, i64 {16 * g.gidx}")
            allocas.append(f"  %gi{g.gidx} = load {t}, ptr %gp{g.gidx}, align 8")
            allocas.append(f"  store {t} %gi{g.gidx}, ptr %g{g.gidx}")
        for host in ("tlb", "chain") if self.softmmu else ("base", "rpf", "wpf", "chain"):
            allocas += [f"  %{host}p = getelementptr i8, ptr %S, i64 {lay.host_off(host)}",
                        f"  %{host} = load ptr, ptr %{host}p, align 8"]
        allocas += ["  %budget = alloca i64",
                    f"  %bp = getelementptr i8, ptr %S, i64 {lay.budget_off}",
                    "  %b0 = load i64, ptr %bp, align 8", "  store i64 %b0, ptr %budget",
                    "  %xpc = alloca i64", "  %xcode = alloca i32",
                    "  %icount = alloca i64", "  store i64 0, ptr %icount",
                    "  %icsave = alloca i64", "  store i64 0, ptr %icsave"]
        self._plan_temps()
        for tid in self.slot_temps:
            allocas.append(f"  {self.temps[tid]} = alloca {self.slot_types[tid]}")
        self.lines = []
        self.open = False
        for pc in [self.head] + sorted(p for p in self.blocks if p != self.head):
            self.member(pc)
        tail = ["exit:"]
        for g in self.written:
            t = _ty(g.width)
            tail.append(f"  %wb{g.gidx} = load {t}, ptr %g{g.gidx}")
            tail.append(f"  store {t} %wb{g.gidx}, ptr %gp{g.gidx}, align 8")
        tail += ["  %xpcv = load i64, ptr %xpc",
                 f"  %xpcp = getelementptr i8, ptr %S, i64 {lay.pc_off}",
                 "  store i64 %xpcv, ptr %xpcp, align 8"]
        if self.count_insns:
            tail += ["  %icv = load i64, ptr %icount",
                     f"  %icp = getelementptr i8, ptr %S, i64 {lay.icount_off}",
                     "  %ic0 = load i64, ptr %icp, align 8", "  %ic1 = add i64 %ic0, %icv",
                     "  store i64 %ic1, ptr %icp, align 8"]
        tail += ["  %bl = load i64, ptr %budget", "  %bl1 = sub i64 %bl, 1",
                 "  store i64 %bl1, ptr %bp, align 8", "  %xc = load i32, ptr %xcode"]
        if self.ram.chain:
            tail += _chain_tail(lay.off("key"), lay.off("chainfill")) if self.softmmu else _chain_tail()
        tail += ["  ret i32 %xc", "}"]
        decls = ["declare i64 @llvm.fshr.i64(i64, i64, i64)", "declare i32 @llvm.fshr.i32(i32, i32, i32)",
                 "declare i128 @llvm.fshr.i128(i128, i128, i128)",
                 "declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)"]
        for hname in sorted(self.helpers):
            for line in NATIVE_HELPERS[hname].ir.splitlines():
                if not line.startswith("declare ") or line not in decls:
                    decls.append(line)
        entry = ["  br label %" + self._block_label(self.head)]
        if self.softmmu and uses_lazy_globals(self.used, self.written):
            entry = [f"  %lzp = getelementptr i8, ptr %S, i64 {lay.off('lazyok')}",
                     "  %lz = load i64, ptr %lzp, align 8", "  %lzn = icmp ne i64 %lz, 0",
                     f"  br i1 %lzn, label %{self._block_label(self.head)}, label %needlazy, !prof !0",
                     "needlazy:", f"  %lzk = getelementptr i8, ptr %S, i64 {lay.off('misskind')}",
                     f"  store i64 {MISS_LAZY}, ptr %lzk, align 8", f"  store i64 {self.head}, ptr %xpc",
                     f"  store i32 {EXIT_FALLBACK}, ptr %xcode", "  br label %exit"]
        body = head + allocas + entry + self.lines + tail
        ir = "\n".join(decls + [""] + body) + "\n"
        return NativeCode(ir, name, self.used, self.written, sorted(self.blocks), self.fallbacks,
                          sorted(self.helpers), self.cpu_values)

    def _plan_temps(self) -> None:
        """Name every temp; those defined more than once or inside an ``if`` get an alloca."""
        self.slot_types: dict[int, str] = {}
        defs: dict[int, int] = {}
        nested: set[int] = set()
        for k, pc in enumerate(sorted(self.blocks)):
            depth = 0
            for op in self.cut[pc][0]:
                if op.opc == "if":
                    depth += 1
                elif op.opc == "endif":
                    depth -= 1
                d = op.dst
                if d is not None and not d.is_global:
                    defs[id(d)] = defs.get(id(d), 0) + 1
                    if depth:
                        nested.add(id(d))
                    if id(d) not in self.temps:
                        self.nval += 1
                        self.temps[id(d)] = f"%s{k}_{d.name}_{self.nval}"
                        self.slot_types[id(d)] = _ty(d.width)
        self.slot_temps = {t for t, n in defs.items() if n > 1 or t in nested}

    # --- member blocks ------------------------------------------------------------------
    def _block_label(self, pc: int) -> str:
        """The label of member ``pc``: by its distance from the head, so that the same code
        at another address has the same labels (accel/tcg/native_pic.py)."""
        return f"b_{(pc - self.head) & M64:x}"

    def member(self, pc: int) -> None:
        self.label(self._block_label(pc))
        ops, cut_pc = self.cut[pc]
        self.cur_pc = self.cur_block = pc
        self.block_mmu_idx = self.blocks[pc].mmu_idx or 0
        for op in ops:
            self.op(op)
        if cut_pc is not None:
            self.fallbacks += 1
            self.exit(EXIT_FALLBACK, str(cut_pc))
        if self.open:
            self.term("unreachable")

    def exit(self, code: int, pc: str, before_insn: bool = False) -> None:
        """Leave the region: exit pc ``pc`` (an i64 value), return ``code``."""
        self.emit(f"store i64 {pc}, ptr %xpc")
        self.emit(f"store i32 {code}, ptr %xcode")
        if self.count_insns and code == EXIT_FALLBACK and before_insn:
            v = self.compute("load i64, ptr %icsave")
            self.emit(f"store i64 {v}, ptr %icount")
        self.term("br label %exit")

    def fallback(self) -> None:
        """The current instruction needs the Python tier (its registers are untouched yet)."""
        self.exit(EXIT_FALLBACK, str(self.cur_pc), before_insn=True)

    def guard(self, ok: str) -> None:
        """Continue if the i1 ``ok`` holds (the likely case), else fall back before the
        current instruction."""
        fast, slow = self.new_label("ok"), self.new_label("fallback")
        self.term(f"br i1 {ok}, label %{fast}, label %{slow}, !prof !0")
        self.label(slow)
        self.fallback()
        self.label(fast)

    def transition(self, target: int) -> None:
        """A jump to member ``target``: spend one unit of budget, then branch there."""
        b = self.compute("load i64, ptr %budget")
        b2 = self.compute(f"sub i64 {b}, 1")
        self.emit(f"store i64 {b2}, ptr %budget")
        z = self.compute(f"icmp sle i64 {b2}, 0")
        out, go = self.new_label("budget"), self._block_label(target)
        self.term(f"br i1 {z}, label %{out}, label %{go}")
        self.label(out)
        self.exit(EXIT_JUMP, str(target))

    def goto(self, target: int) -> None:
        if target in self.blocks and self.inline_ok(self.cur_block, target):
            self.transition(target)
        else:
            self.exit(EXIT_JUMP, str(target))

    # --- ops ----------------------------------------------------------------------------
    def op(self, op: Op) -> None:  # noqa: C901 - a dispatch table in code form
        o = op.opc
        if o == "insn_start":
            self.cur_pc = op.args[0]
            if self.count_insns:
                c = self.compute("load i64, ptr %icount")
                self.emit(f"store i64 {c}, ptr %icsave")
                c2 = self.compute(f"add i64 {c}, 1")
                self.emit(f"store i64 {c2}, ptr %icount")
            return
        if o == "mov":
            t = _ty(op.dst.width)
            self.define(op.dst, self.arg(op.args[0], t), t)
        elif o in _ARITH:
            self.arith(op)
        elif o == "ext":
            bits, signed, w = op.aux
            x = op.args[0]
            xw = x.width if isinstance(x, Temp) else x.bit_length()
            t = _ty(max(bits, w, xw))
            tbits = 128 if t == "i128" else 64
            r = a = self.arg(x, t)
            if bits < tbits:
                n = self.compute(f"trunc {t} {a} to i{bits}")
                r = self.compute(f"{'sext' if signed else 'zext'} i{bits} {n} to {t}")
                if signed and w < tbits:
                    r = self.compute(f"and {t} {r}, {(1 << w) - 1}")
            self.define(op.dst, r, t)
        elif o == "setcond":
            cond, w = op.aux
            c = self.cond(cond, op.args[0], op.args[1], w)
            self.define(op.dst, self.compute(f"zext i1 {c} to i64"), "i64")
        elif o == "movcond":
            cond, w = op.aux
            c = self.cond(cond, op.args[0], op.args[1], w)
            t = _ty(op.dst.width)
            v1, v2 = self.arg(op.args[2], t), self.arg(op.args[3], t)
            self.define(op.dst, self.compute(f"select i1 {c}, {t} {v1}, {t} {v2}"), t)
        elif o == "ld":
            self.load(op)
        elif o == "st":
            self.store(op)
        elif o == "call" and op.aux.name in CPU_VALUES:
            self.cpu_value(op)
        elif o == "call" and op.aux.name in STORE_EXCLUSIVE:
            self.store_exclusive(op)
        elif o == "call" and op.aux.name in LEAVE_IF_NONZERO:
            v = self.arg(op.args[LEAVE_IF_NONZERO[op.aux.name]], "i64")
            self.guard(self.compute(f"icmp eq i64 {v}, 0"))
        elif o == "call" and op.aux.name in PY_CALLS:
            self.py_call(op)
        elif o == "call" and op.aux.name in ZERO_BLOCK:
            pos, size = ZERO_BLOCK[op.aux.name]
            addr = self.arg(op.args[pos], "i64")
            base = self.compute(f"and i64 {addr}, {M64 & ~(size - 1)}")
            p = self._pointer(base, MemOp(size), True)
            self.emit(f"call void @llvm.memset.p0.i64(ptr {p}, i8 0, i64 {size}, i1 false)")
        elif o == "call":
            h = NATIVE_HELPERS[op.aux.name]
            self.helpers.add(h.name)
            args = ", ".join(f"i64 {self.arg(a, 'i64')}" for a in op.args)
            r = self.compute(f"call i64 @{h.llvm_name}({args})")
            if op.dst is not None:
                self.define(op.dst, r, "i64")
        elif o == "if":
            cond, w = op.aux
            c = self.cond(cond, op.args[0], op.args[1], w)
            then, other, end = self.new_label("then"), self.new_label("else"), self.new_label("endif")
            self.term(f"br i1 {c}, label %{then}, label %{other}")
            self.ifs.append([other, end, False])
            self.label(then)
        elif o == "else":
            top = self.ifs[-1]
            if self.open:
                self.term(f"br label %{top[1]}")
            top[2] = True
            self.label(top[0])
        elif o == "endif":
            other, end, had_else = self.ifs.pop()
            if not had_else:
                if self.open:
                    self.term(f"br label %{end}")
                self.label(other)
            self.label(end)
        elif o == "goto_tb":
            self.goto(op.args[0])
        elif o == "exit_jump":
            self.computed_jump(op)
        else:
            raise ValueError(f"llvmgen: unexpected op {o}")

    def store_exclusive(self, op: Op) -> None:
        """A store-exclusive (STORE_EXCLUSIVE): stores iff the monitor holds the address and
        memory still holds what the load-exclusive saw; a miss, a misaligned address or a
        wider monitored value leaves for the Python tier before anything is stored."""
        ia, ie, iv, ival, isz = STORE_EXCLUSIVE[op.aux.name]
        size = op.args[isz]
        bits = 8 * size
        addr = self.arg(op.args[ia], "i64")
        mon = self.arg(op.args[ie], "i64")
        same = self.compute(f"icmp eq i64 {addr}, {mon}")
        tryit, do, fail, end = (self.new_label(n) for n in ("xtry", "xdo", "xfail", "xend"))
        self.term(f"br i1 {same}, label %{tryit}, label %{fail}")
        self.label(tryit)
        seen = self.arg(op.args[iv], "i128")
        if bits < 128:
            hi = self.compute(f"lshr i128 {seen}, {bits}")
            self.guard(self.compute(f"icmp eq i128 {hi}, 0"))  # (a wider load-exclusive: Python)
        p = self._pointer(addr, MemOp(size, False, size), True)
        old = self.compute(f"load i{bits}, ptr {p}, align 1")
        want = self.compute(f"trunc i128 {seen} to i{bits}") if bits < 128 else seen
        eq = self.compute(f"icmp eq i{bits} {old}, {want}")
        self.term(f"br i1 {eq}, label %{do}, label %{fail}")
        self.label(do)
        val = self.arg(op.args[ival], "i128")
        v = self.compute(f"trunc i128 {val} to i{bits}") if bits < 128 else val
        self.emit(f"store i{bits} {v}, ptr {p}, align 1")
        self.term(f"br label %{end}")
        self.label(fail)
        self.term(f"br label %{end}")
        self.label(end)
        r = self.compute(f"phi i64 [0, %{do}], [1, %{fail}]")
        if op.dst is not None:
            self.define(op.dst, r, "i64")

    def cpu_value(self, op: Op) -> None:
        """A CpuValue call: the value the wrapper stored in the state block."""
        cv = CPU_VALUES[op.aux.name]
        slot = _cpu_value_slot(op)
        self.cpu_values[slot] = (cv, tuple(op.args[1:]))
        off = self.layout.size + 16 * slot
        if cv.may_fail:
            okp = self.compute(f"getelementptr i8, ptr %S, i64 {off + 8}")
            ok = self.compute(f"load i64, ptr {okp}, align 8")
            self.guard(self.compute(f"icmp ne i64 {ok}, 0"))
        vp = self.compute(f"getelementptr i8, ptr %S, i64 {off}")
        v = self.compute(f"load i64, ptr {vp}, align 8")
        if op.dst is not None:
            self.define(op.dst, v, "i64")

    def arith(self, op: Op) -> None:
        o, w = op.opc, op.aux
        t = _ty(w)
        bits = 128 if t == "i128" else 64
        m = (1 << w) - 1
        a = self.arg(op.args[0], t)
        b = self.arg(op.args[1], t) if len(op.args) > 1 else "0"

        def masked(v: str) -> str:
            return v if w == bits else self.compute(f"and {t} {v}, {m}")
        if o in ("add", "sub", "mul"):
            r = masked(self.compute(f"{o} {t} {a}, {b}"))
        elif o in ("and", "or", "xor"):
            r = self.compute(f"{o} {t} {a}, {b}")
        elif o == "andc":
            r = self.compute(f"and {t} {a}, {self.compute(f'xor {t} {b}, {m}')}")
        elif o == "orc":
            r = self.compute(f"or {t} {a}, {self.compute(f'xor {t} {b}, {m}')}")
        elif o == "eqv":
            r = self.compute(f"xor {t} {self.compute(f'xor {t} {a}, {b}')}, {m}")
        elif o == "not":
            r = self.compute(f"xor {t} {a}, {m}")
        elif o == "neg":
            r = masked(self.compute(f"sub {t} 0, {a}"))
        elif o in ("shl", "shr"):
            r = self.compute(f"{'shl' if o == 'shl' else 'lshr'} {t} {a}, {b}")
            if not (isinstance(op.args[1], int) and op.args[1] < bits):
                big = self.compute(f"icmp uge {t} {b}, {bits}")
                r = self.compute(f"select i1 {big}, {t} 0, {t} {r}")
            if o == "shl":
                r = masked(r)
        elif o == "sar":
            if w < bits:
                n = self.compute(f"trunc {t} {a} to i{w}")
                a = self.compute(f"sext i{w} {n} to {t}")
            if not (isinstance(op.args[1], int) and op.args[1] < bits):
                big = self.compute(f"icmp uge {t} {b}, {bits}")
                b = self.compute(f"select i1 {big}, {t} {bits - 1}, {t} {b}")
            r = masked(self.compute(f"ashr {t} {a}, {b}"))
        else:  # rotr
            if w in (32, 64, 128):
                n = a if w == bits else self.compute(f"trunc {t} {a} to i{w}")
                s = b if w == bits else self.compute(f"trunc {t} {b} to i{w}")
                r = self.compute(f"call i{w} @llvm.fshr.i{w}(i{w} {n}, i{w} {n}, i{w} {s})")
                if w != bits:
                    r = self.compute(f"zext i{w} {r} to {t}")
            else:
                lo = self.compute(f"lshr {t} {a}, {b}")
                hi = self.compute(f"shl {t} {a}, {self.compute(f'sub {t} {w}, {b}')}")
                r = masked(self.compute(f"or {t} {lo}, {hi}"))
        self.define(op.dst, r, t)

    def cond(self, cond: str, x, y, w: int) -> str:
        """An i1 for ``x cond y`` on ``w``-bit values (pygen.cond_expr's meaning)."""
        if cond in ("true", "false"):
            return "true" if cond == "true" else "false"
        t = _ty(w)
        a, b = self.arg(x, t), self.arg(y, t)
        if cond in ("tst", "tstz"):
            v = self.compute(f"and {t} {a}, {b}")
            return self.compute(f"icmp {'ne' if cond == 'tst' else 'eq'} {t} {v}, 0")
        if cond in ("lt", "le", "gt", "ge"):
            s = 1 << (w - 1)
            a = self.compute(f"xor {t} {a}, {s}")
            b = self.compute(f"xor {t} {b}, {s}")
        return self.compute(f"icmp {_ICMP[cond]} {t} {a}, {b}")

    # --- memory ---------------------------------------------------------------------------
    def _fast_check(self, addr: str, table: str, align: int) -> None:
        """Branch to a fallback unless ``addr`` is in the guest space, aligned as required,
        and its page's fast-path byte in ``table`` is 1."""
        ram = self.ram
        hi = self.compute(f"lshr i64 {addr}, {ram.va_bits}")
        ok = self.compute(f"icmp eq i64 {hi}, 0")
        if align > 1:
            al = self.compute(f"and i64 {addr}, {align - 1}")
            alok = self.compute(f"icmp eq i64 {al}, 0")
            ok = self.compute(f"and i1 {ok}, {alok}")
        page = self.compute(f"lshr i64 {addr}, 12")
        pg = self.compute(f"and i64 {page}, {(1 << (ram.va_bits - 12)) - 1}")
        fp = self.compute(f"getelementptr i8, ptr %{table}, i64 {pg}")
        f = self.compute(f"load i8, ptr {fp}")
        fok = self.compute(f"icmp eq i8 {f}, 1")
        self.guard(self.compute(f"and i1 {ok}, {fok}"))

    def py_call(self, op: Op) -> None:
        """A PY_CALLS helper: through the state block's ``pycall`` (system mode; user mode has
        none, and the instruction runs on the Python tier)."""
        if not self.softmmu:
            self.fallback()
            self.label(self.new_label("dead"))
            return
        args = [self.arg(a, "i64") for a in op.args[1:]]
        args += ["0"] * (PY_CALL_ARGS - len(args))
        fp = self.compute(f"getelementptr i8, ptr %S, i64 {self.layout.off('pycall')}")
        fn = self.compute(f"load ptr, ptr {fp}, align 8")
        r = self.compute(f"call i64 {fn}(ptr %S, i64 {PY_CALLS[op.aux.name]}, "
                         + ", ".join(f"i64 {a}" for a in args) + ")")
        self.guard(self.compute(f"icmp eq i64 {r}, 0"))
        if op.dst is not None:  # (PY_CALL_RESULTS: the value is in ``mmio``)
            vp = self.compute(f"getelementptr i8, ptr %S, i64 {self.layout.off('mmio')}")
            self.define(op.dst, self.compute(f"load i64, ptr {vp}, align 8"), "i64")

    def _host(self, addr: str) -> str:
        return self.compute(f"getelementptr i8, ptr %base, i64 {addr}")

    def _tlb_host(self, addr: str, m, store: bool, mmio: str | None = None) -> str:
        """System mode: the host pointer for an access of ``m`` at ``addr`` through the native
        TLB (SoftMMU), or a fallback (recording the miss) when the entry does not match, the
        access crosses its page end or is misaligned. ``mmio``: a plain access the fill
        function may do itself (a load: "load"; a store: its value as an i64), whose
        pointer is then the state block's ``mmio``."""
        ram = self.ram
        idx = self.block_mmu_idx if m.mmu_idx < 0 else m.mmu_idx
        nsets = 1 << ram.tlb_bits
        page = self.compute(f"lshr i64 {addr}, 12")
        folded = self.compute(f"lshr i64 {page}, {ram.tlb_bits}")  # (native_tlb.py: NativeTLB._word)
        slot = self.compute(f"and i64 {self.compute(f'xor i64 {page}, {folded}')}, {nsets - 1}")
        off = self.compute(f"shl i64 {slot}, {(TLB_ENTRY * TLB_WAYS).bit_length() - 1}")
        if idx:
            off = self.compute(f"add i64 {off}, {idx * nsets * TLB_ENTRY * TLB_WAYS}")
        e = self.compute(f"getelementptr i8, ptr %tlb, i64 {off}")
        tag_at = 8 if store else 0
        tp = self.compute(f"getelementptr i8, ptr {e}, i64 {tag_at}") if store else e
        tag = self.compute(f"load i64, ptr {tp}, align 8")
        ok = self.compute(f"icmp eq i64 {tag}, {page}")
        checks = ""  # (what the address alone decides: inside the page, aligned)
        if m.size > 1:
            po = self.compute(f"and i64 {addr}, 4095")
            checks = self.compute(f"icmp ule i64 {po}, {4096 - m.size}")
        if m.align > 1:
            al = self.compute(f"and i64 {addr}, {m.align - 1}")
            alok = self.compute(f"icmp eq i64 {al}, 0")
            checks = self.compute(f"and i1 {checks}, {alok}") if checks else alok
        if checks:
            ok = self.compute(f"and i1 {ok}, {checks}")
        fast, way1, slow = self.new_label("fast"), self.new_label("way1"), self.new_label("miss")
        way0 = self.new_label("way0")
        self.label(way0)  # (named: a predecessor in the phi below)
        self.term(f"br i1 {ok}, label %{fast}, label %{way1}, !prof !0")
        # The set's second way (the entry the last refill of this set moved aside).
        self.label(way1)
        e1 = self.compute(f"getelementptr i8, ptr {e}, i64 {TLB_ENTRY}")
        tp1 = self.compute(f"getelementptr i8, ptr {e1}, i64 {tag_at}")
        tag1 = self.compute(f"load i64, ptr {tp1}, align 8")
        ok1 = self.compute(f"icmp eq i64 {tag1}, {page}")
        if checks:
            ok1 = self.compute(f"and i1 {ok1}, {checks}")
        self.term(f"br i1 {ok1}, label %{fast}, label %{slow}")
        self.label(slow)
        lay = self.layout
        mp = self.compute(f"getelementptr i8, ptr %S, i64 {lay.off('miss')}")
        self.emit(f"store i64 {addr}, ptr {mp}, align 8")
        kp = self.compute(f"getelementptr i8, ptr %S, i64 {lay.off('misskind')}")
        kind = 1 + 2 * idx + int(store)
        if mmio is not None:
            kind |= m.size << MISS_SIZE_SHIFT
            if store:
                vp = self.compute(f"getelementptr i8, ptr %S, i64 {lay.off('mmio')}")
                self.emit(f"store i64 {mmio}, ptr {vp}, align 8")
        self.emit(f"store i64 {kind}, ptr {kp}, align 8")
        # The fill function (the state block's ``fill``: accel/tcg/native_sys.py) fills the
        # entry from the page tables if it can (RAM, no fault) into the set's first way; then
        # the access goes on here.
        fp = self.compute(f"getelementptr i8, ptr %S, i64 {lay.off('fill')}")
        fn = self.compute(f"load ptr, ptr {fp}, align 8")
        filled = self.compute(f"call i64 {fn}(ptr %S)")
        retry, fall = self.new_label("refilled"), self.new_label("fallback")
        done = join = None
        if mmio is None:
            self.term(f"br i1 {self.compute(f'icmp ne i64 {filled}, 0')}, label %{retry}, label %{fall}")
        else:
            done, join = self.new_label("mmio"), self.new_label("access")
            self.term(f"switch i64 {filled}, label %{fall} [i64 {MISS_FILLED}, label %{retry} "
                      f"i64 {MISS_DONE}, label %{done}]")
        self.label(retry)
        tag2 = self.compute(f"load i64, ptr {tp}, align 8")
        ok2 = self.compute(f"icmp eq i64 {tag2}, {page}")
        if checks:
            ok2 = self.compute(f"and i1 {ok2}, {checks}")
        self.term(f"br i1 {ok2}, label %{fast}, label %{fall}")
        self.label(fall)
        self.fallback()
        self.label(fast)
        hit = self.compute(f"phi ptr [{e}, %{way0}], [{e1}, %{way1}], [{e}, %{retry}]")
        ap = self.compute(f"getelementptr i8, ptr {hit}, i64 16")
        addend = self.compute(f"load i64, ptr {ap}, align 8")
        h = self.compute(f"add i64 {addend}, {addr}")
        host = self.compute(f"inttoptr i64 {h} to ptr")
        if done is None:
            return host
        self.term(f"br label %{join}")
        self.label(done)  # (the fill function did the access: the value is in ``mmio``)
        vp = self.compute(f"getelementptr i8, ptr %S, i64 {lay.off('mmio')}")
        # (a device that raised an interrupt set the state block's budget to 0: spend ours)
        sb, lb = self.compute("load i64, ptr %bp, align 8"), self.compute("load i64, ptr %budget")
        less = self.compute(f"icmp slt i64 {sb}, {lb}")
        self.emit(f"store i64 {self.compute(f'select i1 {less}, i64 {sb}, i64 {lb}')}, ptr %budget")
        self.term(f"br label %{join}")
        self.label(join)
        return self.compute(f"phi ptr [{host}, %{fast}], [{vp}, %{done}]")

    def _pointer(self, addr: str, m, store: bool, mmio: str | None = None) -> str:
        if self.softmmu:
            return self._tlb_host(addr, m, store, mmio if m.size <= 8 else None)
        self._fast_check(addr, "wpf" if store else "rpf", m.align)
        return self._host(addr)

    def load(self, op: Op) -> None:
        m = op.aux
        addr = self.arg(op.args[0], "i64")
        p = self._pointer(addr, m, False, "load")
        bits = m.size * 8
        v = self.compute(f"load i{bits}, ptr {p}, align 1")
        dt = _ty(op.dst.width)
        if bits == (128 if dt == "i128" else 64):
            r = v
        else:
            r = self.compute(f"{'sext' if m.signed else 'zext'} i{bits} {v} to {dt}")
        if m.signed:
            w = max(op.dst.width, 32)
            if w < (128 if dt == "i128" else 64):
                r = self.compute(f"and {dt} {r}, {(1 << w) - 1}")
        self.define(op.dst, r, dt)

    def store(self, op: Op) -> None:
        m = op.aux
        addr = self.arg(op.args[0], "i64")
        bits = m.size * 8
        src = _ty(bits)
        v = self.arg(op.args[1], src)
        p = self._pointer(addr, m, True, v if src == "i64" else None)
        if bits < (128 if src == "i128" else 64):
            v = self.compute(f"trunc {src} {v} to i{bits}")
        self.emit(f"store i{bits} {v}, ptr {p}, align 1")

    def computed_jump(self, op: Op) -> None:
        t = self.arg(op.args[0], "i64")
        here = self.cur_block
        targets = [pc for pc in self.indirect.get(here, ()) if pc in self.blocks]
        if not targets:
            self.exit(EXIT_JUMP, t)
            return
        other = self.new_label("ijmp")
        cases = {pc: self.new_label("icase") for pc in targets}
        self.term(f"switch i64 {t}, label %{other} [" + " ".join(
            f"i64 {pc}, label %{lbl}" for pc, lbl in cases.items()) + "]")
        for pc, lbl in cases.items():
            self.label(lbl)
            self.transition(pc)
        self.label(other)
        self.exit(EXIT_JUMP, t)


def _chain_tail(key_off: int | None = None, chainfill_off: int | None = None) -> list[str]:
    """Exit-block code: on EXIT_JUMP with budget left, tail-call the native region that the
    chain table holds for the exit pc. User mode's entries are (pc, function address);
    system mode's (``key_off``: where the state block holds the current key) are (pc, key,
    function address, padding) and only match under the same key. There, a slot that holds
    another pc or key asks the state block's ``chainfill`` (``i64 chainfill(ptr S)``, the
    exit pc in the state block's ``pc``) for the region at the exit pc, which it enters
    into the slot: its address, or 0 to leave (no native code there)."""
    if key_off is None:
        shift, fn_at, keyed = 4, 8, []
        index = ["  %cs0 = lshr i64 %xpcv, 2", f"  %cs = and i64 %cs0, {CHAIN_SLOTS - 1}"]
    else:
        shift, fn_at = 5, 16
        index = ["  %cs0 = lshr i64 %xpcv, 2", f"  %cs1 = lshr i64 %xpcv, {2 + SYS_CHAIN_BITS}",
                 "  %cs2 = xor i64 %cs0, %cs1", f"  %cs = and i64 %cs2, {SYS_CHAIN_SLOTS - 1}"]
        keyed = ["  %ckp = getelementptr i8, ptr %ce, i64 8", "  %ck = load i64, ptr %ckp, align 8",
                 f"  %skp = getelementptr i8, ptr %S, i64 {key_off}", "  %sk = load i64, ptr %skp, align 8",
                 "  %khit = icmp eq i64 %ck, %sk", "  %pchit = icmp eq i64 %cpc, %xpcv",
                 "  %hit = and i1 %khit, %pchit"]
    look = ["  %isj = icmp eq i32 %xc, 0", "  %bok = icmp sgt i64 %bl1, 0",
            "  %try = and i1 %isj, %bok", "  br i1 %try, label %chainlook, label %done",
            "chainlook:", *index,
            f"  %co = shl i64 %cs, {shift}",
            "  %ce = getelementptr i8, ptr %chain, i64 %co",
            "  %cpc = load i64, ptr %ce, align 8"]
    miss = "done" if chainfill_off is None else "chainmiss"
    call = [f"  br i1 %hit, label %call, label %{miss}",
            "call:", f"  %cfp = getelementptr i8, ptr %ce, i64 {fn_at}",
            "  %cf = load ptr, ptr %cfp, align 8",
            "  %cnull = icmp eq ptr %cf, null", "  br i1 %cnull, label %done, label %tail",
            "tail:", "  %cr = musttail call i32 %cf(ptr %S)", "  ret i32 %cr"]
    if chainfill_off is not None:
        call += ["chainmiss:", f"  %cmp = getelementptr i8, ptr %S, i64 {chainfill_off}",
                 "  %cmf = load ptr, ptr %cmp, align 8", "  %cmnull = icmp eq ptr %cmf, null",
                 "  br i1 %cmnull, label %done, label %chainask",
                 "chainask:", "  %cma = call i64 %cmf(ptr %S)", "  %cmz = icmp eq i64 %cma, 0",
                 "  br i1 %cmz, label %done, label %tail2",
                 "tail2:", "  %cmfn = inttoptr i64 %cma to ptr",
                 "  %cr2 = musttail call i32 %cmfn(ptr %S)", "  ret i32 %cr2"]
    return look + (keyed or ["  %hit = icmp eq i64 %cpc, %xpcv"]) + call + ["done:"]


_ARITH = {"add", "sub", "mul", "and", "or", "xor", "andc", "orc", "eqv", "shl", "shr", "sar", "rotr",
          "not", "neg"}

PROF = '!0 = !{!"branch_weights", i32 2000, i32 1}'


def generate_native(head: int, blocks: dict[int, Block], inline_ok: Callable[[int, int], bool],
                    name: str, layout: StateLayout, ram: GuestRAM | SoftMMU,
                    count_insns: bool = False, indirect: dict[int, list[int]] | None = None
                    ) -> NativeCode | None:
    """LLVM IR for the region headed at ``head`` (see the module docstring); None when the
    head's first instruction already needs the Python tier (nothing to gain)."""
    gen = LLVMGen(head, blocks, inline_ok, layout, ram, count_insns, indirect)
    if not any(op.opc != "insn_start" for op in gen.cut[head][0]):
        return None
    code = gen.gen(name)
    code.ir += PROF + "\n"
    return code
