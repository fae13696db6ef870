"""The qcow2 driver: open/create, header updates, the flush order, resize, info and amend.

Metadata goes to disk in this order on every flush (and whenever a full
cache must make room): guest data and refcount increments, then L2 tables,
then the L1 table (and header), and only then the refcount decrements of
whatever those updates stopped referencing.  A crash between any two steps
leaves at worst leaked clusters, never a reference to unwritten or reused
space, so ``check -r all`` recovers every write that was flushed.
"""
from __future__ import annotations

import errno
import functools
import os
import threading
from array import array
from collections.abc import Callable
from typing import Any, ClassVar

from ..driver import BlockDriver, BlockError, CheckResult, ImageCorruptError, UnsupportedError
from ..file_io import HostFile, no_flush_requested
from . import bitmaps
from . import header as H
from .cache import TableCache
from .check import check_image
from .cluster import OFFSET_MASK, ClusterMixin, decode_table, encode_table
from .refcount import Refcounts, make_codec
from .snapshot import SnapshotMixin

#: Metadata cache budget (bytes) for L2 tables and for refcount blocks each.
CACHE_BYTES = 4 * 1024 * 1024

PREALLOC_MODES = ("off", "metadata", "falloc", "full")


def _parse_bool(v: Any, name: str) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).lower()
    if s in ("on", "true", "yes", "1"):
        return True
    if s in ("off", "false", "no", "0"):
        return False
    raise BlockError(f"Parameter '{name}' expects 'on' or 'off'", errno.EINVAL)


def _parse_compat(v: Any) -> int:
    s = str(v)
    if s in ("0.10", "v2"):
        return 2
    if s in ("1.1", "v3"):
        return 3
    raise BlockError(f"Parameter 'version' does not accept value '{s}'", errno.EINVAL)


class Qcow2Driver(ClusterMixin, SnapshotMixin, BlockDriver):
    """One open qcow2 image (v2 or v3)."""

    format_name = "qcow2"
    supports_backing = True
    supports_snapshots = True
    supports_compression = True
    create_options: ClassVar[tuple[tuple[str, str, str, Any], ...]] = (
        ("size", "size", "Virtual disk size", None),
        ("compat", "string", "Compatibility level (v2 [0.10] or v3 [1.1])", "1.1"),
        ("backing_file", "string", "File name of a base image", None),
        ("backing_fmt", "string", "Image format of the base image", None),
        ("encryption", "bool", "Encrypt the image with format 'aes'. (Deprecated in favor of "
                               "encrypt.format=aes)", False),
        ("cluster_size", "size", "qcow2 cluster size", 65536),
        ("preallocation", "string",
         "Preallocation mode (allowed values: off, metadata, falloc, full)", "off"),
        ("lazy_refcounts", "bool", "Postpone refcount updates", False),
        ("refcount_bits", "number", "Width of a reference count entry in bits", 16),
        ("compression_type", "string", "Compression method used for image cluster compression", "zlib"),
        ("extended_l2", "bool", "Extended L2 tables", False),
    )

    # --- open / close --------------------------------------------------------------------
    def __init__(self, filename: str, read_only: bool = True, options: dict[str, Any] | None = None) -> None:
        self.filename = filename
        self.read_only = read_only
        self.options = dict(options or {})
        self.backing = None
        self.f = HostFile(filename, read_only=read_only)
        self.f.no_flush = no_flush_requested(self.options)
        self._lock = threading.RLock()  # one request at a time touches the metadata (QEMU's s->lock)
        try:
            self._open()
        except BaseException:
            self.f.close()
            raise

    def _open(self) -> None:
        fsize = self.f.size()
        head = self.f.pread(0, 1 << H.MAX_CLUSTER_BITS)
        hdr = H.Header.from_bytes(head, fsize)
        self.hdr = hdr
        self.cluster_bits = hdr.cluster_bits
        self.cs = hdr.cluster_size
        self.l2_bits = self.cluster_bits - 3
        self.l2_entries = 1 << self.l2_bits
        self.backing_filename = hdr.backing_file
        self.backing_format = hdr.backing_format
        self._check_mode = bool(self.options.get("check"))
        if hdr.incompatible_features & H.INCOMPAT_CORRUPT and not self.read_only and not self._check_mode:
            raise BlockError("qcow2: Image is corrupt; cannot be opened read/write", errno.EACCES)
        # unaligned L2 offsets are refused on access (as QEMU does), in _l2_table
        self.l1: array = self._read_l1(hdr.l1_table_offset, hdr.l1_size)
        self.l1_dirty = False
        # QEMU's l2-cache-size / refcount-cache-size options (bytes)
        l2_tables = max(2, int(self.options.get("l2-cache-size", CACHE_BYTES)) // self.cs)
        rc_tables = max(2, int(self.options.get("refcount-cache-size", CACHE_BYTES)) // self.cs)
        self.l2cache = TableCache(self.f, self.cs, l2_tables, decode_table, encode_table, self._make_room)
        self.rc = Refcounts(self.f, self.cluster_bits, hdr.refcount_order, hdr.refcount_table_offset,
                            hdr.refcount_table_clusters, self._move_reftable, self._make_room_refcounts,
                            cache_tables=rc_tables)
        self.rc.slack += 2 * l2_tables
        self.snapshots = self._load_snapshots()
        self._ccache: tuple[int, bytes] | None = None
        self._free_byte_offset = 0
        self._punch: set[int] = set()
        self._data_dirty = False
        self._prealloc_detected: bool | None = None
        self._meta_gen = 0
        self._l2_checked: set[int] = set()
        self._meta_key: object = None
        self._meta_map: dict[int, str] = {}
        self._writing = False  # set once the first write has marked the image (dirty bit, autoclear)
        self._closed = False
        if not self.read_only and not self._check_mode:
            if hdr.incompatible_features & H.INCOMPAT_DIRTY:
                # QEMU repairs a lazily-refcounted image that was not closed cleanly at open
                self.check("all")
                self._set_header(incompatible_features=self.hdr.incompatible_features & ~H.INCOMPAT_DIRTY)
            if self.hdr.autoclear_features:
                # features we do not maintain (bitmaps, raw data file) must be declared stale
                self._set_header(autoclear_features=0)

    @classmethod
    def probe(cls, header: bytes, filename: str) -> int:
        if len(header) >= 8 and header[:4] == H.QCOW_MAGIC and header[4:8] in (b"\0\0\0\2", b"\0\0\0\3"):
            return 100
        return 0

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        try:
            if not self.read_only:
                self.flush()
                if self.hdr.incompatible_features & H.INCOMPAT_DIRTY:
                    self.rc.write_blocks()
                    self.f.flush()
                    self._set_header(incompatible_features=self.hdr.incompatible_features & ~H.INCOMPAT_DIRTY)
        finally:
            self._closed = True
            self.f.close()
            if self.backing is not None:
                self.backing.close()

    # --- state helpers ---------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.hdr.size

    @property
    def lazy_refcounts(self) -> bool:
        return bool(self.hdr.compatible_features & H.COMPAT_LAZY_REFCOUNTS)

    def _guest_limit(self) -> int:
        return self.hdr.size

    @staticmethod
    def _check_range(offset: int, length: int, limit: int) -> None:
        if offset < 0 or length < 0 or offset + length > limit:
            raise BlockError(f"Request out of range: offset {offset} length {length} (image size {limit})",
                             errno.EIO)

    def _begin_write(self) -> None:
        if self.read_only:
            raise BlockError("Block node is read-only", errno.EACCES)
        if self.hdr.incompatible_features & H.INCOMPAT_CORRUPT and not self._check_mode:
            raise ImageCorruptError("Image is corrupt; cannot be written to", errno.EIO)
        if not self._writing:
            self._writing = True
            if self.lazy_refcounts and not self.hdr.incompatible_features & H.INCOMPAT_DIRTY:
                # refcount updates may now lag behind on disk: say so before any of them
                self._set_header(incompatible_features=self.hdr.incompatible_features | H.INCOMPAT_DIRTY)

    def _set_header(self, **changes: Any) -> None:
        """Rewrite cluster 0 with ``changes`` and make it durable."""
        hdr = self.hdr.replace(**changes)
        self.f.pwrite(0, hdr.to_bytes())
        self.f.flush()
        self.hdr = hdr

    def _corrupt(self, what: str) -> None:
        """QEMU's qcow2_signal_corruption: mark the image corrupt (when writable) and fail the request."""
        if not self.read_only and not self.hdr.incompatible_features & H.INCOMPAT_CORRUPT:
            try:
                self._set_header(incompatible_features=self.hdr.incompatible_features | H.INCOMPAT_CORRUPT)
            except BlockError:
                pass
            raise ImageCorruptError(f"Marking image as corrupt: {what}; further corruption events "
                                    "will be suppressed")
        raise ImageCorruptError(f"Image is corrupt: {what}")

    def _metadata_map(self) -> dict[int, str]:
        """Host cluster -> which metadata lives there; rebuilt only after metadata moved."""
        key = (self._meta_gen, self.rc.gen, id(self.rc), self.hdr)
        if self._meta_key != key:
            bits, cs = self.cluster_bits, self.cs
            m: dict[int, str] = {}

            def add(off: int, size: int, what: str) -> None:
                if size > 0:
                    for ci in range(off >> bits, ((off + size - 1) >> bits) + 1):
                        m.setdefault(ci, what)
            add(0, cs, "qcow2_header")
            add(self.hdr.l1_table_offset, len(self.l1) * 8, "active L1 table")
            add(self.rc.table_offset, self.rc.table_clusters * cs, "refcount table")
            for o in self.rc.table:
                add(o, cs if o else 0, "refcount block")
            if self.hdr.nb_snapshots:
                add(self.hdr.snapshots_offset, self._snapshot_table_size(), "snapshot table")
            for e in self.l1:
                add(e & OFFSET_MASK, cs if e & OFFSET_MASK else 0, "active L2 table")
            self._meta_map, self._meta_key = m, key
            self._l2_checked.clear()
        return self._meta_map

    def _check_overlap(self, host: int, length: int, allow: int = -1) -> None:
        """Refuse a write that would land on metadata (QEMU's overlap check), marking the image corrupt.

        ``allow``: the one metadata cluster this write may touch (an L2 table writing itself).
        """
        m = self._metadata_map()
        for ci in range(host >> self.cluster_bits, ((host + length - 1) >> self.cluster_bits) + 1):
            what = m.get(ci)
            if what and not (ci == allow and what == "active L2 table"):
                self._corrupt(f"Preventing invalid write on metadata (overlaps with {what})")

    def _set_l1(self, l1i: int, value: int) -> None:
        self.l1[l1i] = value
        self.l1_dirty = True
        self._meta_gen += 1

    def _write_l1(self) -> None:
        data = encode_table(array("Q", self.l1))
        self.f.pwrite(self.hdr.l1_table_offset, data)
        self.l1_dirty = False

    def _grow_l1(self, min_size: int, exact: bool = False) -> None:
        """Move the active L1 to a bigger table (QEMU grows it by half again unless ``exact``)."""
        if min_size * 8 > H.MAX_L1_SIZE:
            raise BlockError("L1 table would exceed its maximum size", errno.EFBIG)
        new_size = min_size if exact or not self.l1 else max(min_size, len(self.l1) + len(self.l1) // 2)
        new_size = min(new_size, H.MAX_L1_SIZE // 8)
        self.flush()
        clusters = -(-new_size * 8 // self.cs)
        new_off = self.rc.alloc(clusters)
        self.rc.write_blocks()
        old_off, old_size = self.hdr.l1_table_offset, len(self.l1)
        self.l1.extend(array("Q", bytes(8 * (new_size - len(self.l1)))))
        self._meta_gen += 1
        self.f.pwrite(new_off, encode_table(array("Q", self.l1)))
        self.f.flush()
        self._set_header(l1_table_offset=new_off, l1_size=new_size)
        self.l1_dirty = False
        if old_size:
            self.rc.free_later(old_off, old_size * 8)
        self.flush()

    def _move_reftable(self, offset: int, clusters: int) -> None:
        self._set_header(refcount_table_offset=offset, refcount_table_clusters=clusters)

    def _make_room(self) -> None:
        self.flush()

    def _make_room_refcounts(self) -> None:
        if self.lazy_refcounts:
            self.rc.write_blocks()
        else:
            self.flush()

    # --- flush: the ordering rules --------------------------------------------------------------------
    def flush(self) -> None:
        if self.read_only or self._closed:
            return
        lazy = bool(self.hdr.incompatible_features & H.INCOMPAT_DIRTY)
        wrote = self._data_dirty
        if not lazy:
            wrote = self.rc.write_blocks() or wrote
        if wrote:
            self.f.flush()  # 1. data and refcount increments
        if self.l2cache.write_dirty():
            self.f.flush()  # 2. L2 tables
        if self.l1_dirty:
            self._write_l1()
            self.f.flush()  # 3. L1
        if self.rc.pending:
            freed = self.rc.apply_pending()  # 4. decrements, now that nothing on disk points there
            run_start, run_len = -1, 0
            for ci in freed + [-2]:  # punch contiguous runs with one fallocate each
                if ci >= 0:
                    self.l2cache.discard(ci << self.cluster_bits)
                if ci >= 0 and ci in self._punch and ci == run_start + run_len:
                    run_len += 1
                    continue
                if run_len:
                    self.f.punch_hole(run_start << self.cluster_bits, run_len << self.cluster_bits)
                run_start, run_len = (ci, 1) if ci >= 0 and ci in self._punch else (-1, 0)
            self._punch.difference_update(freed)
            self._free_byte_offset = 0
            if not lazy:
                self.rc.write_blocks()
            self.f.flush()
        self._data_dirty = False

    # --- create ---------------------------------------------------------------------------------------
    @classmethod
    def create(cls, filename: str, size: int, options: dict[str, Any]) -> None:
        o = dict(options)
        version = _parse_compat(o.get("compat") or "1.1")
        cs = int(o.get("cluster_size") or 65536)
        if cs < 512 or cs > 2 * 1024 * 1024 or cs & (cs - 1):
            raise BlockError("Cluster size must be a power of two between 512 and 2048k", errno.EINVAL)
        rbits = int(o.get("refcount_bits") or 16)
        if rbits < 1 or rbits > 64 or rbits & (rbits - 1):
            raise BlockError("Refcount width must be a power of two and may not exceed 64 bits", errno.EINVAL)
        if version == 2 and rbits != 16:
            raise BlockError("Different refcount widths than 16 bits require compatibility level 1.1 or "
                             "above (use version=v3 or greater)", errno.EINVAL)
        lazy = _parse_bool(o.get("lazy_refcounts", False), "lazy_refcounts")
        if lazy and version == 2:
            raise BlockError("Lazy refcounts only supported with compatibility level 1.1 and above "
                             "(use version=v3 or greater)", errno.EINVAL)
        if _parse_bool(o.get("extended_l2", False), "extended_l2"):
            if cs < 16384:
                raise BlockError("Extended L2 entries are only supported with cluster sizes of at least "
                                 "16384 bytes", errno.EINVAL)
            raise UnsupportedError("Extended L2 entries are not supported")
        if o.get("encryption") and _parse_bool(o["encryption"], "encryption") or o.get("encrypt.format"):
            raise UnsupportedError("Encrypted qcow2 images are not supported")
        if o.get("data_file"):
            raise UnsupportedError("External data files are not supported")
        ctype_name = str(o.get("compression_type") or "zlib")
        ctypes_by_name = {v: k for k, v in H.COMPRESSION_NAMES.items()}
        if ctype_name not in ctypes_by_name:
            raise BlockError(f"Parameter 'compression-type' does not accept value '{ctype_name}'",
                             errno.EINVAL)
        ctype = ctypes_by_name[ctype_name]
        if ctype and version == 2:
            raise BlockError("Non-zlib compression type is only supported with compatibility level 1.1 "
                             "and above (use version=v3 or greater)", errno.EINVAL)
        prealloc = str(o.get("preallocation") or "off")
        if prealloc not in PREALLOC_MODES:
            raise BlockError(f"Parameter 'preallocation' does not accept value '{prealloc}'", errno.EINVAL)
        backing_file = o.get("backing_file") or None
        backing_fmt = o.get("backing_fmt") or None
        if backing_fmt and not backing_file:
            raise BlockError("Backing format cannot be used without backing file", errno.EINVAL)
        if backing_file and prealloc != "off":
            raise BlockError("Backing file and preallocation can only be used at the same time if "
                             "extended_l2 is on", errno.EINVAL)
        if size < 0 or size >= H.MAX_HOST_OFFSET:
            raise BlockError("Image size must be less than 8 EiB!" if size > 0 else "Invalid image size",
                             errno.EINVAL)
        size = -(-size // 512) * 512  # QEMU rounds the virtual size up to whole sectors
        cbits = cs.bit_length() - 1
        order = rbits.bit_length() - 1
        # cluster 0 header, 1 refcount table, 2 first refcount block; the L1 comes next when sized
        hdr = H.Header(version=version, cluster_bits=cbits, size=0, l1_size=0, l1_table_offset=3 * cs,
                       refcount_table_offset=cs, refcount_table_clusters=1, refcount_order=order,
                       header_length=H.V3_HEADER_LEN if version >= 3 else H.V2_HEADER_LEN,
                       compatible_features=H.COMPAT_LAZY_REFCOUNTS if lazy else 0,
                       incompatible_features=H.INCOMPAT_COMPRESSION if ctype else 0,
                       compression_type=ctype, backing_file=backing_file, backing_format=backing_fmt)
        f = HostFile(filename, read_only=False, create=True)
        try:
            f.pwrite(0, hdr.to_bytes())
            rt = bytearray(cs)
            rt[0:8] = (2 * cs).to_bytes(8, "big")
            f.pwrite(cs, rt)
            decode, encode = make_codec(order)
            blk = decode(bytes(cs))
            for i in range(3):
                blk[i] = 1
            f.pwrite(2 * cs, encode(blk))
            f.truncate(3 * cs)
            f.flush()
        finally:
            f.close()
        with cls(filename, read_only=False, options={"check": True}) as img:
            img._resize_l1_for(size)
            img._set_header(size=size)
            img._preallocate(0, size, prealloc)
            img.flush()

    def _resize_l1_for(self, size: int) -> None:
        need = -(-size // (self.cs * self.l2_entries))
        if need > len(self.l1):
            if need * 8 > H.MAX_L1_SIZE:
                raise BlockError("Image size is too large for this cluster size", errno.EFBIG)
            self._grow_l1(need, exact=True)

    # --- resize -------------------------------------------------------------------------------------
    def truncate(self, size: int, shrink: bool = False, preallocation: str = "off") -> None:
        self._begin_write()
        old = self.hdr.size
        if size % 512:
            raise BlockError("The new size must be a multiple of 512", errno.EINVAL)
        if preallocation not in PREALLOC_MODES:
            raise BlockError(f"Unsupported preallocation mode '{preallocation}'", errno.ENOTSUP)
        if size < old:
            if not shrink:
                raise BlockError("Use the --shrink option to perform a shrink operation.", errno.EINVAL)
            if preallocation != "off":
                raise BlockError("Preallocation can't be used for shrinking an image", errno.ENOTSUP)
            first = -(-size // self.cs)
            self._full_discard(first, -(-old // self.cs))
            if size % self.cs:  # the tail of the last cluster must read as zeros if the image grows again
                tail = size % self.cs
                self._write(size, memoryview(bytes(min(self.cs - tail, old - size))))
            self.flush()
            self._set_header(size=size)
            self._truncate_file()
            return
        self._resize_l1_for(size)
        self.flush()
        self._set_header(size=size)
        self._preallocate(old, size, preallocation)
        self.flush()

    def make_empty(self) -> None:
        """Drop every guest cluster (``commit`` empties the top image this way; QEMU's qcow2_make_empty).

        A v3 image without snapshots or bitmaps is rewritten as a fresh one (header, refcount table
        and block, zeroed L1) and the file truncated; others get every cluster fully discarded.
        """
        self._begin_write()
        l1c = -(-len(self.l1) * 8 // self.cs)
        entries = (self.cs * 8) >> self.hdr.refcount_order
        simple = (self.hdr.version >= 3 and not self.snapshots and 3 + l1c <= entries
                  and not any(e.type == H.EXT_BITMAPS for e in self.hdr.extensions))
        if not simple:
            self._full_discard(0, -(-self.size // self.cs))
            self.flush()
            return
        self.flush()
        # the dirty bit covers the rewrite: a crash in between makes the next open rebuild refcounts
        self._set_header(incompatible_features=self.hdr.incompatible_features | H.INCOMPAT_DIRTY)
        cs = self.cs
        self.l1 = array("Q", bytes(8 * len(self.l1)))
        if l1c:
            self.f.pwrite(3 * cs, bytes(l1c * cs))
        decode, encode = make_codec(self.hdr.refcount_order)
        blk = decode(bytes(cs))
        for i in range(3 + l1c):
            blk[i] = 1
        self.f.pwrite(2 * cs, encode(blk))
        self.f.pwrite(cs, (2 * cs).to_bytes(8, "big") + bytes(cs - 8))
        self.f.flush()
        self._set_header(l1_table_offset=3 * cs, refcount_table_offset=cs, refcount_table_clusters=1)
        self.f.truncate((3 + l1c) * cs)
        self.l2cache.clear()
        self.rc = Refcounts(self.f, self.cluster_bits, self.hdr.refcount_order, cs, 1, self._move_reftable,
                            self._make_room_refcounts, cache_tables=self.rc.blocks.capacity)
        self.l1_dirty = False
        self._meta_gen += 1
        self._ccache = None
        self._punch.clear()
        if not self.lazy_refcounts:
            self._set_header(incompatible_features=self.hdr.incompatible_features & ~H.INCOMPAT_DIRTY)

    def _full_discard(self, first: int, last: int) -> None:
        """Clear L2 entries of guest clusters [first, last) (truncate: no zero flag, nothing hidden)."""
        for ci in range(first, last):
            l1i = ci >> self.l2_bits
            if l1i >= len(self.l1) or not self.l1[l1i] & OFFSET_MASK:
                continue
            l2off, table = self._writable_l2(l1i)
            l2i = ci & (self.l2_entries - 1)
            if table[l2i]:
                self._release_entry(table[l2i], punch=True)
                table[l2i] = 0
                self.l2cache.mark_dirty(l2off)

    def _truncate_file(self) -> None:
        """Cut the host file after its last used cluster (QEMU does this after shrinking)."""
        n = -(-self.f.size() // self.cs)
        last = max(self.rc.used_clusters(n), default=0) + 1
        if last < n:
            self.f.truncate(last << self.cluster_bits)

    # --- inspection ----------------------------------------------------------------------------------
    def check(self, repair: str | None = None) -> CheckResult:
        if repair not in (None, "leaks", "all"):
            raise BlockError(f"Invalid repair mode '{repair}'", errno.EINVAL)
        if repair and self.read_only:
            raise BlockError("Cannot repair a read-only image", errno.EACCES)
        self.flush()
        res = check_image(self, repair)
        bits = H.INCOMPAT_DIRTY | H.INCOMPAT_CORRUPT
        if repair and not res.corruptions and not res.check_errors and self.hdr.incompatible_features & bits:
            # a repaired image is clean and consistent again (QEMU's mark_clean + mark_consistent)
            self.rc.write_blocks()
            self.f.flush()
            self._set_header(incompatible_features=self.hdr.incompatible_features & ~bits)
        return res

    def info(self) -> dict[str, Any]:
        h = self.hdr
        data: dict[str, Any] = {"compat": "1.1" if h.version >= 3 else "0.10",
                                "compression-type": H.COMPRESSION_NAMES.get(h.compression_type, "zlib")}
        if h.version >= 3:
            data["lazy-refcounts"] = self.lazy_refcounts
        bms = bitmaps.info(self)
        if bms is not None:
            data["bitmaps"] = bms
        data["refcount-bits"] = h.refcount_bits
        if h.version >= 3:
            data["corrupt"] = bool(h.incompatible_features & H.INCOMPAT_CORRUPT)
            data["extended-l2"] = bool(h.incompatible_features & H.INCOMPAT_EXTL2)
        out: dict[str, Any] = {"cluster-size": self.cs,
                               "format-specific": {"type": "qcow2", "data": data},
                               "dirty-flag": bool(h.incompatible_features & H.INCOMPAT_DIRTY)}
        if h.backing_file:
            out["backing-filename"] = h.backing_file
            from ..registry import resolve_backing
            out["full-backing-filename"] = resolve_backing(self.filename, h.backing_file)
            if h.backing_format:
                out["backing-filename-format"] = h.backing_format
        snaps = self.snapshot_list()
        if snaps:
            out["snapshots"] = [{"id": s.id, "name": s.name, "vm-state-size": s.vm_state_size,
                                 "date-sec": s.date_sec, "date-nsec": s.date_nsec,
                                 "vm-clock-sec": s.vm_clock_nsec // 1_000_000_000,
                                 "vm-clock-nsec": s.vm_clock_nsec % 1_000_000_000,
                                 **({"icount": s.icount} if s.icount is not None else {})}
                                for s in snaps]
        return out

    def change_backing_file(self, backing_file: str | None, backing_fmt: str | None) -> None:
        if self.read_only:
            raise BlockError("Block node is read-only", errno.EACCES)
        if backing_fmt and not backing_file:
            raise BlockError("Backing format cannot be used without backing file", errno.EINVAL)
        self.flush()
        self._set_header(backing_file=backing_file or None, backing_format=backing_fmt or None)
        self.backing_filename = self.hdr.backing_file
        self.backing_format = self.hdr.backing_format

    def amend(self, options: dict[str, Any]) -> None:
        from .amend import amend_image
        amend_image(self, options)

    def __repr__(self) -> str:
        return f"<Qcow2Driver {os.path.basename(self.filename)} v{self.hdr.version} size={self.size}>"


def _locked(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(self: Qcow2Driver, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return fn(self, *args, **kwargs)
    return wrapper


# Every public entry point holds the image lock: BlockBackend may call from worker threads.
for _name in ("read", "readinto", "write", "write_zeroes", "write_compressed", "discard", "flush",
              "block_status", "make_empty", "truncate", "snapshot_list", "snapshot_create", "snapshot_apply",
              "snapshot_delete", "vmstate_read", "vmstate_write", "check", "info", "amend",
              "change_backing_file", "close"):
    setattr(Qcow2Driver, _name, _locked(getattr(Qcow2Driver, _name)))
del _name
