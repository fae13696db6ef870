"""A32 integer data processing, multiplies, divides, saturation, SIMD-in-register,
pack/extend, bitfield, reversal and APSR access: pyqemu against Unicorn.

Each group runs blocks of random instructions of that group (random conditions
included) from random, edge-biased register values, as one translation block
or split into smaller ones. Encodings are drawn only from the defined ones:

* PC as a destination is excluded everywhere (ALU writes to PC are branches,
  tested with the branches); PC as an operand only where the ARM ARM defines
  it (data processing with an immediate shift or an immediate: it reads as the
  instruction's address + 8); never in register-shifted-register forms,
  multiplies and media instructions (UNPREDICTABLE).
* Should-be-zero fields (Rn of MOV/MVN, Rd of TST/TEQ/CMP/CMN, Ra of MUL...)
  are zero; RdHi == RdLo of long multiplies is excluded (UNPREDICTABLE);
  SBFX/UBFX with lsb + width > 32 and BFI with msb < lsb are excluded.
* WFI/WFE are left out (Unicorn may wait for an interrupt), YIELD too (Unicorn
  stops with UC_ERR_INSN_INVALID after it).

The default run uses a fixed seed; ``-m random`` runs a larger variant with a
fresh seed (printed on failure; set PYQEMU_DIFF_SEED to replay one).
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from difftest32 import (  # noqa: E402
    DATA_SIZE,
    DiffTester,
    Encoding,
    PyqemuRunner,
    State,
    fp_state,
    group_tests,
    operands,
    rand_div,
    rand_u32,
    random_blocks,
    random_state,
)


def rpc(rng: random.Random) -> int:
    """An operand register where PC is allowed: R15 now and then."""
    return 15 if rng.random() < 0.04 else rng.randrange(15)


def _dp_ok(f: dict) -> bool:
    op = f["op"]
    if 8 <= op <= 11:
        return f["s"] == 1 and f["rd"] == 0
    if op in (13, 15):
        return f["rn"] == 0
    return True


def _nopc(*names: str):
    return lambda f: all(f[n] != 15 for n in names)


def _long_ok(f: dict) -> bool:
    return f["rd"] != f["ra"]  # RdHi != RdLo


DP_IMM = [Encoding("dp_imm", "cond:4 001 op:4 s:1 rn:4 rd:4 rot:4 imm:8", valid=_dp_ok, rn=rpc,
                   imm=lambda r: r.choice((0, 1, 0x80, 0xFF, r.getrandbits(8))))]
DP_REG = [Encoding("dp_reg", "cond:4 000 op:4 s:1 rn:4 rd:4 sh:5 ty:2 0 rm:4", valid=_dp_ok,
                   rn=rpc, rm=rpc, sh=lambda r: r.choice((0, 1, 31, r.getrandbits(5))))]
DP_RSR = [Encoding("dp_rsr", "cond:4 000 op:4 s:1 rn:4 rd:4 rs:4 0 ty:2 1 rm:4", valid=_dp_ok)]
MOVW = [Encoding("movw", "cond:4 0011 0 t:1 00 imm4:4 rd:4 imm12:12")]
MUL = [Encoding("mul", "cond:4 0000 000 s:1 rd:4 0000 rm:4 1001 rn:4"),
       Encoding("mla", "cond:4 0000 001 s:1 rd:4 ra:4 rm:4 1001 rn:4"),
       Encoding("mls", "cond:4 0000 011 0 rd:4 ra:4 rm:4 1001 rn:4")]
MUL_LONG = [Encoding("umaal", "cond:4 0000 010 0 rd:4 ra:4 rm:4 1001 rn:4", valid=_long_ok),
            Encoding("mull", "cond:4 0000 1 op:2 s:1 rd:4 ra:4 rm:4 1001 rn:4", valid=_long_ok)]
MUL_HALF = [Encoding("smlaxy", "cond:4 0001 0 op:2 0 rd:4 ra:4 rm:4 1 y:1 x:1 0 rn:4",
                     valid=lambda f: (f["op"] != 2 or f["rd"] != f["ra"]) and (f["op"] != 1 or f["x"] == 0),
                     op=(0, 1, 2)),
            Encoding("smulxy", "cond:4 0001 0110 rd:4 0000 rm:4 1 y:1 x:1 0 rn:4"),
            Encoding("smulwy", "cond:4 0001 0010 rd:4 0000 rm:4 1 y:1 1 0 rn:4")]
MUL_DUAL = [Encoding("smlad", "cond:4 0111 0000 rd:4 ra:4 rm:4 0 sub:1 x:1 1 rn:4", ra=rpc),
            Encoding("smlald", "cond:4 0111 0100 rd:4 ra:4 rm:4 0 sub:1 x:1 1 rn:4", valid=_long_ok),
            Encoding("smmla", "cond:4 0111 0101 rd:4 ra:4 rm:4 op:2 r:1 1 rn:4", ra=rpc,
                     valid=lambda f: f["op"] in (0, 3) and (f["op"] == 0 or f["ra"] != 15))]
DIV = [Encoding("div", "cond:4 0111 0 0 u:1 1 rd:4 1111 rm:4 0001 rn:4")]
SAT = [Encoding("qadd", "cond:4 0001 0 op:2 0 rn:4 rd:4 0000 0101 rm:4"),
       Encoding("ssat", "cond:4 0110 1 u:1 1 sat:5 rd:4 imm:5 sh:1 01 rn:4"),
       Encoding("ssat16", "cond:4 0110 1 u:1 10 sat:4 rd:4 1111 0011 rn:4")]
PARALLEL = [Encoding("parallel", "cond:4 0110 0 op1:3 rn:4 rd:4 1111 op2:3 1 rm:4",
                     op1=(1, 2, 3, 5, 6, 7), op2=(0, 1, 2, 3, 4, 7))]
EXTEND = [Encoding("pkh", "cond:4 0110 1000 rn:4 rd:4 imm:5 tb:1 01 rm:4"),
          Encoding("xtab", "cond:4 0110 1 op:3 rn:4 rd:4 rot:2 00 0111 rm:4", op=(0, 2, 3, 4, 6, 7),
                   rn=lambda r: 15 if r.random() < 0.5 else r.randrange(15)),
          Encoding("sel", "cond:4 0110 1000 rn:4 rd:4 1111 1011 rm:4")]
BITFIELD = [Encoding("bfx", "cond:4 0111 1 u:1 1 w:5 rd:4 lsb:5 101 rn:4",
                     valid=lambda f: f["lsb"] + f["w"] <= 31),
            Encoding("bfi", "cond:4 0111 110 msb:5 rd:4 lsb:5 001 rn:4",
                     rn=lambda r: 15 if r.random() < 0.3 else r.randrange(15),
                     valid=lambda f: f["msb"] >= f["lsb"])]
REV = [Encoding("rev", "cond:4 0110 1 o1:1 11 1111 rd:4 1111 o2:1 011 rm:4"),
       Encoding("clz", "cond:4 0001 0110 1111 rd:4 1111 0001 rm:4"),
       Encoding("usad8", "cond:4 0111 1000 rd:4 ra:4 rm:4 0001 rn:4",
                ra=lambda r: 15 if r.random() < 0.5 else r.randrange(15))]
APSR = [Encoding("mrs", "cond:4 0001 0000 1111 rd:4 0000 0000 0000"),
        Encoding("msr_reg", "cond:4 0001 0010 mask:2 00 1111 0000 0000 rn:4", mask=(1, 2, 3)),
        Encoding("msr_imm", "cond:4 0011 0010 mask:2 00 1111 rot:4 imm:8", mask=(1, 2, 3)),
        Encoding("hint", "cond:4 0011 0010 0000 1111 0000 0000 0 h:3", h=(0, 4, 5))]  # NOP SEV SEVL
# CRC32 is unconditional (a condition is CONSTRAINED UNPREDICTABLE)
CRC = [Encoding("crc32", "1110 00010 sz:2 0 rn:4 rd:4 00 c:1 0 0100 rm:4", sz=(0, 1, 2))]
# Flag producers and consumers together: conditions read the flags of the previous
# instructions, in the same block and across block boundaries.
FLAGS_MIX = DP_IMM + DP_REG + DP_RSR + MUL + MUL_LONG + SAT + APSR[1:3]


# group -> (encodings, operand generator, relative number of blocks)
GROUPS = {
    "dp_imm": (DP_IMM, rand_u32, 80),
    "dp_reg": (DP_REG, rand_u32, 80),
    "dp_rsr": (DP_RSR, rand_u32, 60),
    "movw": (MOVW, rand_u32, 15),
    "mul": (MUL, rand_u32, 30),
    "mul_long": (MUL_LONG, rand_u32, 40),
    "mul_half": (MUL_HALF, rand_u32, 40),
    "mul_dual": (MUL_DUAL, rand_u32, 40),
    "div": (DIV, rand_div, 20),
    "sat": (SAT, rand_u32, 40),
    "parallel": (PARALLEL, rand_u32, 70),
    "extend": (EXTEND, rand_u32, 40),
    "bitfield": (BITFIELD, rand_u32, 30),
    "rev": (REV, rand_u32, 30),
    "apsr": (APSR, rand_u32, 20),
    "crc": (CRC, rand_u32, 10),
    "flags_mix": (FLAGS_MIX, rand_u32, 80),
}
BLOCK = 48  # instructions per block
SKIP: dict[str, str] = {}  # group -> reason (pyqemu bugs or missing instructions)

dt, test_group, test_group_random = group_tests(
    "a32/", {g: (random_blocks(encs, BLOCK, operands(value)), n) for g, (encs, value, n) in GROUPS.items()},
    BLOCK, SKIP, thumb=False)


# --- the harness itself -------------------------------------------------------------------------------

class _Corrupting(PyqemuRunner):
    """pyqemu with a wrong result: R5 off by one after any run of 3+ instructions."""

    def run(self, insns, init, *args, **kw) -> State:
        st = super().run(insns, init, *args, **kw)
        if len(insns) >= 3:
            st.r[5] ^= 1
        return st


@pytest.mark.parametrize("thumb", (False, True))
def test_harness_reports_first_divergence(thumb: bool) -> None:
    dt = DiffTester(thumb=thumb, dregs=True, pq=_Corrupting())
    rng = random.Random(5)
    insns = [0xE0800001 if not thumb else 0x1840] * 6  # add r0, r0, r1 / adds r0, r0, r1
    init = fp_state(rng)
    init.mem = bytes(range(256)) * (DATA_SIZE // 256)
    dt.check(insns[:2], init)  # agrees, D registers, FPSCR and memory included
    with pytest.raises(AssertionError) as e:
        dt.check(insns, init)
    msg = str(e.value)
    assert "R5: expected" in msg
    assert "first divergence at instruction 2 " in msg


def test_harness_rejects_faulting_reference() -> None:
    """A generator emitting encodings Unicorn does not run must not pass quietly."""
    dt = DiffTester(thumb=False)
    with pytest.raises(AssertionError, match="Unicorn stopped with ill"):
        dt.check([0xE7F000F0], random_state(random.Random(1)))
