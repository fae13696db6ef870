"""AArch32 Advanced SIMD element and structure loads and stores (VLD1-4, VST1-4), A32 and T32.

Patterns: a32u_neon_ls.decode, t32_neon_ls.decode. Every access is done before
any register is written (a fault leaves the registers as they were). Alignment
hints are accepted but not checked (no alignment faults).
"""
from __future__ import annotations

from pyqemu.target.arm import cpu32 as C
from pyqemu.target.arm.translate32 import DisasContext32

M32 = C.M32

# "Multiple structures" type field -> (registers, interleave, spacing), ARM ARM A7.7.
LS_MULTI = {
    0b0000: (1, 4, 1), 0b0001: (1, 4, 2), 0b0010: (4, 1, 1), 0b0011: (2, 2, 2),
    0b0100: (1, 3, 1), 0b0101: (1, 3, 2), 0b0110: (3, 1, 1), 0b0111: (1, 1, 1),
    0b1000: (1, 2, 1), 0b1001: (1, 2, 2), 0b1010: (2, 1, 1),
}


def _addr(s: DisasContext32, base, off: int):
    if not off:
        return base
    return s.b.ext(s.b.add(base, off, 32), 32, False, 64)


def _writeback(s: DisasContext32, a, base, total: int) -> None:
    """Rm = 15: none; Rm = 13: Rn += the bytes transferred; else Rn += Rm."""
    if a.rm == 15:
        return
    if a.rm == 13:
        s.set_reg(a.rn, s.b.add(base, total, 32))
    else:
        s.set_reg(a.rn, s.b.add(base, s.reg(a.rm), 32))


def trans_VLDST_multiple(s: DisasContext32, a) -> bool:
    b = s.b
    layout = LS_MULTI.get(a.itype)
    if layout is None:
        return False
    nregs, interleave, spacing = layout
    if interleave == 1 and a.size == 3:
        pass  # VLD1/VST1 .64
    elif a.size == 3:
        return False
    if a.itype in (0b0111, 0b0110) and a.align & 2:
        return False
    if a.itype in (0b1010, 0b1000, 0b1001) and a.align == 3:
        return False
    if a.itype in (0b0100, 0b0101) and a.align & 2:
        return False
    last = a.vd + nregs - 1 + spacing * (interleave - 1)
    if last > 31 or a.rn == 15:
        return False
    base = s.tmp_copy(s.reg(a.rn))
    total = 8 * nregs * interleave
    align = (0, 8, 16, 32)[a.align]  # checked on the first access: the base address
    if interleave == 1:
        if a.l:
            vals = [b.ld(_addr(s, base, 8 * k), 8, align=0 if k else align) for k in range(nregs)]
            for k, v in enumerate(vals):
                s.set_d(a.vd + k, v)
        else:
            for k in range(nregs):
                b.st(_addr(s, base, 8 * k), s.d(a.vd + k), 8, align=0 if k else align)
        _writeback(s, a, base, total)
        return True
    esize = 1 << a.size
    emask = (1 << (8 * esize)) - 1
    off = 0
    if a.l:
        acc: dict[int, object] = {}
        for reg in range(nregs):
            for e in range(8 // esize):
                for xs in range(interleave):
                    tt = a.vd + reg + spacing * xs
                    v = b.ld(_addr(s, base, off), esize, align=0 if off else align)
                    v = b.ext(v, 8 * esize, False, 64)
                    if e:
                        v = b.shl(v, 8 * esize * e, 64)
                        acc[tt] = b.or_(acc[tt], v, 64)
                    else:
                        acc[tt] = v
                    off += esize
        for tt, v in acc.items():
            s.set_d(tt, v)
    else:
        for reg in range(nregs):
            for e in range(8 // esize):
                for xs in range(interleave):
                    tt = a.vd + reg + spacing * xs
                    v = b.and_(b.shr(s.d(tt), 8 * esize * e, 64), emask, 64)
                    b.st(_addr(s, base, off), v, esize, align=0 if off else align)
                    off += esize
    _writeback(s, a, base, total)
    return True


def _replicate(s: DisasContext32, v, esize: int):
    """The 64-bit pattern of an element of ``esize`` bytes repeated."""
    if esize == 8:
        return v
    k = 0
    for i in range(0, 64, 8 * esize):
        k |= 1 << i
    return s.b.mul(v, k, 64)


def _lane_align(n: int, size: int, ia: int) -> int:
    """Alignment in bytes that a single-lane VLDn/VSTn's index_align asks for (0: none,
    -1: a reserved encoding)."""
    if n == 1:
        if size == 0:
            return 0
        if size == 1:
            return 2 if ia & 1 else 0
        return {0: 0, 3: 4}.get(ia & 3, -1)
    if n == 2:
        if size == 2:
            return {0: 0, 1: 8}.get(ia & 3, -1)
        return (2 << size) if ia & 1 else 0
    if n == 3:
        return 0 if not ia & 1 and not (size == 2 and ia & 3) else -1
    if size == 2:
        return {0: 0, 1: 8, 2: 16}.get(ia & 3, -1)
    return (4 << size) if ia & 1 else 0


def trans_VLDST_single(s: DisasContext32, a) -> bool:
    b = s.b
    n = a.itype + 1  # VLDn / VSTn
    if a.rn == 15:
        return False
    base = s.tmp_copy(s.reg(a.rn))
    if a.size == 3:  # to all lanes: loads only; align is size:T:a
        if not a.l:
            return False
        size = a.align >> 2
        t = (a.align >> 1) & 1
        if size == 3:
            if n != 4 or not a.align & 1:
                return False
            size = 2
        esize = 1 << size
        if n == 1:
            regs = [[a.vd + k for k in range(t + 1)]]
        else:
            regs = [[a.vd + k * (t + 1)] for k in range(n)]
        if regs[-1][-1] > 31:
            return False
        align = 0
        if a.align & 1:  # the a bit
            if n == 3 or (n == 1 and size == 0):
                return False
            align = esize * (1 if n == 1 else n)
        vals = [_replicate(s, b.ext(b.ld(_addr(s, base, esize * k), esize, align=0 if k else align),
                                    8 * esize, False, 64), esize)
                for k in range(n)]
        for group, v in zip(regs, vals, strict=True):
            v = s.tmp_copy(v)
            for r in group:
                s.set_d(r, v)
        _writeback(s, a, base, n * esize)
        return True
    size = a.size
    esize = 1 << size
    ia = a.align
    if size == 0:
        index, inc = ia >> 1, 1
        if n == 1 and ia & 1:
            return False
    elif size == 1:
        index, inc = ia >> 2, 2 if ia & 2 else 1
        if n == 1 and ia & 2:
            return False
    else:
        index, inc = ia >> 3, 2 if ia & 4 else 1
        if n == 1 and ia & 4:
            return False
    regs = [a.vd + k * inc for k in range(n)]
    if regs[-1] > 31:
        return False
    align = _lane_align(n, size, ia)
    if align < 0:
        return False
    sh = 8 * esize * index
    emask = ((1 << (8 * esize)) - 1) << sh
    if a.l:
        vals = [b.ext(b.ld(_addr(s, base, esize * k), esize, align=0 if k else align), 8 * esize, False, 64)
                for k in range(n)]
        for r, v in zip(regs, vals, strict=True):
            s.set_d(r, b.or_(b.andc(s.d(r), emask, 64), b.shl(v, sh, 64), 64))
    else:
        for k, r in enumerate(regs):
            v = b.and_(b.shr(s.d(r), sh, 64), (1 << (8 * esize)) - 1, 64)
            b.st(_addr(s, base, esize * k), v, esize, align=0 if k else align)
    _writeback(s, a, base, n * esize)
    return True
