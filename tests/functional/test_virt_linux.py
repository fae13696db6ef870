"""Debian's arm64 Linux kernel boots on ``-M virt`` to a busybox shell (issue 5, acceptance 2).

The kernel is the raw ``Image`` of Debian's linux-image-arm64 package and the
initramfs holds Debian's static busybox (tests/boot_assets.py). The test talks
to the shell over the serial console in a pty, checks what the guest reports
about the machine, and powers it off: the process must exit with status 0.
``cryptomgr.notests`` skips the crypto self-tests (two thirds of the boot); the
full boot is a benchmark (benchmarks/boot_virt.py).
"""
from __future__ import annotations

import datetime
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import boot_assets  # noqa: E402
from conftest import unavailable  # noqa: E402
from debian_pkgs import PackageUnavailable  # noqa: E402

BOOT_TIMEOUT = 500  # seconds to the shell: ~2 min here; below the suite's 600 s per-test timeout
PROMPT = b"/ # "


@pytest.fixture(scope="module")
def assets() -> tuple[Path, Path]:
    try:
        return boot_assets.linux_image_arm64(), boot_assets.initramfs()
    except PackageUnavailable as e:
        unavailable(str(e))


class Console:
    """The guest's serial console on a pty."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.buf = b""

    def expect(self, pattern: bytes, timeout: float) -> bytes:
        """Read until ``pattern``; returns (and forgets) everything up to and including it."""
        end = time.monotonic() + timeout
        while pattern not in self.buf:
            left = end - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(0.0, left))
            if not ready:
                raise AssertionError(f"timed out waiting for {pattern!r}; console tail:\n"
                                     f"{self.buf[-3000:].decode(errors='replace')}")
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b""
            if not data:
                raise AssertionError(f"console closed waiting for {pattern!r}; exit {self.proc.poll()}; "
                                     f"tail:\n{self.buf[-3000:].decode(errors='replace')}")
            self.buf += data
        i = self.buf.index(pattern) + len(pattern)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def run(self, command: str, timeout: float = 120, kernel_log: bool = False) -> str:
        """Run a shell command; its output, without the kernel's console messages unless `kernel_log`."""
        os.write(self.master, command.encode() + b"\n")
        out = self.expect(PROMPT, timeout).decode(errors="replace").replace("\r", "")
        # drop the echoed command line and busybox's cursor-position query
        out = re.sub(r"\x1b\[6n", "", out)
        out = out.split("\n", 1)[1] if "\n" in out else out
        if kernel_log:      # dmesg: its output is kernel messages
            return out
        # (the kernel's own messages, printed on the console meanwhile: "hrtimer: interrupt took ..."
        # when a slow host delays a timer interrupt, are not the command's output)
        return "\n".join(line for line in out.split("\n") if not KERNEL_LOG.match(line))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


KERNEL_LOG = re.compile(r"\[\s*\d+\.\d+\] ")


def boot(kernel: Path, initrd: Path, smp: int) -> Console:
    exe = shutil.which("pyqemu-system-aarch64")
    assert exe, "pyqemu-system-aarch64 is not installed (pip install -e .)"
    con = Console([exe, "-M", "virt", "-cpu", "cortex-a57", "-smp", str(smp), "-m", "512", "-nographic",
                   "-nic", "none", "-kernel", str(kernel), "-initrd", str(initrd),
                   "-append", "console=ttyAMA0 cryptomgr.notests"])
    try:
        con.expect(boot_assets.MARKER.encode(), BOOT_TIMEOUT)
        con.expect(PROMPT, 60)
    except BaseException:
        con.close()
        raise
    return con


def poweroff(con: Console) -> None:
    os.write(con.master, b"poweroff -f\n")
    con.expect(b"reboot: Power down", 120)
    try:
        assert con.proc.wait(60) == 0
    finally:
        con.close()


def test_linux_boots_to_a_shell_and_powers_off(assets) -> None:
    kernel, initrd = assets
    con = boot(kernel, initrd, smp=1)
    try:
        uname = con.run("uname -a")
        assert re.search(r"Linux \S+ 6\.1\.\S+-arm64 .* aarch64 GNU/Linux", uname), uname
        cpuinfo = con.run("cat /proc/cpuinfo")
        assert cpuinfo.count("processor\t:") == 1, cpuinfo
        assert "CPU part\t: 0xd07" in cpuinfo and "CPU implementer\t: 0x41" in cpuinfo  # Cortex-A57
        interrupts = con.run("cat /proc/interrupts")
        counts = {m.group(2): int(m.group(1)) for m in
                  re.finditer(r"^\s*\d+:\s+(\d+)\s+GIC-0\s+\d+\s+\w+\s+(\S+)", interrupts, re.M)}
        assert counts.get("arch_timer", 0) > 100, interrupts   # the virtual timer ticks (PPI 27)
        assert counts.get("uart-pl011", 0) > 0, interrupts     # the UART interrupts (SPI 1)
        guest_date = con.run("date -u +%Y-%m-%d").strip().splitlines()[0]
        host = datetime.datetime.now(datetime.UTC).date()
        assert abs((datetime.date.fromisoformat(guest_date) - host).days) <= 1  # the PL031 RTC
    except BaseException:
        con.close()
        raise
    poweroff(con)


def test_two_cpus_come_up_with_psci(assets) -> None:
    kernel, initrd = assets
    con = boot(kernel, initrd, smp=2)
    try:
        cpuinfo = con.run("cat /proc/cpuinfo")
        assert cpuinfo.count("processor\t:") == 2, cpuinfo
        assert con.run("cat /sys/devices/system/cpu/online").strip().startswith("0-1")
    except BaseException:
        con.close()
        raise
    poweroff(con)
