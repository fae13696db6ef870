"""A64 integer data processing (immediate and register classes): pyqemu against Unicorn.

Each group runs blocks of random instructions of that group from random,
edge-biased register values, as one translation block or split into smaller
ones (the flag logic differs between the two: conditions inside a block are
evaluated from the lazy-flag operands, at a block start from NZCV). Half the
blocks end with an unallocated variant of the group's encodings: both
emulators must raise SIGILL on it (and agree on everything before it).

The default run uses a fixed seed; ``-m random`` runs a larger variant with a
fresh seed (printed on failure; set PYQEMU_DIFF_SEED to replay one).
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from difftest import (  # noqa: E402
    CODE_BASE,
    NATIVE_DIVISOR,
    DiffTester,
    Encoding,
    PyqemuRunner,
    State,
    rand_u64,
    random_state,
)

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1

# --- valid-encoding predicates (ARM ARM C4.1.86 / C4.1.88), written independently of pyqemu ---


def _bitmask_ok(f: dict) -> bool:
    """DecodeBitMasks(N, imms, immr, immediate=TRUE) is defined."""
    if not f["sf"] and f["n"]:
        return False
    combined = (f["n"] << 6) | (~f["imms"] & 0x3F)
    if combined == 0:
        return False
    esize = 1 << (combined.bit_length() - 1)
    if esize < 2:
        return False
    return (f["imms"] & (esize - 1)) != esize - 1


def _shift_ok(f: dict) -> bool:
    return f.get("shift", 0) != 3 and (f["sf"] or f["imm"] < 32)


def _dp3_ok(f: dict) -> bool:
    if f["op54"]:
        return False
    if f["op31"] == 0:
        return True
    return f["sf"] == 1 and (f["op31"] in (1, 5) or (f["op31"] in (2, 6) and f["o0"] == 0))


def _sometimes(value: int, p: float = 0.9):
    """A field that is `value` with probability `p`, anything else otherwise."""
    def pick(rng: random.Random) -> int:
        return value if rng.random() < p else rng.getrandbits(8)
    return pick


# --- encodings by group ----------------------------------------------------------------------------

LOGIC_SHIFT = [Encoding("logic_shift", "sf:1 opc:2 01010 shift:2 n:1 rm:5 imm:6 rn:5 rd:5",
                        valid=lambda f: f["sf"] or f["imm"] < 32)]
ADDSUB_SHIFT = [Encoding("addsub_shift", "sf:1 op:1 s:1 01011 shift:2 0 rm:5 imm:6 rn:5 rd:5",
                         valid=_shift_ok)]
ADDSUB_EXT = [Encoding("addsub_ext", "sf:1 op:1 s:1 01011 opt:2 1 rm:5 option:3 imm:3 rn:5 rd:5",
                       valid=lambda f: f["opt"] == 0 and f["imm"] <= 4,
                       opt=_sometimes(0), imm=(0, 0, 1, 2, 3, 4, 5, 6, 7))]
CARRY = [Encoding("adc", "sf:1 op:1 s:1 11010000 rm:5 000000 rn:5 rd:5")]
FLAGM = [Encoding("rmif", "1 01 11010000 imm:6 00001 rn:5 0 mask:4"),
         Encoding("setf", "0 01 11010000 000000 sz:1 0010 rn:5 01101")]
CCMP = [Encoding("ccmp", "sf:1 op:1 s:1 11010010 y:5 cond:4 imm:1 o2:1 rn:5 o3:1 nzcv:4",
                 valid=lambda f: f["s"] == 1 and f["o2"] == 0 and f["o3"] == 0)]
CSEL = [Encoding("csel", "sf:1 op:1 s:1 11010100 rm:5 cond:4 o2:1 inc:1 rn:5 rd:5",
                 valid=lambda f: f["s"] == 0 and f["o2"] == 0)]
DP2 = [Encoding("div_shift", "sf:1 0 s:1 11010110 rm:5 opcode:6 rn:5 rd:5",
                valid=lambda f: f["s"] == 0, opcode=(2, 3, 8, 9, 10, 11)),
       Encoding("crc32", "sf:1 0 0 11010110 rm:5 010 c:1 sz:2 rn:5 rd:5",
                valid=lambda f: f["sf"] == (f["sz"] == 3))]
# opcode2 stays 00000 (00001 is PAuth, which Unicorn's max CPU has and pyqemu does not
# advertise); CTZ/CNT/ABS (FEAT_CSSC) are beyond Unicorn and tested separately below.
DP1 = [Encoding("dp1", "sf:1 1 s:1 11010110 00000 opcode:6 rn:5 rd:5",
                valid=lambda f: f["s"] == 0 and (f["sf"] or f["opcode"] != 3),
                opcode=range(6))]
DP3 = [Encoding("dp3", "sf:1 op54:2 11011 op31:3 rm:5 o0:1 ra:5 rn:5 rd:5", valid=_dp3_ok,
                op31=(0, 0, 0, 1, 2, 5, 6, 3, 4, 7))]

PCREL = [Encoding("adr", "op:1 immlo:2 10000 immhi:19 rd:5")]
ADDSUB_IMM = [Encoding("addsub_imm", "sf:1 op:1 s:1 100010 sh:1 imm:12 rn:5 rd:5",
                       imm=lambda r: r.choice((0, 1, 0xFFF, 0x800, r.getrandbits(12))))]
LOGIC_IMM = [Encoding("logic_imm", "sf:1 opc:2 100100 n:1 immr:6 imms:6 rn:5 rd:5",
                      valid=_bitmask_ok)]
MOVW = [Encoding("movw", "sf:1 opc:2 100101 hw:2 imm:16 rd:5",
                 valid=lambda f: f["opc"] != 1 and (f["sf"] or f["hw"] < 2),
                 imm=lambda r: r.choice((0, 0xFFFF, 0x8000, r.getrandbits(16))))]
BITFIELD = [Encoding("bitfield", "sf:1 opc:2 100110 n:1 immr:6 imms:6 rn:5 rd:5",
                     valid=lambda f: f["opc"] != 3 and f["n"] == f["sf"]
                     and (f["sf"] or (f["immr"] < 32 and f["imms"] < 32)))]
EXTRACT = [Encoding("extr", "sf:1 op21:2 100111 n:1 o0:1 rm:5 imms:6 rn:5 rd:5",
                    valid=lambda f: f["op21"] == 0 and f["o0"] == 0 and f["n"] == f["sf"]
                    and (f["sf"] or f["imms"] < 32), op21=_sometimes(0, 0.8), o0=_sometimes(0, 0.8))]

# Flag producers and consumers together: conditions read the lazy flags of the
# previous instructions, in the same block and across block boundaries.
FLAGS_MIX = (ADDSUB_SHIFT + ADDSUB_EXT + LOGIC_SHIFT + CARRY + CARRY + CCMP + CCMP + CSEL + CSEL
             + FLAGM + ADDSUB_IMM + LOGIC_IMM)


def rand_div(rng: random.Random) -> int:
    """Operands for division: heavy on 0, +-1 and the most negative values."""
    if rng.random() < 0.5:
        return rng.choice((0, 1, M64, 1 << 63, 0x80000000, M32, 0xFFFFFFFF80000000, 2, M64 - 1))
    return rand_u64(rng)


# group -> (encodings, operand generator, relative number of blocks)
GROUPS = {
    "logic_shift": (LOGIC_SHIFT, rand_u64, 300),
    "addsub_shift": (ADDSUB_SHIFT, rand_u64, 300),
    "addsub_ext": (ADDSUB_EXT, rand_u64, 300),
    "carry": (CARRY, rand_u64, 200),
    "flagm": (FLAGM, rand_u64, 100),
    "ccmp": (CCMP, rand_u64, 200),
    "csel": (CSEL, rand_u64, 200),
    "dp2": (DP2, rand_div, 300),
    "dp1": (DP1, rand_u64, 250),
    "dp3": (DP3, rand_u64, 300),
    "pcrel": (PCREL, rand_u64, 60),
    "addsub_imm": (ADDSUB_IMM, rand_u64, 200),
    "logic_imm": (LOGIC_IMM, rand_u64, 250),
    "movw": (MOVW, rand_u64, 150),
    "bitfield": (BITFIELD, rand_u64, 300),
    "extract": (EXTRACT, rand_u64, 150),
    "flags_mix": (FLAGS_MIX, rand_u64, 800),
}
BLOCK = 32  # instructions per block
SCALE = 5  # blocks per unit of the GROUPS weights: ~700k instructions in about a minute
RANDOM_SCALE = 3  # the -m random run: this many times the default, with a fresh seed


@pytest.fixture(scope="module")
def dt() -> DiffTester:
    return DiffTester()


def run_group(dt: DiffTester, group: str, seed: int, nblocks: int) -> None:
    encs, value, _ = GROUPS[group]
    rng = random.Random(f"{group}/{seed}")
    for i in range(nblocks):
        words = [rng.choice(encs).gen(rng) for _ in range(BLOCK)]
        if rng.random() < 0.5:
            words[-1] = rng.choice(encs).gen_invalid(rng) or words[-1]
        init = random_state(rng, value=value, mem_size=0)
        # mostly one block; sometimes one instruction per block or short blocks
        max_insns = rng.choice((None, None, None, None, 1, rng.randrange(2, 8)))
        start = CODE_BASE + 4 * rng.randrange(1024 - BLOCK)  # ADR/ADRP see varied pcs
        try:
            dt.check(words, init, max_insns, start)
        except AssertionError as e:
            raise AssertionError(f"group {group}, seed {seed}, block {i}:\n{e}") from None


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_group(dt: DiffTester, group: str) -> None:
    before = dt.cases
    n = max(GROUPS[group][2] * SCALE // NATIVE_DIVISOR, 1)
    run_group(dt, group, 1, n)
    assert dt.cases - before == n * BLOCK


@pytest.mark.random
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_group_random(dt: DiffTester, group: str) -> None:
    seed = int(os.environ.get("PYQEMU_DIFF_SEED", "0")) or random.randrange(1 << 32)
    run_group(dt, group, seed, GROUPS[group][2] * SCALE * RANDOM_SCALE)


# --- directed cases the random blocks are unlikely to hit --------------------------------------------

def _enc(layout: str, **f: int) -> int:
    return Encoding("directed", layout).encode(f)


DIV = "sf:1 0 0 11010110 rm:5 00001 u:1 rn:5 rd:5"  # u: 0 UDIV, 1 SDIV


@pytest.mark.parametrize("sf", (0, 1))
def test_division_edges(dt: DiffTester, sf: int) -> None:
    vals = (0, 1, 2, M64, M64 - 1, 1 << 63, (1 << 63) - 1, 0x80000000, 0x7FFFFFFF, M32, 0xFFFFFFFF80000000)
    rng = random.Random(7)
    for n in vals:
        for m in vals:
            init = random_state(rng, mem_size=0)
            init.x[1], init.x[2] = n, m
            words = [_enc(DIV, sf=sf, rm=2, u=0, rn=1, rd=3), _enc(DIV, sf=sf, rm=2, u=1, rn=1, rd=4)]
            dt.check(words, init)


def test_adc_carry_chain(dt: DiffTester) -> None:
    """128-bit add/sub through ADDS/ADCS and SUBS/SBCS with carries at every edge."""
    adds = _enc("1 01 01011 00 0 rm:5 000000 rn:5 rd:5", rm=2, rn=0, rd=4)
    adcs = _enc("1 01 11010000 rm:5 000000 rn:5 rd:5", rm=3, rn=1, rd=5)
    subs = _enc("1 11 01011 00 0 rm:5 000000 rn:5 rd:5", rm=2, rn=0, rd=6)
    sbcs = _enc("1 11 11010000 rm:5 000000 rn:5 rd:5", rm=3, rn=1, rd=7)
    vals = (0, 1, M64, 1 << 63, (1 << 63) - 1)
    rng = random.Random(3)
    for a in vals:
        for b in vals:
            for c in vals:
                init = random_state(rng, mem_size=0)
                init.x[0:4] = [a, b, c, a ^ c]
                for max_insns in (None, 1):
                    dt.check([adds, adcs, subs, sbcs], init, max_insns)


def test_flags_outlive_their_operand_register(dt: DiffTester) -> None:
    """Flags of `bics xzr, x10, xzr` (the value of x10) are read after x10 is rewritten:
    the optimiser must not let the flag operand become an alias of x10."""
    bics = _enc("1 11 01010 00 1 11111 000000 rn:5 11111", rn=10)
    movz = _enc("1 10 100101 00 imm:16 rd:5", imm=0, rd=10)
    csinv_mi = _enc("1 1 0 11010100 rm:5 0100 0 0 rn:5 rd:5", rm=21, rn=2, rd=0)
    csel_eq = _enc("1 0 0 11010100 rm:5 0000 0 0 rn:5 rd:5", rm=21, rn=2, rd=1)
    for x10 in (0, 1, 1 << 63, M64):
        init = random_state(random.Random(x10), mem_size=0)
        init.x[10] = x10
        dt.check([bics, movz, csinv_mi, csel_eq], init)


# --- FEAT_CSSC: not in Unicorn 2 or QEMU 7.2; checked against a Python model -----------------------

def _s(x: int, w: int) -> int:
    return x - (1 << w) if x >> (w - 1) else x


def _cssc_model(op: str, n: int, m: int, w: int) -> int:
    mask = (1 << w) - 1
    n &= mask
    m &= mask
    if op == "abs":
        return abs(_s(n, w)) & mask
    if op == "cnt":
        return bin(n).count("1")
    if op == "ctz":
        return w if n == 0 else (n & -n).bit_length() - 1
    f = {"smax": max, "smin": min, "umax": max, "umin": min}[op]
    if op[0] == "s":
        return f(_s(n, w), _s(m, w)) & mask
    return f(n, m)


_CSSC_1SRC = {"ctz": 6, "cnt": 7, "abs": 8}
_CSSC_MINMAX = {"smax": 0, "umax": 1, "smin": 2, "umin": 3}


def test_cssc() -> None:
    pq = PyqemuRunner()
    rng = random.Random(11)
    for _ in range(300):
        sf = rng.randrange(2)
        w = 64 if sf else 32
        n, m = rand_u64(rng), rand_u64(rng)
        imm8 = rng.getrandbits(8)
        init = State([0] * 31)
        init.x[1], init.x[2] = n, m
        words, expect = [], []
        for op, opc in _CSSC_1SRC.items():
            words.append(_enc("sf:1 1 0 11010110 00000 opc:6 rn:5 rd:5", sf=sf, opc=opc, rn=1, rd=3))
            expect.append(_cssc_model(op, n, 0, w))
        for op, opc in _CSSC_MINMAX.items():
            words.append(_enc("sf:1 0 0 11010110 rm:5 0110 op:2 rn:5 rd:5", sf=sf, rm=2, op=opc, rn=1, rd=3))
            expect.append(_cssc_model(op, n, m, w))
            imm = (imm8 - 256 if opc & 1 == 0 and imm8 & 0x80 else imm8) & M64
            words.append(_enc("sf:1 0 0 100011 1 00 op:2 imm:8 rn:5 rd:5",
                              sf=sf, op=opc, imm=imm8, rn=1, rd=3))
            expect.append(_cssc_model(op, n, imm, w))
        for word, exp in zip(words, expect, strict=True):
            got = pq.run([word], init)
            assert got.fault is None, hex(word)
            assert got.x[3] == exp, f"{word:08x} n={n:#x} m={m:#x} imm8={imm8:#x}: {got.x[3]:#x} != {exp:#x}"


# --- the harness itself -------------------------------------------------------------------------------

class _Corrupting(PyqemuRunner):
    """pyqemu with a wrong result: X5 off by one after any run of 3+ instructions."""

    def run(self, words, init, *args, **kw) -> State:
        st = super().run(words, init, *args, **kw)
        if len(words) >= 3:
            st.x[5] ^= 1
        return st


def test_harness_reports_first_divergence() -> None:
    dt = DiffTester(vregs=True, pq=_Corrupting())
    rng = random.Random(5)
    words = [LOGIC_SHIFT[0].gen(rng) for _ in range(6)]
    init = random_state(rng, vregs=True)
    dt.check(words[:2], init)  # agrees, V registers and memory included
    with pytest.raises(AssertionError) as e:
        dt.check(words, init)
    msg = str(e.value)
    assert "X5: expected" in msg
    assert "first divergence at instruction 2 " in msg

