"""The nvme controller driven like a host driver through ECAM and BAR0: PCI identity,
registers, enable/disable, admin commands and their error statuses, interrupts (INTx, MSI-X).
Every test runs on pyqemu and on the real QEMU 7.2 (qtest) with the same expectations,
which are what QEMU does."""
from __future__ import annotations

import io

import pytest
from conftest import unavailable
from nvme_support import (
    ACQ,
    BAR,
    DATA,
    UNASSIGNED,
    Drive,
    NvmeDriver,
    PyTarget,
    QemuTarget,
    Rig,
)
from qtest_support import qemu_available

from pyqemu.util import log

SERIAL = "deadbeef"
INVALID_OPCODE, INVALID_FIELD, INVALID_NSID, CMD_SEQ_ERROR = 0x1, 0x2, 0xB, 0xC
INVALID_PRP_OFFSET, INVALID_CQID, INVALID_QID, MAX_QSIZE = 0x13, 0x100, 0x101, 0x102
AER_LIMIT, INVALID_IRQ_VECTOR, INVALID_QUEUE_DEL, FID_NOT_SAVEABLE = 0x105, 0x108, 0x10C, 0x10D
FEAT_NOT_CHANGEABLE, DNR = 0x10E, 0x4000


@pytest.fixture
def image(tmp_path):  # noqa: ANN201
    path = tmp_path / "disk.raw"
    with open(path, "wb") as f:
        f.truncate(8 << 20)
    return str(path)


@pytest.fixture(params=["pyqemu", "qemu"])
def make(request):  # noqa: ANN201
    """make(rig) -> target: pyqemu's virt or QEMU's, both with the rig's drives and devices."""
    made = []

    def build(rig: Rig):  # noqa: ANN202
        if request.param == "qemu" and not qemu_available():
            unavailable("qemu-system-aarch64 not installed")
        t = (PyTarget if request.param == "pyqemu" else QemuTarget)(rig)
        made.append(t)
        return t

    yield build
    for t in made:
        t.close()


@pytest.fixture
def drv(make, image) -> NvmeDriver:  # noqa: ANN001
    return NvmeDriver(make(Rig([Drive("d0", image)], [f"nvme,drive=d0,serial={SERIAL}"])))


@pytest.fixture
def glog():  # noqa: ANN201
    """pyqemu's -d guest_errors,unimp log, captured."""
    buf = io.StringIO()
    old_out, old_mask = log._out, set(log._enabled)
    log._out = buf
    log.set_mask("guest_errors,unimp")
    yield buf
    log._out = old_out
    log._enabled.clear()
    log._enabled.update(old_mask)


# -- PCI ----------------------------------------------------------------------------------------------
def test_pci_identity_and_capabilities(drv: NvmeDriver) -> None:
    t = drv.t
    assert t.readl(drv.cfg(0x00)) == 0x00101B36                  # 1b36:0010
    assert t.readl(drv.cfg(0x08)) == 0x01080202                  # class 010802, revision 2
    assert t.readl(drv.cfg(0x2C)) == 0x11001AF4
    assert t.readl(drv.cfg(0x3C)) >> 8 & 0xFF == 1               # INTA
    # BAR0: 64-bit memory, 16 KiB (registers + doorbells, MSI-X table, PBA)
    t.writel(drv.cfg(0x10), 0xFFFFFFFF)
    t.writel(drv.cfg(0x14), 0xFFFFFFFF)
    assert (t.readl(drv.cfg(0x10)), t.readl(drv.cfg(0x14))) == (0xFFFFC004, 0xFFFFFFFF)
    # capabilities: MSI-X at 0x40 (65 vectors, table at BAR0+0x2000, PBA at +0x3000) -> PCIe at
    # 0x80 (root complex integrated endpoint, FLR) -> PM at 0x60
    assert t.readl(drv.cfg(0x34)) & 0xFF == 0x40
    assert t.readl(drv.cfg(0x40)) == 0x00408011
    assert (t.readl(drv.cfg(0x44)), t.readl(drv.cfg(0x48))) == (0x2000, 0x3000)
    assert t.readl(drv.cfg(0x80)) == 0x00926010
    assert t.readl(drv.cfg(0x84)) & 0x10000000                   # DEVCAP.FLR
    assert t.readl(drv.cfg(0x60)) == 0x00030001
    assert t.readl(drv.cfg(0x64)) == 0x00000008


# -- registers ----------------------------------------------------------------------------------------
def test_registers_after_reset(drv: NvmeDriver) -> None:
    drv.pci_setup()
    assert drv.reg(0x00, 8) == 0x004018200F0107FF                # CAP: MQES 2047, CQR, TO 15, CSS
    assert (drv.reg(0x00), drv.reg(0x04)) == (0x0F0107FF, 0x00401820)
    assert drv.reg(0x08) == 0x00010400                           # VS 1.4
    assert [drv.reg(o) for o in (0x0C, 0x10, 0x14, 0x1C, 0x24)] == [0, 0, 0, 0, 0]
    assert drv.t.readl(BAR + 0x1000) == 0                        # doorbells read as zero


def test_enable_and_disable(drv: NvmeDriver, glog: io.StringIO) -> None:
    drv.pci_setup()
    assert drv.enable() == 1                                     # CSTS.RDY
    assert drv.reg(0x14) == 0x460001
    assert drv.admin(0x06, prp1=DATA, cdw={10: 1}).status == 0
    assert drv.disable() == 0
    assert drv.reg(0x14) == 0                                    # CC cleared by the reset
    assert drv.reg(0x24) == 0x001F001F                           # AQA/ASQ/ACQ survive
    # with the controller disabled the admin queue is gone: a doorbell write is ignored
    drv.t.memwrite(ACQ, bytes(64))
    drv.t.writel(BAR + 0x1000, 1)
    assert not drv.t.settle(lambda: drv.t.memread(ACQ, 16) != bytes(16), 0.2)
    if isinstance(drv.t, PyTarget):
        assert "submission queue doorbell write for nonexistent queue, sqid=0" in glog.getvalue()
    # enabled again: the queues restart from slot 0, phase 1
    assert drv.enable() == 1
    c = drv.admin(0x06, prp1=DATA, cdw={10: 1})
    assert (c.status, c.sqhd) == (0, 1)


@pytest.mark.parametrize("what,cc,aqa,asq", [
    ("misaligned ASQ", 0x460001, 0x001F001F, 0x40100800),
    ("IOCQES 5", 0x560001, 0x001F001F, 0x40100000),
    ("IOSQES 7", 0x470001, 0x001F001F, 0x40100000),
    ("CSS 1", 0x460011, 0x001F001F, 0x40100000),
    ("MPS 64 KiB+", 0x460281, 0x001F001F, 0x40100000),
    ("ASQS 0", 0x460001, 0x001F0000, 0x40100000),
])
def test_enable_failure_sets_cfs(drv: NvmeDriver, what: str, cc: int, aqa: int, asq: int) -> None:
    drv.pci_setup()
    drv.set_reg(0x24, aqa)
    drv.set_reg(0x28, asq, 8)
    drv.set_reg(0x30, ACQ, 8)
    drv.set_reg(0x14, cc)
    assert drv.reg(0x1C) == 2, what                              # CSTS.CFS, not ready


def test_interrupt_mask_registers(drv: NvmeDriver) -> None:
    drv.pci_setup()
    drv.set_reg(0x0C, 0x5)
    assert (drv.reg(0x0C), drv.reg(0x10)) == (5, 5)
    drv.set_reg(0x10, 0x1)
    assert (drv.reg(0x0C), drv.reg(0x10)) == (4, 4)
    drv.set_reg(0x1C, 0x1)                                       # CSTS is read-only
    assert drv.reg(0x1C) == 0


# -- identify -----------------------------------------------------------------------------------------
def test_identify_controller(drv: NvmeDriver) -> None:
    drv.pci_setup()
    drv.enable()
    c, d = drv.identify(1)
    assert c.status == 0
    assert d[0:4] == bytes.fromhex("361bf41a")                   # vid 1b36, ssvid 1af4
    assert d[4:24] == SERIAL.ljust(20).encode()
    assert d[24:64] == b"QEMU NVMe Ctrl".ljust(40)
    assert d[64:67] == b"7.2"                                    # fr: the QEMU version
    expect = {0x48: "060054520007", 0x50: "00040100", 0x5C: "00010000", 0x60: "00800000",
              0x6F: "01", 0x100: "0a010303030700", 0x10A: "57017501", 0x200: "66440000",
              0x204: "00010000", 0x208: "5d01", 0x20D: "07", 0x216: "03000100",
              0x800: "c4090000", 0x804: "10000000", 0x808: "04000000"}
    for off, hexv in expect.items():
        assert d[off:off + len(hexv) // 2].hex() == hexv, hex(off)
    assert d[0x300:0x320].rstrip(b"\0") == b"nqn.2019-08.org.qemu:" + SERIAL.encode()
    known = set().union(*(range(o, o + len(h) // 2) for o, h in expect.items()),
                        range(0, 0x48), range(0x300, 0x320))
    assert all(d[i] == 0 for i in range(4096) if i not in known)


def test_identify_namespace_and_lists(drv: NvmeDriver) -> None:
    drv.pci_setup()
    drv.enable()
    c, d = drv.identify(0, nsid=1)
    assert c.status == 0
    assert d[0:24] == (16384).to_bytes(8, "little") * 3          # nsze, ncap, nuse: 8 MiB / 512
    assert d[24:29].hex() == "140700031f"                        # nsfeat nlbaf flbas mc dpc
    assert (d[33], d[68:72].hex()) == (1, "07000700")            # dlfeat, npdg/npda (4 KiB)
    assert d[128:160].hex() == ("00000900" "08000900" "10000900" "40000900"
                                "00000c00" "08000c00" "10000c00" "40000c00")
    c, d = drv.identify(0, nsid=2)                               # inactive: all zero
    assert (c.status, d) == (0, bytes(4096))
    c, d = drv.identify(2)                                       # active namespace list
    assert (c.status, d[:8]) == (0, bytes.fromhex("0100000000000000"))
    c, d = drv.identify(2, nsid=1)                               # ids above 1
    assert (c.status, d[:4]) == (0, bytes(4))
    c, d = drv.identify(3, nsid=1)                               # descriptors: CSI = NVM
    assert (c.status, d[:8]) == (0, bytes.fromhex("0401000000000000"))
    c, d = drv.identify(6)                                       # NVM controller data
    assert (c.status, d[:8]) == (0, bytes.fromhex("07000000ffff3f00"))
    assert drv.identify(0, nsid=0)[0].status == INVALID_NSID | DNR
    assert drv.identify(0, nsid=0xFFFFFFFF)[0].status == INVALID_NSID | DNR
    assert drv.identify(3, nsid=5)[0].status == INVALID_FIELD | DNR
    assert drv.identify(2, nsid=0xFFFFFFFE)[0].status == INVALID_NSID | DNR
    assert drv.identify(0x42)[0].status == INVALID_FIELD | DNR
    # a data pointer where nothing answers
    c = drv.admin(0x06, prp1=UNASSIGNED, cdw={10: 1})
    assert c.status == INVALID_FIELD | DNR or isinstance(drv.t, QemuTarget)


# -- features, logs, abort, events ----------------------------------------------------------------------
def test_get_set_features(drv: NvmeDriver) -> None:
    drv.pci_setup()
    drv.enable()

    def get(fid: int, sel: int = 0, **kw: int) -> tuple[int, int]:
        c = drv.admin(0x0A, cdw={10: sel << 8 | fid, 11: kw.get("dw11", 0)}, nsid=kw.get("nsid", 0))
        return c.status, c.dw0

    def set_(fid: int, dw11: int, nsid: int = 0, save: bool = False) -> tuple[int, int]:
        c = drv.admin(0x09, cdw={10: int(save) << 31 | fid, 11: dw11}, nsid=nsid)
        return c.status, c.dw0

    assert get(0x07) == (0, 0x003F003F)                          # 64 I/O queue pairs
    assert set_(0x07, 0x00030003) == (0, 0x003F003F)
    assert get(0x01) == (0, 7)                                   # arbitration: no burst limit
    assert get(0x04) == (0, 0x157)                               # temperature threshold
    assert set_(0x04, 0x160) == (0, 0)
    assert get(0x04) == (0, 0x160)
    assert get(0x04, sel=1) == (0, 0x157)                        # saved = default
    assert get(0x06) == (0, 1)                                   # volatile write cache on
    assert set_(0x06, 0) == (0, 0)
    assert get(0x06) == (0, 0)
    assert set_(0x06, 1) == (0, 0)
    assert get(0x06, sel=3) == (0, 4)                            # capabilities: changeable
    assert get(0x09, dw11=0) == (0, 0x10000)                     # vector 0: no coalescing
    assert get(0x09, dw11=65)[0] == INVALID_FIELD | DNR
    assert get(0x05, nsid=1) == (0, 0)
    assert get(0x05, nsid=0)[0] == INVALID_NSID | DNR
    assert get(0x05, nsid=9)[0] == INVALID_FIELD | DNR
    assert get(0x03)[0] == INVALID_FIELD | DNR                   # LBA range type: unsupported
    assert set_(0x0B, 0x2, save=True)[0] == FID_NOT_SAVEABLE | DNR
    assert set_(0x02, 0)[0] == FEAT_NOT_CHANGEABLE | DNR
    assert set_(0x06, 1, nsid=1)[0] == 0x10F | DNR               # not namespace specific
    assert set_(0x07, 0xFFFF)[0] == INVALID_FIELD | DNR
    drv.create_io_queues()
    assert set_(0x07, 0x00030003)[0] == CMD_SEQ_ERROR | DNR      # after queues exist


@pytest.mark.parametrize("make", ["pyqemu"], indirect=True)   # checks pyqemu itself
def test_volatile_write_cache_reaches_the_drive(make, image) -> None:  # noqa: ANN001
    t = make(Rig([Drive("d0", image)], [f"nvme,drive=d0,serial={SERIAL}"]))
    drv = NvmeDriver(t)
    drv.pci_setup()
    drv.enable()
    blk = t.blks[0]
    assert blk.enable_write_cache
    assert drv.admin(0x09, cdw={10: 0x06, 11: 0}).status == 0
    assert not blk.enable_write_cache
    assert drv.admin(0x09, cdw={10: 0x06, 11: 1}).status == 0
    assert blk.enable_write_cache


def test_writethrough_drive_reports_no_write_cache(make, image) -> None:  # noqa: ANN001
    t = make(Rig([Drive("d0", image, opts={"cache": "writethrough"})],
                 [f"nvme,drive=d0,serial={SERIAL}"]))
    drv = NvmeDriver(t)
    drv.pci_setup()
    drv.enable()
    assert drv.admin(0x0A, cdw={10: 0x06}).dw0 == 0


def test_get_log_page(drv: NvmeDriver) -> None:
    drv.pci_setup()
    drv.enable()

    def glp(lid: int, dwords: int, nsid: int = 0xFFFFFFFF, off: int = 0) -> tuple[int, bytes]:
        drv.t.memwrite(DATA, b"\xee" * 4096)
        c = drv.admin(0x02, nsid=nsid, prp1=DATA, cdw={10: (dwords - 1) << 16 | lid, 12: off})
        return c.status, drv.t.memread(DATA, 4 * dwords)

    st, smart = glp(0x02, 128)
    assert st == 0 and smart[0] == 0 and smart[1:3] == (0x143).to_bytes(2, "little")
    st, fw = glp(0x03, 128)
    assert (st, fw[:16]) == (0, b"\x01" + bytes(7) + b"1.0     ")
    st, err = glp(0x01, 16)
    assert (st, err) == (0, bytes(64))
    assert glp(0x02, 128, off=2)[0] == INVALID_FIELD | DNR       # offset not dword aligned
    assert glp(0x02, 128, off=512)[0] == INVALID_FIELD | DNR     # beyond the page
    assert glp(0x02, 128, nsid=7)[0] == INVALID_NSID | DNR
    assert glp(0x7F, 16)[0] == INVALID_FIELD | DNR


def test_abort_and_async_events(drv: NvmeDriver) -> None:
    drv.pci_setup()
    drv.enable()
    c = drv.admin(0x08, cdw={10: 7 << 16 | 0})                   # abort: "not aborted"
    assert (c.status, c.dw0) == (0, 1)
    assert drv.admin(0x08, cdw={10: 9}).status == INVALID_FIELD | DNR
    aers = [drv.submit(0, 0x0C) for _ in range(4)]               # AERL 3: four may wait
    assert not drv.t.settle(lambda: drv.peek(0), 0.2)
    over = drv.admin(0x0C)
    assert over.status == AER_LIMIT
    # an invalid doorbell write completes one of them with an error event
    drv.t.writel(BAR + 0x1000 + 8 * 5, 1)
    c = drv.reap(0)
    assert c.cid in aers and (c.status, c.dw0) == (0, 0x010000)  # error, invalid db reg, log 1


def test_unknown_and_unsupported_admin_opcodes(drv: NvmeDriver, glog: io.StringIO) -> None:
    drv.pci_setup()
    drv.enable()
    assert drv.admin(0x7E).status == INVALID_OPCODE | DNR
    assert drv.admin(0x06, cdw={10: 1}, prp1=DATA, flags=0x40).status == INVALID_FIELD | DNR  # SGL
    assert drv.admin(0x06, cdw={10: 1}, prp1=DATA, flags=0x01).status == INVALID_FIELD  # fused
    if isinstance(drv.t, PyTarget):
        assert "invalid admin opcode 0x7e" in glog.getvalue()


# -- queue management -----------------------------------------------------------------------------------
def test_create_delete_queue_errors(drv: NvmeDriver, glog: io.StringIO) -> None:
    drv.pci_setup()
    drv.enable()
    cq, sq = 0x40200000, 0x40201000

    def create_cq(qid: int, size: int = 16, addr: int = cq, vec: int = 0, flags: int = 3) -> int:
        return drv.admin(0x05, prp1=addr, cdw={10: (size - 1) << 16 | qid, 11: vec << 16 | flags}).status

    def create_sq(qid: int, cqid: int, size: int = 16, addr: int = sq, flags: int = 1) -> int:
        return drv.admin(0x01, prp1=addr, cdw={10: (size - 1) << 16 | qid, 11: cqid << 16 | flags}).status

    assert create_cq(0) == INVALID_QID | DNR
    assert create_cq(65) == INVALID_QID | DNR                    # above max_ioqpairs
    assert create_cq(1, size=1) == MAX_QSIZE | DNR               # qsize 0
    assert create_cq(1, size=2049) == MAX_QSIZE | DNR            # above MQES
    assert create_cq(1, addr=cq + 8) == INVALID_PRP_OFFSET | DNR
    assert create_cq(1, vec=1) == INVALID_IRQ_VECTOR | DNR       # MSI-X off: vector 0 only
    assert create_cq(1, flags=2) == INVALID_FIELD | DNR          # not physically contiguous
    assert create_cq(1) == 0
    assert create_cq(1) == INVALID_QID | DNR                     # exists
    assert create_sq(1, 2) == INVALID_CQID | DNR
    assert create_sq(1, 0) == INVALID_CQID | DNR
    assert create_sq(0, 1) == INVALID_QID | DNR
    assert create_sq(1, 1, size=1) == MAX_QSIZE | DNR
    assert create_sq(1, 1, addr=sq + 64) == INVALID_PRP_OFFSET | DNR
    assert create_sq(1, 1, flags=0) == INVALID_FIELD | DNR
    assert create_sq(1, 1) == 0
    assert drv.admin(0x04, cdw={10: 1}).status == INVALID_QUEUE_DEL   # CQ still has an SQ
    assert drv.admin(0x00, cdw={10: 2}).status == INVALID_QID | DNR
    assert drv.admin(0x00, cdw={10: 0}).status == INVALID_QID | DNR
    assert drv.admin(0x00, cdw={10: 1}).status == 0
    assert drv.admin(0x04, cdw={10: 1}).status == 0
    assert drv.admin(0x04, cdw={10: 1}).status == INVALID_CQID | DNR
    if isinstance(drv.t, PyTarget):
        assert "create CQ: invalid interrupt vector 1" in glog.getvalue()


# -- interrupts ---------------------------------------------------------------------------------------
def test_intx_follows_completions_and_intms(drv: NvmeDriver) -> None:
    drv.pci_setup()
    drv.enable()
    t = drv.t
    drv.submit(0, 0x06, prp1=DATA, cdw={10: 1})
    assert t.settle(lambda: t.intx() == 1)                       # completion: INTA asserted
    drv.reap(0, doorbell=False)
    assert t.intx() == 1
    drv.set_reg(0x0C, 1)                                         # INTMS vector 0: masked
    assert t.settle(lambda: t.intx() == 0)
    drv.set_reg(0x10, 1)                                         # INTMC: unmasked again
    assert t.settle(lambda: t.intx() == 1)
    drv.set_reg(0x1004, drv.queues[0].head)                      # host consumed it: deasserted
    assert t.settle(lambda: t.intx() == 0)
    drv.t.writew(drv.cfg(0x04), 0x406)                           # COMMAND.INTX_DISABLE
    drv.admin(0x06, prp1=DATA, cdw={10: 1}, )
    assert t.intx() == 0


def test_msix_vectors_per_queue(drv: NvmeDriver) -> None:
    drv.pci_setup()
    drv.msix_enable()
    assert drv.enable() == 1
    drv.msix_clear()
    drv.admin(0x06, prp1=DATA, cdw={10: 1})
    assert drv.t.settle(lambda: drv.msix_messages()[0] == 0x100)  # admin CQ: vector 0
    c1, c2 = drv.create_io_queues(1, vector=2)
    assert (c1.status, c2.status) == (0, 0)
    assert drv.create_io_queues(2, vector=65)[0].status == INVALID_IRQ_VECTOR | DNR
    drv.msix_clear()
    c = drv.write(1, 1, 0, b"\x5a" * 512)
    assert c.status == 0
    assert drv.t.settle(lambda: drv.msix_messages() == [0, 0, 0x102, 0])
    assert drv.t.intx() == 0                                     # no INTx with MSI-X


def test_reset_drops_io_queues(drv: NvmeDriver) -> None:
    drv.bringup()
    assert drv.write(1, 1, 0, b"\x11" * 512).status == 0
    drv.disable()
    assert drv.enable() == 1
    # queue 1 is gone: creating an SQ on CQ 1 fails, recreating both works
    c = drv.admin(0x01, prp1=0x40210000, cdw={10: 15 << 16 | 1, 11: 1 << 16 | 1})
    assert c.status == INVALID_CQID | DNR
    c1, c2 = drv.create_io_queues()
    assert (c1.status, c2.status) == (0, 0)
    c, data = drv.read(1, 1, 0, 1)
    assert (c.status, data) == (0, b"\x11" * 512)


def test_realize_errors() -> None:
    from pyqemu.hw.core.machine import create_machine
    from pyqemu.qom.object import QOMError
    from pyqemu.system import drives
    from pyqemu.system.machines import find_machine
    from pyqemu.system.qdev_add import device_add

    drives.clear()
    _, m = create_machine(find_machine("virt", "aarch64"), 128 << 20, {})
    cases = [({"driver": "nvme"}, "serial property not set"),
             ({"driver": "nvme", "serial": "x", "max_ioqpairs": "0"},
              "max_ioqpairs must be between 1 and 65535"),
             ({"driver": "nvme", "serial": "x", "msix_qsize": "0"}, "msix_qsize must be between 1 and 2048"),
             ({"driver": "nvme", "serial": "x", "drive": "nope"},
              "Property 'nvme.drive' can't find value 'nope'"),
             ({"driver": "nvme-ns", "drive": "x"}, "No 'nvme-bus' bus found for device 'nvme-ns'")]
    for opts, msg in cases:
        with pytest.raises(QOMError, match=msg):
            device_add(opts, m)


def test_shutdown_notification(drv: NvmeDriver) -> None:
    drv.pci_setup()
    assert drv.enable() == 1
    drv.set_reg(0x14, 0x464001)                                  # CC.SHN = normal shutdown
    assert drv.t.settle(lambda: drv.reg(0x1C) == 0x9)            # CSTS: RDY, SHST complete
    drv.set_reg(0x14, 0x460001)                                  # SHN cleared
    assert drv.reg(0x1C) == 0x1


def test_admin_only_command_set(drv: NvmeDriver) -> None:
    drv.pci_setup()
    assert drv.enable(cc=0x460071) == 1                          # CC.CSS = 7: admin only
    assert drv.identify(1)[0].status == 0
    c1, c2 = drv.create_io_queues()
    assert (c1.status, c2.status) == (0, 0)
    drv.t.memwrite(DATA, bytes(512))
    c = drv.cmd(1, 0x02, nsid=1, prp1=DATA, cdw={12: 0})
    assert c.status == INVALID_OPCODE | DNR


def test_function_level_reset(drv: NvmeDriver) -> None:
    drv.pci_setup()
    assert drv.enable() == 1
    drv.t.writew(drv.cfg(0x88), 0x8000)                          # PCIe DEVCTL.BCR_FLR
    assert drv.t.readl(drv.cfg(0x10)) == 0x4                     # the BAR is reset too
    drv.pci_setup()
    assert (drv.reg(0x14), drv.reg(0x1C)) == (0, 0)              # controller disabled
    assert drv.enable() == 1
    assert drv.identify(1)[0].status == 0


def test_write_cache_property(make, image) -> None:  # noqa: ANN001
    """``write-cache=off`` on a write-back drive: the controller reports no volatile cache."""
    t = make(Rig([Drive("d0", image)], [f"nvme,drive=d0,serial={SERIAL},write-cache=off"]))
    drv = NvmeDriver(t)
    drv.pci_setup()
    drv.enable()
    assert drv.admin(0x0A, cdw={10: 0x06}).dw0 == 0
