#!/usr/bin/env python3
"""pyqemu-img against Debian's qemu-img: convert of a 1 GiB image, 64 KiB sequential I/O on qcow2.

Rows (wall-clock seconds, best of --repeat, and the ratio pyqemu/qemu):
  convert raw->qcow2   1 GiB raw file, 8 MiB data / 8 MiB zero stripes (half data, half holes)
  convert qcow2->raw   the qcow2 that qemu-img made from it
  bench write 64k      `bench -w -s 64k -d 1` sequential writes into a fresh 1 GiB qcow2
  bench read 64k       `bench -s 64k -d 1` sequential reads of the written range
Target: convert within 3x of qemu-img. Outputs are checked with `qemu-img compare`.

Usage: python3 benchmarks/img_convert.py [--size-mib N] [--repeat N] [--profile] [--dir DIR]
       (also `benchmarks/run.py --only img`)
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MiB = 1 << 20
STRIPE = 8 * MiB


def pyqemu_img() -> list[str]:
    exe = shutil.which("pyqemu-img")
    return [exe] if exe else [sys.executable, "-m", "pyqemu.tools.img"]


def make_source(path: Path, size: int) -> None:
    """Half data (varied, incompressible-ish blocks), half holes, in 8 MiB stripes."""
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        f.truncate(size)
        for off in range(0, size, 2 * STRIPE):
            f.seek(off)
            for i in range(STRIPE // MiB):
                # rotate the block so that stripes differ (no dedup-friendly repetition)
                k = (off // MiB + i) * 4099 % MiB
                f.write(block[k:] + block[:k])


# As installed for a user: byte-code caching on (some CI shells turn it off), so start-up is
# not a recompilation of every module.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall(cmd: list[str]) -> float:
    # write back what earlier runs left dirty: it would otherwise throttle whichever tool runs next
    os.sync()
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env=ENV)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr.decode(errors='replace')}")
    return dt


def best(cmd_fn, repeat: int) -> float:
    return min(cmd_fn() for _ in range(repeat))


def bench_time(cmd: list[str]) -> float:
    """The "Run completed in X seconds." figure of (pyqemu-)qemu-img bench."""
    os.sync()
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr}")
    for line in p.stdout.splitlines():
        if line.startswith("Run completed in "):
            return float(line.split()[3])
    raise SystemExit(f"no timing in: {p.stdout}")


def row(name: str, tp: float, tq: float, note: str = "") -> None:
    ratio = f"{tp / tq:8.1f}x" if tq else "       ?"
    print(f"{name:<24}{tp:>10.3f}{tq:>10.3f}{ratio}  {note}", flush=True)


def same(a: Path, b: Path) -> str:
    p = subprocess.run(["qemu-img", "compare", str(a), str(b)], capture_output=True, text=True)
    return "ok" if p.returncode == 0 else "DIFFERENT: " + p.stdout.strip()


def profile_convert(src: Path, dst: Path) -> None:
    """cProfile of an in-process raw->qcow2 convert: where the time goes."""
    from pyqemu.tools import img
    prof = cProfile.Profile()
    prof.enable()
    img.main(["convert", "-f", "raw", "-O", "qcow2", str(src), str(dst)])
    prof.disable()
    print("\nprofile: pyqemu-img convert -f raw -O qcow2 (top 15 by own time)")
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="also profile the raw->qcow2 convert")
    ap.add_argument("--dir", help="work directory (default: a temporary one; needs ~2x size free)")
    args = ap.parse_args(argv)
    if shutil.which("qemu-img") is None:
        print("qemu-img not found (apt-get install qemu-utils); skipping the image benchmarks")
        return 0
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        w = Path(d)
        src = w / "src.raw"
        make_source(src, size)
        pq = pyqemu_img()
        wall([*pq, "--version"])      # warm-up: byte-code cache, page cache
        print(f"{'image workload':<24}{'pyqemu s':>10}{'qemu s':>10}{'ratio':>9}")

        def conv(tool: list[str], out: Path, *a: str) -> float:
            out.unlink(missing_ok=True)
            return wall([*tool, "convert", *a, str(out)])

        to_qcow2 = ("-f", "raw", "-O", "qcow2", str(src))
        tq = best(lambda: conv(["qemu-img"], w / "q.qcow2", *to_qcow2), args.repeat)
        tp = best(lambda: conv(pq, w / "p.qcow2", *to_qcow2), args.repeat)
        row("convert raw->qcow2", tp, tq, same(src, w / "p.qcow2"))
        tq = best(lambda: conv(["qemu-img"], w / "q.raw", "-O", "raw", str(w / "q.qcow2")), args.repeat)
        tp = best(lambda: conv(pq, w / "p.raw", "-O", "raw", str(w / "q.qcow2")), args.repeat)
        row("convert qcow2->raw", tp, tq, same(w / "q.raw", w / "p.raw"))
        for f in ("q.raw", "p.raw", "p.qcow2"):
            (w / f).unlink(missing_ok=True)

        n = min(size, 256 * MiB) // (64 * 1024)
        for name in ("qb.qcow2", "pb.qcow2"):
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(w / name), str(size)], check=True)
        tq = bench_time(["qemu-img", "bench", "-w", "-s", "64k", "-d", "1", "-c", str(n), "-f", "qcow2",
                         str(w / "qb.qcow2")])
        tp = bench_time([*pq, "bench", "-w", "-s", "64k", "-d", "1", "-c", str(n), "-f", "qcow2",
                         str(w / "pb.qcow2")])
        row("bench write 64k", tp, tq, f"{n * 64 // 1024} MiB")
        tq = bench_time(["qemu-img", "bench", "-s", "64k", "-d", "1", "-c", str(n), "-f", "qcow2",
                         str(w / "qb.qcow2")])
        tp = bench_time([*pq, "bench", "-s", "64k", "-d", "1", "-c", str(n), "-f", "qcow2",
                         str(w / "pb.qcow2")])
        row("bench read 64k", tp, tq, f"{n * 64 // 1024} MiB")
        if args.profile:
            profile_convert(src, w / "prof.qcow2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
