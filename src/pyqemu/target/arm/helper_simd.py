"""Advanced SIMD integer helpers: lane-wise operations on 128-bit Python ints.

A vector is an unsigned int; lane i of an `esz`-sized element (log2 of its
byte size) occupies bits [i*w, (i+1)*w) with w = 8 << esz, little endian.
`nbytes` is the operand width in bytes (8 or 16 for vectors, the element size
for scalars). Lanes are split and joined with ``int.to_bytes`` and memoryview
casts (done in C), so a generic helper costs a list comprehension over the
lanes. Saturating helpers return ``value | QC << 128`` when a lane saturated
(QC is FPSR bit 27; the translator ORs the bits above 128 into FPSR).

Some hot operations (the ones glibc's string functions use) have branch-free
SWAR forms on the whole 128-bit value, parameterised by per-size constants.
"""
from __future__ import annotations

from array import array

QC = 1 << 27
QCF = QC << 128  # the saturation flag, positioned for the translator
_UF = "BHIQ"
_SF = "bhiq"
NMASK = {n: (1 << (8 * n)) - 1 for n in range(1, 65)}


def lanes(x: int, esz: int, nbytes: int, signed: bool = False) -> memoryview:
    """The lanes of the low `nbytes` bytes of `x`."""
    return memoryview((x & NMASK[nbytes]).to_bytes(nbytes, "little")).cast((_SF if signed else _UF)[esz])


def join(vals, esz: int) -> int:
    """Lane values (already within the element width) back to an int."""
    return int.from_bytes(array(_UF[esz], vals).tobytes(), "little")


def join_m(vals, esz: int) -> int:
    """Like join, masking each value to the element width first."""
    m = (1 << (8 << esz)) - 1
    return int.from_bytes(array(_UF[esz], [v & m for v in vals]).tobytes(), "little")


def rep(val: int, esz: int, nbytes: int) -> int:
    """`val` replicated into every lane."""
    return val * (NMASK[nbytes] // ((1 << (8 << esz)) - 1))


def hi_bits(esz: int, nbytes: int) -> int:
    return rep(1 << ((8 << esz) - 1), esz, nbytes)


def _bounds(esz: int, signed: bool) -> tuple[int, int]:
    w = 8 << esz
    return (-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else (0, (1 << w) - 1)


def _sat(vals, esz: int, signed: bool) -> int:
    lo, hi = _bounds(esz, signed)
    m = (1 << (8 << esz)) - 1
    out = []
    q = 0
    for v in vals:
        if v > hi:
            v, q = hi, 1
        elif v < lo:
            v, q = lo, 1
        out.append(v & m)
    return join(out, esz) | (QCF if q else 0)


# --- SWAR building blocks (H = lane sign bits, L = the other bits) ------------------------------

def expand(hb: int, esz: int) -> int:
    """Lanes whose top bit is set in `hb` (and nothing else) -> all-ones lanes."""
    return (hb << 1) - (hb >> ((8 << esz) - 1))


def cmeq(a: int, b: int, H: int, esz: int) -> int:
    """CMEQ: all-ones lanes where a == b (within the lanes H covers)."""
    x = a ^ b
    L = (H >> ((8 << esz) - 1)) * ((1 << ((8 << esz) - 1)) - 1)
    t = (((x & L) + L) | x) & H
    return expand(t ^ H, esz)


def cmtst(a: int, b: int, H: int, esz: int) -> int:
    """CMTST: all-ones lanes where a & b != 0."""
    x = a & b
    L = (H >> ((8 << esz) - 1)) * ((1 << ((8 << esz) - 1)) - 1)
    return expand((((x & L) + L) | x) & H, esz)


def _lt_hb(a: int, b: int, H: int, esz: int) -> int:
    """Top bit set in each lane where a < b (unsigned)."""
    L = (H >> ((8 << esz) - 1)) * ((1 << ((8 << esz) - 1)) - 1)
    d = ((a | H) - (b & L)) ^ ((a ^ b ^ H) & H)
    return ((((H | L) ^ a) & b) | ((a ^ b ^ H) & d)) & H


def cmhi(a: int, b: int, H: int, esz: int) -> int:
    return expand(_lt_hb(b, a, H, esz), esz)


def cmhs(a: int, b: int, H: int, esz: int) -> int:
    return expand(_lt_hb(a, b, H, esz) ^ H, esz)


def cmgt(a: int, b: int, H: int, esz: int) -> int:
    return expand(_lt_hb(b ^ H, a ^ H, H, esz), esz)


def cmge(a: int, b: int, H: int, esz: int) -> int:
    return expand(_lt_hb(a ^ H, b ^ H, H, esz) ^ H, esz)


def vadd(a: int, b: int, H: int, M: int) -> int:
    """Lane-wise a + b; M = all lanes' mask (64 or 128 bits)."""
    L = M ^ H
    return ((a & L) + (b & L)) ^ ((a ^ b) & H)


def vsub(a: int, b: int, H: int, M: int) -> int:
    L = M ^ H
    return (((a | H) - (b & L)) ^ ((a ^ b ^ H) & H)) & M


def sshr(a: int, sh: int, esz: int, nbytes: int) -> int:
    """Arithmetic shift right of every lane by 0 < sh < width."""
    w = 8 << esz
    M = NMASK[nbytes]
    H = rep(1 << (w - 1), esz, nbytes)
    keep = rep((1 << (w - sh)) - 1, esz, nbytes)
    fill = ((1 << sh) - 1) << (w - sh)
    return ((a >> sh) & keep) | ((a & H) >> (w - 1)) * fill & M


# --- generic lane maps --------------------------------------------------------------------------

def map2(fn, a: int, b: int, esz: int, nbytes: int, signed: bool) -> int:
    return join_m([fn(x, y) for x, y in zip(lanes(a, esz, nbytes, signed), lanes(b, esz, nbytes, signed))],
                  esz)


def map3(fn, d: int, a: int, b: int, esz: int, nbytes: int, signed: bool) -> int:
    return join_m([fn(z, x, y) for z, x, y in zip(lanes(d, esz, nbytes, signed), lanes(a, esz, nbytes, signed),
                                                   lanes(b, esz, nbytes, signed))], esz)


def sat2(fn, a: int, b: int, esz: int, nbytes: int, signed_in: bool, signed_out: bool) -> int:
    return _sat([fn(x, y) for x, y in zip(lanes(a, esz, nbytes, signed_in), lanes(b, esz, nbytes, signed_in))],
                esz, signed_out)


# three same ---------------------------------------------------------------------------------------

def hadd(a, b, esz, nbytes, signed):
    return map2(lambda x, y: (x + y) >> 1, a, b, esz, nbytes, signed)


def rhadd(a, b, esz, nbytes, signed):
    return map2(lambda x, y: (x + y + 1) >> 1, a, b, esz, nbytes, signed)


def hsub(a, b, esz, nbytes, signed):
    return map2(lambda x, y: (x - y) >> 1, a, b, esz, nbytes, signed)


def qadd(a, b, esz, nbytes, signed):
    return sat2(lambda x, y: x + y, a, b, esz, nbytes, signed, signed)


def qsub(a, b, esz, nbytes, signed):
    return sat2(lambda x, y: x - y, a, b, esz, nbytes, signed, signed)


def vmax(a, b, esz, nbytes, signed):
    return join_m(map(max, lanes(a, esz, nbytes, signed), lanes(b, esz, nbytes, signed)), esz)


def vmin(a, b, esz, nbytes, signed):
    return join_m(map(min, lanes(a, esz, nbytes, signed), lanes(b, esz, nbytes, signed)), esz)


def abd(a, b, esz, nbytes, signed):
    return map2(lambda x, y: abs(x - y), a, b, esz, nbytes, signed)


def aba(d, a, b, esz, nbytes, signed):
    return map3(lambda z, x, y: z + abs(x - y), d, a, b, esz, nbytes, signed)


def mul(a, b, esz, nbytes):
    return map2(lambda x, y: x * y, a, b, esz, nbytes, False)


def mla(d, a, b, esz, nbytes):
    return map3(lambda z, x, y: z + x * y, d, a, b, esz, nbytes, False)


def mls(d, a, b, esz, nbytes):
    return map3(lambda z, x, y: z - x * y, d, a, b, esz, nbytes, False)


def _clmul8(x: int, y: int) -> int:
    r = 0
    for i in range(8):
        if y >> i & 1:
            r ^= x << i
    return r


def pmul(a, b, esz, nbytes):
    return map2(_clmul8, a, b, 0, nbytes, False)


def _shift(x: int, sh: int, rnd: bool) -> int:
    """x << sh for sh >= 0, else x >> -sh with optional rounding (exact ints)."""
    if sh >= 0:
        return x << sh
    if rnd:
        return (x + (1 << (-sh - 1))) >> -sh
    return x >> -sh


def shl_reg(a, b, esz, nbytes, signed, rnd, sat):
    """SSHL/USHL/SRSHL/URSHL/SQSHL/UQSHL/SQRSHL/UQRSHL by register: the shift is
    the signed low byte of each lane of b."""
    w = 8 << esz
    shs = [((v & 0xFF) ^ 0x80) - 0x80 for v in lanes(b, esz, nbytes)]
    vals = [_shift(x, max(sh, -w - 1), rnd) for x, sh in zip(lanes(a, esz, nbytes, signed), shs)]
    if sat:
        return _sat(vals, esz, signed)
    return join_m(vals, esz)


def qdmulh(a, b, esz, nbytes, rnd):
    w = 8 << esz
    rc = 1 << (w - 1) if rnd else 0
    return sat2(lambda x, y: (2 * x * y + rc) >> w, a, b, esz, nbytes, True, True)


def _pairs(a: int, b: int, esz: int, nbytes: int, signed: bool) -> tuple[list, list]:
    c = list(lanes(a, esz, nbytes, signed)) + list(lanes(b, esz, nbytes, signed))
    return c[0::2], c[1::2]


def addp(a, b, esz, nbytes):
    e, o = _pairs(a, b, esz, nbytes, False)
    return join_m(map(int.__add__, e, o), esz)


def maxp(a, b, esz, nbytes, signed):
    if esz == 0 and not signed:  # UMAXP .16B: the glibc string functions' "any byte set?"
        c = (a & NMASK[nbytes]).to_bytes(nbytes, "little") + (b & NMASK[nbytes]).to_bytes(nbytes, "little")
        return int.from_bytes(bytes(map(max, c[0::2], c[1::2])), "little")
    e, o = _pairs(a, b, esz, nbytes, signed)
    return join_m(map(max, e, o), esz)


def minp(a, b, esz, nbytes, signed):
    e, o = _pairs(a, b, esz, nbytes, signed)
    return join_m(map(min, e, o), esz)


# three different (long / wide / narrow-high) ----------------------------------------------------

def half(x: int, esz: int, part: int) -> int:
    """The low (part 0) or high (part 1) 64 bits of x."""
    return (x >> 64) & NMASK[8] if part else x & NMASK[8]


def widen(x: int, esz: int, signed: bool) -> int:
    """8 bytes of esz lanes -> 16 bytes of (esz+1) lanes, sign or zero extended."""
    return join_m(lanes(x, esz, 8, signed), esz + 1)


def long2(fn, a, b, esz, signed):
    """Long op on the (already selected) 64-bit halves a, b: results are 2*esize wide."""
    return join_m([fn(x, y) for x, y in zip(lanes(a, esz, 8, signed), lanes(b, esz, 8, signed))], esz + 1)


def addl(a, b, esz, signed):
    return long2(int.__add__, a, b, esz, signed)


def subl(a, b, esz, signed):
    return long2(int.__sub__, a, b, esz, signed)


def abdl(a, b, esz, signed):
    return long2(lambda x, y: abs(x - y), a, b, esz, signed)


def mull(a, b, esz, signed):
    return long2(int.__mul__, a, b, esz, signed)


def addw(a, b, esz, signed):
    """Wide: a has 2*esize lanes (16 bytes), b is the 64-bit half with esize lanes."""
    return join_m(map(int.__add__, lanes(a, esz + 1, 16, signed), lanes(b, esz, 8, signed)), esz + 1)


def subw(a, b, esz, signed):
    return join_m(map(int.__sub__, lanes(a, esz + 1, 16, signed), lanes(b, esz, 8, signed)), esz + 1)


def addhn(a, b, esz, sub_, rnd):
    """ADDHN/SUBHN/RADDHN/RSUBHN: high halves of 2*esize sums -> 64 bits of esize lanes."""
    w = 8 << esz
    rc = 1 << (w - 1) if rnd else 0
    la, lb = lanes(a, esz + 1, 16), lanes(b, esz + 1, 16)
    if sub_:
        return join_m([(x - y + rc) >> w for x, y in zip(la, lb)], esz)
    return join_m([(x + y + rc) >> w for x, y in zip(la, lb)], esz)


def qdmull(a, b, esz):
    """SQDMULL on 64-bit halves: 2*a*b saturated to 2*esize."""
    return _sat([2 * x * y for x, y in zip(lanes(a, esz, 8, True), lanes(b, esz, 8, True))], esz + 1, True)


def qdmlal(d, a, b, esz, sub_):
    """SQDMLAL/SQDMLSL: d +/- sat(2*a*b), saturating both steps."""
    p = qdmull(a, b, esz)
    q = p >> 128
    p &= NMASK[16]
    r = sat2(int.__sub__ if sub_ else int.__add__, d, p, esz + 1, 16, True, True)
    return r | (q << 128)


# two-register misc ------------------------------------------------------------------------------

def rev(x, esz, nbytes, cont):
    """REV16/32/64: reverse esz lanes inside containers of `cont` bytes."""
    n = cont >> esz
    v = list(lanes(x, esz, nbytes))
    out = []
    for i in range(0, len(v), n):
        out.extend(reversed(v[i:i + n]))
    return join(out, esz)


def addlp(x, esz, nbytes, signed):
    v = lanes(x, esz, nbytes, signed)
    return join_m(map(int.__add__, v[0::2], v[1::2]), esz + 1)


def adalp(d, x, esz, nbytes, signed):
    v = lanes(x, esz, nbytes, signed)
    return join_m(map(lambda z, p, q: z + p + q, lanes(d, esz + 1, nbytes), v[0::2], v[1::2]), esz + 1)


def sqaddacc(d, x, esz, nbytes, u):
    """SUQADD (u=0: signed d + unsigned x, signed result) / USQADD (u=1)."""
    if u:
        vals = map(int.__add__, lanes(d, esz, nbytes), lanes(x, esz, nbytes, True))
    else:
        vals = map(int.__add__, lanes(d, esz, nbytes, True), lanes(x, esz, nbytes))
    return _sat(list(vals), esz, not u)


def cls(x, esz, nbytes):
    w = 8 << esz
    out = []
    for v in lanes(x, esz, nbytes):
        t = (v ^ (v >> 1)) & ((1 << (w - 1)) - 1)
        out.append(w - 1 - t.bit_length())
    return join(out, esz)


def clz(x, esz, nbytes):
    w = 8 << esz
    return join([w - v.bit_length() for v in lanes(x, esz, nbytes)], esz)


_POP8 = bytes(bin(i).count("1") for i in range(256))
_RBIT8 = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def cnt(x, nbytes):
    return int.from_bytes((x & NMASK[nbytes]).to_bytes(nbytes, "little").translate(_POP8), "little")


def rbit(x, nbytes):
    return int.from_bytes((x & NMASK[nbytes]).to_bytes(nbytes, "little").translate(_RBIT8), "little")


def qabsneg(x, esz, nbytes, neg):
    v = lanes(x, esz, nbytes, True)
    return _sat([-a for a in v] if neg else [abs(a) for a in v], esz, True)


def absneg(x, esz, nbytes, neg):
    v = lanes(x, esz, nbytes, True)
    return join_m([-a for a in v] if neg else [abs(a) for a in v], esz)


def cmp0(x, esz, nbytes, op):
    """CMGT/CMGE/CMEQ/CMLE/CMLT against zero (op: gt ge eq le lt)."""
    m = (1 << (8 << esz)) - 1
    v = lanes(x, esz, nbytes, True)
    if op == "gt":
        r = [m if a > 0 else 0 for a in v]
    elif op == "ge":
        r = [m if a >= 0 else 0 for a in v]
    elif op == "eq":
        r = [m if a == 0 else 0 for a in v]
    elif op == "le":
        r = [m if a <= 0 else 0 for a in v]
    else:
        r = [m if a < 0 else 0 for a in v]
    return join(r, esz)


def xtn(x, esz):
    """16 bytes of (esz+1) lanes -> 8 bytes of their low halves."""
    return int.from_bytes(memoryview((x & NMASK[16]).to_bytes(16, "little")).cast(_UF[esz])[0::2].tobytes(),
                          "little")


def qxtn(x, esz, signed_in, signed_out):
    """SQXTN/UQXTN/SQXTUN: saturating narrow of 16 bytes of (esz+1) lanes."""
    return _sat(list(lanes(x, esz + 1, 16, signed_in)), esz, signed_out)


# across lanes -------------------------------------------------------------------------------------

def addv(x, esz, nbytes):
    return sum(lanes(x, esz, nbytes)) & ((1 << (8 << esz)) - 1)


def addlv(x, esz, nbytes, signed):
    return sum(lanes(x, esz, nbytes, signed)) & ((1 << (16 << esz)) - 1)


def maxv(x, esz, nbytes, signed):
    return max(lanes(x, esz, nbytes, signed)) & ((1 << (8 << esz)) - 1)


def minv(x, esz, nbytes, signed):
    return min(lanes(x, esz, nbytes, signed)) & ((1 << (8 << esz)) - 1)


# shifts by immediate -------------------------------------------------------------------------------

def shr_imm(x, sh, esz, nbytes, signed, rnd):
    """SSHR/USHR/SRSHR/URSHR by 1 <= sh <= width."""
    v = lanes(x, esz, nbytes, signed)
    if rnd:
        rc = 1 << (sh - 1)
        return join_m([(a + rc) >> sh for a in v], esz)
    return join_m([a >> sh for a in v], esz)


def sra_imm(d, x, sh, esz, nbytes, signed, rnd):
    """SSRA/USRA/SRSRA/URSRA: accumulate the shifted value."""
    rc = 1 << (sh - 1) if rnd else 0
    return join_m([z + ((a + rc) >> sh) for z, a in zip(lanes(d, esz, nbytes), lanes(x, esz, nbytes, signed))],
                  esz)


def sri(d, x, sh, esz, nbytes):
    w = 8 << esz
    if sh >= w:
        return d & NMASK[nbytes]
    keep = rep(((1 << w) - 1) ^ (((1 << w) - 1) >> sh), esz, nbytes)
    return (d & keep) | ((x & NMASK[nbytes]) >> sh & rep(((1 << w) - 1) >> sh, esz, nbytes))


def sli(d, x, sh, esz, nbytes):
    w = 8 << esz
    ins = rep(((1 << w) - 1) << sh & ((1 << w) - 1), esz, nbytes)
    return (d & ~ins & NMASK[nbytes]) | ((x << sh) & ins)


def qshl_imm(x, sh, esz, nbytes, signed_in, signed_out):
    """SQSHL/UQSHL/SQSHLU by immediate."""
    return _sat([a << sh for a in lanes(x, esz, nbytes, signed_in)], esz, signed_out)


def shrn(x, sh, esz, rnd):
    """SHRN/RSHRN: 16 bytes of (esz+1) lanes shifted right, narrowed to 8 bytes."""
    w = 16 << esz
    if not rnd:
        return xtn((x >> sh) & rep((1 << (w - sh)) - 1, esz + 1, 16), esz)
    rc = 1 << (sh - 1)
    return join_m([(a + rc) >> sh for a in lanes(x, esz + 1, 16)], esz)


def qshrn(x, sh, esz, rnd, signed_in, signed_out):
    rc = 1 << (sh - 1) if rnd else 0
    return _sat([(a + rc) >> sh for a in lanes(x, esz + 1, 16, signed_in)], esz, signed_out)


def shll(x, sh, esz, signed):
    """SSHLL/USHLL (SXTL/UXTL at sh = 0) of a 64-bit half."""
    return join_m([a << sh for a in lanes(x, esz, 8, signed)], esz + 1)


# permutes, table lookup, structures -----------------------------------------------------------

def zip_uzp_trn(a, b, esz, nbytes, op):
    la = list(lanes(a, esz, nbytes))
    lb = list(lanes(b, esz, nbytes))
    n = len(la)
    h = n // 2
    if op == 1:  # UZP1
        out = (la + lb)[0::2]
    elif op == 5:  # UZP2
        out = (la + lb)[1::2]
    elif op == 2:  # TRN1
        out = [la[i] if i % 2 == 0 else lb[i - 1] for i in range(n)]
    elif op == 6:  # TRN2
        out = [la[i + 1] if i % 2 == 0 else lb[i] for i in range(n)]
    elif op == 3:  # ZIP1
        out = [v for p in zip(la[:h], lb[:h]) for v in p]
    else:  # ZIP2
        out = [v for p in zip(la[h:], lb[h:]) for v in p]
    return join(out, esz)


def tbl(table: int, nregs: int, idx: int, dflt: int, nbytes: int) -> int:
    """TBL/TBX: bytes of `table` (nregs*16 bytes) indexed by the bytes of idx;
    out-of-range indices take the byte of `dflt` (0 for TBL, Vd for TBX)."""
    t = table.to_bytes(16 * nregs, "little")
    n = len(t)
    d = (dflt & NMASK[nbytes]).to_bytes(nbytes, "little")
    i = (idx & NMASK[nbytes]).to_bytes(nbytes, "little")
    return int.from_bytes(bytes(t[k] if k < n else d[j] for j, k in enumerate(i)), "little")


def deinterleave(data: int, selem: int, esz: int, nbytes: int) -> int:
    """LD2/LD3/LD4: `data` holds selem*nbytes bytes of interleaved elements;
    returns the selem registers' values concatenated at 128-bit strides."""
    v = lanes(data, esz, selem * nbytes)
    r = 0
    for k in range(selem):
        r |= join(v[k::selem], esz) << (128 * k)
    return r


def interleave(regs: int, selem: int, esz: int, nbytes: int) -> int:
    """ST2/ST3/ST4: the inverse of deinterleave."""
    ls = [lanes(regs >> (128 * k), esz, nbytes) for k in range(selem)]
    out = [x for group in zip(*ls) for x in group]
    return join(out, esz)
