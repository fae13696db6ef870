#!/usr/bin/env python3
"""Sequential read of 64 MiB in the guest, pyqemu-system-aarch64 beside qemu-system-aarch64 (issue 6).

Rows (wall-clock seconds on the host, best of --repeat; MB/s = 64 MiB / seconds; ratio pyqemu/qemu):
  u-boot virtio read    Debian's U-Boot: ``virtio read 0x44000000 0 0x20000`` (virtio-blk-device)
  u-boot nvme read      ``nvme read 0x44000000 0 0x20000`` (nvme)
  linux dd vda          Debian's arm64 kernel + modules initramfs: ``dd if=/dev/vda of=/dev/null
  linux dd nvme0n1      bs=1M count=64`` (and /dev/nvme0n1), timed between console markers
U-Boot times run from sending the command to the next prompt; Linux times from the marker before
dd to the one after it. Each disk is a 64 MiB raw file of random bytes; both emulators get the same
command line (-M virt -cpu cortex-a57 -m 512 -nographic -nic none).

Usage: python3 benchmarks/storage_read.py [--no-uboot] [--no-linux] [--repeat N]
       (also `benchmarks/run.py --only storage`)
Assets come from tests/boot_assets.py and tests/storage_assets.py (PYQEMU_DEB_CACHE: the .debs).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "functional"))

import boot_assets  # noqa: E402
import storage_assets  # noqa: E402
from ptyterm import PtyProgram  # noqa: E402
from uboot_shell import BOARD, UBootShell  # noqa: E402

SIZE = 64 << 20
ADDR = 0x44000000                  # 64 MiB of RAM below U-Boot (relocated to the top of 512 MiB)
EMULATORS = {"qemu": "qemu-system-aarch64", "pyqemu": "pyqemu-system-aarch64"}
TIMEOUT = 1800.0
LINUX_SCRIPT = """
for d in vda nvme0n1; do
  n=0; while [ ! -b /dev/$d ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
done
echo BENCH-READY
read -r line
for d in vda nvme0n1; do
  echo "BENCH-START $d"
  dd if=/dev/$d of=/dev/null bs=1M count=64
  echo "BENCH-END $d"
done
"""


def _drives(disk: Path) -> list[str]:
    """The disk on virtio-blk-device and a copy of it on NVMe (one file cannot be used twice)."""
    return ["-drive", f"if=none,id=v,file={disk},format=raw", "-device", "virtio-blk-device,drive=v",
            "-drive", f"if=none,id=n,file={disk}.nvme,format=raw", "-device", "nvme,drive=n,serial=bench"]


def uboot_reads(emulator: str, disk: Path) -> dict[str, float]:
    """Seconds for ``virtio read`` and ``nvme read`` of 64 MiB in one U-Boot session."""
    out = {}
    with UBootShell(emulator, str(boot_assets.uboot_qemu_arm64()), _drives(disk), TIMEOUT, TIMEOUT) as u:
        for iface in ("virtio", "nvme"):
            u.run(f"{iface} scan")
            start = time.monotonic()
            lines = u.run(f"{iface} read {ADDR:#x} 0 {SIZE // 512:#x}")
            out[f"u-boot {iface} read"] = time.monotonic() - start
            if not any("blocks read: OK" in line for line in lines):
                raise RuntimeError(f"{emulator}: {iface} read failed: {lines}")
            tail = disk.read_bytes()[-0x10000:]   # the last 64 KiB arrived intact
            if u.crc32(ADDR + SIZE - len(tail), len(tail)) != zlib.crc32(tail):
                raise RuntimeError(f"{emulator}: {iface} read: wrong data at the end")
            u.run(f"mw.b {ADDR + SIZE - len(tail):#x} 0 {len(tail):#x}")   # so the next read must write it
        u.poweroff()
    return out


def linux_reads(emulator: str, disk: Path) -> dict[str, float]:
    """Seconds for ``dd`` of 64 MiB from /dev/vda and /dev/nvme0n1 in one Linux boot."""
    initrd = storage_assets.modules_initramfs(LINUX_SCRIPT)
    kernel = boot_assets.linux_image_arm64()
    p = PtyProgram([emulator, *BOARD, "-kernel", str(kernel), "-initrd", str(initrd),
                    "-append", "console=ttyAMA0 cryptomgr.notests quiet", *_drives(disk)])
    out = {}
    try:
        p.until(b"BENCH-READY", TIMEOUT)
        p.send(b"\r")
        for dev in ("vda", "nvme0n1"):
            p.until(f"BENCH-START {dev}".encode(), TIMEOUT)
            start = time.monotonic()
            text = p.until(f"BENCH-END {dev}".encode(), TIMEOUT)
            out[f"linux dd {dev}"] = time.monotonic() - start
            if b"64+0 records out" not in text:
                raise RuntimeError(f"{emulator}: dd {dev}: {text.decode(errors='replace')}")
        p.wait(TIMEOUT)
    finally:
        if p.proc.poll() is None:
            os.killpg(p.proc.pid, signal.SIGKILL)
        p.close()
    return out


def best(fn: Callable[[str, Path], dict[str, float]], emulator: str, disk: Path,
         repeat: int) -> dict[str, float]:
    runs = [fn(emulator, disk) for _ in range(repeat)]
    return {k: min(r[k] for r in runs) for k in runs[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-uboot", action="store_true")
    ap.add_argument("--no-linux", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--qemu-only", action="store_true", help="only the qemu-system-aarch64 column")
    args = ap.parse_args(argv)
    for exe in EMULATORS.values():
        if shutil.which(exe) is None:
            print(f"{exe} not installed")
            return 1
    print(f"{'storage read 64 MiB':<22}{'pyqemu s':>10}{'MB/s':>8}{'qemu s':>10}{'MB/s':>8}{'ratio':>9}")
    with tempfile.TemporaryDirectory() as d:
        disk = Path(d, "disk.raw")
        disk.write_bytes(os.urandom(SIZE))
        shutil.copyfile(disk, f"{disk}.nvme")
        kinds = [fn for fn, skip in ((uboot_reads, args.no_uboot), (linux_reads, args.no_linux)) if not skip]
        for fn in kinds:
            ref = best(fn, EMULATORS["qemu"], disk, args.repeat)
            ours = ref if args.qemu_only else best(fn, EMULATORS["pyqemu"], disk, args.repeat)
            for name in ref:
                tp, tq = ours[name], ref[name]
                print(f"{name:<22}{tp:>10.2f}{SIZE / tp / 1e6:>8.1f}{tq:>10.3f}{SIZE / tq / 1e6:>8.1f}"
                      f"{tp / tq:>8.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
