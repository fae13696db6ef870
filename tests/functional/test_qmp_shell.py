"""``qmp-shell`` (from the qemu.qmp package) typed into on a pty, against pyqemu and real QEMU.

The transcripts must be the same, apart from the version in the greeting.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from conftest import unavailable
from ptyterm import PtyProgram

pytest.importorskip("qemu.qmp")

PYQEMU = [sys.executable, "-c",
          "import sys; from pyqemu.system.vl import main_aarch64; sys.exit(main_aarch64())"]
PROMPT = b"(QEMU) "
SESSION = ["query-status", "stop", "query-status", "cont", "query-status", "quit"]


def qmp_shell() -> list[str]:
    exe = shutil.which("qmp-shell")
    if exe is not None:
        return [exe]
    return [sys.executable, "-m", "qemu.qmp.qmp_shell"]


def transcript(emu: list[str], sock: str) -> tuple[list[str], int]:
    """Type SESSION into qmp-shell; returns (the lines shown, the emulator's exit status)."""
    vm = subprocess.Popen(emu + ["-M", "none", "-display", "none", "-qmp", f"unix:{sock},server=on,wait=off"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shell = None
    try:
        end = time.monotonic() + 20
        while not os.path.exists(sock):
            assert time.monotonic() < end and vm.poll() is None
            time.sleep(0.02)
        shell = PtyProgram(qmp_shell() + [sock])
        text = shell.until(PROMPT)
        for cmd in SESSION:
            shell.send(cmd.encode() + b"\r")
            text += shell.until(PROMPT)
        status = vm.wait(20)
        return text.decode().replace("\r", "").split("\n"), status
    finally:
        if shell is not None:
            shell.close()
        if vm.poll() is None:
            vm.kill()
            vm.wait()


EXPECTED = [
    "Welcome to the QMP low-level shell!",
    "Connected to QEMU 7.2.X",
    "",
    "(QEMU) query-status",
    '{"return": {"status": "running", "singlestep": false, "running": true}}',
    "(QEMU) stop",
    '{"return": {}}',
    "(QEMU) query-status",
    '{"return": {"status": "paused", "singlestep": false, "running": false}}',
    "(QEMU) cont",
    '{"return": {}}',
    "(QEMU) query-status",
    '{"return": {"status": "running", "singlestep": false, "running": true}}',
    "(QEMU) quit",
    '{"return": {}}',
    "(QEMU) ",
]


def normalize(lines: list[str]) -> list[str]:
    return [re.sub(r"QEMU 7\.2\.\d+", "QEMU 7.2.X", line) for line in lines]


def test_qmp_shell_session(tmp_path):
    lines, status = transcript(PYQEMU, str(tmp_path / "py.sock"))
    assert normalize(lines) == EXPECTED
    assert status == 0


def test_qmp_shell_session_real_qemu(tmp_path):
    if shutil.which("qemu-system-aarch64") is None:
        unavailable("qemu-system-aarch64 not installed (Debian package qemu-system-arm)")
    lines, status = transcript(["qemu-system-aarch64"], str(tmp_path / "q.sock"))
    assert normalize(lines) == EXPECTED
    assert status == 0
