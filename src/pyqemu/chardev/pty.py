"""The pty chardev: a pseudo-terminal whose slave a user opens (``screen /dev/pts/N``).

Output is dropped while no one has the slave open (QEMU polls for the peer);
the slave's name goes to stderr exactly as QEMU prints it.
"""
from __future__ import annotations

import os
import select
import sys
import tty
from typing import Any

from pyqemu.chardev.char import CHR_EVENT_CLOSED, CHR_EVENT_OPENED, FdChardev, register_backend
from pyqemu.system.main_loop import ClockType

POLL_NS = 1_000_000_000


@register_backend("pty")
class PtyChardev(FdChardev):
    backend = "pty"

    def __init__(self, id: str, opts: dict[str, Any]):
        super().__init__(id, opts)
        master, slave = os.openpty()
        self.pty_name = os.ttyname(slave)
        tty.setraw(slave)
        # Keep no slave fd open: an open slave would hide the peer's hang-up from us.
        os.close(slave)
        self.master = master
        self.filename = f"pty:{self.pty_name}"
        sys.stderr.write(f"char device redirected to {self.pty_name} (label {self.label})\n")
        sys.stderr.flush()
        self._timer = self.loop.new_timer(ClockType.REALTIME, self._poll)
        os.set_blocking(master, False)
        self._poll()

    def _peer_connected(self) -> bool:
        p = select.poll()
        p.register(self.master, select.POLLIN | select.POLLHUP)
        return not any(ev & select.POLLHUP for _, ev in p.poll(0))

    def _poll(self) -> None:
        connected = self._peer_connected()
        if connected and not self.be_open:
            self.set_fds(self.master, self.master)
            self.be_event(CHR_EVENT_OPENED)
        elif not connected and self.be_open:
            self._disconnect()
        if not self.be_open:
            self._timer.mod_ns(self.loop.clock_get_ns(ClockType.REALTIME) + POLL_NS)

    def _disconnect(self) -> None:
        self.stop_io()
        self.fd_in = self.fd_out = None
        self.be_event(CHR_EVENT_CLOSED)

    def write(self, data: bytes) -> int:
        if not self.be_open:
            self._log(data)
            return len(data)
        return super().write(data)

    def on_eof(self) -> None:
        self._disconnect()
        self._poll()

    def on_write_error(self, e: OSError) -> None:
        self._disconnect()
        self._poll()

    def close(self) -> None:
        self._timer.del_()
        self.stop_io()
        self.fd_in = self.fd_out = None
        try:
            os.close(self.master)
        except OSError:
            pass
        super().close()
