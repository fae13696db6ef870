"""T32 Advanced SIMD: the A32 groups (test_diff_a32_neon.py) with the encodings moved to
111U 1111 (data processing) and 1111 1001 (element and structure loads and stores):
pyqemu against Unicorn, comparing D0-D31, FPSCR (QC) and the data window.
Exclusions and memory forms as for A32.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from difftest32 import NEON_BLOCK, group_tests, neon_groups  # noqa: E402

SKIP: dict[str, str] = {}  # group -> reason (pyqemu bugs or missing instructions)

dt, test_group, test_group_random = group_tests("t32neon/", neon_groups(thumb=True), NEON_BLOCK, SKIP,
                                                thumb=True, dregs=True)
