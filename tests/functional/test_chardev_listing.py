"""query-chardev and ``info chardev`` list what QEMU 7.2 lists, in its order.

Covers the legacy ``-qmp`` socket (a chardev named compat_monitor0 in QEMU),
-nographic's default monitor, ``-monitor none``, ``memory``, muxed chardevs
and ``mon:stdio``. Each case runs on a pty against pyqemu and, when
installed, real qemu-system-aarch64; the results must be equal.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time

import pytest
from conftest import unavailable
from ptyterm import PtyProgram

PYQEMU = [sys.executable, "-c",
          "import sys; from pyqemu.system.vl import main_aarch64; sys.exit(main_aarch64())"]
QMP = "compat_monitor0: filename=unix:{sock},server=on"

CASES = {
    "nographic": (["-nographic"], [QMP]),
    "nographic-monitor-none": (["-nographic", "-monitor", "none"], [QMP]),
    "monitor-stdio": (["-monitor", "stdio"], ["compat_monitor1: filename=stdio", QMP]),
    "memory": (["-chardev", "memory,id=m"], ["m: filename=memory", QMP]),
    "mux-ringbuf": (["-chardev", "ringbuf,id=r,mux=on"],
                    ["r: filename=mux", "r-base: filename=ringbuf", QMP]),
    "mon-stdio": (["-serial", "mon:stdio", "-chardev", "null,id=n"],
                  ["serial0: filename=mux", "n: filename=null", QMP, "serial0-base: filename=stdio"]),
}


def listing(emu: list[str], opts: list[str], sock: str) -> tuple[list, str]:
    """(query-chardev, info chardev) from an emulator with a QMP socket first on its command line."""
    if os.path.exists(sock):
        os.unlink(sock)      # left by the previous (killed) emulator
    t = PtyProgram(emu + ["-M", "none", "-display", "none", "-qmp", f"unix:{sock},server=on,wait=off", *opts])
    try:
        end = time.monotonic() + 20
        while not os.path.exists(sock):
            assert time.monotonic() < end and t.proc.poll() is None
            time.sleep(0.02)
        s = socket.socket(socket.AF_UNIX)
        while s.connect_ex(sock) != 0:     # bound but not yet listening
            assert time.monotonic() < end
            time.sleep(0.02)
        f = s.makefile("rwb")
        while "QMP" not in json.loads(f.readline()):
            pass  # real QEMU 7.2 may send its start-up RESUME before the greeting to an early client
        out = []
        for cmd in ({"execute": "qmp_capabilities"}, {"execute": "query-chardev"},
                    {"execute": "human-monitor-command", "arguments": {"command-line": "info chardev"}}):
            f.write(json.dumps(cmd).encode() + b"\n")
            f.flush()
            reply = json.loads(f.readline())
            while "event" in reply:   # RESUME may come first when the client was quicker than the start
                reply = json.loads(f.readline())
            out.append(reply["return"])
        s.close()
        return out[1], out[2]
    finally:
        t.close()


@pytest.mark.parametrize("case", CASES)
def test_listing(case, tmp_path):
    opts, lines = CASES[case]
    sock = str(tmp_path / "qmp.sock")
    entries, info = listing(PYQEMU, opts, sock)
    expected = [line.format(sock=sock) for line in lines]
    assert info == "".join(f"{line}\r\n" for line in expected)
    assert [f"{e['label']}: filename={e['filename']}" for e in entries] == expected
    opened = {e["label"]: e["frontend-open"] for e in entries}
    assert opened.get("r-base", False) is False and opened.get("m", False) is False   # no frontend
    if "serial0-base" in opened:
        assert opened["serial0-base"] is True and opened["serial0"] is True             # the monitor
    if shutil.which("qemu-system-aarch64") is None:
        unavailable("qemu-system-aarch64 not installed (Debian package qemu-system-arm)")
    assert listing(["qemu-system-aarch64"], opts, sock) == (entries, info)
