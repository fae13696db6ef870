"""virtio-blk-device on a virtio-mmio transport, driven as a guest driver would (legacy and
modern): features and config as QEMU 7.2 offers them, requests landing in real raw/qcow2
images, flush reaching fdatasync, GET_ID, discard/write-zeroes freeing qcow2 clusters,
read-only drives, and the device on the highest transport of -M virt."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess

import pytest
from conftest import unavailable
from qtest_support import QemuQtest, qemu_available
from virtio_qtest import (
    CONFIG,
    DEV_FEAT,
    DEV_FEAT_SEL,
    DEVICE_ID,
    ISR,
    ISR_ACK,
    STATUS,
    T_DISCARD,
    T_FLUSH,
    T_GET_ID,
    T_IN,
    T_OUT,
    T_WZ,
    Driver,
    loop_fixture,  # noqa: F401 - the loop fixture
    make_bench,
    new_loop,
    open_blk,
    sparse_raw,
)

from pyqemu.hw.virtio.virtio_blk import VirtIOBlock
from pyqemu.qom.object import QOMError

MiB = 1 << 20
QEMU_BASE = 0x0A003E00      # the transport QEMU puts the first -device virtio-*-device on

# What QEMU 7.2 offers for a 64 MiB raw drive (read with the monitor / qtest on real QEMU):
# SEG_MAX GEOMETRY BLK_SIZE FLUSH TOPOLOGY CONFIG_WCE DISCARD WRITE_ZEROES INDIRECT EVENT_IDX,
# legacy adds SCSI and NOTIFY_ON_EMPTY, modern VERSION_1 and RING_RESET.
LEGACY_FEATURES = 0x31006ED4
MODERN_FEATURES = 0x101_30006E54
CONFIG_64M = bytes.fromhex("000002000000000000000000fe0000008200103f00020000000000000000000001000100"
                           "ffff3f000100000001000000ffff3f000100000001")


@pytest.fixture
def raw(tmp_path):
    return sparse_raw(tmp_path / "disk.raw", 64 * MiB)


def bench(loop, path, *, modern=True, fmt="raw", read_only=False, blk_opts=None, **props):
    blk = open_blk(path, fmt, loop, read_only=read_only, **(blk_opts or {}))
    b, t, dev, probe = make_bench(blk, modern=modern, **props)
    return Driver(b, loop, modern), dev, probe, blk


@pytest.mark.parametrize("modern", [False, True])
def test_features_and_config_as_qemu(loop, raw, modern) -> None:
    d, dev, _, blk = bench(loop, raw, modern=modern)
    assert d.r(DEVICE_ID) == 2
    assert d.features() == (MODERN_FEATURES if modern else LEGACY_FEATURES)
    assert d.b.memread(d.base + CONFIG, 57) == CONFIG_64M
    # past the 57-byte config space: all ones, as QEMU's virtio_config_read*
    assert d.b.readl(d.base + CONFIG + 56) == 0xFFFFFFFF and d.b.readb(d.base + CONFIG + 56) == 1
    blk.close()


def test_feature_bits_follow_properties(loop, raw) -> None:
    d, _, _, blk = bench(loop, raw, num_queues=2, discard=False, queue_size=128, serial="x")
    f = d.features()
    assert f >> 12 & 1 and not f >> 13 & 1          # MQ on, DISCARD off
    cfg = d.b.memread(d.base + CONFIG, 57)
    assert struct.unpack_from("<I", cfg, 12)[0] == 126          # seg_max = queue-size - 2
    assert struct.unpack_from("<H", cfg, 34)[0] == 2            # num_queues
    assert cfg[36:48] == bytes(12)                               # no discard limits
    blk.close()


def test_bad_properties_are_refused(loop, raw) -> None:
    blk = open_blk(raw, "raw", loop)
    for props, msg in (({"queue_size": 100}, "must be a power of 2"), ({"queue_size": 2}, "must be > 2"),
                       ({"num_queues": 0}, "larger than 0"),
                       ({"max_discard_sectors": 0}, "invalid max-discard-sectors property (0)"),
                       ({"cyls": 3}, "cyls, heads and secs must be specified together")):
        with pytest.raises(QOMError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            make_bench(blk, modern=True, **props)
    blk.close()


@pytest.mark.parametrize("modern", [False, True])
def test_write_lands_in_the_image_and_reads_back(loop, raw, modern) -> None:
    d, _, probe, blk = bench(loop, raw, modern=modern)
    d.init()
    data = bytes(range(256)) * 8                                  # 4 sectors
    assert d.blk_req(T_OUT, 10, data) == (0, b"", 1)              # used len: the status byte
    assert probe[0] == 1 and d.r(ISR) == 1
    d.w(ISR_ACK, 1)
    assert probe[0] == 0
    status, got, used = d.blk_req(T_IN, 10, in_len=len(data))
    assert (status, got, used) == (0, data, len(data) + 1)
    # the same bytes through an indirect table
    assert d.blk_req(T_IN, 11, in_len=512, indirect=True)[:2] == (0, data[512:1024])
    blk.close()
    with open(raw, "rb") as f:
        f.seek(10 * 512)
        assert f.read(len(data)) == data


def test_errors_and_unsupported_requests(loop, raw) -> None:
    d, _, _, blk = bench(loop, raw)
    d.init()
    end = 64 * MiB // 512
    assert d.blk_req(T_IN, end, in_len=512)[0] == 1               # past the end: IOERR
    assert d.blk_req(T_IN, end - 1, in_len=1024)[0] == 1          # straddles the end
    assert d.blk_req(T_OUT, 0, b"x" * 100)[0] == 1                # not a whole sector
    assert d.blk_req(T_IN, end - 1, in_len=512)[0] == 0
    assert d.blk_req(2)[0] == 2                                   # SCSI_CMD: UNSUPP
    assert d.blk_req(0x55)[0] == 2
    # discard with the UNMAP flag, or unknown flags: UNSUPP (virtio spec 5.2.6.2)
    assert d.blk_req(T_DISCARD, out=struct.pack("<QII", 0, 8, 1))[0] == 2
    assert d.blk_req(T_WZ, out=struct.pack("<QII", 0, 8, 2))[0] == 2
    assert d.blk_req(T_WZ, out=struct.pack("<QII", end - 4, 8, 0))[0] == 1
    blk.close()


def test_get_id(loop, raw) -> None:
    d, _, _, blk = bench(loop, raw, serial="SER-123")
    d.init()
    assert d.blk_req(T_GET_ID, in_len=20)[:2] == (0, b"SER-123\0" + bytes(12))
    assert d.blk_req(T_GET_ID, in_len=4)[:2] == (0, b"SER-")       # truncated to the buffer
    blk.close()
    d, _, _, blk = bench(loop, raw, serial="A" * 25)
    d.init()
    assert d.blk_req(T_GET_ID, in_len=20)[1] == b"A" * 20            # 20 bytes, no NUL
    blk.close()


@pytest.fixture
def fdatasyncs(monkeypatch):
    calls = []
    real = os.fdatasync

    def counting(fd):
        calls.append(fd)
        return real(fd)
    monkeypatch.setattr(os, "fdatasync", counting)
    return calls


def test_flush_reaches_fdatasync(loop, raw, fdatasyncs) -> None:
    d, _, _, blk = bench(loop, raw)
    d.init()
    assert d.blk_req(T_OUT, 0, b"a" * 512)[0] == 0
    assert fdatasyncs == []                                       # writeback: no sync per write
    assert d.blk_req(T_FLUSH) == (0, b"", 1)
    assert len(fdatasyncs) == 1
    blk.close()


def test_writethrough_flushes_each_write_until_the_guest_enables_wce(loop, raw, fdatasyncs) -> None:
    d, _, _, blk = bench(loop, raw, blk_opts={"writeback": False})
    d.init()
    assert d.b.readb(d.base + CONFIG + 32) == 0                   # writeback field: cache off
    assert d.blk_req(T_OUT, 0, b"a" * 512)[0] == 0
    assert len(fdatasyncs) == 1
    d.b.writeb(d.base + CONFIG + 32, 1)                           # CONFIG_WCE: turn the cache on
    assert blk.enable_write_cache
    assert d.blk_req(T_OUT, 1, b"b" * 512)[0] == 0
    assert len(fdatasyncs) == 1
    d.w(STATUS, 0)                                                # reset: back to the drive's mode
    assert not blk.enable_write_cache
    blk.close()


def test_driver_without_config_wce_gets_the_mode_it_negotiated(loop, raw) -> None:
    d, _, _, blk = bench(loop, raw, blk_opts={"writeback": False})
    d.init(drop=1 << 11)                                          # FLUSH but no CONFIG_WCE
    assert blk.enable_write_cache
    d.init(drop=(1 << 11) | (1 << 9))                             # neither: writethrough
    assert not blk.enable_write_cache
    blk.close()


def test_read_only_drive(loop, raw) -> None:
    with open(raw, "r+b") as f:
        f.write(b"\x5a" * 512)
    d, _, _, blk = bench(loop, raw, read_only=True)
    assert d.features() >> 5 & 1                                  # VIRTIO_BLK_F_RO
    d.init()
    assert d.blk_req(T_OUT, 0, b"x" * 512)[0] == 1
    assert d.blk_req(T_WZ, out=struct.pack("<QII", 0, 1, 0))[0] == 1
    assert d.blk_req(T_IN, 0, in_len=512)[:2] == (0, b"\x5a" * 512)
    blk.close()
    with open(raw, "rb") as f:
        assert f.read(512) == b"\x5a" * 512


def _qemu_img(*args: str) -> str:
    if shutil.which("qemu-img") is None:
        unavailable("qemu-img (Debian qemu-utils) is not installed")
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True).stdout


def _allocated(path: str, start: int, length: int) -> int:
    """Bytes of [start, start+length) that qemu-img map reports as data."""
    total = 0
    for e in json.loads(_qemu_img("map", "--output=json", "-f", "qcow2", path)):
        if not e["data"]:
            continue
        lo, hi = max(e["start"], start), min(e["start"] + e["length"], start + length)
        total += max(0, hi - lo)
    return total


def test_qcow2_writes_discard_and_write_zeroes(loop, tmp_path) -> None:
    path = str(tmp_path / "disk.qcow2")
    _qemu_img("create", "-q", "-f", "qcow2", path, "16M")
    d, _, _, blk = bench(loop, path, fmt="qcow2", blk_opts={"discard": "unmap"})
    d.init()
    chunk = b"\xaa" * (256 * 1024)
    for i in range(4):                                            # 1 MiB of data at 0 and at 4 MiB
        assert d.blk_req(T_OUT, i * 512, chunk)[0] == 0
        assert d.blk_req(T_OUT, 8192 + i * 512, chunk)[0] == 0
    assert d.blk_req(T_FLUSH)[0] == 0
    blk.close()
    assert _allocated(path, 0, MiB) == MiB and _allocated(path, 4 * MiB, MiB) == MiB
    _qemu_img("check", "-q", path)

    d, _, _, blk = bench(loop, path, fmt="qcow2", blk_opts={"discard": "unmap"})
    d.init()
    assert d.blk_req(T_DISCARD, out=struct.pack("<QII", 0, 2048, 0))[0] == 0
    assert d.blk_req(T_WZ, out=struct.pack("<QII", 8192, 1024, 1))[0] == 0      # UNMAP
    assert d.blk_req(T_WZ, out=struct.pack("<QII", 9216, 1024, 0))[0] == 0      # keep allocation
    assert d.blk_req(T_IN, 9216, in_len=4096)[1] == bytes(4096)
    assert d.blk_req(T_FLUSH)[0] == 0
    blk.close()
    assert _allocated(path, 0, MiB) == 0                                      # clusters freed
    assert _allocated(path, 4 * MiB, 512 * 1024) == 0
    _qemu_img("check", "-q", path)
    out = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "read -P 0 0 1M", "-c",
                          "read -P 0 4M 1M", path], capture_output=True, text=True)
    assert "Pattern verification failed" not in out.stdout + out.stderr and out.returncode == 0


def test_qemu_agrees_on_features_config_and_requests(tmp_path) -> None:
    """The same driver sequence on real QEMU 7.2 and on pyqemu: same registers, same results."""
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    results = {}
    for who in ("qemu", "pyqemu"):
        path = str(tmp_path / f"{who}.raw")
        with open(path, "wb") as f:
            f.truncate(8 * MiB)
        out = []
        if who == "qemu":
            q = QemuQtest(["-global", "virtio-mmio.force-legacy=false", "-drive",
                           f"if=none,id=d0,file={path},format=raw", "-device",
                           "virtio-blk-device,drive=d0,serial=qemu7"])
            d = Driver(q, None, True, base=QEMU_BASE)
        else:
            loop = new_loop()
            d, _, _, blk = bench(loop, path, serial="qemu7")
        try:
            d.w(DEV_FEAT_SEL, 0)
            out += [d.r(DEVICE_ID), d.features(), d.b.memread(d.base + CONFIG, 60)]
            d.init()
            out.append(d.blk_req(T_OUT, 3, b"q" * 1024))
            out.append(d.blk_req(T_IN, 3, in_len=1024, indirect=True))
            out.append(d.blk_req(T_GET_ID, in_len=20))
            out.append(d.blk_req(T_IN, 8 * MiB // 512, in_len=512))
            out.append(d.blk_req(0x77))
            out += [d.r(STATUS), d.r(DEV_FEAT)]
        finally:
            if who == "qemu":
                q.close()
            else:
                blk.close()
                loop.close()
        results[who] = out
    assert results["pyqemu"] == results["qemu"]


def test_device_add_takes_the_highest_free_transport_of_virt(loop, raw) -> None:
    from pyqemu.hw.core.machine import create_machine
    from pyqemu.system import drives
    from pyqemu.system.machines import find_machine
    from pyqemu.system.qdev_add import device_add

    _, machine = create_machine(find_machine("virt", "aarch64"), 128 << 20, {})
    board = machine.board
    blks = [drives.register_backend(open_blk(raw, "raw", loop, read_only=True), f"vd{i}") for i in range(2)]
    try:
        dev0 = device_add({"driver": "virtio-blk-device", "drive": "vd0"}, machine)
        dev1 = device_add({"driver": "virtio-blk-device", "drive": "vd1", "id": "second"}, machine)
        assert isinstance(dev0, VirtIOBlock)
        assert dev0.parent_bus is board.virtio[31].bus and dev1.parent_bus is board.virtio[30].bus
        space = machine.address_space_memory
        assert space.load(QEMU_BASE + 8, 4) == 2 and space.load(QEMU_BASE - 0x200 + 8, 4) == 2
        assert space.load(QEMU_BASE - 0x400 + 8, 4) == 0
        assert dev0.dma is space
        with pytest.raises(QOMError, match="already in use"):
            device_add({"driver": "virtio-blk-device", "drive": "vd0"}, machine)
        with pytest.raises(QOMError, match="is full"):
            device_add({"driver": "virtio-blk-device", "drive": "vd1", "bus": "virtio-mmio-bus.31"},
                       machine)
    finally:
        for blk in blks:
            drives.unregister_backend(blk)
            blk.close()


@pytest.mark.parametrize("modern", [False, True])
def test_state_save_and_load_into_a_new_device(loop, raw, modern) -> None:
    """The transport's and the device's state, with guest RAM, restored in a fresh machine:
    the driver carries on with the same rings."""
    import copy

    from virtio_qtest import RAM, RAM_SIZE

    d, dev, _, blk = bench(loop, raw, modern=modern)
    d.init()
    assert d.blk_req(T_OUT, 5, b"s" * 512)[0] == 0
    t = dev.transport
    states = (copy.deepcopy(t.vmstate_save()), copy.deepcopy(dev.vmstate_save()))
    ram = d.b.memread(RAM, RAM_SIZE)
    blk.close()

    d2, dev2, probe2, blk2 = bench(loop, raw, modern=modern)
    d2.b.memwrite(RAM, ram)
    dev2.transport.vmstate_load(states[0])
    dev2.vmstate_load(states[1])
    for k in ("heap", "data_start", "next_desc", "avail_idx", "desc", "avail", "used"):
        setattr(d2, k, getattr(d, k))
    assert d2.r(STATUS) == 0xF if modern else d2.r(STATUS) == 7
    d2.b.writew(d2.avail + 4 + 2 * d2.qsize, 1)          # used_event: interrupt after used idx 1
    assert d2.blk_req(T_IN, 5, in_len=512)[:2] == (0, b"s" * 512)
    assert d2.used_idx() == 2 and probe2[0] == 1
    bad = copy.deepcopy(states[1])
    bad["vqs"][0]["num"] = 0
    with pytest.raises(ValueError, match="bad queue size"):
        dev2.vmstate_load(bad)
    blk2.close()


def test_requests_on_the_second_queue(loop, raw) -> None:
    d, dev, _, blk = bench(loop, raw, num_queues=2)
    assert len(dev.vqs) == 2
    d.init()
    d.w(0x30, 2)
    assert d.r(0x34) == 0                                         # no third queue
    d.setup_queue(1)
    assert d.blk_req(T_OUT, 4, b"2" * 512)[0] == 0
    assert dev.vqs[1].used_idx == 1 and dev.vqs[0].used_idx == 0
    assert d.blk_req(T_IN, 4, in_len=512)[:2] == (0, b"2" * 512)
    blk.close()


def test_write_cache_property_overrides_the_drive(loop, raw) -> None:
    d, _, _, blk = bench(loop, raw, write_cache="off")
    assert not blk.enable_write_cache and d.b.readb(d.base + CONFIG + 32) == 0
    blk.close()
    blk = open_blk(raw, "raw", loop)
    with pytest.raises(QOMError, match="write-cache"):
        make_bench(blk, modern=True, write_cache="maybe")
    blk.close()
