"""System-bus devices: memory-mapped registers and IRQ outputs (QEMU ``hw/core/sysbus.c``).

A device calls ``init_mmio`` for each register bank and ``init_irq`` for
each interrupt output; the board maps banks with ``mmio_map`` and wires
outputs with ``connect_irq``.
"""
from __future__ import annotations

from pyqemu.hw.core.irq import IRQ, IRQOut
from pyqemu.memory import MemoryRegion
from pyqemu.qom.device import Bus, Device
from pyqemu.qom.memory_region import attach_region
from pyqemu.qom.object import QOMError

SYSBUS_IRQ = "sysbus-irq"
UNMAPPED = (1 << 64) - 1


class SystemBus(Bus):
    """The machine's main bus (QEMU's ``main-system-bus``, type ``System``); ``memory`` is
    the system memory region that ``SysBusDevice.mmio_map`` maps into."""

    TYPE = "System"
    BUS_ACCEPTS = "sys-bus-device"

    def __init__(self, memory: MemoryRegion, name: str = "main-system-bus") -> None:
        super().__init__(name)
        self.memory = memory


class SysBusDevice(Device):
    """QEMU TYPE_SYS_BUS_DEVICE."""

    TYPE = "sys-bus-device"
    ABSTRACT = True
    BUS_TYPE = "System"
    USER_CREATABLE = False  # sysbus devices are created by boards

    def __init__(self) -> None:
        super().__init__()
        self.mmio: list[tuple[MemoryRegion, int]] = []  # (region, address or UNMAPPED)

    def init_mmio(self, mr: MemoryRegion) -> int:
        """Declare register bank ``mr``; returns its index for ``mmio_map``."""
        if mr.owner is None:
            mr.owner = self
        if mr.qom is None:
            attach_region(mr, self)
        self.mmio.append((mr, UNMAPPED))
        return len(self.mmio) - 1

    def init_irq(self) -> IRQOut:
        """Declare one interrupt output (the next ``sysbus-irq`` line)."""
        return self.init_gpio_out(1, SYSBUS_IRQ)[0]

    def mmio_region(self, n: int) -> MemoryRegion:
        return self.mmio[n][0]

    def mmio_map(self, n: int, addr: int, priority: int = 0) -> None:
        """Map bank ``n`` at ``addr`` in the bus's system memory (moving it if mapped)."""
        mr, old = self.mmio[n]
        bus = self.parent_bus
        if not isinstance(bus, SystemBus):
            raise QOMError(f"device '{self.type_name}' is not on a system bus")
        if old != UNMAPPED:
            bus.memory.del_subregion(mr)
        self.mmio[n] = (mr, addr)
        bus.memory.add_subregion(addr, mr, priority)

    def connect_irq(self, n: int, irq: IRQ | None) -> None:
        self.connect_gpio_out(n, irq, SYSBUS_IRQ)

    def irq_out(self, n: int) -> IRQOut:
        return self.gpios[SYSBUS_IRQ][1][n]

    def bus_print_lines(self, indent: int) -> list[str]:
        pad = " " * indent
        return [f"{pad}mmio {addr:016x}/{min(mr.size, UNMAPPED):016x}" for mr, addr in self.mmio]
