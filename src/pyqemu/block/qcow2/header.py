"""The qcow2 header (cluster 0) and its extensions, parsed and written as QEMU 7.2 does.

Spec: docs/interop/qcow2.rst (facts in shared/specs/block-qmp-migration.md §1.1-1.2).
The header is a frozen dataclass; changes make a new one with ``replace``.
Unknown header extensions and unknown tail bytes of a v3 header are kept and
written back unchanged; unknown incompatible feature bits are refused.
"""
from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field, replace
from typing import ClassVar

from ..driver import BlockError, ImageCorruptError, UnsupportedError

QCOW_MAGIC = b"QFI\xfb"
MIN_CLUSTER_BITS = 9
MAX_CLUSTER_BITS = 21
#: QEMU's limits on the active L1 and the refcount table (bytes).
MAX_L1_SIZE = 32 * 1024 * 1024
MAX_REFTABLE_SIZE = 8 * 1024 * 1024
MAX_SNAPSHOTS = 65536
MAX_BACKING_NAME = 1023
#: Host offsets must stay below 2^56 (bits 9-55 of table entries).
MAX_HOST_OFFSET = 1 << 56

# incompatible feature bits
INCOMPAT_DIRTY = 1 << 0
INCOMPAT_CORRUPT = 1 << 1
INCOMPAT_DATA_FILE = 1 << 2
INCOMPAT_COMPRESSION = 1 << 3
INCOMPAT_EXTL2 = 1 << 4
INCOMPAT_SUPPORTED = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION
# compatible / autoclear bits
COMPAT_LAZY_REFCOUNTS = 1 << 0
AUTOCLEAR_BITMAPS = 1 << 0
AUTOCLEAR_DATA_FILE_RAW = 1 << 1

COMPRESSION_ZLIB = 0
COMPRESSION_ZSTD = 1
COMPRESSION_NAMES = {COMPRESSION_ZLIB: "zlib", COMPRESSION_ZSTD: "zstd"}

EXT_END = 0x00000000
EXT_BACKING_FORMAT = 0xE2792ACA
EXT_FEATURE_TABLE = 0x6803F857
EXT_BITMAPS = 0x23852875
EXT_CRYPTO = 0x0537BE77
EXT_DATA_FILE = 0x44415441

#: The feature-name table QEMU 7.2 writes into every v3 image: (type, bit, name).
FEATURE_TABLE: tuple[tuple[int, int, str], ...] = (
    (0, 0, "dirty bit"),
    (0, 1, "corrupt bit"),
    (0, 2, "external data file"),
    (0, 3, "compression type"),
    (0, 4, "extended L2 entries"),
    (1, 0, "lazy refcounts"),
    (2, 0, "bitmaps"),
    (2, 1, "raw external data"),
)

_V2 = struct.Struct(">4sIQIIQIIQQIIQ")
_V3 = struct.Struct(">QQQII")
_EXT = struct.Struct(">II")
V2_HEADER_LEN = _V2.size  # 72
V3_MIN_HEADER_LEN = V2_HEADER_LEN + _V3.size  # 104
V3_HEADER_LEN = 112


@dataclass(frozen=True)
class Extension:
    """One header extension; ``data`` without padding."""
    type: int
    data: bytes


@dataclass(frozen=True)
class Header:
    """All of cluster 0 that matters: fixed fields, extensions and the backing file name."""
    STRUCT: ClassVar[struct.Struct] = _V2

    version: int
    cluster_bits: int
    size: int
    l1_size: int
    l1_table_offset: int
    refcount_table_offset: int
    refcount_table_clusters: int
    nb_snapshots: int = 0
    snapshots_offset: int = 0
    crypt_method: int = 0
    incompatible_features: int = 0
    compatible_features: int = 0
    autoclear_features: int = 0
    refcount_order: int = 4
    header_length: int = V3_HEADER_LEN
    compression_type: int = COMPRESSION_ZLIB
    #: Bytes of a v3 header past the fields we know (kept on rewrite).
    unknown_tail: bytes = b""
    backing_file: str | None = None
    backing_format: str | None = None
    #: Extensions other than backing format and feature table, in file order.
    extensions: tuple[Extension, ...] = field(default_factory=tuple)
    #: The feature-name table found in the file: {(type, bit): name}.
    feature_names: tuple[tuple[int, int, str], ...] = field(default_factory=tuple)

    @property
    def cluster_size(self) -> int:
        return 1 << self.cluster_bits

    @property
    def refcount_bits(self) -> int:
        return 1 << self.refcount_order

    def replace(self, **changes: object) -> Header:
        return replace(self, **changes)  # type: ignore[arg-type]

    # --- parsing ------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, buf: bytes, file_size: int | None = None) -> Header:
        """Parse and validate cluster 0 (``buf`` may be the whole first cluster or more)."""
        if len(buf) < V2_HEADER_LEN or buf[:4] != QCOW_MAGIC:
            raise BlockError("Image is not in qcow2 format", errno.EINVAL)
        (_, version, backing_off, backing_len, cluster_bits, size, crypt, l1_size, l1_off, rt_off,
         rt_clusters, nb_snap, snap_off) = _V2.unpack_from(buf)
        if version not in (2, 3):
            raise UnsupportedError(f"Unsupported qcow2 version {version}")
        if not MIN_CLUSTER_BITS <= cluster_bits <= MAX_CLUSTER_BITS:
            raise UnsupportedError(f"Unsupported cluster size: 2^{cluster_bits}")
        cs = 1 << cluster_bits
        incompat = compat = autoclear = 0
        refcount_order = 4
        header_length = V2_HEADER_LEN
        compression = COMPRESSION_ZLIB
        tail = b""
        if version == 3:
            if len(buf) < V3_MIN_HEADER_LEN:
                raise ImageCorruptError("qcow2 header too short")
            incompat, compat, autoclear, refcount_order, header_length = _V3.unpack_from(buf, V2_HEADER_LEN)
            if header_length < V3_MIN_HEADER_LEN:
                raise ImageCorruptError("qcow2 header too short")
            if header_length > cs or header_length > len(buf):
                raise ImageCorruptError("qcow2 header exceeds cluster size")
            if header_length > V3_MIN_HEADER_LEN:
                compression = buf[V3_MIN_HEADER_LEN]
            if header_length > V3_HEADER_LEN:
                tail = bytes(buf[V3_HEADER_LEN:header_length])
        if backing_off > cs:
            raise ImageCorruptError("Invalid backing file offset")
        # extensions sit between the header and the backing name (or the cluster end)
        ext_end = backing_off if backing_off else cs
        exts: list[Extension] = []
        backing_format = None
        feature_names: list[tuple[int, int, str]] = []
        pos = header_length
        seen: set[int] = set()
        while True:
            if pos + _EXT.size > min(ext_end, len(buf)):
                if pos + _EXT.size > ext_end:
                    break  # no room for more: QEMU stops here too
                raise ImageCorruptError("qcow2_read_extension: ERROR: header extension runs past the header")
            etype, elen = _EXT.unpack_from(buf, pos)
            pos += _EXT.size
            if etype == EXT_END:
                break
            if elen > ext_end - pos:
                raise ImageCorruptError("qcow2_read_extension: ERROR: ext_len too large")
            data = bytes(buf[pos:pos + elen])
            pos += (elen + 7) & ~7
            if etype in seen:
                raise ImageCorruptError(f"Duplicate header extension 0x{etype:x}")
            seen.add(etype)
            if etype == EXT_BACKING_FORMAT:
                if elen > 1023:
                    raise ImageCorruptError(f"ERROR: ext_backing_format: len={elen} too large (>=1024)")
                backing_format = data.decode("utf-8", "replace")
            elif etype == EXT_FEATURE_TABLE:
                for i in range(0, elen - 47, 48):
                    name = data[i + 2:i + 48].split(b"\0", 1)[0].decode("utf-8", "replace")
                    feature_names.append((data[i], data[i + 1], name))
            else:
                exts.append(Extension(etype, data))
        backing_file = None
        if backing_off:
            if backing_len > MAX_BACKING_NAME or backing_off + backing_len > cs:
                raise ImageCorruptError("Backing file name too long")
            if backing_off + backing_len > len(buf):
                raise ImageCorruptError("Backing file name runs past the end of the image")
            backing_file = bytes(buf[backing_off:backing_off + backing_len]).decode("utf-8", "replace")
        hdr = cls(version=version, cluster_bits=cluster_bits, size=size, l1_size=l1_size,
                  l1_table_offset=l1_off, refcount_table_offset=rt_off, refcount_table_clusters=rt_clusters,
                  nb_snapshots=nb_snap, snapshots_offset=snap_off, crypt_method=crypt,
                  incompatible_features=incompat, compatible_features=compat, autoclear_features=autoclear,
                  refcount_order=refcount_order, header_length=header_length, compression_type=compression,
                  unknown_tail=tail, backing_file=backing_file, backing_format=backing_format,
                  extensions=tuple(exts), feature_names=tuple(feature_names))
        hdr.validate(file_size)
        return hdr

    def unsupported_features(self) -> str:
        """QEMU's list of unknown incompatible features, by name from the image's table when it has one."""
        bits = self.incompatible_features & ~INCOMPAT_SUPPORTED
        names = []
        for ftype, bit, name in self.feature_names:
            if ftype == 0 and bit < 64 and bits & (1 << bit):
                names.append(name)
                bits &= ~(1 << bit)
        if bits:
            names.append(f"Unknown incompatible feature: {bits:x}")
        return ", ".join(names)

    def validate(self, file_size: int | None = None) -> None:
        """The checks QEMU does at open, with its messages; nothing here allocates."""
        cs = self.cluster_size
        if self.incompatible_features & ~INCOMPAT_SUPPORTED:
            raise UnsupportedError(f"Unsupported qcow2 feature(s): {self.unsupported_features()}")
        if self.refcount_order > 6:
            raise ImageCorruptError("Reference count entry width too large; may not exceed 64 bits")
        if self.version == 2 and self.refcount_order != 4:
            raise ImageCorruptError("Invalid refcount order for a version 2 image")
        if self.crypt_method:
            if self.crypt_method > 2:
                raise ImageCorruptError(f"Unsupported encryption method: {self.crypt_method}")
            raise UnsupportedError("Encrypted qcow2 images are not supported")
        comp_bit = bool(self.incompatible_features & INCOMPAT_COMPRESSION)
        if self.compression_type not in COMPRESSION_NAMES:
            raise UnsupportedError(f"Unknown compression type {self.compression_type}")
        if comp_bit != (self.compression_type != COMPRESSION_ZLIB):
            raise ImageCorruptError("Invalid compression type: the compression type bit and "
                                    "the compression type field disagree")
        if self.size >= MAX_HOST_OFFSET:
            raise ImageCorruptError("Image is too big")
        if self.l1_size > MAX_L1_SIZE // 8:
            raise ImageCorruptError("Active L1 table too large")
        l2_entries = cs // 8
        needed = -(-self.size // (cs * l2_entries))
        if self.l1_size < needed:
            raise ImageCorruptError("L1 table is too small")
        _check_table(self.l1_table_offset, self.l1_size * 8, cs, "Active L1 table offset invalid", file_size)
        if self.refcount_table_clusters > MAX_REFTABLE_SIZE // cs:
            raise ImageCorruptError("Reference count table too large")
        if self.refcount_table_clusters == 0:
            raise ImageCorruptError("Image does not contain a reference count table")
        _check_table(self.refcount_table_offset, self.refcount_table_clusters * cs, cs,
                     "Reference count table offset invalid", file_size)
        if self.nb_snapshots > MAX_SNAPSHOTS:
            raise ImageCorruptError("Snapshot table too large")
        if self.nb_snapshots:
            _check_table(self.snapshots_offset, self.nb_snapshots * 40, cs,
                         "Snapshot table offset invalid", file_size)

    # --- writing ------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Cluster 0 as QEMU writes it: header, extensions, end marker, backing name."""
        out = bytearray(_V2.pack(QCOW_MAGIC, self.version, 0, 0, self.cluster_bits, self.size,
                                 self.crypt_method, self.l1_size, self.l1_table_offset,
                                 self.refcount_table_offset, self.refcount_table_clusters,
                                 self.nb_snapshots, self.snapshots_offset))
        if self.version >= 3:
            hlen = max(V3_HEADER_LEN, V3_HEADER_LEN + len(self.unknown_tail))
            out += _V3.pack(self.incompatible_features, self.compatible_features, self.autoclear_features,
                            self.refcount_order, hlen)
            out += bytes([self.compression_type]) + bytes(7) + self.unknown_tail
        exts: list[Extension] = [e for e in self.extensions if e.type in (EXT_CRYPTO, EXT_DATA_FILE)]
        if self.backing_format:
            exts.append(Extension(EXT_BACKING_FORMAT, self.backing_format.encode()))
        if self.version >= 3 and self.cluster_size > 4096:  # QEMU 7.2 leaves it out of small clusters
            table = b"".join(struct.pack(">BB46s", t, b, n.encode()) for t, b, n in FEATURE_TABLE)
            exts.append(Extension(EXT_FEATURE_TABLE, table))
        exts += [e for e in self.extensions if e.type not in (EXT_CRYPTO, EXT_DATA_FILE)]
        for e in exts:
            out += _EXT.pack(e.type, len(e.data)) + e.data + bytes(-len(e.data) % 8)
        out += _EXT.pack(EXT_END, 0)
        if self.backing_file:
            name = self.backing_file.encode()
            if len(name) > MAX_BACKING_NAME:
                raise BlockError("Backing file name too long", errno.EINVAL)
            struct.pack_into(">QI", out, 8, len(out), len(name))
            out += name
        if len(out) > self.cluster_size:
            raise BlockError("Header extensions and backing file name do not fit in the first cluster",
                             errno.ENOSPC)
        return bytes(out)


def _check_table(offset: int, length: int, cs: int, msg: str, file_size: int | None) -> None:
    """QEMU's validate_table_offset: aligned, and the table must not reach past 2^63."""
    if offset % cs or offset + length >= (1 << 63) or offset >= MAX_HOST_OFFSET:
        raise ImageCorruptError(msg)
    if offset == 0 and length:
        raise ImageCorruptError(msg)
    if file_size is not None and length and offset + length > file_size + cs * 1024 and offset > file_size:
        raise ImageCorruptError(msg)
