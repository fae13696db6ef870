"""The virtio-mmio transport (QEMU ``hw/virtio/virtio-mmio.c``, type ``virtio-mmio``).

Interface:
  MMIO   one 0x200-byte bank: the register file below, then the device's config space at 0x100.
         8/16/32-bit accesses; registers are decoded by exact offset (a byte read of
         MagicValue returns its low byte, of offset 1 returns 0), as QEMU does.
  IRQs   one sysbus output (``virt`` wires transport n to SPI 16 + n, edge-rising in the DT).
  Props  ``force-legacy`` (default on, as QEMU 7.2: Version reads 1),
         ``format_transport_address`` and ``ioeventfd`` (kept for ``info qtree``).
  Bus    ``virtio-mmio-bus.N`` (one device); a virtio device plugged into it gets the transport.
  Spec   Virtio 1.1 section 4.2 (and 4.2.4, the legacy interface).
  DMA    ``dma_as`` (the board sets the machine's system address space; by default the
         address space of the system memory the transport is mapped in).

With no device plugged in (every transport of ``virt`` by default) the transport answers as
QEMU's: MagicValue 'virt', Version 1 (legacy) or 2, VendorID 'QEMU', and zero for everything
else including DeviceID, so drivers probe it and find nothing; writes are ignored.
With a device, registers other than the config space take 32-bit accesses only ("wrong size
access to register!"); legacy registers in modern mode and vice versa, reads of write-only
and writes of read-only registers are logged under ``-d guest_errors`` with QEMU's messages.
The interrupt line is high while the device's ISR is non-zero.
"""
from __future__ import annotations

from typing import Any

from pyqemu.hw.core.register import Reg, RegisterTable
from pyqemu.hw.core.sysbus import SysBusDevice, SystemBus
from pyqemu.hw.virtio.virtio import (
    VIRTIO_CONFIG_S_FEATURES_OK,
    VIRTIO_F_VERSION_1,
    VIRTIO_LEGACY_FEATURES,
    VIRTIO_QUEUE_MAX,
    VirtioBus,
    VirtIODevice,
)
from pyqemu.hw.virtio.virtqueue import VIRTQUEUE_MAX_SIZE
from pyqemu.memory import AccessConstraints, AddressSpace, MemoryRegion, MemoryRegionOps
from pyqemu.migration.vmstate import Field, StateDescription
from pyqemu.qom.device import Device, Prop
from pyqemu.qom.object import QOMError
from pyqemu.util import log

MMIO_SIZE = 0x200
MAGIC = 0x74726976           # "virt"
VERSION_LEGACY = 1
VERSION_MODERN = 2
VENDOR = 0x554D4551          # "QEMU"
CONFIG_OFFSET = 0x100

# Offsets of the register file; (legacy) marks legacy-only, (modern) version-2-only registers.
REGS = RegisterTable("virtio-mmio", (
    Reg("MagicValue", 0x000, MAGIC, "ro"),
    Reg("Version", 0x004, VERSION_LEGACY, "ro"),
    Reg("DeviceID", 0x008, 0, "ro"),
    Reg("VendorID", 0x00C, VENDOR, "ro"),
    Reg("DeviceFeatures", 0x010, 0, "ro"),
    Reg("DeviceFeaturesSel", 0x014, 0, "wo"),
    Reg("DriverFeatures", 0x020, 0, "wo"),
    Reg("DriverFeaturesSel", 0x024, 0, "wo"),
    Reg("GuestPageSize", 0x028, 0, "wo"),          # legacy
    Reg("QueueSel", 0x030, 0, "wo"),
    Reg("QueueNumMax", 0x034, 0, "ro"),
    Reg("QueueNum", 0x038, 0, "wo"),
    Reg("QueueAlign", 0x03C, 0, "wo"),             # legacy
    Reg("QueuePFN", 0x040, 0),                     # legacy
    Reg("QueueReady", 0x044, 0),                   # modern
    Reg("QueueNotify", 0x050, 0, "wo"),
    Reg("InterruptStatus", 0x060, 0, "ro"),
    Reg("InterruptACK", 0x064, 0, "wo"),
    Reg("Status", 0x070, 0),
    Reg("QueueDescLow", 0x080, 0, "wo"),           # modern
    Reg("QueueDescHigh", 0x084, 0, "wo"),
    Reg("QueueDriverLow", 0x090, 0, "wo"),
    Reg("QueueDriverHigh", 0x094, 0, "wo"),
    Reg("QueueDeviceLow", 0x0A0, 0, "wo"),
    Reg("QueueDeviceHigh", 0x0A4, 0, "wo"),
    Reg("ShmSel", 0x0AC, 0, "wo"),
    Reg("ShmLenLow", 0x0B0, 0, "ro"),
    Reg("ShmLenHigh", 0x0B4, 0, "ro"),
    Reg("ShmBaseLow", 0x0B8, 0, "ro"),
    Reg("ShmBaseHigh", 0x0BC, 0, "ro"),
    Reg("ConfigGeneration", 0x0FC, 0, "ro"),
    Reg("Config", CONFIG_OFFSET, 0, span=MMIO_SIZE - CONFIG_OFFSET),
))


# registers that only exist in one mode (QEMU logs the access and ignores it)
LEGACY_ONLY = {0x028, 0x03C, 0x040}
MODERN_ONLY = {0x044, 0x080, 0x084, 0x090, 0x094, 0x0A0, 0x0A4, 0x0FC}
READ_ONLY = {0x000, 0x004, 0x008, 0x00C, 0x010, 0x034, 0x060, 0x0FC}
WRITE_ONLY = {0x014, 0x020, 0x024, 0x028, 0x030, 0x038, 0x03C, 0x050, 0x064,
              0x080, 0x084, 0x090, 0x094, 0x0A0, 0x0A4}

VMSTATE = StateDescription("virtio_mmio", 1, (
    Field("guest_page_shift", "uint32"),
    Field("host_features_sel", "uint32"), Field("guest_features_sel", "uint32"),
), minimum_version=1)


class _QueueRegs:
    """Modern per-queue registers, latched until QueueReady (QEMU VirtIOMMIOQueue)."""

    __slots__ = ("num", "desc", "avail", "used", "enabled")

    def __init__(self) -> None:
        self.num = 0
        self.desc = [0, 0]
        self.avail = [0, 0]
        self.used = [0, 0]
        self.enabled = False


class VirtioMMIOBus(VirtioBus):
    """The bus a virtio device plugs into (QEMU TYPE_VIRTIO_MMIO_BUS): one device."""
    TYPE = "virtio-mmio-bus"
    BUS_ACCEPTS = "virtio-device"
    max_devices = 1

    def attach(self, dev: Device) -> None:
        if self.devices:
            raise QOMError(f"Bus '{self.bus_name}' is full")
        super().attach(dev)
        transport = self.parent_dev
        if isinstance(dev, VirtIODevice) and isinstance(transport, VirtioMMIO):
            dev.transport = transport
            dev.dma = transport.get_dma_as()

    def detach(self, dev: Device) -> None:
        super().detach(dev)
        if isinstance(dev, VirtIODevice):
            dev.transport = None


class VirtioMMIO(SysBusDevice):
    """One virtio-mmio transport; see the module docstring."""

    TYPE = "virtio-mmio"
    format_transport_address = Prop("bool", True, name="format_transport_address")
    force_legacy = Prop("bool", True, name="force-legacy")
    ioeventfd = Prop("bool", False)   # TCG: notifications are handled in the vCPU (QEMU: false)

    def __init__(self) -> None:
        super().__init__()
        self.iomem = MemoryRegion.mmio_region("virtio-mmio", MMIO_SIZE, MemoryRegionOps(
            self.read, self.write, AccessConstraints(1, 4), AccessConstraints(1, 4)), owner=self)
        self.init_mmio(self.iomem)
        self.irq = self.init_irq()
        self.bus: VirtioMMIOBus | None = None
        self.dma_as: AddressSpace | None = None
        self.guest_page_shift = 0
        self.host_features_sel = 0
        self.guest_features_sel = 0
        self.guest_features = [0, 0]
        self.qregs: dict[int, _QueueRegs] = {}

    def realize(self) -> None:
        # QEMU numbers automatically named buses per bus type, in creation order
        n = sum(isinstance(d, VirtioMMIO) for d in self.parent_bus.devices) - 1 \
            if self.parent_bus is not None else 0
        self.bus = VirtioMMIOBus(f"virtio-mmio-bus.{n}", self)

    def get_dma_as(self) -> AddressSpace:
        """``dma_as``, else an address space over the system memory this transport sits in."""
        if self.dma_as is None:
            bus = self.parent_bus
            if not isinstance(bus, SystemBus):
                raise QOMError("virtio-mmio: no address space for DMA")
            root = bus.memory
            self.dma_as = next((s for s in AddressSpace.all_spaces if s.root is root), None) \
                or AddressSpace(root, "virtio-mmio")
        return self.dma_as

    @property
    def vdev(self) -> Any:
        """The plugged virtio device, or None."""
        return self.bus.devices[0] if self.bus is not None and self.bus.devices else None

    # -- transport protocol (pyqemu.hw.virtio.virtio) -----------------------------------------------
    @property
    def legacy(self) -> bool:
        return bool(self.force_legacy)

    def transport_features(self) -> int:
        """virtio_mmio_pre_plugged: a modern transport offers VERSION_1."""
        return 0 if self.legacy else 1 << VIRTIO_F_VERSION_1

    def update_irq(self, vector: int) -> None:
        vdev = self.vdev
        self.irq.set(1 if vdev is not None and vdev.isr else 0)

    def _q(self, n: int) -> _QueueRegs:
        q = self.qregs.get(n)
        if q is None:
            q = self.qregs[n] = _QueueRegs()
        return q

    def soft_reset(self) -> None:
        """virtio_mmio_soft_reset: modern queues disabled."""
        for q in self.qregs.values():
            q.enabled = False

    def reset(self) -> None:
        self.soft_reset()
        self.guest_page_shift = 0
        self.host_features_sel = 0
        self.guest_features_sel = 0
        self.guest_features = [0, 0]
        self.qregs.clear()
        self.update()

    def update(self) -> None:
        self.update_irq(0)

    # -- registers ------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        vdev = self.vdev
        if vdev is None:
            # Most registers read as zero without a backend; the probe sees a valid
            # transport with device ID 0, which no driver claims.
            if offset == 0x000:
                return MAGIC
            if offset == 0x004:
                return VERSION_LEGACY if self.force_legacy else VERSION_MODERN
            if offset == 0x00C:
                return VENDOR
            return 0
        if offset >= CONFIG_OFFSET:
            return vdev.config_read(offset - CONFIG_OFFSET, size)
        if size != 4:
            log.guest_error("virtio_mmio_read: wrong size access to register!")
            return 0
        legacy = self.legacy
        if offset == 0x040 and not legacy:
            log.guest_error(f"virtio_mmio_read: read from legacy register (0x{offset:x}) in non-legacy mode")
            return 0
        if offset in (0x044, 0x0FC) and legacy:
            log.guest_error(f"virtio_mmio_read: read from non-legacy register (0x{offset:x}) in legacy mode")
            return 0
        sel = vdev.queue_sel
        if offset == 0x000:
            return MAGIC
        if offset == 0x004:
            return VERSION_LEGACY if legacy else VERSION_MODERN
        if offset == 0x008:
            return vdev.device_id
        if offset == 0x00C:
            return VENDOR
        if offset == 0x010:
            if legacy:
                return 0 if self.host_features_sel else vdev.get_features() & 0xFFFFFFFF
            feats = vdev.get_features() & ~VIRTIO_LEGACY_FEATURES
            return (feats >> (32 * self.host_features_sel)) & 0xFFFFFFFF
        if offset == 0x034:
            vq = vdev.get_queue(sel)
            return VIRTQUEUE_MAX_SIZE if vq is not None and vq.num else 0
        if offset == 0x040:
            vq = vdev.get_queue(sel)
            return (vq.desc >> self.guest_page_shift) & 0xFFFFFFFF if vq is not None else 0
        if offset == 0x044:
            return int(self._q(sel).enabled)
        if offset == 0x060:
            return vdev.isr
        if offset == 0x070:
            return vdev.status
        if offset == 0x0FC:
            return vdev.config_generation
        if offset in (0x0B0, 0x0B4):
            return 0xFFFFFFFF    # no shared memory regions (length -1, as the Linux driver reads it)
        if offset in WRITE_ONLY or offset == 0x0AC:
            log.guest_error(f"virtio_mmio_read: read of write-only register (0x{offset:x})")
            return 0
        log.guest_error(f"virtio_mmio_read: bad register offset (0x{offset:x})")
        return 0

    def write(self, offset: int, value: int, size: int) -> None:
        vdev = self.vdev
        if vdev is None:
            return   # no backend: every register is write-ignored
        if offset >= CONFIG_OFFSET:
            vdev.config_write(offset - CONFIG_OFFSET, value, size)
            return
        if size != 4:
            log.guest_error("virtio_mmio_write: wrong size access to register!")
            return
        legacy = self.legacy
        if offset in LEGACY_ONLY and not legacy:
            log.guest_error(f"virtio_mmio_write: write to legacy register (0x{offset:x}) in non-legacy mode")
            return
        if offset in MODERN_ONLY and offset != 0x0FC and legacy:
            log.guest_error(f"virtio_mmio_write: write to non-legacy register (0x{offset:x}) in legacy mode")
            return
        sel = vdev.queue_sel
        vq = vdev.get_queue(sel)
        if offset == 0x014:
            self.host_features_sel = 1 if value else 0
        elif offset == 0x020:
            if legacy:
                if self.guest_features_sel:
                    log.guest_error("virtio_mmio_write: attempt to write guest features with "
                                    "guest_features_sel > 0 in legacy mode")
                else:
                    vdev.set_features(value)
            else:
                self.guest_features[self.guest_features_sel] = value
        elif offset == 0x024:
            self.guest_features_sel = 1 if value else 0
        elif offset == 0x028:
            shift = (value & -value).bit_length() - 1 if value else 32
            self.guest_page_shift = 0 if shift > 31 else shift
        elif offset == 0x030:
            if value < VIRTIO_QUEUE_MAX:
                vdev.queue_sel = value
        elif offset == 0x038:
            if vq is not None:
                vq.set_num(value)
                if legacy:
                    vq.update_rings()
            if not legacy:
                self._q(sel).num = value
        elif offset == 0x03C:
            if vq is not None:
                vq.align = value
                vq.update_rings()
        elif offset == 0x040:
            if value == 0:
                vdev.reset()
            elif vq is not None:
                vq.desc = value << self.guest_page_shift
                vq.update_rings()
        elif offset == 0x044:
            q = self._q(sel)
            if value:
                if vq is not None:
                    vq.set_num(q.num)
                    vq.set_rings(q.desc[1] << 32 | q.desc[0], q.avail[1] << 32 | q.avail[0],
                                 q.used[1] << 32 | q.used[0])
                    vq.ready = True
                q.enabled = True
            else:
                if vq is not None:
                    vq.ready = False
                q.enabled = False
        elif offset == 0x050:
            if value < VIRTIO_QUEUE_MAX:
                vdev.queue_notify(value)
        elif offset == 0x064:
            vdev.isr &= ~value
            vdev.update_irq()
        elif offset == 0x070:
            if not legacy and value & VIRTIO_CONFIG_S_FEATURES_OK:
                vdev.set_features(self.guest_features[1] << 32 | self.guest_features[0])
            vdev.set_status(value & 0xFF)
            if vdev.status == 0:
                self.soft_reset()
        elif 0x080 <= offset <= 0x0A4:
            q = self._q(sel)
            ring = {0x08: q.desc, 0x09: q.avail, 0x0A: q.used}.get(offset >> 4)
            if ring is None or offset & 0xF not in (0, 4):
                log.guest_error(f"virtio_mmio_write: bad register offset (0x{offset:x})")
            else:
                ring[(offset >> 2) & 1] = value
        elif offset in READ_ONLY:
            log.guest_error(f"virtio_mmio_write: write to read-only register (0x{offset:x})")
        else:
            log.guest_error(f"virtio_mmio_write: bad register offset (0x{offset:x})")

    # -- snapshots -------------------------------------------------------------------------------
    def vmstate_save(self) -> dict:
        state = VMSTATE.save(self)
        state["guest_features"] = list(self.guest_features)
        state["queues"] = {n: {"num": q.num, "desc": q.desc, "avail": q.avail, "used": q.used,
                               "enabled": q.enabled} for n, q in self.qregs.items()}
        return state

    def vmstate_load(self, state: dict) -> None:
        VMSTATE.load(self, {k: v for k, v in state.items() if k not in ("guest_features", "queues")})
        self.guest_features = [int(x) & 0xFFFFFFFF for x in state.get("guest_features", [0, 0])][:2]
        self.qregs.clear()
        for n, s in state.get("queues", {}).items():
            q = self._q(int(n))
            q.num = int(s["num"])
            q.desc, q.avail, q.used = [list(map(int, s[k]))[:2] for k in ("desc", "avail", "used")]
            q.enabled = bool(s["enabled"])
