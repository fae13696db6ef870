"""CFI pflash (Intel command set) at the MMIO level: the CFI and ID answers U-Boot
prints, romd mode, erase/program/write-to-buffer and their write-back to the image;
compared with QEMU 7.2's virt flash banks, image files included."""
from __future__ import annotations

import io
import os

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

from pyqemu.block.block_backend import BlockBackend
from pyqemu.block.raw import RawDriver
from pyqemu.hw.block.pflash_cfi01 import (
    BytesBacking,
    FileBacking,
    PFlashCFI01,
    create_virt_flash,
    fdt_add_flash,
)
from pyqemu.qom.object import QOMError
from pyqemu.system import runstate as rs
from pyqemu.system.main_loop import MainLoop
from pyqemu.util import log

FLASH_SIZE = 64 << 20
FLASH1 = 0x04000000
SECTOR = 256 << 10


def make_bench(backing=None, name: str = "virt.flash0", base: int = 0) -> tuple[Bench, PFlashCFI01]:
    b = Bench()
    dev = create_virt_flash(name, backing)
    b.add(dev, base)
    return b, dev


def image(tmp_path, name: str, fill: bytes = b"") -> str:
    path = str(tmp_path / name)
    with open(path, "wb") as f:
        f.write(fill)
        f.truncate(FLASH_SIZE)
    return path


def test_cfi_query_answers_u_boot_reads():
    b, _dev = make_bench()
    b.writel(0x55 << 2, 0x00980098)             # CFI query, both chips
    q = [b.readl(i << 2) for i in range(0x40)]
    assert [x & 0xFFFF for x in q[0x10:0x13]] == [ord("Q"), ord("R"), ord("Y")]
    assert all(x >> 16 == x & 0xFFFF for x in q)  # both x16 chips answer the same
    assert q[0x13] & 0xFF == 1                  # Intel command set
    assert q[0x27] & 0xFF == 25                 # 32 MiB per chip: 2 x 32 MB per bank
    assert q[0x2A] & 0xFF == 11                 # 2 KiB write buffer per chip
    assert [q[i] & 0xFF for i in range(0x2C, 0x31)] == [1, 0xFF, 0, 0, 2]   # 256 x 128 KiB
    assert bytes(q[i] & 0xFF for i in range(0x31, 0x36)) == b"PRI10"
    b.writel(0, 0xFF)
    b.writel(0, 0x90)                           # read identifier
    assert b.readl(0) == 0x00890089 and b.readl(4) == 0x00180018 and b.readl(8) == 0
    b.destroy()


def test_romd_mode_follows_commands():
    b, dev = make_bench()
    dev.load_image(b"\x11\x22\x33\x44" * 4)
    assert dev.romd and b.readl(0) == 0x44332211 and b.readq(8) == 0x4433221144332211
    b.writel(0, 0x70)                           # read status: I/O mode
    assert not dev.romd and b.readl(0) == 0x00800080
    b.writel(0, 0x98)
    assert not dev.romd
    b.writel(0, 0xFF)                           # read array: back to romd
    assert dev.romd and b.readl(0) == 0x44332211
    b.writel(0, 0x90)
    dev.reset()
    assert dev.romd and b.readl(0) == 0x44332211
    mr = dev.mmio_region(0)
    assert mr.romd_mode and mr.ram is not None  # executable: the CPU maps the storage
    assert b.space.translate(0).mr.type_name == "romd"
    b.writel(0, 0x70)
    assert not mr.romd_mode and mr.ram is None and mr.type_name == "i/o"
    b.destroy()


def test_erase_program_and_buffer_write_back_to_file(tmp_path):
    path = image(tmp_path, "vars.fd", b"\xAA" * 4096)
    backing = FileBacking(path)
    b, dev = make_bench(backing, "virt.flash1")
    assert b.readl(0) == 0xAAAAAAAA
    b.writel(0, 0x00200020)
    b.writel(0, 0x00D000D0)                     # erase block 0 (256 KiB)
    assert b.readl(0) == 0x00800080             # status: ready
    b.writel(0, 0x00FF00FF)
    assert b.readl(0) == 0xFFFFFFFF and b.readl(SECTOR - 4) == 0xFFFFFFFF
    b.writel(0x100, 0x00400040)
    b.writel(0x100, 0xDEADBEEF)                 # program one word
    b.writel(0x1000, 0x00E800E8)                # write to buffer: 2 words
    assert b.readl(0x1000) == 0x00800080
    b.writel(0x1000, 0x00010001)
    b.writel(0x1000, 0x01020304)
    b.writel(0x1004, 0x05060708)
    b.writel(0x1000, 0x00D000D0)
    b.writel(0, 0x00FF00FF)
    assert b.readl(0x100) == 0xDEADBEEF and b.readl(0x1004) == 0x05060708
    backing.close()
    with open(path, "rb") as f:
        data = f.read(SECTOR + 4096)
    assert data[0x100:0x104] == bytes.fromhex("efbeadde")
    assert data[0x1000:0x1008] == bytes(range(4, 0, -1)) + bytes(range(8, 4, -1))
    assert data[:0x100] == b"\xff" * 0x100 and data[SECTOR:SECTOR + 16] == bytes(16)
    b.destroy()


def test_write_back_is_sector_granular_and_uses_async_block_backend(tmp_path):
    saved: list[tuple[int, int]] = []
    backing = BytesBacking(bytes(FLASH_SIZE), save=lambda off, data: saved.append((off, len(data))))
    b, _dev = make_bench(backing)
    b.writel(0x1234, 0x40)
    b.writel(0x1234, 0x99)
    assert saved == [(0x1200, 512)]
    b.destroy()
    path = image(tmp_path, "flash.raw")
    loop = MainLoop(rs.VMRunState())
    try:
        blk = BlockBackend(RawDriver(path, read_only=False), loop=loop)
        b, _dev = make_bench(blk)
        b.writel(0x2000, 0x40)
        b.writel(0x2000, 0x12345678)
        assert blk.drain(5)
        assert blk.pread(0x2000, 4) == bytes.fromhex("78563412")
        blk.close()
        b.destroy()
    finally:
        loop.close()


def test_read_only_image_reports_errors(tmp_path):
    path = image(tmp_path, "ro.fd", b"\x5A" * 16)
    backing = FileBacking(path, read_only=True)
    b, dev = make_bench(backing)
    b.writel(0, 0x20)
    b.writel(0, 0xD0)
    assert b.readl(0) & 0xFF == 0xA0            # ready + erase error
    b.writel(0, 0x50)                           # clear status
    b.writel(4, 0x40)
    b.writel(4, 0)
    assert b.readl(0) & 0xFF == 0x90            # ready + program error
    b.writel(0, 0xFF)
    assert b.readl(0) == 0x5A5A5A5A and b.readl(4) == 0x5A5A5A5A
    backing.close()
    b.destroy()


def test_size_mismatch_is_qemus_error(tmp_path):
    path = str(tmp_path / "small.img")
    with open(path, "wb") as f:
        f.truncate(256 << 10)
    dev = create_virt_flash("virt.flash0", FileBacking(path))
    with pytest.raises(QOMError, match="^device requires 67108864 bytes, block backend provides "
                                       "262144 bytes$"):
        dev.qdev_realize(Bench().bus)


def test_unknown_command_logged_and_back_to_read_array(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(log, "_out", out)
    log.set_mask("unimp")
    try:
        b, dev = make_bench()
        b.writel(0, 0x42)
        assert dev.romd and b.readl(0) == 0
    finally:
        log.set_mask("")
    assert "Unimplemented flash cmd sequence (offset 0x0, wcycle 0x0 cmd 0x0 value 0x42)" in out.getvalue()


def test_state_round_trip():
    b, dev = make_bench()
    b.writel(0, 0x98)
    b2, other = make_bench()
    other.load_state(dev.save_state())
    assert not other.romd and b2.readl(0x10 << 2) == 0x00510051
    b.destroy()
    b2.destroy()


def test_fdt_node_matches_qemu_virt():
    node = fdt_add_flash(fdt.FDT(), 0, FLASH_SIZE)
    assert node_summary(node) == node_summary(spec_node("/flash@0"))


# The same accesses on QEMU's flash0: CFI, ID, status, erase, program, buffer writes.
SEQUENCE = [
    ("writel", 0x154, 0x00980098),
    *[(op, off) for off in range(0, 0x60 * 4, 4) for op in ("readl", "readw", "readb")],
    ("readq", 0x40), ("readw", 0x42), ("readb", 0x43),
    ("writel", 0, 0xFF), ("readl", 0), ("writel", 0, 0x90),
    *[("readb", off) for off in range(0x20)], ("readl", 0), ("readl", 4), ("readq", 0),
    ("writel", 4, 0x70), ("readl", 0), ("readw", 2), ("writel", 0, 0x50), ("readl", 0),
    ("writel", 0x40000, 0x20), ("writel", 0x40000, 0xD0), ("readl", 0x40000),
    ("writel", 0x40000, 0xFF), ("readl", 0x40000), ("readq", 0x40008),
    ("writel", 0x40004, 0x40), ("writel", 0x40004, 0x12345678), ("readl", 0x40004),
    ("writel", 0, 0xFF), ("readl", 0x40004),
    ("writel", 0x80000, 0x20), ("writel", 0x80000, 0xD0), ("writel", 0x80000, 0xE8),
    ("readl", 0x80000), ("writel", 0x80000, 1), ("writel", 0x80000, 0xAABBCCDD),
    ("writel", 0x80004, 0x11223344), ("readl", 0), ("writel", 0x80000, 0xD0), ("readl", 0x80000),
    ("writel", 0, 0xFF), ("readl", 0x80000), ("readl", 0x80004), ("readl", 0x80008),
    ("writeb", 0, 0x98), ("readb", 0x40), ("writew", 0, 0x33), ("readl", 0x40),
    ("writel", 0, 0x60), ("writel", 0, 0xD0), ("readl", 0), ("writel", 0, 0x60), ("writel", 0, 7),
    ("readl", 0), ("writel", 0, 0x28), ("writel", 0, 0xFF), ("readl", 0x40000),
]


def test_commands_and_image_match_qemu(tmp_path):
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    fill = bytes(range(256)) * 4096
    mine = image(tmp_path, "mine.fd", fill)
    theirs = image(tmp_path, "theirs.fd", fill)
    backing = FileBacking(mine)
    b, _dev = make_bench(backing, "virt.flash1", FLASH1)
    with QemuQtest(["-drive", f"if=pflash,unit=1,format=raw,file={theirs}"]) as q:
        for op, off, *val in SEQUENCE:
            assert getattr(b, op)(FLASH1 + off, *val) == getattr(q, op)(FLASH1 + off, *val), (
                op, hex(off), val)
        q.cmd("writel 0x0 0xff")            # make sure QEMU finished its synchronous writes
    backing.close()
    with open(mine, "rb") as f1, open(theirs, "rb") as f2:
        for _ in range(FLASH_SIZE // (1 << 22)):
            assert f1.read(1 << 22) == f2.read(1 << 22)
    assert os.path.getsize(mine) == os.path.getsize(theirs) == FLASH_SIZE
    b.destroy()


def test_info_qtree_matches_qemu():
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    b, dev = make_bench(name="virt.flash1")
    assert qtree_device(dev) == qemu_qtree_device("cfi.pflash01", 0)   # newest first: flash1
    b.destroy()
