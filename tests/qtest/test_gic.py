"""GICv2 at the MMIO level: programmed as Linux's irq-gic driver does, IRQ/FIQ outputs,
IAR/EOIR flows, priorities and preemption, SGIs between CPUs; register behaviour compared
with QEMU 7.2's -M virt GIC driven through qtest."""
from __future__ import annotations

import io

import pytest
from conftest import unavailable
from qtest_support import Bench, QemuQtest, qemu_available

from pyqemu.hw.intc.arm_gic import ARMGIC
from pyqemu.util import log

GICD, GICC = 0x08000000, 0x08010000
NUM_IRQ = 288
SPURIOUS = 1023


def make_gic(num_cpu: int = 1) -> tuple[Bench, ARMGIC, object]:
    bench = Bench()
    gic = ARMGIC()
    gic.revision, gic.num_cpu, gic.num_irq = 2, num_cpu, NUM_IRQ
    probe = bench.add(gic, GICD, GICC, irqs=4 * num_cpu)
    return bench, gic, probe


def spi_line(gic: ARMGIC, intid: int):   # noqa: ANN201
    return gic.gpio_in(intid - 32)


def ppi_line(gic: ARMGIC, cpu: int, intid: int):  # noqa: ANN201
    return gic.gpio_in(NUM_IRQ - 32 + 32 * cpu + intid)


def linux_init(b: Bench, nr_spis: int = 256) -> None:
    """What gic_dist_init/gic_cpu_init of Linux 6.1 write (one CPU)."""
    b.writel(GICD + 0x000, 0)                              # GICD_CTLR off
    for i in range(32, 32 + nr_spis, 16):
        b.writel(GICD + 0xC00 + i // 4, 0)                 # SPIs level-triggered
    for i in range(32, 32 + nr_spis, 4):
        b.writel(GICD + 0x400 + i, 0xA0A0A0A0)             # default priority
    for i in range(32, 32 + nr_spis, 32):
        b.writel(GICD + 0x380 + i // 8, 0xFFFFFFFF)        # deactivate
        b.writel(GICD + 0x180 + i // 8, 0xFFFFFFFF)        # disable
    b.writel(GICD + 0x000, 1)
    b.writel(GICD + 0x380, 0xFFFFFFFF)                     # banked SGI/PPI state
    b.writel(GICD + 0x180, 0xFFFF0000)
    b.writel(GICD + 0x100, 0x0000FFFF)
    for i in range(0, 32, 4):
        b.writel(GICD + 0x400 + i, 0xA0A0A0A0)
    for n in range(4):
        b.writel(GICC + 0xD0 + 4 * n, 0)
    b.writel(GICC + 0x04, 0xF0)                            # GICC_PMR
    b.writel(GICC + 0x00, 1)                               # GICC_CTLR: EnableGrp0


def enable(b: Bench, intid: int) -> None:
    b.writel(GICD + 0x100 + (intid // 32) * 4, 1 << (intid % 32))


def test_reset_values() -> None:
    b, gic, probe = make_gic()
    assert b.readl(GICD + 0x004) == 0x8                   # 288 IRQs, 1 CPU, no security
    assert b.readl(GICD + 0x008) == 0x43B
    assert b.readl(GICD + 0x100) == 0xFFFF                # SGIs always enabled
    assert b.readl(GICD + 0xC00) == 0xAAAAAAAA            # SGIs edge-triggered
    assert b.readl(GICD + 0x800) == 0                     # ITARGETSR RAZ on one CPU
    assert b.readl(GICC + 0x0C) == SPURIOUS
    assert b.readl(GICC + 0x14) == 0xFF                   # idle running priority
    assert b.readl(GICC + 0x1C) == 1                      # ABPR
    assert b.readl(GICC + 0xFC) == 0x2043B
    assert [b.readl(GICD + 0xFD0 + 4 * i) for i in range(12)] == [
        0x04, 0, 0, 0, 0x90, 0xB4, 0x2B, 0, 0x0D, 0xF0, 0x05, 0xB1]
    assert probe.levels == [0, 0, 0, 0]


def test_level_spi_iar_eoir_flow() -> None:
    b, gic, probe = make_gic()
    linux_init(b)
    enable(b, 33)
    line = spi_line(gic, 33)
    line.raise_()
    assert probe[0] == 1 and probe[1] == 0                # IRQ, not FIQ
    assert b.readl(GICC + 0x18) == 33                     # HPPIR
    assert b.readl(GICC + 0x0C) == 33                     # IAR activates it
    assert probe[0] == 0                                  # active: no longer signalled
    assert b.readl(GICC + 0x14) == 0xA0                   # running priority
    assert b.readl(GICD + 0x304) == 1 << 1                # ISACTIVER1: INTID 33
    assert b.readl(GICC + 0x0C) == SPURIOUS               # nothing else of higher priority
    b.writel(GICC + 0x10, 33)                             # EOIR
    assert b.readl(GICC + 0x14) == 0xFF
    assert probe[0] == 1                                  # line still high: pending again
    line.lower()
    assert probe[0] == 0 and b.readl(GICC + 0x0C) == SPURIOUS


def test_edge_spi_latches_pulse() -> None:
    b, gic, probe = make_gic()
    linux_init(b)
    b.writel(GICD + 0xC00 + 79 // 4 // 4 * 4, 2 << ((79 % 16) * 2))   # INTID 79 edge
    enable(b, 79)
    spi_line(gic, 79).pulse()
    assert probe[0] == 1 and b.readl(GICD + 0x208) == 1 << (79 - 64)
    assert b.readl(GICC + 0x0C) == 79
    b.writel(GICC + 0x10, 79)
    assert probe[0] == 0 and b.readl(GICC + 0x0C) == SPURIOUS


def test_disabled_level_irq_is_not_signalled_until_enabled() -> None:
    b, gic, probe = make_gic()
    linux_init(b)
    spi_line(gic, 40).raise_()
    assert probe[0] == 0
    enable(b, 40)
    assert probe[0] == 1
    b.writel(GICD + 0x184, 1 << 8)                        # ICENABLER
    assert probe[0] == 0


def test_priority_mask_and_preemption() -> None:
    b, gic, probe = make_gic()
    linux_init(b)
    b.writeb(GICD + 0x400 + 34, 0x80)                     # byte writes of one priority
    b.writeb(GICD + 0x400 + 35, 0x40)
    assert b.readl(GICD + 0x420) == 0xA0 | 0xA0 << 8 | 0x80 << 16 | 0x40 << 24
    for intid in (34, 35, 36):
        enable(b, intid)
    spi_line(gic, 34).raise_()
    assert b.readl(GICC + 0x0C) == 34 and b.readl(GICC + 0x14) == 0x80
    spi_line(gic, 36).raise_()                            # 0xA0: does not preempt 0x80
    assert probe[0] == 0
    spi_line(gic, 35).raise_()                            # 0x40 preempts
    assert probe[0] == 1
    assert b.readl(GICC + 0x0C) == 35 and b.readl(GICC + 0x14) == 0x40
    # active priorities: preemption level = priority >> 1, 32 per APR
    assert [b.readl(GICC + 0xD0 + 4 * n) for n in range(4)] == [0, 1, 1, 0]
    spi_line(gic, 35).lower()
    b.writel(GICC + 0x10, 35)
    assert b.readl(GICC + 0x14) == 0x80 and probe[0] == 0
    spi_line(gic, 34).lower()
    b.writel(GICC + 0x10, 34)
    assert b.readl(GICC + 0x14) == 0xFF and probe[0] == 1   # now 36 gets through
    b.writel(GICC + 0x04, 0x80)                           # PMR: only priorities below 0x80
    assert probe[0] == 0 and b.readl(GICC + 0x18) == SPURIOUS


def test_group0_fiq_when_fiqen() -> None:
    b, gic, probe = make_gic()
    linux_init(b)
    b.writel(GICC + 0x00, 1 | 8)                          # EnableGrp0 | FIQEn
    enable(b, 50)
    spi_line(gic, 50).raise_()
    assert probe[1] == 1 and probe[0] == 0
    b.writel(GICD + 0x084, 1 << (50 - 32))                # IGROUPR1: group 1
    assert probe[1] == 0 and probe[0] == 0                # group 1 not enabled
    b.writel(GICD + 0x000, 3)
    b.writel(GICC + 0x00, 3 | 4 | 8)                      # both groups, AckCtl
    assert probe[0] == 1 and probe[1] == 0
    assert b.readl(GICC + 0x0C) == 50


def test_eoimode_split_priority_drop_and_deactivate() -> None:
    b, gic, probe = make_gic()
    linux_init(b)
    b.writel(GICC + 0x00, 1 | (1 << 9))                   # EOImode
    enable(b, 33)
    spi_line(gic, 33).raise_()
    assert b.readl(GICC + 0x0C) == 33
    b.writel(GICC + 0x10, 33)                             # priority drop only
    assert b.readl(GICC + 0x14) == 0xFF and b.readl(GICD + 0x304) == 2
    assert probe[0] == 0                                  # still active
    b.writel(GICC + 0x1000, 33)                           # GICC_DIR
    assert b.readl(GICD + 0x304) == 0 and probe[0] == 1


def test_sgis_between_cpus() -> None:
    b, gic, probe = make_gic(num_cpu=2)
    irq0, irq1 = 0, 1                                     # outputs: IRQ cpu0, IRQ cpu1, FIQ...
    assert b.readl(GICD + 0x004) == 0x28
    for cpu in (0, 1):
        gic.current_cpu = lambda cpu=cpu: cpu
        linux_init(b, nr_spis=32)
    gic.current_cpu = lambda: 0
    b.writel(GICD + 0xF00, (2 << 16) | 5)                 # SGI 5 to CPU 1 (target list)
    assert probe[irq1] == 1 and probe[irq0] == 0
    gic.current_cpu = lambda: 1
    assert b.readl(GICD + 0xF14) == 1 << 8                # CPENDSGIR: SGI 5 from CPU 0
    assert b.readl(GICC + 0x0C) == 5                      # source CPU 0 in bits [12:10]
    b.writel(GICC + 0x10, 5)
    assert probe[irq1] == 0
    b.writel(GICD + 0xF00, (1 << 24) | 3)                 # "all but self": CPU 1 -> CPU 0
    assert probe[irq0] == 1 and probe[irq1] == 0
    gic.current_cpu = lambda: 0
    assert b.readl(GICC + 0x0C) == (1 << 10) | 3
    b.writel(GICC + 0x10, (1 << 10) | 3)
    b.writel(GICD + 0xF00, (2 << 24) | 7)                 # self
    assert probe[irq0] == 1 and probe[irq1] == 0
    # ITARGETSR routes SPIs; byte-wide targets are per SPI
    assert b.readb(GICD + 0x800) == 1                     # private: the reading CPU
    b.writeb(GICD + 0x800 + 40, 2)
    assert b.readb(GICD + 0x800 + 40) == 2
    gic.current_cpu = lambda: 1
    enable(b, 40)
    spi_line(gic, 40).raise_()
    assert probe[irq1] == 1


def test_ppis_are_banked_per_cpu() -> None:
    b, gic, probe = make_gic(num_cpu=2)
    for cpu in (0, 1):
        gic.current_cpu = lambda cpu=cpu: cpu
        linux_init(b, nr_spis=32)
        enable(b, 27)
    ppi_line(gic, 1, 27).raise_()                         # CPU 1's virtual timer
    assert probe[1] == 1 and probe[0] == 0
    gic.current_cpu = lambda: 0
    assert b.readl(GICD + 0x200) & (1 << 27) == 0
    gic.current_cpu = lambda: 1
    assert b.readl(GICD + 0x200) & (1 << 27)
    assert b.readl(GICC + 0x0C) == 27


def test_bad_offsets_are_logged_not_raised() -> None:
    b, gic, _ = make_gic()
    out = io.StringIO()
    old = log._out
    log._out = out
    log.set_mask("guest_errors")
    try:
        assert b.readl(GICD + 0x40) == 0
        b.writel(GICD + 0x04, 1)
        assert b.readl(GICC + 0x40) == 0
        b.writeb(GICD + 0xF00, 1)                         # GICD_SGIR is 32-bit only
    finally:
        log._out = old
        log.set_mask("")
    text = out.getvalue()
    assert "gic_dist_readb: Bad offset 40" in text and "GICD_TYPER" in text
    assert "gic_cpu_read: Bad offset 40" in text and "GICD_SGIR" in text


def test_state_roundtrip() -> None:
    b, gic, probe = make_gic()
    linux_init(b)
    enable(b, 33)
    spi_line(gic, 33).raise_()
    state = gic.vmstate_save()
    b2, gic2, probe2 = make_gic()
    gic2.vmstate_load(state)
    assert probe2[0] == 1
    assert b2.readl(GICC + 0x0C) == 33


# -- against QEMU 7.2 ------------------------------------------------------------------------------
SCRIPT: list[tuple[str, int, int]] = [
    # (op, address, value) run on both; every read's result is compared
    ("w", GICD + 0x000, 0xFFFFFFFF), ("r", GICD + 0x000, 0),
    ("w", GICC + 0x000, 0xFFFFFFFF), ("r", GICC + 0x000, 0),
    ("w", GICC + 0x004, 0xFFFFFFFF), ("r", GICC + 0x004, 0),
    ("w", GICC + 0x008, 0xFFFFFFFF), ("r", GICC + 0x008, 0),
    ("w", GICC + 0x01C, 0xFFFFFFFF), ("r", GICC + 0x01C, 0),
    ("w", GICD + 0x420, 0xFFFFFFFF), ("r", GICD + 0x420, 0),
    ("w", GICD + 0x820, 0xFFFFFFFF), ("r", GICD + 0x820, 0),
    ("w", GICD + 0x080, 0x0000FFFF), ("r", GICD + 0x080, 0), ("w", GICD + 0x080, 0),
    ("w", GICD + 0x200, 0xFFFFFFFF), ("r", GICD + 0x200, 0),
    ("w", GICD + 0x280, 0xFFFFFFFF), ("r", GICD + 0x200, 0),
    ("w", GICD + 0xC00, 0), ("r", GICD + 0xC00, 0), ("w", GICD + 0xC04, 0xFFFFFFFF), ("r", GICD + 0xC04, 0),
    ("w", GICD + 0xC04, 0),
    ("rb", GICD + 0x001, 0), ("rw", GICD + 0x004, 0), ("rb", GICC + 0x0FD, 0), ("rw", GICC + 0x0FC, 0),
    # a flow: SGI 3 to self and SPI 32/34 pending through ISPENDR, then IAR/EOIR
    ("w", GICD + 0x000, 1), ("w", GICC + 0x000, 1), ("w", GICC + 0x008, 0),
    ("w", GICD + 0x420, 0x40302010), ("w", GICD + 0x400, 0x50000000), ("w", GICC + 0x004, 0xF0),
    ("w", GICD + 0xF00, 0x02000003), ("r", GICD + 0xF10, 0), ("r", GICD + 0x200, 0),
    ("w", GICD + 0x204, 0x5), ("w", GICD + 0x104, 0x7),
    ("r", GICC + 0x018, 0), ("r", GICC + 0x00C, 0), ("r", GICC + 0x014, 0), ("r", GICC + 0x0D0, 0),
    ("r", GICC + 0x00C, 0), ("r", GICC + 0x014, 0), ("r", GICC + 0x0D0, 0), ("r", GICD + 0x304, 0),
    ("r", GICC + 0x00C, 0), ("w", GICC + 0x010, 34), ("r", GICC + 0x014, 0), ("r", GICC + 0x00C, 0),
    ("w", GICC + 0x010, 32), ("r", GICC + 0x014, 0), ("r", GICD + 0x304, 0), ("r", GICD + 0x300, 0),
    ("r", GICC + 0x00C, 0), ("w", GICC + 0x010, 3), ("r", GICC + 0x014, 0), ("r", GICC + 0x00C, 0),
    ("w", GICC + 0x010, 1023), ("r", GICC + 0x0D0, 0), ("r", GICD + 0x300, 0),
    ("w", GICD + 0x304, 0x2), ("r", GICD + 0x304, 0), ("w", GICD + 0x384, 0x2), ("r", GICD + 0x304, 0),
]


def run_script(dev: object) -> list[int]:
    out = []
    for op, addr, value in SCRIPT:
        if op == "w":
            dev.writel(addr, value)   # type: ignore[attr-defined]
        elif op == "r":
            out.append(dev.readl(addr))   # type: ignore[attr-defined]
        elif op == "rb":
            out.append(dev.readb(addr))   # type: ignore[attr-defined]
        else:
            out.append(dev.readw(addr))   # type: ignore[attr-defined]
    return out


@pytest.fixture(scope="module")
def qemu_results() -> list[int]:
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    with QemuQtest() as q:
        return run_script(q)


def test_script_matches_qemu(qemu_results: list[int]) -> None:
    b, _gic, _ = make_gic()
    assert run_script(b) == qemu_results
