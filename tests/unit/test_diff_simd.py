"""A64 floating point and Advanced SIMD: pyqemu against Unicorn.

Each group runs blocks of random instructions of one encoding class from
random register state: V registers filled with lanes biased toward the
values where floating point and saturating arithmetic go wrong (zeros,
infinities, quiet and signalling NaNs, denormals, extremes), a random FPCR
(rounding mode, flush-to-zero, default NaN) and FPSR compared afterwards.
Half the blocks end with an encoding of the class that the ARM ARM leaves
unallocated: both emulators must raise SIGILL on it.

The `valid` predicates follow the ARM ARM encoding tables, written
independently of pyqemu's decoder. They return True (allocated, tested),
False (unallocated: SIGILL expected) or None (allocated in Unicorn's ``max``
CPU but outside what pyqemu implements, e.g. FP16 vector arithmetic: never
generated).

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
    DATA_BASE,
    NATIVE_DIVISOR,
    DiffTester,
    Encoding,
    State,
    rand_u64,
    random_state,
)

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1

# --- random operands ----------------------------------------------------------------------------

# (exponent bits, fraction bits) of half, single, double
_FMT = {1: (5, 10), 2: (8, 23), 3: (11, 52)}


def rand_fp(rng: random.Random, esz: int) -> int:
    """A floating-point bit pattern biased toward special and boundary values."""
    eb, fb = _FMT[esz]
    w = 1 + eb + fb
    emax = (1 << eb) - 1
    bias = emax >> 1
    sign = rng.getrandbits(1) << (w - 1)
    r = rng.random()
    if r < 0.08:
        return sign  # zero
    if r < 0.14:
        return sign | emax << fb  # infinity
    if r < 0.20:
        return sign | emax << fb | 1 << (fb - 1) | rng.getrandbits(fb - 1) * rng.getrandbits(1)  # qNaN
    if r < 0.25:
        return sign | emax << fb | (rng.getrandbits(fb - 1) or 1)  # sNaN
    if r < 0.33:
        return sign | rng.getrandbits(fb) | rng.choice((0, 1))  # denormal
    if r < 0.40:
        e = rng.choice((1, 2, emax - 1, emax - 2))
        return sign | e << fb | rng.choice((0, (1 << fb) - 1, rng.getrandbits(fb)))  # extremes
    if r < 0.55:
        # small integers and halves (rounding to integral, conversions)
        v = rng.randrange(-300, 300) / rng.choice((1, 2, 4))
        return _encode_small(v, eb, fb)
    if r < 0.70:
        e = bias + rng.randrange(-4, 12)
        return sign | e << fb | rng.getrandbits(fb) >> rng.randrange(0, fb)  # short fractions
    if r < 0.80:  # near the integer limits of the conversions
        e = bias + rng.choice((15, 16, 31, 32, 63, 64)) + rng.randrange(-1, 2)
        e = min(max(e, 1), emax - 1)
        return sign | e << fb | rng.getrandbits(fb)
    return sign | rng.randrange(1, emax) << fb | rng.getrandbits(fb)


def _encode_small(v: float, eb: int, fb: int) -> int:
    import struct
    if eb == 11:
        return struct.unpack("<Q", struct.pack("<d", v))[0]
    if eb == 8:
        return struct.unpack("<I", struct.pack("<f", v))[0]
    return struct.unpack("<H", struct.pack("<e", v))[0]


def rand_vreg(rng: random.Random) -> int:
    """A V register: FP lanes of one size, integer-biased lanes, or mixed."""
    r = rng.random()
    if r < 0.35:
        esz = rng.choice((2, 3, 3, 1))
        w = 8 << esz
        return sum(rand_fp(rng, esz) << (w * i) for i in range(128 // w))
    if r < 0.45:
        # scalar-style: one FP value in the low bits, noise above
        esz = rng.choice((2, 3))
        return rand_fp(rng, esz) | rng.getrandbits(128 - (8 << esz)) << (8 << esz)
    if r < 0.8:
        esz = rng.randrange(4)
        w = 8 << esz
        edge = (0, 1, (1 << w) - 1, 1 << (w - 1), (1 << (w - 1)) - 1, (1 << (w - 1)) + 1, 2, 0x80)
        return sum((rng.choice(edge) if rng.random() < 0.5 else rng.getrandbits(w)) % (1 << w) << (w * i)
                   for i in range(128 // w))
    return rng.getrandbits(128)


def rand_fpcr(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.5:
        return 0
    fpcr = rng.randrange(4) << 22
    if rng.random() < 0.3:
        fpcr |= 1 << 24  # FZ
    if rng.random() < 0.3:
        fpcr |= 1 << 25  # DN
    if rng.random() < 0.2:
        fpcr |= 1 << 19  # FZ16
    return fpcr


def fp_state(rng: random.Random, gpr=rand_u64) -> State:
    st = random_state(rng, vregs=False, mem_size=0, value=gpr)
    st.v = [rand_vreg(rng) for _ in range(32)]
    st.fpcr = rand_fpcr(rng)
    return st


def rand_gpr_fp(rng: random.Random) -> int:
    """General registers for FMOV/SCVTF: integers or FP bit patterns."""
    if rng.random() < 0.4:
        return rand_fp(rng, rng.choice((2, 3, 3)))
    return rand_u64(rng)


# --- encodings -----------------------------------------------------------------------------------


class Enc(Encoding):
    """An Encoding whose `valid` may also answer None: implemented by Unicorn but not
    by pyqemu (neither generated as valid nor as invalid)."""

    def gen_invalid(self, rng: random.Random, tries: int = 1000) -> int | None:
        """An unallocated encoding, drawn from the fields' specs or uniformly."""
        if self.valid is None:
            return None
        for i in range(tries):
            if i % 2:
                f = {name: rng.getrandbits(n) for name, _pos, n, _spec in self.fields}
            else:
                f = self.fields_of(rng)
            if self.valid(f) is False:
                return self.encode(f)
        return None

    def gen(self, rng: random.Random) -> int:
        f = self.fields_of(rng)
        if self.valid is not None:
            while self.valid(f) is not True:
                f = self.fields_of(rng)
        return self.encode(f)


FT = (0, 1, 3, 0, 1)  # FP types: single, double, half (S and D more often)


def _ft_ok(f: dict) -> bool:
    return f["ft"] != 2


def _dp1_ok(f: dict):
    if f["ft"] == 2:
        return False
    o = f["opc"]
    if o < 4:
        return True
    if o >> 2 == 1:  # FCVT: to a different, existing type
        return (o & 3) != 2 and (o & 3) != f["ft"]
    if o >> 3 == 1:
        return o != 0b001101
    if o >> 2 == 0b0100:
        return None  # FRINT32Z & co (FEAT_FRINTTS)
    return False


def _fpint_ok(f: dict):
    sf, ft, rmode, opc = f["sf"], f["ft"], f["rmode"], f["opc"]
    if opc >> 1 == 3:  # FMOV
        if rmode == 0:
            return ft == 3 or (ft == sf and ft < 2)
        if rmode == 1:
            return sf == 1 and ft == 2
        if sf == 0 and ft == 1 and rmode == 3 and opc == 6:
            return None  # FJCVTZS
        return False
    if ft == 2:
        return False
    if opc < 2:
        return True
    return rmode == 0  # SCVTF/UCVTF, FCVTAS/FCVTAU


def _fix_ok(f: dict) -> bool:
    return f["ft"] != 2 and (f["rmode"], f["opc"]) in ((0, 2), (0, 3), (3, 0), (3, 1)) and \
        (f["sf"] or f["scale"] >= 32)


FP_SCALAR = {
    "fp_dp2": [Enc("dp2", "00011110 ft:2 1 rm:5 opc:4 10 rn:5 rd:5", lambda f: f["ft"] != 2 and f["opc"] <= 8,
                   ft=FT, opc=lambda r: r.randrange(9) if r.random() < 0.95 else r.randrange(16))],
    "fp_dp1": [Enc("dp1", "00011110 ft:2 1 opc:6 10000 rn:5 rd:5", _dp1_ok, ft=FT,
                   opc=lambda r: r.choice((1, 2, 3, 3, 4, 5, 7, 8, 9, 10, 11, 12, 14, 15, r.randrange(64))))],
    "fp_dp3": [Enc("dp3", "00011111 ft:2 o1:1 rm:5 o0:1 ra:5 rn:5 rd:5", _ft_ok, ft=FT)],
    "fp_cmp": [Enc("cmp", "00011110 ft:2 1 rm:5 00 1000 rn:5 opc:5",
                   lambda f: (f["ft"] != 2 and f["opc"] & 7 == 0 and not (f["opc"] & 8 and f["rm"]))
                   if not (f["opc"] & 8 and f["rm"] and f["opc"] & 7 == 0) else None,
                   ft=FT, opc=(0, 8, 16, 24, 0, 16)),
               Enc("ccmp", "00011110 ft:2 1 rm:5 cond:4 01 rn:5 op:1 nzcv:4", _ft_ok, ft=FT),
               Enc("csel", "00011110 ft:2 1 rm:5 cond:4 11 rn:5 rd:5", _ft_ok, ft=FT)],
    "fp_imm": [Enc("imm", "00011110 ft:2 1 imm8:8 100 imm5:5 rd:5",
                   lambda f: f["ft"] != 2 and f["imm5"] == 0, ft=FT, imm5=(0, 0, 0, 0, 0, 0, 1))],
    "fp_int": [Enc("fpint", "sf:1 0 0 11110 ft:2 1 rmode:2 opc:3 000000 rn:5 rd:5", _fpint_ok, ft=FT)],
    "fp_fix": [Enc("fpfix", "sf:1 0 0 11110 ft:2 0 rmode:2 opc:3 scale:6 rn:5 rd:5", _fix_ok, ft=FT,
                   rmode=(0, 3), opc=(0, 1, 2, 3))],
}


# Advanced SIMD three same: opcode -> allowed sizes ("any", "no64" = not .1D/.2D..., list)
def _v3same_int_ok(f: dict):
    u, size, q, opc = f["u"], f["size"], f["q"], f["opc"]
    if opc >= 24:
        return _v3same_fp_ok(f)
    if opc == 3:  # logic
        return True
    if size == 3 and not q:
        return False
    if opc in (0, 2, 4, 12, 13, 14, 15, 18, 20, 21):  # no 64-bit lanes
        return size != 3
    if opc == 19:  # MUL (u=0) / PMUL (u=1, bytes only)
        return size == 0 if u else size != 3
    if opc == 22:  # SQDMULH / SQRDMULH
        return size in (1, 2)
    if opc == 23:  # ADDP (u=0); u=1 unallocated
        return not u
    return True


def _v3same_fp_ok(f: dict):
    u, size, q, opc = f["u"], f["size"], f["q"], f["opc"]
    if opc < 24:
        return _v3same_int_ok(f)
    a = size >> 1
    key = (u, a, opc - 24)
    ok = {(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 0, 3), (0, 0, 4), (0, 0, 6), (0, 0, 7),
          (0, 1, 0), (0, 1, 1), (0, 1, 2), (0, 1, 6), (0, 1, 7),
          (1, 0, 0), (1, 0, 2), (1, 0, 3), (1, 0, 4), (1, 0, 5), (1, 0, 6), (1, 0, 7),
          (1, 1, 0), (1, 1, 2), (1, 1, 4), (1, 1, 5), (1, 1, 6)}
    if key not in ok:
        if key in ((0, 0, 5), (0, 1, 5), (1, 0, 1), (1, 1, 1)):
            return None  # FMLAL & co (FEAT_FHM)
        return False
    return not (size & 1 and not q)


V3SAME = "0 q:1 u:1 01110 size:2 1 rm:5 opc:5 1 rn:5 rd:5"


def _v3diff_ok(f: dict):
    u, size, opc = f["u"], f["size"], f["opc"]
    if opc == 14:  # PMULL
        return None if size in (0, 3) and not u else False
    if opc == 15 or size == 3:
        return False
    if opc in (9, 11, 13):
        return not u and size in (1, 2)
    return True


# two-register misc: (u, opcode) -> rule on (size, q)
def _no1d(size: int, q: int) -> bool:
    return not (size == 3 and not q)


_MISC_INT = {
    (0, 0): lambda s, q: s != 3, (1, 0): lambda s, q: s < 2, (0, 1): lambda s, q: s == 0,
    (0, 2): lambda s, q: s != 3, (1, 2): lambda s, q: s != 3,
    (0, 3): _no1d, (1, 3): _no1d,
    (0, 4): lambda s, q: s != 3, (1, 4): lambda s, q: s != 3,
    (0, 5): lambda s, q: s == 0, (1, 5): lambda s, q: s < 2,
    (0, 6): lambda s, q: s != 3, (1, 6): lambda s, q: s != 3,
    (0, 7): _no1d, (1, 7): _no1d, (0, 8): _no1d, (1, 8): _no1d, (0, 9): _no1d, (1, 9): _no1d,
    (0, 10): _no1d, (0, 11): _no1d, (1, 11): _no1d,
    (0, 18): lambda s, q: s != 3, (1, 18): lambda s, q: s != 3, (1, 19): lambda s, q: s != 3,
    (0, 20): lambda s, q: s != 3, (1, 20): lambda s, q: s != 3,
}
# FP ops, by (u, a, opcode): a = size<1>
_MISC_FP = {(0, 0, 22), (0, 0, 23), (1, 0, 22),
            (0, 0, 24), (0, 0, 25), (0, 0, 26), (0, 0, 27), (0, 0, 28), (0, 0, 29),
            (1, 0, 24), (1, 0, 25), (1, 0, 26), (1, 0, 27), (1, 0, 28), (1, 0, 29),
            (0, 1, 12), (0, 1, 13), (0, 1, 14), (0, 1, 15), (0, 1, 24), (0, 1, 25), (0, 1, 26), (0, 1, 27),
            (0, 1, 29), (1, 1, 12), (1, 1, 13), (1, 1, 15), (1, 1, 25), (1, 1, 26), (1, 1, 27),
            (1, 1, 29), (1, 1, 31)}


def _v2misc_ok(f: dict):
    u, size, q, opc = f["u"], f["size"], f["q"], f["opc"]
    rule = _MISC_INT.get((u, opc))
    if rule is not None:
        return rule(size, q)
    a = size >> 1
    if (u, a, opc) in _MISC_FP:
        if opc in (22, 23):  # FCVTN/FCVTXN/FCVTL: the size gives the source
            return bool(size & 1) if u else True
        return not (size & 1 and not q)
    if (a == 0 and opc in (30, 31)) or (a == 1 and opc == 28) or (u == 0 and a == 1 and opc == 22):
        return None  # FRINT32/64, URECPE/URSQRTE, BFCVTN
    return False


def _across_ok(f: dict):
    u, size, q, opc = f["u"], f["size"], f["q"], f["opc"]
    if opc in (3, 10, 26) or (opc == 27 and not u):
        return size < 2 or (size == 2 and q)
    if u and opc in (12, 15):
        return None if size == 0 or (size == 2 and not q) else (size & 1 == 0 and q == 1)
    if not u and opc in (12, 15):
        return None  # FP16 forms (QEMU also takes sz=1 here)
    return False


def _copy_ok(f: dict):
    q, op, imm5, imm4 = f["q"], f["op"], f["imm5"], f["imm4"]
    if imm5 & 0xF == 0:
        return False
    size = (imm5 & -imm5).bit_length() - 1
    if op:
        return q == 1
    if imm4 == 0:
        return not (size == 3 and not q)
    if imm4 == 1:
        return not (size == 3 and not q)
    if imm4 == 3:
        return q == 1
    if imm4 == 5:
        return size < 2 or (size == 2 and q)
    if imm4 == 7:
        return (size == 3) == bool(q)
    return False


def _modimm_ok(f: dict):
    op, cmode, o2, q = f["op"], f["cmode"], f["o2"], f["q"]
    if o2:
        if cmode == 15:
            return None if op else True  # QEMU takes op=1 here too
        return False
    if op and cmode == 15:
        return bool(q)
    return True


def _shimm_ok(f: dict):
    u, immh, q, opc = f["u"], f["immh"], f["q"], f["opc"]
    if immh == 0:
        return None  # modified immediate space
    big = immh >= 8
    if opc in (0, 2, 4, 6, 10, 14) or (u and opc in (8, 12)):
        return not (big and not q)
    if opc in (16, 17, 18, 19, 20):
        return not big
    if opc in (28, 31):
        if immh < 2:
            return False
        if immh < 4:
            return None  # FP16
        return not (big and not q)
    return False


def _perm_ok(f: dict):
    return f["opc"] not in (0, 4) and not (f["size"] == 3 and not f["q"])


def _idx_ok(f: dict):
    u, size, q, opc, l = f["u"], f["size"], f["q"], f["opc"], f["l"]
    fp = {(0, 1), (0, 5), (0, 9), (1, 9)}
    if (u, opc) in fp:
        if size == 0:
            return None  # FP16
        if size == 1:
            return False
        if size == 3:
            return bool(q) and not l
        return True
    ints = {(1, 0), (1, 4), (0, 8), (0, 2), (1, 2), (0, 6), (1, 6), (0, 10), (1, 10), (0, 12), (0, 13),
            (0, 11), (0, 3), (0, 7)}
    if (u, opc) in ints:
        return size in (1, 2)
    if (u, opc) in ((0, 0), (0, 4), (1, 8), (1, 12)) and size == 2:
        return None  # FMLAL/FMLSL (FEAT_FHM)
    if opc == 14 or (u and opc in (13, 15)) or (not u and opc == 15) or (u and opc & 9 == 1):
        return None  # dot products, SQRDMLAH/SQRDMLSH, FCMLA
    return False


SIMD_VECTOR = {
    "v3same_int": [Enc("v3same_int", V3SAME, _v3same_int_ok, opc=lambda r: r.randrange(24))],
    "v3same_logic": [Enc("v3same_logic", V3SAME, _v3same_int_ok, opc=3)],
    "v3same_fp": [Enc("v3same_fp", V3SAME, _v3same_fp_ok, opc=lambda r: r.randrange(24, 32),
                      size=(0, 1, 2, 3))],
    "v3diff": [Enc("v3diff", "0 q:1 u:1 01110 size:2 1 rm:5 opc:4 00 rn:5 rd:5", _v3diff_ok)],
    "v2misc": [Enc("v2misc", "0 q:1 u:1 01110 size:2 10000 opc:5 10 rn:5 rd:5", _v2misc_ok)],
    "across": [Enc("across", "0 q:1 u:1 01110 size:2 11000 opc:5 10 rn:5 rd:5", _across_ok,
                   opc=(3, 10, 26, 27, 12, 15, 0, 1))],
    "copy": [Enc("copy", "0 q:1 op:1 01110000 imm5:5 0 imm4:4 1 rn:5 rd:5", _copy_ok,
                 imm4=lambda r: r.choice((0, 1, 3, 5, 7, r.randrange(16))))],
    "modimm": [Enc("modimm", "0 q:1 op:1 0111100000 abc:3 cmode:4 o2:1 1 defgh:5 rd:5", _modimm_ok,
                   o2=(0, 0, 0, 0, 1))],
    "shimm": [Enc("shimm", "0 q:1 u:1 011110 immh:4 immb:3 opc:5 1 rn:5 rd:5", _shimm_ok,
                  opc=(0, 2, 4, 6, 8, 10, 12, 14, 16, 17, 18, 19, 20, 28, 31), immh=range(1, 16))],
    "perm": [Enc("perm", "0 q:1 0 01110 size:2 0 rm:5 0 opc:3 10 rn:5 rd:5", _perm_ok),
             Enc("ext", "0 q:1 1 01110 op2:2 0 rm:5 0 imm4:4 0 rn:5 rd:5",
                 lambda f: f["op2"] == 0 and (f["q"] or f["imm4"] < 8), op2=(0, 0, 0, 1)),
             Enc("tbl", "0 q:1 0 01110 op2:2 0 rm:5 0 len:2 op:1 00 rn:5 rd:5",
                 lambda f: f["op2"] == 0, op2=(0, 0, 0, 2))],
    "idx": [Enc("idx", "0 q:1 u:1 01111 size:2 l:1 m:1 rm:4 opc:4 h:1 0 rn:5 rd:5", _idx_ok)],
}


# --- scalar Advanced SIMD ---

def _s3same_ok(f: dict):
    u, size, opc = f["u"], f["size"], f["opc"]
    if opc in (1, 5, 9, 11):  # saturating: any size
        return True
    if opc in (6, 7, 8, 10, 16, 17):
        return size == 3
    if opc == 22:
        return size in (1, 2)
    a = size >> 1
    fp = {(0, 0, 27), (0, 0, 28), (0, 0, 31), (0, 1, 31), (1, 0, 28), (1, 0, 29), (1, 1, 26),
          (1, 1, 28), (1, 1, 29)}
    if opc >= 24:
        return (u, a, opc) in fp
    return False


def _s3diff_ok(f: dict):
    return f["u"] == 0 and f["opc"] in (9, 11, 13) and f["size"] in (1, 2)


_SMISC_INT = {(0, 3): "any", (1, 3): "any", (0, 7): "any", (1, 7): "any", (0, 8): "d", (1, 8): "d",
              (0, 9): "d", (1, 9): "d", (0, 10): "d", (0, 11): "d", (1, 11): "d", (1, 18): "n",
              (0, 20): "n", (1, 20): "n"}
_SMISC_FP = {(0, 0, 26), (0, 0, 27), (0, 0, 28), (0, 0, 29), (1, 0, 26), (1, 0, 27), (1, 0, 28),
             (1, 0, 29), (0, 1, 12), (0, 1, 13), (0, 1, 14), (0, 1, 26), (0, 1, 27), (0, 1, 29),
             (0, 1, 31), (1, 1, 12), (1, 1, 13), (1, 1, 26), (1, 1, 27), (1, 1, 29)}


def _s2misc_ok(f: dict):
    u, size, opc = f["u"], f["size"], f["opc"]
    r = _SMISC_INT.get((u, opc))
    if r == "any":
        return True
    if r == "d":
        return size == 3
    if r == "n":
        return size != 3
    if u == 1 and opc == 22:
        return size == 1
    a = size >> 1
    if (u, a, opc) in _SMISC_FP:
        return True
    if (u, a, opc) in ((1, 1, 28), (0, 1, 28)):
        return None
    return False


def _spair_ok(f: dict):
    u, size, opc = f["u"], f["size"], f["opc"]
    if not u and opc == 27:
        return size == 3
    if u and opc in (12, 13, 15):
        return True if (opc != 13 or size < 2) else False
    if not u and opc in (12, 13, 15):
        return None  # FP16 (QEMU also takes sz=1 here)
    return False


def _sshimm_ok(f: dict):
    u, immh, opc = f["u"], f["immh"], f["opc"]
    if immh == 0:
        return False
    big = immh >= 8
    if opc in (0, 2, 4, 6, 10) or (u and opc == 8):
        return big
    if opc == 14 or (u and opc == 12):
        return True
    if opc in (18, 19) or (u and opc in (16, 17)):
        return not big
    if opc in (28, 31):
        if immh < 2:
            return False
        return None if immh < 4 else True
    return False


def _sidx_ok(f: dict):
    u, size, opc, l = f["u"], f["size"], f["opc"], f["l"]
    if (u, opc) in ((0, 1), (0, 5), (0, 9), (1, 9)):
        if size == 0:
            return None
        if size == 1:
            return False
        return not (size == 3 and l)
    if (u, opc) in ((0, 3), (0, 7), (0, 11), (0, 12), (0, 13)):
        return size in (1, 2)
    if u and opc in (13, 15):
        return None  # SQRDMLAH/SQRDMLSH (FEAT_RDM)
    return False


SIMD_SCALAR = {
    "s3same": [Enc("s3same", "01 u:1 11110 size:2 1 rm:5 opc:5 1 rn:5 rd:5", _s3same_ok,
                   opc=(1, 5, 6, 7, 8, 9, 10, 11, 16, 17, 22, 26, 27, 28, 29, 31)),
               Enc("s3diff", "01 u:1 11110 size:2 1 rm:5 opc:4 00 rn:5 rd:5", _s3diff_ok,
                   u=(0, 0, 0, 1), opc=(9, 11, 13, 9, 11, 13, 3))],
    "s2misc": [Enc("s2misc", "01 u:1 11110 size:2 10000 opc:5 10 rn:5 rd:5", _s2misc_ok)],
    "spair": [Enc("spair", "01 u:1 11110 size:2 11000 opc:5 10 rn:5 rd:5", _spair_ok,
                  opc=(27, 12, 13, 15, 14))],
    "scopy": [Enc("scopy", "01 op:1 11110000 imm5:5 0 imm4:4 1 rn:5 rd:5",
                  lambda f: f["op"] == 0 and f["imm4"] == 0 and f["imm5"] & 0xF != 0,
                  op=(0, 0, 0, 1), imm4=(0, 0, 0, 1))],
    "sshimm": [Enc("sshimm", "01 u:1 111110 immh:4 immb:3 opc:5 1 rn:5 rd:5", _sshimm_ok,
                   opc=(0, 2, 4, 6, 8, 10, 12, 14, 16, 17, 18, 19, 28, 31))],
    "sidx": [Enc("sidx", "01 u:1 11111 size:2 l:1 m:1 rm:4 opc:4 h:1 0 rn:5 rd:5", _sidx_ok,
                 opc=(1, 5, 9, 1, 5, 9, 3, 7, 11, 12, 13))],
}

# --- structure loads and stores ---

_BASES = (0, 1, 2, 3)  # base registers, pointing into the data window (see ldst_state)
_POST_RM = (31, 31, 4, 5, 6)  # post-index: immediate, or X4/X5/X6 (small increments)


def _mult_ok(f: dict):
    if f["opc"] not in (0, 2, 4, 6, 7, 8, 10):
        return False
    return not (f["opc"] in (0, 4, 8) and f["size"] == 3 and not f["q"])


def _single_ok(f: dict):
    scale, size, s = f["opc"] >> 1, f["size"], f["s"]
    if scale == 1:
        return size & 1 == 0
    if scale == 2:
        return size == 0 or (size == 1 and s == 0)
    if scale == 3:
        return f["l"] == 1 and s == 0
    return True


LDST = [Enc("ldst_mult", "0 q:1 0011000 l:1 000000 opc:4 size:2 rn:5 rt:5", _mult_ok, rn=_BASES),
        Enc("ldst_mult_post", "0 q:1 0011001 l:1 0 rm:5 opc:4 size:2 rn:5 rt:5", _mult_ok, rn=_BASES,
            rm=_POST_RM),
        Enc("ldst_single", "0 q:1 0011010 l:1 r:1 00000 opc:3 s:1 size:2 rn:5 rt:5", _single_ok, rn=_BASES),
        Enc("ldst_single_post", "0 q:1 0011011 l:1 r:1 rm:5 opc:3 s:1 size:2 rn:5 rt:5", _single_ok,
            rn=_BASES, rm=_POST_RM)]


def ldst_state(rng: random.Random) -> State:
    st = random_state(rng, vregs=False, mem_size=0x1800)
    st.v = [rand_vreg(rng) for _ in range(32)]
    for i, r in enumerate(_BASES):
        st.x[r] = DATA_BASE + 0x400 + 0x300 * i + rng.randrange(64)
    st.x[4], st.x[5], st.x[6] = rng.choice((16, 32, 48)), (-16) & M64, rng.randrange(8)
    return st


# --- groups --------------------------------------------------------------------------------------------

# group -> (encodings, general-register generator, relative number of blocks)
GROUPS: dict[str, tuple[list, object, int]] = {}
for _name, _encs in FP_SCALAR.items():
    GROUPS[_name] = (_encs, rand_gpr_fp if _name in ("fp_int", "fp_fix") else rand_u64, 40)
for _name, _encs in SIMD_VECTOR.items():
    GROUPS[_name] = (_encs, rand_u64, 40)
for _name, _encs in SIMD_SCALAR.items():
    GROUPS[_name] = (_encs, rand_u64, 25)
GROUPS["fp_dp2"] = (GROUPS["fp_dp2"][0], rand_u64, 80)
GROUPS["fp_dp3"] = (GROUPS["fp_dp3"][0], rand_u64, 60)
GROUPS["v3same_fp"] = (GROUPS["v3same_fp"][0], rand_u64, 60)
GROUPS["v2misc"] = (GROUPS["v2misc"][0], rand_u64, 60)

GROUPS["ldst_struct"] = (LDST, ldst_state, 60)
BLOCK = 24
SCALE = 8
RANDOM_SCALE = 3


@pytest.fixture(scope="module")
def dt() -> DiffTester:
    return DiffTester(vregs=True)


def run_group(dt: DiffTester, group: str, seed: int, nblocks: int) -> None:
    encs, gpr, _ = GROUPS[group]
    rng = random.Random(f"{group}/{seed}")
    for i in range(nblocks):
        words = [rng.choice(encs).gen(rng) for _ in range(BLOCK)]
        if rng.random() < 0.5:
            words[-1] = rng.choice(encs).gen_invalid(rng) or words[-1]
        init = gpr(rng) if gpr is ldst_state else fp_state(rng, gpr)
        max_insns = rng.choice((None, None, None, 1, rng.randrange(2, 8)))
        try:
            dt.check(words, init, max_insns)
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
