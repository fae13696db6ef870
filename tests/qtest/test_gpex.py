"""The gpex PCIe host bridge: ECAM configuration space of 00:00.0 (1b36:0008), all-ones for
absent functions, write masks, the PCI windows and INTx swizzling; compared with QEMU 7.2's
-M virt through qtest."""
from __future__ import annotations

import pytest
from conftest import unavailable
from qtest_support import Bench, QemuQtest, qemu_available

from pyqemu.hw.pci.gpex import GPEXHost

ECAM = 0x4010000000
PIO = 0x3EFF0000
MMIO = 0x10000000
MMIO_HIGH = 0x8000000000


def ecam(bus: int, dev: int, fn: int, reg: int = 0) -> int:
    return ECAM + (bus << 20 | dev << 15 | fn << 12 | reg)


@pytest.fixture
def virt():  # noqa: ANN201
    from pyqemu.hw.core.machine import create_machine
    from pyqemu.system.machines import find_machine

    _, machine = create_machine(find_machine("virt", "aarch64"), 128 << 20, {})
    machine.reset()
    return machine


def test_host_bridge_identity(virt) -> None:  # noqa: ANN001
    s = virt.address_space_memory
    assert s.load(ecam(0, 0, 0, 0x00), 4) == 0x00081B36          # 1b36:0008
    assert s.load(ecam(0, 0, 0, 0x08), 4) == 0x06000000          # class 0600 (host bridge), rev 0
    assert s.load(ecam(0, 0, 0, 0x0E), 1) == 0                   # header type 0, single function
    assert s.load(ecam(0, 0, 0, 0x2C), 4) == 0x11001AF4          # subsystem 1af4:1100
    assert s.load(ecam(0, 0, 0, 0x02), 2) == 0x0008


def test_linux_style_enumeration_finds_only_the_host_bridge(virt) -> None:  # noqa: ANN001
    s = virt.address_space_memory
    found = [(bus, dev) for bus in (0, 1, 255) for dev in range(32)
             if s.load(ecam(bus, dev, 0), 4) != 0xFFFFFFFF]
    assert found == [(0, 0)]
    assert s.load(ecam(0, 0, 1), 4) == 0xFFFFFFFF               # absent function
    assert s.load(ecam(0, 3, 0, 2), 2) == 0xFFFF
    assert s.load(ecam(0, 3, 0, 3), 1) == 0xFF
    assert s.load(ecam(0, 0, 0, 0x100), 4) == 0xFFFFFFFF         # beyond a conventional function
    s.store(ecam(0, 3, 0, 4), 0x7, 2)                            # ignored
    assert s.load(ecam(0, 3, 0, 4), 2) == 0xFFFF


def test_write_masks(virt) -> None:  # noqa: ANN001
    s = virt.address_space_memory
    got = []
    for reg in range(0, 0x40, 4):
        s.store(ecam(0, 0, 0, reg), 0xFFFFFFFF, 4)
        got.append(s.load(ecam(0, 0, 0, reg), 4))
    assert got[1] == 0x0507                  # COMMAND: IO, MEM, MASTER, SERR, INTX_DISABLE; STATUS 0
    assert got[3] == 0xFF                    # cache line size only
    assert got[15] == 0xFF                   # interrupt line; pin 0 (a host bridge has no INTx)
    assert got[4:10] == [0] * 6              # no BARs
    virt.reset()
    assert s.load(ecam(0, 0, 0, 4), 4) == 0


def test_windows_read_all_ones_where_nothing_is_mapped(virt) -> None:  # noqa: ANN001
    s = virt.address_space_memory
    assert s.load(PIO, 4) == 0xFFFFFFFF
    assert s.load(MMIO, 4) == 0xFFFFFFFF
    assert s.load(MMIO_HIGH, 8) == (1 << 64) - 1
    s.store(MMIO + 0x100, 0, 4)              # ignored, no abort


def test_intx_swizzle_to_spis() -> None:
    """(pin + slot) % 4, the map the DT's interrupt-map gives Linux (slot 1 INTA -> SPI 4)."""
    b = Bench()
    gpex = GPEXHost()
    probe = b.add(gpex, ECAM, MMIO, PIO, irqs=4)
    gpex.set_pci_irq(slot=1, pin=0, level=1)
    assert probe.levels == [0, 1, 0, 0]
    gpex.set_pci_irq(slot=1, pin=0, level=0)
    gpex.set_pci_irq(slot=3, pin=1, level=1)
    assert probe.levels == [1, 0, 0, 0]


def _config_dump(dev: object) -> list[int]:
    out = [dev.readl(ecam(0, 0, 0, r)) for r in range(0, 0x100, 4)]      # type: ignore[attr-defined]
    out += [dev.readw(ecam(0, 0, 0, 2)), dev.readb(ecam(0, 0, 0, 0xB))]  # type: ignore[attr-defined]
    out += [dev.readl(ecam(0, 1, 0)), dev.readl(ecam(0, 0, 0, 0x100)),   # type: ignore[attr-defined]
            dev.readw(ecam(1, 0, 0)), dev.readl(ecam(0, 0, 0, 0xFFC))]   # type: ignore[attr-defined]
    for r in range(0, 0x40, 4):
        dev.writel(ecam(0, 0, 0, r), 0xFFFFFFFF)                         # type: ignore[attr-defined]
        out.append(dev.readl(ecam(0, 0, 0, r)))                          # type: ignore[attr-defined]
    out += [dev.readl(PIO), dev.readl(MMIO + 0x1000), dev.readl(MMIO_HIGH)]  # type: ignore[attr-defined]
    return out


def test_same_config_space_as_qemu(virt) -> None:  # noqa: ANN001
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    with QemuQtest() as q:
        expected = _config_dump(q)
    b = Bench()
    b.space.destroy()
    b.space = virt.address_space_memory
    assert _config_dump(b) == expected
