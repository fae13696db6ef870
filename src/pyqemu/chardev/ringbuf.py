"""The ringbuf (``memory``) chardev: output kept in a power-of-two ring; QMP ringbuf-read/-write."""
from __future__ import annotations

import base64
import binascii
from typing import Any

from pyqemu.chardev.char import CHR_EVENT_OPENED, Chardev, ChardevError, chardev_find, register_backend


@register_backend("ringbuf", "memory")
class RingbufChardev(Chardev):
    backend = "ringbuf"

    def __init__(self, id: str, opts: dict[str, Any]):
        super().__init__(id, opts)
        size = int(opts.get("size", 65536))
        if size <= 0 or size & (size - 1):
            raise ChardevError("size of ringbuf chardev must be power of two")
        self.size = size
        self.buf = bytearray(size)
        self.prod = self.cons = 0
        self.be_event(CHR_EVENT_OPENED)

    def write(self, data: bytes) -> int:
        self._log(data)
        mask = self.size - 1
        for b in data:
            self.buf[self.prod & mask] = b
            self.prod += 1
        if self.prod - self.cons > self.size:
            self.cons = self.prod - self.size   # overwrite the oldest bytes
        return len(data)

    def count(self) -> int:
        return self.prod - self.cons

    def read(self, n: int) -> bytes:
        n = min(n, self.count())
        mask = self.size - 1
        out = bytes(self.buf[(self.cons + i) & mask] for i in range(n))
        self.cons += n
        self.accept_input()
        return out


def _ringbuf(device: str) -> RingbufChardev:
    chr = chardev_find(device)
    if chr is None:
        raise ChardevError(f"Device '{device}' not found")
    if not isinstance(chr, RingbufChardev):
        raise ChardevError(f"{device} is not a ringbuf device")
    return chr


def ringbuf_write(device: str, data: str, format: str = "utf8") -> None:
    """QMP ringbuf-write."""
    chr = _ringbuf(device)
    if format == "base64":
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ChardevError("Base64 data contains invalid characters") from None
    else:
        raw = data.encode("utf-8")
    chr.write(raw)


def ringbuf_read(device: str, size: int, format: str = "utf8") -> str:
    """QMP ringbuf-read: up to `size` bytes; utf8 replaces invalid sequences."""
    chr = _ringbuf(device)
    if size <= 0:
        raise ChardevError("size must be greater than zero")
    raw = chr.read(size)
    if format == "base64":
        return base64.b64encode(raw).decode("ascii")
    return raw.decode("utf-8", errors="replace")
