"""NVMe admin commands (QEMU 7.2 ``hw/nvme/ctrl.c`` nvme_admin_cmd): queue management,
Identify, Get/Set Features, Get Log Page, Asynchronous Event Request, Abort.

Each handler returns the completion status, or None when the command completes later
(an AER waits for an event; a write-cache disable waits for its flush). Statuses and
DNR bits are QEMU's.
Spec: NVM Express Base 1.4 section 5.
"""
from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING

from pyqemu.hw.nvme import prp
from pyqemu.hw.nvme.defs import (
    ADM_ABORT,
    ADM_ASYNC_EV_REQ,
    ADM_CREATE_CQ,
    ADM_CREATE_SQ,
    ADM_DBBUF_CONFIG,
    ADM_DELETE_CQ,
    ADM_DELETE_SQ,
    ADM_GET_FEATURES,
    ADM_GET_LOG_PAGE,
    ADM_IDENTIFY,
    ADM_SET_FEATURES,
    ADMIN_NAMES,
    AER_LIMIT_EXCEEDED,
    AER_TYPE_ERROR,
    AER_TYPE_SMART,
    ARB_AB_NOLIMIT,
    CAP_MQES,
    CMD_SEQ_ERROR,
    CMD_SET_CMB_REJECTED,
    DNR,
    FEAT_CAP_CHANGE,
    FEAT_CAP_NS,
    FEAT_NOT_CHANGEABLE,
    FEAT_NOT_NS_SPEC,
    FEATURE_CAP,
    FID_ARBITRATION,
    FID_ASYNC_EVENT_CONF,
    FID_COMMAND_SET_PROFILE,
    FID_ERROR_RECOVERY,
    FID_HOST_BEHAVIOR,
    FID_INTERRUPT_VECTOR_CONF,
    FID_NOT_SAVEABLE,
    FID_NUMBER_OF_QUEUES,
    FID_TEMPERATURE_THRESHOLD,
    FID_TIMESTAMP,
    FID_VOLATILE_WRITE_CACHE,
    INTVC_NOCOALESCING,
    INVALID_CQID,
    INVALID_FIELD,
    INVALID_IRQ_VECTOR,
    INVALID_NSID,
    INVALID_OPCODE,
    INVALID_PRP_OFFSET,
    INVALID_QID,
    INVALID_QUEUE_DEL,
    LOG_ERROR_INFO,
    LOG_FW_SLOT_INFO,
    LOG_SMART_INFO,
    MAX_NAMESPACES,
    MAX_QSIZE_EXCEEDED,
    NSID_BROADCAST,
    NVME_SPEC_VER,
    SUCCESS,
    TEMPERATURE,
    TEMPERATURE_CRITICAL,
    TEMPERATURE_WARNING,
    NvmeError,
)
from pyqemu.hw.nvme.ns import IDENTIFY_DATA_SIZE
from pyqemu.hw.pci import msix
from pyqemu.util import log

if TYPE_CHECKING:
    from pyqemu.hw.nvme.ctrl import NvmeCtrl
    from pyqemu.hw.nvme.queues import Request

QEMU_VERSION = "7.2.0"      # Identify Controller FR: the QEMU version pyqemu follows
_UNSUPPORTED_ADMIN = {0x15: "Namespace Attachment", 0x1C: "Virtualization Management",
                      0x80: "Format NVM"}


class Features:
    """The controller's changeable feature values."""

    def __init__(self) -> None:
        self.temp_thresh_hi = TEMPERATURE_WARNING
        self.temp_thresh_low = 0
        self.async_config = 0
        self.hbs = bytes(512)
        self.host_timestamp = 0
        self.timestamp_set = time.monotonic()

    def set_timestamp(self, ts: int) -> None:
        self.host_timestamp = ts
        self.timestamp_set = time.monotonic()

    def timestamp(self) -> int:
        elapsed = int((time.monotonic() - self.timestamp_set) * 1000)
        value = (self.host_timestamp + elapsed) & ((1 << 48) - 1)
        return value | ((1 << 49) if self.host_timestamp else 0)   # origin: set by the host


def _pad(text: str, n: int) -> bytes:
    return text.encode()[:n].ljust(n, b" ")


def identify_ctrl_data(n: NvmeCtrl) -> bytes:
    """Identify Controller (CNS 1), field for field as QEMU 7.2's nvme_init_ctrl."""
    d = bytearray(IDENTIFY_DATA_SIZE)
    vid = int.from_bytes(n.config[0:2], "little")
    ssvid = int.from_bytes(n.config[0x2C:0x2E], "little")
    struct.pack_into("<HH", d, 0, vid, ssvid)
    d[4:24] = _pad(n.serial or "", 20)
    d[24:64] = _pad("QEMU NVMe Ctrl", 40)
    d[64:72] = _pad(QEMU_VERSION, 8)
    d[72] = 6                                                # rab
    d[73:76] = b"\xb3\x02\x00" if n.use_intel_id else b"\x00\x54\x52"   # ieee OUI
    d[77] = n.mdts
    struct.pack_into("<I", d, 80, NVME_SPEC_VER)
    struct.pack_into("<I", d, 92, 1 << 8)                    # oaes: namespace attribute notices
    struct.pack_into("<I", d, 96, 1 << 15)                   # ctratt: extended LBA formats
    d[111] = 1                                               # cntrltype: I/O controller
    struct.pack_into("<H", d, 256, 0x010A)                   # oacs: format, ns mgmt, dbbuf
    d[258] = 3                                               # acl
    d[259] = n.aerl
    d[260] = 3                                               # frmw: 1 slot, slot 1 read-only
    d[261] = 0x7                                             # lpa
    struct.pack_into("<HH", d, 266, TEMPERATURE_WARNING, TEMPERATURE_CRITICAL)
    d[512], d[513] = 0x66, 0x44                              # sqes, cqes
    struct.pack_into("<I", d, 516, MAX_NAMESPACES)           # nn
    struct.pack_into("<H", d, 520, 0x015D)                   # oncs: compare, wz, dsm, ts, ...
    d[525] = 0x7                                             # vwc: present, broadcast flush
    struct.pack_into("<H", d, 534, 0x3)                      # ocfs
    struct.pack_into("<I", d, 536, 0x1)                      # sgls: supported, no alignment
    nqn = f"nqn.2019-08.org.qemu:{n.serial}".encode()[:255]
    d[768:768 + len(nqn)] = nqn
    struct.pack_into("<HxxII", d, 2048, 0x9C4, 0x10, 0x4)    # psd0: mp, enlat, exlat
    return bytes(d)


# -- dispatch -----------------------------------------------------------------------------------------
def admin_cmd(n: NvmeCtrl, req: Request) -> int | None:
    handler = _HANDLERS.get(req.opcode)
    if handler is None:
        what = _UNSUPPORTED_ADMIN.get(req.opcode)
        if what:
            log.unimp(f"nvme: admin command {what} (0x{req.opcode:x}) is not supported")
        else:
            log.guest_error(f"nvme: invalid admin opcode 0x{req.opcode:x}")
        return INVALID_OPCODE | DNR
    if req.psdt != 0:    # SGLs shall not be used for admin commands over PCIe
        log.guest_error(f"nvme: {ADMIN_NAMES[req.opcode]} with an SGL data pointer")
        return INVALID_FIELD | DNR
    if req.fuse:
        log.unimp("nvme: fused operations are not supported")
        return INVALID_FIELD
    return handler(n, req)


def c2h(n: NvmeCtrl, req: Request, data: bytes) -> int:
    """Copy ``data`` to the command's PRPs; a bad address fails as QEMU's nvme_tx does."""
    segs = prp.map_dptr(n, req, len(data))
    try:
        prp.scatter(n.dma_write, segs, data)
    except NvmeError:
        return INVALID_FIELD | DNR
    return SUCCESS


def h2c(n: NvmeCtrl, req: Request, length: int) -> bytes:
    segs = prp.map_dptr(n, req, length)
    try:
        return prp.gather(n.dma_read, segs)
    except NvmeError:
        raise NvmeError(INVALID_FIELD | DNR) from None


# -- queues -------------------------------------------------------------------------------------------
def create_sq(n: NvmeCtrl, req: Request) -> int:
    sqid, qsize = req.dw(10) & 0xFFFF, req.dw(10) >> 16
    qflags, cqid = req.dw(11) & 0xFFFF, req.dw(11) >> 16
    addr = req.qw(6)
    if not cqid or cqid not in n.cqs:
        log.guest_error(f"nvme: create SQ: invalid cqid {cqid}")
        return INVALID_CQID | DNR
    if not sqid or sqid > n.max_ioqpairs or sqid in n.sqs:
        log.guest_error(f"nvme: create SQ: invalid sqid {sqid}")
        return INVALID_QID | DNR
    if not qsize or qsize > CAP_MQES:
        log.guest_error(f"nvme: create SQ: invalid queue size {qsize}")
        return MAX_QSIZE_EXCEEDED | DNR
    if addr & (n.page_size - 1):
        log.guest_error(f"nvme: create SQ: address 0x{addr:x} is not page aligned")
        return INVALID_PRP_OFFSET | DNR
    if not qflags & 1:
        log.unimp("nvme: create SQ: non-contiguous queues are not supported")
        return INVALID_FIELD | DNR
    n.create_sq(sqid, cqid, addr, qsize + 1)
    return SUCCESS


def create_cq(n: NvmeCtrl, req: Request) -> int:
    cqid, qsize = req.dw(10) & 0xFFFF, req.dw(10) >> 16
    qflags, vector = req.dw(11) & 0xFFFF, req.dw(11) >> 16
    addr = req.qw(6)
    if not cqid or cqid > n.max_ioqpairs or cqid in n.cqs:
        log.guest_error(f"nvme: create CQ: invalid cqid {cqid}")
        return INVALID_QID | DNR
    if not qsize or qsize > CAP_MQES:
        log.guest_error(f"nvme: create CQ: invalid queue size {qsize}")
        return MAX_QSIZE_EXCEEDED | DNR
    if addr & (n.page_size - 1):
        log.guest_error(f"nvme: create CQ: address 0x{addr:x} is not page aligned")
        return INVALID_PRP_OFFSET | DNR
    if (not msix.msix_enabled(n) and vector) or vector >= n.msix_qsize:
        log.guest_error(f"nvme: create CQ: invalid interrupt vector {vector}")
        return INVALID_IRQ_VECTOR | DNR
    if not qflags & 1:
        log.unimp("nvme: create CQ: non-contiguous queues are not supported")
        return INVALID_FIELD | DNR
    n.create_cq(cqid, addr, qsize + 1, vector, bool(qflags & 2))
    return SUCCESS


def delete_sq(n: NvmeCtrl, req: Request) -> int:
    qid = req.dw(10) & 0xFFFF
    if not qid or qid not in n.sqs:
        log.guest_error(f"nvme: delete SQ: invalid sqid {qid}")
        return INVALID_QID | DNR
    n.delete_sq(qid)
    return SUCCESS


def delete_cq(n: NvmeCtrl, req: Request) -> int:
    qid = req.dw(10) & 0xFFFF
    if not qid or qid not in n.cqs:
        log.guest_error(f"nvme: delete CQ: invalid cqid {qid}")
        return INVALID_CQID | DNR
    if n.cqs[qid].sqs:
        log.guest_error(f"nvme: delete CQ: queue {qid} still has submission queues")
        return INVALID_QUEUE_DEL
    n.delete_cq(qid)
    return SUCCESS


# -- identify -----------------------------------------------------------------------------------------
def identify(n: NvmeCtrl, req: Request) -> int:
    cns = req.dw(10) & 0xFF
    csi = req.dw(11) >> 24
    nsid = req.nsid
    if cns == 0x01:
        return c2h(n, req, n.id_ctrl)
    if cns == 0x06:      # I/O command set specific controller data
        if csi != 0:
            return INVALID_FIELD | DNR
        d = bytearray(IDENTIFY_DATA_SIZE)
        d[0] = n.vsl
        dmrsl = min((ns.dmrsl for ns in n.namespaces.values()), default=0)
        struct.pack_into("<I", d, 4, dmrsl)
        return c2h(n, req, bytes(d))
    if cns in (0x00, 0x11, 0x05, 0x1B):     # namespace data, active or allocated
        if not n.nsid_valid(nsid) or nsid == NSID_BROADCAST:
            return INVALID_NSID | DNR
        ns = n.ns(nsid)
        if ns is None:
            return c2h(n, req, bytes(IDENTIFY_DATA_SIZE))
        if cns in (0x05, 0x1B):
            if csi != 0:
                return INVALID_FIELD | DNR
            return c2h(n, req, ns.identify_nvm())
        return c2h(n, req, ns.identify())
    if cns in (0x02, 0x10, 0x07, 0x1A):     # namespace id lists
        if cns in (0x07, 0x1A) and csi != 0:
            return INVALID_FIELD | DNR
        if nsid >= NSID_BROADCAST - 1:
            return INVALID_NSID | DNR
        ids = sorted(i for i in n.namespaces if i > nsid)[:1024]
        return c2h(n, req, struct.pack(f"<{len(ids)}I", *ids).ljust(IDENTIFY_DATA_SIZE, b"\0"))
    if cns == 0x03:      # namespace identification descriptors
        if not n.nsid_valid(nsid) or nsid == NSID_BROADCAST:
            return INVALID_NSID | DNR
        ns = n.ns(nsid)
        if ns is None:
            return INVALID_FIELD | DNR
        d = b""
        if ns.eui64:
            d += struct.pack(">BBxxQ", 1, 8, ns.eui64)
        d += bytes((4, 1, 0, 0, 0))        # command set identifier: NVM
        return c2h(n, req, d.ljust(IDENTIFY_DATA_SIZE, b"\0"))
    if cns == 0x1C:      # I/O command set profiles: NVM only
        return c2h(n, req, (1).to_bytes(8, "little").ljust(IDENTIFY_DATA_SIZE, b"\0"))
    log.guest_error(f"nvme: identify: invalid CNS 0x{cns:x}")
    return INVALID_FIELD | DNR


# -- features -----------------------------------------------------------------------------------------
def _write_cache(n: NvmeCtrl) -> int:
    return int(any(ns.blk.enable_write_cache for ns in n.namespaces.values()))


def get_features(n: NvmeCtrl, req: Request) -> int:
    dw10, dw11, nsid = req.dw(10), req.dw(11), req.nsid
    fid, sel = dw10 & 0xFF, (dw10 >> 8) & 7
    if fid not in FEATURE_CAP:
        log.guest_error(f"nvme: get features: unsupported feature 0x{fid:x}")
        return INVALID_FIELD | DNR
    if FEATURE_CAP[fid] & FEAT_CAP_NS:
        if not n.nsid_valid(nsid) or nsid == NSID_BROADCAST:
            return INVALID_NSID | DNR
        if n.ns(nsid) is None:
            return INVALID_FIELD | DNR
    if sel == 3:                           # supported capabilities
        req.result = FEATURE_CAP[fid]
        return SUCCESS
    f = n.features
    if sel == 0:                           # current values
        if fid == FID_TEMPERATURE_THRESHOLD:
            req.result = 0
            if (dw11 >> 16) & 0xF == 0:    # only the composite sensor
                thsel = (dw11 >> 20) & 3
                if thsel > 1:
                    return INVALID_FIELD | DNR
                req.result = f.temp_thresh_low if thsel else f.temp_thresh_hi
            return SUCCESS
        if fid == FID_ERROR_RECOVERY:
            req.result = n.ns(nsid).err_rec   # type: ignore[union-attr]
            return SUCCESS
        if fid == FID_VOLATILE_WRITE_CACHE:
            req.result = _write_cache(n)
            return SUCCESS
        if fid == FID_ASYNC_EVENT_CONF:
            req.result = f.async_config
            return SUCCESS
        if fid == FID_TIMESTAMP:
            return c2h(n, req, f.timestamp().to_bytes(8, "little"))
        if fid == FID_HOST_BEHAVIOR:
            return c2h(n, req, f.hbs)
    # saved and default values
    if fid == FID_TEMPERATURE_THRESHOLD:
        over = (dw11 >> 16) & 0xF == 0 and (dw11 >> 20) & 3 == 0
        req.result = TEMPERATURE_WARNING if over else 0
    elif fid == FID_NUMBER_OF_QUEUES:
        req.result = (n.max_ioqpairs - 1) | (n.max_ioqpairs - 1) << 16
    elif fid == FID_INTERRUPT_VECTOR_CONF:
        iv = dw11 & 0xFFFF
        if iv >= n.max_ioqpairs + 1:
            return INVALID_FIELD | DNR
        req.result = iv | (INTVC_NOCOALESCING if iv == 0 else 0)
    elif fid == FID_ARBITRATION:
        req.result = ARB_AB_NOLIMIT
    else:
        req.result = 0
    return SUCCESS


def set_features(n: NvmeCtrl, req: Request) -> int | None:
    dw10, dw11, nsid = req.dw(10), req.dw(11), req.nsid
    fid, save = dw10 & 0xFF, dw10 >> 31
    if fid not in FEATURE_CAP:
        log.guest_error(f"nvme: set features: unsupported feature 0x{fid:x}")
        return INVALID_FIELD | DNR
    if save:
        return FID_NOT_SAVEABLE | DNR
    if not FEATURE_CAP[fid] & FEAT_CAP_CHANGE:
        return FEAT_NOT_CHANGEABLE | DNR
    if FEATURE_CAP[fid] & FEAT_CAP_NS:
        if nsid != NSID_BROADCAST:
            if not n.nsid_valid(nsid):
                return INVALID_NSID | DNR
            if n.ns(nsid) is None:
                return INVALID_FIELD | DNR
    elif nsid and nsid != NSID_BROADCAST:
        return (INVALID_NSID if not n.nsid_valid(nsid) else FEAT_NOT_NS_SPEC) | DNR
    f = n.features
    if fid == FID_TEMPERATURE_THRESHOLD:
        if (dw11 >> 16) & 0xF == 0:
            thsel = (dw11 >> 20) & 3
            if thsel == 0:
                f.temp_thresh_hi = dw11 & 0xFFFF
            elif thsel == 1:
                f.temp_thresh_low = dw11 & 0xFFFF
            else:
                return INVALID_FIELD | DNR
            if TEMPERATURE >= f.temp_thresh_hi or TEMPERATURE <= f.temp_thresh_low:
                if n.features.async_config & 0x2:   # temperature notices enabled
                    n.enqueue_event(AER_TYPE_SMART, 1, LOG_SMART_INFO)
    elif fid == FID_ERROR_RECOVERY:
        targets = n.namespaces.values() if nsid == NSID_BROADCAST else [n.ns(nsid)]
        for ns in targets:
            ns.err_rec = dw11   # type: ignore[union-attr]
    elif fid == FID_VOLATILE_WRITE_CACHE:
        return _set_write_cache(n, req, bool(dw11 & 1))
    elif fid == FID_NUMBER_OF_QUEUES:
        if n.qs_created:
            return CMD_SEQ_ERROR | DNR
        if dw11 & 0xFFFF == 0xFFFF or dw11 >> 16 == 0xFFFF:
            return INVALID_FIELD | DNR
        req.result = (n.max_ioqpairs - 1) | (n.max_ioqpairs - 1) << 16
    elif fid == FID_ASYNC_EVENT_CONF:
        f.async_config = dw11
    elif fid == FID_TIMESTAMP:
        f.set_timestamp(int.from_bytes(h2c(n, req, 8), "little") & ((1 << 48) - 1))
    elif fid == FID_HOST_BEHAVIOR:
        f.hbs = h2c(n, req, 512)
    elif fid == FID_COMMAND_SET_PROFILE:
        if dw11 & 0x1FF:
            return CMD_SET_CMB_REJECTED | DNR
    return SUCCESS


def _set_write_cache(n: NvmeCtrl, req: Request, enable: bool) -> int | None:
    """Volatile Write Cache: the drives' write cache flag; turning it off flushes first."""
    flushes = [ns.blk for ns in n.namespaces.values() if not enable and ns.blk.enable_write_cache]
    for ns in n.namespaces.values():
        ns.blk.enable_write_cache = enable
    if not flushes:
        return SUCCESS
    left = [len(flushes)]

    def done(_r: object, _e: BaseException | None) -> None:
        left[0] -= 1
        if not left[0]:
            n.complete(req, SUCCESS)

    for blk in flushes:
        blk.aio_flush(done)
    return None


# -- log pages, events, abort -------------------------------------------------------------------------
def get_log_page(n: NvmeCtrl, req: Request) -> int:
    dw10 = req.dw(10)
    lid, rae = dw10 & 0xFF, (dw10 >> 15) & 1
    length = ((((req.dw(11) & 0xFFFF) << 16) | (dw10 >> 16)) + 1) << 2
    off = req.dw(13) << 32 | req.dw(12)
    if off & 3:
        return INVALID_FIELD | DNR
    if n.mdts and length > n.page_size << n.mdts:
        return INVALID_FIELD | DNR
    if lid == LOG_ERROR_INFO:
        page = bytes(64)
        if not rae:
            n.clear_events(AER_TYPE_ERROR)
    elif lid == LOG_SMART_INFO:
        if req.nsid != NSID_BROADCAST and n.ns(req.nsid) is None:
            return INVALID_NSID | DNR
        page = _smart_log(n, req.nsid)
        if not rae:
            n.clear_events(AER_TYPE_SMART)
    elif lid == LOG_FW_SLOT_INFO:
        page = b"\x01" + bytes(7) + _pad("1.0", 8) + bytes(512 - 16)
    else:
        log.guest_error(f"nvme: get log page: unsupported log page 0x{lid:x}")
        return INVALID_FIELD | DNR
    if off >= len(page):
        return INVALID_FIELD | DNR
    return c2h(n, req, page[off:off + length])


def _smart_log(n: NvmeCtrl, nsid: int) -> bytes:
    nss = n.namespaces.values() if nsid == NSID_BROADCAST else [n.ns(nsid)]
    rd = wr = rd_ops = wr_ops = 0
    for ns in nss:
        stats = getattr(ns.blk, "stats", None)   # type: ignore[union-attr]
        if stats is not None:
            rd += stats.bytes["rd"] >> 9
            wr += stats.bytes["wr"] >> 9
            rd_ops += stats.ops["rd"]
            wr_ops += stats.ops["wr"]
    d = bytearray(512)
    f = n.features
    warn = 0x2 if TEMPERATURE >= f.temp_thresh_hi or TEMPERATURE <= f.temp_thresh_low else 0
    d[0] = warn
    struct.pack_into("<H", d, 1, TEMPERATURE)
    struct.pack_into("<QxxxxxxxxQ", d, 32, -(-rd // 1000), -(-wr // 1000))
    struct.pack_into("<QxxxxxxxxQ", d, 64, rd_ops, wr_ops)
    return bytes(d)


def async_event_request(n: NvmeCtrl, req: Request) -> int | None:
    if len(n.aer_reqs) > n.aerl:
        log.guest_error("nvme: too many outstanding asynchronous event requests")
        return AER_LIMIT_EXCEEDED
    n.aer_reqs.append(req)
    if n.aer_queue:
        n.process_aers()
    return None


def abort(n: NvmeCtrl, req: Request) -> int:
    req.result = 1        # commands complete too fast to abort: "not aborted"
    if (req.dw(10) & 0xFFFF) not in n.sqs:
        return INVALID_FIELD | DNR
    return SUCCESS


def dbbuf_config(n: NvmeCtrl, req: Request) -> int:
    """Doorbell Buffer Config: PRP1 = shadow doorbells, PRP2 = event indexes (pages)."""
    dbs, eis = req.qw(6), req.qw(8)
    if dbs & (n.page_size - 1) or eis & (n.page_size - 1):
        log.guest_error("nvme: doorbell buffer config: addresses are not page aligned")
        return INVALID_FIELD | DNR
    n.set_dbbuf(dbs, eis)
    return SUCCESS


_HANDLERS = {ADM_DBBUF_CONFIG: dbbuf_config, ADM_DELETE_SQ: delete_sq, ADM_CREATE_SQ: create_sq,
             ADM_GET_LOG_PAGE: get_log_page,
             ADM_DELETE_CQ: delete_cq, ADM_CREATE_CQ: create_cq, ADM_IDENTIFY: identify,
             ADM_ABORT: abort, ADM_SET_FEATURES: set_features, ADM_GET_FEATURES: get_features,
             ADM_ASYNC_EV_REQ: async_event_request}
