"""NVMe I/O through a driver's queues into real raw and qcow2 images: read/write with PRPs,
PRP lists (chained) and SGLs, flush reaching fdatasync, write zeroes, deallocate (discard),
compare, several namespaces, completion queue flow control, and the statuses of bad
commands. Runs on pyqemu and on QEMU 7.2 (qtest) with the same expectations; the images
are checked with the real qemu-img."""
from __future__ import annotations

import json
import os
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import unavailable
from nvme_support import (
    DATA,
    PAGE,
    PRP_LISTS,
    RAM,
    UNASSIGNED,
    Drive,
    NvmeDriver,
    PyTarget,
    Queue,
    Rig,
)
from test_nvme import SERIAL, glog, make  # noqa: F401 - fixtures

INVALID_OPCODE, INVALID_FIELD, DATA_TRAS_ERROR, INVALID_NSID = 0x1, 0x2, 0x4, 0xB
INVALID_PRP_OFFSET, LBA_RANGE, WRITE_FAULT, CMP_FAILURE, DNR = 0x13, 0x80, 0x280, 0x285, 0x4000
SIZE = 8 << 20


def qemu_img(*args: str) -> str:
    try:
        return subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        unavailable("qemu-img not installed")


def new_image(tmp_path: Path, fmt: str, name: str = "disk", size: int = SIZE) -> str:
    path = str(tmp_path / f"{name}.{fmt}")
    if fmt == "raw":
        with open(path, "wb") as f:
            f.truncate(size)
    else:
        qemu_img("create", "-q", "-f", fmt, path, str(size))
    return path


def image_bytes(path: str, fmt: str, tmp_path: Path) -> bytes:
    """The guest-visible contents, as the real qemu-img reads them."""
    if fmt == "qcow2":
        out = qemu_img("check", path)
        assert "No errors were found" in out
    raw = str(tmp_path / "converted.raw")
    qemu_img("convert", "-f", fmt, "-O", "raw", path, raw)
    return Path(raw).read_bytes()


def pattern(n: int, seed: int) -> bytes:
    """Test bytes that differ between blocks: a 509-byte (prime) cycle."""
    cycle = bytes((i * 7 + seed) & 0xFF for i in range(509))
    return (cycle * (n // 509 + 1))[:n]


def up(make, path: str, fmt: str = "raw", opts: dict | None = None, msix: bool = False,  # noqa: ANN001, F811
       extra: list[str] | None = None) -> NvmeDriver:
    t = make(Rig([Drive("d0", path, fmt, opts or {})], [f"nvme,drive=d0,serial={SERIAL}"] + (extra or [])))
    d = NvmeDriver(t)
    d.bringup(msix=msix)
    return d


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_read_write_into_image(make, tmp_path: Path, fmt: str) -> None:  # noqa: ANN001, F811
    path = new_image(tmp_path, fmt)
    d = up(make, path, fmt, msix=True)
    expect = bytearray(SIZE)
    # (LBA, blocks): one block, two pages (PRP2 is data), a PRP list, MDTS (512 KiB = 128 pages)
    for i, (lba, nlb) in enumerate([(0, 1), (9, 16), (100, 64), (2048, 1024), (SIZE // 512 - 3, 3)]):
        data = pattern(nlb * 512, i)
        c = d.write(1, 1, lba, data)
        assert c.status == 0 and c.sqid == 1
        expect[lba * 512:(lba + nlb) * 512] = data
    for lba, nlb in [(0, 1), (9, 16), (100, 64), (2048, 1024), (SIZE // 512 - 3, 3)]:
        c, got = d.read(1, 1, lba, nlb)
        assert c.status == 0
        assert got == expect[lba * 512:(lba + nlb) * 512]
    # a buffer that starts inside a page: PRP1 has an offset, the rest follows in a list
    buf = DATA + 0x600
    data = pattern(16 * 512, 99)
    d.t.memwrite(buf, data)
    prp2 = PRP_LISTS
    d.t.memwrite(prp2, struct.pack("<QQ", DATA + PAGE, DATA + 2 * PAGE))
    c = d.cmd(1, 0x01, nsid=1, prp1=buf, prp2=prp2, cdw={10: 300, 12: 15})
    assert c.status == 0
    expect[300 * 512:316 * 512] = data
    assert d.cmd(1, 0x00, nsid=1).status == 0                 # flush
    d.t.close()
    assert image_bytes(path, fmt, tmp_path) == bytes(expect)


def test_chained_prp_list(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    d = up(make, new_image(tmp_path, "raw"))
    data = pattern(3 * PAGE, 5)
    d.t.memwrite(DATA, data)
    # PRP2 points at the last entry of a page: that entry is the pointer to the next list
    first = PRP_LISTS + PAGE - 8
    d.t.memwrite(first, struct.pack("<Q", PRP_LISTS + PAGE))
    d.t.memwrite(PRP_LISTS + PAGE, struct.pack("<QQ", DATA + PAGE, DATA + 2 * PAGE))
    assert d.cmd(1, 0x01, nsid=1, prp1=DATA, prp2=first, cdw={10: 0, 12: 23}).status == 0
    c, got = d.read(1, 1, 0, 24)
    assert (c.status, got) == (0, data)
    # a chain pointer that is not page aligned
    d.t.memwrite(first, struct.pack("<Q", PRP_LISTS + PAGE + 8))
    assert d.cmd(1, 0x02, nsid=1, prp1=DATA, prp2=first, cdw={12: 23}).status == INVALID_PRP_OFFSET | DNR


def test_sgl_data_pointers(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    d = up(make, new_image(tmp_path, "raw"))
    data = pattern(4096, 3)
    d.t.memwrite(DATA, data)
    # a single data block descriptor in the command
    c = d.cmd(1, 0x01, nsid=1, flags=0x40, prp1=0, cdw={6: DATA & 0xFFFFFFFF, 7: DATA >> 32,
                                                        8: 4096, 9: 0, 12: 7})
    assert c.status == 0
    # a last segment of two data blocks, out of order in memory
    seg = RAM + 0x190000
    d.t.memwrite(seg, struct.pack("<QI3xBQI3xB", DATA + 0x2000, 2048, 0, DATA + 0x1000, 2048, 0))
    d.t.memwrite(DATA + 0x2000, data[:2048])
    d.t.memwrite(DATA + 0x1000, data[2048:])
    c = d.cmd(1, 0x01, nsid=1, flags=0x40, cdw={6: seg & 0xFFFFFFFF, 7: seg >> 32, 8: 32,
                                                 9: 0x30 << 24, 10: 8, 12: 7})
    assert c.status == 0
    c, got = d.read(1, 1, 0, 16)
    assert (c.status, got) == (0, data + data)
    # an SGL that is shorter than the transfer
    c = d.cmd(1, 0x02, nsid=1, flags=0x40, cdw={6: DATA & 0xFFFFFFFF, 7: DATA >> 32, 8: 512, 12: 7})
    assert c.status == 0x0F | DNR                                # Data SGL Length Invalid


def test_write_zeroes_and_deallocate_free_clusters(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    path = new_image(tmp_path, "qcow2")
    d = up(make, path, "qcow2", opts={"discard": "unmap"})
    data = pattern(1 << 20, 1)
    for i in range(8):       # 1 MiB at LBA 2048, in 128 KiB writes
        assert d.write(1, 1, 2048 + 256 * i, data[i << 17:(i + 1) << 17]).status == 0
    assert d.write(1, 1, 8192, pattern(1 << 17, 2)).status == 0
    # deallocate the first 1 MiB (and a range beyond the end, which is skipped)
    d.t.memwrite(DATA, struct.pack("<IIQIIQ", 0, 2048, 2048, 0, 16, SIZE // 512))
    c = d.cmd(1, 0x09, nsid=1, prp1=DATA, cdw={10: 1, 11: 1 << 2})
    assert c.status == 0
    c, got = d.read(1, 1, 2048, 16)
    assert (c.status, got) == (0, bytes(8192))                  # deallocated reads as zeroes
    # write zeroes over the second range
    assert d.cmd(1, 0x08, nsid=1, cdw={10: 8192, 12: 255}).status == 0
    c, got = d.read(1, 1, 8192, 16)
    assert (c.status, got) == (0, bytes(8192))
    # DSM without the deallocate attribute does nothing
    assert d.write(1, 1, 0, pattern(512, 4)).status == 0
    d.t.memwrite(DATA, struct.pack("<IIQ", 0, 1, 0))
    assert d.cmd(1, 0x09, nsid=1, prp1=DATA, cdw={10: 0, 11: 0}).status == 0
    assert d.read(1, 1, 0, 1)[1] == pattern(512, 4)
    d.t.close()
    mapping = json.loads(qemu_img("map", "--output=json", path))
    data_ranges = [(m["start"], m["length"]) for m in mapping if m["data"]]
    assert data_ranges == [(0, 65536)]                           # only the 512-byte write remains
    assert image_bytes(path, "qcow2", tmp_path)[:512] == pattern(512, 4)


def test_discard_ignore_keeps_clusters(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    path = new_image(tmp_path, "qcow2")
    d = up(make, path, "qcow2")                                  # discard=ignore (the default)
    assert d.write(1, 1, 2048, pattern(1 << 17, 1)).status == 0
    d.t.memwrite(DATA, struct.pack("<IIQ", 0, 256, 2048))
    assert d.cmd(1, 0x09, nsid=1, prp1=DATA, cdw={10: 0, 11: 1 << 2}).status == 0
    d.t.close()
    mapping = json.loads(qemu_img("map", "--output=json", path))
    assert [(m["start"], m["length"]) for m in mapping if m["data"]] == [(1 << 20, 1 << 17)]


def _image_syncs(monkeypatch, path: Path) -> list[int]:  # noqa: ANN001
    """The fds of ``path`` that os.fdatasync is called on from now on (only the image's: a
    finalizer may sync another file meanwhile)."""
    calls: list[int] = []
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        if os.path.realpath(f"/proc/self/fd/{fd}") == os.path.realpath(path):
            calls.append(fd)
        real(fd)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    return calls


@pytest.mark.parametrize("make", ["pyqemu"], indirect=True)   # checks pyqemu itself
def test_flush_reaches_fdatasync(make, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001, F811
    path = new_image(tmp_path, "raw")
    calls = _image_syncs(monkeypatch, path)
    d = up(make, path)
    assert d.write(1, 1, 0, pattern(4096, 1)).status == 0
    assert calls == []                                           # write-back cache: no sync yet
    assert d.cmd(1, 0x00, nsid=1).status == 0
    assert len(calls) == 1                                       # the flush completed after it
    assert d.cmd(1, 0x00, nsid=0xFFFFFFFF).status == 0           # broadcast flush
    assert len(calls) == 2
    # the guest turns the write cache off: each write is synced before it completes
    assert d.admin(0x09, cdw={10: 0x06, 11: 0}).status == 0
    n = len(calls)
    assert d.write(1, 1, 0, pattern(4096, 2)).status == 0
    assert len(calls) == n + 1


@pytest.mark.parametrize("make", ["pyqemu"], indirect=True)   # checks pyqemu itself
def test_writethrough_drive_syncs_each_write(make, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001, F811
    path = new_image(tmp_path, "raw")
    calls = _image_syncs(monkeypatch, path)
    d = up(make, path, opts={"cache": "writethrough"})
    assert d.write(1, 1, 0, pattern(1024, 1)).status == 0
    assert d.cmd(1, 0x08, nsid=1, cdw={10: 8, 12: 0}).status == 0
    assert len(calls) == 2


def test_compare(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    d = up(make, new_image(tmp_path, "raw"))
    data = pattern(1024, 8)
    assert d.write(1, 1, 4, data).status == 0
    d.t.memwrite(DATA, data)
    assert d.rw(1, 0x05, 1, 4, 2).status == 0
    d.t.memwrite(DATA + 700, b"\x00")
    assert d.rw(1, 0x05, 1, 4, 2).status & 0x7FF == CMP_FAILURE


def test_bad_io_commands(make, tmp_path: Path, glog) -> None:  # noqa: ANN001, F811
    d = up(make, new_image(tmp_path, "raw"))
    nsze = SIZE // 512
    cases = {
        "LBA out of range": (d.rw(1, 0x02, 1, nsze, 1), LBA_RANGE | DNR),
        "crossing the end": (d.rw(1, 0x01, 1, nsze - 1, 2), LBA_RANGE | DNR),
        "write zeroes crossing the end": (d.cmd(1, 0x08, nsid=1, cdw={10: nsze - 1, 12: 1}),
                                          LBA_RANGE | DNR),
        "MDTS exceeded": (d.rw(1, 0x02, 1, 0, 1025), INVALID_FIELD | DNR),
        "invalid opcode": (d.cmd(1, 0x7F, nsid=1), INVALID_OPCODE | DNR),
        "nsid 0": (d.rw(1, 0x02, 0, 0, 1), INVALID_NSID | DNR),
        "nsid above 256": (d.rw(1, 0x02, 300, 0, 1), INVALID_NSID | DNR),
        "inactive namespace": (d.rw(1, 0x02, 2, 0, 1), INVALID_FIELD | DNR),
        "flush of an inactive namespace": (d.cmd(1, 0x00, nsid=3), INVALID_FIELD | DNR),
        "PRP2 not page aligned": (d.rw(1, 0x02, 1, 0, 16, prp2=DATA + PAGE + 8), INVALID_PRP_OFFSET | DNR),
        "PRP list unreadable": (d.rw(1, 0x02, 1, 0, 24, prp2=UNASSIGNED), DATA_TRAS_ERROR | DNR),
        "fused": (d.rw(1, 0x02, 1, 0, 1, flags=1), INVALID_FIELD),
    }
    d.t.memwrite(PRP_LISTS + 0x8000, struct.pack("<QQ", DATA + PAGE + 0x10, DATA + 2 * PAGE))
    cases["PRP list entry not page aligned"] = (d.rw(1, 0x02, 1, 0, 24, prp2=PRP_LISTS + 0x8000),
                                                INVALID_PRP_OFFSET | DNR)
    got = {k: v[0].status for k, v in cases.items()}
    assert got == {k: v[1] for k, v in cases.items()}
    if isinstance(d.t, PyTarget):   # each one is in the -d guest_errors,unimp log
        text = glog.getvalue()
        for msg in (f"READ LBA {nsze}+1 is beyond the namespace", f"WRITE LBA {nsze - 1}+2 is beyond",
                    f"WRITE_ZEROES LBA {nsze - 1}+2 is beyond", "READ of 524800 bytes exceeds MDTS",
                    "invalid I/O opcode 0x7f", "with invalid nsid 0", "with invalid nsid 300",
                    "for inactive namespace 2", "for inactive namespace 3",
                    "PRP2 0x40201008 is not page aligned", f"cannot read PRP list at 0x{UNASSIGNED:x}",
                    "PRP list entry 0x40201010 is not page aligned", "fused operations are not supported"):
            assert msg in text, msg
    # the controller is still working
    assert d.write(1, 1, 0, pattern(512, 1)).status == 0


@pytest.mark.parametrize("make", ["pyqemu"], indirect=True)   # checks pyqemu itself
def test_bad_data_addresses_fail_the_command(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    """pyqemu fails a transfer where nothing answers (QEMU 7.2 drops the data silently)."""
    d = up(make, new_image(tmp_path, "raw"))
    import io

    from pyqemu.util import log
    buf = io.StringIO()
    old, log._out = log._out, buf
    log.set_mask("guest_errors")
    try:
        assert d.rw(1, 0x01, 1, 0, 1, prp1=UNASSIGNED).status == DATA_TRAS_ERROR | DNR
        assert d.rw(1, 0x02, 1, 0, 1, prp1=UNASSIGNED).status == DATA_TRAS_ERROR | DNR
        assert d.rw(1, 0x02, 1, 0, 2, prp1=DATA + PAGE - 512, prp2=UNASSIGNED & ~0xFFF
                    ).status == DATA_TRAS_ERROR | DNR
    finally:
        log._out = old
        log.set_mask("")
    assert f"DMA read from 0x{UNASSIGNED:x} failed" in buf.getvalue()
    assert f"DMA write to 0x{UNASSIGNED:x} failed" in buf.getvalue()


def test_read_only_drive(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    path = new_image(tmp_path, "raw")
    Path(path).write_bytes(pattern(SIZE, 6))
    d = up(make, path, opts={"readonly": "on"})
    c, got = d.read(1, 1, 0, 8)
    assert (c.status, got) == (0, pattern(4096, 6))
    assert d.write(1, 1, 0, bytes(512)).status == WRITE_FAULT


def test_completion_queue_flow_control(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    """More commands than the CQ holds: completions wait until the host frees entries."""
    d = up(make, new_image(tmp_path, "raw"))
    qid, sq, cq = 2, RAM + 0x140000, RAM + 0x150000
    d.t.memwrite(cq, bytes(64))
    assert d.admin(0x05, prp1=cq, cdw={10: 3 << 16 | qid, 11: 3}).status == 0     # 4 entries
    assert d.admin(0x01, prp1=sq, cdw={10: 15 << 16 | qid, 11: qid << 16 | 1}).status == 0
    d.queues[qid] = Queue(qid, sq, cq, 16, cq_size=4)
    cids = [d.submit(qid, 0x02, nsid=1, prp1=DATA + PAGE * i, cdw={12: 0}, ring=False) for i in range(8)]
    d.ring(qid)
    # the CQ has 4 slots, one always empty: 3 completions now, the rest as the head moves
    got = []
    for _ in range(8):
        c = d.reap(qid)
        assert c.status == 0
        got.append(c.cid)
    assert sorted(got) == sorted(cids)


def test_two_namespaces(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    p1, p2 = new_image(tmp_path, "raw", "a"), new_image(tmp_path, "qcow2", "b", 4 << 20)
    t = make(Rig([Drive("d1", p1), Drive("d2", p2, "qcow2")],
                 ["nvme,id=n0,serial=x", "nvme-ns,bus=n0,drive=d1,nsid=1",
                  "nvme-ns,bus=n0,drive=d2,nsid=2,logical_block_size=4096,physical_block_size=4096"]))
    d = NvmeDriver(t)
    d.bringup()
    c, lst = d.identify(2)
    assert lst[:12] == struct.pack("<III", 1, 2, 0)
    c, ns2 = d.identify(0, nsid=2)
    assert struct.unpack_from("<Q", ns2, 0)[0] == 1024          # 4 MiB / 4 KiB
    assert ns2[26] == 4 and ns2[68:72] == bytes.fromhex("0f000f00")  # flbas 4 KiB; npdg: cluster
    assert d.write(1, 1, 1, pattern(512, 1)).status == 0
    assert d.write(1, 2, 1, pattern(4096, 2), lbasz=4096).status == 0
    assert d.rw(1, 0x02, 2, 1024, 1, lbasz=4096).status == LBA_RANGE | DNR
    assert d.cmd(1, 0x00, nsid=0xFFFFFFFF).status == 0
    t.close()
    assert image_bytes(p1, "raw", tmp_path)[512:1024] == pattern(512, 1)
    assert image_bytes(p2, "qcow2", tmp_path)[4096:8192] == pattern(4096, 2)


def test_nvme_ns_errors(tmp_path: Path) -> None:
    from pyqemu.block.block_backend import BlockBackend
    from pyqemu.block.registry import open_image
    from pyqemu.hw.core.machine import create_machine
    from pyqemu.qom.object import QOMError
    from pyqemu.system import drives
    from pyqemu.system.machines import find_machine
    from pyqemu.system.qdev_add import device_add

    drives.clear()
    _, m = create_machine(find_machine("virt", "aarch64"), 128 << 20, {})
    blks = [BlockBackend(open_image(new_image(tmp_path, "raw", n), "raw", read_only=False), name=n)
            for n in ("d0", "d1")]
    for b in blks:
        drives.register_backend(b)
    try:
        device_add({"driver": "nvme", "id": "n0", "serial": "x", "drive": "d0"}, m)
        for opts, msg in [({}, "block backend not configured"),
                          ({"drive": "d0"}, "Drive 'd0' is already in use by another device"),
                          ({"drive": "d1", "nsid": "1"}, "namespace id '1' already allocated"),
                          ({"drive": "d1", "logical_block_size": "1000"},
                           "Property .logical_block_size doesn't take value '1000', it's not a power of 2")]:
            with pytest.raises(QOMError, match=msg):
                device_add({"driver": "nvme-ns", "bus": "n0", **opts}, m)
        ns = device_add({"driver": "nvme-ns", "bus": "n0", "drive": "d1"}, m)
        assert ns.nsid == 2                                      # the first free id
    finally:
        for b in blks:
            b.close()
        drives.clear()


def test_shadow_doorbells(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    """Doorbell Buffer Config (as Linux uses it): I/O queue tails and heads in guest memory,
    the controller's event indexes beside them."""
    d = up(make, new_image(tmp_path, "raw"))
    dbs, eis = RAM + 0x1A0000, RAM + 0x1A1000
    d.t.memwrite(dbs, bytes(PAGE))
    d.t.memwrite(eis, b"\xff" * PAGE)
    assert d.admin(0x7C, prp1=dbs + 8, prp2=eis).status == INVALID_FIELD | DNR
    assert d.admin(0x7C, prp1=dbs, prp2=eis).status == 0
    # the existing I/O queue's doorbells were copied out (SQ1 tail 0, CQ1 head 0)
    assert struct.unpack("<II", d.t.memread(dbs + 8, 8)) == (0, 0)
    for i in range(3):
        data = pattern(512, 20 + i)
        d.t.memwrite(DATA, data)
        q = d.queues[1]
        d.submit(1, 0x01, nsid=1, prp1=DATA, cdw={10: i, 12: 0}, ring=False)
        d.t.writel(dbs + 8, q.tail)                              # shadow tail, then the doorbell
        d.ring(1)
        c = d.reap(1, doorbell=False)
        d.t.writel(dbs + 12, q.head)                             # shadow head
        d.set_reg(0x1004 + 8, q.head)
        assert c.status == 0
    assert struct.unpack("<I", d.t.memread(eis + 8, 4))[0] == 3   # the SQ tail it has seen
    # a doorbell write alone no longer moves the tail: the shadow value counts
    d.t.memwrite(DATA, bytes(1536))
    d.submit(1, 0x02, nsid=1, prp1=DATA, cdw={10: 0, 12: 2})
    assert not d.t.settle(lambda: d.peek(1), 0.3)
    d.t.writel(dbs + 8, d.queues[1].tail)
    d.ring(1)
    assert d.reap(1).status == 0
    assert d.t.memread(DATA, 1536) == pattern(512, 20) + pattern(512, 21) + pattern(512, 22)


def test_info_qtree_matches_qemu(tmp_path: Path) -> None:
    """``info qtree`` of a controller with an nvme-ns: QEMU's properties, values and bus."""
    from qtest_support import QEMU, qemu_available, qtree_device

    from pyqemu.hw.core.machine import create_machine
    from pyqemu.system.machines import find_machine

    if not qemu_available():
        unavailable("qemu-system-aarch64 not installed")
    path = new_image(tmp_path, "raw")
    args = ["-drive", f"if=none,id=d1,file={path},format=raw", "-device", "nvme,serial=x,id=n0",
            "-device", "nvme-ns,drive=d1"]
    out = subprocess.run([QEMU, "-M", "virt", "-display", "none", "-nic", "none", "-S", "-monitor", "stdio",
                          "-serial", "null", *args], input="info qtree\nquit\n", capture_output=True,
                         text=True, timeout=30).stdout.replace("\r", "").splitlines()
    start = next(i for i, ln in enumerate(out) if ln.strip() == 'dev: nvme, id "n0"')
    indent = len(out[start]) - len(out[start].lstrip())
    want = []
    for ln in out[start + 1:]:
        if len(ln) - len(ln.lstrip()) <= indent:
            break
        want.append(ln.strip())

    from pyqemu.block.block_backend import BlockBackend
    from pyqemu.block.registry import open_image
    from pyqemu.system import drives
    from pyqemu.system.qdev_add import device_add
    drives.clear()
    blk = drives.register_backend(BlockBackend(open_image(path, "raw", read_only=False), name="d1"))
    try:
        _, m = create_machine(find_machine("virt", "aarch64"), 128 << 20, {})
        ctrl = device_add({"driver": "nvme", "serial": "x", "id": "n0"}, m)
        device_add({"driver": "nvme-ns", "drive": "d1"}, m)
        got = qtree_device(ctrl)
    finally:
        blk.close()
        drives.clear()
    def strip(lines: list[str]) -> list[str]:   # where the BAR is is the firmware's business
        return [ln for ln in lines if not ln.startswith("bar 0")]
    assert strip(got) == strip(want)


@pytest.mark.parametrize("make", ["pyqemu"], indirect=True)   # checks pyqemu itself
def test_reset_with_io_in_flight(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    """CC.EN=0 while a read is in flight: no completion and no DMA after the reset."""
    path = new_image(tmp_path, "raw")
    Path(path).write_bytes(pattern(SIZE, 9))
    d = up(make, path)
    d.t.memwrite(DATA, b"\xee" * 4096)
    d.submit(1, 0x02, nsid=1, prp1=DATA, cdw={10: 0, 12: 7})   # submitted to the block layer
    d.disable()                                                 # reset before it completes
    d.t.blks[0].drain()
    d.t.settle(lambda: False, 0.2)
    assert d.t.memread(DATA, 4096) == b"\xee" * 4096
    assert d.t.memread(RAM + 0x118000 + 0x10000, 16) == bytes(16)   # I/O CQ untouched
    assert d.enable() == 1 and d.create_io_queues()[1].status == 0
    c, got = d.read(1, 1, 0, 8)
    assert (c.status, got) == (0, pattern(4096, 9))


def test_smart_log_counts_io(make, tmp_path: Path) -> None:  # noqa: ANN001, F811
    d = up(make, new_image(tmp_path, "raw"))
    assert d.write(1, 1, 0, pattern(4096, 1)).status == 0
    for _ in range(3):
        assert d.read(1, 1, 0, 2)[0].status == 0
    d.t.memwrite(DATA, bytes(512))
    assert d.admin(0x02, nsid=0xFFFFFFFF, prp1=DATA, cdw={10: 127 << 16 | 0x02}).status == 0
    smart = d.t.memread(DATA, 512)
    units_read, units_written = struct.unpack_from("<Q8xQ", smart, 32)
    reads, writes = struct.unpack_from("<Q8xQ", smart, 64)
    assert (units_read, units_written, reads, writes) == (1, 1, 3, 1)   # 1000-sector units, rounded up
