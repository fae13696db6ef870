"""ARM PrimeCell PL031 real-time clock (QEMU ``hw/rtc/pl031.c``, type ``pl031``).

Interface:
  MMIO   one 4 KiB bank: the registers below and the PrimeCell IDs at 0xfe0-0xffc.
  IRQs   one sysbus output, level: RTCINTR = RIS & IMSC (match interrupt).
  Props  ``migrate-tick-offset`` (bool, kept for command-line compatibility). The RTC
         clock (QEMU's ``-rtc clock=``: host by default, or vm / rt) and the start time
         (``-rtc base=``, default now) are constructor arguments.
  Spec   ARM DDI 0224 (PL031 TRM), behaviour of QEMU 7.2.

The counter is ``tick_offset + clock_seconds``: the offset is fixed at realize
from the host's UTC time, so RTCDR reads the date and then counts seconds. A
match (MR == count) raises the interrupt from a main-loop timer on the RTC
clock. As in QEMU the RTC is always enabled (RTCCR reads 1, writes ignored)
and RTCLR reads 0 while a write to it moves the count.
"""
from __future__ import annotations

import time
from typing import Any

from pyqemu.hw.core.register import Reg, RegisterTable
from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps
from pyqemu.migration.vmstate import Field, StateDescription
from pyqemu.qom.device import Prop
from pyqemu.system import main_loop
from pyqemu.system.main_loop import ClockType, MainLoop
from pyqemu.util import log

MMIO_SIZE = 0x1000
NS_PER_S = 1_000_000_000
PL031_ID = (0x31, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

RTC_DR, RTC_MR, RTC_LR, RTC_CR, RTC_IMSC, RTC_RIS, RTC_MIS, RTC_ICR = range(0, 0x20, 4)

REGS = RegisterTable("pl031", [
    Reg("RTCDR", RTC_DR, 0, "ro"),
    Reg("RTCMR", RTC_MR, 0, "rw"),
    Reg("RTCLR", RTC_LR, 0, "rw"),
    Reg("RTCCR", RTC_CR, 1, "rw"),
    Reg("RTCIMSC", RTC_IMSC, 0, "rw"),
    Reg("RTCRIS", RTC_RIS, 0, "ro"),
    Reg("RTCMIS", RTC_MIS, 0, "ro"),
    Reg("RTCICR", RTC_ICR, 0, "wo"),
    *(Reg(f"RTCPeriphID{i}", 0xFE0 + 4 * i, PL031_ID[i], "ro") for i in range(4)),
    *(Reg(f"RTCPCellID{i}", 0xFF0 + 4 * i, PL031_ID[4 + i], "ro") for i in range(4)),
])

VMSTATE = StateDescription("pl031", 1, (
    Field("tick_offset", "int64"), Field("mr", "uint32"), Field("lr", "uint32"),
    Field("cr", "uint32"), Field("im", "uint32"), Field("is_", "uint32"),
), minimum_version=1)


class PL031(SysBusDevice):
    """The PL031 RTC; see the module docstring."""

    TYPE = "pl031"
    DESC = "ARM PL031 RTC"
    migrate_tick_offset = Prop("bool", True, name="migrate-tick-offset")

    def __init__(self, *, clock: ClockType = ClockType.HOST, base: float | None = None,
                 loop: MainLoop | None = None) -> None:
        super().__init__()
        self.rtc_clock = clock
        self.base = base          # seconds since the epoch (UTC) at realize; None = now
        self.loop = loop
        self.iomem = MemoryRegion.mmio_region("pl031", MMIO_SIZE, MemoryRegionOps(
            self.read, self.write, valid=AccessConstraints(1, 4), impl=AccessConstraints(1, 4)),
            owner=self)
        self.init_mmio(self.iomem)
        self.irq = self.init_irq()
        self.tick_offset = 0
        self.mr = self.lr = self.cr = self.im = self.is_ = 0
        self.timer: main_loop.Timer | None = None

    def realize(self) -> None:
        self.loop = self.loop or main_loop.get()
        self.timer = self.loop.new_timer(self.rtc_clock, self.interrupt)
        start = int(self.base if self.base is not None else time.time())
        self.tick_offset = start - self._now_ns() // NS_PER_S

    def reset(self) -> None:
        # QEMU's pl031 has no reset handler: the count and the alarm survive a system reset.
        self.update()

    def _now_ns(self) -> int:
        assert self.loop is not None
        return self.loop.clock_get_ns(self.rtc_clock)

    # -- time -------------------------------------------------------------------------------------
    def get_count(self) -> int:
        return (self.tick_offset + self._now_ns() // NS_PER_S) & 0xFFFFFFFF

    def set_alarm(self) -> None:
        assert self.timer is not None
        ticks = (self.mr - self.get_count()) & 0xFFFFFFFF   # wraps like the 32-bit counter
        if ticks == 0:
            self.timer.del_()
            self.interrupt()
        else:
            self.timer.mod_ns(self._now_ns() + ticks * NS_PER_S)

    def interrupt(self) -> None:
        self.is_ = 1
        self.update()

    def update(self) -> None:
        """RTCINTR = RIS & IMSC."""
        self.irq.set(1 if self.is_ & self.im else 0)

    # -- registers --------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        if 0xFE0 <= offset < 0x1000:
            return PL031_ID[(offset - 0xFE0) >> 2]
        if offset == RTC_DR:
            return self.get_count()
        value = {RTC_MR: self.mr, RTC_IMSC: self.im, RTC_RIS: self.is_, RTC_LR: self.lr,
                 RTC_CR: 1, RTC_MIS: self.is_ & self.im}.get(offset)
        if value is not None:
            return value
        if offset == RTC_ICR:
            log.guest_error(f"pl031: read of write-only register at offset 0x{offset:x} (RTCICR)")
        else:
            log.guest_error(f"pl031_read: Bad offset 0x{offset:x} ({REGS.name(offset)})")
        return 0

    def write(self, offset: int, value: int, size: int) -> None:
        if offset == RTC_LR:
            self.tick_offset += value - self.get_count()
            self.set_alarm()
        elif offset == RTC_MR:
            self.mr = value
            self.set_alarm()
        elif offset == RTC_IMSC:
            self.im = value & 1
            self.update()
        elif offset == RTC_ICR:
            # DDI0224B: writing 1 to bit 0 clears the interrupt (QEMU 7.2: is &= ~value)
            self.is_ &= ~value & 0xFFFFFFFF
            self.update()
        elif offset == RTC_CR:
            pass  # always enabled
        elif offset in (RTC_DR, RTC_MIS, RTC_RIS):
            log.guest_error(f"pl031: write to read-only register at offset 0x{offset:x} "
                            f"({REGS.name(offset)})")
        else:
            log.guest_error(f"pl031_write: Bad offset 0x{offset:x} ({REGS.name(offset)})")

    # -- state ------------------------------------------------------------------------------------
    def save_state(self) -> dict[str, Any]:
        return VMSTATE.save(self)

    def load_state(self, state: dict[str, Any]) -> None:
        VMSTATE.load(self, state)
        if self.timer is not None:
            self.set_alarm()
        self.update()


def fdt_add_pl031(tree: Any, base: int, size: int = MMIO_SIZE, *, spi: int = 2,
                  clock_phandle: int = 0x8000) -> Any:
    """Write the ``pl031@BASE`` node as QEMU 7.2's virt does (create_rtc)."""
    import fdt

    node = fdt.Node(f"pl031@{base:x}")
    node.append(fdt.PropStrings("clock-names", "apb_pclk"))
    node.append(fdt.PropWords("clocks", clock_phandle))
    node.append(fdt.PropWords("interrupts", 0, spi, 4))
    node.append(fdt.PropWords("reg", base >> 32, base & 0xFFFFFFFF, size >> 32, size & 0xFFFFFFFF))
    node.append(fdt.PropStrings("compatible", "arm,pl031", "arm,primecell"))
    tree.add_item(node)
    return node
