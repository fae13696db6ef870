"""virtio-blk-pci on -M virt: ECAM enumeration, BAR sizing, the capability list, a virtio-blk
driven through the modern and the legacy interface with rings in guest RAM over a real image,
MSI-X through GICv2m and the INTx fallback; the same accesses run on real QEMU 7.2 under qtest
and must give the same answers."""
from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import unavailable
from qtest_support import QemuQtest, qemu_available
from virtio_pci_driver import (
    CAP_COMMON,
    CAP_DEVICE,
    CAP_PCI_CFG,
    GICD,
    V2M_FIRST_SPI,
    V2M_SETSPI,
    VIRTIO_BLK_T_FLUSH,
    VIRTIO_BLK_T_GET_ID,
    VIRTIO_BLK_T_IN,
    VIRTIO_BLK_T_OUT,
    Ours,
    VirtioPCI,
    ecam,
    qemu_wait,
)

from pyqemu.qom.object import QOMError
from pyqemu.util import log

MiB = 1 << 20
INTX_INTID = 32 + 3 + 1      # slot 1, INTA swizzled to INTB = SPI 4


def pattern(n: int) -> bytes:
    return bytes((i * 7 + i // 512) & 0xFF for i in range(n))


@pytest.fixture
def image(tmp_path: Path) -> Path:
    p = tmp_path / "disk.img"
    p.write_bytes(pattern(MiB))
    return p


class OurMachine:
    """pyqemu's -M virt with ``-drive if=none,id=d0,file=IMAGE,format=raw -device DEVICE...``."""

    def __init__(self, image: Path, *devices: str, smp: int = 1) -> None:
        from pyqemu.block.block_backend import BlockBackend
        from pyqemu.block.raw import RawDriver
        from pyqemu.hw.core.machine import create_machine
        from pyqemu.system import drives, main_loop
        from pyqemu.system import runstate as rs
        from pyqemu.system.machines import find_machine
        from pyqemu.system.qdev_add import device_add

        self.loop = main_loop.MainLoop(rs.VMRunState())
        main_loop.set_main(self.loop)
        smp_cfg = {"cpus": smp, "maxcpus": smp, "threads": 1, "cores": smp, "dies": 1,
                   "sockets": 1, "clusters": 1}
        _, self.machine = create_machine(find_machine("virt", "aarch64"), 128 << 20, {}, smp=smp_cfg)
        drives.clear()
        self.blk = BlockBackend(RawDriver(str(image), read_only=False), loop=self.loop, name="d0")
        drives.register_backend(self.blk)
        self.devs = [device_add(parse_device(d), self.machine) for d in devices]
        self.machine.reset()
        self.io = Ours(self.machine, self.loop)

    def close(self) -> None:
        from pyqemu.system import drives, main_loop
        self.blk.close()
        drives.clear()
        main_loop.set_main(None)
        self.loop.close()


def parse_device(text: str) -> dict[str, str]:
    driver, *rest = text.split(",")
    return {"driver": driver, **dict(kv.split("=", 1) for kv in rest)}


@pytest.fixture
def ours(image: Path) -> Iterator[Callable[..., OurMachine]]:
    made: list[OurMachine] = []

    def make(*devices: str, smp: int = 1) -> OurMachine:
        made.append(OurMachine(image, *devices, smp=smp))
        return made[-1]
    yield make
    for m in made:
        m.close()


def run_both(image: Path, device: str, scenario: Callable[[Any, Callable], Any],
             tmp_path: Path, extra: tuple[str, ...] = ()) -> tuple[Any, Any]:
    """``scenario(accessor, wait)`` on QEMU and on pyqemu, each with its own copy of the image."""
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    qimg = tmp_path / "qemu.img"
    shutil.copy(image, qimg)
    args = ["-drive", f"if=none,id=d0,file={qimg},format=raw", *extra, "-device", device]
    with QemuQtest(args) as q:
        expected = scenario(q, lambda c: qemu_wait(q, c))
    m = OurMachine(image, *[a for i, a in enumerate(extra) if i and extra[i - 1] == "-device"],
                   device)
    try:
        got = scenario(m.io, m.io.wait)
    finally:
        m.close()
    return expected, got


# -- identity and layout, compared with QEMU ----------------------------------------------------------

def layout(m: Any, wait: Callable) -> dict[str, Any]:
    d = VirtioPCI(m, wait)
    out: dict[str, Any] = {"before": d.dump(), "bars": d.bar_sizes()}
    d.setup()
    out["caps"] = [(pos, cap_id, raw[:2]) for pos, cap_id, raw in d.walk_caps()]
    out["after"] = d.dump()
    out["beyond"] = [m.readl(ecam(0, 1, 0, 0x100)), m.readl(ecam(0, 1, 1))]
    # the PCI config access capability's writable fields
    pos = d.caps[CAP_PCI_CFG][0] if CAP_PCI_CFG in d.caps else 0
    if pos:
        for off in range(0, 20, 4):
            d.cfg_w(pos + off, 0xFFFFFFFF)
        out["cfgcap"] = [d.cfg(pos + off) for off in range(0, 16, 4)]
    return out


@pytest.mark.parametrize("props", ["", ",disable-legacy=on", ",disable-modern=on", ",num-queues=4",
                                   ",vectors=0", ",vectors=5000", ",modern-pio-notify=on,page-per-vq=on",
                                   ",class=0x0180,disable-legacy=off"])
def test_config_space_bars_and_capabilities_match_qemu(image: Path, tmp_path: Path, props: str) -> None:
    expected, got = run_both(image, "virtio-blk-pci,drive=d0" + props, layout, tmp_path)
    assert got["before"].hex(" ", 4) == expected["before"].hex(" ", 4)
    assert got == expected


@pytest.mark.parametrize("driver", ["virtio-blk-pci-non-transitional", "virtio-blk-pci-transitional"])
def test_transitional_type_variants_match_qemu(image: Path, tmp_path: Path, driver: str) -> None:
    expected, got = run_both(image, driver + ",drive=d0", layout, tmp_path)
    assert got == expected


@pytest.mark.parametrize("props", ["", ",aer=on", ",disable-legacy=off,x-pcie-flr-init=off"])
def test_behind_a_pcie_root_port_it_is_modern_and_express(image: Path, tmp_path: Path,
                                                         props: str) -> None:
    def scenario(m: Any, wait: Callable) -> dict[str, Any]:
        rp = ecam(0, 1)
        m.writel(rp + 0x18, 0x010100)   # primary 0, secondary 1, subordinate 1
        d = VirtioPCI(m, wait, dev=0, bus=1)
        out = {"cfg": d.dump(0x200), "bars": d.bar_sizes(),
               "caps": [(p, i) for p, i, _ in d.walk_caps()]}
        masks = []
        for reg in range(0x40, 0x200, 4):    # the capabilities' writable bits
            d.cfg_w(reg, 0xFFFFFFFF)
            masks.append(d.cfg(reg))
        out["masks"] = masks
        return out
    expected, got = run_both(image, "virtio-blk-pci,drive=d0,bus=rp1" + props, scenario, tmp_path,
                             ("-device", "pcie-root-port,id=rp1,chassis=1,slot=1"))
    assert got["cfg"][:4] == bytes.fromhex("f41a4210" if not props.startswith(",dis") else "f41a0110")
    assert got == expected


def test_identity_and_capabilities(ours: Callable[..., OurMachine]) -> None:
    m = ours("virtio-blk-pci,drive=d0")
    d = VirtioPCI(m.io, m.io.wait)
    assert d.cfg(0) == 0x10011AF4                   # transitional virtio-blk
    assert d.cfg(0x08) == 0x01000000                # class 0100 (SCSI), revision 0
    assert d.cfg(0x2C) == 0x00021AF4                # subsystem 1af4:0002 (virtio ID 2)
    assert d.cfg(0x3D, 1) == 1                      # INTA
    assert d.bar_sizes() == {0: (1, 0x80), 1: (0, 0x1000), 4: (0xC, 0x4000)}
    d.setup()
    assert [(p, i) for p, i, _ in d.walk_caps()] == [
        (0x98, 0x11), (0x84, 9), (0x70, 9), (0x60, 9), (0x50, 9), (0x40, 9)]
    assert d.caps[CAP_COMMON] == (0x40, 4, 0, 0x1000)
    notify = d.caps[2]
    assert notify[1:] == (4, 0x3000, 0x1000) and d.cfg(notify[0] + 16) == 4   # multiplier
    assert m.io.readl(ecam(0, 1, 0, 0x100)) == 0xFFFFFFFF                      # 256-byte function


# -- driving virtio-blk -------------------------------------------------------------------------------

def test_modern_interface_reads_writes_and_flushes_the_image(ours: Callable[..., OurMachine],
                                                             image: Path) -> None:
    m = ours("virtio-blk-pci,drive=d0,disable-legacy=on,serial=SN42")
    d = VirtioPCI(m.io, m.io.wait)
    d.setup()
    assert d.modern_init() == 0xB                   # FEATURES_OK accepted
    assert d.common_r(0x12, 2) == 1                 # num_queues
    capacity = m.io.readl(d.region(CAP_DEVICE)) | m.io.readl(d.region(CAP_DEVICE) + 4) << 32
    assert capacity == MiB // 512
    status, data = d.blk_request(0, VIRTIO_BLK_T_IN, 3, length=1024)
    assert status == 0 and data == pattern(MiB)[3 * 512:5 * 512]
    new = bytes(range(256)) * 2
    assert d.blk_request(0, VIRTIO_BLK_T_OUT, 7, data=new)[0] == 0
    assert d.blk_request(0, VIRTIO_BLK_T_FLUSH, 0)[0] == 0
    assert image.read_bytes()[7 * 512:8 * 512] == new
    status, ident = d.blk_request(0, VIRTIO_BLK_T_GET_ID, 0, length=20)
    assert status == 0 and ident == b"SN42\0" + b"\xaa" * 15    # as QEMU: no zero padding
    status, _ = d.blk_request(0, VIRTIO_BLK_T_IN, MiB // 512, length=512)   # past the end
    assert status == 1                               # VIRTIO_BLK_S_IOERR


def test_legacy_interface_reads_and_writes_the_image(ours: Callable[..., OurMachine],
                                                     image: Path) -> None:
    m = ours("virtio-blk,drive=d0")                 # the alias
    d = VirtioPCI(m.io, m.io.wait)
    d.setup()
    host = d.legacy_init()
    assert host & 1 << 30                           # VIRTIO_F_BAD_FEATURE, as QEMU offers it
    io = d.bars[0]
    assert m.io.readl(io + 0x14) == MiB // 512      # config at 20 while MSI-X is off
    status, data = d.blk_request(0, VIRTIO_BLK_T_IN, 0, length=512)
    assert status == 0 and data == pattern(512)
    assert d.blk_request(0, VIRTIO_BLK_T_OUT, 1, data=b"\x5a" * 512)[0] == 0
    assert image.read_bytes()[512:1024] == b"\x5a" * 512
    m.io.writel(io + 0x08, 0)                       # QUEUE_PFN 0 resets the device
    assert m.io.readb(io + 0x12) == 0 and m.io.readl(io + 0x08) == 0


def transcript(m: Any, wait: Callable) -> list[Any]:
    """Register answers along a modern bring-up, a request, then the legacy view."""
    d = VirtioPCI(m, wait)
    d.setup()
    out: list[Any] = []
    for sel in (0, 1, 2):
        d.common_w(0x00, sel, 4)
        out.append(d.common_r(0x04, 4))
    out += [d.common_r(o, s) for o, s in ((0x10, 2), (0x12, 2), (0x14, 1), (0x15, 1), (0x10, 4))]
    for sel in (0, 1, 1023):
        d.common_w(0x16, sel, 2)
        out += [d.common_r(o, 2) for o in (0x16, 0x18, 0x1A, 0x1C, 0x1E)]
    d.common_w(0x16, 5000, 2)
    out.append(d.common_r(0x16, 2))                 # ignored: beyond VIRTIO_QUEUE_MAX
    d.common_w(0x16, 0, 2)
    for v in (1, 2, 0xFFFF):
        d.common_w(0x10, v, 2)
        out.append(d.common_r(0x10, 2))             # 2 vectors: 2 reads back as NO_VECTOR
    for size in (100, 2000):
        d.common_w(0x18, size, 2)
        out.append(d.common_r(0x18, 2))
    d.common_w(0x20, 0x40001000, 4)
    d.common_w(0x24, 1, 4)
    out += [d.common_r(0x20, 4), d.common_r(0x24, 4), d.common_r(0x28, 4)]
    out.append(m.memread(d.region(CAP_DEVICE), 0x40))
    out.append(m.readb(d.region(3)))                # ISR
    out.append(d.modern_init())
    out.append(d.blk_request(0, VIRTIO_BLK_T_IN, 9, length=512))
    out.append(m.readb(d.region(3)))                # ISR bit 0 after the completion ...
    out.append(m.readb(d.region(3)))                # ... and cleared by the read
    # the PCI config access window onto the common config (device_feature_select = 1)
    pos = d.caps[CAP_PCI_CFG][0]
    d.cfg_w(pos + 4, 4, 1)
    d.cfg_w(pos + 8, 0x0, 4)
    d.cfg_w(pos + 12, 4, 4)
    d.cfg_w(pos + 16, 1, 4)
    d.cfg_w(pos + 8, 0x4, 4)
    out.append(d.cfg(pos + 16))                     # device_feature, high half
    d.cfg_w(pos + 8, 0x15, 4)                       # unaligned: aligned down to status
    out.append(d.cfg(pos + 16))
    d.cfg_w(pos + 8, 0x14, 4)
    d.cfg_w(pos + 12, 1, 4)
    out.append(d.cfg(pos + 16) & 0xFF)              # device_status through the window
    io = d.bars[0]
    out += [m.readl(io + o) for o in range(0, 0x20, 4)]
    out += [m.readb(io + o) for o in range(0, 0x18)]
    out += [m.readl(io + 0x7C), m.readw(io + 0x0C)]
    out.append([m.readb(d.region(3) + o) for o in (0, 1, 0x100)])     # ISR at any offset
    d.cfg_w(0x04, 0x3, 2)                           # bus mastering off: DRIVER_OK goes away
    out.append(d.common_r(0x14, 1))
    return out


def test_register_behaviour_matches_qemu(image: Path, tmp_path: Path) -> None:
    expected, got = run_both(image, "virtio-blk-pci,drive=d0", transcript, tmp_path)
    assert got == expected


# -- interrupts ---------------------------------------------------------------------------------------

def enable_spi(m: Any, intid: int) -> None:
    """Enabled and targeted at CPU 0 (without a target QEMU's GIC latches nothing)."""
    m.writel(GICD + 0x100 + 4 * (intid // 32), 1 << (intid % 32))
    m.writeb(GICD + 0x800 + intid, 1)


def spi_pending(m: Any, intid: int) -> bool:
    return bool(m.readl(GICD + 0x200 + 4 * (intid // 32)) >> (intid % 32) & 1)


def clear_pending(m: Any, intid: int) -> None:
    m.writel(GICD + 0x280 + 4 * (intid // 32), 1 << (intid % 32))


MSG_ADDR = 0x40003000      # MSI-X messages into guest RAM: both emulators show them there


def msix_scenario(m: Any, wait: Callable) -> list[Any]:
    """Vector 0 config, vector 1 queue 0; each message is a 32-bit store of its data."""
    d = VirtioPCI(m, wait)
    d.setup()
    m.memwrite(MSG_ADDR, bytes(8))
    table = d.bars[1]
    for v in (0, 1):
        m.writel(table + 16 * v, MSG_ADDR + 4 * v)
        m.writel(table + 16 * v + 4, 0)
        m.writel(table + 16 * v + 8, 0x1110 + v)
        m.writel(table + 16 * v + 12, 0)                                   # unmasked
    d.cfg_w(d.msix_cap + 2, 0x8000, 2)                                     # MSI-X enable
    out: list[Any] = [d.modern_init(vectors=True)]
    d.common_w(0x16, 0, 2)
    out.append(d.common_r(0x1A, 2))
    out.append(d.blk_request(0, VIRTIO_BLK_T_IN, 1, length=512)[0])
    out += [m.memread(MSG_ADDR, 8).hex(), d.cfg(0x06, 2) & 0x8]            # no INTx
    m.memwrite(MSG_ADDR, bytes(8))
    # a masked vector waits in the PBA and fires on unmask
    m.writel(table + 16 + 12, 1)
    d.blk_request(0, VIRTIO_BLK_T_IN, 2, length=512)
    out += [m.memread(MSG_ADDR, 8).hex(), m.readl(table + 0x800)]
    m.writel(table + 16 + 12, 0)
    out += [m.memread(MSG_ADDR, 8).hex(), m.readl(table + 0x800)]
    # the legacy header grows the vector registers while MSI-X is on: config moves to 24
    io = d.bars[0]
    out += [m.readw(io + 0x14), m.readw(io + 0x16), m.readl(io + 0x18)]
    return out


def test_msix_messages_match_qemu(image: Path, tmp_path: Path) -> None:
    expected, got = run_both(image, "virtio-blk-pci,drive=d0", msix_scenario, tmp_path)
    assert got == expected
    assert got[1:] == [1, 0, "0000000011110000", 0, "0000000000000000", 2,
                       "0000000011110000", 0, 0, 1, MiB // 512]


def multiqueue_scenario(m: Any, wait: Callable) -> list[Any]:
    """num-queues=4: each queue its own vector (queue n -> vector n + 1) and notify address."""
    d = VirtioPCI(m, wait)
    d.setup()
    m.memwrite(MSG_ADDR, bytes(20))
    table = d.bars[1]
    for v in range(5):
        m.writel(table + 16 * v, MSG_ADDR + 4 * v)
        m.writel(table + 16 * v + 8, 0x100 + v)
        m.writel(table + 16 * v + 12, 0)
    d.cfg_w(d.msix_cap + 2, 0x8000, 2)
    out: list[Any] = [d.modern_init(nqueues=4, vectors=True), d.common_r(0x12, 2)]
    for q in (2, 0, 3):
        out.append(d.blk_request(q, VIRTIO_BLK_T_IN, q, length=512))
        out.append(m.memread(MSG_ADDR, 20).hex())
    return out


def test_multiqueue_vectors_match_qemu(image: Path, tmp_path: Path) -> None:
    expected, got = run_both(image, "virtio-blk-pci,drive=d0,num-queues=4", multiqueue_scenario,
                             tmp_path)
    assert got == expected
    assert got[1] == 4 and got[-1] == "0000000001010000000000000301000004010000"


def test_msix_reaches_the_gic_through_gicv2m(ours: Callable[..., OurMachine]) -> None:
    m = ours("virtio-blk-pci,drive=d0")
    io = m.io
    d = VirtioPCI(io, io.wait)
    d.setup()
    intid = V2M_FIRST_SPI + 5
    enable_spi(io, intid)
    table = d.bars[1]
    io.writel(table + 16, V2M_SETSPI)
    io.writel(table + 16 + 8, intid)
    io.writel(table + 16 + 12, 0)
    d.cfg_w(d.msix_cap + 2, 0x8000, 2)
    d.modern_init(vectors=True)
    assert not spi_pending(io, intid)
    d.blk_request(0, VIRTIO_BLK_T_IN, 1, length=512)
    assert spi_pending(io, intid) and not spi_pending(io, INTX_INTID)


def intx_scenario(m: Any, wait: Callable) -> list[Any]:
    d = VirtioPCI(m, wait)
    d.setup()
    enable_spi(m, INTX_INTID)
    d.modern_init()
    out: list[Any] = [spi_pending(m, INTX_INTID)]
    d.blk_request(0, VIRTIO_BLK_T_IN, 1, length=512)
    out += [spi_pending(m, INTX_INTID), d.cfg(0x06, 2) & 0x8]             # STATUS.INTERRUPT
    out.append(m.readb(d.region(3)))                                       # ISR read lowers it
    clear_pending(m, INTX_INTID)
    out += [spi_pending(m, INTX_INTID), d.cfg(0x06, 2) & 0x8]
    d.cfg_w(0x04, 0x407, 2)                                                # INTX_DISABLE
    d.blk_request(0, VIRTIO_BLK_T_IN, 2, length=512)
    out += [spi_pending(m, INTX_INTID), d.cfg(0x06, 2) & 0x8]
    return out


def test_intx_when_msix_is_off_matches_qemu(image: Path, tmp_path: Path) -> None:
    expected, got = run_both(image, "virtio-blk-pci,drive=d0", intx_scenario, tmp_path)
    assert got == expected
    assert got == [False, True, 8, 1, False, 0, False, 8]


# -- QOM, properties, errors ------------------------------------------------------------------------

def test_backend_child_properties_and_qtree(ours: Callable[..., OurMachine]) -> None:
    m = ours("virtio-blk-pci,drive=d0,id=vd0,num-queues=2,serial=abc,queue-size=128")
    from pyqemu.qom.object import resolve_path
    dev = m.devs[0]
    backend = resolve_path(m.machine.root(), "/machine/peripheral/vd0/virtio-backend")
    assert backend is dev.vdev and backend.type_name == "virtio-blk-device"
    assert dev.property_get("serial") == "abc" and backend.num_queues == 2
    assert dev.vectors == 3                         # num-queues + 1
    assert m.blk.attached_dev is backend
    lines = [ln.strip() for ln in dev.qtree_lines(0)]
    assert 'disable-legacy = "off"' in lines and "vectors = 3 (0x3)" in lines
    assert "bus: virtio-bus" in lines and "type virtio-pci-bus" in lines
    d = VirtioPCI(m.io, m.io.wait)
    assert d.cfg(0x98 + 2, 2) == 2                  # MSI-X table size 3
    d.setup()
    d.common_w(0x16, 0, 2)
    assert d.common_r(0x18, 2) == 128


def qemu_qtree_block(args: list[str], header: str) -> list[str]:
    """The ``info qtree`` lines under ``header`` (a ``dev: ...`` line) of a real QEMU run."""
    out = subprocess.run(["qemu-system-aarch64", "-M", "virt", "-display", "none", "-nic", "none",
                          "-S", "-monitor", "stdio", "-serial", "null", *args],
                         input="info qtree\nquit\n", capture_output=True, text=True, timeout=30)
    lines = out.stdout.replace("\r", "").splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.strip() == header)
    indent = len(lines[i]) - len(lines[i].lstrip())
    block = []
    for ln in lines[i + 1:]:
        if len(ln) - len(ln.lstrip()) <= indent:
            break
        block.append(ln.strip())
    return block


@pytest.mark.parametrize("props", ["", ",disable-legacy=on,vectors=5,page-per-vq=on"])
def test_proxy_qtree_matches_qemu(ours: Callable[..., OurMachine], image: Path, props: str) -> None:
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    expected = qemu_qtree_block(["-drive", f"if=none,id=d0,file={image},format=raw,readonly=on",
                                 "-device", "virtio-blk-pci,drive=d0,id=vd0" + props],
                                'dev: virtio-blk-pci, id "vd0"')
    m = ours("virtio-blk-pci,drive=d0,id=vd0" + props)
    got = [ln.strip() for ln in m.devs[0].qtree_lines(0)[1:]]
    # the proxy's own lines and its bus; the virtio-blk-device's are the device's business
    cut = expected.index('dev: virtio-blk-device, id ""') + 1
    assert got[:cut] == expected[:cut]


def test_num_queues_defaults_to_the_vcpu_count(ours: Callable[..., OurMachine]) -> None:
    m = ours("virtio-blk-pci,drive=d0", smp=2)
    assert m.devs[0].vdev.num_queues == 2 and m.devs[0].vectors == 3


@pytest.mark.parametrize("props, message", [
    (",disable-legacy=on,disable-modern=on",
     "device cannot work as neither modern nor legacy mode is enabled"),
    (",disable-legacy=maybe", "Parameter 'disable-legacy' does not accept value 'maybe'"),
])
def test_bad_properties_are_refused(ours: Callable[..., OurMachine], props: str, message: str) -> None:
    with pytest.raises(QOMError, match=message):
        ours("virtio-blk-pci,drive=d0" + props)


def test_bad_guest_values_are_logged_not_raised(ours: Callable[..., OurMachine],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    m = ours("virtio-blk-pci,drive=d0")
    out = io.StringIO()
    monkeypatch.setattr(log, "_out", out)
    d = VirtioPCI(m.io, m.io.wait)
    d.setup()
    log.set_mask("guest_errors")
    try:
        d.modern_init()
        d.common_w(0x1A, 7, 2)                       # vector beyond the table
        assert d.common_r(0x1A, 2) == 0xFFFF
        m.io.writew(d.region(2) + 4 * 1023, 1023)    # notify a queue that does not exist
        m.io.writeb(d.bars[0] + 0x13, 5)             # ISR is read-only in the legacy header
        d.common_w(0x1C, 2, 2)                       # queue_enable must be 1
        assert d.common_r(0x14, 1) & 0x40            # NEEDS_RESET (VERSION_1 negotiated)
        d.common_w(0x14, 0, 1)                       # the driver resets: usable again
        assert d.modern_init() == 0xB
        assert d.blk_request(0, VIRTIO_BLK_T_IN, 0, length=512)[0] == 0
    finally:
        log.set_mask("")
    err = out.getvalue()
    assert "wrong value for queue_enable 2" in err and "virtio_ioport_write" in err


def test_transport_state_survives_save_and_load(ours: Callable[..., OurMachine]) -> None:
    from pyqemu.migration.vmstate import StateLoadError
    m = ours("virtio-blk-pci,drive=d0,disable-legacy=on")
    d = VirtioPCI(m.io, m.io.wait)
    d.setup()
    d.common_w(0x00, 1, 4)
    d.common_w(0x08, 1, 4)
    d.common_w(0x0C, 1, 4)                           # driver_feature[1] = VERSION_1
    d.common_w(0x28, 0x40005000, 4)                  # queue 0 avail, not enabled yet
    state = m.devs[0].vmstate_save()
    m2 = ours("virtio-blk-pci,drive=d0,disable-legacy=on")
    m2.devs[0].vmstate_load(state)
    d2 = VirtioPCI(m2.io, m2.io.wait)
    d2.setup()
    assert [d2.common_r(o, 4) for o in (0x00, 0x08, 0x0C, 0x28)] == [1, 1, 1, 0x40005000]
    with pytest.raises(StateLoadError):
        m2.devs[0].vmstate_load({**state, "queues": {"5000": {}}})
