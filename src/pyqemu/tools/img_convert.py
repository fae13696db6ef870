"""Commands that move data: ``convert``, ``dd``, ``compare``, ``bench``.

The copy loop works in large extents: block status tells which ranges of the
source are zero or unallocated (skipped, or written as zeroes), and data
ranges are read in chunks of up to 2 MiB and scanned for zero blocks with
``bytes.startswith`` against a zero buffer (memcmp speed), never byte by byte.
Reads run ahead in worker threads; a raw source is read into a few reused
buffers (fresh 2 MiB buffers cost a page fault per 4 KiB on every chunk).
"""
from __future__ import annotations

import collections
import concurrent.futures
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from pyqemu.block import options as opts_mod
from pyqemu.block.driver import BlockDriver, BlockError
from pyqemu.tools import img_common as C

WRITERS = 4     # parallel writes into a raw target
READERS = 2     # threads reading the source ahead of the writer
READ_AHEAD = 4  # extents queued ahead (each data extent holds up to 2 MiB)


def _size_arg(what: str, text: str, lo: int = 0, hi: int = opts_mod.INT64_MAX) -> int:
    try:
        return opts_mod.parse_size_arg(what, text, lo, hi)
    except opts_mod.OptionError as exc:
        raise C.ImgError(str(exc), each_line=True) from None


# --- convert ------------------------------------------------------------------------------
class _Sources:
    """Several source images read as one disk, as ``convert a b out`` does."""

    def __init__(self, drivers: list[BlockDriver]) -> None:
        self.drivers = drivers
        self.starts: list[int] = []
        self.sizes = [d.size for d in drivers]   # fixed while converting (a raw size is an fstat)
        pos = 0
        for n in self.sizes:
            self.starts.append(pos)
            pos += n
        self.size = pos

    def locate(self, off: int) -> tuple[BlockDriver, int, int]:
        """(driver, offset inside it, bytes left in it) for disk offset ``off``."""
        for i in range(len(self.drivers) - 1, -1, -1):
            s = self.starts[i]
            if off >= s:
                return self.drivers[i], off - s, self.sizes[i] - (off - s)
        raise AssertionError(off)


def _cluster_size(drv: BlockDriver) -> int:
    try:
        return int(drv.info().get("cluster-size") or 0)
    except BlockError:
        return 0


class Converter:
    """One ``convert`` run (QEMU's ImgConvertState, sequential)."""

    def __init__(self, src: _Sources, dst: BlockDriver, *, compressed: bool, min_sparse: int,
                 has_zero_init: bool, target_has_backing: bool, progress: C.Progress) -> None:
        self.src, self.dst = src, dst
        self.compressed = compressed
        self.min_sparse = min_sparse
        self.has_zero_init = has_zero_init
        self.target_has_backing = target_has_backing
        self.progress = progress
        cs = _cluster_size(dst)
        self.cluster = cs or 0
        # zero detection granularity: the target's cluster, at least the sparse size
        sparse_pow2 = 1 << (min_sparse.bit_length() - 1) if min_sparse else 0
        self.align = max(sparse_pow2, cs, C.SECTOR) if min_sparse else C.SECTOR
        # compressed clusters are written one by one (and progress moves per cluster, as in qemu-img)
        self.chunk = cs if compressed and cs else max(C.IO_BUF_SIZE, self.align)
        # A raw target has no metadata: writes to distinct ranges are independent, so several may
        # be in flight at once (qemu-img's parallel coroutines); host writes release the GIL.
        self._pool = (concurrent.futures.ThreadPoolExecutor(WRITERS, thread_name_prefix="convert-writer")
                      if dst.format_name == "raw" and not compressed else None)
        self._pending: collections.deque[tuple[int, concurrent.futures.Future[None]]] = collections.deque()
        # Reused read buffers: no fresh pages to fault in per chunk. A buffer is free again once
        # every write made from it has completed (at once for a qcow2 target, which writes in line).
        self._free_bufs: list[bytearray] = []
        self._retiring: collections.deque[tuple[bytearray, list[concurrent.futures.Future[None]]]] = \
            collections.deque()
        self._buf_writes: list[concurrent.futures.Future[None]] = []

    def _classify(self, drv: BlockDriver, local: int, n: int) -> tuple[str, int]:
        """("data" | "zero" | "backing", length) for the extent at ``local`` (convert_iteration_sectors)."""
        st = C.chain_status(drv, local, n, top_only=self.target_has_backing)
        if st.zero and self.min_sparse:
            return "zero", st.length
        if st.data or st.zero or not self.target_has_backing:
            return "data", st.length   # with -S 0 zero ranges are written out too
        return "backing", st.length

    def _data_total(self) -> int:
        """Bytes that will be copied: progress counts only these, as qemu-img's does."""
        total, off, done = self.src.size, 0, 0
        while off < total:
            drv, local, left = self.src.locate(off)
            kind, n = self._classify(drv, local, min(left, total - off))
            if kind == "data":
                done += n
            off += n
        return done

    def _extents(self) -> Iterator[tuple[str, int, int, BlockDriver, int]]:
        """(kind, disk offset, length, source driver, offset in it) for the whole source."""
        total = self.src.size
        off = 0
        while off < total:
            drv, local, left = self.src.locate(off)
            kind, n = self._classify(drv, local, min(left, self.chunk, total - off))
            if kind == "data" and self.compressed and self.cluster:
                # compressed writes are whole clusters: extend to the cluster end
                end = min(off + n + (-(off + n)) % self.cluster, total)
                if end > off + n and self.src.locate(end - 1)[0] is drv:
                    n = end - off
            yield kind, off, n, drv, local
            off += n

    @staticmethod
    def _read(drv: BlockDriver, local: int, n: int, off: int) -> bytes:
        try:
            return drv.read(local, n)
        except BlockError as exc:
            raise C.ImgError(f"error while reading at byte {off}: {C.errno_text(exc)}") from None

    @staticmethod
    def _read_into(drv: BlockDriver, local: int, view: memoryview, off: int) -> None:
        try:
            drv.readinto(local, view)  # type: ignore[attr-defined]
        except BlockError as exc:
            raise C.ImgError(f"error while reading at byte {off}: {C.errno_text(exc)}") from None

    def _start_read(self, pool: concurrent.futures.ThreadPoolExecutor, drv: BlockDriver, local: int, n: int,
                    off: int) -> tuple[concurrent.futures.Future[Any], bytearray | None]:
        """Queue the read of one data extent: into a reused buffer where the source can, else a new one."""
        if n <= self.chunk and hasattr(drv, "readinto"):
            buf = self._take_buf()
            return pool.submit(self._read_into, drv, local, memoryview(buf)[:n], off), buf
        return pool.submit(self._read, drv, local, n, off), None

    def _take_buf(self) -> bytearray:
        while self._retiring and all(f.done() for f in self._retiring[0][1]):
            self._free_bufs.append(self._retiring.popleft()[0])
        return self._free_bufs.pop() if self._free_bufs else bytearray(self.chunk)

    def run(self) -> None:
        """Copy everything. Data is read ahead by a worker thread (host reads release the GIL)
        and written in disk order, as qemu-img overlaps reads and writes with its coroutines."""
        data_total = self._data_total() if self.progress.enabled else 0
        data_done = 0
        self.progress.set(0)
        # a second reader only helps sources without a lock of their own (raw files)
        n_readers = READERS if all(d.format_name == "raw" for d in self.src.drivers) else 1
        readers = concurrent.futures.ThreadPoolExecutor(n_readers, thread_name_prefix="convert-reader")
        ahead: collections.deque[tuple[str, int, int, concurrent.futures.Future[Any] | None,
                                       bytearray | None]] = collections.deque()
        try:
            extents = self._extents()
            while True:
                # keep READ_AHEAD extents queued (zero and backing extents cost nothing)
                while len(ahead) < READ_AHEAD:
                    nxt = next(extents, None)
                    if nxt is None:
                        break
                    kind, off, n, drv, local = nxt
                    fut, buf = None, None
                    if kind == "data":
                        fut, buf = self._start_read(readers, drv, local, n, off)
                    ahead.append((kind, off, n, fut, buf))
                if not ahead:
                    break
                kind, off, n, fut, buf = ahead.popleft()
                if fut is not None:
                    data = fut.result()
                    if buf is None:
                        self._copy_data(off, data, n)
                        self._buf_writes = []
                    else:
                        self._copy_data(off, buf, n)
                        if self._buf_writes:     # writes from it still in flight (raw target)
                            self._retiring.append((buf, self._buf_writes))
                            self._buf_writes = []
                        else:
                            self._free_bufs.append(buf)
                    data_done += n
                    if data_total:
                        self.progress.set(data_done * 100.0 / data_total)
                elif kind == "zero":
                    self._zero(off, n)
            self.finish()
        finally:
            for *_, fut, _buf in ahead:
                if fut is not None:
                    fut.cancel()
            readers.shutdown(wait=True)   # no read may outlive the source's file descriptor
            if self._pool is not None:
                self._pool.shutdown(wait=True)
        self.progress.set(100)

    def _zero(self, off: int, n: int) -> None:
        if self.has_zero_init:
            return
        try:
            # qemu-img opens the target with discard=unmap unless -S 0; with a backing file
            # the zeroes must hide it, so nothing is unmapped then
            self.dst.write_zeroes(off, n, may_unmap=bool(self.min_sparse) and not self.target_has_backing)
        except BlockError as exc:
            raise C.ImgError(f"error while writing at byte {off}: {C.errno_text(exc)}") from None

    def _copy_data(self, off: int, buf: bytes | bytearray, n: int) -> None:
        """Write the first ``n`` bytes of ``buf`` to disk offset ``off``, leaving zero runs sparse."""
        mv = memoryview(buf)[:n] if n < len(buf) else memoryview(buf)
        if not self.min_sparse:
            self._write(off, mv)
            return
        if C.is_zero(buf, 0, n):
            self._zero(off, n)
            return
        if self.compressed:
            self._write(off, mv)
            return
        # Runs of all-zero aligned blocks at least min_sparse long stay sparse; the rest is written.
        pos = 0
        for zs, ze in self._zero_blocks(off, buf, n):
            if ze - zs < min(self.min_sparse, n):
                continue
            if zs > pos:
                self._write(off + pos, mv[pos:zs])
            self._zero(off + zs, ze - zs)
            pos = ze
        if pos < n:
            self._write(off + pos, mv[pos:])

    def _zero_blocks(self, off: int, buf: bytes | bytearray, n: int) -> list[tuple[int, int]]:
        """Merged ranges of ``buf[:n]`` made of all-zero blocks (aligned to ``self.align`` on the disk).

        One ``startswith`` (memcmp) per block: it stops at the first non-zero byte, so a data
        block costs next to nothing.
        """
        a = self.align
        z = C.zeros(a)
        out: list[tuple[int, int]] = []

        def add(s: int, e: int) -> None:
            if out and out[-1][1] == s:
                out[-1] = (out[-1][0], e)
            else:
                out.append((s, e))

        pos = 0
        if off % a:                                   # leading partial block
            pos = min(n, a - off % a)
            if C.is_zero(buf, 0, pos):
                add(0, pos)
        full_end = pos + (n - pos) // a * a
        startswith = buf.startswith
        run = -1                                      # start of the current zero run, or -1
        for b in range(pos, full_end, a):
            if startswith(z, b):                      # fails at the first non-zero byte: cheap on data
                if run < 0:
                    run = b
            elif run >= 0:
                add(run, b)
                run = -1
        if run >= 0:
            add(run, full_end)
        if full_end < n and C.is_zero(buf, full_end, n - full_end):   # trailing partial block
            add(full_end, n)
        return out

    def _write(self, off: int, data: bytes | memoryview) -> None:
        if self._pool is not None:
            while len(self._pending) >= 2 * WRITERS:
                self._wait_oldest()
            fut = self._pool.submit(self.dst.write, off, data)
            self._pending.append((off, fut))
            self._buf_writes.append(fut)
            return
        try:
            self._write_unchecked(off, data)
        except BlockError as exc:
            raise C.ImgError(f"error while writing at byte {off}: {C.errno_text(exc)}") from None

    def _wait_oldest(self) -> None:
        off, fut = self._pending.popleft()
        try:
            fut.result()
        except BlockError as exc:
            raise C.ImgError(f"error while writing at byte {off}: {C.errno_text(exc)}") from None

    def finish(self) -> None:
        """Wait for the writes still in flight; the first error is raised."""
        try:
            while self._pending:
                self._wait_oldest()
        finally:
            if self._pool is not None:
                for _, fut in self._pending:
                    fut.cancel()
                self._pool.shutdown(wait=True)

    def _write_unchecked(self, off: int, data: bytes | memoryview) -> None:
        if self.compressed and self.cluster:
            cs = self.cluster
            mv = memoryview(data)
            pos = 0
            while pos < len(mv):
                n = min(cs - (off + pos) % cs, len(mv) - pos)
                piece = mv[pos:pos + n]
                if C.is_zero(piece):
                    self._zero(off + pos, n)
                elif (off + pos) % cs == 0 and (n == cs or off + pos + n == self.dst.size):
                    self.dst.write_compressed(off + pos, bytes(piece))
                else:
                    self.dst.write(off + pos, piece)
                pos += n
        else:
            self.dst.write(off, data)


def cmd_convert(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "hf:O:B:CcF:o:l:S:pt:T:qnm:WrU",
                              ["object=", "image-opts", "target-image-opts", "target-is-zero", "salvage",
                               "bitmaps", "skip-broken-bitmaps", "force-share", "help"])
    fmt, out_fmt, base, base_fmt = None, "raw", None, None
    compressed = progress = quiet = skip_create = target_is_zero = False
    min_sparse = 4096
    cache = "unsafe"     # qemu-img convert's default: the target is never flushed
    o_texts: list[str] = []
    for o, a in opts:
        if o == "-f":
            fmt = a
        elif o == "-t":
            cache = C.cache_mode(a)
        elif o == "-T":
            C.cache_mode(a, "source cache")
        elif o == "-O":
            out_fmt = a
        elif o == "-B":
            base = a
        elif o == "-F":
            base_fmt = a
        elif o == "-c":
            compressed = True
        elif o == "-o":
            o_texts.append(C.option_list(a))
        elif o == "-S":
            min_sparse = _size_arg("buffer size for sparse output", a, 0, 2**31 - 1)
        elif o == "-p":
            progress = True
        elif o == "-q":
            quiet = True
        elif o == "-n":
            skip_create = True
        elif o == "--target-is-zero":
            target_is_zero = True
        elif o == "-l":
            raise C.ImgError("Snapshots are not supported by pyqemu-img convert (-l)")
        elif o == "-m":
            try:
                if not 1 <= int(a) <= 16:
                    raise ValueError
            except ValueError:
                raise C.ImgError("Invalid number of coroutines. Allowed number of coroutines is "
                                 "between 1 and 16") from None
    if quiet:
        progress = False
    out_cls = C.driver_class(out_fmt)
    if any(opts_mod.is_help(t) for t in o_texts):
        sys.stdout.write(opts_mod.help_text(out_cls) + "\nThe protocol level may support further options.\n"
                         "Specify the target filename to include those options.\n")
        return 0
    if len(args) < 2:
        raise C.ImgError("Must specify image file name")
    if target_is_zero and not skip_create:
        raise C.ImgError("--target-is-zero requires use of -n flag")
    *src_names, out_name = args
    if compressed and not out_cls.supports_compression:
        raise C.ImgError("Compression not supported for this file format")
    try:
        typed, _shown = opts_mod.parse_create_options(out_cls, o_texts)
    except opts_mod.OptionError as exc:
        raise C.ImgError(str(exc)) from None
    if base is not None:
        if "backing_file" not in opts_mod.option_table(out_cls):
            raise C.ImgError("Backing file not supported for file format '" + out_fmt + "'")
        typed["backing_file"] = base
    if base_fmt is not None:
        typed["backing_fmt"] = base_fmt
    if typed.get("backing_file") and not typed.get("backing_fmt"):
        raise C.ImgError("Use of backing file requires explicit backing format")
    srcs: list[BlockDriver] = []
    dst: BlockDriver | None = None
    bar = C.Progress(progress)
    try:
        for name in src_names:
            srcs.append(C.open_image(name, fmt))
        sources = _Sources(srcs)
        if not skip_create:
            try:
                C.registry().create_image(out_name, out_fmt, sources.size, typed)
            except BlockError as exc:
                raise C.ImgError(f"{out_name}: error while converting {out_fmt}: {exc}") from None
        try:
            dst = C.registry().open_image(out_name, out_fmt, read_only=False, backing=False,
                                          options=C.cache_options(cache))
        except BlockError as exc:
            raise C.ImgError(f"Could not open '{out_name}': {exc}") from None
        if skip_create and dst.size < sources.size:
            raise C.ImgError("output file is smaller than input file")
        target_has_backing = bool(typed.get("backing_file")) or (skip_create and
                                                                 bool(getattr(dst, "backing_filename", None)))
        # a new image without backing reads as zeros, preallocated or not (bdrv_has_zero_init)
        has_zero_init = (not skip_create and not target_has_backing) or target_is_zero
        conv = Converter(sources, dst, compressed=compressed, min_sparse=min_sparse,
                         has_zero_init=has_zero_init, target_has_backing=target_has_backing, progress=bar)
        conv.run()     # no explicit flush: qemu-img convert writes with cache=unsafe; close() flushes
        bar.end()
    finally:
        C.close_quietly(dst, *srcs)
    return 0


# --- dd ----------------------------------------------------------------------------------------
def cmd_dd(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "hf:O:U", ["object=", "image-opts", "force-share", "help"])
    fmt, out_fmt = None, "raw"
    for o, a in opts:
        if o == "-f":
            fmt = a
        elif o == "-O":
            out_fmt = a
    bs, count, skip = 512, None, None
    in_name = out_name = None
    for arg in args:
        key, eq, val = arg.partition("=")
        if not eq:
            raise C.ImgError(f"unrecognized operand {arg}")
        if key not in ("bs", "count", "skip", "if", "of"):
            raise C.ImgError(f"unrecognized operand {key}")
        if key == "bs":
            bs = _size_arg("bs", val) if val else -1
            if not 1 <= bs <= 2**31 - 1:
                raise C.ImgError("Invalid bs specified. Must be between 1 and 2147483647.")
        elif key == "count":
            count = _size_arg("count", val)
        elif key == "skip":
            skip = _size_arg("skip", val)
        elif key == "if":
            in_name = val
        elif key == "of":
            out_name = val
        else:
            raise C.ImgError(f"unrecognized operand {arg}")
    if not in_name or not out_name:
        raise C.ImgError("Must specify both input and output files")
    out_cls = C.driver_class(out_fmt, message="Unknown file format")
    src = C.open_image(in_name, fmt)
    dst: BlockDriver | None = None
    try:
        size = src.size
        if count is not None and count <= opts_mod.INT64_MAX // bs and size > count * bs:
            size = count * bs
        in_pos = 0
        out_size = size
        if skip is not None:
            in_pos = skip * bs
            out_size = 0 if in_pos > size else size - in_pos
        try:
            C.registry().create_image(out_name, out_cls.format_name, out_size, {})
            dst = C.registry().open_image(out_name, out_fmt, read_only=False, backing=False)
        except BlockError as exc:
            raise C.ImgError(f"{out_name}: error while creating output image: {exc}") from None
        if in_pos > size:
            C.report(f"{in_name}: cannot skip to specified offset")
            return 0      # qemu-img reports it and still exits with 0
        out_pos = 0
        step = max(bs, (C.IO_BUF_SIZE // bs) * bs)   # whole blocks per request: same bytes, fewer calls
        while in_pos < size:
            n = min(step, size - in_pos)
            dst.write(out_pos, src.read(in_pos, n))   # like qemu-img dd: every block, zeros too
            in_pos += n
            out_pos += n
        dst.flush()
    finally:
        C.close_quietly(dst, src)
    return 0


# --- compare -------------------------------------------------------------------------------------
def _first_diff_sector(a: bytes, b: bytes) -> int | None:
    """Offset of the first 512-byte sector where a and b differ (compare_buffers)."""
    if a == b:
        return None
    lo, hi = 0, len(a)
    # binary search on prefix equality: startswith compares at memcmp speed
    while hi - lo > C.SECTOR:
        mid = (lo + (hi - lo) // 2) // C.SECTOR * C.SECTOR
        if mid <= lo:
            break
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _first_nonzero_sector(buf: bytes) -> int | None:
    if C.is_zero(buf):
        return None
    for i in range(0, len(buf), C.SECTOR):
        if not C.is_zero(buf, i, min(C.SECTOR, len(buf) - i)):
            return i
    return None


def cmd_compare(argv: Sequence[str]) -> int:
    try:
        return _compare(argv)
    except C.ImgError as exc:
        if exc.status == 1 and not exc.usage:
            exc.status = 2   # an image that cannot be opened: qemu-img compare exits with 2
        raise


def _compare(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "hf:F:T:pqsU", ["object=", "image-opts", "force-share", "help"])
    fmt1 = fmt2 = None
    progress = quiet = strict = False
    for o, a in opts:
        if o == "-f":
            fmt1 = a
        elif o == "-F":
            fmt2 = a
        elif o == "-p":
            progress = True
        elif o == "-q":
            quiet = True
        elif o == "-s":
            strict = True
    if quiet:
        progress = False
    if len(args) != 2:
        raise C.ImgError("Expecting two image file names", usage=True, status=1)
    f1, f2 = args
    d1 = C.open_image(f1, fmt1)
    d2: BlockDriver | None = None
    try:
        d2 = C.open_image(f2, fmt2)
        bar = C.Progress(progress)
        try:
            status = _compare_images(d1, d2, f1, f2, strict, quiet, bar)
        finally:
            bar.end()   # qemu-img ends the progress line after its verdict
    finally:
        C.close_quietly(d1, d2)
    return status


def _compare_images(d1: BlockDriver, d2: BlockDriver, f1: str, f2: str, strict: bool, quiet: bool,
                    bar: C.Progress) -> int:
    s1, s2 = d1.size, d2.size
    total = min(s1, s2)
    base = max(s1, s2) or 1
    bar.set(0)
    if strict and s1 != s2:
        C.qprint(quiet, "Strict mode: Image size mismatch!\n")
        return 1
    off = 0
    try:
        while off < total:
            st1 = C.chain_status(d1, off, s1 - off)
            st2 = C.chain_status(d2, off, s2 - off)
            chunk = min(st1.length, st2.length)
            if strict and (st1.present, st1.zero, st1.data) != (st2.present, st2.zero, st2.data):
                C.qprint(quiet, f"Strict mode: Offset {off} block status mismatch!\n")
                return 1
            if st1.zero and st2.zero:
                pass
            elif st1.present == st2.present:
                if st1.present:
                    chunk = min(chunk, C.IO_BUF_SIZE)
                    diff = _first_diff_sector(_read(d1, f1, off, chunk), _read(d2, f2, off, chunk))
                    if diff is not None:
                        C.qprint(quiet, f"Content mismatch at offset {off + diff}!\n")
                        return 1
            else:
                chunk = min(chunk, C.IO_BUF_SIZE)
                drv, name = (d1, f1) if st1.present else (d2, f2)
                nz = _first_nonzero_sector(_read(drv, name, off, chunk))
                if nz is not None:
                    C.qprint(quiet, f"Content mismatch at offset {off + nz}!\n")
                    return 1
            off += chunk
            bar.add(chunk * 100.0 / base)
        if s1 != s2:
            C.qprint(quiet, "Warning: Image size mismatch!\n")
            over, name = (d1, f1) if s1 > s2 else (d2, f2)
            while off < base:
                st = C.chain_status(over, off, base - off)
                chunk = st.length
                if st.present and not st.zero:
                    chunk = min(chunk, C.IO_BUF_SIZE)
                    nz = _first_nonzero_sector(_read(over, name, off, chunk))
                    if nz is not None:
                        C.qprint(quiet, f"Content mismatch at offset {off + nz}!\n")
                        return 1
                off += chunk
                bar.add(chunk * 100.0 / base)
    except _ReadError as exc:
        C.report(str(exc))
        return 4
    except BlockError as exc:
        C.report(f"Sector allocation test failed: {exc}")
        return 3
    C.qprint(quiet, "Images are identical.\n")
    return 0


class _ReadError(Exception):
    pass


def _read(drv: BlockDriver, name: str, off: int, n: int) -> bytes:
    try:
        return drv.read(off, n)
    except BlockError as exc:
        raise _ReadError(f"Error while reading offset {off} of {name}: {C.errno_text(exc)}") from None


# --- bench ----------------------------------------------------------------------------------------
def cmd_bench(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "hc:d:f:ni:o:qs:S:t:wU",
                              ["flush-interval=", "image-opts", "pattern=", "no-drain", "force-share",
                               "object=", "help"])
    count, depth, fmt, quiet, write = 75000, 64, None, False, False
    bufsize, step, offset, pattern, flush_interval, drain = 4096, None, 0, 0, 0, True
    for o, a in opts:
        if o == "-c":
            count = _int_arg(a, "request count", 0)
        elif o == "-d":
            depth = _int_arg(a, "queue depth", 1)
        elif o == "-f":
            fmt = a
        elif o == "-o":
            offset = _size_arg("offset", a)
        elif o == "-s":
            bufsize = _size_arg("buffer size", a, 0, 2**31 - 1)
        elif o == "-S":
            step = _size_arg("step_size", a, 0, 2**31 - 1)
        elif o == "-w":
            write = True
        elif o == "-q":
            quiet = True
        elif o == "--pattern":
            pattern = _int_arg(a, "pattern byte", 0, 255)
        elif o == "--flush-interval":
            flush_interval = _int_arg(a, "flush interval", 0)
        elif o == "--no-drain":
            drain = False
    if len(args) != 1:
        raise C.error_exit("Expecting one image file name")
    if step is None:
        step = bufsize
    if flush_interval and not write:
        raise C.ImgError("--flush-interval is only available in write tests")
    drv = C.open_image(args[0], fmt, read_only=not write)
    try:
        size = drv.size
        C.qprint(quiet, f"Sending {count} {'write' if write else 'read'} requests, {bufsize} bytes each, "
                        f"{depth} in parallel (starting at offset {offset}, step size {step})\n")
        if flush_interval:
            C.qprint(quiet, f"Sending flush every {flush_interval} requests\n")
        buf = bytes([pattern]) * bufsize
        t0 = time.perf_counter()
        off = offset
        for i in range(count):
            if off + bufsize > size:
                raise C.ImgError("Failed request: Input/output error")
            if write:
                drv.write(off, buf)
                if flush_interval and (i + 1) % flush_interval == 0:
                    drv.flush()
            else:
                drv.read(off, bufsize)
            off = (off + step) % size if size else 0   # qemu-img bench wraps at the image end
        if write and drain:
            drv.flush()
        elapsed = time.perf_counter() - t0
        C.qprint(quiet, f"Run completed in {elapsed:3.3f} seconds.\n")
    finally:
        C.close_quietly(drv)
    return 0


def _int_arg(text: str, what: str, lo: int, hi: int = 2**31 - 1) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        v = lo - 1
    if not lo <= v <= hi:
        raise C.ImgError(f"Invalid {what} specified")
    return v
