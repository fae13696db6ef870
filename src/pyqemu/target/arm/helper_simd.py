"""Advanced SIMD integer helpers: lane-wise operations on 128-bit Python ints.

A vector is an unsigned int; lane i of an `esz`-sized element (log2 of its
byte size) occupies bits [i*w, (i+1)*w) with w = 8 << esz, little endian.
`nbytes` is the operand width in bytes (8 or 16 for vectors, the element size
for scalars). Inputs may carry garbage above `nbytes` (a 64-bit operation
reads a whole register); results never do.

Speed: a Python call per lane costs ~100-200 ns, so the common operations
(compares, min/max, absolute difference, pairwise ops, negation...) are SWAR
(SIMD within a register): a handful of big-int operations on the whole value
with per-size constants. The rest split lanes with ``int.to_bytes`` and
memoryview casts and join them with ``array`` (both in C), with the per-lane
arithmetic in a list comprehension. Saturating helpers return
``value | QC << 128`` when a lane saturated (QC is FPSR bit 27; the
translator ORs the bits above 128 into FPSR).
"""
from __future__ import annotations

from array import array

QC = 1 << 27
QCF = QC << 128  # the saturation flag, positioned for the translator
_UF = "BHIQ"
_SF = "bhiq"
NMASK = {n: (1 << (8 * n)) - 1 for n in range(0, 65)}
M64 = NMASK[8]


def rep(val: int, esz: int, nbytes: int) -> int:
    """`val` replicated into every lane."""
    return val * (NMASK[nbytes] // ((1 << (8 << esz)) - 1))


def hi_bits(esz: int, nbytes: int) -> int:
    return rep(1 << ((8 << esz) - 1), esz, nbytes)


# (esz, nbytes) -> (H: lane top bits, L: the other bits, M: all lanes, E: even lanes' masks)
_K = {}
for _e in range(4):
    for _n in (1, 2, 4, 8, 16, 32):
        if _n >= 1 << _e:
            _w = 8 << _e
            _H = hi_bits(_e, _n)
            _E = rep((1 << _w) - 1, _e + 1, _n) if _n >= 2 << _e else 0
            _K[_e, _n] = (_H, NMASK[_n] ^ _H, NMASK[_n], _E)


def lanes(x: int, esz: int, nbytes: int, signed: bool = False):
    """The lanes of the low `nbytes` bytes of `x` (a bytes object or memoryview)."""
    b = (x & NMASK[nbytes]).to_bytes(nbytes, "little")
    if esz == 0 and not signed:
        return b
    return memoryview(b).cast((_SF if signed else _UF)[esz])


def join(vals, esz: int) -> int:
    """Lane values (already within the element width) back to an int."""
    if esz == 0:
        return int.from_bytes(bytes(vals), "little")
    return int.from_bytes(array(_UF[esz], vals).tobytes(), "little")


def join_m(vals, esz: int) -> int:
    """Like join, masking each value to the element width first."""
    m = (1 << (8 << esz)) - 1
    return join([v & m for v in vals], esz)


def _sat(vals: list, esz: int, signed: bool) -> int:
    """Clamp to the element range; QC (above bit 128) if any lane was clamped."""
    w = 8 << esz
    lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else (0, (1 << w) - 1)
    out = [lo if v < lo else hi if v > hi else v for v in vals]
    if signed:
        r = int.from_bytes(array(_SF[esz], out).tobytes(), "little")
    else:
        r = join(out, esz)
    return r | QCF if out != vals else r


# --- SWAR building blocks ------------------------------------------------------------------------

def expand(hb: int, esz: int) -> int:
    """Lanes whose top bit is set in `hb` (and nothing else) -> all-ones lanes."""
    return (hb << 1) - (hb >> ((8 << esz) - 1))


def _lt(a: int, b: int, H: int, L: int) -> int:
    """Top bit set in each lane where a < b (unsigned): the borrow out of a - b."""
    d = ((a | H) - (b & L)) ^ ((a ^ b ^ H) & H)  # the lane-wise difference
    return ((~a & b) | ((a ^ b ^ H) & d)) & H


def _nz(x: int, H: int, esz: int) -> int:
    """Top bit set in each non-zero lane."""
    L = H - (H >> ((8 << esz) - 1))
    return (((x & L) + L) | x) & H


def cmeq(a: int, b: int, H: int, esz: int) -> int:
    """CMEQ: all-ones lanes where a == b (the lanes H covers)."""
    return expand(_nz(a ^ b, H, esz) ^ H, esz)


def cmtst(a: int, b: int, H: int, esz: int) -> int:
    return expand(_nz(a & b, H, esz), esz)


def cmhi(a: int, b: int, H: int, esz: int) -> int:
    return expand(_lt(b, a, H, H - (H >> ((8 << esz) - 1))), esz)


def cmhs(a: int, b: int, H: int, esz: int) -> int:
    return expand(_lt(a, b, H, H - (H >> ((8 << esz) - 1))) ^ H, esz)


def cmgt(a: int, b: int, H: int, esz: int) -> int:
    return expand(_lt(b ^ H, a ^ H, H, H - (H >> ((8 << esz) - 1))), esz)


def cmge(a: int, b: int, H: int, esz: int) -> int:
    return expand(_lt(a ^ H, b ^ H, H, H - (H >> ((8 << esz) - 1))) ^ H, esz)


def vadd(a: int, b: int, H: int, M: int) -> int:
    """Lane-wise a + b; M = all lanes' mask."""
    L = M ^ H
    return ((a & L) + (b & L)) ^ ((a ^ b) & H)


def vsub(a: int, b: int, H: int, M: int) -> int:
    L = M ^ H
    return (((a | H) - (b & L)) ^ ((a ^ b ^ H) & H)) & M


def sshr(a: int, sh: int, esz: int, nbytes: int) -> int:
    """Arithmetic shift right of every lane by 0 < sh < width."""
    w = 8 << esz
    H = _K[esz, nbytes][0]
    keep = rep((1 << (w - sh)) - 1, esz, nbytes)
    fill = ((1 << sh) - 1) << (w - sh)
    return ((a >> sh) & keep) | ((a & H) >> (w - 1)) * fill


def _minmax(a: int, b: int, esz: int, nbytes: int, signed: bool, is_max: bool) -> int:
    H, L, M, _ = _K[esz, nbytes]
    if signed:
        a ^= H
        b ^= H
    m = expand(_lt(a, b, H, L), esz)  # lanes where a < b
    r = (a ^ ((a ^ b) & m)) if is_max else (b ^ ((a ^ b) & m))
    return (r ^ H if signed else r) & M


def vmax(a, b, esz, nbytes, signed):
    return _minmax(a, b, esz, nbytes, signed, True)


def vmin(a, b, esz, nbytes, signed):
    return _minmax(a, b, esz, nbytes, signed, False)


def abd(a, b, esz, nbytes, signed):
    H, _, M, _ = _K[esz, nbytes]
    return vsub(_minmax(a, b, esz, nbytes, signed, True), _minmax(a, b, esz, nbytes, signed, False), H, M)


def aba(d, a, b, esz, nbytes, signed):
    H, _, M, _ = _K[esz, nbytes]
    return vadd(d & M, abd(a, b, esz, nbytes, signed), H, M)


# --- pairwise: even and odd lanes side by side in double-width lanes, then narrowed ---------------

def _narrow(x: int, esz: int, nbytes: int) -> int:
    """`nbytes` of (esz+1) lanes -> nbytes/2 bytes of their low halves."""
    b = (x & NMASK[nbytes]).to_bytes(nbytes, "little")
    if esz == 0:
        return int.from_bytes(b[0::2], "little")
    return int.from_bytes(memoryview(b).cast(_UF[esz])[0::2].tobytes(), "little")


def _pairwise(a: int, b: int, esz: int, nbytes: int, op: int, signed: bool) -> int:
    """op over the adjacent lane pairs of the concatenation a:b (ADDP, UMAXP...).
    op: 0 add, 1 max, 2 min. All pairs are worked on at once in a 2*nbytes value."""
    w = 8 << esz
    if esz == 3:
        pairs = ((a & M64, (a >> 64) & M64), (b & M64, (b >> 64) & M64))
        if op == 0:
            return ((pairs[0][0] + pairs[0][1]) & M64) | ((pairs[1][0] + pairs[1][1]) & M64) << 64
        f = max if op == 1 else min
        sb = (1 << 63) if signed else 0
        lo, hi = (f(p ^ sb, q ^ sb) ^ sb for p, q in pairs)
        return lo | hi << 64
    n2 = 2 * nbytes
    M = NMASK[nbytes]
    x = (a & M) | (b & M) << (8 * nbytes)
    H, _, _, E = _K[esz, n2]
    if signed and op:
        x ^= H
    e, o = x & E, (x >> w) & E
    if op == 0:
        r = e + o
    else:
        H2, L2, _, _ = _K[esz + 1, n2]
        m = expand(_lt(e, o, H2, L2), esz + 1)
        r = (e ^ ((e ^ o) & m)) if op == 1 else (o ^ ((e ^ o) & m))
    r = _narrow(r, esz, n2)
    if signed and op:
        r ^= _K[esz, nbytes][0]
    return r


def addp(a, b, esz, nbytes):
    return _pairwise(a, b, esz, nbytes, 0, False)


def maxp(a, b, esz, nbytes, signed):
    return _pairwise(a, b, esz, nbytes, 1, signed)


def minp(a, b, esz, nbytes, signed):
    return _pairwise(a, b, esz, nbytes, 2, signed)


# --- generic lane-wise three same ------------------------------------------------------------------

def hadd(a, b, esz, nbytes, signed):
    return join_m([(x + y) >> 1 for x, y in zip(lanes(a, esz, nbytes, signed), lanes(b, esz, nbytes, signed),
                                               strict=True)], esz)


def rhadd(a, b, esz, nbytes, signed):
    return join_m([(x + y + 1) >> 1 for x, y in zip(lanes(a, esz, nbytes, signed),
                                                   lanes(b, esz, nbytes, signed), strict=True)], esz)


def hsub(a, b, esz, nbytes, signed):
    return join_m([(x - y) >> 1 for x, y in zip(lanes(a, esz, nbytes, signed), lanes(b, esz, nbytes, signed),
                                               strict=True)], esz)


def qadd(a, b, esz, nbytes, signed):
    return _sat([x + y for x, y in zip(lanes(a, esz, nbytes, signed), lanes(b, esz, nbytes, signed),
                                       strict=True)], esz, signed)


def qsub(a, b, esz, nbytes, signed):
    return _sat([x - y for x, y in zip(lanes(a, esz, nbytes, signed), lanes(b, esz, nbytes, signed),
                                       strict=True)], esz, signed)


def mul(a, b, esz, nbytes):
    m = (1 << (8 << esz)) - 1
    return join([x * y & m for x, y in zip(lanes(a, esz, nbytes), lanes(b, esz, nbytes), strict=True)], esz)


def mla(d, a, b, esz, nbytes):
    return join_m([z + x * y for z, x, y in zip(lanes(d, esz, nbytes), lanes(a, esz, nbytes),
                                               lanes(b, esz, nbytes), strict=True)], esz)


def mls(d, a, b, esz, nbytes):
    return join_m([z - x * y for z, x, y in zip(lanes(d, esz, nbytes), lanes(a, esz, nbytes),
                                               lanes(b, esz, nbytes), strict=True)], esz)


def _clmul8(x: int, y: int) -> int:
    r = 0
    for i in range(8):
        if y >> i & 1:
            r ^= x << i
    return r & 0xFF


def pmul(a, b, esz, nbytes):
    return join([_clmul8(x, y) for x, y in zip(lanes(a, 0, nbytes), lanes(b, 0, nbytes), strict=True)], 0)


def shl_reg(a, b, esz, nbytes, signed, rnd, sat):
    """SSHL/USHL/SRSHL/URSHL/SQSHL/UQSHL/SQRSHL/UQRSHL by register: the shift is
    the signed low byte of each lane of b (exact integer arithmetic, then wrap
    or saturate)."""
    w = 8 << esz
    vals = []
    for x, v in zip(lanes(a, esz, nbytes, signed), lanes(b, esz, nbytes), strict=True):
        sh = ((v & 0xFF) ^ 0x80) - 0x80
        if sh >= 0:
            vals.append(x << sh)
        else:
            sh = min(-sh, w + 1)  # further right shifts give the same result
            vals.append((x + (1 << (sh - 1)) if rnd else x) >> sh)
    if sat:
        return _sat(vals, esz, signed)
    return join_m(vals, esz)


def qdmulh(a, b, esz, nbytes, rnd):
    w = 8 << esz
    rc = 1 << (w - 1) if rnd else 0
    la, lb = lanes(a, esz, nbytes, True), lanes(b, esz, nbytes, True)
    return _sat([(2 * x * y + rc) >> w for x, y in zip(la, lb, strict=True)], esz, True)


# --- three different (long / wide / narrow-high) -------------------------------------------------

def _long(op: int, a: int, b: int, esz: int, signed: bool) -> int:
    la, lb = lanes(a, esz, 8, signed), lanes(b, esz, 8, signed)
    if op == 0:
        v = [x + y for x, y in zip(la, lb, strict=True)]
    elif op == 1:
        v = [x - y for x, y in zip(la, lb, strict=True)]
    elif op == 2:
        v = [abs(x - y) for x, y in zip(la, lb, strict=True)]
    else:
        v = [x * y for x, y in zip(la, lb, strict=True)]
    return join_m(v, esz + 1)


def addl(a, b, esz, signed):
    """Long ops on 64-bit halves a, b: results are 2*esize wide."""
    return _long(0, a, b, esz, signed)


def subl(a, b, esz, signed):
    return _long(1, a, b, esz, signed)


def abdl(a, b, esz, signed):
    return _long(2, a, b, esz, signed)


def mull(a, b, esz, signed):
    return _long(3, a, b, esz, signed)


def addw(a, b, esz, signed):
    """Wide: a has 2*esize lanes (16 bytes), b is the 64-bit half with esize lanes."""
    la, lb = lanes(a, esz + 1, 16, signed), lanes(b, esz, 8, signed)
    return join_m([x + y for x, y in zip(la, lb, strict=True)], esz + 1)


def subw(a, b, esz, signed):
    la, lb = lanes(a, esz + 1, 16, signed), lanes(b, esz, 8, signed)
    return join_m([x - y for x, y in zip(la, lb, strict=True)], esz + 1)


def addhn(a, b, esz, sub_, rnd):
    """ADDHN/SUBHN/RADDHN/RSUBHN: high halves of 2*esize sums -> 64 bits of esize lanes."""
    w = 8 << esz
    rc = 1 << (w - 1) if rnd else 0
    la, lb = lanes(a, esz + 1, 16), lanes(b, esz + 1, 16)
    if sub_:
        return join_m([(x - y + rc) >> w for x, y in zip(la, lb, strict=True)], esz)
    return join_m([(x + y + rc) >> w for x, y in zip(la, lb, strict=True)], esz)


def qdmull(a, b, esz):
    """SQDMULL on 64-bit halves: 2*a*b saturated to 2*esize."""
    return _sat([2 * x * y for x, y in zip(lanes(a, esz, 8, True), lanes(b, esz, 8, True), strict=True)],
                esz + 1, True)


def qdmlal(d, a, b, esz, sub_):
    """SQDMLAL/SQDMLSL: d +/- sat(2*a*b), saturating both steps."""
    p = qdmull(a, b, esz)
    q = p >> 128
    ld, lp = lanes(d, esz + 1, 16, True), lanes(p, esz + 1, 16, True)
    if sub_:
        r = _sat([x - y for x, y in zip(ld, lp, strict=True)], esz + 1, True)
    else:
        r = _sat([x + y for x, y in zip(ld, lp, strict=True)], esz + 1, True)
    return r | (q << 128)


# --- two-register misc ---------------------------------------------------------------------------------

def rev(x, esz, nbytes, cont):
    """REV16/32/64: reverse esz lanes inside containers of `cont` bytes."""
    b = (x & NMASK[nbytes]).to_bytes(nbytes, "little")
    if esz == 0:
        return int.from_bytes(b"".join(b[i:i + cont][::-1] for i in range(0, nbytes, cont)), "little")
    n = cont >> esz
    v = list(memoryview(b).cast(_UF[esz]))
    out = []
    for i in range(0, len(v), n):
        out.extend(reversed(v[i:i + n]))
    return join(out, esz)


def addlp(x, esz, nbytes, signed):
    v = lanes(x, esz, nbytes, signed)
    return join_m([p + q for p, q in zip(v[0::2], v[1::2], strict=True)], esz + 1)


def adalp(d, x, esz, nbytes, signed):
    v = lanes(x, esz, nbytes, signed)
    return join_m([z + p + q for z, p, q in zip(lanes(d, esz + 1, nbytes), v[0::2], v[1::2], strict=True)],
                  esz + 1)


def sqaddacc(d, x, esz, nbytes, u):
    """SUQADD (u=0: signed d + unsigned x, signed result) / USQADD (u=1)."""
    if u:
        vals = [p + q for p, q in zip(lanes(d, esz, nbytes), lanes(x, esz, nbytes, True), strict=True)]
    else:
        vals = [p + q for p, q in zip(lanes(d, esz, nbytes, True), lanes(x, esz, nbytes), strict=True)]
    return _sat(vals, esz, not u)


def cls(x, esz, nbytes):
    w = 8 << esz
    lm = (1 << (w - 1)) - 1
    return join([w - 1 - ((v ^ (v >> 1)) & lm).bit_length() for v in lanes(x, esz, nbytes)], esz)


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
    H, _, M, _ = _K[esz, nbytes]
    x &= M
    if neg:
        return vsub(0, x, H, M)
    m = expand(x & H, esz)  # negative lanes
    return vsub(x ^ m, m, H, M)


def cmgt0(x: int, H: int, esz: int) -> int:
    """CMGT #0 and friends: compares against zero (H: the lanes' top bits)."""
    return (expand(x & H, esz) | expand(_nz(x, H, esz) ^ H, esz)) ^ expand(H, esz)


def cmge0(x: int, H: int, esz: int) -> int:
    return expand(x & H, esz) ^ expand(H, esz)


def cmle0(x: int, H: int, esz: int) -> int:
    return expand(x & H, esz) | expand(_nz(x, H, esz) ^ H, esz)


def cmlt0(x: int, H: int, esz: int) -> int:
    return expand(x & H, esz)


def xtn(x, esz):
    """16 bytes of (esz+1) lanes -> 8 bytes of their low halves."""
    return _narrow(x, esz, 16)


def qxtn(x, esz, signed_in, signed_out):
    """SQXTN/UQXTN/SQXTUN: saturating narrow of 16 bytes of (esz+1) lanes."""
    return _sat(list(lanes(x, esz + 1, 16, signed_in)), esz, signed_out)


# --- across lanes ---------------------------------------------------------------------------------------

def addv(x, esz, nbytes):
    return sum(lanes(x, esz, nbytes)) & ((1 << (8 << esz)) - 1)


def addlv(x, esz, nbytes, signed):
    return sum(lanes(x, esz, nbytes, signed)) & ((1 << (16 << esz)) - 1)


def maxv(x, esz, nbytes, signed):
    return max(lanes(x, esz, nbytes, signed)) & ((1 << (8 << esz)) - 1)


def minv(x, esz, nbytes, signed):
    return min(lanes(x, esz, nbytes, signed)) & ((1 << (8 << esz)) - 1)


# --- shifts by immediate ------------------------------------------------------------------------------

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
    return join_m([z + ((a + rc) >> sh) for z, a in zip(lanes(d, esz, nbytes), lanes(x, esz, nbytes, signed),
                                                        strict=True)], esz)


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
    if not rnd:  # glibc's string functions use SHRN #4 to make a nibble mask
        return _narrow((x >> sh) & rep((1 << (w - sh)) - 1, esz + 1, 16), esz, 16)
    rc = 1 << (sh - 1)
    return join_m([(a + rc) >> sh for a in lanes(x, esz + 1, 16)], esz)


def qshrn(x, sh, esz, rnd, signed_in, signed_out):
    rc = 1 << (sh - 1) if rnd else 0
    return _sat([(a + rc) >> sh for a in lanes(x, esz + 1, 16, signed_in)], esz, signed_out)


def shll(x, sh, esz, signed):
    """SSHLL/USHLL (SXTL/UXTL at sh = 0) of a 64-bit half."""
    return join_m([a << sh for a in lanes(x, esz, 8, signed)], esz + 1)


# --- permutes, table lookup, structures --------------------------------------------------------------

def zip_uzp_trn(a, b, esz, nbytes, op):
    la = list(lanes(a, esz, nbytes))
    lb = list(lanes(b, esz, nbytes))
    h = len(la) // 2
    if op == 1:  # UZP1
        out = (la + lb)[0::2]
    elif op == 5:  # UZP2
        out = (la + lb)[1::2]
    elif op in (2, 6):  # TRN1, TRN2
        k = op >> 2
        out = [v for p in zip(la[k::2], lb[k::2], strict=True) for v in p]
    elif op == 3:  # ZIP1
        out = [v for p in zip(la[:h], lb[:h], strict=True) for v in p]
    else:  # ZIP2
        out = [v for p in zip(la[h:], lb[h:], strict=True) for v in p]
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
    return join([x for group in zip(*ls, strict=True) for x in group], esz)
