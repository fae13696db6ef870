"""Debian's U-Boot (qemu_arm64) at its prompt, driven over a pty: boot, run commands, power off.

Shared by the storage tests and benchmarks/storage_read.py; the reading is PtyProgram's.
"""
from __future__ import annotations

import os
import re
import signal

from ptyterm import PtyProgram

PROMPT = b"=> "
BOARD = ["-M", "virt", "-cpu", "cortex-a57", "-m", "512", "-nographic", "-nic", "none"]


class UBootShell:
    """``emulator -bios u-boot.bin`` plus ``extra`` arguments, stopped at U-Boot's prompt."""

    def __init__(self, emulator: str, bios: str, extra: list[str], boot_timeout: float = 60.0,
                 cmd_timeout: float = 60.0) -> None:
        self.cmd_timeout = cmd_timeout
        self.p = PtyProgram([emulator, *BOARD, "-bios", bios, *extra])
        try:
            log = self.p.until(b"Hit any key to stop autoboot", boot_timeout)
            self.boot_log = log.decode(errors="replace")
            self.p.send(b" ")
            self.p.until(PROMPT, cmd_timeout)
        except BaseException:
            self.p.close()
            raise

    def run(self, cmd: str, timeout: float | None = None) -> list[str]:
        """The output lines of ``cmd`` (its echo and the next prompt removed)."""
        self.p.send(cmd.encode() + b"\r")
        text = self.p.until(b"\r\n" + PROMPT, timeout or self.cmd_timeout).decode(errors="replace")
        lines = text.replace("\r\n", "\n").split("\n")
        assert lines[0].strip() == cmd, f"U-Boot did not echo {cmd!r}: {text!r}"
        return [line.rstrip("\r") for line in lines[1:-1]]

    def crc32(self, addr: int, length: int) -> int:
        """U-Boot's ``crc32`` of guest memory (the same CRC-32 as zlib.crc32)."""
        out = "\n".join(self.run(f"crc32 {addr:#x} {length:#x}"))
        m = re.search(r"==> ([0-9a-f]{8})", out)
        assert m, out
        return int(m.group(1), 16)

    def poweroff(self, timeout: float = 30.0) -> int:
        """``poweroff``; the emulator's exit status."""
        self.p.send(b"poweroff\r")
        return self.p.wait(timeout)

    def close(self) -> None:
        if self.p.proc.poll() is None:   # the emulator and anything it started (its own session)
            os.killpg(self.p.proc.pid, signal.SIGKILL)
        self.p.close()

    def __enter__(self) -> UBootShell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
