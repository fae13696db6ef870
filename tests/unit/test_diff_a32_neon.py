"""A32 Advanced SIMD: three
registers of the same length (integer, logic, single precision), shifts by an
immediate (also narrowing and lengthening), one register and immediate, two
registers miscellaneous, VEXT, VDUP (scalar), three registers of different
lengths, two registers and a scalar, VTBL/VTBX, VLD1-4/VST1-4 (multiple
structures, one lane, all lanes): pyqemu against Unicorn, comparing D0-D31,
FPSCR (QC) and the data window.

Only allocated encodings are drawn (Q forms with even registers; no 64-bit
elements where the ARM ARM has none; no half-precision or v8.1 VQRDMLAH, which
Unicorn 2 lacks; VTRN/VZIP/VUZP/VSWP with Vd = Vm). Element and structure loads and
stores use bases R4-R7 inside the data window, without writeback or alignment hints.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from difftest32 import NEON_BLOCK, group_tests, neon_groups  # noqa: E402

SKIP: dict[str, str] = {}  # group -> reason (pyqemu bugs or missing instructions)

dt, test_group, test_group_random = group_tests("a32neon/", neon_groups(thumb=False), NEON_BLOCK, SKIP,
                                                thumb=False, dregs=True)
