#!/usr/bin/env python3
"""pyqemu-arm against Debian's qemu-arm, with pyqemu-aarch64 on the same programs for scale.

The C programs of benchmarks/programs/ are built with arm-linux-gnueabihf-gcc -O2 -static in
Thumb-2 (Debian's default) and in ARM mode (-marm), and with aarch64-linux-gnu-gcc -O2 -static
(as benchmarks/run.py builds them).  One row per program and instruction set:
  guest insns   counted by pyqemu-arm (PYQEMU_COUNT_INSNS=1 run, like run.py)
  pyqemu s      pyqemu-arm CPU seconds (user+sys of the child, median of --repeat runs)
  qemu s        qemu-arm CPU seconds
  MIPS          pyqemu-arm's guest MIPS
  ratio         pyqemu-arm / qemu-arm seconds
  a64 MIPS      pyqemu-aarch64's MIPS on the AArch64 build of the same program (own count)
  a64/arm       a64 MIPS / MIPS: issue 8's target is that AArch32 runs within 1.5x of AArch64
The outputs (stdout and exit status) of pyqemu-arm and qemu-arm are compared: DIFFERENT OUTPUT
if not equal (then the row's target is not met either).

Usage: python3 benchmarks/arm_user.py [--repeat N] [--cold] [--programs a,b] [--modes thumb,arm]
       (also `benchmarks/run.py --only arm`)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (benchmarks/run.py: Workload, Runner, timed, ...)

CACHE = HERE / ".cache" / "armhf"
ARM_CC = "arm-linux-gnueabihf-gcc"
PROGRAMS = ("sieve_hash", "memcopy_hash", "intloop", "memhash", "recursion")
MODES = ("thumb", "arm")
TARGET_RATIO = 1.5


def build_arm(name: str, mode: str) -> Path:
    src = HERE / "programs" / f"{name}.c"
    out = CACHE / f"{name}-{mode}"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        CACHE.mkdir(parents=True, exist_ok=True)
        flag = "-marm" if mode == "arm" else "-mthumb"
        subprocess.run([ARM_CC, "-O2", flag, "-static", "-o", str(out), str(src)], check=True)
    return out


def pyqemu_arm_cmd() -> list[str] | None:
    """The pyqemu-arm script next to this Python (or on PATH); None if not installed."""
    if os.environ.get("PYQEMU_ARM_CMD"):
        return os.environ["PYQEMU_ARM_CMD"].split()
    exe = Path(sys.executable).parent / "pyqemu-arm"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("pyqemu-arm")
    return [found] if found else None


HEADER = (
    f"{'workload':<22}{'guest insns':>15}{'pyqemu s':>10}{'qemu s':>9}{'MIPS':>8}{'ratio':>8}"
    f"{'a64 MIPS':>10}{'a64/arm':>9}  {'target':<10}{'met':<5}"
)


def _mips(
    runner: run.Runner, cmd: list[str], w: run.Workload, tmp: str
) -> tuple[int | None, float, bytes, int]:
    """(instruction count, median CPU s, stdout, status) of pyqemu command `cmd` on `w`."""
    env = runner._pyqemu_env({"PYQEMU_COUNT_INSNS": "1"}, tmp)
    _, _, err, _ = run.timed(run.emu_argv(cmd, w), env, w.stdin)
    text = err.decode(errors="replace")
    counts = [line[7:] for line in text.splitlines() if line.startswith("insns: ")]
    n = int(counts[-1]) if counts and counts[-1].isdigit() else None
    t, out, status = runner.median(cmd, w, lambda: runner._pyqemu_env({}, tmp))
    return n, t, out, status


def row(
    runner: run.Runner, name: str, mode: str, arm_cmd: list[str], tmp: str, a64: dict[str, float | None]
) -> bool:
    w = run.Workload(f"{name} ({mode})", [str(build_arm(name, mode))], None)
    n, tp, outp, sp = _mips(runner, arm_cmd, w, tmp)
    tq, outq, sq = runner.median(["qemu-arm"], w, lambda: runner.env)
    mips = n / tp / 1e6 if n and tp else None
    if name not in a64:
        wa = run.Workload(name, [str(run.build(name))], None)
        na, ta, _, _ = _mips(runner, run.pyqemu_cmd(), wa, tmp)
        a64[name] = na / ta / 1e6 if na and ta else None
    a64_mips = a64[name]
    rel = a64_mips / mips if a64_mips and mips else None
    same = (outp, sp) == (outq, sq)
    met = rel is not None and rel <= TARGET_RATIO and same
    print(
        f"{w.name:<22}{n or 0:>15,}{tp:>10.3f}{tq:>9.3f}"
        f"{f'{mips:.2f}' if mips else '?':>8}{f'{tp / tq:.1f}x' if tq else '?':>8}"
        f"{f'{a64_mips:.2f}' if a64_mips else '?':>10}{f'{rel:.2f}x' if rel else '?':>9}"
        f"  {f'<= {TARGET_RATIO:g}x':<10}{'yes' if met else 'NO':<5}"
        f"{'' if same else '  DIFFERENT OUTPUT'}",
        flush=True,
    )
    if not same:
        print(f"  pyqemu-arm: status {sp}, {outp[-200:]!r}", flush=True)
        print(f"  qemu-arm:   status {sq}, {outq[-200:]!r}", flush=True)
    return met


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs per emulator; the median is shown")
    ap.add_argument("--cold", action="store_true", help="an empty pyqemu code cache for every run")
    ap.add_argument("--programs", default=",".join(PROGRAMS), help="comma-separated benchmarks/programs/*.c")
    ap.add_argument("--modes", default=",".join(MODES), help="thumb, arm or both")
    args = ap.parse_args(argv)
    for tool in ("qemu-arm", ARM_CC):
        if shutil.which(tool) is None:
            print(f"{tool} not found (apt-get install qemu-user gcc-arm-linux-gnueabihf)")
            return 1
    arm_cmd = pyqemu_arm_cmd()
    if arm_cmd is None:
        print("pyqemu-arm not installed (pip install -e . once pyproject.toml declares it)")
        return 1
    runner = run.Runner(args.repeat, args.cold)
    ok = True
    a64: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cold = ", cold code cache" if args.cold else ""
        print(f"median of {args.repeat} run(s), CPU seconds (user+sys){cold}", flush=True)
        print(HEADER, flush=True)
        for name in args.programs.split(","):
            for mode in args.modes.split(","):
                ok = row(runner, name, mode, arm_cmd, tmp, a64) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
