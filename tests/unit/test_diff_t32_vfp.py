"""T32 VFP: the A32 VFP groups (test_diff_a32_vfp.py) as 32-bit Thumb instructions
(the same encodings with 1110 in the top bits), conditional through IT blocks:
pyqemu against Unicorn, comparing D0-D31 and FPSCR too. Exclusions and memory forms as for A32.
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
    fp_state,
    group_tests,
    it_blocks,
    vfp_ls,
    vfp_ls_state,
)

BLOCK = 36  # units


def _encs(encs, state=fp_state, ls: bool = False):
    def one(rng: random.Random) -> int:
        if ls and rng.random() < 0.7:
            return vfp_ls(rng, 14)
        e = rng.choice(encs)
        return e.gen(rng, cond=14) if e.fields[0][0] == "cond" else e.gen(rng)

    # v8 encodings (unconditional space) must not sit in IT blocks
    return it_blocks(one, BLOCK, state, it=all(e.fields[0][0] == "cond" for e in encs))


GROUPS = {
    "dp": (_encs(VFP_DP), 150),
    "mov": (_encs(VFP_MOV + VFP_DP), 60),
    "ls": (_encs(VFP_DP, vfp_ls_state, ls=True), 60),
    "v8": (_encs(VFP_V8 + VFP_DP), 40),
    "vsel64": (_encs(VFP_VSEL64 + VFP_DP), 20),
}
SKIP: dict[str, str] = {}  # group -> reason (pyqemu bugs or missing instructions)

dt, test_group, test_group_random = group_tests("t32vfp/", GROUPS, BLOCK, SKIP, thumb=True, dregs=True)
