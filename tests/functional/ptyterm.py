"""A program on a pseudo-terminal, for functional tests: type input, wait for output, read termios."""
from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import termios
import time


class PtyProgram:
    """``argv`` with stdin/stdout/stderr on a new pty; the test keeps the master and the slave."""

    def __init__(self, argv: list[str]) -> None:
        self.master, self.slave = pty.openpty()
        self.initial = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen(argv, stdin=self.slave, stdout=self.slave, stderr=self.slave,
                                     start_new_session=True)
        self.out = b""

    def until(self, token: bytes, timeout: float = 20.0) -> bytes:
        """Output up to and including `token`; what follows stays buffered."""
        end = time.monotonic() + timeout
        while token not in self.out:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {token!r} in {self.out!r}")
            if select.select([self.master], [], [], left)[0]:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError(f"EOF before {token!r} in {self.out!r}")
                self.out += data
        text, _, self.out = self.out.partition(token)
        return text + token

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def attrs(self) -> list:
        return termios.tcgetattr(self.slave)

    def wait(self, timeout: float = 20.0) -> int:
        end = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > end:
                raise AssertionError("the program did not exit")
            if select.select([self.master], [], [], 0.05)[0]:  # keep the pty drained
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    pass
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
