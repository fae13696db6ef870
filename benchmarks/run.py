#!/usr/bin/env python3
"""Benchmarks: pyqemu-aarch64 against Debian's qemu-aarch64, side by side.

For each workload prints the guest instruction count (counted by pyqemu with
PYQEMU_COUNT_INSNS=1), pyqemu's CPU time, qemu-aarch64's CPU time, pyqemu's
MIPS and the time ratio. Also process start-up (busybox echo) for both.

Usage: python3 benchmarks/run.py [--only NAME] [--repeat N]   (--only img: the pyqemu-img rows;
       --only boot: the pyqemu-system-aarch64 -M virt boot rows, benchmarks/boot_virt.py;
       --only storage: 64 MiB guest reads on virtio-blk and NVMe, benchmarks/storage_read.py)
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
CC = "aarch64-linux-gnu-gcc"


def build(name: str) -> Path:
    src = HERE / "programs" / f"{name}.c"
    out = CACHE / name
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        CACHE.mkdir(exist_ok=True)
        subprocess.run([CC, "-O2", "-static", "-o", str(out), str(src)], check=True)
    return out


def busybox() -> Path | None:
    bb = CACHE / "busybox" / "bin" / "busybox"
    if bb.exists():
        return bb
    d = CACHE / "busybox"
    d.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["apt-get", "download", "busybox-static:arm64"], cwd=d, capture_output=True)
    debs = list(d.glob("busybox-static_*_arm64.deb"))
    if r.returncode != 0 or not debs:
        return None
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(d)], check=True)
    return bb if bb.exists() else None


def timed(cmd: list[str], env: dict | None = None,
          stdin: bytes | None = None) -> tuple[float, bytes, bytes, int]:
    """Run `cmd`; return (child CPU seconds, stdout, stderr, status)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, input=stdin, capture_output=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, p.stdout, p.stderr, p.returncode


def pyqemu_cmd() -> list[str]:
    exe = shutil.which("pyqemu-aarch64")
    return [exe] if exe else [sys.executable, "-m", "pyqemu.linux_user.main"]


def count_insns(cmd: list[str], stdin: bytes | None) -> int | None:
    env = dict(os.environ, PYQEMU_COUNT_INSNS="1")
    _, _, err, _ = timed(pyqemu_cmd() + cmd, env, stdin)
    for line in err.decode(errors="replace").splitlines():
        if line.startswith("insns: "):
            return int(line.split()[1])
    return None


def best(cmd: list[str], repeat: int, stdin: bytes | None = None) -> tuple[float, bytes, int]:
    times = []
    out, status = b"", 0
    for _ in range(repeat):
        t, out, _, status = timed(cmd, None, stdin)
        times.append(t)
    return min(times), out, status


def row(name: str, guest_cmd: list[str], repeat: int, stdin: bytes | None = None) -> None:
    n = count_insns(guest_cmd, stdin)
    tp, outp, sp = best(pyqemu_cmd() + guest_cmd, repeat, stdin)
    tq, outq, sq = best(["qemu-aarch64"] + guest_cmd, repeat, stdin)
    same = "ok" if (outp, sp) == (outq, sq) else "DIFFERENT OUTPUT"
    mips = f"{n / tp / 1e6:8.2f}" if n and tp else "       ?"
    ratio = f"{tp / tq:8.1f}x" if tq else "      ?"
    print(f"{name:<22}{n or 0:>14,}{tp:>10.3f}{tq:>10.3f}{mips}{ratio}  {same}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="run only this workload")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    if args.only == "boot":  # minutes under pyqemu, so only on request
        import boot_virt  # benchmarks/boot_virt.py: pyqemu-system-aarch64 against qemu-system-aarch64
        return boot_virt.main(["--repeat", str(args.repeat)])
    if args.only == "storage":  # U-Boot and Linux under pyqemu: minutes, so only on request
        import storage_read  # benchmarks/storage_read.py
        return storage_read.main(["--repeat", str(args.repeat)])
    print(f"{'workload':<22}{'guest insns':>14}{'pyqemu s':>10}{'qemu s':>10}{'MIPS':>8}{'ratio':>9}")
    for name in ("intloop", "memhash", "recursion"):
        if args.only and args.only != name:
            continue
        row(name, [str(build(name))], args.repeat)
    if not args.only or args.only == "img":
        import img_convert  # benchmarks/img_convert.py: pyqemu-img against qemu-img
        img_convert.main(["--repeat", str(args.repeat)])
        if args.only:
            return 0
    bb = busybox()
    if bb is None:
        print("busybox-static:arm64 unavailable (apt-get download failed); skipping busybox rows")
        return 0
    if not args.only or args.only == "gzip":
        with tempfile.TemporaryDirectory() as d:
            data = Path(d) / "data"
            # 8 MiB of compressible but not trivial data
            chunk = b"".join(f"line {i} {i * 2654435761 % 1000003}\n".encode() for i in range(20000))
            data.write_bytes((chunk * (8 * 1024 * 1024 // len(chunk) + 1))[: 8 * 1024 * 1024])
            row("busybox gzip 8MiB", [str(bb), "gzip", "-c", str(data)], args.repeat)
    if not args.only or args.only == "start":
        row("busybox echo (start)", [str(bb), "echo", "hi"], max(args.repeat, 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
