"""BlockBackend: what a device (or a tool) uses to reach an image (QEMU's block-backend.c).

It wraps one open BlockDriver and adds what the guest-facing side needs:

* request checks: offsets and lengths within the disk and below QEMU's
  BDRV_REQUEST_MAX_BYTES, else ``EIO``; writes on a read-only backend fail
  with "Block node is read-only" (``EPERM``);
* alignment: a driver with ``request_alignment`` > 1 gets padded requests
  (read-modify-write for unaligned writes), as QEMU's block/io.c does;
* ``discard=ignore|unmap``: with ``ignore`` (QEMU's default) discards succeed
  without touching the image;
* ``detect-zeroes=off|on|unmap``: an all-zero write becomes write-zeroes,
  allowed to unmap only with ``unmap`` (which needs ``discard=unmap``);
* asynchronous requests: ``aio_*`` run the driver call in a worker thread
  and call ``cb(result, error)`` in the main-loop thread, so host I/O never
  blocks a vCPU. Requests of one backend run one at a time, in submission
  order, because drivers keep metadata caches that are not thread-safe.

The synchronous ``pread``/``pwrite``/... methods apply the same rules and
are what pyqemu-img uses (it has no main loop).
"""
from __future__ import annotations

import collections
import errno
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from pyqemu.block.driver import BlockDriver, BlockError

#: QEMU's BDRV_REQUEST_MAX_BYTES: INT_MAX rounded down to whole 512-byte sectors.
REQUEST_MAX_BYTES = (2**31 - 1) >> 9 << 9
DISCARD_MODES = ("ignore", "unmap")
DETECT_ZEROES_MODES = ("off", "on", "unmap")

Callback = Callable[[Any, BaseException | None], None]


def _is_zero(data: bytes | bytearray | memoryview) -> bool:
    """All bytes zero? One memcmp against a zero buffer, not a Python loop."""
    if isinstance(data, memoryview):
        data = data.tobytes()
    return len(data) > 0 and data == bytes(len(data))


def _parse_mode(name: str, value: str | bool, allowed: tuple[str, ...]) -> str:
    if value is True:
        value = "on" if name == "detect-zeroes" else "unmap"
    elif value is False:
        value = "off" if name == "detect-zeroes" else "ignore"
    if name == "discard" and value in ("on", "off"):
        value = "unmap" if value == "on" else "ignore"   # -drive discard=on|off are aliases
    if value not in allowed:
        raise BlockError(f"Parameter '{name}' does not accept value '{value}'", errno.EINVAL)
    return str(value)


class BlockAcctStats:
    """I/O accounting for query-blockstats (QEMU's BlockAcctStats), kept by the aio_* methods.

    Kinds are ``rd``, ``wr``, ``flush``, ``unmap`` (discards) and ``zone_append``; a request
    refused by the checks (beyond the end, oversized) counts as invalid, one the image failed as
    failed, and only completed ones add bytes and time.
    """

    KINDS = ("rd", "wr", "zone_append", "flush", "unmap")

    def __init__(self) -> None:
        self.bytes = dict.fromkeys(self.KINDS, 0)
        self.ops = dict.fromkeys(self.KINDS, 0)
        self.failed = dict.fromkeys(self.KINDS, 0)
        self.invalid = dict.fromkeys(self.KINDS, 0)
        self.total_time_ns = dict.fromkeys(self.KINDS, 0)
        self.merged = dict.fromkeys(self.KINDS, 0)
        self.account_invalid = True
        self.account_failed = True
        self.last_access_ns: int | None = None   # monotonic time of the last completion
        self.wr_highest_offset = 0

    def done(self, kind: str, nbytes: int, start_ns: int, offset: int | None = None) -> None:
        now = time.monotonic_ns()
        self.bytes[kind] += nbytes
        self.ops[kind] += 1
        self.total_time_ns[kind] += now - start_ns
        self.last_access_ns = now
        if kind == "wr" and offset is not None:
            self.wr_highest_offset = max(self.wr_highest_offset, offset + nbytes)

    def fail(self, kind: str, invalid: bool, start_ns: int | None = None) -> None:
        """QEMU block_acct_invalid/failed: always counted; the time (and, for a failed request,
        its latency) only with account-invalid / account-failed."""
        now = time.monotonic_ns()
        if invalid:
            self.invalid[kind] += 1
            if self.account_invalid:
                self.last_access_ns = now
            return
        self.failed[kind] += 1
        if self.account_failed:
            if start_ns is not None:
                self.total_time_ns[kind] += now - start_ns
            self.last_access_ns = now

    def idle_time_ns(self) -> int | None:
        if self.last_access_ns is None:
            return None
        return time.monotonic_ns() - self.last_access_ns


class _Request:
    __slots__ = ("fn", "cb")

    def __init__(self, fn: Callable[[], Any], cb: Callback | None) -> None:
        self.fn, self.cb = fn, cb


class BlockBackend:
    """A device's handle on an image; see the module docstring."""

    def __init__(self, driver: BlockDriver, *, read_only: bool | None = None, discard: str = "ignore",
                 detect_zeroes: str = "off", loop: Any = None, name: str = "", writeback: bool = True,
                 no_flush: bool = False, direct: bool = False) -> None:
        self.driver = driver
        self.name = name              # the -drive id / node name, for messages and QMP
        self.attached_dev: Any = None  # the device that took it (system.drives.blk_attach)
        self.stats = BlockAcctStats()
        # cache=: writeback is the device's write-cache default (writethrough: the device flushes
        # after every write); no_flush (cache=unsafe) makes flushes succeed without syncing.
        self.writeback = writeback
        self.enable_write_cache = writeback
        self.no_flush = no_flush
        self.direct = direct
        self.read_only = driver.read_only if read_only is None else (read_only or driver.read_only)
        self.discard_mode = _parse_mode("discard", discard, DISCARD_MODES)
        self.detect_zeroes = _parse_mode("detect-zeroes", detect_zeroes, DETECT_ZEROES_MODES)
        if self.detect_zeroes == "unmap" and self.discard_mode != "unmap":
            raise BlockError("setting detect-zeroes to unmap is not allowed without setting discard "
                             "operation to unmap", errno.EINVAL)
        self.alignment = max(1, int(getattr(driver, "request_alignment", 1) or 1))
        self._loop = loop
        self._queue: collections.deque[_Request] = collections.deque()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)   # notified when the worker runs dry
        self._worker_busy = False
        self._in_flight = 0           # submitted, completion callback not yet run
        self._closed = False

    # --- properties --------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.driver.size

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # --- checks ------------------------------------------------------------------
    def _check_request(self, offset: int, length: int) -> None:
        """blk_check_byte_request(): EIO for negative, oversized or past-the-end requests."""
        if self._closed:
            raise BlockError("No medium found", errno.ENOMEDIUM)
        if offset < 0 or length < 0 or length > REQUEST_MAX_BYTES:
            raise BlockError(os.strerror(errno.EIO), errno.EIO)
        size = self.driver.size
        if offset > size or size - offset < length:
            raise BlockError(os.strerror(errno.EIO), errno.EIO)

    def _check_writable(self) -> None:
        if self.read_only:
            raise BlockError("Block node is read-only", errno.EPERM)

    # --- synchronous requests ------------------------------------------------------
    def pread(self, offset: int, length: int) -> bytes:
        self._check_request(offset, length)
        if length == 0:
            return b""
        a = self.alignment
        if a == 1 or (offset % a == 0 and length % a == 0):
            return self.driver.read(offset, length)
        start = offset - offset % a
        end = min(-(-(offset + length) // a) * a, self.driver.size)
        data = self.driver.read(start, end - start)
        return data[offset - start:offset - start + length]

    def pwrite(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        length = len(data)
        self._check_request(offset, length)
        self._check_writable()
        if length == 0:
            return
        if self.detect_zeroes != "off" and _is_zero(data):
            self._write_zeroes(offset, length, self.detect_zeroes == "unmap")
            return
        a = self.alignment
        if a == 1 or (offset % a == 0 and length % a == 0):
            self.driver.write(offset, data)
            return
        # Unaligned: read the covering aligned range, patch it, write it back.
        start = offset - offset % a
        end = min(-(-(offset + length) // a) * a, self.driver.size)
        buf = bytearray(self.driver.read(start, end - start))
        buf[offset - start:offset - start + length] = data
        self.driver.write(start, buf)

    def pwrite_zeroes(self, offset: int, length: int, may_unmap: bool = False) -> None:
        """Zero a range; unmapping is allowed only when asked and discard=unmap (BDRV_O_UNMAP)."""
        self._check_request(offset, length)
        self._check_writable()
        if length:
            self._write_zeroes(offset, length, may_unmap)

    def _write_zeroes(self, offset: int, length: int, may_unmap: bool) -> None:
        self.driver.write_zeroes(offset, length, may_unmap and self.discard_mode == "unmap")

    def pdiscard(self, offset: int, length: int) -> None:
        self._check_request(offset, length)
        self._check_writable()
        if length and self.discard_mode == "unmap":
            self.driver.discard(offset, length)

    def flush(self) -> None:
        if self._closed:
            raise BlockError("No medium found", errno.ENOMEDIUM)
        if not self.read_only and not self.no_flush:   # cache=unsafe: flushes are no-ops
            self.driver.flush()

    def truncate(self, size: int, shrink: bool = False, preallocation: str = "off") -> None:
        self._check_writable()
        self.driver.truncate(size, shrink=shrink, preallocation=preallocation)

    # --- asynchronous requests -----------------------------------------------------
    def aio_read(self, offset: int, length: int, cb: Callback) -> None:
        """cb(bytes, None) or cb(None, BlockError) in the main loop."""
        self._submit_acct("rd", offset, length, lambda: self.pread(offset, length), cb)

    def aio_write(self, offset: int, data: bytes | bytearray | memoryview, cb: Callback) -> None:
        data = bytes(data)   # the caller may reuse its buffer before the worker runs
        self._submit_acct("wr", offset, len(data), lambda: self.pwrite(offset, data), cb)

    def aio_write_zeroes(self, offset: int, length: int, cb: Callback, may_unmap: bool = False) -> None:
        self._submit_acct("wr", offset, length, lambda: self.pwrite_zeroes(offset, length, may_unmap), cb)

    def aio_discard(self, offset: int, length: int, cb: Callback) -> None:
        self._submit_acct("unmap", offset, length, lambda: self.pdiscard(offset, length), cb)

    def aio_flush(self, cb: Callback) -> None:
        self._submit_acct("flush", None, 0, self.flush, cb)

    def _submit_acct(self, kind: str, offset: int | None, length: int, fn: Callable[[], Any],
                     cb: Callback | None) -> None:
        """Submit with accounting: a request outside the disk counts as invalid (and fails
        without reaching the image), others as done or failed when they complete."""
        if offset is not None:
            try:
                self._check_request(offset, length)
            except BlockError as exc:
                if exc.errno == errno.EIO:
                    self.stats.fail(kind, invalid=True)
                    err = exc

                    def refuse() -> None:
                        raise err
                    self._submit(refuse, cb)
                    return
        start = time.monotonic_ns()

        def done(result: Any, exc: BaseException | None) -> None:
            if exc is None:
                self.stats.done(kind, length, start, offset)
            else:
                self.stats.fail(kind, invalid=False, start_ns=start)
            if cb is not None:
                cb(result, exc)
        self._submit(fn, done)

    def _main_loop(self) -> Any:
        if self._loop is None:
            from pyqemu.system import main_loop
            self._loop = main_loop.get()
        return self._loop

    def _submit(self, fn: Callable[[], Any], cb: Callback | None) -> None:
        loop = self._main_loop()
        with self._lock:
            self._queue.append(_Request(fn, cb))
            self._in_flight += 1
            start = not self._worker_busy
            self._worker_busy = True
        if start:
            loop.run_in_worker(self._drain_queue, self._worker_done)

    def _drain_queue(self) -> None:
        """Worker thread: run queued requests in order; each completes in the loop thread."""
        loop = self._main_loop()
        while True:
            with self._lock:
                if not self._queue:
                    self._worker_busy = False
                    self._idle.notify_all()
                    return
                req = self._queue.popleft()
            try:
                result, exc = req.fn(), None
            except BlockError as e:
                result, exc = None, e
            except OSError as e:
                result, exc = None, BlockError(e.strerror or str(e), e.errno or errno.EIO)
            except Exception as e:  # a driver bug still completes the request, as an error
                result, exc = None, e
            loop.call_soon(lambda req=req, result=result, exc=exc: self._complete(req, result, exc))

    def _worker_done(self, _result: Any, exc: BaseException | None) -> None:
        if exc is not None:   # the worker itself died: never leave requests hanging
            with self._lock:
                self._worker_busy = False
                pending = list(self._queue)
                self._queue.clear()
                self._idle.notify_all()
            for req in pending:
                self._complete(req, None, exc)

    def _complete(self, req: _Request, result: Any, exc: BaseException | None) -> None:
        self._in_flight -= 1
        if req.cb is not None:
            req.cb(result, exc)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted request has completed (bdrv_drain).

        From outside the loop this runs the loop until the completions were delivered; from
        inside a loop callback (the loop cannot be re-entered) it waits until the worker has
        done all the I/O, and the completions follow when the callback returns.
        """
        if self._in_flight == 0:
            return True
        loop = self._main_loop()
        if loop.aio.is_running():
            with self._idle:
                return self._idle.wait_for(lambda: not self._worker_busy, timeout)
        return bool(loop.run_until(lambda: self._in_flight == 0, timeout))

    def close(self) -> None:
        """Wait for in-flight requests, then close the image."""
        if self._closed:
            return
        if self._in_flight and self._loop is not None:
            self.drain()
        self._closed = True
        self.driver.close()

    def __enter__(self) -> BlockBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
