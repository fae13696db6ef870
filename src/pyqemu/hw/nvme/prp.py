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
