"""The virtio-mmio transport (QEMU ``hw/virtio/virtio-mmio.c``, type ``virtio-mmio``).

Interface:
  MMIO   one 0x200-byte bank: the register file below, then the device's config space at 0x100.
         8/16/32-bit accesses; registers are decoded by exact offset (a byte read of
         MagicValue returns its low byte, of offset 1 returns 0), as QEMU does.
  IRQs   one sysbus output (``virt`` wires transport n to SPI 16 + n, edge-rising in the DT).
  Props  ``force-legacy`` (default on, as QEMU 7.2: Version reads 1),
         ``format_transport_address`` and ``ioeventfd`` (kept for ``info qtree``).
  Bus    ``virtio-mmio-bus.N``; a virtio device plugged into it gets the transport.
  Spec   Virtio 1.1 section 4.2 (and 4.2.4, the legacy interface).

With no device plugged in (every transport of ``virt`` by default) the transport answers as
QEMU's: MagicValue 'virt', Version 1 (legacy) or 2, VendorID 'QEMU', and zero for everything
else including DeviceID, so drivers probe it and find nothing; writes are ignored.
The register file for a plugged device comes with the virtio devices; until then a write to
a transport that has one is logged under ``-d unimp``.
"""
from __future__ import annotations

from typing import Any

from pyqemu.hw.core.register import Reg, RegisterTable
from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps
from pyqemu.migration.vmstate import Field, StateDescription
from pyqemu.qom.device import Bus, Prop
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

VMSTATE = StateDescription("virtio_mmio", 1, (
    Field("guest_page_shift", "uint32"),
    Field("host_features_sel", "uint32"), Field("guest_features_sel", "uint32"),
), minimum_version=1)


class VirtioMMIOBus(Bus):
    """The bus a virtio device plugs into (QEMU TYPE_VIRTIO_MMIO_BUS)."""
    TYPE = "virtio-mmio-bus"
    BUS_ACCEPTS = "virtio-device"


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
        self.guest_page_shift = 0
        self.host_features_sel = 0
        self.guest_features_sel = 0

    def realize(self) -> None:
        # QEMU numbers automatically named buses per bus type, in creation order
        n = sum(isinstance(d, VirtioMMIO) for d in self.parent_bus.devices) - 1 \
            if self.parent_bus is not None else 0
        self.bus = VirtioMMIOBus(f"virtio-mmio-bus.{n}", self)

    @property
    def vdev(self) -> Any:
        """The plugged virtio device, or None."""
        return self.bus.devices[0] if self.bus is not None and self.bus.devices else None

    def reset(self) -> None:
        self.guest_page_shift = 0
        self.host_features_sel = 0
        self.guest_features_sel = 0
        self.update()

    def update(self) -> None:
        """The IRQ line: no device, no interrupt status."""
        self.irq.set(0)

    # -- registers ------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        if self.vdev is None:
            # Most registers read as zero without a backend; the probe sees a valid
            # transport with device ID 0, which no driver claims.
            if offset == 0x000:
                return MAGIC
            if offset == 0x004:
                return VERSION_LEGACY if self.force_legacy else VERSION_MODERN
            if offset == 0x00C:
                return VENDOR
            return 0
        log.unimp(f"virtio_mmio_read: {REGS.name(offset & ~3)} (0x{offset:x}) of a transport "
                  "with a device: not implemented")
        return 0

    def write(self, offset: int, value: int, size: int) -> None:
        if self.vdev is None:
            return   # no backend: every register is write-ignored
        log.unimp(f"virtio_mmio_write: {REGS.name(offset & ~3)} (0x{offset:x}) of a transport "
                  "with a device: not implemented")

    # -- snapshots -------------------------------------------------------------------------------
    def vmstate_save(self) -> dict:
        return VMSTATE.save(self)

    def vmstate_load(self, state: dict) -> None:
        VMSTATE.load(self, state)
