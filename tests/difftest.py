"""Differential testing of pyqemu's A64 translator against Unicorn.

Run the same instruction words from the same initial state in Unicorn
(``UC_ARCH_ARM64``) and in pyqemu (its real translator, TB cache and
generated code, through a user-mode :class:`Process`) and compare X0-X30,
SP, NZCV, FPCR, FPSR, optionally V0-V31, a window of memory, the final pc
and the exception that stopped execution, if any.

Typical use::

    dt = DiffTester(vregs=False)
    rng = random.Random(seed)
    words = [ADD_R.gen(rng) for _ in range(32)]
    dt.check(words, random_state(rng))   # AssertionError with a report on mismatch

A block of independent random instructions is run as one translation block
(or split with ``max_insns``): a mismatch is then replayed prefix by prefix
to name the first instruction whose result differs.

Memory layout shared by both emulators: code at ``CODE_BASE``
(``CODE_SIZE`` bytes, read/execute), the compared window at ``DATA_BASE``
(``DATA_SIZE`` bytes, read/write). Nothing else is mapped.

Unicorn caveats (2.1, QEMU 5.0's translator): its default CPU (Cortex-A72)
lacks v8.1+ extensions such as FEAT_FlagM, so the harness selects its
``max`` CPU, which also has PAuth (pyqemu does not: keep PAC encodings out
of random tests); it does not reliably retranslate code overwritten with
``mem_write``, so the harness drops its cached translations of the test
code before every run; it knows nothing newer than QEMU 5.0 (FEAT_CSSC,
for one): test those against a model instead.
"""
from __future__ import annotations

import os
import random
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from unicorn import UC_ARCH_ARM64, UC_HOOK_INTR, UC_MODE_ARM, Uc, UcError
from unicorn import arm64_const as U
from unicorn.unicorn_const import (
    UC_ERR_FETCH_PROT,
    UC_ERR_FETCH_UNMAPPED,
    UC_ERR_READ_PROT,
    UC_ERR_READ_UNALIGNED,
    UC_ERR_READ_UNMAPPED,
    UC_ERR_WRITE_PROT,
    UC_ERR_WRITE_UNALIGNED,
    UC_ERR_WRITE_UNMAPPED,
    UC_PROT_ALL,
)

from pyqemu.accel.tcg.excp import GuestException, InternalError
from pyqemu.linux_user.mmap import PROT_EXEC, PROT_READ, PROT_WRITE
from pyqemu.linux_user.process import Process
from pyqemu.target.arm import cpu as C

# scripts/test.sh runs these tests a second time with every block compiled natively
# (PYQEMU_JIT=force, issue 9): each block then costs an LLVM compilation, so that pass runs a
# fifth of the random blocks (NATIVE_DIVISOR); the directed cases run whole.
FORCED_NATIVE = os.environ.get("PYQEMU_JIT", "").lower() == "force"
NATIVE_DIVISOR = 5 if FORCED_NATIVE else 1

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1
M128 = (1 << 128) - 1

CODE_BASE = 0x40_0000
CODE_SIZE = 0x4000
DATA_BASE = 0x80_0000
DATA_SIZE = 0x2000

# --- state -----------------------------------------------------------------------------


@dataclass
class State:
    """Architectural state compared between the emulators.

    `v` and `mem` may be None: not set and not compared. `fault` names the
    exception that stopped execution (``ill``, ``segv``, ``bus``, ``trap``...),
    with `pc` at the faulting instruction.
    """

    x: list[int]
    sp: int = 0
    nzcv: int = 0
    v: list[int] | None = None
    fpcr: int = 0
    fpsr: int = 0
    mem: bytes | None = None
    pc: int = 0
    fault: str | None = None

    def copy(self) -> State:
        return replace(self, x=list(self.x), v=None if self.v is None else list(self.v))

    def diff(self, other: State) -> list[str]:
        """Human-readable differences (self = reference, other = pyqemu)."""
        out: list[str] = []
        regs_diff("X", self.x, other.x, 16, out)
        fields_diff(self, other, {"sp": ("SP", "{:#018x}".format), "nzcv": ("NZCV", flags),
                                  "fpcr": ("FPCR", HEX32), "fpsr": ("FPSR", HEX32)}, out)
        if self.v is not None and other.v is not None:
            regs_diff("V", self.v, other.v, 32, out)
        if self.mem is not None and other.mem is not None:
            mem_diff(self.mem, other.mem, out)
        fields_diff(self, other, STOP_FIELDS, out)
        return out

    def describe(self) -> str:
        regs = " ".join(f"X{i}={v:#x}" for i, v in enumerate(self.x))
        s = f"{regs} SP={self.sp:#x} NZCV={flags(self.nzcv)} FPCR={self.fpcr:#x} FPSR={self.fpsr:#x}"
        if self.v is not None:
            s += " " + " ".join(f"V{i}={v:#x}" for i, v in enumerate(self.v) if v)
        return s


def flags(nzcv: int) -> str:
    """NZCV as ``NZ--`` (bits 31-28: the same in AArch64 NZCV and AArch32 CPSR)."""
    return "".join(ch if nzcv & bit else "-" for ch, bit in
                   (("N", C.N_BIT), ("Z", C.Z_BIT), ("C", C.C_BIT), ("V", C.V_BIT)))


Format = Callable[[Any], str]
HEX32: Format = "{:#010x}".format
STOP_FIELDS: dict[str, tuple[str, Format]] = {"fault": ("exception", str), "pc": ("pc", "{:#x}".format)}


def fields_diff(ref: object, got: object, fields: Mapping[str, tuple[str, Format]], out: list[str]) -> None:
    """Append a line to `out` for each attribute in `fields` (attribute -> (label, format))
    that differs between the states `ref` and `got`."""
    for attr, (label, fmt) in fields.items():
        a, b = getattr(ref, attr), getattr(got, attr)
        if a != b:
            out.append(f"{label}: expected {fmt(a)} got {fmt(b)}")


def regs_diff(name: str, ref: Sequence[int], got: Sequence[int], digits: int, out: list[str]) -> None:
    """Append a line to `out` for each register that differs (`digits`: hex digits shown)."""
    for i, (a, b) in enumerate(zip(ref, got, strict=True)):
        if a != b:
            out.append(f"{name}{i}: expected {a:#0{digits + 2}x} got {b:#0{digits + 2}x}")


def mem_diff(ref: bytes, got: bytes, out: list[str]) -> None:
    """Append the differing 8-byte chunks of the data window to `out` (up to about 40 lines)."""
    if ref == got:
        return
    for off in range(0, len(ref), 8):
        a, b = ref[off:off + 8], got[off:off + 8]
        if a != b:
            out.append(f"mem[{DATA_BASE + off:#x}]: expected {a.hex()} got {b.hex()}")
            if len(out) > 40:
                break


# --- random operands ------------------------------------------------------------------------

EDGE64 = (
    0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
    0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF, 0x100000000,
    0xFFFFFFFF00000000, 0xFFFFFFFF80000000, 0x00000000FFFFFFFF,
    (1 << 63) - 1, 1 << 63, (1 << 63) + 1, M64, M64 - 1, 0x5555555555555555, 0xAAAAAAAAAAAAAAAA,
)
EDGE32 = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
          0x80000001, 0xFFFFFFFE, 0xFFFFFFFF)


def rand_u64(rng: random.Random) -> int:
    """A 64-bit operand biased toward the values where arithmetic goes wrong."""
    r = rng.random()
    if r < 0.25:
        return rng.choice(EDGE64)
    if r < 0.35:
        return rng.randrange(-64, 65) & M64  # small, both signs
    if r < 0.45:
        hi = rng.choice((0, M32, rng.getrandbits(32)))
        return (hi << 32) | rng.choice(EDGE32)  # edge in the low word, anything above
    if r < 0.55:
        return rng.getrandbits(32)
    if r < 0.60:
        return (1 << rng.randrange(64)) ^ rng.choice((0, M64))  # one bit set or clear
    return rng.getrandbits(64)


def rand_u128(rng: random.Random) -> int:
    return (rand_u64(rng) << 64) | rand_u64(rng)


def random_state(rng: random.Random, vregs: bool = False, mem_size: int = 256,
                 value: Callable[[random.Random], int] = rand_u64) -> State:
    """Random registers (from `value`), flags, V registers if `vregs`, and the
    first `mem_size` bytes of the data window (the rest is zero)."""
    x = [value(rng) for _ in range(31)]
    v = [rand_u128(rng) for _ in range(32)] if vregs else None
    mem = rng.randbytes(mem_size) + bytes(DATA_SIZE - mem_size) if mem_size else bytes(DATA_SIZE)
    return State(x, sp=value(rng), nzcv=rng.randrange(16) << 28, v=v, mem=mem)


# --- random instruction encodings -------------------------------------------------------------

FieldSpec = int | Sequence[int] | Callable[[random.Random], int]


def reg(rng: random.Random) -> int:
    """A register number, with 31 (XZR or SP) more likely than the others."""
    return 31 if rng.random() < 0.12 else rng.randrange(31)


class Encoding:
    """A random generator of instruction words from a bit layout.

    `layout` reads like a .decode pattern, MSB first: literal bits ``0``/``1``
    and fields ``name:len`` (32 bits in all). Each field is drawn from
    `fields[name]` (an int, a sequence to choose from, or ``f(rng)``);
    5-bit fields named ``r*`` default to :func:`reg`, others to uniform
    random. `valid(f)` tells allocated field combinations from unallocated
    ones: :meth:`gen` draws only the former, :meth:`gen_invalid` only the
    latter (both emulators must raise SIGILL on those).
    """

    widths: tuple[int, ...] = (32,)  # the layout sizes allowed

    def __init__(self, name: str, layout: str, valid: Callable[[dict], bool] | None = None,
                 **fields: FieldSpec) -> None:
        self.name = name
        self.valid = valid
        self.fixed = 0
        self.fields: list[tuple[str, int, int, FieldSpec | None]] = []  # name, pos, len, spec
        toks = layout.split()
        for tok in toks:
            if not re.fullmatch(r"[A-Za-z_]\w*:\d+|[01]+", tok):
                raise ValueError(f"{name}: bad layout token {tok!r}")
        self.width = pos = sum(int(t.partition(":")[2]) if ":" in t else len(t) for t in toks)
        if pos not in self.widths:
            raise ValueError(f"{name}: layout has {pos} bits")
        for tok in toks:
            fname, sep, n = tok.partition(":")
            if sep:
                pos -= int(n)
                self.fields.append((fname, pos, int(n), fields.pop(fname, None)))
            else:
                pos -= len(tok)
                self.fixed |= int(tok, 2) << pos
        if fields:
            raise ValueError(f"{name}: unknown fields {sorted(fields)}")

    def default(self, name: str, n: int, rng: random.Random) -> int:
        """A field without a spec: a register for 5-bit ``r*`` fields, else uniform."""
        return reg(rng) if n == 5 and name.startswith("r") else rng.getrandbits(n)

    def fields_of(self, rng: random.Random, **over: int) -> dict[str, int]:
        """Random field values (`over`: fields given)."""
        out = {}
        for name, _pos, n, spec in self.fields:
            if name in over:
                v = over[name]
            elif spec is None:
                v = self.default(name, n, rng)
            elif isinstance(spec, int):
                v = spec
            elif callable(spec):
                v = spec(rng)
            else:
                v = rng.choice(spec)
            out[name] = v & ((1 << n) - 1)
        return out

    def encode(self, f: dict[str, int]) -> int:
        w = self.fixed
        for name, pos, n, _spec in self.fields:
            w |= (f[name] & ((1 << n) - 1)) << pos
        return w

    def gen(self, rng: random.Random) -> int:
        f = self.fields_of(rng)
        if self.valid is not None:
            while not self.valid(f):
                f = self.fields_of(rng)
        return self.encode(f)

    def gen_invalid(self, rng: random.Random, tries: int = 1000) -> int | None:
        """An encoding `valid` rejects (fields drawn as for :meth:`gen`: the field
        specs bound the encodings tried), or None if none was found."""
        if self.valid is None:
            return None
        for _ in range(tries):
            f = self.fields_of(rng)
            if not self.valid(f):
                return self.encode(f)
        return None


# --- the two emulators --------------------------------------------------------------------------

_UC_X = [U.UC_ARM64_REG_X0 + i for i in range(29)] + [U.UC_ARM64_REG_X29, U.UC_ARM64_REG_X30]
_UC_GPR = _UC_X + [U.UC_ARM64_REG_SP, U.UC_ARM64_REG_NZCV, U.UC_ARM64_REG_FPCR, U.UC_ARM64_REG_FPSR]
_UC_Q = [U.UC_ARM64_REG_Q0 + i for i in range(32)]
# Unicorn's exception numbers (QEMU's EXCP_*) for the ones a test can hit.
UC_INTR = {1: "ill", 2: "svc", 7: "trap", 3: "segv", 4: "segv"}
UC_MEMERR = {UC_ERR_READ_UNMAPPED: "segv", UC_ERR_WRITE_UNMAPPED: "segv", UC_ERR_FETCH_UNMAPPED: "segv",
             UC_ERR_READ_PROT: "segv", UC_ERR_WRITE_PROT: "segv", UC_ERR_FETCH_PROT: "segv",
             UC_ERR_READ_UNALIGNED: "bus", UC_ERR_WRITE_UNALIGNED: "bus"}


def _code_bytes(words: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(words)}I", *words)


class UnicornBase:
    """A Unicorn instance with the code (read/execute) and data windows mapped, stopped
    by interrupts: what the A64 and the AArch32 references share."""

    errors: dict[int, str] = UC_MEMERR  # UcError numbers -> fault names

    def __init__(self, uc: Uc, cpu_model: int, data_size: int = DATA_SIZE) -> None:
        uc.ctl_set_cpu_model(cpu_model)
        uc.mem_map(CODE_BASE, CODE_SIZE, UC_PROT_ALL & ~2)  # read + exec
        uc.mem_map(DATA_BASE, data_size)
        self.uc = uc
        self.data_size = data_size
        self._intr: list[int] = []
        uc.hook_add(UC_HOOK_INTR, self._on_intr)

    def _on_intr(self, uc, intno, _data) -> None:
        self._intr.append(intno)
        uc.emu_stop()

    def load(self, start: int, code: bytes, mem: bytes | None) -> None:
        """Write `code` at `start` and the data window (unless `mem` is None)."""
        uc = self.uc
        uc.mem_write(start, code)
        # Unicorn does not reliably drop translations of code overwritten by mem_write
        uc.ctl_remove_cache(start, start + max(len(code), 4))
        if mem is not None:
            uc.mem_write(DATA_BASE, mem)

    def emulate(self, begin: int, until: int) -> str | None:
        """Run from `begin` to `until`: None, or the exception that stopped the run."""
        fault = None
        self._intr.clear()
        try:
            self.uc.emu_start(begin, until)
        except UcError as e:
            fault = self.errors.get(e.errno, f"unicorn error {e}")
        if self._intr:
            fault = UC_INTR.get(self._intr[0], f"intr {self._intr[0]}")
        return fault

    def read_data(self, compared: bool) -> bytes | None:
        """The data window, if `compared` (else None)."""
        return bytes(self.uc.mem_read(DATA_BASE, self.data_size)) if compared else None


class UnicornRunner(UnicornBase):
    """The reference: Unicorn 2 (QEMU 5's AArch64 translator), by default its
    ``max`` CPU (the A72 default lacks FEAT_FlagM and other v8.x extensions)."""

    def __init__(self, cpu_model: int = U.UC_CPU_ARM64_MAX) -> None:
        super().__init__(Uc(UC_ARCH_ARM64, UC_MODE_ARM), cpu_model)

    def run(self, words: Sequence[int], init: State, start: int = CODE_BASE) -> State:
        uc = self.uc
        self.load(start, _code_bytes(words), init.mem)
        uc.reg_write_batch(list(zip(_UC_GPR, [*init.x, init.sp, init.nzcv, init.fpcr, init.fpsr],
                                    strict=True)))
        if init.v is not None:
            uc.reg_write_batch(list(zip(_UC_Q, init.v, strict=True)))
        fault = self.emulate(start, start + 4 * len(words))
        vals = uc.reg_read_batch(_UC_GPR)
        v = list(uc.reg_read_batch(_UC_Q)) if init.v is not None else None
        pc = uc.reg_read(U.UC_ARM64_REG_PC)
        return State(list(vals[:31]), sp=vals[31], nzcv=vals[32] & 0xF0000000, v=v, fpcr=vals[33],
                     fpsr=vals[34], mem=self.read_data(init.mem is not None), pc=pc, fault=fault)


class ProcessRunner:
    """pyqemu: the user-mode Process machinery (translator, TB cache, namespace) with the
    code and data windows mapped, every block translated afresh and at most
    :meth:`block_limit` instructions long: what the A64 and AArch32 runners share."""

    pc_flags = 0  # low pc bits that are not part of the address (AArch32: the Thumb bit)

    def __init__(self, data_size: int = DATA_SIZE, **process_kw: object) -> None:
        self.proc = Process(**process_kw)
        # Translate every block afresh: a persistent cache of compiled blocks (keyed by
        # page contents) would hide the translator, and ignores our per-run max_insns.
        self.proc.tbs.code_cache = None
        mem = self.proc.mem
        mem.map(CODE_BASE, CODE_SIZE, PROT_READ | PROT_EXEC)
        mem.map(DATA_BASE, data_size, PROT_READ | PROT_WRITE)
        self.data_size = data_size
        self.cpu = self.proc.new_cpu()
        self._translate = self.proc.tbs.translate
        self.proc.tbs.translate = self._translate_to_end

    def block_limit(self, pc: int) -> int:
        """The most instructions the block at `pc` may have."""
        raise NotImplementedError

    def _translate_to_end(self, pc: int):
        """The process's own translate, with blocks stopping at the end of the test code
        (Unicorn stops there; a block running past it would execute what follows)."""
        self.proc.max_insns = self.block_limit(pc)
        return self._translate(pc)

    def load(self, start: int, code: bytes, mem: bytes | None) -> None:
        """Write `code` at `start` (dropping its translations) and the data window (unless
        `mem` is None)."""
        m = self.proc.mem.mem
        self.proc.tbs.invalidate_range(start, len(code))
        m[start:start + len(code)] = code
        if mem is not None:
            m[DATA_BASE:DATA_BASE + self.data_size] = mem

    def execute(self, pc: int, end: int, max_blocks: int) -> str | None:
        """Run blocks from `pc` until one ends at `end` (at most `max_blocks`): None, or
        the exception that stopped the run (cpu.pc: where it stopped)."""
        cpu = self.cpu
        cpu.pc = pc
        fault = None
        try:
            fn = self.proc.tbs.lookup(pc)
            blocks = 0
            while fn.guest_pc & ~self.pc_flags != end:
                if blocks == max_blocks:
                    fault = "pyqemu: still running"
                    break
                fn = fn(cpu, cpu.regs)
                blocks += 1
            cpu.pc = fn.guest_pc
        except GuestException as e:
            fault = e.kind
        except InternalError as e:  # a pyqemu bug: reported as a mismatch, with its instruction
            fault = f"pyqemu {e}"
        return fault

    def read_data(self, compared: bool) -> bytes | None:
        """The data window, if `compared` (else None)."""
        return bytes(self.proc.mem.mem[DATA_BASE:DATA_BASE + self.data_size]) if compared else None


class PyqemuRunner(ProcessRunner):
    """pyqemu's A64 translator."""

    def __init__(self) -> None:
        super().__init__()
        self._limit = 1
        self._end = 0

    def block_limit(self, pc: int) -> int:
        n = self._limit
        if pc < self._end:
            n = min(n, (self._end - pc) // 4)
        return n

    def run(self, words: Sequence[int], init: State, start: int = CODE_BASE,
            max_insns: int | None = None, max_blocks: int = 10000) -> State:
        """Run `words` (a fresh translation, blocks of at most `max_insns`)."""
        cpu = self.cpu
        code = _code_bytes(words)
        self.load(start, code, init.mem)
        self._limit = max_insns or max(len(words), 1)
        self._end = start + len(code)
        R = cpu.regs
        R[0:31] = init.x
        R[C.REG_SP] = init.sp
        cpu.nzcv = init.nzcv
        R[C.REG_FPCR] = init.fpcr
        R[C.REG_FPSR] = init.fpsr
        if init.v is not None:
            R[C.REG_V0:C.REG_V0 + 32] = init.v
        fault = self.execute(start, self._end, max_blocks)
        v = R[C.REG_V0:C.REG_V0 + 32] if init.v is not None else None
        return State(R[0:31], sp=R[C.REG_SP], nzcv=cpu.nzcv, v=v, fpcr=R[C.REG_FPCR], fpsr=R[C.REG_FPSR],
                     mem=self.read_data(init.mem is not None), pc=cpu.pc, fault=fault)


# --- comparing ---------------------------------------------------------------------------------


def disasm(word: int, pc: int = 0) -> str:
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    for i in md.disasm(word.to_bytes(4, "little"), pc):
        return f"{i.mnemonic} {i.op_str}".strip()
    return ".inst"


@dataclass
class DiffTester:
    """Both emulators, kept for many runs (creating them is the expensive part)."""

    vregs: bool = False
    uc: UnicornRunner = field(default_factory=UnicornRunner)
    pq: PyqemuRunner = field(default_factory=PyqemuRunner)
    cases: int = 0  # instructions compared so far

    def compare(self, words: Sequence[int], init: State, max_insns: int | None = None,
                start: int = CODE_BASE) -> tuple[State, State, list[str]]:
        if not self.vregs:
            init = replace(init, v=None)
        ref = self.uc.run(words, init, start)
        got = self.pq.run(words, init, start, max_insns)
        self.cases += len(words)
        return ref, got, ref.diff(got)

    def check(self, words: Sequence[int], init: State, max_insns: int | None = None,
              start: int = CODE_BASE) -> None:
        """Assert that pyqemu ends in the same state as Unicorn; on a mismatch,
        find the first instruction that diverges and describe it."""
        _, _, diff = self.compare(words, init, max_insns, start)
        if diff:
            raise AssertionError(self.report(words, init, max_insns, start, diff))

    def report(self, words: Sequence[int], init: State, max_insns: int | None, start: int,
               diff: list[str]) -> str:
        lines = [f"pyqemu differs from Unicorn after {len(words)} instructions "
                 f"(max_insns={max_insns}):"] + ["  " + d for d in diff]
        for k in range(1, len(words) + 1):
            before = self.uc.run(words[:k - 1], init, start) if k > 1 else init
            _, _, d = self.compare(words[:k], init, max_insns, start)
            if d:
                pc = start + 4 * (k - 1)
                lines.append(f"first divergence at instruction {k - 1} ({pc:#x}): "
                             f"{words[k - 1]:08x}  {disasm(words[k - 1], pc)}")
                lines.append("  state before: " + before.describe())
                lines += ["  " + x for x in d]
                break
        else:
            lines.append("(no prefix diverges on its own: depends on block splitting)")
        lines.append("block:")
        lines += [f"  {start + 4 * i:#x}: {w:08x}  {disasm(w, start + 4 * i)}" for i, w in enumerate(words)]
        lines.append("initial state: " + init.describe())
        return "\n".join(lines)
