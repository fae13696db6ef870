"""Compressed clusters: raw deflate (QEMU's "zlib", window 2^12) and zstd when ``zstandard`` is importable.

Layout of a compressed L2 entry (x = 62 - (cluster_bits - 8)): bits 0..x-1 the
host byte offset, bits x..61 the number of extra 512-byte sectors.  The
stored data may run on into the next sectors; decompression stops once a full
cluster has come out.
"""
from __future__ import annotations

import zlib

from ..driver import ImageCorruptError, UnsupportedError
from .header import COMPRESSION_ZLIB, COMPRESSION_ZSTD

try:
    import zstandard
except ImportError:  # optional: zstd images then open but their compressed clusters cannot be read
    zstandard = None

L2E_COMPRESSED = 1 << 62


def layout(cluster_bits: int) -> tuple[int, int]:
    """(offset mask, sector-count shift) of a compressed descriptor."""
    shift = 62 - (cluster_bits - 8)
    return (1 << shift) - 1, shift


def decode_entry(entry: int, cluster_bits: int) -> tuple[int, int]:
    """(host byte offset, bytes to read) of a compressed L2 entry."""
    mask, shift = layout(cluster_bits)
    off = entry & mask
    nsec = ((entry >> shift) & ((1 << (cluster_bits - 8)) - 1)) + 1
    return off, nsec * 512 - (off & 511)


def encode_entry(offset: int, length: int, cluster_bits: int) -> int:
    _, shift = layout(cluster_bits)
    nsec = ((offset + length - 1) >> 9) - (offset >> 9)
    return L2E_COMPRESSED | (nsec << shift) | offset


def host_range(entry: int, cluster_bits: int) -> tuple[int, int]:
    """The sector-aligned host range a compressed cluster holds references on (as QEMU counts them)."""
    mask, shift = layout(cluster_bits)
    off = entry & mask
    nsec = ((entry >> shift) & ((1 << (cluster_bits - 8)) - 1)) + 1
    return off & ~511, nsec * 512


def compress(data: bytes, ctype: int) -> bytes | None:
    """Compressed form of one cluster, or None when it would not save space (QEMU then writes it plain)."""
    limit = len(data) - 1
    if ctype == COMPRESSION_ZLIB:
        c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -12, 9)
        out = c.compress(data) + c.flush()
    elif ctype == COMPRESSION_ZSTD:
        if zstandard is None:
            raise UnsupportedError("zstd compression is not available (install the 'zstandard' package)")
        out = zstandard.ZstdCompressor().compress(data)
    else:
        raise UnsupportedError(f"Unknown compression type {ctype}")
    return out if len(out) <= limit else None


def decompress(buf: bytes, cluster_size: int, ctype: int) -> bytes:
    """Exactly one cluster out of ``buf``; a stream that yields less is corruption."""
    try:
        if ctype == COMPRESSION_ZLIB:
            d = zlib.decompressobj(-15)
            out = d.decompress(buf, cluster_size)
        elif ctype == COMPRESSION_ZSTD:
            if zstandard is None:
                raise UnsupportedError("zstd compression is not available (install the 'zstandard' package)")
            out = zstandard.ZstdDecompressor().decompressobj().decompress(buf)[:cluster_size]
        else:
            raise UnsupportedError(f"Unknown compression type {ctype}")
    except (zlib.error, ValueError) as exc:
        raise ImageCorruptError(f"Could not decompress cluster: {exc}") from None
    except Exception as exc:  # zstandard.ZstdError and friends
        if isinstance(exc, UnsupportedError):
            raise
        raise ImageCorruptError(f"Could not decompress cluster: {exc}") from None
    if len(out) < cluster_size:
        raise ImageCorruptError("Could not decompress cluster: compressed data too short")
    return out
