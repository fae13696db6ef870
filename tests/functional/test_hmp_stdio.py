"""``-monitor stdio`` (and friends) driven through a pseudo-terminal, as a user types.

The expected lines are what QEMU 7.2 prints (with its version number); with
real ``qemu-system-aarch64`` installed the same session runs against it too.
"""
from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

CMD = [sys.executable, "-c",
       "import sys; from pyqemu.system.vl import main_aarch64; sys.exit(main_aarch64())"]
PROMPT = b"(qemu) "
EDIT = re.compile(rb"\x1b\[[0-9]*[A-Za-z]")


class Term:
    """A program on a pty: ``send`` a line, ``until`` some output shows up."""

    def __init__(self, argv: list[str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            os.execvp(argv[0], argv)
        self.out = b""
        self.exited = False

    def until(self, token: bytes, timeout: float = 10.0) -> bytes:
        end = time.monotonic() + timeout
        while token not in self.out:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {token!r} in {self.out!r}")
            if select.select([self.fd], [], [], left)[0]:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError(f"EOF before {token!r} in {self.out!r}")
                self.out += data
        text, _, self.out = self.out.partition(token)
        return text + token

    def command(self, line: str) -> list[str]:
        """Type `line` + Enter; the output lines up to the next prompt, without the echo."""
        os.write(self.fd, line.encode() + b"\r")
        text = EDIT.sub(b"", self.until(b"\n" + PROMPT))
        return text.decode().replace("\r", "").split("\n")[1:-1]

    def wait(self, timeout: float = 10.0) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exited = True
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            try:
                self.out += os.read(self.fd, 4096) if select.select([self.fd], [], [], 0.05)[0] else b""
            except OSError:
                pass
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError("the emulator did not exit")


def session(argv: list[str], version: str) -> None:
    t = Term(argv + ["-M", "none", "-display", "none", "-monitor", "stdio", "-name", "hmpvm"])
    try:
        greeting = t.until(PROMPT).decode()
        assert greeting.replace("\r", "") == (
            f"QEMU {version} monitor - type 'help' for more information\n(qemu) ")
        assert t.command("info status") == ["VM status: running"]
        assert t.command("stop") == []
        assert t.command("info status") == ["VM status: paused"]
        assert t.command("info name") == ["hmpvm"]
        assert t.command("info chardev") == ["compat_monitor0: filename=stdio"]
        assert t.command("foo") == ["unknown command: 'foo'"]
        assert t.command("c") == []
        assert t.command("info status") == ["VM status: running"]
        os.write(t.fd, b"quit\r")
        assert t.wait() == 0
    finally:
        if not t.exited:
            os.kill(t.pid, signal.SIGKILL)
            os.waitpid(t.pid, 0)
            os.close(t.fd)


def test_monitor_stdio() -> None:
    session(CMD, "7.2.0")


@pytest.mark.skipif(shutil.which("qemu-system-aarch64") is None, reason="needs qemu-system-arm")
def test_monitor_stdio_real_qemu() -> None:
    out = subprocess.run(["qemu-system-aarch64", "--version"], capture_output=True, text=True).stdout
    session(["qemu-system-aarch64"], re.search(r"version (\d+\.\d+\.\d+)", out).group(1))


def test_prelaunch_and_hmp_over_unix_socket(tmp_path) -> None:
    path = str(tmp_path / "hmp.sock")
    proc = subprocess.Popen(CMD + ["-M", "none", "-display", "none", "-S",
                                   "-monitor", f"unix:{path},server=on,wait=off"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 10
        while not os.path.exists(path) and time.monotonic() < end:
            time.sleep(0.05)
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        f = s.makefile("rb")
        buf = b""

        def until(tok: bytes) -> bytes:
            nonlocal buf
            while tok not in buf:
                buf += f.read1(4096)
            text, _, buf = buf.partition(tok)
            return text

        until(PROMPT)
        s.sendall(b"info status\n")
        assert EDIT.sub(b"", until(PROMPT)).endswith(b"\r\nVM status: paused (prelaunch)\r\n")
        s.sendall(b"q\n")
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("opts", [["-serial", "mon:stdio"], ["-nographic"],
                                  ["-chardev", "stdio,id=m0", "-mon", "chardev=m0,mode=readline"]])
def test_other_stdio_monitors(opts: list[str]) -> None:
    t = Term(CMD + ["-M", "none", "-display", "none", *opts])
    try:
        t.until(PROMPT)
        assert t.command("info status") == ["VM status: running"]
        if opts[0] == "-serial":
            os.write(t.fd, b"\x01c")     # the mux focus comes back to the only frontend
            t.until(b"\r\n" + PROMPT)
        os.write(t.fd, b"q\r")
        assert t.wait() == 0
    finally:
        if not t.exited:
            os.kill(t.pid, signal.SIGKILL)
            os.waitpid(t.pid, 0)
            os.close(t.fd)
