"""The NVM command set (QEMU 7.2 ``hw/nvme/ctrl.c`` nvme_io_cmd): Read, Write, Flush,
Write Zeroes, Dataset Management (deallocate), Compare.

``io_cmd`` checks the command and submits BlockBackend ``aio_*`` requests; it returns a
status for commands that fail their checks and None for the ones that complete later,
from the request's callback in the main loop. A failed host request is QEMU's status
(Unrecovered Read Error for reads, Write Fault for writes and flushes, Internal Error
otherwise); with the write cache disabled (``cache=writethrough`` or the guest's VWC
feature) a write is flushed before it completes.
Spec: NVM Command Set 1.0 / NVM Express Base 1.4 section 6.
"""
from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyqemu.hw.nvme import prp
from pyqemu.hw.nvme.defs import (
    CMD_COMPARE,
    CMD_COPY,
    CMD_DSM,
    CMD_FLUSH,
    CMD_READ,
    CMD_VERIFY,
    CMD_WRITE,
    CMD_WRITE_ZEROES,
    CMP_FAILURE,
    DNR,
    DSMGMT_AD,
    INTERNAL_DEV_ERROR,
    INVALID_FIELD,
    INVALID_NSID,
    INVALID_OPCODE,
    IO_NAMES,
    LBA_RANGE,
    NSID_BROADCAST,
    SUCCESS,
    UNRECOVERED_READ,
    WRITE_FAULT,
    NvmeError,
)
from pyqemu.util import log

if TYPE_CHECKING:
    from pyqemu.hw.nvme.ctrl import NvmeCtrl
    from pyqemu.hw.nvme.ns import Namespace
    from pyqemu.hw.nvme.queues import Request

Done = Callable[[object, BaseException | None], None]


def io_cmd(n: NvmeCtrl, req: Request) -> int | None:
    nsid = req.nsid
    if not n.nsid_valid(nsid):
        log.guest_error(f"nvme: I/O command 0x{req.opcode:x} with invalid nsid {nsid}")
        return INVALID_NSID | DNR
    if req.opcode == CMD_FLUSH and nsid == NSID_BROADCAST:
        return flush(n, req, list(n.namespaces.values()))
    ns = n.ns(nsid)
    if ns is None:
        log.guest_error(f"nvme: I/O command 0x{req.opcode:x} for inactive namespace {nsid}")
        return INVALID_FIELD | DNR
    handler = _HANDLERS.get(req.opcode)
    if handler is None or n.admin_only():
        if req.opcode in (CMD_VERIFY, CMD_COPY):
            log.unimp(f"nvme: {IO_NAMES[req.opcode]} is not supported")
        else:
            log.guest_error(f"nvme: invalid I/O opcode 0x{req.opcode:x}")
        return INVALID_OPCODE | DNR
    if req.fuse:
        log.unimp("nvme: fused operations are not supported")
        return INVALID_FIELD
    req.ns = ns
    return handler(n, req, ns)


def _aio_error(req: Request, exc: BaseException) -> int:
    """QEMU's nvme_aio_err: the status for a failed host request, reported on stderr."""
    status = {CMD_READ: UNRECOVERED_READ, CMD_FLUSH: WRITE_FAULT, CMD_WRITE: WRITE_FAULT,
              CMD_WRITE_ZEROES: WRITE_FAULT}.get(req.opcode, INTERNAL_DEV_ERROR)
    sys.stderr.write(f"nvme: {IO_NAMES.get(req.opcode, 'I/O')} (cid {req.cid}): aio failed: {exc}\n")
    return status


def _finish(n: NvmeCtrl, req: Request) -> Done:
    """A completion callback that completes ``req`` with success or the error's status."""
    def done(_result: object, exc: BaseException | None) -> None:
        n.complete(req, SUCCESS if exc is None else _aio_error(req, exc))
    return done


def _rw_args(n: NvmeCtrl, req: Request, ns: Namespace, data: bool = True) -> tuple[int, int]:
    """(byte offset, byte length) of an LBA range command, after the MDTS and range checks."""
    slba = req.qw(10)
    nlb = (req.dw(12) & 0xFFFF) + 1
    length = nlb * ns.lbasz
    if data and n.mdts and length > n.page_size << n.mdts:
        log.guest_error(f"nvme: {IO_NAMES[req.opcode]} of {length} bytes exceeds MDTS")
        raise NvmeError(INVALID_FIELD | DNR)
    if slba + nlb > ns.nsze:
        log.guest_error(f"nvme: {IO_NAMES[req.opcode]} LBA {slba}+{nlb} is beyond the namespace "
                        f"({ns.nsze} blocks)")
        raise NvmeError(LBA_RANGE | DNR)
    return slba * ns.lbasz, length


def _dnr(fn: Callable[[NvmeCtrl, Request, Namespace], int | None]
         ) -> Callable[[NvmeCtrl, Request, Namespace], int | None]:
    """QEMU's read/write paths add DNR to every status they fail with before submitting."""
    def wrapped(n: NvmeCtrl, req: Request, ns: Namespace) -> int | None:
        try:
            return fn(n, req, ns)
        except NvmeError as e:
            return e.status | DNR
    return wrapped


@_dnr
def read(n: NvmeCtrl, req: Request, ns: Namespace) -> int | None:
    off, length = _rw_args(n, req, ns)
    segs = prp.map_dptr(n, req, length)

    def done(data: object, exc: BaseException | None) -> None:
        if req.sq.deleted:
            return      # the queue or the controller was reset meanwhile: no DMA any more
        if exc is not None:
            n.complete(req, _aio_error(req, exc))
            return
        try:
            prp.scatter(n.dma_write, segs, data)   # type: ignore[arg-type]
        except NvmeError as e:
            n.complete(req, e.status | DNR)
            return
        n.complete(req, SUCCESS)

    ns.blk.aio_read(off, length, done)
    return None


@_dnr
def write(n: NvmeCtrl, req: Request, ns: Namespace) -> int | None:
    off, length = _rw_args(n, req, ns)
    data = prp.gather(n.dma_read, prp.map_dptr(n, req, length))
    ns.blk.aio_write(off, data, _write_done(n, req, ns))
    return None


@_dnr
def write_zeroes(n: NvmeCtrl, req: Request, ns: Namespace) -> int | None:
    off, length = _rw_args(n, req, ns, data=False)
    # QEMU 7.2 always lets the block layer unmap (BDRV_REQ_MAY_UNMAP); discard=ignore keeps data
    ns.blk.aio_write_zeroes(off, length, _write_done(n, req, ns), may_unmap=True)
    return None


def _write_done(n: NvmeCtrl, req: Request, ns: Namespace) -> Done:
    """Complete a write, after a flush when the drive's write cache is off."""
    finish = _finish(n, req)
    if ns.blk.enable_write_cache:
        return finish

    def written(_r: object, exc: BaseException | None) -> None:
        if exc is not None:
            finish(None, exc)
        else:
            ns.blk.aio_flush(finish)
    return written


@_dnr
def compare(n: NvmeCtrl, req: Request, ns: Namespace) -> int | None:
    off, length = _rw_args(n, req, ns)
    host = prp.gather(n.dma_read, prp.map_dptr(n, req, length))

    def done(data: object, exc: BaseException | None) -> None:
        if exc is not None:
            n.complete(req, _aio_error(req, exc))
        else:
            n.complete(req, SUCCESS if data == host else CMP_FAILURE)

    ns.blk.aio_read(off, length, done)
    return None


def flush(n: NvmeCtrl, req: Request, namespaces: list[Namespace]) -> int | None:
    """Flush one namespace, or all of them in turn for the broadcast NSID."""
    todo = list(namespaces)

    def step(_r: object, exc: BaseException | None) -> None:
        if exc is not None:
            n.complete(req, _aio_error(req, exc))
        elif todo:
            todo.pop(0).blk.aio_flush(step)
        else:
            n.complete(req, SUCCESS)

    step(None, None)
    return None


def _flush_one(n: NvmeCtrl, req: Request, ns: Namespace) -> int | None:
    return flush(n, req, [ns])


def dsm(n: NvmeCtrl, req: Request, ns: Namespace) -> int | None:
    """Dataset Management: with AD, discard each range; ranges beyond the namespace or
    above the single-range limit are skipped, as QEMU does."""
    if not req.dw(11) & DSMGMT_AD:
        return SUCCESS
    nr = (req.dw(10) & 0xFF) + 1
    segs = prp.map_dptr(n, req, nr * 16)
    try:
        raw = prp.gather(n.dma_read, segs)
    except NvmeError:
        return INVALID_FIELD | DNR
    ranges = []
    for i in range(nr):
        _attrs, nlb, slba = struct.unpack_from("<IIQ", raw, 16 * i)
        if nlb > ns.dmrsl or slba + nlb > ns.nsze:
            log.guest_error(f"nvme: DSM range {i} (LBA {slba}+{nlb}) is invalid, skipped")
            continue
        ranges.append((slba * ns.lbasz, nlb * ns.lbasz))
    failed: list[BaseException] = []

    def step(_r: object, exc: BaseException | None) -> None:
        if exc is not None:
            failed.append(exc)
        if ranges and not failed:
            off, length = ranges.pop(0)
            ns.blk.aio_discard(off, length, step)
        else:
            n.complete(req, _aio_error(req, failed[0]) if failed else SUCCESS)

    step(None, None)
    return None


_HANDLERS = {CMD_READ: read, CMD_WRITE: write, CMD_FLUSH: _flush_one,
             CMD_WRITE_ZEROES: write_zeroes, CMD_DSM: dsm, CMD_COMPARE: compare}
