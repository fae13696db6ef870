"""The generic PCI Express host bridge (QEMU ``hw/pci-host/gpex.c``, types ``gpex-pcihost``
and ``gpex-root``).

Interface:
  MMIO   0: ECAM configuration space, ``pcie-mmcfg-mmio``, 256 MiB = 256 buses x 32 devices x
            8 functions x 4 KiB (address = bus << 20 | devfn << 12 | register); 8/16/32-bit,
            aligned. An absent function, or a register beyond a function's config space,
            reads as all-ones; writes there are ignored.
         1: ``gpex_mmio_window``, the whole 64-bit PCI memory space (boards alias windows of it:
            ``pcie-mmio`` 1:1 at 0x10000000, ``pcie-mmio-high``).
         2: ``gpex_ioport_window``, the 64 KiB PCI I/O space.
         Where no BAR is mapped the windows read all-ones and ignore writes
         (``allow-unmapped-accesses``, on as in QEMU 7.2).
  IRQs   4 sysbus outputs: INTA..INTD (``virt``: SPIs 3..6); a device's pin is swizzled by slot
         (pin + slot) % 4, the map the board's DT ``interrupt-map`` describes; devices behind
         bridges are swizzled at each bridge first. A line is the OR of the pins mapped to it.
  Bus    ``pcie.0``, holding ``gpex-root`` (00:00.0, 1b36:0008, class host bridge). ECAM bus
         numbers other than 0 reach the buses behind bridges by their programmed
         secondary..subordinate ranges.
  DMA    ``dma_as``: the address space bus masters reach (the board passes the machine's
         system address space).
"""
from __future__ import annotations

from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.hw.pci.pci import PCIDevice, PCIExpressBus
from pyqemu.memory import ADDR_SPACE_END, AccessConstraints, AddressSpace, MemoryRegion, MemoryRegionOps
from pyqemu.qom.device import Prop

PCIE_MMCFG_SIZE_MAX = 1 << 28
GPEX_NUM_IRQS = 4
PCI_VENDOR_ID_REDHAT = 0x1B36
PCI_DEVICE_ID_REDHAT_PCIE_HOST = 0x0008


def _all_ones_ops() -> MemoryRegionOps:
    """QEMU's unassigned_io_ops: reads return all-ones, writes vanish."""
    return MemoryRegionOps(lambda _o, size: (1 << (8 * size)) - 1, lambda _o, _v, _s: None,
                           AccessConstraints(1, 8), AccessConstraints(1, 8))


class GPEXRoot(PCIDevice):
    """The host bridge function at 00:00.0."""

    TYPE = "gpex-root"
    DESC = "QEMU generic PCIe host bridge"
    USER_CREATABLE = False
    VENDOR_ID = PCI_VENDOR_ID_REDHAT
    DEVICE_ID = PCI_DEVICE_ID_REDHAT_PCIE_HOST
    CLASS_ID = 0x0600


class GPEXHost(SysBusDevice):
    """The host bridge; see the module docstring."""

    TYPE = "gpex-pcihost"
    allow_unmapped_accesses = Prop("bool", True, name="allow-unmapped-accesses")
    x_config_reg_migration_enabled = Prop("bool", True, name="x-config-reg-migration-enabled")
    bypass_iommu = Prop("bool", False, name="bypass-iommu")

    def __init__(self) -> None:
        super().__init__()
        self.mmcfg = MemoryRegion.mmio_region("pcie-mmcfg-mmio", PCIE_MMCFG_SIZE_MAX, MemoryRegionOps(
            self.mmcfg_read, self.mmcfg_write, AccessConstraints(1, 4), AccessConstraints(1, 4)),
            owner=self)
        self.io_mmio = MemoryRegion.container_region("gpex_mmio", ADDR_SPACE_END, owner=self)
        self.io_ioport = MemoryRegion.container_region("gpex_ioport", 0x10000, owner=self)
        self.irqs = []
        self._dma_as: AddressSpace | None = None

    @property
    def dma_as(self) -> AddressSpace | None:
        return self._dma_as

    @dma_as.setter
    def dma_as(self, value: AddressSpace | None) -> None:
        self._dma_as = value
        if getattr(self, "bus", None) is not None:
            self.bus.dma_as = value

    def realize(self) -> None:
        if self.allow_unmapped_accesses:
            self.io_mmio_window = MemoryRegion.mmio_region("gpex_mmio_window", ADDR_SPACE_END,
                                                           _all_ones_ops(), owner=self)
            self.io_ioport_window = MemoryRegion.mmio_region("gpex_ioport_window", 0x10000,
                                                             _all_ones_ops(), owner=self)
            self.io_mmio_window.add_subregion(0, self.io_mmio)
            self.io_ioport_window.add_subregion(0, self.io_ioport)
        else:
            self.io_mmio_window, self.io_ioport_window = self.io_mmio, self.io_ioport
        self.init_mmio(self.mmcfg)
        self.init_mmio(self.io_mmio_window)
        self.init_mmio(self.io_ioport_window)
        self.irqs = [self.init_irq() for _ in range(GPEX_NUM_IRQS)]
        self.bus = PCIExpressBus("pcie.0", self, self.io_mmio, self.io_ioport,
                                 set_irq_fn=self.set_irq_line, dma_as=self._dma_as)
        self.root = GPEXRoot()
        self.add_child("gpex_root", self.root)
        self.root.qdev_realize(self.bus)

    def reset(self) -> None:
        for line in self.irqs:
            line.set(0)

    def set_irq_line(self, n: int, level: int) -> None:
        """The root bus's swizzled line ``n`` (QEMU gpex_set_irq)."""
        self.irqs[n].set(level)

    def set_pci_irq(self, slot: int, pin: int, level: int) -> None:
        """A device's INTx pin (0 = INTA) changed: raise the swizzled host line."""
        self.irqs[(pin + slot) % GPEX_NUM_IRQS].set(level)

    # -- ECAM -------------------------------------------------------------------------------------
    def _decode(self, offset: int) -> tuple[PCIDevice | None, int, int]:
        """The function an ECAM offset selects, the register, and the config space the host
        reaches (absent: None)."""
        bus = self.bus.find_bus(offset >> 20)
        dev = bus.by_devfn.get((offset >> 12) & 0xFF) if bus is not None else None
        if dev is None or bus is None:
            return None, 0, 0
        return dev, offset & 0xFFF, bus.config_limit(dev)

    def mmcfg_read(self, offset: int, size: int) -> int:
        dev, reg, limit = self._decode(offset)
        if dev is None or reg >= limit:
            return (1 << (8 * size)) - 1
        return dev.config_read(reg, min(size, limit - reg))

    def mmcfg_write(self, offset: int, value: int, size: int) -> None:
        dev, reg, limit = self._decode(offset)
        if dev is None or reg >= limit:
            return   # silently, as QEMU: probing absent functions is normal
        dev.config_write(reg, value, min(size, limit - reg))
