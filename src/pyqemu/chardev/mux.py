"""The mux chardev (``mon:stdio``, ``mux=on``): up to 4 frontends share one backend.

As QEMU's char-mux.c: input goes to the frontend with the focus; after the
escape character (Ctrl-A) ``h``/``?`` prints help, ``x`` exits, ``c`` moves the
focus to the next frontend, ``b`` sends a break, ``t`` toggles timestamps,
``s`` commits disks, and a second Ctrl-A sends Ctrl-A itself.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any

from pyqemu.chardev.char import (
    CHR_EVENT_BREAK,
    CHR_EVENT_CLOSED,
    CHR_EVENT_MUX_IN,
    CHR_EVENT_MUX_OUT,
    CHR_EVENT_OPENED,
    CharBackend,
    Chardev,
    ChardevError,
)

MAX_MUX = 4
MUX_BUFFER_SIZE = 32
term_escape_char = 0x01   # -echr changes it

MUX_HELP = (
    "% h    print this help\n\r",
    "% x    exit emulator\n\r",
    "% s    save disk data back to file (if -snapshot)\n\r",
    "% t    toggle console timestamps\n\r",
    "% b    send break (magic sysrq)\n\r",
    "% c    switch between console and monitor\n\r",
    "% %  sends %\n\r",
)


def help_text(esc: int) -> bytes:
    if 0 < esc < 26:
        cbuf, ebuf = "\n\r", f"C-{chr(esc - 1 + ord('a'))}"
    else:
        cbuf, ebuf = f"\n\rEscape-Char set to Ascii: 0x{esc:02x}\n\r\n\r", "Escape-Char"
    return (cbuf + "".join(line.replace("%", ebuf) for line in MUX_HELP)).encode()


_realized = False  # QEMU's muxes_opened: set once the machine and its frontends exist


def muxes_realized() -> None:
    """The machine is built (QEMU's muxes_realized notifier): every mux tells all its
    frontends it is open, the monitor then greets only if it has the focus."""
    global _realized
    _realized = True
    from pyqemu.chardev import char
    for info in char.query_chardev():
        dev = char.chardev_find(info["label"])
        if isinstance(dev, MuxChardev) and dev.be_open:
            for fe in dev.fes:
                fe._event(CHR_EVENT_OPENED)


def reset_realized() -> None:
    """For tests that build several machines in one process."""
    global _realized
    _realized = False


class MuxChardev(Chardev):
    backend = "mux"

    def __init__(self, id: str, opts: dict[str, Any], base: Chardev):
        super().__init__(id, {})
        self.base = base
        self.fes: list[CharBackend] = []
        self.focus = -1
        self.got_escape = False
        self.timestamps = False
        self._ts_start = -1.0
        self._linestart = False
        self.bufs: list[deque[int]] = []
        self.be_open = base.be_open
        base.mux = self
        base.set_handlers(self._can_read, self._read, self._event)

    # --- frontends ----------------------------------------------------------------
    def _attach(self, fe: CharBackend) -> int:
        if len(self.fes) >= MAX_MUX:
            raise ChardevError(f"Too many uses of chardevs '{self.label}'. Maximum is {MAX_MUX}")
        self.fes.append(fe)
        self.bufs.append(deque())
        return len(self.fes) - 1

    def _detach(self, fe: CharBackend) -> None:
        # Keep the slot (tags are indices) but make it inert.
        fe.can_read = fe.read = fe.event = None

    def _frontend_changed(self, fe: CharBackend, open_: bool) -> None:
        self.fe_open = self.in_use()
        if open_:
            self.set_focus(fe.tag)
            if self.be_open and _realized:
                fe._event(CHR_EVENT_OPENED)

    def in_use(self) -> bool:
        return any(f.can_read or f.read or f.event for f in self.fes)

    def set_focus(self, idx: int) -> None:
        if 0 <= self.focus < len(self.fes):
            self.fes[self.focus]._event(CHR_EVENT_MUX_OUT)
        self.focus = idx
        self.fes[idx]._event(CHR_EVENT_MUX_IN)
        self.accept_input()

    def accept_input(self) -> None:
        if self.focus < 0:
            return
        fe, buf = self.fes[self.focus], self.bufs[self.focus]
        while buf and fe._can_read() > 0:
            fe._read(bytes([buf.popleft()]))
        self.base.accept_input()

    # --- output -------------------------------------------------------------------
    def write(self, data: bytes) -> int:
        if not self.timestamps:
            return self.base.write(data)
        out = bytearray()
        for b in data:
            if self._linestart:
                now = time.monotonic()
                if self._ts_start < 0:
                    self._ts_start = now
                ms = int((now - self._ts_start) * 1000)
                secs = ms // 1000
                out += f"[{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{ms % 1000:03d}] ".encode()
                self._linestart = False
            out.append(b)
            if b == 0x0A:
                self._linestart = True
        self.base.write(bytes(out))
        return len(data)

    # --- input from the backend --------------------------------------------------------
    def _can_read(self) -> int:
        if self.focus < 0:
            return 0
        buf = self.bufs[self.focus]
        if buf:
            return MUX_BUFFER_SIZE - len(buf)
        return max(self.fes[self.focus]._can_read(), 1) if self.fes[self.focus].read else 0

    def _read(self, data: bytes) -> None:
        self.accept_input()
        for ch in data:
            if self._proc_byte(ch) and self.focus >= 0:
                fe, buf = self.fes[self.focus], self.bufs[self.focus]
                if not buf and fe._can_read() > 0:
                    fe._read(bytes([ch]))
                elif len(buf) < MUX_BUFFER_SIZE:
                    buf.append(ch)

    def _proc_byte(self, ch: int) -> bool:
        """True if `ch` goes to the focused frontend (QEMU's mux_proc_byte)."""
        if self.got_escape:
            self.got_escape = False
            if ch == term_escape_char:
                return True
            c = chr(ch)
            if c in "h?":
                self.base.write(help_text(term_escape_char))
            elif c == "x":
                self.base.write(b"QEMU: Terminated\n\r")
                from pyqemu.system import runstate
                runstate.current().quit_request_ui()
            elif c == "b" and self.focus >= 0:
                self.fes[self.focus]._event(CHR_EVENT_BREAK)
            elif c == "c" and self.fes:
                self.set_focus((self.focus + 1) % len(self.fes))
            elif c == "t":
                self.timestamps = not self.timestamps
                self._ts_start = -1
                self._linestart = False
            return False
        if ch == term_escape_char:
            self.got_escape = True
            return False
        return True

    def _event(self, ev: int) -> None:
        self.be_event(ev)

    def be_event(self, ev: int) -> None:
        if ev == CHR_EVENT_OPENED:
            self.be_open = True
        elif ev == CHR_EVENT_CLOSED:
            self.be_open = False
        # Every frontend sees backend events (QEMU's mux_chr_send_all_event).
        for fe in self.fes:
            fe._event(ev)

    def info(self) -> dict[str, Any]:
        return {"label": self.label, "filename": "mux", "frontend-open": self.fe_open}

    def close(self) -> None:
        super().close()
