"""The terminal is back in its original mode however the emulator on stdio exits.

The emulator runs on a real pty with a monitor on stdio (``-serial mon:stdio``,
``-monitor stdio``, ``-nographic``); it leaves by SIGTERM, by ``quit`` and by
Ctrl-A x. The same runs go to real qemu-system-aarch64, which behaves the same.
"""
from __future__ import annotations

import shutil
import signal
import sys
import termios

import pytest
from conftest import unavailable
from ptyterm import PtyProgram

PYQEMU = [sys.executable, "-c",
          "import sys; from pyqemu.system.vl import main_aarch64; sys.exit(main_aarch64())"]


@pytest.fixture(params=["pyqemu", "qemu"])
def emu(request) -> list[str]:
    if request.param == "qemu":
        if shutil.which("qemu-system-aarch64") is None:
            unavailable("qemu-system-aarch64 not installed (Debian package qemu-system-arm)")
        return ["qemu-system-aarch64"]
    return PYQEMU


@pytest.mark.parametrize("opts, how", [
    (opts, how) for opts in (["-serial", "mon:stdio"], ["-monitor", "stdio"], ["-nographic"])
    for how in ("sigterm", "quit", "ctrl-a x")
    if how != "ctrl-a x" or opts[0] == "-serial"])   # Ctrl-A x belongs to the mux (mon:stdio)
def test_terminal_restored(emu, opts, how):
    t = PtyProgram(emu + ["-M", "none", "-display", "none", *opts])
    try:
        t.until(b"(qemu) ")
        t.send(b"info status\r")      # answered from the main loop: startup is over
        t.until(b"VM status: running")
        t.until(b"(qemu) ")
        raw = t.attrs()
        assert raw != t.initial
        assert not raw[3] & (termios.ECHO | termios.ICANON)       # raw mode while running
        if how == "sigterm":
            t.proc.send_signal(signal.SIGTERM)
        elif how == "quit":
            t.send(b"quit\r")
        else:
            t.send(b"\x01x")
        assert t.wait() == 0
        assert t.attrs() == t.initial
    finally:
        t.close()
