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


# -- with a virtio-blk-device plugged in ------------------------------------------------------------

def _blk_bench(tmp_path, modern: bool):
    from virtio_qtest import Driver, make_bench, new_loop, open_blk
    path = str(tmp_path / "d.raw")
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    loop = new_loop()
    blk = open_blk(path, "raw", loop)
    b, t, dev, probe = make_bench(blk, modern=modern)
    return Driver(b, loop, modern), dev, probe, blk, loop


# A register sequence a driver (or a confused one) might do; every access is (op, offset, value).
_LEGACY_SEQ = [
    ("w", 0x70, 0), ("w", 0x70, 1), ("w", 0x70, 3), ("w", 0x24, 1), ("w", 0x20, 0x10),
    ("w", 0x24, 0), ("w", 0x20, 0x30000254), ("w", 0x28, 0x1000), ("w", 0x30, 0), ("r", 0x34),
    ("w", 0x38, 64), ("w", 0x3C, 0x1000), ("w", 0x40, 0x40010), ("r", 0x40), ("r", 0x44),
    ("r", 0xFC), ("w", 0x44, 1), ("w", 0x80, 5), ("r", 0x14), ("r", 0x80), ("w", 0x00, 1),
    ("r", 0x200 - 4), ("rb", 0x00), ("rw", 0x04), ("wb", 0x70, 1), ("r", 0x70), ("r", 0xB0),
    ("w", 0x30, 1), ("r", 0x34), ("r", 0x40), ("w", 0x30, 0), ("w", 0x70, 7), ("r", 0x70),
    ("rb", 0x120), ("rw", 0x110), ("r", 0x60), ("w", 0x40, 0), ("r", 0x70), ("r", 0x40),
    ("w", 0x18, 0), ("r", 0x90),
]
_MODERN_SEQ = [
    ("w", 0x70, 0), ("w", 0x70, 1), ("w", 0x70, 3), ("w", 0x14, 1), ("r", 0x10), ("w", 0x14, 7),
    ("r", 0x10), ("w", 0x14, 0), ("r", 0x10), ("w", 0x24, 1), ("w", 0x20, 1), ("w", 0x24, 0),
    ("w", 0x20, 0x30000254), ("w", 0x70, 0xB), ("r", 0x70), ("w", 0x28, 0x1000), ("w", 0x3C, 1),
    ("w", 0x40, 5), ("r", 0x40), ("w", 0x30, 0), ("w", 0x38, 32), ("w", 0x80, 0x40010000),
    ("w", 0x84, 0), ("w", 0x90, 0x40011000), ("w", 0x94, 0), ("w", 0xA0, 0x40012000),
    ("w", 0xA4, 0), ("r", 0x44), ("w", 0x44, 1), ("r", 0x44), ("r", 0xFC), ("w", 0x70, 0xF),
    ("r", 0x70), ("r", 0x60), ("w", 0x64, 3), ("r", 0x88), ("w", 0x88, 1), ("w", 0xFC, 1),
    ("w", 0x70, 0), ("r", 0x44), ("r", 0x70), ("r", 0x38),
]


def _run_seq(dev, base: int, seq) -> list[int]:
    out = []
    for op, off, *val in seq:
        if op == "r":
            out.append(dev.readl(base + off))
        elif op == "rb":
            out.append(dev.readb(base + off))
        elif op == "rw":
            out.append(dev.readw(base + off))
        elif op == "wb":
            dev.writeb(base + off, val[0])
        else:
            dev.writel(base + off, val[0])
    return out


@pytest.mark.parametrize("modern", [False, True])
def test_registers_and_guest_error_logs_as_qemu(tmp_path, monkeypatch, modern: bool) -> None:
    """The same register accesses on real QEMU (with -d guest_errors) and on pyqemu."""
    import io

    from pyqemu.util import log

    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    seq = _MODERN_SEQ if modern else _LEGACY_SEQ
    qlog = tmp_path / "qemu.log"
    img = tmp_path / "q.raw"
    img.write_bytes(bytes(1 << 20))
    args = ["-d", "guest_errors", "-D", str(qlog), "-drive", f"if=none,id=d0,file={img},format=raw",
            "-device", "virtio-blk-device,drive=d0"]
    if modern:
        args += ["-global", "virtio-mmio.force-legacy=false"]
    with QemuQtest(args) as q:
        expected = _run_seq(q, 0x0A003E00, seq)
    expected_log = [ln for ln in qlog.read_text().splitlines() if ln.startswith("virtio_mmio")]

    out = io.StringIO()
    monkeypatch.setattr(log, "_out", out)
    monkeypatch.setattr(log, "_enabled", {"guest_errors"})
    d, _, _, blk, loop = _blk_bench(tmp_path, modern)
    try:
        got = _run_seq(d.b, BASE, seq)
    finally:
        blk.close()
        loop.close()
    assert got == expected
    assert [ln for ln in out.getvalue().splitlines() if ln.startswith("virtio_mmio")] == expected_log
    assert expected_log    # the sequence does provoke guest errors


def test_interrupt_line_follows_isr_and_ack(tmp_path) -> None:
    from virtio_qtest import T_IN
    d, dev, probe, blk, loop = _blk_bench(tmp_path, True)
    try:
        d.init()
        assert d.blk_req(T_IN, 0, in_len=512)[0] == 0
        assert probe[0] == 1 and d.r(0x60) == 1
        d.w(0x64, 2)                    # acking a bit that is not set changes nothing
        assert probe[0] == 1
        d.w(0x64, 1)
        assert probe[0] == 0 and d.r(0x60) == 0
        dev.notify_config()             # a config change: both ISR bits, as QEMU's virtio_notify_config
        assert probe[0] == 1 and d.r(0x60) == 3 and d.r(0xFC) == 1
        d.w(0x70, 0)                    # reset drops the line
        assert probe[0] == 0 and d.r(0x60) == 0
    finally:
        blk.close()
        loop.close()
