"""NVMe data pointers: PRP entries and PRP lists turned into guest memory segments
(QEMU ``hw/nvme/ctrl.c`` nvme_map_prp), and the copies between them and a buffer.

A PRP list is read through ``read(addr, n)`` (the controller's DMA read); a list entry
that cannot be read fails with Data Transfer Error, a misaligned list entry or PRP2 with
Invalid PRP Offset (DNR), as QEMU does. The data segments are only checked when copied
(``gather``/``scatter``): an address where nothing answers is a Data Transfer Error.
Spec: NVM Express Base 1.4 section 4.3.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from pyqemu.hw.nvme.defs import DATA_TRAS_ERROR, DNR, INVALID_PRP_OFFSET, NvmeError
from pyqemu.memory import MemTxError
from pyqemu.util import log

Segments = list[tuple[int, int]]


def map_prp(read: Callable[[int, int], bytes], prp1: int, prp2: int, length: int,
            page_size: int) -> Segments:
    """The (address, length) segments that PRP1/PRP2 describe for ``length`` bytes."""
    mask = page_size - 1
    first = min(length, page_size - (prp1 & mask))
    segs: Segments = [(prp1, first)] if first else []
    left = length - first
    if not left:
        return segs
    if left <= page_size:
        if prp2 & mask:
            log.guest_error(f"nvme: PRP2 0x{prp2:x} is not page aligned")
            raise NvmeError(INVALID_PRP_OFFSET | DNR)
        segs.append((prp2, left))
        return segs
    max_ents = page_size // 8
    # the first list may start inside a page: it holds the entries up to that page's end
    nents = (page_size - (prp2 & mask)) >> 3
    entries = _read_list(read, prp2, min(max_ents, nents))
    i = 0
    while left:
        ent = entries[i]
        if i == nents - 1 and left > page_size:
            # the last entry of a full list points to the next list
            if ent & mask:
                log.guest_error(f"nvme: PRP list pointer 0x{ent:x} is not page aligned")
                raise NvmeError(INVALID_PRP_OFFSET | DNR)
            nents = min((left + mask) // page_size, max_ents)
            entries = _read_list(read, ent, nents)
            i = 0
            ent = entries[0]
        if ent & mask:
            log.guest_error(f"nvme: PRP list entry 0x{ent:x} is not page aligned")
            raise NvmeError(INVALID_PRP_OFFSET | DNR)
        n = min(left, page_size)
        segs.append((ent, n))
        left -= n
        i += 1
    return segs


def _read_list(read: Callable[[int, int], bytes], addr: int, nents: int) -> tuple[int, ...]:
    try:
        raw = read(addr, nents * 8)
    except MemTxError:
        log.guest_error(f"nvme: cannot read PRP list at 0x{addr:x}")
        raise NvmeError(DATA_TRAS_ERROR) from None
    return struct.unpack(f"<{nents}Q", raw)


def gather(read: Callable[[int, int], bytes], segs: Segments) -> bytes:
    """The bytes the segments hold (host-to-controller transfer)."""
    try:
        return b"".join(read(a, n) for a, n in segs)
    except MemTxError as e:
        log.guest_error(f"nvme: DMA read from 0x{e.addr:x} failed")
        raise NvmeError(DATA_TRAS_ERROR) from None


def scatter(write: Callable[[int, bytes], None], segs: Segments, data: bytes) -> None:
    """Copy ``data`` into the segments (controller-to-host transfer)."""
    view = memoryview(data)
    pos = 0
    try:
        for a, n in segs:
            write(a, view[pos:pos + n])
            pos += n
    except MemTxError as e:
        log.guest_error(f"nvme: DMA write to 0x{e.addr:x} failed")
        raise NvmeError(DATA_TRAS_ERROR) from None


# -- SGLs (QEMU nvme_map_sgl) ---------------------------------------------------------------------
INVALID_SGL_SEG_DESCR, INVALID_NUM_SGL_DESCRS, DATA_SGL_LEN_INVALID = 0x0D, 0x0E, 0x0F
SGL_DESCR_TYPE_INVALID = 0x11
SGL_DATA_BLOCK, SGL_SEGMENT, SGL_LAST_SEGMENT = 0, 2, 3
_SGL = struct.Struct("<QI3xB")
SEG_CHUNK = 256
MAX_SGL_DESCRIPTORS = 65536    # a bound on one command's work (QEMU has none)


def map_sgl(read: Callable[[int, int], bytes], desc: bytes, length: int) -> Segments:
    """The segments a Scatter Gather List describes; QEMU's statuses for malformed lists."""
    segs: Segments = []
    addr, dlen, dtype = _SGL.unpack(desc)
    left = [length]

    def data(descs: list[tuple[int, int, int]]) -> None:
        for a, n, t in descs:
            t >>= 4
            if t in (SGL_SEGMENT, SGL_LAST_SEGMENT):
                _sgl_error(INVALID_NUM_SGL_DESCRS | DNR, "segment descriptor among data blocks")
            if t != SGL_DATA_BLOCK:
                _sgl_error(SGL_DESCR_TYPE_INVALID | DNR, f"descriptor type {t}")
            if not n:
                continue
            if not left[0]:
                _sgl_error(DATA_SGL_LEN_INVALID | DNR, "longer than the transfer")
            take = min(left[0], n)
            segs.append((a, take))
            left[0] -= take

    seen = [0]
    cur = (addr, dlen, dtype)
    if dtype >> 4 == SGL_DATA_BLOCK:
        data([cur])
    else:
        while True:
            a, seg_len, t = cur
            if t >> 4 not in (SGL_SEGMENT, SGL_LAST_SEGMENT) or not seg_len or seg_len & 0xF:
                _sgl_error(INVALID_SGL_SEG_DESCR | DNR, f"bad segment descriptor (type {t >> 4}, "
                           f"length {seg_len})")
            nsgld = seg_len // 16
            seen[0] += nsgld
            if seen[0] > MAX_SGL_DESCRIPTORS:
                _sgl_error(INVALID_NUM_SGL_DESCRS | DNR, f"more than {MAX_SGL_DESCRIPTORS} descriptors")
            while nsgld > SEG_CHUNK:    # long segments in 4 KiB chunks, as QEMU reads them
                data(_read_descs(read, a, SEG_CHUNK))
                nsgld -= SEG_CHUNK
                a += SEG_CHUNK * 16
            descs = _read_descs(read, a, nsgld)
            if descs[-1][2] >> 4 == SGL_DATA_BLOCK:
                data(descs)
                break
            if t >> 4 == SGL_LAST_SEGMENT:
                _sgl_error(INVALID_SGL_SEG_DESCR | DNR, "last segment ends with a segment descriptor")
            data(descs[:-1])
            cur = descs[-1]
    if left[0]:
        _sgl_error(DATA_SGL_LEN_INVALID | DNR, "shorter than the transfer")
    return segs


def _read_descs(read: Callable[[int, int], bytes], addr: int, n: int) -> list[tuple[int, int, int]]:
    try:
        raw = read(addr, n * 16)
    except MemTxError:
        log.guest_error(f"nvme: cannot read SGL segment at 0x{addr:x}")
        raise NvmeError(DATA_TRAS_ERROR) from None
    return [_SGL.unpack_from(raw, i) for i in range(0, n * 16, 16)]


def _sgl_error(status: int, why: str) -> None:
    log.guest_error(f"nvme: invalid SGL: {why}")
    raise NvmeError(status)


def map_dptr(ctrl: Any, req: Any, length: int) -> Segments:
    """The guest segments of command ``req``'s data pointer (PRPs or an SGL) for ``length``."""
    if req.psdt == 0:
        return map_prp(ctrl.dma_read, req.qw(6), req.qw(8), length, ctrl.page_size)
    if req.psdt in (1, 2):
        return map_sgl(ctrl.dma_read, req.cmd[24:40], length)
    log.guest_error("nvme: reserved PSDT value 3")
    raise NvmeError(0x0002)
