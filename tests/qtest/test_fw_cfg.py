"""fw_cfg (MMIO variant, as on -M virt): selector, data reads of every width, the file
directory, DMA into guest memory, rejected accesses, state and device tree; compared
with QEMU 7.2's -M virt."""
from __future__ import annotations

import io
import struct

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

from pyqemu.hw.nvram.fw_cfg import (
    FW_CFG_DMA_CTL_ERROR,
    FW_CFG_DMA_CTL_READ,
    FW_CFG_DMA_CTL_SELECT,
    FW_CFG_DMA_CTL_SKIP,
    FW_CFG_DMA_CTL_WRITE,
    FW_CFG_FILE_DIR,
    FW_CFG_NB_CPUS,
    FWCfgMem,
    fdt_add_fw_cfg,
    fw_cfg_init_mem_wide,
)
from pyqemu.memory import MemTxError
from pyqemu.util import log

BASE = 0x09020000
DATA, SEL, DMA = BASE, BASE + 8, BASE + 0x10
RAM = 0x40000000

# what QEMU 7.2's virt adds on top of the generic items (sizes as -M virt -m 128M has them)
VIRT_FILES = [("etc/acpi/rsdp", 36), ("etc/acpi/tables", 131072), ("etc/smbios/smbios-anchor", 24),
              ("etc/smbios/smbios-tables", 266), ("etc/table-loader", 3072), ("etc/tpm/log", 0)]


def bswap(value: int, size: int) -> int:
    return int.from_bytes(value.to_bytes(size, "little"), "big")


@pytest.fixture
def cfg():
    b = Bench(ram_base=RAM, ram_size=0x20000)
    dev = fw_cfg_init_mem_wide(b.bus, SEL, DATA, 8, DMA, b.space)
    dev.add_i16(FW_CFG_NB_CPUS, 1)
    for name, size in VIRT_FILES:
        dev.add_file(name, bytes(size))
    dev.reset()
    yield b, dev
    b.destroy()


def select(target, key: int) -> None:
    target.writew(SEL, bswap(key, 2))          # the selector is big-endian


def read_bytes(target, n: int) -> bytes:
    return bytes(target.readb(DATA) for _ in range(n))


def directory(target) -> list[tuple[int, int, str]]:
    select(target, FW_CFG_FILE_DIR)
    (count,) = struct.unpack(">I", read_bytes(target, 4))
    out = []
    for _ in range(count):
        size, key, _res, name = struct.unpack(">IHH56s", read_bytes(target, 64))
        out.append((key, size, name.rstrip(b"\0").decode()))
    return out


def test_signature_id_and_widths(cfg):
    b, _dev = cfg
    select(b, 0)
    assert b.readq(DATA).to_bytes(8, "little") == b"QEMU" + bytes(4)   # zero past the end
    select(b, 0)
    assert b.readw(DATA).to_bytes(2, "little") == b"QE"
    assert b.readw(DATA).to_bytes(2, "little") == b"MU"
    select(b, 1)
    assert b.readl(DATA) == 3                   # traditional + DMA interface
    assert b.readq(DMA).to_bytes(8, "little") == b"QEMU CFG"
    select(b, 0x4242)                           # beyond the items: reads zero
    assert b.readq(DATA) == 0


def test_directory_sorted_with_generic_files(cfg):
    b, _dev = cfg
    names = [name for _key, _size, name in directory(b)]
    assert names == sorted(names)
    assert {"bootorder", "bios-geometry", "etc/boot-fail-wait"} <= set(names)
    d = {name: key for key, _size, name in directory(b)}
    select(b, d["etc/boot-fail-wait"])
    assert read_bytes(b, 4) == b"\xff\xff\xff\xff"   # no reboot timeout


def test_dma_read_select_skip_and_errors(cfg):
    b, dev = cfg
    desc, buf = RAM + 0x100, RAM + 0x1000

    def dma(control: int, length: int, address: int) -> int:
        b.space.write(desc, struct.pack(">IIQ", control, length, address))
        b.writel(DMA, bswap(desc >> 32, 4))     # high half, then low half starts it
        b.writel(DMA + 4, bswap(desc & 0xFFFFFFFF, 4))
        return struct.unpack(">I", b.space.read(desc, 4))[0]

    assert dma(FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ | (0 << 16), 8, buf) == 0
    assert b.space.read(buf, 8) == b"QEMU" + bytes(4)
    key = dev.file_key("etc/boot-fail-wait")
    assert dma(FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_SKIP | (key << 16), 2, 0) == 0
    assert dma(FW_CFG_DMA_CTL_READ, 2, buf) == 0
    assert b.space.read(buf, 2) == b"\xff\xff"  # skipped the first two bytes
    assert dma(FW_CFG_DMA_CTL_WRITE, 4, buf) == FW_CFG_DMA_CTL_ERROR   # read-only item
    assert dma(FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 4, 0x7000_0000) == FW_CFG_DMA_CTL_ERROR
    # one 64-bit big-endian write of the descriptor address works too
    b.space.write(desc, struct.pack(">IIQ", FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ | (1 << 16),
                                    4, buf))
    b.writeq(DMA, bswap(desc, 8))
    assert b.space.read(buf, 4) == b"\x03\0\0\0" and b.space.read(desc, 4) == bytes(4)


def test_dma_write_to_writable_file(cfg):
    b, dev = cfg
    seen = []
    key = dev.add_file("etc/ramfb", bytes(8), write_cb=lambda off, n: seen.append((off, n)),
                       read_only=False)
    desc, buf = RAM + 0x200, RAM + 0x300
    b.space.write(buf, b"ABCDEFGH")
    b.space.write(desc, struct.pack(">IIQ", FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE | key << 16,
                                    8, buf))
    b.writeq(DMA, bswap(desc, 8))
    assert b.space.read(desc, 4) == bytes(4) and seen == [(0, 8)]
    select(b, key)
    assert read_bytes(b, 8) == b"ABCDEFGH"


def test_rejected_accesses_are_bus_errors(cfg, monkeypatch):
    b, _dev = cfg
    out = io.StringIO()
    monkeypatch.setattr(log, "_out", out)
    log.set_mask("guest_errors")
    try:
        with pytest.raises(MemTxError):
            b.readw(SEL)                        # the selector is write-only
        with pytest.raises(MemTxError):
            b.writeb(SEL, 1)                    # and 16-bit only
        with pytest.raises(MemTxError):
            b.readl(DATA + 4)                   # data only at offset 0
        with pytest.raises(MemTxError):
            b.writew(DMA, 1)
        b.writeq(DATA, 0x1234)                  # data writes: ignored, as since QEMU 2.4
    finally:
        log.set_mask("")
    assert "region 'fwcfg.ctl', reason: rejected" in out.getvalue()
    assert "region 'fwcfg.data', reason: rejected" in out.getvalue()


def test_duplicate_file_and_bad_width_refused():
    dev = FWCfgMem(None)
    dev.dma_enabled = False
    dev.qdev_realize(Bench().bus)
    with pytest.raises(ValueError, match="duplicate fw_cfg file name: bootorder"):
        dev.add_file("bootorder", b"")
    bad = FWCfgMem(None)
    bad.data_width = 3
    bad.dma_enabled = False
    from pyqemu.qom.object import QOMError
    with pytest.raises(QOMError):
        bad.qdev_realize(Bench().bus)


def test_state_round_trip(cfg):
    b, dev = cfg
    select(b, 0)
    read_bytes(b, 2)
    b2 = Bench(ram_base=RAM)
    other = fw_cfg_init_mem_wide(b2.bus, SEL, DATA, 8, DMA, b2.space)
    other.load_state(dev.save_state())
    assert b2.readw(DATA).to_bytes(2, "little") == b"MU"
    b2.destroy()


def test_fdt_node_matches_qemu_virt():
    node = fdt_add_fw_cfg(fdt.FDT(), BASE)
    assert node_summary(node) == node_summary(spec_node("/fw-cfg@9020000"))


def test_items_directory_and_dma_match_qemu(cfg):
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    b, _dev = cfg
    with QemuQtest(["-m", "128M"]) as q:
        for key in (0, 1, 2, 3, 4, 5, 0xE, 0xF, 0x3F, 0x40, 0xFFFF):
            select(b, key)
            select(q, key)
            for op in ("readq", "readl", "readw", "readb", "readq"):
                assert getattr(b, op)(DATA) == getattr(q, op)(DATA), (hex(key), op)
        mine, theirs = directory(b), directory(q)
        assert [(k, n) for k, _s, n in mine] == [(k, n) for k, _s, n in theirs]
        generic = {"bootorder", "bios-geometry", "etc/boot-fail-wait"}
        assert [e for e in mine if e[2] in generic] == [e for e in theirs if e[2] in generic]
        for target in (b, q):
            target.memwrite(RAM + 0x100, struct.pack(">IIQ", FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ
                                                     | FW_CFG_FILE_DIR << 16, 100, RAM + 0x1000))
            target.writeq(DMA, bswap(RAM + 0x100, 8))
        assert b.memread(RAM + 0x100, 16) == q.memread(RAM + 0x100, 16)
        # the directory's first entries (the generic files) land in RAM identically
        assert b.memread(RAM + 0x1000, 100) == q.memread(RAM + 0x1000, 100)
        for off, size in ((0, 8), (0, 4), (4, 4), (2, 2), (7, 1)):
            assert b.space.load(DMA + off, size) == getattr(q, {8: "readq", 4: "readl", 2: "readw",
                                                                 1: "readb"}[size])(DMA + off)


def test_info_qtree_matches_qemu(cfg):
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    _b, dev = cfg
    assert qtree_device(dev) == qemu_qtree_device("fw_cfg_mem")


def test_kernel_items_for_firmware_match_qemu(tmp_path):
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    kernel, initrd = bytes(range(256)) * 17, b"initrd-bytes" * 5
    (tmp_path / "bios").write_bytes(b"\x00\x00\x00\x14")     # b . : firmware that spins
    (tmp_path / "Image").write_bytes(kernel)
    (tmp_path / "initrd").write_bytes(initrd)
    b = Bench(ram_base=RAM)
    dev = fw_cfg_init_mem_wide(b.bus, SEL, DATA, 8, DMA, b.space)
    dev.add_kernel_items(kernel, initrd, "console=ttyAMA0 quiet")
    with QemuQtest(["-bios", str(tmp_path / "bios"), "-kernel", str(tmp_path / "Image"),
                    "-initrd", str(tmp_path / "initrd"), "-append", "console=ttyAMA0 quiet"]) as q:
        for key, n in ((0x08, 4), (0x0B, 4), (0x14, 4), (0x15, 24), (0x11, 64), (0x12, 64)):
            select(b, key)
            select(q, key)
            assert read_bytes(b, n) == read_bytes(q, n), hex(key)
    b.destroy()
