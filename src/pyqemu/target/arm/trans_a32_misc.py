"""AArch32 miscellaneous instructions: exception generation (SVC, UDF)."""
from __future__ import annotations

from pyqemu.target.arm.translate32 import DisasContext32


def trans_SVC(s: DisasContext32, a) -> bool:
    s.svc()
    return True


def trans_UDF_uncond(s: DisasContext32, a) -> bool:
    s.undef()
    return True


trans_UDF_t32 = trans_UDF_t16 = trans_UDF_uncond
