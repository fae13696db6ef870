"""The GDB remote serial protocol's framing: ``$payload#checksum`` packets, the ``+``/``-``
acknowledgements (until ``QStartNoAckMode``), ``}`` escapes, and the interrupt byte 0x03
that gdb sends for Ctrl-C while the target runs."""
from __future__ import annotations

import select
import socket

INTERRUPT = b"\x03"


class Disconnected(Exception):
    """gdb closed the connection."""


def unescape(data: bytes) -> bytes:
    if b"}" not in data:
        return data
    out = bytearray()
    it = iter(data)
    for c in it:
        out.append(next(it, 0) ^ 0x20 if c == 0x7D else c)
    return bytes(out)


class RspConnection:
    """One gdb connection over a connected stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.ack = True

    def _fill(self) -> None:
        try:
            data = self.sock.recv(65536)
        except OSError as e:
            raise Disconnected(str(e)) from None
        if not data:
            raise Disconnected("connection closed")
        self.buf += data

    def read_packet(self) -> bytes:
        """The next packet's payload (unescaped), or INTERRUPT."""
        buf = self.buf
        while True:
            start = buf.find(b"$")
            pre = buf if start < 0 else buf[:start]
            if INTERRUPT[0] in pre:
                del buf[:pre.index(INTERRUPT[0]) + 1]
                return INTERRUPT
            if start < 0:
                buf.clear()  # acknowledgements and noise
                self._fill()
                continue
            end = buf.find(b"#", start)
            if end < 0 or len(buf) < end + 3:
                del buf[:start]
                self._fill()
                continue
            payload = bytes(buf[start + 1:end])
            checksum = bytes(buf[end + 1:end + 3])
            del buf[:end + 3]
            try:
                good = int(checksum, 16) == sum(payload) & 0xFF
            except ValueError:
                good = False
            if self.ack:
                self.sock.sendall(b"+" if good else b"-")
            if good or not self.ack:
                return unescape(payload)

    def send_packet(self, payload: bytes | str) -> None:
        if isinstance(payload, str):
            payload = payload.encode("latin-1")
        data = (payload.replace(b"}", b"}]").replace(b"#", b"}\x03").replace(b"$", b"}\x04")
                .replace(b"*", b"}\x0a"))
        packet = b"$" + data + b"#%02x" % (sum(data) & 0xFF)
        while True:
            try:
                self.sock.sendall(packet)
            except OSError as e:
                raise Disconnected(str(e)) from None
            if not self.ack or self._acked():
                return

    def _acked(self) -> bool:
        """Wait for gdb's acknowledgement: True for ``+``, False for ``-`` (send again)."""
        while True:
            if not self.buf:
                self._fill()
            c = self.buf[0]
            if c in b"+-":
                del self.buf[0]
                return c == ord("+")
            if c == ord("$") or c == INTERRUPT[0]:
                return True  # gdb went on without acknowledging
            del self.buf[0]

    def interrupt_pending(self) -> bool:
        """Whether gdb sent Ctrl-C (0x03) while the target ran (never blocks)."""
        if INTERRUPT[0] in self.buf:
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        if readable:
            try:
                self._fill()
            except Disconnected:
                return True  # gdb went away: stop and let the serving loop see it
        return INTERRUPT[0] in self.buf

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
