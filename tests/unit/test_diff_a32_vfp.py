"""A32 VFP (VFPv3/v4 and the ARMv8 AArch32 additions): data processing, conversions,
compares, moves between core and VFP registers, VMRS/VMSR, VLDR/VSTR/VLDM/VSTM:
pyqemu against Unicorn, comparing D0-D31 and FPSCR too.

Operands are biased toward special values (zeros, infinities, quiet and
signalling NaNs, denormals, integer-conversion edges); FPSCR starts with random
rounding mode, flush-to-zero, default-NaN, AHP and cumulative flags (vector
length/stride and trap enables stay 0: not in ARMv8). Excluded: VMSR from
arbitrary values (only from R12, which holds a valid FPSCR), fixed-point
conversions with a negative fraction width, VMOV to two singles past S31,
VMOV from a 32-bit scalar with U set (all UNPREDICTABLE or UNDEFINED).
VLDM/VSTM use the increment-after form without writeback from bases R4-R7;
VPUSH/VPOP move SP inside the data window; literal VLDR reads the code.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from difftest32 import (  # noqa: E402
    VFP_DP,
    VFP_MOV,
    VFP_V8,
    VFP_VSEL64,
    Block,
    cond,
    fp_state,
    group_tests,
    rand_start,
    random_blocks,
    vfp_ls,
    vfp_ls_state,
)

BLOCK = 40


def _encs(encs):
    return random_blocks(encs, BLOCK, fp_state)


def _ls(rng: random.Random) -> Block:
    insns = [vfp_ls(rng, cond(rng)) if rng.random() < 0.7 else rng.choice(VFP_DP).gen(rng)
             for _ in range(BLOCK)]
    return Block(insns, vfp_ls_state(rng), start=rand_start(rng, False))


GROUPS = {
    "dp": (_encs(VFP_DP), 150),
    "mov": (_encs(VFP_MOV + VFP_DP), 60),
    "ls": (_ls, 60),
    "v8": (_encs(VFP_V8 + VFP_DP), 60),
    "vsel64": (_encs(VFP_VSEL64 + VFP_DP), 20),
}
SKIP: dict[str, str] = {}  # group -> reason (pyqemu bugs or missing instructions)

dt, test_group, test_group_random = group_tests("a32vfp/", GROUPS, BLOCK, SKIP, thumb=False, dregs=True)
