#!/usr/bin/env python3
"""pyqemu-system-aarch64 against Debian's qemu-system-aarch64: boot times on `-M virt`.

Both emulators run the same command line (-M virt -cpu cortex-a57 -m 512 -nographic -nic none),
one after the other in the same run, with the console on a pty. Rows (wall-clock seconds from
spawn, median of --repeat, the ratio pyqemu/qemu, issue 7's target and whether it is met):
  u-boot to prompt      -bios u-boot.bin; Enter as soon as "Hit any key" appears, time to "=> "
                        (target <= 5 s)
  linux to shell        -kernel Image -initrd initramfs -append console=ttyAMA0, time to the
                        marker /init prints first (target <= 60 s)
  linux notests         (--fast) the same with cryptomgr.notests (skips the crypto self-tests)
After the measured point the guest is shut down (`poweroff`, `poweroff -f`); the "exit" column is
the time from spawn to process exit.
Guest instructions: "q M" are QEMU 7.2's counts (TCG plugin, /work/shared/specs/virt-aarch64.md:
41.3 M, 934 M, 333 M); "py M" are pyqemu's own, from one more pyqemu boot with
PYQEMU_COUNT_INSNS=1 stopped by SIGTERM at the measured point (it prints `insns:` and its
translation time, "transl s", at exit); --no-count skips that boot. MIPS = instructions / seconds
to the measured point, emulator start-up included (pyqemu's uses its own count when there is one).

Usage: python3 benchmarks/boot_virt.py [--fast] [--no-full] [--no-uboot] [--no-count] [--repeat N]
                                      [--timeout S]
       (also `benchmarks/run.py --only boot`)
Assets (Debian's u-boot-qemu, linux-image-arm64, busybox-static) come from tests/boot_assets.py;
set PYQEMU_DEB_CACHE to a directory holding the .debs to avoid downloads.
"""
from __future__ import annotations

import argparse
import os
import pty
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
BOARD = ["-M", "virt", "-cpu", "cortex-a57", "-m", "512", "-nographic", "-nic", "none"]
# Guest instructions to the measured point (QEMU 7.2 TCG plugin counts, specs/virt-aarch64.md).
INSNS = {"uboot": 41.3e6, "linux": 934e6, "notests": 333e6}
# Issue 7's targets for pyqemu (seconds to the measured point).
TARGET = {"uboot": 5.0, "linux": 60.0}
# As installed for a user: byte-code caching on, so start-up is not a recompilation of every module.
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYQEMU_COUNT_INSNS")}
COUNT_ENV = dict(ENV, PYQEMU_COUNT_INSNS="1")


class BootError(Exception):
    """The guest did not reach an expected console string in time, or the emulator died."""


@dataclass
class Boot:
    reached: float   # seconds from spawn to the measured console string
    exited: float    # seconds from spawn to process exit (after the shutdown command)
    insns: int | None = None        # counting boots: pyqemu's `insns:` at the measured point
    translate: float | None = None  # counting boots: pyqemu's translation seconds


def pyqemu_system() -> list[str]:
    local = Path(sys.executable).parent / "pyqemu-system-aarch64"  # not a PATH wrapper (pyenv shim)
    exe = str(local) if local.exists() else shutil.which("pyqemu-system-aarch64")
    return [exe] if exe else [sys.executable, "-c",
                              "from pyqemu.system.vl import main_aarch64; main_aarch64()"]


class Console:
    """An emulator process whose stdin/stdout/stderr are the slave side of a pty."""

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.master, slave = pty.openpty()
        self.t0 = time.perf_counter()
        try:
            self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env or ENV,
                                         start_new_session=True, close_fds=True)
        except BaseException:
            os.close(self.master)
            raise
        finally:
            os.close(slave)
        self.buf = b""

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def expect(self, what: bytes, timeout: float, start: int = 0) -> int:
        """Read until `what` appears at or after offset `start`; return the offset just past it."""
        deadline = time.perf_counter() + timeout
        while (i := self.buf.find(what, start)) < 0:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise BootError(f"timeout ({timeout:.0f} s) waiting for {what!r}; last output: "
                                f"{self.buf[-300:].decode(errors='replace')!r}")
            r, _, _ = select.select([self.master], [], [], min(left, 1.0))
            if r and not self._read():
                raise BootError(f"emulator exited (status {self.proc.poll()}) before {what!r}; last "
                                f"output: {self.buf[-300:].decode(errors='replace')!r}")
        return i + len(what)

    def _read(self) -> bool:
        try:
            data = os.read(self.master, 65536)
        except OSError:   # EIO: every slave descriptor closed, i.e. the emulator is gone
            return False
        self.buf += data
        return bool(data)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait_exit(self, timeout: float) -> float:
        """Drain output until the process exits; return seconds from spawn to exit."""
        deadline = time.perf_counter() + timeout
        while self.proc.poll() is None:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise BootError(f"no exit within {timeout:.0f} s after the shutdown command")
            r, _, _ = select.select([self.master], [], [], min(left, 0.05))
            if r:
                self._read()
        return self.elapsed()

    def close(self) -> None:
        """Terminate (then kill) the emulator if it is still running, and free the pty."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)


def _finish(c: Console, shutdown: bytes, count: bool, reached: float, wait: float) -> Boot:
    """After the measured point: shut the guest down, or (counting boot) stop the emulator
    with SIGTERM at once, so that its `insns:` count ends at the measured point."""
    if not count:
        c.send(shutdown)
        return Boot(reached, c.wait_exit(wait))
    mark = len(c.buf)
    c.proc.send_signal(signal.SIGTERM)
    exited = c.wait_exit(wait)
    tail = c.buf[mark:].decode(errors="replace")
    n = re.search(r"^insns: (\d+)\r?$", tail, re.M)
    tr = re.search(r"^translate: ([\d.]+) s", tail, re.M)
    if n is None:
        raise BootError(f"no 'insns:' line after SIGTERM; output: {tail[-300:]!r}")
    return Boot(reached, exited, int(n.group(1)), float(tr.group(1)) if tr else None)


def boot_uboot(emu: list[str], bios: Path, timeout: float, count: bool = False) -> Boot:
    c = Console([*emu, *BOARD, "-bios", str(bios)], COUNT_ENV if count else None)
    try:
        i = c.expect(b"Hit any key", timeout)
        c.send(b"\r")
        c.expect(b"=> ", timeout, i)
        return _finish(c, b"poweroff\r", count, c.elapsed(), 60)
    finally:
        c.close()


def boot_linux(emu: list[str], kernel: Path, initrd: Path, append: str, marker: str,
               timeout: float, count: bool = False) -> Boot:
    c = Console([*emu, *BOARD, "-kernel", str(kernel), "-initrd", str(initrd), "-append", append],
                COUNT_ENV if count else None)
    try:
        # the marker is echoed by /init; it is not on the kernel command line, so no false match
        c.expect(marker.encode(), timeout)
        return _finish(c, b"poweroff -f\r", count, c.elapsed(), 120)
    finally:
        c.close()


def median(fn: Callable[[], Boot], repeat: int) -> Boot:
    runs = sorted((fn() for _ in range(repeat)), key=lambda b: b.reached)
    mid = runs[len(runs) // 2]
    return Boot(statistics.median(b.reached for b in runs), mid.exited)


HEADER = (f"{'boot workload':<18}{'q M':>7}{'py M':>8}{'pyqemu s':>10}{'qemu s':>8}{'ratio':>8}"
          f"{'py MIPS':>9}{'q MIPS':>8}  {'target':<9}{'met':<5}{'transl s':>9}  exit (pyqemu / qemu s)")


def row(name: str, key: str, p: Boot | str, q: Boot | str, counted: Boot | str | None) -> None:
    insns = INSNS[key]
    py_insns = counted.insns if isinstance(counted, Boot) else None

    def cell(b: Boot | str) -> str:
        return f"{b.reached:.2f}" if isinstance(b, Boot) else "FAIL"

    def mips(b: Boot | str, n: float | None) -> str:
        return f"{n / b.reached / 1e6:.1f}" if isinstance(b, Boot) and n else "?"

    ok = isinstance(p, Boot) and isinstance(q, Boot)
    ratio = f"{p.reached / q.reached:.1f}x" if ok else "?"
    limit = TARGET.get(key)
    target = f"<= {limit:g} s" if limit else "-"
    met = "-" if limit is None else "yes" if isinstance(p, Boot) and p.reached <= limit else "NO"
    tr = counted.translate if isinstance(counted, Boot) else None
    exits = "  " + " / ".join(f"{b.exited:.2f}" if isinstance(b, Boot) else "-" for b in (p, q))
    print(f"{name:<18}{insns / 1e6:>7.1f}{f'{py_insns / 1e6:.1f}' if py_insns else '?':>8}"
          f"{cell(p):>10}{cell(q):>8}{ratio:>8}{mips(p, py_insns or insns):>9}{mips(q, insns):>8}"
          f"  {target:<9}{met:<5}{f'{tr:.2f}' if tr is not None else '?':>9}{exits}", flush=True)
    for who, b in (("pyqemu", p), ("qemu", q), ("pyqemu counting", counted)):
        if isinstance(b, str):
            print(f"  {who}: {b}", flush=True)


def measure(name: str, key: str, boot: Callable[..., Boot], repeat: int, count: bool) -> None:
    """One row: the same boot under qemu-system-aarch64 (first: cheap) and pyqemu-system-aarch64,
    then (`count`) once more under pyqemu, counting instructions."""
    results: dict[str, Boot | str] = {}
    for who, emu in (("qemu", ["qemu-system-aarch64"]), ("pyqemu", pyqemu_system())):
        try:
            results[who] = median(lambda e=emu: boot(e), repeat)
        except BootError as e:
            results[who] = str(e)
    counted: Boot | str | None = None
    if count:
        try:
            counted = boot(pyqemu_system(), count=True)
        except BootError as e:
            counted = str(e)
    row(name, key, results["pyqemu"], results["qemu"], counted)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--fast", action="store_true", help="also boot Linux with cryptomgr.notests")
    ap.add_argument("--no-full", action="store_true", help="skip the full Linux boot (minutes under pyqemu)")
    ap.add_argument("--no-uboot", action="store_true", help="skip the U-Boot row")
    ap.add_argument("--no-count", action="store_true",
                    help="skip the extra pyqemu boot per row that counts guest instructions")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="seconds allowed per boot to the measured point (default 900)")
    args = ap.parse_args(argv)
    if shutil.which("qemu-system-aarch64") is None:
        print("qemu-system-aarch64 not found (apt-get install qemu-system-arm); skipping the boot benchmarks")
        return 0
    sys.path.insert(0, str(TESTS))
    import boot_assets  # tests/boot_assets.py: Debian firmware, kernel and initramfs
    try:
        bios = boot_assets.uboot_qemu_arm64()
        kernel = boot_assets.linux_image_arm64()
        initrd = boot_assets.initramfs()
    except boot_assets.PackageUnavailable as e:
        print(f"boot assets unavailable ({e}); skipping the boot benchmarks")
        return 0
    marker = boot_assets.MARKER
    t = args.timeout
    count = not args.no_count
    print(f"median of {args.repeat} boot(s), wall-clock seconds from spawn", flush=True)
    print(HEADER, flush=True)
    if not args.no_uboot:
        measure("u-boot to prompt", "uboot", lambda emu, **kw: boot_uboot(emu, bios, t, **kw),
                args.repeat, count)
    if not args.no_full:
        measure("linux to shell", "linux",
                lambda emu, **kw: boot_linux(emu, kernel, initrd, "console=ttyAMA0", marker, t, **kw),
                args.repeat, count)
    if args.fast:
        measure("linux notests", "notests",
                lambda emu, **kw: boot_linux(emu, kernel, initrd, "console=ttyAMA0 cryptomgr.notests",
                                             marker, t, **kw), args.repeat, count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
