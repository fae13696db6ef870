"""Thumb (16- and 32-bit) integer data processing, multiplies, divides, saturation,
SIMD-in-register, pack/extend, bitfield, reversal, APSR access and IT blocks:
pyqemu against Unicorn.

Blocks are sequences of units: one instruction, or (about one unit in six) an
IT instruction with the 1-4 instructions it makes conditional, drawn from the
same group (16-bit data processing sets no flags inside an IT block).
Encodings are drawn only from the defined ones:

* SP and PC are excluded from 32-bit encodings where the ARM ARM makes them
  UNPREDICTABLE (everywhere except Rn = SP for ADD/SUB, and Rn = PC meaning
  MOV/MVN/ADR); PC as a destination is excluded (branches are tested apart).
* Compare forms (TST/TEQ/CMP/CMN: Rd = PC with S) are drawn as such; the
  modified-immediate constants that are UNPREDICTABLE (imm8 = 0 with a
  replicated pattern) are excluded.
* REV/REV16/RBIT/REVSH/CLZ repeat Rm in the Rn field (otherwise CONSTRAINED
  UNPREDICTABLE); RdHi == RdLo of long multiplies, SBFX/UBFX past bit 31 and
  BFI with msb < lsb are excluded.
* 16-bit high-register ADD/MOV/CMP: no PC operands, CMP not with two low registers.
* YIELD is left out (Unicorn stops with UC_ERR_INSN_INVALID after it), WFI/WFE too.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from difftest32 import (  # noqa: E402
    T32_REGS,
    Encoding,
    group_tests,
    it_blocks,
    operands,
    rand_div,
    rand_u32,
)


def _t(name: str, layout: str, valid=None, **fields) -> Encoding:
    return Encoding(name, layout, valid, regs=T32_REGS, **fields)


# --- 16-bit ---------------------------------------------------------------------------------

def _hi_ok(f: dict) -> bool:
    d = (f["dn"] << 3) | f["rdn"]
    if d == 15 or f["rm"] == 15:
        return False
    return f["op"] != 1 or d >= 8 or f["rm"] >= 8


T16_DP = [Encoding("shift", "000 op:2 imm:5 rm:3 rd:3", op=(0, 1, 2)),
          Encoding("addsub3", "00011 i:1 op:1 rm:3 rn:3 rd:3"),
          Encoding("imm8", "001 op:2 rd:3 imm:8"),
          Encoding("dpreg", "010000 op:4 rm:3 rdn:3"),
          Encoding("hireg", "010001 op:2 dn:1 rm:4 rdn:3", valid=_hi_ok, op=(0, 1, 2)),
          Encoding("adr", "10100 rd:3 imm:8"),
          Encoding("add_sp", "10101 rd:3 imm:8"),
          Encoding("extend", "1011 0010 op:2 rm:3 rd:3"),
          Encoding("rev", "1011 1010 op:2 rm:3 rd:3", op=(0, 1, 3)),
          Encoding("hint", "1011 1111 0 h:3 0000", h=(0, 4, 5))]  # NOP, SEV, SEVL
T16_SP = [Encoding("sp_imm7", "1011 0000 s:1 imm:7")]  # ADD/SUB SP, SP, #imm (kept apart: moves SP)

# --- 32-bit ---------------------------------------------------------------------------------

_CMP_OPS = (0, 4, 8, 13)  # TST, TEQ, CMN, CMP with Rd = PC and S = 1


def _rn(rng: random.Random) -> int:
    r = rng.random()
    return 15 if r < 0.1 else 13 if r < 0.15 else rng.choice(T32_REGS)


def _rd(rng: random.Random) -> int:
    return 15 if rng.random() < 0.15 else rng.choice(T32_REGS)


def _dp_regs_ok(f: dict) -> bool:
    op, rn, rd = f["op"], f["rn"], f["rd"]
    if rd == 15 and not (op in _CMP_OPS and f["s"]):
        return False
    if rn == 15 and op not in (2, 3):
        return False
    return rn != 13 or op in (8, 13)


def _modimm_ok(f: dict) -> bool:
    imm12 = (f["i"] << 11) | (f["imm3"] << 8) | f["imm8"]
    if imm12 >> 10 == 0 and (imm12 >> 8) & 3 and f["imm8"] == 0:
        return False
    return _dp_regs_ok(f)


_OPS = (0, 1, 2, 3, 4, 8, 10, 11, 13, 14)

T32_MODIMM = [_t("modimm", "11110 i:1 0 op:4 s:1 rn:4 0 imm3:3 rd:4 imm8:8", _modimm_ok,
                 op=_OPS, rn=_rn, rd=_rd,
                 imm8=lambda r: r.choice((0, 1, 0x80, 0xFF, r.getrandbits(8))))]
T32_PLAINIMM = [_t("addw", "11110 i:1 1 0 o:1 0 o2:1 0 rn:4 0 imm3:3 rd:4 imm8:8",
                   lambda f: f["o"] == f["o2"], rn=_rn),
                _t("movw", "11110 i:1 10 t:1 100 imm4:4 0 imm3:3 rd:4 imm8:8")]
T32_SHREG = [_t("shreg", "1110101 op:4 s:1 rn:4 0 imm3:3 rd:4 imm2:2 ty:2 rm:4", _dp_regs_ok,
                op=_OPS, rn=_rn, rd=_rd),
             _t("rsr", "11111010 0 ty:2 s:1 rm:4 1111 rd:4 0000 rs:4")]
T32_MUL = [_t("mul", "11111011 0 op:3 rn:4 ra:4 rd:4 0 0 o2:2 rm:4",
              lambda f: (f["op"] in (0, 2, 3, 4, 5, 7) and f["o2"] == 0)
              or (f["op"] in (0, 2, 3, 4, 5, 6) and f["o2"] == 1 and (f["op"] not in (0, 6) or f["ra"] != 15))
              or (f["op"] == 6 and f["o2"] == 0 and f["ra"] != 15)
              or f["op"] == 1,
              ra=lambda r: 15 if r.random() < 0.4 else r.choice(T32_REGS))]
T32_MUL_LONG = [_t("mull", "11111011 1 op:3 rn:4 ra:4 rd:4 op2:4 rm:4",
                   lambda f: f["ra"] != f["rd"] and (
                       (f["op"] in (0, 2, 4, 6) and f["op2"] == 0)
                       or (f["op"] == 4 and f["op2"] in (8, 9, 10, 11, 12, 13))
                       or (f["op"] == 5 and f["op2"] in (12, 13))
                       or (f["op"] == 6 and f["op2"] == 6)),
                   op=(0, 2, 4, 5, 6), op2=(0, 0, 0, 6, 8, 9, 10, 11, 12, 13))]
T32_DIV = [_t("div", "11111011 1 0 u:1 1 rn:4 1111 rd:4 1111 rm:4")]
T32_SAT = [_t("qadd", "11111010 1000 rn:4 1111 rd:4 10 op:2 rm:4"),
           _t("ssat", "11110 0 11 u:1 0 sh:1 0 rn:4 0 imm3:3 rd:4 imm2:2 0 sat:5",
              lambda f: not (f["sh"] and f["imm3"] == 0 and f["imm2"] == 0)),
           _t("ssat16", "11110 0 11 u:1 0 1 0 rn:4 0 000 rd:4 00 0 0 sat:4")]
T32_PARALLEL = [_t("parallel", "11111010 1 op1:3 rn:4 1111 rd:4 0 op2:3 rm:4",
                   op1=(0, 1, 2, 4, 5, 6), op2=(0, 1, 2, 4, 5, 6))]
T32_EXTEND = [_t("pkh", "1110101 0110 0 rn:4 0 imm3:3 rd:4 imm2:2 tb:1 0 rm:4"),
              _t("xtab", "11111010 0 op:3 rn:4 1111 rd:4 10 rot:2 rm:4", op=range(6),
                 rn=lambda r: 15 if r.random() < 0.5 else r.choice(T32_REGS)),
              _t("sel", "11111010 1010 rn:4 1111 rd:4 1000 rm:4")]
T32_BITFIELD = [_t("bfx", "11110 0 11 u:1 10 0 rn:4 0 imm3:3 rd:4 imm2:2 0 w:5",
                   lambda f: ((f["imm3"] << 2) | f["imm2"]) + f["w"] <= 31),
                _t("bfi", "11110 0 11 011 0 rn:4 0 imm3:3 rd:4 imm2:2 0 msb:5",
                   lambda f: f["msb"] >= ((f["imm3"] << 2) | f["imm2"]),
                   rn=lambda r: 15 if r.random() < 0.3 else r.choice(T32_REGS))]
T32_REV = [_t("rev", "11111010 10 o:1 1 rn:4 1111 rd:4 10 op:2 rm:4",
              lambda f: f["rn"] == f["rm"] and (f["o"] == 0 or f["op"] == 0))]
T32_MISC = [_t("usad8", "11111011 0111 rn:4 ra:4 rd:4 0000 rm:4",
               ra=lambda r: 15 if r.random() < 0.5 else r.choice(T32_REGS)),
            _t("mrs", "11110 0 1111 1 0 1111 10 0 0 rd:4 0000 0000"),
            _t("msr", "11110 0 1110 0 0 rn:4 10 0 0 mask:2 00 0000 0000", mask=(1, 2, 3)),
            _t("hint", "11110 0 111 01 0 1111 10 0 0 0 000 0000 0 h:3", h=(0, 4, 5))]  # NOP, SEV, SEVL

T32_CRC = [_t("crc32", "11111010 110 c:1 rn:4 1111 rd:4 10 sz:2 rm:4", sz=(0, 1, 2))]

FLAGS_MIX = T16_DP + T16_DP + T32_MODIMM + T32_SHREG + T32_SAT + T32_MISC[1:3]


# group -> (encodings, operand generator, relative number of blocks)
GROUPS = {
    "t16_dp": (T16_DP, rand_u32, 120),
    "t16_sp": (T16_SP + T16_DP, rand_u32, 10),
    "modimm": (T32_MODIMM, rand_u32, 80),
    "plainimm": (T32_PLAINIMM, rand_u32, 20),
    "shreg": (T32_SHREG, rand_u32, 80),
    "mul": (T32_MUL, rand_u32, 50),
    "mul_long": (T32_MUL_LONG, rand_u32, 40),
    "div": (T32_DIV, rand_div, 20),
    "sat": (T32_SAT, rand_u32, 40),
    "parallel": (T32_PARALLEL, rand_u32, 70),
    "extend": (T32_EXTEND, rand_u32, 40),
    "bitfield": (T32_BITFIELD, rand_u32, 30),
    "rev": (T32_REV, rand_u32, 20),
    "misc": (T32_MISC, rand_u32, 20),
    "crc": (T32_CRC, rand_u32, 10),
    "flags_mix": (FLAGS_MIX, rand_u32, 80),
}
BLOCK = 48  # units per block
SKIP: dict[str, str] = {}  # group -> reason (pyqemu bugs or missing instructions)


def _gen(encs, value):
    return it_blocks(lambda rng: rng.choice(encs).gen(rng), BLOCK, operands(value), slots=256)


dt, test_group, test_group_random = group_tests(
    "t32/", {g: (_gen(encs, value), n) for g, (encs, value, n) in GROUPS.items()}, BLOCK, SKIP, thumb=True)
