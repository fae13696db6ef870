"""PL061 GPIO at the MMIO level (masked data, edge and level interrupts, pulls), the
gpio-key power button that system_powerdown presses, and their device-tree nodes;
compared with QEMU 7.2's -M virt."""
from __future__ import annotations

import io
import time

import fdt
import pytest
from conftest import unavailable
from qtest_support import (
    Bench,
    IrqProbe,
    QemuQtest,
    node_summary,
    qemu_available,
    qemu_qtree_device,
    qtree_device,
    spec_node,
)

from pyqemu.hw.gpio.gpio_key import GpioKey, fdt_add_gpio_keys, wire_power_button
from pyqemu.hw.gpio.pl061 import PL061, create_virt_pl061, fdt_add_pl061
from pyqemu.migration.vmstate import StateLoadError
from pyqemu.qom.object import QOMError
from pyqemu.system import runstate as rs
from pyqemu.system.main_loop import MainLoop
from pyqemu.util import log

BASE = 0x09030000
DIR, IS, IBE, IEV, IE, RIS, MIS, IC, AFSEL = range(0x400, 0x424, 4)
NS = 1_000_000_000


@pytest.fixture
def vm_loop():
    loop = MainLoop(rs.VMRunState())
    loop.configure_icount(0, sleep=False)
    loop.clocks.enable()
    yield loop
    loop.close()


def virt_pl061() -> PL061:
    return create_virt_pl061()


@pytest.fixture
def gpio():
    b = Bench()
    dev = virt_pl061()
    irq = b.add(dev, BASE, irqs=1)
    pins = IrqProbe(8)
    for i in range(8):
        dev.out[i].connect(pins.lines[i])
    yield b, dev, irq, pins
    b.destroy()


def data_addr(mask: int) -> int:
    return BASE + (mask << 2)


def test_masked_data_and_outputs(gpio):
    b, dev, _irq, pins = gpio
    b.writel(BASE + DIR, 0x0F)
    b.writel(data_addr(0xFF), 0xA5)           # only output bits change
    assert b.readl(data_addr(0xFF)) == 0x05
    assert pins.levels == [1, 0, 1, 0, 0, 0, 0, 0]
    b.writel(data_addr(0x01), 0x00)           # the address masks the write
    assert b.readl(data_addr(0xFF)) == 0x04 and pins[0] == 0
    assert b.readl(data_addr(0x0C)) == 0x04   # and the read
    dev.gpio_in(5).raise_()                    # an input pin
    assert b.readl(data_addr(0xF0)) == 0x20
    dev.gpio_in(1).raise_()                    # outputs ignore external levels
    assert b.readl(data_addr(0x02)) == 0


def test_edge_and_level_interrupts(gpio):
    b, dev, irq, _pins = gpio
    b.writel(BASE + IEV, 0x10)                 # line 4: rising edge; line 5: falling
    b.writel(BASE + IE, 0x30)
    dev.gpio_in(4).raise_()
    assert irq[0] == 1 and b.readl(BASE + RIS) == 0x10 and b.readl(BASE + MIS) == 0x10
    b.writel(BASE + IC, 0x10)
    assert irq[0] == 0
    dev.gpio_in(4).lower()                     # falling edge on a rising-edge line: nothing
    assert irq[0] == 0
    dev.gpio_in(5).raise_()
    dev.gpio_in(5).lower()                     # falling edge
    assert b.readl(BASE + RIS) == 0x20 and irq[0] == 1
    b.writel(BASE + IC, 0xFF)
    b.writel(BASE + IBE, 0x40)                 # line 6: both edges
    b.writel(BASE + IE, 0x40)
    dev.gpio_in(6).raise_()
    assert irq[0] == 1
    b.writel(BASE + IC, 0x40)
    dev.gpio_in(6).lower()
    assert irq[0] == 1
    b.writel(BASE + IC, 0x40)
    b.writel(BASE + IS, 0x80)                  # line 7: level, active low (IEV=0)
    b.writel(BASE + IE, 0x80)
    assert irq[0] == 1                         # low now, so pending at once
    dev.gpio_in(7).raise_()
    b.writel(BASE + IC, 0x80)
    assert irq[0] == 0
    dev.gpio_in(7).lower()
    assert irq[0] == 1


def test_pull_properties_and_errors():
    b = Bench()
    dev = PL061()                              # default: pulled up
    pins = IrqProbe(8)
    dev.qdev_realize(b.bus)
    for i in range(8):
        dev.out[i].connect(pins.lines[i])
    dev.reset()
    assert pins.levels == [1] * 8
    for up, down, msg in ((0x100, 0, "pullups property must be between 0 and 0xff"),
                          (0, 0x1FF, "pulldowns property must be between 0 and 0xff"),
                          (0x01, 0x01, "no bit may be set both in pullups and pulldowns")):
        bad = PL061()
        bad.pullups, bad.pulldowns = up, down
        with pytest.raises(QOMError, match=msg):
            bad.qdev_realize(b.bus)
    b.destroy()


def test_bad_offsets_logged(gpio, monkeypatch):
    b, _dev, _irq, _pins = gpio
    out = io.StringIO()
    monkeypatch.setattr(log, "_out", out)
    log.set_mask("guest_errors")
    try:
        assert b.readl(BASE + IC) == 0
        assert b.readl(BASE + 0x500) == 0      # Luminary-only register
        b.writel(BASE + RIS, 1)
    finally:
        log.set_mask("")
    text = out.getvalue()
    assert "pl061_read: Bad offset 41c (GPIOIC)" in text
    assert "pl061_read: Bad offset 500" in text and "pl061_write: Bad offset 414 (GPIORIS)" in text


def test_power_button_pulses_line_3(gpio, vm_loop):
    b, dev, irq, _pins = gpio
    runstate = rs.VMRunState()
    key = wire_power_button(dev, runstate.add_powerdown_notifier, loop=vm_loop)
    assert isinstance(key, GpioKey)
    b.writel(BASE + IEV, 0x08)                 # what Linux's gpio-keys asks: both edges on line 3
    b.writel(BASE + IBE, 0x08)
    b.writel(BASE + IE, 0x08)
    runstate.powerdown_request()
    assert runstate.main_loop_should_exit() == (False, 0)   # runs the power-down notifiers
    assert irq[0] == 1 and b.readl(data_addr(0x08)) == 0x08
    b.writel(BASE + IC, 0x08)
    vm_loop.icount_account(99 * 1_000_000)
    vm_loop.run_timers()
    assert b.readl(data_addr(0x08)) == 0x08 and irq[0] == 0
    vm_loop.icount_account(2 * 1_000_000)     # released 100 ms after the press
    vm_loop.run_timers()
    assert b.readl(data_addr(0x08)) == 0 and irq[0] == 1


def test_key_state_round_trip(gpio, vm_loop):
    _b, dev, _irq, _pins = gpio
    key = wire_power_button(dev, lambda cb: None, loop=vm_loop)
    key.press()
    state = key.save_state()
    assert state["fields"]["release_ns"] == 100 * 1_000_000
    b2 = Bench()
    dev2 = virt_pl061()
    b2.add(dev2, BASE, irqs=1)
    key2 = wire_power_button(dev2, lambda cb: None, loop=vm_loop)
    key2.load_state(state)
    assert b2.readl(data_addr(0x08)) == 0x08   # pressed after the load
    vm_loop.icount_account(100 * 1_000_000)
    vm_loop.run_timers()
    assert b2.readl(data_addr(0x08)) == 0      # and released on time
    b2.destroy()


def test_state_round_trip(gpio):
    b, dev, _irq, _pins = gpio
    b.writel(BASE + DIR, 0xF0)
    b.writel(data_addr(0xFF), 0x90)
    b.writel(BASE + IE, 0x03)
    other = virt_pl061()
    b2 = Bench()
    b2.add(other, BASE, irqs=1)
    other.load_state(dev.save_state())
    assert b2.readl(data_addr(0xFF)) == 0x90 and b2.readl(BASE + IE) == 3
    bad = dev.save_state()
    bad["fields"]["dir"] = "x"
    with pytest.raises(StateLoadError):
        other.load_state(bad)
    b2.destroy()


def test_fdt_nodes_match_qemu_virt():
    tree = fdt.FDT()
    assert node_summary(fdt_add_pl061(tree, BASE)) == node_summary(spec_node("/pl061@9030000"))
    assert node_summary(fdt_add_gpio_keys(tree)) == node_summary(spec_node("/gpio-keys"))


def test_registers_and_key_match_qemu(gpio, vm_loop):
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    b, dev, irq, _pins = gpio
    key = wire_power_button(dev, lambda cb: None, loop=vm_loop)
    with QemuQtest() as q:
        q.intercept_gic()

        def both(op: str, off: int, *val: int) -> None:
            assert getattr(b, op)(BASE + off, *val) == getattr(q, op)(BASE + off, *val), (op, hex(off))
            assert irq[0] == q.spi.get(7, 0), (op, hex(off), val)

        def pin(line: int, level: int) -> None:   # drive an input pin on both
            dev.gpio_in(line).set(level)
            q.cmd(f"set_irq_in /machine/unattached/device[6] unnamed-gpio-in {line} {level}")
            assert irq[0] == q.spi.get(7, 0), (line, level)

        for off in (*range(0x400, 0x424, 4), *range(0xFD0, 0x1000, 4), 0x3FC, 0x424, 0x500):
            both("readl", off)
        both("writel", DIR, 0x13)
        both("writel", 0x3FC, 0xFF)
        both("writeb", 0x004, 0)
        both("readw", 0x3FC)
        both("writel", AFSEL, 0x3C)
        both("writel", IEV, 0x20)
        both("writel", IBE, 0x40)
        both("writel", IS, 0x80)
        both("writel", IE, 0xE8)
        for line, level in ((5, 1), (6, 1), (5, 0), (7, 1), (2, 1), (0, 1)):
            pin(line, level)
            for off in (RIS, MIS, 0x3FC):
                both("readl", off)
            both("writel", IC, 0xFF)
        # the power key: pressed on both, released 100 ms of virtual time later
        key.press()
        q.cmd("set_irq_in /machine/unattached/device[7] unnamed-gpio-in 0 1")
        both("readl", 0x3FC)
        both("readl", RIS)
        deadline = time.monotonic() + 5
        while q.readl(BASE + 0x20) and time.monotonic() < deadline:
            time.sleep(0.02)
        vm_loop.icount_account(100 * 1_000_000)
        vm_loop.run_timers()
        both("readl", 0x3FC)
        both("readl", RIS)


def test_info_qtree_matches_qemu(gpio, vm_loop):
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    _b, dev, _irq, _pins = gpio
    key = wire_power_button(dev, lambda cb: None, loop=vm_loop)
    assert qtree_device(dev) == qemu_qtree_device("pl061")
    assert qtree_device(key) == qemu_qtree_device("gpio-key")
