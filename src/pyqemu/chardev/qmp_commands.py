"""QMP commands of the chardev subsystem: query-chardev, query-chardev-backends, ringbuf-read/-write.

Replies match QEMU 7.2 byte for byte, including its quirks:

- ``query-chardev`` lists chardevs in reverse glib hash-table order (QEMU walks
  the ``/chardevs`` container's property table and prepends each entry).
- ``ringbuf-write`` writes the string as QEMU holds it: modified UTF-8, so an
  embedded ``\\u0000`` becomes the two bytes C0 80. Base64 input is checked
  with QEMU's character set, then decoded leniently as glib does.
- ``ringbuf-read`` in utf8 format returns a C string: it stops at the first NUL
  byte, and QEMU's JSON writer turns each invalid sequence into U+FFFD.
"""
from __future__ import annotations

import base64
from typing import Any

from pyqemu.chardev import char
from pyqemu.chardev.ringbuf import RingbufChardev
from pyqemu.monitor.registry import CommandRegistry, QMPError

# QEMU 7.2's query-chardev-backends order (class hash-table order, prepended);
# backends pyqemu has that QEMU lacks (braille) go last.
_QEMU_BACKEND_ORDER = ("memory", "parallel", "mux", "file", "udp", "socket", "msmouse",
                       "qemu-vdagent", "wctablet", "ringbuf", "null", "testdev", "pty", "pipe",
                       "serial", "vc", "stdio")

_BASE64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n")


def register(reg: CommandRegistry) -> None:
    """Register the chardev commands and their types on a monitor's registry."""
    reg.struct("ChardevInfo", {"label": "str", "filename": "str", "frontend-open": "bool"})
    reg.struct("ChardevBackendInfo", {"name": "str"})
    reg.enum("DataFormat", ["utf8", "base64"])

    @reg.command("query-chardev", returns="[ChardevInfo]", allow_preconfig=True)
    def query_chardev(ctx: Any) -> list[dict[str, Any]]:
        return query_chardev_list()

    @reg.command("query-chardev-backends", returns="[ChardevBackendInfo]")
    def query_chardev_backends(ctx: Any) -> list[dict[str, str]]:
        return backends_list()

    @reg.command("ringbuf-write", {"device": "str", "data": "str", "*format": "DataFormat"})
    def ringbuf_write(ctx: Any, device: str, data: str, format: str = "utf8") -> None:
        chr = _ringbuf(device)
        raw = base64_decode(data) if format == "base64" else mod_utf8_encode(data)
        chr.write(raw)

    @reg.command("ringbuf-read", {"device": "str", "size": "int", "*format": "DataFormat"},
                 returns="str")
    def ringbuf_read(ctx: Any, device: str, size: int, format: str = "utf8") -> str:
        chr = _ringbuf(device)
        if size <= 0:
            raise QMPError("size must be greater than zero")
        raw = chr.read(size)
        if format == "base64":
            return base64.b64encode(raw).decode("ascii")
        return c_string_text(raw)


def _ringbuf(device: str) -> RingbufChardev:
    chr = char.chardev_find(device)
    if chr is None:
        raise QMPError(f"Device '{device}' not found")
    if not isinstance(chr, RingbufChardev):
        raise QMPError(f"{device} is not a ringbuf device")
    return chr


# -- query-chardev ---------------------------------------------------------------------------------

def query_chardev_list() -> list[dict[str, Any]]:
    """query-chardev's entries, in QEMU's order."""
    infos = {info["label"]: info for info in char.query_chardev()}
    return [infos[label] for label in reversed(glib_table_order(list(infos)))]


def _g_str_hash(key: str) -> int:
    h = 5381
    for c in key.encode("utf-8", errors="surrogatepass"):
        if c >= 0x80:
            c -= 0x100  # glib hashes signed chars
        h = (h * 33 + c) & 0xFFFFFFFF
    return h


def glib_table_order(keys: list[str]) -> list[str]:
    """Iteration order of a GHashTable(g_str_hash) after inserting ``keys`` in order.

    Exact while the table keeps glib's initial 8 slots (up to 7 keys, no
    removals); larger tables resize, and insertion order is used instead.
    """
    if len(keys) > 7:
        return list(keys)
    slots: dict[int, str] = {}
    for k in keys:
        h = max(_g_str_hash(k), 2)     # glib reserves hashes 0 and 1
        idx, step = (h * 11 & 0xFFFFFFFF) % 7, 0
        while idx in slots:            # quadratic probing over the 8 slots
            step += 1
            idx = (idx + step) & 7
        slots[idx] = k
    return [slots[i] for i in sorted(slots)]


def backends_list() -> list[dict[str, str]]:
    """query-chardev-backends: pyqemu's backends, in QEMU's order."""
    names = [b["name"] for b in char.query_chardev_backends()]
    rank = {n: i for i, n in enumerate(_QEMU_BACKEND_ORDER)}
    names.sort(key=lambda n: rank.get(n, len(rank)))
    return [{"name": n} for n in names]


# -- byte/string conversions as QEMU does them -----------------------------------------------------

def mod_utf8_encode(s: str) -> bytes:
    """A QMP string as QEMU stores it: UTF-8 with NUL as C0 80 (QEMU's JSON parser does this)."""
    return s.encode("utf-8", errors="surrogatepass").replace(b"\x00", b"\xc0\x80")


def base64_decode(data: str) -> bytes:
    """QEMU's qbase64_decode(): strict character check, then glib's lenient decoder."""
    raw = mod_utf8_encode(data)
    if not all(b in _BASE64_CHARS for b in raw):
        raise QMPError("Base64 data contains invalid characters")
    return g_base64_decode(raw)


def _b64_rank(c: int) -> int:
    if 65 <= c <= 90:
        return c - 65
    if 97 <= c <= 122:
        return c - 71
    if 48 <= c <= 57:
        return c + 4
    return {43: 62, 47: 63, 61: 0}.get(c, 0xFF)


def g_base64_decode(raw: bytes) -> bytes:
    """glib's g_base64_decode(): '=' counts as a zero digit, an incomplete final group is dropped."""
    out = bytearray()
    v = i = 0
    last0 = last1 = 0
    for c in raw:
        rank = _b64_rank(c)
        if rank == 0xFF:
            continue
        last1, last0 = last0, c
        v = ((v << 6) | rank) & 0xFFFFFFFF
        i += 1
        if i == 4:
            out.append((v >> 16) & 0xFF)
            if last1 != 0x3D:
                out.append((v >> 8) & 0xFF)
            if last0 != 0x3D:
                out.append(v & 0xFF)
            i = 0
    return bytes(out)


def _valid_codepoint(cp: int) -> bool:
    return (cp <= 0x10FFFF and (cp & 0xFFFFF800) != 0xD800 and (cp & 0xFFFE) != 0xFFFE
            and not 0xFDD0 <= cp <= 0xFDEF)


_MIN_CP = (0x80, 0x800, 0x10000, 0x200000, 0x4000000)


def c_string_text(raw: bytes) -> str:
    """Bytes read as a C string and decoded as QEMU's JSON writer does (mod_utf8_codepoint)."""
    raw = raw.split(b"\x00", 1)[0]
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        i += 1
        if byte < 0x80:
            out.append(chr(byte))
            continue
        cp = -1
        if byte < 0xFE and byte & 0x40:
            length, mask = 0, 0x80
            while byte & mask:
                length += 1
                mask >>= 1
            cp = byte & (mask - 1)
            for _ in range(1, length):
                if i >= n or raw[i] & 0xC0 != 0x80:
                    cp = -1      # a missing continuation byte ends the bad sequence here
                    break
                cp = (cp << 6) | (raw[i] & 0x3F)
                i += 1
            if cp >= 0 and (not _valid_codepoint(cp)
                            or (cp < _MIN_CP[length - 2] and not (cp == 0 and length == 2))):
                cp = -1
        out.append(chr(cp) if cp >= 0 else "\ufffd")
    return "".join(out)
