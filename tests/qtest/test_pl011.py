"""PL011 UART at the MMIO level: registers, FIFO, interrupts, chardev, state, device tree;
compared with QEMU 7.2's pl011 on -M virt where a guest could tell the difference."""
from __future__ import annotations

import fcntl
import io
import os
import time

import fdt
import pytest
from conftest import unavailable
from qtest_support import (
    Bench,
    QemuQtest,
    node_summary,
    qemu_available,
    qemu_qtree_device,
    qtree_device,
    spec_node,
)

from pyqemu.chardev.char import CHR_EVENT_BREAK, FdChardev
from pyqemu.chardev.ringbuf import RingbufChardev
from pyqemu.hw.char.pl011 import PL011, fdt_add_pl011
from pyqemu.migration.vmstate import StateLoadError
from pyqemu.util import log

BASE = 0x09000000
DR, RSR, FR, IBRD, FBRD, LCR_H, CR, IFLS, IMSC, RIS, MIS, ICR, DMACR = (
    0x00, 0x04, 0x18, 0x24, 0x28, 0x2C, 0x30, 0x34, 0x38, 0x3C, 0x40, 0x44, 0x48)
RXIM, TXIM = 1 << 4, 1 << 5
F_SETPIPE_SZ = 1031


@pytest.fixture
def uart():
    bench = Bench()
    dev = PL011()
    chr = RingbufChardev("ser0", {"size": 4096})
    dev.attach_chardev(chr)
    irq = bench.add(dev, BASE, irqs=6)
    yield bench, dev, chr, irq
    bench.destroy()


@pytest.fixture
def guest_log(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(log, "_out", out)
    log.set_mask("guest_errors,unimp")
    yield out
    log.set_mask("")


def test_transmit_reaches_chardev_and_raises_tx(uart):
    b, _dev, chr, irq = uart
    for ch in b"hi\n":
        b.writew(BASE + DR, ch)            # Linux uses 16-bit accesses
    assert chr.read(100) == b"hi\n"
    assert irq[0] == 0                     # masked
    b.writel(BASE + IMSC, TXIM)
    assert irq.levels == [1, 0, 1, 0, 0, 0]   # combined and TX outputs
    assert b.readl(BASE + MIS) == TXIM
    b.writel(BASE + ICR, TXIM)
    assert irq.levels == [0] * 6
    assert b.readl(BASE + FR) & 0x80       # TXFE: transmission is immediate


def test_receive_fifo_flags_and_rx_interrupt(uart):
    b, dev, chr, irq = uart
    b.writel(BASE + IMSC, RXIM)
    assert dev.can_receive() == 1          # FIFOs disabled: one holding register
    chr.be_write(b"a")
    assert irq[0] == 1 and irq[1] == 1
    assert b.readl(BASE + FR) & 0x50 == 0x40   # RXFF set, RXFE clear
    assert b.readl(BASE + DR) == ord("a")
    assert irq[0] == 0 and b.readl(BASE + FR) & 0x10
    b.writel(BASE + LCR_H, 0x70)           # 8 bits, FIFOs on
    assert dev.can_receive() == 16
    chr.be_write(bytes(range(0x30, 0x30 + 16)))
    assert b.readl(BASE + FR) & 0x40       # full
    assert dev.can_receive() == 0
    assert bytes(b.readb(BASE + DR) for _ in range(16)) == bytes(range(0x30, 0x40))
    assert b.readl(BASE + FR) & 0x10 and irq[0] == 0
    chr.be_write(b"xy")
    assert dev.can_receive() == 14
    b.writel(BASE + LCR_H, 0x60)           # turning the FIFOs off flushes them
    assert dev.can_receive() == 1


def test_break_sets_error_bits(uart):
    b, dev, _chr, _irq = uart
    dev.event(CHR_EVENT_BREAK)
    assert b.readl(BASE + DR) == 0x400     # BE in the data register
    assert b.readl(BASE + RSR) == 0x4
    b.writel(BASE + RSR, 0)                # UARTECR clears
    assert b.readl(BASE + RSR) == 0


def test_bad_offsets_are_logged_not_raised(uart, guest_log):
    b, _dev, _chr, _irq = uart
    assert b.readl(BASE + 0x4C) == 0
    assert b.readl(BASE + ICR) == 0        # write-only
    b.writel(BASE + RIS, 1)                # read-only
    b.writel(BASE + DMACR, 3)
    text = guest_log.getvalue()
    assert "pl011_read: Bad offset 0x4c" in text
    assert "UARTICR" in text and "UARTRIS" in text
    assert "pl011: DMA not implemented" in text


def test_output_to_stalled_peer_never_blocks(uart):
    b = Bench()
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, 4096)          # a small pipe fills after 4 KiB
    try:
        chr = FdChardev("stalled", {})
        chr.set_fds(None, w)
        dev = PL011()
        dev.attach_chardev(chr)
        b.add(dev, BASE, irqs=1)
        t = time.monotonic()
        for _ in range(50_000):            # many pipe buffers' worth, nobody reading
            b.writel(BASE + DR, 0x55)
        assert time.monotonic() - t < 20
        assert os.read(r, 10) == b"U" * 10
    finally:
        os.close(r)
        os.close(w)
        b.destroy()


def test_state_round_trip_and_rejects_bad_state(uart):
    b, dev, chr, _irq = uart
    b.writel(BASE + LCR_H, 0x70)
    b.writel(BASE + IBRD, 13)
    chr.be_write(b"qrs")
    state = dev.save_state()
    b2 = Bench()
    other = PL011()
    b2.add(other, BASE, irqs=6)
    other.load_state(state)
    assert b2.readl(BASE + IBRD) == 13
    assert bytes(b2.readl(BASE + DR) for _ in range(3)) == b"qrs"
    bad = dev.save_state()
    bad["fields"]["read_pos"] = 16
    with pytest.raises(StateLoadError):
        other.load_state(bad)
    bad = dev.save_state()
    bad["version"] = 1
    with pytest.raises(StateLoadError):
        other.load_state(bad)
    b2.destroy()


def test_unknown_chardev_is_a_clear_error():
    from pyqemu.qom.object import QOMError
    dev = PL011()
    dev.chardev = "nosuch"
    with pytest.raises(QOMError, match="can't find value 'nosuch'"):
        dev.qdev_realize(Bench().bus)


def test_chardev_in_use_is_refused(uart):
    from pyqemu.qom.object import QOMError
    _b, _dev, chr, _irq = uart
    second = PL011()
    second.attach_chardev(chr)
    with pytest.raises(QOMError, match="can't take value 'ser0', it's in use"):
        second.qdev_realize(Bench().bus)


def test_fdt_node_matches_qemu_virt():
    tree = fdt.FDT()
    node = fdt_add_pl011(tree, BASE)
    assert node_summary(node) == node_summary(spec_node("/pl011@9000000"))


# Registers, IDs and access sizes as QEMU answers them, after the same accesses.
SEQUENCE = [
    *[("readl", o) for o in (*range(0, 0x50, 4), *range(0xFE0, 0x1000, 4))],
    ("readw", FR), ("readb", FR + 1), ("readb", 0xFE1), ("readw", CR + 2),
    ("writel", IBRD, 0x1A), ("writew", FBRD, 0x3), ("writeb", LCR_H, 0x70), ("writel", CR, 0x301),
    ("writel", IFLS, 0x9), ("writel", IMSC, 0x7F0), ("writel", DMACR, 0x4),
    ("writel", DR, 0x41), ("writel", FR, 0), ("writel", 0x4C, 0xFF),
    *[("readl", o) for o in range(0, 0x50, 4)],
    ("writel", ICR, 0x20), ("readl", RIS), ("readl", MIS), ("writeb", DR + 1, 0x42),
    ("readl", RIS), ("writel", ICR, 0x7FF), ("readl", RIS), ("readw", DR), ("readl", FR),
]


def test_registers_match_qemu(uart):
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    b, _dev, _chr, irq = uart
    seen_high = False
    with QemuQtest() as q:
        q.intercept_gic()
        for op, off, *val in SEQUENCE:
            mine = getattr(b, op)(BASE + off, *val)
            theirs = getattr(q, op)(BASE + off, *val)
            assert mine == theirs, (op, hex(off), val)
            assert irq[0] == q.spi.get(1, 0), (op, hex(off), val)   # virt: SPI 1
            seen_high |= irq[0] == 1
    assert seen_high


def test_info_qtree_matches_qemu():
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    b = Bench()
    dev = PL011()
    dev.attach_chardev(RingbufChardev("serial0", {}))
    b.add(dev, BASE, irqs=1)
    # clocks are not modelled: QEMU's 'clock-in "clk"' line is the one difference
    theirs = [x for x in qemu_qtree_device("pl011") if not x.startswith("clock-in")]
    assert qtree_device(dev) == theirs
    b.destroy()


def feed(dev: PL011, data: bytes) -> bytes:
    """Deliver input as a real chardev does: no more than can_receive() at a time."""
    n = dev.can_receive()
    dev.receive(data[:n])
    return data[n:]


def test_receive_matches_qemu(uart, tmp_path):
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    import socket
    b, dev, _chr, irq = uart
    path = str(tmp_path / "serial.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    with QemuQtest(["-chardev", f"socket,id=s0,path={path}"], serial="chardev:s0") as q:
        conn, _ = server.accept()
        q.intercept_gic()

        def both(op: str, off: int, *val: int) -> None:
            assert getattr(b, op)(BASE + off, *val) == getattr(q, op)(BASE + off, *val), (op, hex(off))
            assert irq[0] == q.spi.get(1, 0), (op, hex(off))

        def wait_qemu(mask: int, want: int) -> None:   # input reaches QEMU asynchronously
            deadline = time.monotonic() + 5
            while q.readl(BASE + FR) & mask != want and time.monotonic() < deadline:
                time.sleep(0.005)

        both("writel", IMSC, RXIM)
        pending = b"ab"                         # FIFOs off: one character at a time
        conn.sendall(pending)
        pending = feed(dev, pending)
        wait_qemu(0x10, 0)
        for last in (False, True):
            both("readl", FR)
            both("readl", RIS)
            both("readl", MIS)
            both("readw", DR)                   # reading lets the next character in
            pending = feed(dev, pending)
            wait_qemu(0x10, 0x10 if last else 0)
        both("readl", FR)
        both("writel", LCR_H, 0x70)             # FIFOs on: 16 characters
        data = bytes(range(0x41, 0x51))
        conn.sendall(data)
        feed(dev, data)
        wait_qemu(0x40, 0x40)
        both("readl", FR)
        for _ in range(16):
            both("readb", DR)
            both("readl", FR)
            both("readl", RIS)
        conn.close()
    server.close()
