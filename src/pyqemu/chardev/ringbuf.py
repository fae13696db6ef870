"""The ringbuf (``memory``) chardev: output kept in a power-of-two ring.

The QMP commands that read and write it (ringbuf-read/-write) are in qmp_commands.py.
"""
from __future__ import annotations

from typing import Any

from pyqemu.chardev.char import CHR_EVENT_OPENED, Chardev, ChardevError, register_backend


@register_backend("ringbuf")
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


@register_backend("memory")
class MemoryChardev(RingbufChardev):
    """``memory``: QEMU's older name for ringbuf, and what query-chardev shows for it."""

    backend = "memory"
