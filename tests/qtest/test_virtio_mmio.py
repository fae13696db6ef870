"""Empty virtio-mmio transports: what a driver's probe reads (magic, version, device id,
vendor) and that writes are ignored, as on QEMU 7.2's -M virt (all 32 transports)."""
from __future__ import annotations

import pytest
from conftest import unavailable
from qtest_support import Bench, QemuQtest, qemu_available

from pyqemu.hw.virtio.virtio_mmio import VirtioMMIO

BASE = 0x0A000000


def make(force_legacy: bool = True) -> tuple[Bench, VirtioMMIO, object]:
    b = Bench()
    dev = VirtioMMIO()
    dev.force_legacy = force_legacy
    probe = b.add(dev, BASE, irqs=1)
    return b, dev, probe


def test_probe_reads_of_an_empty_transport() -> None:
    b, dev, probe = make()
    assert b.readl(BASE + 0x000) == 0x74726976               # "virt"
    assert b.readl(BASE + 0x004) == 1                        # legacy (force-legacy)
    assert b.readl(BASE + 0x008) == 0                        # no device: nobody binds
    assert b.readl(BASE + 0x00C) == 0x554D4551               # "QEMU"
    assert [b.readl(BASE + o) for o in range(0x10, 0x200, 4)] == [0] * ((0x200 - 0x10) // 4)
    assert probe[0] == 0
    assert dev.bus is not None and dev.bus.bus_name == "virtio-mmio-bus.0"


def test_modern_version_when_not_forced_legacy() -> None:
    b, _, _ = make(force_legacy=False)
    assert b.readl(BASE + 0x004) == 2


def test_writes_are_ignored() -> None:
    b, _, probe = make()
    for off in (0x000, 0x014, 0x028, 0x030, 0x040, 0x050, 0x064, 0x070, 0x100):
        b.writel(BASE + off, 0xFFFFFFFF)
    assert b.readl(BASE + 0x000) == 0x74726976 and b.readl(BASE + 0x070) == 0
    assert b.readl(BASE + 0x040) == 0 and probe[0] == 0


def _reads(dev: object) -> list[int]:
    out = []
    for base in (BASE, BASE + 31 * 0x200):
        out += [dev.readl(base + o) for o in (0x0, 0x4, 0x8, 0xC, 0x10, 0x34, 0x44, 0x60, 0x70, 0xFC, 0x100)]
        out += [dev.readb(base + o) for o in (0x0, 0x1, 0xC)]
        out += [dev.readw(base + o) for o in (0x0, 0x2)]
        out.append(int.from_bytes(dev.memread(base, 8), "little"))
    return out


def test_same_answers_as_qemu() -> None:
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    b = Bench()
    for i in (0, 31):
        b.add(VirtioMMIO(), BASE + i * 0x200, irqs=1)
    with QemuQtest() as q:
        expected = _reads(q)
    assert _reads(b) == expected


@pytest.mark.parametrize("n", [0, 31])
def test_virt_board_has_32_transports_on_their_spis(n: int) -> None:
    from pyqemu.hw.core.machine import create_machine
    from pyqemu.system.machines import find_machine

    _, machine = create_machine(find_machine("virt", "aarch64"), 128 << 20, {})
    board = machine.board
    assert len(board.virtio) == 32
    space = machine.address_space_memory
    assert space.load(BASE + n * 0x200, 4) == 0x74726976
    assert space.load(BASE + n * 0x200 + 8, 4) == 0
    # transport n raises SPI 16 + n (INTID 48 + n): its line is the GIC's input 16 + n
    dev = board.virtio[n]
    assert dev.irq_out(0).target is board.gic.gpio_in(16 + n)
