"""GICv3 distributor and redistributors at the MMIO level, compared with QEMU 7.2's
``-M virt,gic-version=3,its=off -smp 2`` through qtest (reset values, write masks, RAZ/WI
registers, 64-bit registers); and the CPU interface's interrupt flows (acknowledge, priority
drop, preemption, EOImode, SGIs between CPUs) driven as Linux's irq-gic-v3 driver does."""
from __future__ import annotations

import pytest
from conftest import unavailable
from qtest_support import Bench, QemuQtest, qemu_available

from pyqemu.hw.intc.arm_gicv3 import ARMGICv3

GICD, GICR = 0x08000000, 0x080A0000
SGI = 0x10000
NUM_IRQ = 288
SPURIOUS = 1023
ONES = 0xFFFFFFFF
QEMU_ARGS = ["-M", "virt,gic-version=3,its=off", "-smp", "2", "-cpu", "cortex-a57"]


def make_gic(num_cpu: int = 2) -> tuple[Bench, ARMGICv3, object]:
    bench = Bench()
    gic = ARMGICv3()
    gic.num_cpu, gic.num_irq, gic.has_lpi = num_cpu, NUM_IRQ, True
    gic.cpu_affinity = list(range(num_cpu))
    probe = bench.add(gic, GICD, GICR, irqs=4 * num_cpu)
    return bench, gic, probe


# -- register file against QEMU -------------------------------------------------------------------
RESET_READS = [
    GICD + 0x0, GICD + 0x4, GICD + 0x8, GICD + 0xC, GICD + 0x10, GICD + 0x80, GICD + 0x84,
    GICD + 0x100, GICD + 0x104, GICD + 0x120, GICD + 0x124, GICD + 0x200, GICD + 0x300,
    GICD + 0x400, GICD + 0x420, GICD + 0x820, GICD + 0xC00, GICD + 0xC04, GICD + 0xC08,
    GICD + 0xD04, GICD + 0xE00, GICD + 0xF00, GICD + 0x6100, GICD + 0x6104, GICD + 0x68F8,
    *(GICD + 0xFFD0 + 4 * i for i in range(12)),
    *(GICR + off for off in (0x0, 0x4, 0x8, 0xC, 0x10, 0x14, 0x70, 0x78)),
    *(GICR + 0xFFD0 + 4 * i for i in range(12)),
    *(GICR + SGI + off for off in (0x80, 0x100, 0x200, 0x300, 0x400, 0x41C, 0xC00, 0xC04, 0xD00, 0xE00)),
    GICR + 0x20008, GICR + 0x2000C, GICR + 0x20014,
]

# (op, address, value): "w" writel, "wb" writeb, "wq" writeq; "r"/"rb"/"rw"/"rq" reads compared
SCRIPT: list[tuple[str, int, int]] = [
    ("w", GICD + 0x0, ONES), ("r", GICD + 0x0, 0), ("w", GICD + 0x0, 0), ("r", GICD + 0x0, 0),
    ("w", GICD + 0x84, ONES), ("r", GICD + 0x84, 0), ("w", GICD + 0x80, ONES), ("r", GICD + 0x80, 0),
    ("w", GICD + 0x420, ONES), ("r", GICD + 0x420, 0), ("w", GICD + 0x400, ONES), ("r", GICD + 0x400, 0),
    ("w", GICD + 0xC08, ONES), ("r", GICD + 0xC08, 0), ("w", GICD + 0xC00, 0), ("r", GICD + 0xC00, 0),
    ("w", GICD + 0x124, ONES), ("r", GICD + 0x124, 0), ("w", GICD + 0x120, ONES), ("r", GICD + 0x120, 0),
    ("w", GICD + 0x100, ONES), ("r", GICD + 0x100, 0), ("w", GICD + 0x1A0, 0xFFFF), ("r", GICD + 0x120, 0),
    ("w", GICD + 0xD04, ONES), ("r", GICD + 0xD04, 0), ("w", GICD + 0xE08, ONES), ("r", GICD + 0xE08, 0),
    ("w", GICD + 0x800, ONES), ("r", GICD + 0x820, 0),
    ("wb", GICD + 0x421, 0x55), ("rb", GICD + 0x421, 0), ("r", GICD + 0x420, 0), ("rw", GICD + 0x420, 0),
    ("rb", GICD + 0x4, 0), ("rw", GICD + 0x4, 0),
    ("w", GICD + 0x204, 0x3), ("r", GICD + 0x204, 0), ("r", GICD + 0x284, 0), ("w", GICD + 0x284, 0x1),
    ("r", GICD + 0x204, 0), ("w", GICD + 0x304, 0x3), ("r", GICD + 0x304, 0), ("r", GICD + 0x384, 0),
    ("w", GICD + 0x40, 40), ("r", GICD + 0x204, 0),
    ("w", GICD + 0x6104, 0x1), ("w", GICD + 0x6100, 0x80000001), ("rq", GICD + 0x6100, 0),
    ("wq", GICD + 0x6108, 0x123456789A), ("rq", GICD + 0x6108, 0), ("r", GICD + 0x610C, 0),
    ("w", GICD + 0x6000, ONES), ("r", GICD + 0x6000, 0),
    # redistributor RD_base
    ("w", GICR + 0x0, ONES), ("r", GICR + 0x0, 0), ("w", GICR + 0x0, 0), ("r", GICR + 0x0, 0),
    ("w", GICR + 0x14, ONES), ("r", GICR + 0x14, 0), ("w", GICR + 0x14, 0), ("r", GICR + 0x14, 0),
    ("w", GICR + 0x14, 2), ("r", GICR + 0x14, 0), ("w", GICR + 0x14, 4), ("r", GICR + 0x14, 0),
    ("rq", GICR + 0x8, 0), ("rq", GICR + 0x20008, 0), ("w", GICR + 0x8, ONES), ("r", GICR + 0x8, 0),
    ("w", GICR + 0x70, ONES), ("r", GICR + 0x70, 0), ("wq", GICR + 0x78, 0x12345678AB),
    ("rq", GICR + 0x78, 0),
    # redistributor SGI_base
    ("w", GICR + SGI + 0x80, ONES), ("r", GICR + SGI + 0x80, 0),
    ("w", GICR + SGI + 0x100, ONES), ("r", GICR + SGI + 0x100, 0), ("w", GICR + SGI + 0x180, 0xFF00),
    ("r", GICR + SGI + 0x100, 0), ("r", GICR + SGI + 0x180, 0),
    ("w", GICR + SGI + 0xC00, 0), ("r", GICR + SGI + 0xC00, 0),
    ("w", GICR + SGI + 0xC04, ONES), ("r", GICR + SGI + 0xC04, 0),
    ("w", GICR + SGI + 0xC04, 0x55555555), ("r", GICR + SGI + 0xC04, 0),
    ("w", GICR + SGI + 0x400, ONES), ("r", GICR + SGI + 0x400, 0),
    ("wb", GICR + SGI + 0x405, 0x77), ("r", GICR + SGI + 0x404, 0), ("rb", GICR + SGI + 0x405, 0),
    ("w", GICR + SGI + 0x200, 0x10003), ("r", GICR + SGI + 0x200, 0), ("w", GICR + SGI + 0x280, 0x1),
    ("r", GICR + SGI + 0x200, 0), ("w", GICR + SGI + 0x300, 0x10003), ("r", GICR + SGI + 0x300, 0),
    ("w", GICR + SGI + 0x380, 0x2), ("r", GICR + SGI + 0x380, 0),
    ("w", GICR + SGI + 0xD00, ONES), ("r", GICR + SGI + 0xD00, 0),
    ("r", GICR + 0x20000 + SGI + 0x100, 0), ("r", GICR + 0x20000 + SGI + 0x400, 0),
]


def run_script(dev: object) -> list[int]:
    out = [dev.readl(a) for a in RESET_READS]   # type: ignore[attr-defined]
    ops = {"w": "writel", "wb": "writeb", "wq": "writeq", "r": "readl", "rb": "readb", "rw": "readw",
           "rq": "readq"}
    for op, addr, value in SCRIPT:
        fn = getattr(dev, ops[op])
        if op.startswith("w"):
            fn(addr, value)
        else:
            out.append(fn(addr))
    return out


@pytest.fixture(scope="module")
def qemu_results() -> list[int]:
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    with QemuQtest(QEMU_ARGS) as q:
        return run_script(q)


def test_register_file_matches_qemu(qemu_results: list[int]) -> None:
    b, _gic, _ = make_gic()
    ours = run_script(b)
    n = len(RESET_READS)
    assert ours[:n] == qemu_results[:n], "reset values"
    assert ours[n:] == qemu_results[n:]


def test_gicr_typer_last_and_processor_number() -> None:
    b, _gic, _ = make_gic(num_cpu=3)
    typers = [b.readq(GICR + 0x20000 * i + 0x8) for i in range(3)]
    assert [(t >> 8) & 0xFFFF for t in typers] == [0, 1, 2]
    assert [(t >> 4) & 1 for t in typers] == [0, 0, 1]
    assert [t >> 32 for t in typers] == [0, 1, 2]


# -- the CPU interface -------------------------------------------------------------------------------
def linux_init(b: Bench, gic: ARMGICv3) -> None:
    """What Linux 6.1's gic_dist_init / gic_cpu_init / gic_cpu_sys_reg_init do (two CPUs)."""
    b.writel(GICD + 0x0, 0)
    for i in range(32, NUM_IRQ, 32):
        b.writel(GICD + 0x80 + i // 8, ONES)          # group 1
    for i in range(32, NUM_IRQ, 16):
        b.writel(GICD + 0xC00 + i // 4, 0)                  # level
    for i in range(32, NUM_IRQ, 4):
        b.writel(GICD + 0x400 + i, 0xA0A0A0A0)
    b.writel(GICD + 0x0, 0x13)                              # ARE_NS | EnableGrp1A | EnableGrp1
    for i in range(32, NUM_IRQ):
        b.writeq(GICD + 0x6000 + 8 * i, 0)                  # to CPU 0
    for cpu in range(gic.num_cpu):
        rd = GICR + 0x20000 * cpu
        b.writel(rd + 0x14, 0)                              # wake up
        b.writel(rd + SGI + 0x80, ONES)
        b.writel(rd + SGI + 0x380, ONES)
        b.writel(rd + SGI + 0x180, 0xFFFF0000)
        b.writel(rd + SGI + 0x100, 0x0000FFFF)
        for i in range(0, 32, 4):
            b.writel(rd + SGI + 0x400 + i, 0xA0A0A0A0)
        c = gic.cpuif(cpu)
        c.write("ICC_PMR_EL1", 0xF0)
        c.write("ICC_BPR1_EL1", 0)
        c.write("ICC_CTLR_EL1", 0)                          # EOImode 0
        c.write("ICC_AP1R0_EL1", 0)
        c.write("ICC_IGRPEN1_EL1", 1)


def test_level_spi_acknowledge_and_eoi() -> None:
    b, gic, probe = make_gic()
    linux_init(b, gic)
    c = gic.cpuif(0)
    b.writel(GICD + 0x104, 1 << 1)                          # enable INTID 33
    gic.gpio_in(33 - 32).raise_()
    assert probe[0] == 1 and probe[2] == 0 and probe[1] == 0   # CPU 0 IRQ, not FIQ, not CPU 1
    assert c.read("ICC_HPPIR1_EL1") == 33
    assert c.read("ICC_IAR1_EL1") == 33
    assert probe[0] == 0 and c.read("ICC_RPR_EL1") == 0xA0
    assert c.read("ICC_AP1R0_EL1") == 1 << (0xA0 >> 3)
    assert c.read("ICC_IAR1_EL1") == SPURIOUS
    c.write("ICC_EOIR1_EL1", 33)
    assert c.read("ICC_RPR_EL1") == 0xFF and probe[0] == 1   # the line is still high
    gic.gpio_in(33 - 32).lower()
    assert probe[0] == 0 and c.read("ICC_IAR1_EL1") == SPURIOUS


def test_irouter_moves_an_spi_to_cpu1() -> None:
    b, gic, probe = make_gic()
    linux_init(b, gic)
    b.writel(GICD + 0x108, 1 << 8)                          # INTID 72
    b.writeq(GICD + 0x6000 + 8 * 72, 1)                     # Aff0 = 1
    gic.gpio_in(72 - 32).raise_()
    assert probe[0] == 0 and probe[1] == 1
    assert gic.cpuif(1).read("ICC_IAR1_EL1") == 72


def test_timer_ppi_priority_preemption_and_pmr() -> None:
    b, gic, probe = make_gic()
    linux_init(b, gic)
    c = gic.cpuif(0)
    rd = GICR
    b.writel(rd + SGI + 0x100, 1 << 27 | 1 << 30)
    b.writeb(rd + SGI + 0x400 + 30, 0x80)
    gic.gpio_in(NUM_IRQ - 32 + 27).raise_()                 # CPU 0's virtual timer, 0xA0
    assert c.read("ICC_IAR1_EL1") == 27
    gic.gpio_in(NUM_IRQ - 32 + 30).raise_()                 # 0x80 preempts 0xA0
    assert probe[0] == 1
    assert c.read("ICC_IAR1_EL1") == 30 and c.read("ICC_RPR_EL1") == 0x80
    c.write("ICC_EOIR1_EL1", 30)
    assert c.read("ICC_RPR_EL1") == 0xA0
    gic.gpio_in(NUM_IRQ - 32 + 27).lower()
    c.write("ICC_EOIR1_EL1", 27)
    assert probe[0] == 1                                    # 30's line is still high
    c.write("ICC_PMR_EL1", 0x80)                            # masks priority 0x80
    assert probe[0] == 0 and c.read("ICC_PMR_EL1") == 0x80
    c.write("ICC_PMR_EL1", 0xFF)
    assert c.read("ICC_PMR_EL1") == 0xF8 and probe[0] == 1   # 5 priority bits
    c.write("ICC_IGRPEN1_EL1", 0)
    assert probe[0] == 0 and c.read("ICC_HPPIR1_EL1") == SPURIOUS


def test_eoimode_split_and_dir() -> None:
    b, gic, _probe = make_gic()
    linux_init(b, gic)
    c = gic.cpuif(0)
    c.write("ICC_CTLR_EL1", 2)
    b.writel(GICD + 0x104, 1 << 2)
    b.writel(GICD + 0xC08, 2 << 4)                          # INTID 34 edge
    gic.gpio_in(2).pulse()
    assert c.read("ICC_IAR1_EL1") == 34
    c.write("ICC_EOIR1_EL1", 34)
    assert c.read("ICC_RPR_EL1") == 0xFF and b.readl(GICD + 0x304) == 1 << 2   # still active
    c.write("ICC_DIR_EL1", 34)
    assert b.readl(GICD + 0x304) == 0


def test_sgi_between_cpus() -> None:
    b, gic, probe = make_gic()
    linux_init(b, gic)
    gic.cpuif(0).write("ICC_SGI1R_EL1", 5 << 24 | 1 << 1)     # SGI 5 to Aff0 = 1
    assert probe[1] == 1 and probe[0] == 0
    assert b.readl(GICR + 0x20000 + SGI + 0x200) == 1 << 5
    assert gic.cpuif(1).read("ICC_IAR1_EL1") == 5
    gic.cpuif(1).write("ICC_EOIR1_EL1", 5)
    gic.cpuif(1).write("ICC_SGI1R_EL1", 1 << 40 | 3 << 24)     # IRM: every other CPU
    assert probe[0] == 1 and probe[1] == 0
    assert gic.cpuif(0).read("ICC_IAR1_EL1") == 3
    b.writel(GICR + SGI + 0x80, ONES & ~(1 << 6))      # SGI 6 in group 0 on CPU 0
    gic.cpuif(1).write("ICC_SGI1R_EL1", 6 << 24 | 1)         # a group 1 SGI does not reach it
    assert b.readl(GICR + SGI + 0x200) & (1 << 6) == 0


def test_group0_signals_fiq() -> None:
    b, gic, probe = make_gic()
    linux_init(b, gic)
    c = gic.cpuif(0)
    b.writel(GICD + 0x0, 0x13)
    b.writel(GICD + 0x84, ONES & ~(1 << 3))           # INTID 35 in group 0
    b.writel(GICD + 0x104, 1 << 3)
    c.write("ICC_IGRPEN0_EL1", 1)
    gic.gpio_in(3).raise_()
    assert probe[2] == 1 and probe[0] == 0                  # FIQ of CPU 0 (outputs: IRQs, FIQs, ...)
    assert c.read("ICC_IAR1_EL1") == SPURIOUS and c.read("ICC_IAR0_EL1") == 35


def test_cpuif_reset_values() -> None:
    _b, gic, _ = make_gic()
    c = gic.cpuif(0)
    assert c.read("ICC_SRE_EL1") == 7
    assert c.read("ICC_CTLR_EL1") == 0x8000 | 1 << 11 | 4 << 8   # A3V, 24-bit IDs, 5 priority bits
    assert (c.read("ICC_BPR0_EL1"), c.read("ICC_BPR1_EL1")) == (2, 3)
    assert c.read("ICC_RPR_EL1") == 0xFF and c.read("ICC_IAR1_EL1") == SPURIOUS
