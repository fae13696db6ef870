"""GICv2m MSI frame (QEMU ``hw/intc/arm_gicv2m.c``, type ``arm-gicv2m``).

Interface:
  MMIO   one 4 KiB frame: MSI_TYPER (0x008, read-only: base SPI ID << 16 | number of SPIs),
         MSI_SETSPI_NS (0x040, write-only: the INTID to pulse), MSI_IIDR (0xfcc). Other offsets
         read as zero and are logged as guest errors. 8, 16 and 32-bit accesses.
  IRQs   ``num-spi`` sysbus outputs, pulsed (edge) when a device writes its INTID to SETSPI_NS;
         output n is wired to GIC SPI ``base-spi + n``.
  Props  ``base-spi`` (``virt``: 48, so INTIDs 80..143) and ``num-spi`` (64).
  Spec   ARM Server Base System Architecture, appendix: GICv2m.
"""
from __future__ import annotations

from pyqemu.hw.core.register import Reg, RegisterTable
from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError
from pyqemu.util import log

MMIO_SIZE = 0x1000
GIC_BASE_IRQ = 32
GIC_MAXIRQ = 1020
MSI_IIDR = 0x05100000     # what QEMU 7.2's frame answers (measured)

REGS = RegisterTable("gicv2m", (
    Reg("MSI_TYPER", 0x008, access="ro"),
    Reg("MSI_SETSPI_NS", 0x040, access="wo"),
    Reg("MSI_IIDR", 0xFCC, MSI_IIDR, access="ro"),
))


class ARMGICv2m(SysBusDevice):
    """The MSI frame; see the module docstring."""

    TYPE = "arm-gicv2m"
    base_spi = Prop("uint32", 0, name="base-spi")
    num_spi = Prop("uint32", 64, name="num-spi")

    def __init__(self) -> None:
        super().__init__()
        self.iomem = MemoryRegion.mmio_region("gicv2m", MMIO_SIZE, MemoryRegionOps(
            self.read, self.write, AccessConstraints(1, 4), AccessConstraints(1, 4)), owner=self)
        self.init_mmio(self.iomem)
        self.spis: list = []

    def realize(self) -> None:
        if self.num_spi > GIC_MAXIRQ - GIC_BASE_IRQ:
            raise QOMError(f"requested {self.num_spi} SPIs exceeds GIC maximum "
                           f"{GIC_MAXIRQ - GIC_BASE_IRQ}")
        if self.base_spi + GIC_BASE_IRQ + self.num_spi > GIC_MAXIRQ:
            raise QOMError(f"requested base SPI {self.base_spi}+{self.num_spi} exceeds max. number "
                           f"{GIC_MAXIRQ - GIC_BASE_IRQ}")
        self.spis = [self.init_irq() for _ in range(self.num_spi)]

    def reset(self) -> None:
        for line in self.spis:
            line.set(0)

    def update(self) -> None:
        """MSIs are edges: the frame keeps no level, so there is nothing to drive between writes."""

    def read(self, offset: int, size: int) -> int:
        if offset == 0x008:
            return ((self.base_spi + GIC_BASE_IRQ) << 16) | self.num_spi
        if offset == 0xFCC:
            return MSI_IIDR
        log.guest_error(f"gicv2m_read: Bad offset 0x{offset:x} ({REGS.name(offset)})")
        return 0

    def write(self, offset: int, value: int, size: int) -> None:
        if offset == 0x040:
            spi = (value & 0x3FF) - (self.base_spi + GIC_BASE_IRQ)
            if 0 <= spi < self.num_spi:
                self.spis[spi].pulse()
            return
        log.guest_error(f"gicv2m_write: Bad offset 0x{offset:x} ({REGS.name(offset)})")
