"""Floating point helpers (target/arm/helper_fp.py) against an exact model, and
the special-value matrix of every FP operation against Unicorn.

The model computes each result as an exact rational (``fractions.Fraction``)
and rounds it to the format by the IEEE 754 definition, independently of
pyqemu's integer rounding code and of its float fast paths; results and the
FPSR flags they raise (IXC, UFC, OFC, IOC) must agree bit for bit, in every
rounding mode, for half, single and double precision.
"""
from __future__ import annotations

import math
import random
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from pyqemu.target.arm import helper_fp as F
from pyqemu.target.arm.trans_a64_fp import vfp_expand_imm
from pyqemu.target.arm.trans_a64_simd import adv_simd_expand_imm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FMTS = {1: (5, 10), 2: (8, 23), 3: (11, 52)}
RMODES = (F.RN, F.RP, F.RM, F.RZ)


# --- the exact model ------------------------------------------------------------------------------

def decode(bits: int, esz: int) -> Fraction:
    eb, fb = FMTS[esz]
    bias = (1 << (eb - 1)) - 1
    sign = bits >> (eb + fb)
    e = (bits >> fb) & ((1 << eb) - 1)
    m = bits & ((1 << fb) - 1)
    v = Fraction(m, 1 << fb) * Fraction(2) ** (1 - bias) if e == 0 else \
        (1 + Fraction(m, 1 << fb)) * Fraction(2) ** (e - bias)
    return -v if sign else v


def _floor_log2(a: Fraction) -> int:
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    return e


def _pick(lo: int, exact: bool, above_half: int, sign: bool, rm: int) -> int:
    """Choose lo or lo+1; above_half is -1/0/+1 for below/at/above the midpoint."""
    if exact:
        return lo
    if rm == F.RN:
        return lo + 1 if above_half > 0 or (above_half == 0 and lo & 1) else lo
    if rm == F.RA:
        return lo + 1 if above_half >= 0 else lo
    if rm == F.RZ:
        return lo
    if rm == F.RP:
        return lo if sign else lo + 1
    return lo + 1 if sign else lo


def model_round(q: Fraction, esz: int, rm: int, sqrt: bool = False) -> tuple[int, int]:
    """(bits, flags) of the exact value q (or sqrt(q) when `sqrt`), q != 0."""
    eb, fb = FMTS[esz]
    bias = (1 << (eb - 1)) - 1
    emin = 1 - bias
    sign = q < 0
    a = abs(q)
    e = _floor_log2(a) // 2 if sqrt else _floor_log2(a)
    qe = max(e, emin) - fb
    if sqrt:
        t = a / Fraction(4) ** qe  # sqrt(a) / 2**qe == sqrt(t)
        lo = math.isqrt(math.floor(t))
        exact = lo * lo == t
        d = Fraction((2 * lo + 1) ** 2, 4) - t
    else:
        n = a / Fraction(2) ** qe
        lo = math.floor(n)
        exact = lo == n
        d = Fraction(2 * lo + 1, 2) - n
    above = -1 if d > 0 else (0 if d == 0 else 1)
    k = _pick(lo, exact, above, sign, rm)
    flags = 0 if exact else F.IXC
    if e < emin and not exact:
        flags |= F.UFC
    if k >> (fb + 1):
        k >>= 1
        qe += 1
    sbit = int(sign) << (eb + fb)
    if k >> fb and qe + fb + bias >= (1 << eb) - 1:
        to_inf = rm in (F.RN, F.RA) or (rm == F.RP and not sign) or (rm == F.RM and sign)
        big = ((1 << eb) - 1) << fb if to_inf else (((1 << eb) - 2) << fb) | ((1 << fb) - 1)
        return sbit | big, F.OFC | F.IXC
    if not k >> fb:
        return sbit | k, flags
    return sbit | ((qe + fb + bias) << fb) | (k - (1 << fb)), flags


def rand_finite(rng: random.Random, esz: int) -> int:
    eb, fb = FMTS[esz]
    r = rng.random()
    if r < 0.15:
        e = 0  # subnormal
    elif r < 0.3:
        e = rng.choice((1, 2, (1 << eb) - 2, (1 << eb) - 3))
    else:
        bias = (1 << (eb - 1)) - 1
        e = max(1, min((1 << eb) - 2, bias + rng.randrange(-(fb + 3), fb + 3)))
    m = rng.getrandbits(fb) >> rng.choice((0, 0, 0, rng.randrange(fb)))
    if e == 0 and m == 0:
        m = 1
    return (rng.getrandbits(1) << (eb + fb)) | (e << fb) | m


def _split(r: int) -> tuple[int, int]:
    return r & ((1 << 64) - 1), r >> 64


OPS = {
    "add": (lambda a, b, c, rm, e: F.add(a, b, rm << 22, e), lambda x, y, z: x + y),
    "sub": (lambda a, b, c, rm, e: F.sub(a, b, rm << 22, e), lambda x, y, z: x - y),
    "mul": (lambda a, b, c, rm, e: F.mul(a, b, rm << 22, e), lambda x, y, z: x * y),
    "div": (lambda a, b, c, rm, e: F.div(a, b, rm << 22, e), lambda x, y, z: x / y),
    "fma": (lambda a, b, c, rm, e: F.fma(c, a, b, rm << 22, e), lambda x, y, z: z + x * y),
    "recps": (lambda a, b, c, rm, e: F.recps(a, b, rm << 22, e), lambda x, y, z: 2 - x * y),
    "rsqrts": (lambda a, b, c, rm, e: F.rsqrts(a, b, rm << 22, e), lambda x, y, z: (3 - x * y) / 2),
}


@pytest.mark.parametrize("esz", (1, 2, 3))
@pytest.mark.parametrize("op", sorted(OPS))
def test_arith_matches_exact_model(op: str, esz: int) -> None:
    fn, exact = OPS[op]
    rng = random.Random(f"{op}/{esz}")
    for i in range(1500):
        a, b, c = (rand_finite(rng, esz) for _ in range(3))
        if op == "add" and i % 5 == 0:
            b = a ^ (1 << ((8 << esz) - 1)) ^ rng.getrandbits(3)  # cancellation
        rm = RMODES[i % 4]
        q = exact(decode(a, esz), decode(b, esz), decode(c, esz))
        if q == 0:
            continue
        got = _split(fn(a, b, c, rm, esz))
        assert got == model_round(q, esz, rm), f"{op} {a:#x} {b:#x} {c:#x} rm={rm}: {got}"


@pytest.mark.parametrize("esz", (1, 2, 3))
def test_sqrt_matches_exact_model(esz: int) -> None:
    rng = random.Random(esz)
    for i in range(1500):
        a = rand_finite(rng, esz) & ~(1 << ((8 << esz) - 1))
        if i % 7 == 0:  # perfect squares
            r = decode(a, esz)
            sq = model_round(r * r, esz, F.RN)[0]
            if 0 < sq < F.FMT[esz].inf:
                a = sq
        rm = RMODES[i % 4]
        got = _split(F.sqrt(a, rm << 22, esz))
        assert got == model_round(decode(a, esz), esz, rm, sqrt=True), f"sqrt {a:#x} rm={rm}"


@pytest.mark.parametrize("pair", [(3, 2), (3, 1), (2, 1), (2, 3), (1, 2), (1, 3)])
def test_convert_matches_exact_model(pair: tuple[int, int]) -> None:
    src, dst = pair
    rng = random.Random(f"{src}{dst}")
    for i in range(1500):
        a = rand_finite(rng, src)
        rm = RMODES[i % 4]
        got = _split(F.convert(a, rm << 22, src, dst))
        assert got == model_round(decode(a, src), dst, rm), f"cvt {a:#x} rm={rm}"


def _model_to_int(q: Fraction, rm: int, signed: bool, bits: int) -> tuple[int, int]:
    lo = math.floor(q)
    if lo == q:
        v = lo
    else:
        d = Fraction(2 * lo + 1, 2) - q
        above = -1 if d > 0 else (0 if d == 0 else 1)
        if rm == F.RN:
            v = lo + 1 if above > 0 or (above == 0 and lo & 1) else lo
        elif rm == F.RA:  # ties away from zero: floor is the away side of a negative tie
            v = lo + 1 if above > 0 or (above == 0 and q > 0) else lo
        elif rm == F.RZ:
            v = lo if q > 0 else lo + 1
        elif rm == F.RP:
            v = lo + 1
        else:
            v = lo
    lo_lim, hi_lim = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if v < lo_lim or v > hi_lim:
        return min(max(v, lo_lim), hi_lim) & ((1 << bits) - 1), F.IOC
    return v & ((1 << bits) - 1), 0 if v == q else F.IXC


@pytest.mark.parametrize("esz", (1, 2, 3))
def test_to_int_matches_exact_model(esz: int) -> None:
    rng = random.Random(esz * 3)
    for i in range(2000):
        a = rand_finite(rng, esz)
        rm = (F.RN, F.RP, F.RM, F.RZ, F.RA)[i % 5]
        signed = bool(i & 8)
        bits = (32, 64)[i >> 4 & 1]
        fbits = rng.choice((0, 0, 0, 5, bits - 1))
        got = _split(F.to_int(a, 0, esz, rm, signed, bits, fbits))
        q = decode(a, esz) * 2 ** fbits
        assert got == _model_to_int(q, rm, signed, bits), f"{a:#x} rm={rm} s={signed} {bits} fb={fbits}"


@pytest.mark.parametrize("esz", (1, 2, 3))
def test_from_int_matches_exact_model(esz: int) -> None:
    rng = random.Random(esz * 5)
    for i in range(2000):
        bits = (32, 64)[i & 1]
        v = rng.getrandbits(bits) >> rng.randrange(bits)
        signed = bool(i & 2)
        fbits = rng.choice((0, 0, 3, bits))
        rm = RMODES[i >> 2 & 3]
        got = _split(F.from_int(v, rm << 22, esz, signed, bits, fbits))
        sv = v - (1 << bits) if signed and v >> (bits - 1) else v
        if sv == 0:
            assert got == (0, 0)
            continue
        assert got == model_round(Fraction(sv, 1 << fbits), esz, rm), f"{v:#x} s={signed} fb={fbits} rm={rm}"


@pytest.mark.parametrize("esz", (1, 2, 3))
def test_round_int_matches_exact_model(esz: int) -> None:
    rng = random.Random(esz * 7)
    for i in range(2000):
        a = rand_finite(rng, esz)
        rm = (F.RN, F.RP, F.RM, F.RZ, F.RA)[i % 5]
        exact = bool(i & 8)
        got = _split(F.round_int(a, 0, esz, rm, exact))
        q = decode(a, esz)
        v, fl = _model_to_int(q, rm, True, 2048)
        if v >> 2047:
            v -= 1 << 2048
        sign_bit = a >> ((8 << esz) - 1)
        want = (sign_bit << ((8 << esz) - 1)) if v == 0 else model_round(Fraction(v), esz, F.RZ)[0]
        assert got == (want, fl if exact else 0), f"frint {a:#x} rm={rm} x={exact}"


# --- directed cases ------------------------------------------------------------------------------

def test_nan_rules() -> None:
    qa, qb, sa, sb = 0x7FF8000000000001, 0xFFF8000000000002, 0x7FF0000000000003, 0xFFF0000000000004
    one = 0x3FF0000000000000
    assert _split(F.add(qa, qb, 0, 3)) == (qa, 0)  # first operand's quiet NaN
    assert _split(F.add(qa, sb, 0, 3)) == (sb | 1 << 51, F.IOC)  # a signalling NaN wins, quietened
    assert _split(F.add(sa, qb, 0, 3)) == (sa | 1 << 51, F.IOC)
    assert _split(F.mul(one, qb, F.DN, 3)) == (0x7FF8000000000000, 0)  # default NaN
    inf = 0x7FF0000000000000
    assert _split(F.sub(inf, inf, 0, 3)) == (0x7FF8000000000000, F.IOC)
    assert _split(F.fmaxnm(qa, one, 0, 3)) == (one, 0)
    assert _split(F.fmaxnm(sa, one, 0, 3)) == (sa | 1 << 51, F.IOC)
    assert _split(F.fmin(0, 1 << 63, 0, 3))[0] == 1 << 63
    assert _split(F.fmax(0, 1 << 63, 0, 3))[0] == 0
    # FMADD: inf * 0 + qNaN is the default NaN with Invalid
    assert _split(F.fma(qa, inf, 0, 0, 3)) == (0x7FF8000000000000, F.IOC)


def test_flush_to_zero() -> None:
    tiny = 0x0000000000000001
    assert _split(F.add(tiny, 0, F.FZ, 3)) == (0, F.IDC)
    # a result below the normal range flushes to zero with only UFC
    small = 0x0010000000000000  # DBL_MIN
    assert _split(F.mul(small, 0x3FE0000000000000, F.FZ, 3)) == (0, F.UFC)
    assert _split(F.mul(small, 0x3FE0000000000000, 0, 3)) == (0x0008000000000000, 0)


def test_compare_flags() -> None:
    q, s, one = 0x7FC00000, 0x7F800001, 0x3F800000
    assert F.fcmp(one, one, 0, 2, False) == 0x60000000
    assert F.fcmp(0, one, 0, 2, False) == 0x80000000
    assert F.fcmp(q, one, 0, 2, False) == 0x30000000
    assert F.fcmp(q, one, 0, 2, True) == 0x30000000 | F.IOC << 32
    assert F.fcmp(s, one, 0, 2, False) == 0x30000000 | F.IOC << 32
    assert F.fcmp(0, 0x80000000, 0, 2, False) == 0x60000000


def test_expand_immediates() -> None:
    assert vfp_expand_imm(0x70, 3) == 0x3FF0000000000000  # 1.0
    assert vfp_expand_imm(0x70, 2) == 0x3F800000
    assert vfp_expand_imm(0x70, 1) == 0x3C00
    assert vfp_expand_imm(0x00, 3) == 0x4000000000000000  # 2.0
    assert vfp_expand_imm(0xFF, 2) == 0xBFF80000  # -1.9375
    assert adv_simd_expand_imm(1, 0xE, 0xA5) == 0xFF00FF0000FF00FF
    assert adv_simd_expand_imm(0, 0xC, 0x12) == 0x000012FF000012FF
    assert adv_simd_expand_imm(0, 0xD, 0x12) == 0x0012FFFF0012FFFF
    assert adv_simd_expand_imm(0, 0x2, 0xAB) == 0x0000AB000000AB00
    assert adv_simd_expand_imm(0, 0xA, 0xAB) == 0xAB00AB00AB00AB00


def test_estimates() -> None:
    # FRECPE(1.0) = 0.998046875, FRSQRTE(1.0) = 0.998046875, FRSQRTE(4.0) = 0.4990234375
    assert F.recpe(0x3F800000, 0, 2) == 0x3F7F8000
    assert F.rsqrte(0x3F800000, 0, 2) == 0x3F7F8000
    assert F.rsqrte(0x40800000, 0, 2) == 0x3EFF8000
    assert _split(F.recpe(0, 0, 3)) == (0x7FF0000000000000, F.DZC)


# --- the special-value matrix against Unicorn ----------------------------------------------------

SPECIAL = {
    2: (0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001, 0xFF812345,
        0x00000001, 0x807FFFFF, 0x00800000, 0x80800001, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000, 0xBF800000,
        0x3F000000, 0x40490FDB, 0x4F000000, 0xCF000001, 0x5F800000, 0x3EFFFFFF),
    3: (0, 1 << 63, 0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000001,
        0x7FF0000000000001, 0xFFF0000000012345, 1, 0x800FFFFFFFFFFFFF, 0x0010000000000000,
        0x8010000000000001, 0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF, 0x3FF0000000000000,
        0xBFF0000000000000, 0x3FE0000000000000, 0x400921FB54442D18, 0x41E0000000000000,
        0xC3E0000000000001, 0x43F0000000000000, 0x3FDFFFFFFFFFFFFF),
}

# Vector FP three-same (Vd = op(Vn, Vm)), opcodes as "u:a:opcode"; sz is set per element size.
VEC3 = {"fadd": (0, 0, 0x1A), "fsub": (0, 1, 0x1A), "fmul": (1, 0, 0x1B), "fdiv": (1, 0, 0x1F),
        "fmax": (0, 0, 0x1E), "fmin": (0, 1, 0x1E), "fmaxnm": (0, 0, 0x18), "fminnm": (0, 1, 0x18),
        "fmulx": (0, 0, 0x1B), "fabd": (1, 1, 0x1A), "frecps": (0, 0, 0x1F), "frsqrts": (0, 1, 0x1F),
        "fcmeq": (0, 0, 0x1C), "fcmge": (1, 0, 0x1C), "fcmgt": (1, 1, 0x1C), "facgt": (1, 1, 0x1D),
        "fmla": (0, 0, 0x19), "fmls": (0, 1, 0x19), "faddp": (1, 0, 0x1A)}
FPCRS = (0, 1 << 22, 2 << 22, 3 << 22, 1 << 24, 1 << 25)


def _vec3(u: int, a: int, opc: int, sz: int, rd: int, rn: int, rm: int) -> int:
    return (1 << 30 | u << 29 | 0b01110 << 24 | a << 23 | sz << 22 | 1 << 21 | rm << 16 | opc << 11 | 1 << 10
            | rn << 5 | rd)


@pytest.fixture(scope="module")
def dt():
    pytest.importorskip("unicorn")
    from difftest import DiffTester
    return DiffTester(vregs=True)


@pytest.mark.parametrize("esz", (2, 3))
@pytest.mark.parametrize("op", sorted(VEC3))
def test_special_matrix(dt, op: str, esz: int) -> None:
    """Every pair of special values through one vector FP instruction, in each FPCR mode."""
    from difftest import State
    u, a, opc = VEC3[op]
    vals = SPECIAL[esz]
    w = 8 << esz
    lanes = 128 // w
    pairs = [(x, y) for x in vals for y in vals]
    rng = random.Random(op)
    for fpcr in FPCRS:
        for start in range(0, len(pairs), 8 * lanes):
            chunk = pairs[start:start + 8 * lanes]
            v = [rng.getrandbits(128) for _ in range(32)]
            words = []
            for k in range(0, len(chunk), lanes):
                group = chunk[k:k + lanes]
                n = k // lanes
                v[n] = sum(x << (w * i) for i, (x, _) in enumerate(group))
                v[8 + n] = sum(y << (w * i) for i, (_, y) in enumerate(group))
                words.append(_vec3(u, a, opc, esz - 2, 16 + n, n, 8 + n))
            init = State([0] * 31, v=v, fpcr=fpcr)
            dt.check(words, init)
