"""ARM PrimeCell PL061 GPIO controller (QEMU ``hw/gpio/pl061.c``, type ``pl061``).

Interface:
  MMIO   one 4 KiB bank: GPIODATA 0x000-0x3fc (address bits [9:2] mask the access),
         the control registers below, PeriphID4-7/0-3 and PCellID0-3 at 0xfd0-0xffc.
  IRQs   one sysbus output (GPIOINTR, level = RIS & IE).
  GPIO   8 inputs (external pins driven into the controller) and 8 outputs (pin levels).
  Props  ``pullups`` (uint32, default 0xff), ``pulldowns`` (uint32, default 0): what an
         input pin that nothing drives reads as; ``virt`` pulls every line down.
  Spec   ARM DDI 0190 (PL061 TRM), behaviour of QEMU 7.2 (the ARM variant; the Luminary
         Stellaris registers at 0x500-0x52c are not part of it).
"""
from __future__ import annotations

from typing import Any

from pyqemu.hw.core.register import Reg, RegisterTable
from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps
from pyqemu.migration.vmstate import Field, StateDescription
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError
from pyqemu.util import log

MMIO_SIZE = 0x1000
N_GPIOS = 8
# PeriphID4-7 (0xfd0), PeriphID0-3 (0xfe0), PCellID0-3 (0xff0)
PL061_ID = (0x00, 0x00, 0x00, 0x00, 0x61, 0x10, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

REGS = RegisterTable("pl061", [
    Reg("GPIODATA", 0x000, 0, "rw", span=0x400),
    Reg("GPIODIR", 0x400, 0, "rw"),
    Reg("GPIOIS", 0x404, 0, "rw"),
    Reg("GPIOIBE", 0x408, 0, "rw"),
    Reg("GPIOIEV", 0x40C, 0, "rw"),
    Reg("GPIOIE", 0x410, 0, "rw"),
    Reg("GPIORIS", 0x414, 0, "ro"),
    Reg("GPIOMIS", 0x418, 0, "ro"),
    Reg("GPIOIC", 0x41C, 0, "wo"),
    Reg("GPIOAFSEL", 0x420, 0, "rw"),
    *(Reg(f"GPIOPeriphID{4 + i}", 0xFD0 + 4 * i, PL061_ID[i], "ro") for i in range(4)),
    *(Reg(f"GPIOPeriphID{i}", 0xFE0 + 4 * i, PL061_ID[4 + i], "ro") for i in range(4)),
    *(Reg(f"GPIOPCellID{i}", 0xFF0 + 4 * i, PL061_ID[8 + i], "ro") for i in range(4)),
])

# register offset -> attribute, for the plain 8-bit control registers
_CTRL = {0x400: "dir", 0x404: "isense", 0x408: "ibe", 0x40C: "iev", 0x410: "im"}

VMSTATE = StateDescription("pl061", 4, (
    Field("locked", "uint32"), Field("data", "uint32"), Field("old_out_data", "uint32"),
    Field("old_in_data", "uint32"), Field("dir", "uint32"), Field("isense", "uint32"),
    Field("ibe", "uint32"), Field("iev", "uint32"), Field("im", "uint32"),
    Field("istate", "uint32"), Field("afsel", "uint32"), Field("cr", "uint32"),
), minimum_version=4)


class PL061(SysBusDevice):
    """The PL061 GPIO controller; see the module docstring."""

    TYPE = "pl061"
    DESC = "ARM PL061 GPIO"
    pullups = Prop("uint32", 0xFF)
    pulldowns = Prop("uint32", 0)

    def __init__(self) -> None:
        super().__init__()
        self.iomem = MemoryRegion.mmio_region("pl061", MMIO_SIZE, MemoryRegionOps(
            self.read, self.write, valid=AccessConstraints(1, 4), impl=AccessConstraints(1, 4)),
            owner=self)
        self.init_mmio(self.iomem)
        self.irq = self.init_irq()
        self.init_gpio_in(self.set_gpio, N_GPIOS)
        self.out = self.init_gpio_out(N_GPIOS)
        self._reset_regs()
        self.old_out_data = 0

    def realize(self) -> None:
        if self.pullups > 0xFF:
            raise QOMError("pullups property must be between 0 and 0xff")
        if self.pulldowns > 0xFF:
            raise QOMError("pulldowns property must be between 0 and 0xff")
        if self.pullups & self.pulldowns:
            raise QOMError("no bit may be set both in pullups and pulldowns")

    def _reset_regs(self) -> None:
        self.data = self.old_in_data = self.dir = 0
        self.isense = self.ibe = self.iev = self.im = self.istate = self.afsel = 0
        self.locked = 1
        self.cr = 0xFF

    def reset(self) -> None:
        self._reset_regs()
        floating, pullups = self._floating(), self._pullups()
        for i in range(N_GPIOS):
            if not floating >> i & 1:
                self.out[i].set(pullups >> i & 1)
        self.old_out_data = pullups
        self.irq.set(0)

    # -- pins ------------------------------------------------------------------------------------
    def _pullups(self) -> int:
        """Input pins pulled up to 1."""
        return self.pullups & ~self.dir & 0xFF

    def _floating(self) -> int:
        """Input pins neither pulled up nor down."""
        return ~(self.pullups | self.pulldowns) & ~self.dir & 0xFF

    def set_gpio(self, line: int, level: int) -> None:
        """An external pin changed; pins configured as outputs ignore it."""
        mask = 1 << line
        if not self.dir & mask:
            self.data = (self.data & ~mask) | (mask if level else 0)
            self.update()

    def update(self) -> None:
        """Drive the output pins and GPIOINTR from the state; latch edge interrupts."""
        floating = self._floating()
        out = (self.data & self.dir) | self._pullups() | (self.old_out_data & floating)
        changed = self.old_out_data ^ out
        if changed:
            self.old_out_data = out
            for i in range(N_GPIOS):
                if changed >> i & 1:
                    self.out[i].set(out >> i & 1)
        changed = (self.old_in_data ^ self.data) & ~self.dir & 0xFF
        if changed:
            self.old_in_data = self.data
            edge = changed & ~self.isense
            # both edges where IBE is set, else the edge IEV selects
            self.istate |= (edge & self.ibe) | (edge & ~self.ibe & ~(self.data ^ self.iev))
        self.istate = (self.istate | (~(self.data ^ self.iev) & self.isense)) & 0xFF
        self.irq.set(1 if self.istate & self.im else 0)

    # -- registers -------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        if offset < 0x400:
            return self.data & (offset >> 2)
        attr = _CTRL.get(offset)
        if attr is not None:
            return getattr(self, attr)
        if offset == 0x414:
            return self.istate
        if offset == 0x418:
            return self.istate & self.im
        if offset == 0x420:
            return self.afsel
        if 0xFD0 <= offset < 0x1000:
            return PL061_ID[(offset - 0xFD0) >> 2]
        log.guest_error(f"pl061_read: Bad offset {offset:x} ({REGS.name(offset)})")
        return 0

    def write(self, offset: int, value: int, size: int) -> None:
        if offset < 0x400:
            mask = (offset >> 2) & self.dir
            self.data = (self.data & ~mask) | (value & mask)
        elif offset in _CTRL:
            setattr(self, _CTRL[offset], value & 0xFF)
        elif offset == 0x41C:
            self.istate &= ~value
        elif offset == 0x420:
            self.afsel = (self.afsel & ~self.cr) | (value & self.cr)
        else:
            log.guest_error(f"pl061_write: Bad offset {offset:x} ({REGS.name(offset)})")
            return
        self.update()

    # -- state -----------------------------------------------------------------------------------
    def save_state(self) -> dict[str, Any]:
        return VMSTATE.save(self)

    def load_state(self, state: dict[str, Any]) -> None:
        VMSTATE.load(self, state)
        self.update()


def create_virt_pl061() -> PL061:
    """An unrealized PL061 as virt creates it: every line pulled down when not driven."""
    dev = PL061()
    dev.pullups, dev.pulldowns = 0, 0xFF
    return dev


def fdt_add_pl061(tree: Any, base: int, size: int = MMIO_SIZE, *, spi: int = 7,
                  clock_phandle: int = 0x8000, phandle: int = 0x8004) -> Any:
    """Write the ``pl061@BASE`` node as QEMU 7.2's virt does (create_gpio_devices)."""
    import fdt

    node = fdt.Node(f"pl061@{base:x}")
    node.append(fdt.PropWords("phandle", phandle))
    node.append(fdt.PropStrings("clock-names", "apb_pclk"))
    node.append(fdt.PropWords("clocks", clock_phandle))
    node.append(fdt.PropWords("interrupts", 0, spi, 4))
    node.append(fdt.Property("gpio-controller"))
    node.append(fdt.PropWords("#gpio-cells", 2))
    node.append(fdt.PropStrings("compatible", "arm,pl061", "arm,primecell"))
    node.append(fdt.PropWords("reg", base >> 32, base & 0xFFFFFFFF, size >> 32, size & 0xFFFFFFFF))
    tree.add_item(node)
    return node
