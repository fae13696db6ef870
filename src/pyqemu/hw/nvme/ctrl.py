"""The NVMe controller ``nvme`` (QEMU 7.2 ``hw/nvme/ctrl.c``): a PCI Express function
1b36:0010, class 0x010802 (NVM Express), revision 2.

Interface:
  PCI    BAR0 (64-bit memory) ``nvme-bar0``: the registers ``nvme`` (0..0xfff) and the
         doorbells from 0x1000 (SQyTDBL at 0x1000 + 8y, CQyHDBL at 0x1004 + 8y, DSTRD 0)
         up to the MSI-X table (0x2000 with the defaults), then the PBA (0x3000); 16 KiB.
         Capabilities: MSI-X (0x40, ``msix_qsize`` vectors), PM (0x60), PCI Express
         endpoint (0x80, with FLR).
  IRQs   MSI-X per completion queue vector; without MSI-X, INTA (level) while an unmasked
         (INTMS) vector has completions the host has not consumed.
  Block  each namespace's BlockBackend; commands run as ``aio_*`` requests, and complete
         (a completion queue entry, then the interrupt) from the main loop.
  Bus    ``nvme-bus`` (named after the controller's id) for ``nvme-ns`` devices; the
         controller's own ``drive`` is namespace 1.
Props: drive, serial (required), max_ioqpairs (64), msix_qsize (65), mdts (7), aerl (3),
  aer_max_queued (64), vsl (7), cmb_size_mb (0 only), num_queues (deprecated),
  use-intel-id, logical_block_size (of the drive's namespace).
Admin commands and the NVM command set: ``admin.py``, ``nvm.py``.
Spec: NVM Express Base Specification 1.4; NVMe over PCIe.
"""
from __future__ import annotations

import itertools
import sys

from pyqemu.block.block_backend import BlockBackend
from pyqemu.hw.nvme import admin, nvm
from pyqemu.hw.nvme.defs import (
    AER_INFO_ERR_INVALID_DB_REGISTER,
    AER_INFO_ERR_INVALID_DB_VALUE,
    AER_TYPE_ERROR,
    CAP_MQES,
    CAP_VALUE,
    CC_CSS_ADMIN_ONLY,
    CC_EN,
    CQE_SIZE,
    CSTS_CFS,
    CSTS_RDY,
    CSTS_SHST_COMPLETE,
    CSTS_SHST_MASK,
    CSTS_SHST_PROCESSING,
    DB_BASE,
    LOG_ERROR_INFO,
    MAX_NAMESPACES,
    NSSR_RESET,
    NVME_SPEC_VER,
    REG_ACQ,
    REG_AQA,
    REG_ASQ,
    REG_CAP,
    REG_CC,
    REG_CSTS,
    REG_INTMC,
    REG_INTMS,
    REG_NAMES,
    REG_NSSR,
    REG_VS,
    REGS_SIZE,
    SQE_SIZE,
    NvmeError,
    cc_css,
    cc_iocqes,
    cc_iosqes,
    cc_mps,
    cc_shn,
)
from pyqemu.hw.nvme.ns import Namespace, NvmeBus, apply_backend_options, check_block_size
from pyqemu.hw.nvme.queues import CQueue, Request, SQueue
from pyqemu.hw.pci import msix
from pyqemu.hw.pci.pci import (
    PCI_BASE_ADDRESS_MEM_TYPE_64,
    PCI_BASE_ADDRESS_SPACE_MEMORY,
    PCIDevice,
    pci_pm_init,
)
from pyqemu.hw.pci.pcie import pcie_cap_flr_init, pcie_endpoint_cap_init
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps, MemTxError
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError
from pyqemu.system import drives
from pyqemu.util import log

PCI_VENDOR_ID_INTEL = 0x8086
MSIX_ENTRY_SIZE = 16
MAX_IOQPAIRS = 0xFFFF
_bus_ids = itertools.count()


def _align(x: int, a: int) -> int:
    return (x + a - 1) // a * a


def bar_layout(queues: int, vectors: int) -> tuple[int, int, int]:
    """(MSI-X table offset, PBA offset, BAR size) as QEMU's nvme_bar_size computes them."""
    size = _align(REGS_SIZE + 2 * queues * 4, 4096)
    table = size
    size = _align(size + MSIX_ENTRY_SIZE * vectors, 4096)
    pba = size
    size += _align(vectors, 64) // 8
    return table, pba, 1 << (size - 1).bit_length()


class NvmeCtrl(PCIDevice):
    """See the module docstring."""

    TYPE = "nvme"
    DESC = "Non-Volatile Memory Express"
    CATEGORY = "storage"
    VENDOR_ID = 0x1B36
    DEVICE_ID = 0x0010
    REVISION = 2
    CLASS_ID = 0x0108
    PROG_IF = 2
    IS_EXPRESS = True
    INTX_PIN = 1

    drive = Prop("drive", "", description="Node name or ID of a block device to use as a backend")
    backend_defaults = Prop("str", "auto", name="backend_defaults")
    logical_block_size = Prop("size", 0, name="logical_block_size",
                              description="A power of two between 512 B and 2 MiB")
    physical_block_size = Prop("size", 0, name="physical_block_size")
    min_io_size = Prop("size", 0, name="min_io_size")
    opt_io_size = Prop("size", 0, name="opt_io_size")
    discard_granularity = Prop("size", 0xFFFFFFFF, name="discard_granularity")
    write_cache = Prop("str", "auto", name="write-cache")
    share_rw = Prop("bool", False, name="share-rw")
    account_invalid = Prop("str", "auto", name="account-invalid")
    account_failed = Prop("str", "auto", name="account-failed")
    serial = Prop("str", None)
    cmb_size_mb = Prop("uint32", 0, name="cmb_size_mb")
    num_queues = Prop("uint32", 0, name="num_queues")
    max_ioqpairs = Prop("uint32", 64, name="max_ioqpairs")
    msix_qsize = Prop("uint16", 65, name="msix_qsize")
    aerl = Prop("uint8", 3)
    aer_max_queued = Prop("uint32", 64, name="aer_max_queued")
    mdts = Prop("uint8", 7)
    vsl = Prop("uint8", 7)
    use_intel_id = Prop("bool", False, name="use-intel-id")
    legacy_cmb = Prop("bool", False, name="legacy-cmb")
    ioeventfd = Prop("bool", False)
    zoned_zasl = Prop("uint8", 0, name="zoned.zasl")
    zoned_auto_transition = Prop("bool", True, name="zoned.auto_transition")
    sriov_max_vfs = Prop("uint16", 0, name="sriov_max_vfs")
    sriov_vq_flexible = Prop("uint16", 0, name="sriov_vq_flexible")
    sriov_vi_flexible = Prop("uint16", 0, name="sriov_vi_flexible")
    sriov_max_vi_per_vf = Prop("uint8", 0, name="sriov_max_vi_per_vf")
    sriov_max_vq_per_vf = Prop("uint8", 0, name="sriov_max_vq_per_vf")
    msix_exclusive_bar = Prop("bool", False, name="msix-exclusive-bar")

    def __init__(self) -> None:
        super().__init__()
        self.bar = bytearray(REGS_SIZE)
        self.namespaces: dict[int, Namespace] = {}
        self.sqs: dict[int, SQueue] = {}
        self.cqs: dict[int, CQueue] = {}
        self.page_size = 4096
        self.irq_status = 0        # INTx: vectors with unconsumed completions
        self.cq_pending = 0
        self.qs_created = False
        self.aer_reqs: list[Request] = []
        self.aer_queue: list[tuple[int, int, int]] = []
        self.aer_mask = 0
        self.features = admin.Features()
        self.dbbuf: tuple[int, int] | None = None   # shadow doorbells, event indexes (guest pages)
        self.id_ctrl = b""
        self.nvme_bus: NvmeBus | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def realize(self) -> None:
        if self.serial is None:
            raise QOMError("serial property not set")
        if self.num_queues:
            sys.stderr.write("warning: num_queues is deprecated; please use max_ioqpairs instead\n")
            self.max_ioqpairs = self.num_queues - 1
        if not 1 <= self.max_ioqpairs <= MAX_IOQPAIRS:
            raise QOMError(f"max_ioqpairs must be between 1 and {MAX_IOQPAIRS}")
        if not 1 <= self.msix_qsize <= msix.PCI_MSIX_FLAGS_QSIZE + 1:
            raise QOMError(f"msix_qsize must be between 1 and {msix.PCI_MSIX_FLAGS_QSIZE + 1}")
        if self.cmb_size_mb:
            raise QOMError("cmb_size_mb: a controller memory buffer is not supported by pyqemu")
        if self.sriov_max_vfs:
            raise QOMError("sriov_max_vfs: SR-IOV is not supported by pyqemu")
        if self.zoned_zasl > self.mdts:
            raise QOMError("zoned.zasl (Zone Append Size Limit) must be less than or equal to mdts "
                           "(Maximum Data Transfer Size)")
        if not self.vsl:
            raise QOMError("vsl must be non-zero")
        if self.logical_block_size:
            check_block_size("logical_block_size", self.logical_block_size)
        if self.use_intel_id:   # instance-level identity before the config header is built
            self.config[0:4] = (PCI_VENDOR_ID_INTEL | 0x5845 << 16).to_bytes(4, "little")
        blk = drives.blk_attach(self, self.drive) if self.drive else None
        if blk is not None:
            apply_backend_options(self, blk)
        self._init_pci()
        self.nvme_bus = NvmeBus(self.id or f"nvme-bus.{next(_bus_ids)}", self)
        self.id_ctrl = admin.identify_ctrl_data(self)
        if blk is not None:
            self.attach_ns(Namespace(blk, 1, self.logical_block_size or 512))

    def _init_pci(self) -> None:
        table, pba, size = bar_layout(self.max_ioqpairs + 1, self.msix_qsize)
        self.bar0 = MemoryRegion.container_region("nvme-bar0", size, owner=self)
        ops = MemoryRegionOps(self.mmio_read, self.mmio_write, AccessConstraints(1, 8),
                              AccessConstraints(1, 8))
        self.iomem = MemoryRegion.mmio_region("nvme", table, ops, owner=self)
        self.bar0.add_subregion(0, self.iomem)
        pci_pm_init(self, 0x60, pmc=0x0003)
        pcie_endpoint_cap_init(self, 0x80)
        pcie_cap_flr_init(self)
        self.register_bar(0, self.bar0, PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_TYPE_64)
        msix.msix_init(self, self.msix_qsize, self.bar0, 0, table, self.bar0, 0, pba, 0)

    def attach_ns(self, ns: Namespace) -> None:
        """Make ``ns`` one of this controller's active namespaces (nvme_attach_ns)."""
        self.namespaces[ns.nsid] = ns

    def ns(self, nsid: int) -> Namespace | None:
        return self.namespaces.get(nsid)

    def nsid_valid(self, nsid: int) -> bool:
        return nsid != 0 and (nsid == 0xFFFFFFFF or nsid <= MAX_NAMESPACES)

    def reset(self) -> None:
        """Function reset (nvme_pci_reset): the controller too; AQA/ASQ/ACQ survive, as in QEMU."""
        super().reset()
        self.ctrl_reset()
        self.bar[0:16] = (CAP_VALUE.to_bytes(8, "little") + NVME_SPEC_VER.to_bytes(4, "little")
                          + bytes(4))

    def ctrl_reset(self) -> None:
        """Controller reset (CC.EN 1 -> 0): every queue deleted, requests in flight dropped."""
        for sq in self.sqs.values():
            sq.deleted = True
        self.sqs.clear()
        for cq in self.cqs.values():
            self._irq_deassert(cq)
        self.cqs.clear()
        self.aer_reqs.clear()
        self.aer_queue.clear()
        self.aer_mask = 0
        self.qs_created = False
        self.dbbuf = None
        self.irq_status = 0
        self.cq_pending = 0
        self._irq_check()
        for reg in (REG_CSTS, REG_INTMS, REG_INTMC, REG_CC):
            self._st(reg, 0)

    # -- registers ----------------------------------------------------------------------------------
    def _ld(self, off: int, size: int = 4) -> int:
        return int.from_bytes(self.bar[off:off + size], "little")

    def _st(self, off: int, value: int, size: int = 4) -> None:
        self.bar[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def mmio_read(self, addr: int, size: int) -> int:
        if addr & 3:
            log.guest_error(f"nvme: MMIO read not 32-bit aligned, offset=0x{addr:x}")
        elif size < 4:
            log.guest_error(f"nvme: MMIO read smaller than 32-bits, offset=0x{addr:x}")
        if addr > REGS_SIZE - size:
            log.guest_error(f"nvme: MMIO read beyond last register, offset=0x{addr:x}, returning 0")
            return 0
        return self._ld(addr, size)

    def mmio_write(self, addr: int, value: int, size: int) -> None:
        if addr < REGS_SIZE:
            self._write_reg(addr, value, size)
        else:
            self._doorbell(addr, value)

    def _write_reg(self, off: int, data: int, size: int) -> None:
        if off & 3:
            log.guest_error(f"nvme: MMIO write not 32-bit aligned, offset=0x{off:x}")
        if size < 4:
            log.guest_error(f"nvme: MMIO write smaller than 32-bits, offset=0x{off:x}, size={size}")
        if off in (REG_INTMS, REG_INTMC):
            if msix.msix_enabled(self):
                log.guest_error("nvme: undefined access to interrupt mask "
                                f"{'set' if off == REG_INTMS else 'clear'} when MSI-X is enabled")
            intms = self._ld(REG_INTMS)
            intms = intms | data if off == REG_INTMS else intms & ~data
            self._st(REG_INTMS, intms)
            self._st(REG_INTMC, intms)
            self._irq_check()
        elif off == REG_CC:
            self._write_cc(data & 0xFFFFFFFF)
        elif off == REG_CSTS:
            if data & (1 << 4):
                log.guest_error("nvme: attempted to W1C CSTS.NSSRO but CAP.NSSRS is zero (not supported)")
            elif data:
                log.guest_error("nvme: attempted to set a read only bit of controller status")
        elif off == REG_NSSR:
            if data == NSSR_RESET:
                log.unimp("nvme: NVM subsystem reset is not supported")
        elif off == REG_AQA:
            self._st(REG_AQA, data)
        elif off in (REG_ASQ, REG_ACQ):
            self._st(off, data, size)
        elif off in (REG_ASQ + 4, REG_ACQ + 4):
            self._st(off, data)
        else:
            name = REG_NAMES.get(off)
            if name is not None and off not in (REG_CAP, REG_CAP + 4, REG_VS):
                log.unimp(f"nvme: {name} (controller memory buffer / persistent memory region) "
                          "is not supported")
            else:
                log.guest_error(f"nvme: invalid MMIO write, offset=0x{off:x}, data=0x{data:x}")

    def _write_cc(self, data: int) -> None:
        cc = self._ld(REG_CC)
        csts = self._ld(REG_CSTS)
        self._st(REG_CC, data)
        if cc_shn(data) and not cc_shn(cc):
            csts = (csts & ~CSTS_SHST_MASK) | CSTS_SHST_PROCESSING
            self._shutdown()
        elif not cc_shn(data) and cc_shn(cc):
            csts &= ~CSTS_SHST_MASK
        if data & CC_EN and not cc & CC_EN:
            if self._start():
                csts = CSTS_RDY
            else:
                csts = CSTS_CFS
        elif not data & CC_EN and cc & CC_EN:
            self.ctrl_reset()
            return
        self._st(REG_CSTS, csts)

    def _start(self) -> bool:
        """CC.EN 0 -> 1: check the configuration, create the admin queues (nvme_start_ctrl)."""
        cc, aqa = self._ld(REG_CC), self._ld(REG_AQA)
        asq, acq = self._ld(REG_ASQ, 8), self._ld(REG_ACQ, 8)
        page_size = 1 << (12 + cc_mps(cc))
        asqs, acqs = aqa & 0xFFF, (aqa >> 16) & 0xFFF
        problems = [
            (bool(self.cqs or self.sqs), "admin queues already exist"),
            (bool(asq & (page_size - 1)), f"ASQ 0x{asq:x} is not page aligned"),
            (bool(acq & (page_size - 1)), f"ACQ 0x{acq:x} is not page aligned"),
            (not (CAP_VALUE >> 37) & (1 << cc_css(cc)), f"CC.CSS {cc_css(cc)} is not supported"),
            (cc_mps(cc) > (CAP_VALUE >> 52) & 0xF, f"CC.MPS {cc_mps(cc)} is above CAP.MPSMAX"),
            (cc_iocqes(cc) != 4, f"CC.IOCQES {cc_iocqes(cc)} is not 4"),
            (cc_iosqes(cc) != 6, f"CC.IOSQES {cc_iosqes(cc)} is not 6"),
            (not asqs or asqs > CAP_MQES, f"AQA.ASQS {asqs} is out of range"),
            (not acqs or acqs > CAP_MQES, f"AQA.ACQS {acqs} is out of range"),
        ]
        for bad, why in problems:
            if bad:
                log.guest_error(f"nvme: controller start failed: {why}")
                return False
        self.page_size = page_size
        cq = self.cqs[0] = CQueue(0, acq, acqs + 1, 0, True)
        sq = self.sqs[0] = SQueue(0, 0, asq, asqs + 1)
        cq.sqs.append(sq)
        self.features.set_timestamp(0)
        return True

    def admin_only(self) -> bool:
        return cc_css(self._ld(REG_CC)) == CC_CSS_ADMIN_ONLY

    def _shutdown(self) -> None:
        """CC.SHN: flush every namespace; CSTS.SHST reads complete when the flushes are done."""
        pending = [len(self.namespaces)]

        def done(_r: object, _e: BaseException | None) -> None:
            pending[0] -= 1
            if pending[0] <= 0 and cc_shn(self._ld(REG_CC)):
                csts = self._ld(REG_CSTS)
                self._st(REG_CSTS, (csts & ~CSTS_SHST_MASK) | CSTS_SHST_COMPLETE)

        if not self.namespaces:
            pending[0] = 1
            done(None, None)
        for ns in list(self.namespaces.values()):
            ns.blk.aio_flush(done)

    # -- doorbells ----------------------------------------------------------------------------------
    def _doorbell(self, addr: int, value: int) -> None:
        if addr & 3:
            log.guest_error(f"nvme: doorbell write not 32-bit aligned, offset=0x{addr:x}, ignoring")
            return
        idx = (addr - DB_BASE) >> 2
        qid = idx >> 1
        if idx & 1:
            cq = self.cqs.get(qid)
            if cq is None:
                log.guest_error(f"nvme: completion queue doorbell write for nonexistent queue, "
                                f"cqid={qid}, ignoring")
                self._doorbell_event(AER_INFO_ERR_INVALID_DB_REGISTER)
                return
            head = value & 0xFFFF
            if head >= cq.size:
                log.guest_error(f"nvme: completion queue doorbell write value beyond queue size, "
                                f"cqid={qid}, new_head={head}, ignoring")
                self._doorbell_event(AER_INFO_ERR_INVALID_DB_VALUE)
                return
            was_full = cq.full()
            cq.head = head
            if cq.tail == cq.head:
                if cq.irq_enabled:    # (a repeated head write must not underflow the count)
                    self.cq_pending = max(0, self.cq_pending - 1)
                self._irq_deassert(cq)
            if was_full or cq.waiting:
                self.post_cqes(cq)
                for sq in list(cq.sqs):
                    self.process_sq(sq)
        else:
            sq = self.sqs.get(qid)
            if sq is None:
                log.guest_error(f"nvme: submission queue doorbell write for nonexistent queue, "
                                f"sqid={qid}, ignoring")
                self._doorbell_event(AER_INFO_ERR_INVALID_DB_REGISTER)
                return
            tail = value & 0xFFFF
            if tail >= sq.size:
                log.guest_error(f"nvme: submission queue doorbell write value beyond queue size, "
                                f"sqid={qid}, new_tail={tail}, ignoring")
                self._doorbell_event(AER_INFO_ERR_INVALID_DB_VALUE)
                return
            sq.tail = tail
            self.process_sq(sq)

    def _doorbell_event(self, info: int) -> None:
        if self.aer_reqs:
            self.enqueue_event(AER_TYPE_ERROR, info, LOG_ERROR_INFO)

    # -- command processing -------------------------------------------------------------------------
    def process_sq(self, sq: SQueue) -> None:
        """Fetch and start the commands between head and tail (nvme_process_sq); at most
        ``size`` of them in flight. Runs in the doorbell's MMIO handler: I/O is only submitted."""
        if sq.busy:
            return
        sq.busy = True
        try:
            self._shadow_sq_tail(sq)
            while not sq.empty() and sq.outstanding < sq.size and not sq.deleted:
                if self._ld(REG_CSTS) & CSTS_CFS:
                    return
                addr = sq.addr + sq.head * SQE_SIZE
                try:
                    raw = self.dma_read(addr, SQE_SIZE)
                except MemTxError:
                    log.guest_error(f"nvme: cannot read submission queue {sq.sqid} entry at 0x{addr:x}: "
                                    "controller fatal status")
                    self._st(REG_CSTS, CSTS_CFS)
                    return
                sq.head = (sq.head + 1) % sq.size
                sq.outstanding += 1
                req = Request(sq, raw)
                try:
                    status = (nvm.io_cmd if sq.sqid else admin.admin_cmd)(self, req)
                except NvmeError as e:
                    status = e.status
                if status is not None:
                    self.complete(req, status)
                self._shadow_sq_tail(sq)
        finally:
            sq.busy = False

    def _shadow_sq_tail(self, sq: SQueue) -> None:
        """With shadow doorbells, the tail is in guest memory; the event index tells the host
        how far the controller has looked (QEMU nvme_update_sq_tail/eventidx)."""
        if not sq.db_addr:
            return
        try:
            self.dma_write(sq.ei_addr, sq.tail.to_bytes(4, "little"))
            tail = int.from_bytes(self.dma_read(sq.db_addr, 4), "little")
        except MemTxError:
            log.guest_error(f"nvme: shadow doorbell of SQ {sq.sqid} is not accessible")
            return
        if tail < sq.size:
            sq.tail = tail
        else:
            log.guest_error(f"nvme: shadow doorbell value {tail} beyond the size of SQ {sq.sqid}")

    def complete(self, req: Request, status: int | None = None) -> None:
        """Queue the completion of ``req`` on its CQ and post what fits."""
        if status is not None:
            req.status = status
        sq = req.sq
        if sq.deleted:
            return                    # its queue (or the controller) went away meanwhile
        cq = self.cqs.get(sq.cqid)
        if cq is None:
            return
        cq.waiting.append(req)
        self.post_cqes(cq)
        if not sq.busy and not sq.empty():
            self.process_sq(sq)       # it may have stopped at its request limit

    def post_cqes(self, cq: CQueue) -> None:
        """Write waiting completions while the CQ has room, then interrupt (nvme_post_cqes)."""
        if cq.db_addr:
            try:
                self.dma_write(cq.ei_addr, cq.head.to_bytes(4, "little"))
                head = int.from_bytes(self.dma_read(cq.db_addr, 4), "little")
                if head < cq.size:
                    cq.head = head
            except MemTxError:
                log.guest_error(f"nvme: shadow doorbell of CQ {cq.cqid} is not accessible")
        pending = cq.head != cq.tail
        while cq.waiting and not cq.full():
            req = cq.waiting[0]
            addr = cq.addr + cq.tail * CQE_SIZE
            try:
                self.dma_write(addr, cq.entry(req))
            except MemTxError:
                log.guest_error(f"nvme: cannot write completion queue {cq.cqid} entry at 0x{addr:x}: "
                                "controller fatal status")
                self._st(REG_CSTS, CSTS_CFS)
                break
            cq.waiting.popleft()
            req.sq.outstanding -= 1
            cq.advance()
        if cq.tail != cq.head:
            if cq.irq_enabled and not pending:
                self.cq_pending += 1
            self._irq_assert(cq)

    # -- interrupts ---------------------------------------------------------------------------------
    def _irq_check(self) -> None:
        if msix.msix_enabled(self):
            return
        self.set_irq(1 if ~self._ld(REG_INTMS) & self.irq_status else 0)

    def _irq_assert(self, cq: CQueue) -> None:
        if not cq.irq_enabled:
            return
        if msix.msix_enabled(self):
            msix.msix_notify(self, cq.vector)
        elif cq.vector < 32:
            self.irq_status |= 1 << cq.vector
            self._irq_check()

    def _irq_deassert(self, cq: CQueue) -> None:
        if not cq.irq_enabled or msix.msix_enabled(self) or cq.vector >= 32:
            return
        if not self.cq_pending:
            self.irq_status &= ~(1 << cq.vector)
        self._irq_check()

    # -- queues (admin commands call these) ---------------------------------------------------------
    def create_cq(self, cqid: int, addr: int, size: int, vector: int, ien: bool) -> None:
        cq = self.cqs[cqid] = CQueue(cqid, addr, size, vector, ien)
        self._set_shadow(cq, 8 * cqid + 4)
        self.qs_created = True

    def create_sq(self, sqid: int, cqid: int, addr: int, size: int) -> None:
        sq = self.sqs[sqid] = SQueue(sqid, cqid, addr, size)
        self._set_shadow(sq, 8 * sqid)
        self.cqs[cqid].sqs.append(sq)

    def set_dbbuf(self, dbs: int, eis: int) -> None:
        """Doorbell Buffer Config: the I/O queues' doorbells move to guest memory. The admin
        queue keeps its registers (Linux never shadows it)."""
        self.dbbuf = (dbs, eis)
        for q, off in [(sq, 8 * i) for i, sq in self.sqs.items()] + \
                      [(cq, 8 * i + 4) for i, cq in self.cqs.items()]:
            self._set_shadow(q, off)
            if q.db_addr:
                value = q.tail if isinstance(q, SQueue) else q.head
                try:
                    self.dma_write(q.db_addr, value.to_bytes(4, "little"))
                    self.dma_write(q.ei_addr, value.to_bytes(4, "little"))
                except MemTxError:
                    log.guest_error("nvme: doorbell buffer is not accessible")

    def _set_shadow(self, q: SQueue | CQueue, off: int) -> None:
        if self.dbbuf is not None and off >= 8:
            q.db_addr, q.ei_addr = self.dbbuf[0] + off, self.dbbuf[1] + off

    def delete_sq(self, sqid: int) -> None:
        sq = self.sqs.pop(sqid)
        sq.deleted = True
        cq = self.cqs.get(sq.cqid)
        if cq is not None:
            cq.sqs.remove(sq)
            cq.waiting = type(cq.waiting)(r for r in cq.waiting if r.sq is not sq)

    def delete_cq(self, cqid: int) -> None:
        cq = self.cqs[cqid]
        if cq.irq_enabled and cq.tail != cq.head:
            self.cq_pending -= 1
        self._irq_deassert(cq)
        del self.cqs[cqid]

    # -- asynchronous events ------------------------------------------------------------------------
    def enqueue_event(self, etype: int, info: int, log_page: int) -> None:
        if len(self.aer_queue) >= self.aer_max_queued:
            return
        self.aer_queue.append((etype, info, log_page))
        self.process_aers()

    def process_aers(self) -> None:
        for ev in list(self.aer_queue):
            if not self.aer_reqs:
                break
            etype, info, log_page = ev
            if self.aer_mask & (1 << etype):
                continue
            self.aer_queue.remove(ev)
            self.aer_mask |= 1 << etype
            req = self.aer_reqs.pop()
            req.result = etype | info << 8 | log_page << 16
            self.complete(req, 0)

    def clear_events(self, etype: int) -> None:
        self.aer_mask &= ~(1 << etype)
        if self.aer_queue:
            self.process_aers()

    # -- data transfers -----------------------------------------------------------------------------
    def backends(self) -> list[BlockBackend]:
        return [ns.blk for ns in self.namespaces.values()]
