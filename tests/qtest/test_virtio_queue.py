"""The virtio core's split rings as a guest drives them: indirect tables, interrupt suppression
(NO_INTERRUPT, event index both ways, NOTIFY_ON_EMPTY), and every malformed chain a guest can
write: the device logs QEMU's message under -d guest_errors, sets NEEDS_RESET with a config
interrupt (modern), stops the queue, survives, and works again after a reset."""
from __future__ import annotations

import io
import struct

import pytest
from conftest import unavailable
from qtest_support import QemuQtest, qemu_available
from virtio_qtest import (
    F_INDIRECT,
    F_NEXT,
    F_WRITE,
    ISR,
    ISR_ACK,
    NEEDS_RESET,
    STATUS,
    T_IN,
    T_OUT,
    Driver,
    loop_fixture,  # noqa: F401 - the loop fixture
    make_bench,
    open_blk,
    sparse_raw,
)

from pyqemu.util import log

MiB = 1 << 20
EVENT_IDX = 1 << 29
NOTIFY_ON_EMPTY = 1 << 24


@pytest.fixture
def guest_errors(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(log, "_out", out)
    monkeypatch.setattr(log, "_enabled", {"guest_errors"})
    return out


@pytest.fixture
def raw(tmp_path):
    return sparse_raw(tmp_path / "disk.raw", 8 * MiB)


def setup(loop, raw, modern=True):
    blk = open_blk(raw, "raw", loop)
    b, t, dev, probe = make_bench(blk, modern=modern)
    return Driver(b, loop, modern), dev, probe, blk


def hdr(rtype: int, sector: int = 0) -> bytes:
    return struct.pack("<IIQ", rtype, 0, sector)


# -- interrupt suppression ------------------------------------------------------------------------

def test_no_interrupt_flag_suppresses_the_interrupt(loop, raw) -> None:
    d, _, probe, blk = setup(loop, raw)
    d.init(drop=EVENT_IDX)
    d.b.writew(d.avail, 1)                                       # VRING_AVAIL_F_NO_INTERRUPT
    assert d.blk_req(T_OUT, 0, b"z" * 512)[0] == 0
    assert probe[0] == 0 and d.r(ISR) == 0
    d.b.writew(d.avail, 0)
    assert d.blk_req(T_OUT, 0, b"z" * 512)[0] == 0
    assert probe[0] == 1 and d.r(ISR) == 1
    blk.close()


def test_notify_on_empty_overrides_no_interrupt(loop, raw) -> None:
    d, _, probe, blk = setup(loop, raw, modern=False)
    feats = d.init(drop=EVENT_IDX)
    assert feats & NOTIFY_ON_EMPTY                               # legacy drivers may take it
    d.b.writew(d.avail, 1)
    assert d.blk_req(T_OUT, 0, b"z" * 512)[0] == 0
    assert probe[0] == 1                                          # queue empty: interrupt anyway
    blk.close()


def test_event_index_both_ways(loop, raw) -> None:
    d, _, probe, blk = setup(loop, raw)
    assert d.init() & EVENT_IDX
    used_event = d.avail + 4 + 2 * d.qsize
    avail_event = d.used + 4 + 8 * d.qsize
    d.b.writew(used_event, 0)
    assert d.blk_req(T_IN, 0, in_len=512)[0] == 0               # used 0 -> 1 passes event 0
    assert probe[0] == 1
    d.w(ISR_ACK, 1)
    assert probe[0] == 0
    d.b.writew(used_event, 5)                                     # "interrupt me after the 6th"
    for _ in range(4):                                            # used idx 2..5: quiet
        assert d.blk_req(T_IN, 0, in_len=512)[0] == 0
        assert probe[0] == 0 and d.r(ISR) == 0
    assert d.blk_req(T_IN, 0, in_len=512)[0] == 0               # used idx 6: crosses event 5
    assert probe[0] == 1
    # the device tells the driver which avail index to kick at (the next one it will read)
    assert d.b.readw(avail_event) == d.avail_idx == 6
    blk.close()


def test_indirect_chain_with_scattered_buffers(loop, raw) -> None:
    d, _, _, blk = setup(loop, raw)
    d.init()
    data = bytes(range(256)) * 4
    n = d.used_idx()
    # header, then the 1 KiB payload split in three pieces, then the status byte
    d.add_chain([(hdr(T_OUT, 2), False), (data[:100], False), (data[100:612], False),
                 (data[612:], False), (1, True)], indirect=True)
    d.wait_used(n + 1)
    status, got, _ = d.blk_req(T_IN, 2, in_len=1024, indirect=True)
    assert (status, got) == (0, data)
    blk.close()


# -- malformed chains ----------------------------------------------------------------------------------

def _loop_chain(d: Driver) -> None:
    a = d.alloc(16)
    d.put_desc(d.desc, 0, a, 16, F_NEXT, 1)
    d.put_desc(d.desc, 1, a, 16, F_NEXT, 0)
    d.publish(0)


def _next_out_of_range(d: Driver) -> None:
    d.put_desc(d.desc, 0, d.alloc(16), 16, F_NEXT, d.qsize)
    d.publish(0)


def _readable_after_writable(d: Driver) -> None:
    d.put_desc(d.desc, 0, d.alloc(16), 16, F_WRITE | F_NEXT, 1)
    d.put_desc(d.desc, 1, d.alloc(16), 16, 0, 0)
    d.publish(0)


def _nested_indirect(d: Driver) -> None:
    inner = d.alloc(32)
    d.put_desc(inner, 0, d.alloc(16), 16, 0, 0)
    outer = d.alloc(16)
    d.put_desc(outer, 0, inner, 32, F_INDIRECT, 0)
    d.put_desc(d.desc, 0, outer, 16, F_INDIRECT, 0)
    d.publish(0)


def _indirect_bad_length(d: Driver) -> None:
    table = d.alloc(32)
    d.put_desc(table, 0, d.alloc(16), 16, 0, 0)
    d.put_desc(d.desc, 0, table, 24, F_INDIRECT, 0)
    d.publish(0)


def _buffer_outside_ram(d: Driver) -> None:
    d.put_desc(d.desc, 0, 0x1_0000_0000, 16, F_NEXT, 1)
    d.put_desc(d.desc, 1, d.alloc(1), 1, F_WRITE, 0)
    d.publish(0)


def _indirect_table_outside_ram(d: Driver) -> None:
    d.put_desc(d.desc, 0, 0x1_0000_0000, 32, F_INDIRECT, 0)
    d.publish(0)


def _head_out_of_range(d: Driver) -> None:
    d.publish(d.qsize + 3)


def _avail_index_jump(d: Driver) -> None:
    d.b.writew(d.avail + 2, 100)
    d.w(0x50, 0)


def _zero_length_buffer(d: Driver) -> None:
    d.put_desc(d.desc, 0, d.alloc(16), 0, 0, 0)
    d.publish(0)


def _blk_missing_headers(d: Driver) -> None:
    d.put_desc(d.desc, 0, d.alloc(16), 16, 0, 0)                 # no writable status byte
    d.publish(0)


def _blk_short_outhdr(d: Driver) -> None:
    d.put_desc(d.desc, 0, d.alloc(8), 8, F_NEXT, 1)
    d.put_desc(d.desc, 1, d.alloc(1), 1, F_WRITE, 0)
    d.publish(0)


BAD_CHAINS = {
    "loop": (_loop_chain, "Looped descriptor"),
    "next": (_next_out_of_range, "Desc next is 16"),
    "order": (_readable_after_writable, "Incorrect order for descriptors"),
    "nested": (_nested_indirect, "Nested indirect descriptor"),
    "indirect-len": (_indirect_bad_length, "Invalid size for indirect buffer table"),
    "bogus-addr": (_buffer_outside_ram, "virtio: bogus descriptor or out of resources"),
    "bogus-table": (_indirect_table_outside_ram, "Cannot map indirect buffer"),
    "head": (_head_out_of_range, "Guest says index 19 is available"),
    "avail-jump": (_avail_index_jump, "Guest moved used index from 0 to 100"),
    "zero-len": (_zero_length_buffer, "virtio: zero sized buffers are not allowed"),
    "blk-headers": (_blk_missing_headers, "virtio-blk missing headers"),
    "blk-outhdr": (_blk_short_outhdr, "virtio-blk request outhdr too short"),
}


@pytest.mark.parametrize("case", list(BAD_CHAINS))
def test_bad_chain_sets_needs_reset_and_the_device_recovers(loop, raw, guest_errors, case) -> None:
    make_chain, message = BAD_CHAINS[case]
    d, dev, probe, blk = setup(loop, raw)
    d.init()
    make_chain(d)
    assert f"virtio-blk: {message}\n" in guest_errors.getvalue()
    assert d.r(STATUS) & NEEDS_RESET
    assert d.r(ISR) == 3 and probe[0] == 1                        # configuration change interrupt
    assert d.r(0xFC) == 1                                         # config generation moved
    assert d.used_idx() == 0
    d.put_desc(d.desc, 0, d.alloc(16), 16, 0, 0)                  # broken: further kicks do nothing
    d.publish(0)
    assert d.used_idx() == 0
    d.init()                                                      # reset: works again
    assert d.r(STATUS) == 0xF and d.r(ISR) == 0 and probe[0] == 0
    assert d.blk_req(T_OUT, 1, b"k" * 512)[0] == 0
    blk.close()


def test_bad_chain_on_a_legacy_transport_breaks_without_needs_reset(loop, raw, guest_errors) -> None:
    d, dev, probe, blk = setup(loop, raw, modern=False)
    d.init()
    _loop_chain(d)
    assert "virtio-blk: Looped descriptor" in guest_errors.getvalue()
    assert d.r(STATUS) == 7 and probe[0] == 0                     # QEMU: NEEDS_RESET is VERSION_1 only
    assert dev.broken and d.used_idx() == 0
    d.init()
    assert d.blk_req(T_IN, 1, in_len=512)[0] == 0
    blk.close()


# cases where QEMU 7.2's virtqueue_pop reports the same error (and so sets NEEDS_RESET)
SAME_AS_QEMU = ("loop", "next", "order", "indirect-len", "head", "zero-len", "blk-headers",
                "blk-outhdr")


def test_qemu_sets_needs_reset_for_the_same_chains(tmp_path) -> None:
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    path = str(tmp_path / "q.raw")
    with open(path, "wb") as f:
        f.truncate(MiB)
    for case in SAME_AS_QEMU:
        with QemuQtest(["-global", "virtio-mmio.force-legacy=false", "-drive",
                        f"if=none,id=d0,file={path},format=raw", "-device",
                        "virtio-blk-device,drive=d0"]) as q:
            d = Driver(q, None, True, base=0x0A003E00)
            d.init()
            BAD_CHAINS[case][0](d)
            assert (d.r(STATUS) & NEEDS_RESET, d.r(ISR), d.used_idx()) == (NEEDS_RESET, 3, 0), case


def test_rings_outside_ram_are_refused(loop, raw, guest_errors) -> None:
    """A used ring placed on the transport's own registers (it would re-enter the device):
    QEMU's "Cannot map used", NEEDS_RESET, and the registers are left alone."""
    from virtio_qtest import BASE, QDEVICE, QREADY

    d, dev, probe, blk = setup(loop, raw)
    d.init()
    d.w(QREADY, 0)
    d.w(QDEVICE, BASE)
    d.w(QDEVICE + 4, 0)
    d.w(QREADY, 1)
    d.add_chain([(hdr(T_IN), False), (512, True), (1, True)])
    assert "virtio-blk: Cannot map used\n" in guest_errors.getvalue()
    assert d.r(STATUS) & NEEDS_RESET and dev.broken
    blk.close()


def test_random_rings_never_raise_in_the_host(loop, raw, guest_errors) -> None:
    """Request chains with random corruption (seeded): every kick either completes requests or
    breaks the device with a logged guest error; nothing raises, and a reset recovers."""
    import random

    rng = random.Random(6)
    d, dev, _, blk = setup(loop, raw)
    completed = broken = 0
    for _ in range(120):
        d.init()
        before = d.used_idx()
        for _ in range(rng.randrange(1, 4)):
            rtype = rng.choice([T_IN, T_OUT, 4, 8, 11, 13, 99])
            sector = rng.choice([0, 7, 16383, 16384, rng.getrandbits(64)])
            bufs = [(hdr(rtype, sector), False)]
            if rtype in (11, 13):
                dwz = struct.pack("<QII", sector & 0xFFFF, rng.randrange(64), rng.randrange(3))
                bufs.append((dwz, False))
            elif rtype == T_OUT:
                bufs.append((bytes(512 * rng.randrange(1, 4)), False))
            elif rtype != 4:
                bufs.append((rng.choice([20, 512, 1024]), True))
            bufs.append((1, True))
            first = d.next_desc % d.qsize
            head, placed = d.add_chain(bufs, indirect=rng.random() < 0.3, kick=False)
            if rng.random() < 0.4:   # corrupt one field of one descriptor of this chain
                victim = d.desc + 16 * ((first + rng.randrange(len(placed))) % d.qsize)
                field, size = rng.choice([(0, 8), (8, 4), (12, 2), (14, 2)])
                d.b.memwrite(victim + field, rng.getrandbits(8 * size).to_bytes(size, "little"))
        if rng.random() < 0.1:
            d.b.writew(d.avail + 2, rng.getrandbits(16))
        d.w(0x50, 0)
        assert blk.drain(5)
        loop.run_until(lambda: not dev.inflight, 5)
        broken += dev.broken
        completed += (d.used_idx() - before) & 0xFFFF
    assert completed > 50 and broken > 10
    assert "virtio-blk:" in guest_errors.getvalue()
    d.init()
    assert d.blk_req(T_IN, 0, in_len=512)[0] == 0
    blk.close()
