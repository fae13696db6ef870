"""ARM PrimeCell PL011 UART (QEMU ``hw/char/pl011.c``, type ``pl011``).

Interface:
  MMIO   one 4 KiB bank of registers (below); 8, 16 and 32-bit accesses, decoded by
         word (``offset >> 2``) as QEMU does, so a byte read of 0x19 returns UARTFR's low byte.
  IRQs   six sysbus outputs, as QEMU: 0 = UARTINTR (combined), 1 = RX, 2 = TX, 3 = RT,
         4 = MS (modem status), 5 = E (errors). ``virt`` wires output 0 only.
  Props  ``chardev`` (the backend's id; or ``attach_chardev`` before realize),
         ``migrate-clk`` (bool, kept for command-line compatibility).
  Spec   ARM DDI 0183 (PL011 TRM r1p5), behaviour of QEMU 7.2.

Behaviour matches QEMU 7.2, including its simplifications: transmission is
immediate (TXFE stays set, the TX interrupt is raised by every UARTDR write),
the RX interrupt triggers at one character whatever UARTIFLS says (Linux reads
the FIFO only on interrupts), receive timeout (RT) and modem-status interrupts
are never raised, and UARTCR's enable and loopback bits are stored but not
acted on, and a system reset leaves the registers alone (7.2 has no reset
handler). Output to the chardev never blocks the vCPU (the chardev queues it).
"""
from __future__ import annotations

from typing import Any

from pyqemu.chardev.char import CHR_EVENT_BREAK, CharBackend, Chardev, ChardevError, chardev_find
from pyqemu.hw.core.register import Reg, RegisterTable
from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps
from pyqemu.migration.vmstate import Field, StateDescription, StateLoadError
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError
from pyqemu.util import log

MMIO_SIZE = 0x1000
FIFO_DEPTH = 16

# UARTFR bits
FR_TXFE, FR_RXFF, FR_TXFF, FR_RXFE, FR_BUSY = 0x80, 0x40, 0x20, 0x10, 0x08
# interrupt bits (UARTIMSC/RIS/MIS/ICR)
INT_OE, INT_BE, INT_PE, INT_FE = 1 << 10, 1 << 9, 1 << 8, 1 << 7
INT_RT, INT_TX, INT_RX = 1 << 6, 1 << 5, 1 << 4
INT_DSR, INT_DCD, INT_CTS, INT_RI = 1 << 3, 1 << 2, 1 << 1, 1 << 0
INT_E = INT_OE | INT_BE | INT_PE | INT_FE
INT_MS = INT_RI | INT_DSR | INT_DCD | INT_CTS
# what each IRQ output reports, in output order
IRQ_MASKS = (INT_E | INT_MS | INT_RT | INT_TX | INT_RX, INT_RX, INT_TX, INT_RT, INT_MS, INT_E)

CR_RESET = 0x300   # TXE | RXE
IFLS_RESET = 0x12  # both FIFO levels at 1/2
LCR_FEN = 0x10   # FIFOs enabled
LCR_BRK = 0x01   # send break
DR_BE = 0x400    # break error, as the FIFO stores it

# PeriphID0-3, PCellID0-3 (QEMU pl011_id_arm)
PL011_ID = (0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

REGS = RegisterTable("pl011", [
    Reg("UARTDR", 0x000, 0, "rw"),
    Reg("UARTRSR", 0x004, 0, "rw"),        # UARTECR on write
    Reg("UARTFR", 0x018, FR_TXFE | FR_RXFE, "ro"),
    Reg("UARTILPR", 0x020, 0, "rw"),
    Reg("UARTIBRD", 0x024, 0, "rw"),
    Reg("UARTFBRD", 0x028, 0, "rw"),
    Reg("UARTLCR_H", 0x02C, 0, "rw"),
    Reg("UARTCR", 0x030, CR_RESET, "rw"),
    Reg("UARTIFLS", 0x034, IFLS_RESET, "rw"),
    Reg("UARTIMSC", 0x038, 0, "rw"),
    Reg("UARTRIS", 0x03C, 0, "ro"),
    Reg("UARTMIS", 0x040, 0, "ro"),
    Reg("UARTICR", 0x044, 0, "wo"),
    Reg("UARTDMACR", 0x048, 0, "rw"),
    *(Reg(f"UARTPeriphID{i}", 0xFE0 + 4 * i, PL011_ID[i], "ro") for i in range(4)),
    *(Reg(f"UARTPCellID{i}", 0xFF0 + 4 * i, PL011_ID[4 + i], "ro") for i in range(4)),
])


def _check_fifo(values: dict[str, Any]) -> None:
    if not 0 <= values["read_pos"] < FIFO_DEPTH or not 0 <= values["read_count"] <= FIFO_DEPTH:
        raise StateLoadError("pl011: FIFO position out of range")


VMSTATE = StateDescription("pl011", 2, (
    Field("readbuff", "uint32"), Field("flags", "uint32"), Field("lcr", "uint32"),
    Field("rsr", "uint32"), Field("cr", "uint32"), Field("dmacr", "uint32"),
    Field("int_enabled", "uint32"), Field("int_level", "uint32"),
    Field("read_fifo", "uint32", FIFO_DEPTH), Field("ilpr", "uint32"), Field("ibrd", "uint32"),
    Field("fbrd", "uint32"), Field("ifl", "uint32"), Field("read_pos", "int32"),
    Field("read_count", "int32"), Field("read_trigger", "int32"),
), minimum_version=2, validate=_check_fifo)


class PL011(SysBusDevice):
    """The PL011 UART; see the module docstring."""

    TYPE = "pl011"
    DESC = "ARM PL011 UART"
    chardev = Prop("chr")
    migrate_clk = Prop("bool", True, name="migrate-clk")

    def __init__(self) -> None:
        super().__init__()
        self._chr_obj: Chardev | None = None
        self.chr: CharBackend | None = None
        self.iomem = MemoryRegion.mmio_region("pl011", MMIO_SIZE, MemoryRegionOps(
            self.read, self.write, valid=AccessConstraints(1, 4), impl=AccessConstraints(1, 4)),
            owner=self)
        self.init_mmio(self.iomem)
        self.irqs = [self.init_irq() for _ in IRQ_MASKS]
        self.read_fifo = [0] * FIFO_DEPTH
        self._init_regs()

    # -- lifecycle ------------------------------------------------------------------------------
    def attach_chardev(self, chr: Chardev) -> None:
        """Use ``chr`` as the backend (boards pass serial_hd(n) this way)."""
        self._chr_obj = chr
        self.chardev = chr.label

    def realize(self) -> None:
        chr = self._chr_obj
        if chr is None and self.chardev is not None:
            chr = chardev_find(self.chardev)
            if chr is None:
                raise QOMError(f"Property 'pl011.chardev' can't find value '{self.chardev}'")
        if chr is not None:
            self.connect_chardev(chr)

    def connect_chardev(self, chr: Chardev) -> None:
        """Become ``chr``'s frontend (at realize, or when the board's serial chardev comes later)."""
        try:
            self.chr = CharBackend(chr)
        except ChardevError:
            raise QOMError(f"Property 'pl011.chardev' can't take value '{chr.id}', "
                           "it's in use") from None
        self._chr_obj = chr
        self.chr.set_handlers(self.can_receive, self.receive, self.event)

    def _init_regs(self) -> None:
        self.readbuff = 0
        self.lcr = self.rsr = self.dmacr = 0
        self.int_enabled = self.int_level = 0
        self.ilpr = self.ibrd = self.fbrd = 0
        self.cr = CR_RESET
        self.ifl = IFLS_RESET
        self.flags = FR_TXFE | FR_RXFE
        self.read_pos = self.read_count = 0
        self.read_trigger = 1

    def reset(self) -> None:
        # QEMU 7.2's pl011 has no reset handler: a system reset keeps the registers and the
        # FIFO (firmware reprograms the UART anyway). Registers start at reset values (init).
        self.update()

    # -- interrupts -----------------------------------------------------------------------------
    def update(self) -> None:
        """Drive every IRQ output from int_level & int_enabled."""
        flags = self.int_level & self.int_enabled
        for irq, mask in zip(self.irqs, IRQ_MASKS, strict=True):
            irq.set(1 if flags & mask else 0)

    # -- registers ------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        word = offset >> 2
        if word == 0:                       # UARTDR
            self.flags &= ~FR_RXFF
            c = self.read_fifo[self.read_pos]
            if self.read_count > 0:
                self.read_count -= 1
                self.read_pos = (self.read_pos + 1) % FIFO_DEPTH
            if self.read_count == 0:
                self.flags |= FR_RXFE
            if self.read_count == self.read_trigger - 1:
                self.int_level &= ~INT_RX
            self.rsr = c >> 8
            self.update()
            if self.chr is not None:
                self.chr.accept_input()
            return c
        if word == 6:
            return self.flags
        if word == 1:
            return self.rsr
        if 0x3F8 <= word < 0x400:
            return PL011_ID[word - 0x3F8]
        value = {8: self.ilpr, 9: self.ibrd, 10: self.fbrd, 11: self.lcr, 12: self.cr, 13: self.ifl,
                 14: self.int_enabled, 15: self.int_level, 16: self.int_level & self.int_enabled,
                 18: self.dmacr}.get(word)
        if value is None:
            log.guest_error(f"pl011_read: Bad offset 0x{offset:x} ({REGS.name(offset)})")
            return 0
        return value

    def write(self, offset: int, value: int, size: int) -> None:
        word = offset >> 2
        if word == 0:                       # UARTDR: transmit at once
            if self.chr is not None:
                self.chr.write(bytes((value & 0xFF,)))
            self.int_level |= INT_TX
            self.update()
        elif word == 1:                     # UARTECR: any write clears the errors
            self.rsr = 0
        elif word == 6:                     # UARTFR: writes ignored
            pass
        elif word == 8:
            self.ilpr = value
        elif word == 9:
            self.ibrd = value
        elif word == 10:
            self.fbrd = value
        elif word == 11:                    # UARTLCR_H
            if (self.lcr ^ value) & LCR_FEN:  # enabling or disabling the FIFOs flushes them
                self.read_count = self.read_pos = 0
            self.lcr = value
            self._set_read_trigger()
        elif word == 12:
            self.cr = value
        elif word == 13:
            self.ifl = value
            self._set_read_trigger()
        elif word == 14:
            self.int_enabled = value
            self.update()
        elif word == 17:                    # UARTICR
            self.int_level &= ~value
            self.update()
        elif word == 18:
            self.dmacr = value
            if value & 3:
                log.unimp("pl011: DMA not implemented")
        else:
            log.guest_error(f"pl011_write: Bad offset 0x{offset:x} ({REGS.name(offset)})")

    def _set_read_trigger(self) -> None:
        # The TRM triggers RX at the IFLS level; QEMU (and so Linux on it) uses one character.
        self.read_trigger = 1

    # -- chardev side ---------------------------------------------------------------------------
    def fifo_capacity(self) -> int:
        return (FIFO_DEPTH if self.lcr & LCR_FEN else 1) - self.read_count

    def can_receive(self) -> int:
        return max(self.fifo_capacity(), 0)

    def receive(self, data: bytes) -> None:
        for b in data:
            if self.fifo_capacity() <= 0:
                break   # chardevs offer no more than can_receive(); more would be an overrun
            self.put_fifo(b)

    def event(self, ev: int) -> None:
        if ev == CHR_EVENT_BREAK:
            self.put_fifo(DR_BE)

    def put_fifo(self, value: int) -> None:
        slot = (self.read_pos + self.read_count) % FIFO_DEPTH
        self.read_fifo[slot] = value
        self.read_count += 1
        self.flags &= ~FR_RXFE
        if not self.lcr & LCR_FEN or self.read_count == FIFO_DEPTH:
            self.flags |= FR_RXFF
        if self.read_count == self.read_trigger:
            self.int_level |= INT_RX
            self.update()

    # -- state ----------------------------------------------------------------------------------
    def save_state(self) -> dict[str, Any]:
        return VMSTATE.save(self)

    def load_state(self, state: dict[str, Any]) -> None:
        VMSTATE.load(self, state)
        self.update()


def fdt_add_pl011(tree: Any, base: int, size: int = MMIO_SIZE, *, spi: int = 1,
                  clock_phandle: int = 0x8000, size_cells: int = 2) -> Any:
    """Write the ``pl011@BASE`` node as QEMU 7.2's virt does (create_uart); returns the node.

    ``tree`` is an ``fdt.FDT``; the interrupt is SPI ``spi``, level-high.
    """
    import fdt

    node = fdt.Node(f"pl011@{base:x}")
    node.append(fdt.PropStrings("clock-names", "uartclk", "apb_pclk"))
    node.append(fdt.PropWords("clocks", clock_phandle, clock_phandle))
    node.append(fdt.PropWords("interrupts", 0, spi, 4))
    node.append(fdt.PropWords("reg", *_cells(base, size_cells), *_cells(size, size_cells)))
    node.append(fdt.PropStrings("compatible", "arm,pl011", "arm,primecell"))
    tree.add_item(node)
    return node


def _cells(value: int, n: int) -> list[int]:
    return [(value >> (32 * (n - 1 - i))) & 0xFFFFFFFF for i in range(n)]
