"""virtio-blk (QEMU 7.2 ``hw/block/virtio-blk.c``, type ``virtio-blk-device``, virtio ID 2).

Interface:
  Bus    a virtio transport's bus (``virtio-mmio-bus``, or virtio-blk-pci's inner ``virtio-pci-bus``).
  Queues ``num-queues`` request queues of ``queue-size`` entries.
  Config capacity, size_max (0), seg_max, geometry (QEMU's CHS guess), blk_size, topology,
         writeback, num_queues, discard and write-zeroes limits: 57 bytes with write-zeroes
         (the length depends on the offered features, as QEMU's virtio_get_config_size).
  Props  ``drive``, ``serial``, ``num-queues``, ``queue-size``, ``config-wce``, ``discard``,
         ``write-zeroes``, ``seg-max-adjust``, ``max-discard-sectors``,
         ``max-write-zeroes-sectors``, ``logical_block_size``, ``physical_block_size``,
         ``min_io_size``, ``opt_io_size``, ``discard_granularity``, ``cyls``/``heads``/``secs``.
  Spec   Virtio 1.1 section 5.2.

Requests: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES (UNMAP flag); anything else is
UNSUPP. They run asynchronously through the BlockBackend's ``aio_*`` calls; the completion
writes the status byte, pushes the used element and notifies. An error is reported to the guest
as IOERR (QEMU's rerror=report; werror=enospc reports every error but ENOSPC, which QEMU would
stop the VM for, and which we report too). With the write cache off (``cache=writethrough``, or
the driver clearing WCE) every write is followed by a flush before it completes.
Malformed requests (no headers, short headers) are virtio_error()s as in QEMU.
"""
from __future__ import annotations

import struct
from typing import Any

from pyqemu.hw.virtio.virtio import (
    VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_F_ANY_LAYOUT,
    VIRTIO_F_VERSION_1,
    VirtIODevice,
)
from pyqemu.hw.virtio.virtqueue import VIRTQUEUE_MAX_SIZE, VirtQueue, VirtQueueElement
from pyqemu.memory import MemTxError
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError

VIRTIO_ID_BLOCK = 2

# feature bits (include/standard-headers/linux/virtio_blk.h)
VIRTIO_BLK_F_SIZE_MAX = 1
VIRTIO_BLK_F_SEG_MAX = 2
VIRTIO_BLK_F_GEOMETRY = 4
VIRTIO_BLK_F_RO = 5
VIRTIO_BLK_F_BLK_SIZE = 6
VIRTIO_BLK_F_SCSI = 7
VIRTIO_BLK_F_FLUSH = 9          # a.k.a. WCE
VIRTIO_BLK_F_TOPOLOGY = 10
VIRTIO_BLK_F_CONFIG_WCE = 11
VIRTIO_BLK_F_MQ = 12
VIRTIO_BLK_F_DISCARD = 13
VIRTIO_BLK_F_WRITE_ZEROES = 14

# request types and status
VIRTIO_BLK_T_IN = 0
VIRTIO_BLK_T_OUT = 1
VIRTIO_BLK_T_SCSI_CMD = 2
VIRTIO_BLK_T_FLUSH = 4
VIRTIO_BLK_T_GET_ID = 8
VIRTIO_BLK_T_DISCARD = 11
VIRTIO_BLK_T_WRITE_ZEROES = 13
VIRTIO_BLK_T_BARRIER = 0x80000000
VIRTIO_BLK_S_OK = 0
VIRTIO_BLK_S_IOERR = 1
VIRTIO_BLK_S_UNSUPP = 2
VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1
VIRTIO_BLK_ID_BYTES = 20
VIRTIO_BLK_AUTO_NUM_QUEUES = 0xFFFF

SECTOR_BITS = 9
SECTOR_SIZE = 512
#: QEMU's BDRV_REQUEST_MAX_SECTORS
REQUEST_MAX_SECTORS = ((1 << 31) - 1) >> SECTOR_BITS
#: end of discard_sector_alignment / write_zeroes_may_unmap; config below max_discard_sectors
CONFIG_MIN = 36
CONFIG_END_DISCARD = 48
CONFIG_END_WRITE_ZEROES = 57

_OUTHDR = struct.Struct("<IIQ")      # type, ioprio, sector
_DWZ = struct.Struct("<QII")         # sector, num_sectors, flags
# struct virtio_blk_config (60 bytes; the guest sees config_len() of it)
_CONFIG = struct.Struct("<QIIHBBIBBHIBBHIIIIIB3x")


def guess_geometry(blk: Any) -> tuple[int, int, int]:
    """QEMU's hd_geometry_guess (hw/block/hd-geometry.c) for a disk: an MBR partition ending on
    a cylinder boundary with <= 16 heads gives the geometry, else 16 heads x 63 sectors."""
    sectors = blk.size // SECTOR_SIZE
    try:
        mbr = blk.pread(0, SECTOR_SIZE) if blk.size >= SECTOR_SIZE else b""
    except Exception:   # an unreadable disk gets the size-based guess, as a failed pread does
        mbr = b""
    if len(mbr) == SECTOR_SIZE and mbr[510] == 0x55 and mbr[511] == 0xAA:
        for i in range(4):
            p = 0x1BE + 16 * i
            end_head, end_sector = mbr[p + 5], mbr[p + 6] & 63
            nr_sects = int.from_bytes(mbr[p + 12:p + 16], "little")
            if nr_sects and end_head and end_sector:
                heads = end_head + 1
                cyls = sectors // (heads * end_sector)
                if 1 <= cyls <= 16383:
                    if heads <= 16:
                        return cyls, heads, end_sector
                    break
    return min(max(sectors // (16 * 63), 2), 16383), 16, 63


class _Req:
    """A request in flight: its element, queue, and the reset epoch it belongs to."""

    __slots__ = ("elem", "vq", "epoch", "in_len", "status_addr")

    def __init__(self, elem: VirtQueueElement, vq: VirtQueue, epoch: int, in_len: int,
                 status_addr: int) -> None:
        self.elem, self.vq, self.epoch = elem, vq, epoch
        self.in_len, self.status_addr = in_len, status_addr


class VirtIOBlock(VirtIODevice):
    """A virtio block device; see the module docstring."""

    TYPE = "virtio-blk-device"
    VIRTIO_ID = VIRTIO_ID_BLOCK
    NAME = "virtio-blk"
    CATEGORY = "Storage"

    # in QEMU's order (``info qtree``); the geometry is written back after the guess, as QEMU
    drive = Prop("drive", None)
    backend_defaults = Prop("str", "auto", name="backend_defaults")
    logical_block_size = Prop("size", 512, name="logical_block_size")
    physical_block_size = Prop("size", 512, name="physical_block_size")
    min_io_size = Prop("size", 0, name="min_io_size")
    opt_io_size = Prop("size", 0, name="opt_io_size")
    discard_granularity = Prop("size", 0xFFFFFFFF, name="discard_granularity")
    write_cache = Prop("str", "auto")
    share_rw = Prop("bool", False)
    account_invalid = Prop("str", "auto")
    account_failed = Prop("str", "auto")
    rerror = Prop("str", "auto")
    werror = Prop("str", "auto")
    cyls = Prop("uint32", 0)
    heads = Prop("uint32", 0)
    secs = Prop("uint32", 0)
    lcyls = Prop("uint32", 0)
    lheads = Prop("uint32", 0)
    lsecs = Prop("uint32", 0)
    serial = Prop("str", "")   # QEMU shows serial = "" when unset
    config_wce = Prop("bool", True)
    scsi = Prop("bool", False)
    request_merging = Prop("bool", True)
    num_queues = Prop("uint16", 0xFFFF)      # VIRTIO_BLK_AUTO_NUM_QUEUES: one queue here
    queue_size = Prop("uint16", 256)
    seg_max_adjust = Prop("bool", True)
    discard = Prop("bool", True)
    report_discard_granularity = Prop("bool", True)
    write_zeroes = Prop("bool", True)
    max_discard_sectors = Prop("uint32", REQUEST_MAX_SECTORS)
    max_write_zeroes_sectors = Prop("uint32", REQUEST_MAX_SECTORS)
    x_enable_wce_if_config_wce = Prop("bool", True)

    def __init__(self) -> None:
        super().__init__()
        self.blk: Any = None          # a test may set a BlockBackend directly instead of ``drive``
        self.geometry = (0, 0, 0)
        self.original_wce = True
        self.epoch = 0                # bumped on reset: completions of older requests are dropped
        self.inflight: set[_Req] = set()

    # -- realize ------------------------------------------------------------------------------------
    def realize(self) -> None:
        if self.drive is not None or self.blk is None:
            from pyqemu.system import drives
            self.blk = drives.blk_attach(self, self.drive)
        for name in ("write_cache", "account_invalid", "account_failed", "backend_defaults"):
            if getattr(self, name) not in ("auto", "on", "off"):
                raise QOMError(f"Parameter '{name.replace('_', '-')}' does not accept value "
                               f"'{getattr(self, name)}'")
        for name in ("rerror", "werror"):
            if getattr(self, name) not in ("auto", "report", "ignore", "stop", "enospc"):
                raise QOMError(f"Parameter '{name}' does not accept value '{getattr(self, name)}'")
        if self.scsi:
            raise QOMError("Please set scsi=off for virtio-blk devices in order to use virtio 1.0")
        if self.write_cache != "auto":
            self.blk.enable_write_cache = self.write_cache == "on"
        if self.num_queues == VIRTIO_BLK_AUTO_NUM_QUEUES:
            self._set_prop("num_queues", 1)   # QEMU rewrites conf->num_queues
        if self.num_queues == 0:
            raise QOMError("num-queues property must be larger than 0")
        qs = self.queue_size
        if qs <= 2:
            raise QOMError(f"invalid queue-size property ({qs}), must be > 2")
        if qs & (qs - 1) or qs > VIRTQUEUE_MAX_SIZE:
            raise QOMError(f"invalid queue-size property ({qs}), must be a power of 2 (max "
                           f"{VIRTQUEUE_MAX_SIZE})")
        lbs, pbs = self.logical_block_size, self.physical_block_size
        for name, v in (("logical_block_size", lbs), ("physical_block_size", pbs)):
            if v < 512 or v > 32768 or v & (v - 1):
                raise QOMError(f"Property {self.type_name}.{name} doesn't take value {v} "
                               "(must be a power of 2 between 512 and 32768)")
        if lbs > pbs:
            raise QOMError("logical_block_size > physical_block_size not supported")
        if self.discard and not 1 <= self.max_discard_sectors <= REQUEST_MAX_SECTORS:
            raise QOMError(f"invalid max-discard-sectors property ({self.max_discard_sectors}), "
                           f"must be between 1 and {REQUEST_MAX_SECTORS}")
        if self.write_zeroes and not 1 <= self.max_write_zeroes_sectors <= REQUEST_MAX_SECTORS:
            raise QOMError(f"invalid max-write-zeroes-sectors property "
                           f"({self.max_write_zeroes_sectors}), must be between 1 and "
                           f"{REQUEST_MAX_SECTORS}")
        chs = (self.cyls, self.heads, self.secs)
        if not any(chs):
            self.geometry = guess_geometry(self.blk)
            for name, v in zip(("cyls", "heads", "secs"), self.geometry, strict=True):
                self._set_prop(name, v)
        elif not all(chs):
            raise QOMError("cyls, heads and secs must be specified together")
        else:
            for name, v, hi in (("cyls", chs[0], 65535), ("heads", chs[1], 255), ("secs", chs[2], 255)):
                if v > hi:
                    raise QOMError(f"{name} must be between 1 and {hi}")
            self.geometry = chs
        self.original_wce = bool(getattr(self.blk, "enable_write_cache", True))
        self.vqs = []
        for _ in range(self.num_queues):
            self.add_queue(qs)
        super().realize()

    # -- features and config --------------------------------------------------------------------
    def device_features(self, features: int) -> int:
        for bit, on in ((VIRTIO_BLK_F_CONFIG_WCE, self.config_wce),
                        (VIRTIO_BLK_F_DISCARD, self.discard),
                        (VIRTIO_BLK_F_WRITE_ZEROES, self.write_zeroes),
                        (VIRTIO_BLK_F_SEG_MAX, True), (VIRTIO_BLK_F_GEOMETRY, True),
                        (VIRTIO_BLK_F_TOPOLOGY, True), (VIRTIO_BLK_F_BLK_SIZE, True)):
            if on:
                features |= 1 << bit
        if not features >> VIRTIO_F_VERSION_1 & 1:
            features &= ~(1 << VIRTIO_F_ANY_LAYOUT)
            features |= 1 << VIRTIO_BLK_F_SCSI
        if getattr(self.blk, "enable_write_cache", True) \
                or (self.x_enable_wce_if_config_wce and self.config_wce):
            features |= 1 << VIRTIO_BLK_F_FLUSH
        if self.blk is not None and self.blk.read_only:
            features |= 1 << VIRTIO_BLK_F_RO
        if self.num_queues > 1:
            features |= 1 << VIRTIO_BLK_F_MQ
        return features

    def _config_size(self) -> int:
        size = CONFIG_MIN
        if self.host_features >> VIRTIO_BLK_F_DISCARD & 1:
            size = max(size, CONFIG_END_DISCARD)
        if self.host_features >> VIRTIO_BLK_F_WRITE_ZEROES & 1:
            size = max(size, CONFIG_END_WRITE_ZEROES)
        return size

    def get_config(self) -> bytes:
        lbs = self.logical_block_size
        cyls, heads, secs = self.geometry
        capacity = (self.blk.size >> SECTOR_BITS) if self.blk is not None else 0
        disc = self.host_features >> VIRTIO_BLK_F_DISCARD & 1
        wz = self.host_features >> VIRTIO_BLK_F_WRITE_ZEROES & 1
        gran = self.discard_granularity
        if gran == 0xFFFFFFFF or not self.report_discard_granularity:
            gran = lbs
        cfg = _CONFIG.pack(
            capacity, 0, self.queue_size - 2 if self.seg_max_adjust else 126,
            cyls & 0xFFFF, heads & 0xFF, secs & 0xFF, lbs,
            (self.physical_block_size // lbs).bit_length() - 1, 0,
            (self.min_io_size // lbs) & 0xFFFF, (self.opt_io_size // lbs) & 0xFFFFFFFF,
            int(bool(getattr(self.blk, "enable_write_cache", True))), 0, self.num_queues,
            self.max_discard_sectors if disc else 0, 1 if disc else 0,
            (gran >> SECTOR_BITS) if disc else 0,
            self.max_write_zeroes_sectors if wz else 0, 1 if wz else 0, 1 if wz else 0)
        return cfg[:self._config_size()]

    def set_config(self, data: bytes) -> None:
        if self.blk is not None and len(data) > 32:
            self.blk.enable_write_cache = data[32] != 0

    def device_set_status(self, status: int) -> None:
        # A driver without CONFIG_WCE gets the cache mode it negotiated (FLUSH = write cache on).
        if status & VIRTIO_CONFIG_S_DRIVER_OK and self.blk is not None \
                and not self.has_feature(VIRTIO_BLK_F_CONFIG_WCE):
            self.blk.enable_write_cache = self.has_feature(VIRTIO_BLK_F_FLUSH)

    def device_reset(self) -> None:
        """Wait for requests in flight (their completions are then dropped), cache mode back."""
        self.epoch += 1
        blk = self.blk
        if blk is not None:
            if self.inflight:
                blk.drain()
            blk.enable_write_cache = self.original_wce
        self.inflight.clear()

    # -- requests -------------------------------------------------------------------------------------
    def handle_output(self, vq: VirtQueue) -> None:
        while True:
            vq.set_notification(False)
            while (elem := vq.pop()) is not None:
                if not self._handle_request(vq, elem):
                    vq.detach(elem)
                    break
            vq.set_notification(True)
            if self.broken or vq.empty():
                return

    def _handle_request(self, vq: VirtQueue, elem: VirtQueueElement) -> bool:
        """Start one request; False after a virtio_error (the element is given back)."""
        if not elem.out_sg or not elem.in_sg:
            self.virtio_error("virtio-blk missing headers")
            return False
        try:
            hdr = elem.read_out(0, _OUTHDR.size)
        except MemTxError:
            hdr = b""
        if len(hdr) != _OUTHDR.size:
            self.virtio_error("virtio-blk request outhdr too short")
            return False
        if elem.in_sg[-1][1] < 1:
            self.virtio_error("virtio-blk request inhdr too short")
            return False
        rtype, _prio, sector = _OUTHDR.unpack(hdr)
        last_addr, last_len = elem.in_sg[-1]
        req = _Req(elem, vq, self.epoch, elem.in_len, last_addr + last_len - 1)
        kind = rtype & ~VIRTIO_BLK_T_BARRIER
        blk = self.blk
        if kind in (VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT):
            is_write = kind == VIRTIO_BLK_T_OUT
            size = elem.out_len - _OUTHDR.size if is_write else elem.in_len - 1
            if not self._sect_range_ok(sector, size):
                self._complete(req, VIRTIO_BLK_S_IOERR)
                return True
            self.inflight.add(req)
            if is_write:
                try:
                    data = elem.read_out(_OUTHDR.size)
                except MemTxError:
                    self.inflight.discard(req)
                    self._complete(req, VIRTIO_BLK_S_IOERR)
                    return True
                blk.aio_write(sector << SECTOR_BITS, data, lambda _r, e: self._write_done(req, e))
            else:
                blk.aio_read(sector << SECTOR_BITS, size, lambda d, e: self._read_done(req, d, e))
        elif kind == VIRTIO_BLK_T_FLUSH:
            self.inflight.add(req)
            blk.aio_flush(lambda _r, e: self._done(req, e))
        elif kind == VIRTIO_BLK_T_GET_ID:
            ident = (self.serial or "").encode() + b"\0"
            ident = ident[:min(elem.in_len - 1, VIRTIO_BLK_ID_BYTES)]
            try:
                elem.write_in(ident)
            except MemTxError:
                pass   # checked at pop: only a map change since then gets here
            self._complete(req, VIRTIO_BLK_S_OK)
        elif kind in (VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES):
            return self._discard_write_zeroes(req, kind == VIRTIO_BLK_T_WRITE_ZEROES)
        else:
            self._complete(req, VIRTIO_BLK_S_UNSUPP)
        return True

    def _discard_write_zeroes(self, req: _Req, is_wz: bool) -> bool:
        feature = VIRTIO_BLK_F_WRITE_ZEROES if is_wz else VIRTIO_BLK_F_DISCARD
        if not self.host_features >> feature & 1:
            self._complete(req, VIRTIO_BLK_S_UNSUPP)
            return True
        try:
            raw = req.elem.read_out(_OUTHDR.size, _DWZ.size)
        except MemTxError:
            raw = b""
        if len(raw) != _DWZ.size:
            self.virtio_error("virtio-blk discard/write_zeroes header too short")
            return False
        sector, nsect, flags = _DWZ.unpack(raw)
        limit = self.max_write_zeroes_sectors if is_wz else self.max_discard_sectors
        if nsect > limit or not self._sect_range_ok(sector, nsect << SECTOR_BITS):
            self._complete(req, VIRTIO_BLK_S_IOERR)
            return True
        if flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP or (not is_wz and flags):
            self._complete(req, VIRTIO_BLK_S_UNSUPP)
            return True
        self.inflight.add(req)
        offset, length = sector << SECTOR_BITS, nsect << SECTOR_BITS
        if is_wz:
            self.blk.aio_write_zeroes(offset, length, lambda _r, e: self._write_done(req, e),
                                      may_unmap=bool(flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
        else:
            self.blk.aio_discard(offset, length, lambda _r, e: self._done(req, e))
        return True

    def _sect_range_ok(self, sector: int, size: int) -> bool:
        """virtio_blk_sect_range_ok: aligned to the logical block, inside the disk."""
        lbs = self.logical_block_size
        if sector & ((lbs >> SECTOR_BITS) - 1) or size % lbs:
            return False
        total = self.blk.size >> SECTOR_BITS
        return sector <= total and size >> SECTOR_BITS <= total - sector

    # -- completions (main loop) ----------------------------------------------------------------------
    def _read_done(self, req: _Req, data: bytes | None, err: BaseException | None) -> None:
        if err is None and req.epoch == self.epoch and not self.broken:
            try:
                req.elem.write_in(data or b"")
            except MemTxError:
                err = MemTxError(req.status_addr)
        self._done(req, err)

    def _write_done(self, req: _Req, err: BaseException | None) -> None:
        if err is None and req.epoch == self.epoch and not getattr(self.blk, "enable_write_cache", True):
            self.blk.aio_flush(lambda _r, e: self._done(req, e))   # writethrough
            return
        self._done(req, err)

    def _done(self, req: _Req, err: BaseException | None) -> None:
        self.inflight.discard(req)
        self._complete(req, VIRTIO_BLK_S_OK if err is None else VIRTIO_BLK_S_IOERR)

    def _complete(self, req: _Req, status: int) -> None:
        """virtio_blk_req_complete: status byte, used element (the whole in size), interrupt."""
        if req.epoch != self.epoch:
            return   # the device was reset since: the queue no longer knows this element
        try:
            self.dma.store(req.status_addr, status, 1)
        except MemTxError:
            pass   # the guest unmapped its own status byte; the used element still goes back
        req.vq.push(req.elem, req.in_len)
        self.notify(req.vq)
