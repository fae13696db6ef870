"""PL031 RTC at the MMIO level: the date it counts, the load register, the match
interrupt on a main-loop timer, state and device tree; compared with QEMU 7.2."""
from __future__ import annotations

import io
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

from pyqemu.hw.rtc.pl031 import PL031, fdt_add_pl031
from pyqemu.system import runstate as rs
from pyqemu.system.main_loop import ClockType, MainLoop
from pyqemu.util import log

BASE = 0x09010000
DR, MR, LR, CR, IMSC, RIS, MIS, ICR = range(0, 0x20, 4)
NS = 1_000_000_000


@pytest.fixture
def vm_loop():
    """A main loop whose virtual clock advances only by instructions (icount shift 0)."""
    loop = MainLoop(rs.VMRunState())
    loop.configure_icount(0, sleep=False)
    loop.clocks.enable()
    yield loop
    loop.close()


def advance(loop: MainLoop, seconds: float) -> None:
    loop.icount_account(int(seconds * NS))
    loop.run_timers()


def test_counts_host_utc_seconds():
    b = Bench()
    b.add(PL031(), BASE, irqs=1)
    assert abs(b.readl(BASE + DR) - int(time.time())) <= 1
    assert b.readl(BASE + CR) == 1 and b.readl(BASE + LR) == 0
    b.destroy()


def test_load_register_and_match_interrupt_on_virtual_clock(vm_loop):
    b = Bench()
    dev = PL031(clock=ClockType.VIRTUAL, base=1_000_000, loop=vm_loop)
    irq = b.add(dev, BASE, irqs=1)
    assert b.readl(BASE + DR) == 1_000_000
    advance(vm_loop, 2.5)
    assert b.readl(BASE + DR) == 1_000_002
    b.writel(BASE + LR, 5000)              # guest sets the date
    assert b.readl(BASE + DR) == 5000 and b.readl(BASE + LR) == 0
    b.writel(BASE + MR, 5003)
    b.writel(BASE + IMSC, 1)
    advance(vm_loop, 2)
    assert irq[0] == 0 and b.readl(BASE + RIS) == 0
    advance(vm_loop, 1)
    assert irq[0] == 1 and b.readl(BASE + RIS) == 1 and b.readl(BASE + MIS) == 1
    b.writel(BASE + ICR, 0)                # bit 0 clear: no effect
    assert irq[0] == 1
    b.writel(BASE + ICR, 1)
    assert irq[0] == 0 and b.readl(BASE + RIS) == 0
    b.writel(BASE + MR, b.readl(BASE + DR))    # a match now fires at once
    assert irq[0] == 1
    b.writel(BASE + IMSC, 0)
    assert irq[0] == 0 and b.readl(BASE + RIS) == 1 and b.readl(BASE + MIS) == 0
    b.destroy()


def test_counter_wraps_at_32_bits(vm_loop):
    b = Bench()
    b.add(PL031(clock=ClockType.VIRTUAL, base=0, loop=vm_loop), BASE, irqs=1)
    b.writel(BASE + LR, 0xFFFFFFFF)
    advance(vm_loop, 1)
    assert b.readl(BASE + DR) == 0
    b.destroy()


def test_bad_accesses_logged(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(log, "_out", out)
    log.set_mask("guest_errors")
    try:
        b = Bench()
        b.add(PL031(), BASE, irqs=1)
        assert b.readl(BASE + ICR) == 0
        b.writel(BASE + DR, 1)
        assert b.readl(BASE + 0x20) == 0
        b.writel(BASE + 0x800, 1)
    finally:
        log.set_mask("")
    text = out.getvalue()
    assert "read of write-only register at offset 0x1c" in text
    assert "write to read-only register at offset 0x0 (RTCDR)" in text
    assert "pl031_read: Bad offset 0x20" in text and "pl031_write: Bad offset 0x800" in text


def test_state_round_trip(vm_loop):
    b = Bench()
    dev = PL031(clock=ClockType.VIRTUAL, base=777, loop=vm_loop)
    b.add(dev, BASE, irqs=1)
    b.writel(BASE + MR, 12345)
    b.writel(BASE + IMSC, 1)
    other = PL031(clock=ClockType.VIRTUAL, base=0, loop=vm_loop)
    b2 = Bench()
    b2.add(other, BASE, irqs=1)
    other.load_state(dev.save_state())
    assert b2.readl(BASE + DR) == 777 and b2.readl(BASE + MR) == 12345
    assert b2.readl(BASE + IMSC) == 1
    b.destroy()
    b2.destroy()


def test_fdt_node_matches_qemu_virt():
    node = fdt_add_pl031(fdt.FDT(), BASE)
    assert node_summary(node) == node_summary(spec_node("/pl031@9010000"))


def test_registers_and_alarm_match_qemu(vm_loop):
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    b = Bench()
    dev = PL031(clock=ClockType.VIRTUAL, loop=vm_loop)
    irq = b.add(dev, BASE, irqs=1)
    with QemuQtest(["-rtc", "clock=vm"]) as q:
        q.intercept_gic()
        assert abs(q.readl(BASE + DR) - b.readl(BASE + DR)) <= 1   # both start from host UTC
        for off in (*range(4, 0x20, 4), *range(0xFE0, 0x1000, 4)):
            assert b.readl(BASE + off) == q.readl(BASE + off), hex(off)
        for dev_ in (b, q):
            dev_.writel(BASE + LR, 100)
            dev_.writel(BASE + MR, 101)
            dev_.writel(BASE + IMSC, 1)
        assert (b.readl(BASE + RIS), irq[0]) == (q.readl(BASE + RIS), q.spi.get(2, 0)) == (0, 0)
        # QEMU's virtual clock runs in real time here (no qtest accelerator): wait for the match
        deadline = time.monotonic() + 5
        while not q.readl(BASE + RIS) and time.monotonic() < deadline:
            time.sleep(0.05)
        advance(vm_loop, 1)
        assert (b.readl(BASE + DR), b.readl(BASE + RIS), irq[0]) == (
            q.readl(BASE + DR), q.readl(BASE + RIS), q.spi.get(2, 0)) == (101, 1, 1)
        for value, level in ((0, 1), (1, 0)):
            b.writel(BASE + ICR, value)
            q.writel(BASE + ICR, value)
            assert irq[0] == q.spi.get(2, 0) == level
    b.destroy()


def test_info_qtree_matches_qemu():
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    b = Bench()
    dev = PL031()
    b.add(dev, BASE, irqs=1)
    assert qtree_device(dev) == qemu_qtree_device("pl031")
    b.destroy()
