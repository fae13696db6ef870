"""BlockBackend: request checks, read-only, discard/detect-zeroes modes, async completion in the loop."""
from __future__ import annotations

import errno
import os
import threading

import pytest

from pyqemu.block.block_backend import BlockBackend
from pyqemu.block.driver import BlockError
from pyqemu.block.raw import RawDriver
from pyqemu.system import runstate as rs
from pyqemu.system.main_loop import MainLoop

MiB = 1 << 20


@pytest.fixture
def loop():
    ml = MainLoop(rs.VMRunState())
    yield ml
    ml.close()


@pytest.fixture
def raw_image(tmp_path):
    path = str(tmp_path / "disk.raw")
    RawDriver.create(path, 4 * MiB, {})
    return path


def open_raw(path: str, read_only: bool = False) -> RawDriver:
    return RawDriver(path, read_only=read_only)


def wait_all(loop: MainLoop, blk: BlockBackend) -> None:
    assert blk.drain(5), "requests did not complete"


def test_async_write_then_read_complete_in_loop_thread_in_order(loop, raw_image):
    blk = BlockBackend(open_raw(raw_image), loop=loop)
    main = threading.get_ident()
    events = []

    def done(tag):
        return lambda res, exc: events.append((tag, res, exc, threading.get_ident() == main))

    blk.aio_write(4096, b"A" * 8192, done("w1"))
    blk.aio_write(8192, b"B" * 512, done("w2"))
    blk.aio_flush(done("flush"))
    blk.aio_read(4096, 8192, done("r"))
    wait_all(loop, blk)
    assert [e[0] for e in events] == ["w1", "w2", "flush", "r"]
    assert all(e[2] is None and e[3] for e in events)
    assert events[3][1] == b"A" * 4096 + b"B" * 512 + b"A" * 3584
    blk.close()
    with open(raw_image, "rb") as f:
        f.seek(8192)
        assert f.read(512) == b"B" * 512


def test_write_buffer_is_copied_at_submission(loop, raw_image):
    blk = BlockBackend(open_raw(raw_image), loop=loop)
    buf = bytearray(b"x" * 512)
    blk.aio_write(0, buf, lambda r, e: None)
    buf[:] = b"y" * 512          # the device reuses its buffer right away
    wait_all(loop, blk)
    assert blk.pread(0, 512) == b"x" * 512
    blk.close()


def test_read_only_backend_refuses_writes(loop, raw_image):
    blk = BlockBackend(open_raw(raw_image, read_only=True), loop=loop)
    errors = []
    for submit in (lambda cb: blk.aio_write(0, b"z" * 512, cb),
                   lambda cb: blk.aio_write_zeroes(0, 512, cb),
                   lambda cb: blk.aio_discard(0, 512, cb)):
        submit(lambda r, e: errors.append(e))
    got = []
    blk.aio_read(0, 512, lambda r, e: got.append((r, e)))
    wait_all(loop, blk)
    assert len(errors) == 3
    for e in errors:
        assert isinstance(e, BlockError) and str(e) == "Block node is read-only" and e.errno == errno.EPERM
    assert got == [(bytes(512), None)]
    # A writable driver behind a read-only backend is protected too.
    blk2 = BlockBackend(open_raw(raw_image), read_only=True, loop=loop)
    with pytest.raises(BlockError, match="read-only"):
        blk2.pwrite(0, b"q")
    blk2.close()


@pytest.mark.parametrize("offset,length", [(-1, 512), (4 * MiB - 256, 512), (4 * MiB + 1, 0), (0, -5),
                                           (0, 1 << 31)])
def test_out_of_range_requests_fail_with_eio(loop, raw_image, offset, length):
    blk = BlockBackend(open_raw(raw_image), loop=loop)
    res = []
    blk.aio_read(offset, length, lambda r, e: res.append(e))
    wait_all(loop, blk)
    assert isinstance(res[0], BlockError) and res[0].errno == errno.EIO
    with pytest.raises(BlockError) as info:
        blk.pread(offset, length)
    assert info.value.errno == errno.EIO
    blk.close()


def test_request_at_exact_end_is_allowed(loop, raw_image):
    blk = BlockBackend(open_raw(raw_image), loop=loop)
    blk.pwrite(4 * MiB - 512, b"e" * 512)
    assert blk.pread(4 * MiB - 512, 512) == b"e" * 512
    assert blk.pread(4 * MiB, 0) == b""
    blk.close()


def allocated(path: str) -> int:
    return os.stat(path).st_blocks * 512


def test_discard_ignore_keeps_data_unmap_punches_holes(loop, raw_image):
    data = os.urandom(MiB)
    blk = BlockBackend(open_raw(raw_image), loop=loop)   # default: discard=ignore
    blk.pwrite(MiB, data)
    blk.flush()
    before = allocated(raw_image)
    res = []
    blk.aio_discard(MiB, MiB, lambda r, e: res.append(e))
    wait_all(loop, blk)
    assert res == [None]
    assert blk.pread(MiB, MiB) == data and allocated(raw_image) == before
    blk.close()

    blk = BlockBackend(open_raw(raw_image), discard="unmap", loop=loop)
    blk.aio_discard(MiB, MiB, lambda r, e: res.append(e))
    wait_all(loop, blk)
    assert res == [None, None]
    assert blk.pread(MiB, MiB) == bytes(MiB)
    assert allocated(raw_image) <= before - MiB
    blk.close()


def test_detect_zeroes_unmap_frees_space_and_on_keeps_zero_data(loop, raw_image):
    blk = BlockBackend(open_raw(raw_image), discard="unmap", detect_zeroes="unmap", loop=loop)
    blk.pwrite(0, os.urandom(2 * MiB))
    blk.flush()
    before = allocated(raw_image)
    blk.aio_write(0, bytes(MiB), lambda r, e: None)
    wait_all(loop, blk)
    assert blk.pread(0, MiB) == bytes(MiB)
    assert allocated(raw_image) <= before - MiB // 2   # became a hole, not written zeros
    blk.close()

    blk = BlockBackend(open_raw(raw_image), detect_zeroes="on", loop=loop)
    blk.pwrite(MiB, bytes(4096))
    assert blk.pread(MiB, 4096) == bytes(4096)
    blk.close()


def test_mode_value_checks(raw_image):
    drv = open_raw(raw_image)
    with pytest.raises(BlockError, match="Parameter 'discard' does not accept value 'maybe'"):
        BlockBackend(drv, discard="maybe")
    with pytest.raises(BlockError, match="Parameter 'detect-zeroes' does not accept value 'x'"):
        BlockBackend(drv, detect_zeroes="x")
    with pytest.raises(BlockError, match="not allowed without setting discard operation to unmap"):
        BlockBackend(drv, detect_zeroes="unmap")
    assert BlockBackend(drv, discard="on").discard_mode == "unmap"
    drv.close()


def test_unaligned_requests_reach_driver_aligned(loop, raw_image):
    drv = open_raw(raw_image)
    drv.request_alignment = 512  # type: ignore[attr-defined]  # as a 512-byte-sector device would
    seen = []
    real_read, real_write = drv.read, drv.write
    drv.read = lambda o, n: seen.append(("r", o, n)) or real_read(o, n)  # type: ignore[method-assign]
    drv.write = lambda o, d: seen.append(("w", o, len(d))) or real_write(o, d)  # type: ignore[method-assign]
    blk = BlockBackend(drv, loop=loop)
    blk.pwrite(0, b"\xff" * 1024)
    blk.pwrite(100, b"abc")
    assert blk.pread(99, 5) == b"\xffabc\xff"
    assert all(o % 512 == 0 and n % 512 == 0 for _, o, n in seen)
    blk.close()


def test_close_waits_for_in_flight_requests(loop, raw_image):
    blk = BlockBackend(open_raw(raw_image), loop=loop)
    done = []
    for i in range(16):
        blk.aio_write(i * 4096, bytes([i + 1]) * 4096, lambda r, e: done.append(e))
    blk.close()
    assert done == [None] * 16
    with open(raw_image, "rb") as f:
        assert f.read(16 * 4096) == b"".join(bytes([i + 1]) * 4096 for i in range(16))
    with pytest.raises(BlockError, match="No medium"):
        blk.pread(0, 1)


def test_close_from_a_loop_callback_finishes_the_io_first(loop, raw_image):
    """A device closing its backend inside a main-loop callback (e.g. on unplug) loses no write."""
    blk = BlockBackend(open_raw(raw_image), loop=loop)
    done = []

    def unplug():
        for i in range(8):
            blk.aio_write(i * 512, bytes([0x40 + i]) * 512, lambda r, e: done.append(e))
        blk.close()
        done.append("closed")

    loop.call_soon(unplug)
    assert loop.run_until(lambda: len(done) == 9, 5)
    assert done[0] == "closed" and done[1:] == [None] * 8
    with open(raw_image, "rb") as f:
        assert f.read(8 * 512) == b"".join(bytes([0x40 + i]) * 512 for i in range(8))


def test_qcow2_detect_zeroes_and_discard_unallocate(loop, tmp_path):
    pytest.importorskip("pyqemu.block.qcow2.driver")
    from pyqemu.block import registry
    path = str(tmp_path / "d.qcow2")
    registry.create_image(path, "qcow2", 4 * MiB, {})
    drv = registry.open_image(path, "qcow2", read_only=False)
    blk = BlockBackend(drv, discard="unmap", detect_zeroes="unmap", loop=loop)
    blk.pwrite(0, os.urandom(MiB))
    blk.pwrite(0, bytes(512 * 1024))
    blk.aio_discard(512 * 1024, 512 * 1024, lambda r, e: None)
    wait_all(loop, blk)
    assert blk.pread(0, MiB) == bytes(MiB)
    st = drv.block_status(0, MiB)
    assert st.zero and not st.data
    blk.close()
