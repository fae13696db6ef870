#!/usr/bin/env python3
"""Benchmarks: pyqemu-aarch64 against Debian's qemu-aarch64, side by side (issue 7's table).

Rows (guest programs are ours, built with aarch64-linux-gnu-gcc -O2 -static, or Debian's arm64
binaries, unmodified):
  sieve+hash        programs/sieve_hash.c: sieve to 2,000,000 + 29.5 M-step hash (~292 M insns)
  memcopy+hash      programs/memcopy_hash.c: byte copy + hash of 16 MiB, 3 passes (~629 M)
  busybox gzip 8MiB busybox-static's `gzip -c` of 8 MiB of generated text (~1,666 M)
  lua5.4 bench.lua  Debian's lua5.4 (dynamic, -L sysroot) on programs/bench.lua 4 (~1,899 M)
  busybox echo      process start: `busybox echo hi` (~26 k); the target is on CPU seconds
  intloop, memhash, recursion   small extra programs (no target)
Columns: guest instructions (counted by pyqemu in a separate run with PYQEMU_COUNT_INSNS=1, which
also reports its translation time), pyqemu's and qemu-aarch64's CPU seconds (user+sys of the
child, median of --repeat runs: CPU time, because other work shares this machine), pyqemu's MIPS,
the ratio pyqemu/qemu, issue 7's target and whether it is met, and pyqemu's translation seconds
(decode+optimise+generate+compile, as the TB cache reports it; 0 before it reports it), the part
of it spent compiling native code (issue 9's native tier, on unless --jit off), and issue 9's
native-tier target (>= 300 MIPS on the sieve and memcopy rows). The
outputs (stdout and exit status) of both emulators are compared: DIFFERENT OUTPUT if not equal.
pyqemu keeps compiled blocks (Python and native) in its on-disk code cache between runs (as a
user sees it); --cold gives every pyqemu run an empty cache.

Usage: python3 benchmarks/run.py [--only NAME] [--repeat N] [--cold] [--jit on|off]
       NAME: a row (sieve, memcopy, gzip, lua, start, intloop, memhash, recursion), or
       img (pyqemu-img rows, benchmarks/img_convert.py), boot (pyqemu-system-aarch64 -M virt
       boots, benchmarks/boot_virt.py), storage (guest reads, benchmarks/storage_read.py),
       arm (pyqemu-arm beside qemu-arm and pyqemu-aarch64, benchmarks/arm_user.py).
See docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
CACHE = HERE / ".cache"
CC = "aarch64-linux-gnu-gcc"
LUA_SCALE = "4"  # rounds of programs/bench.lua: ~1,899 M guest instructions


@dataclass
class Workload:
    name: str
    argv: list[str]                      # the guest command (binary first)
    target: tuple[str, float] | None     # ("mips", minimum) or ("cpu", maximum seconds)
    sysroot: Path | None = None
    stdin: bytes | None = None
    native_target: float | None = None  # issue 9: MIPS with the native tier


def build(name: str) -> Path:
    src = HERE / "programs" / f"{name}.c"
    out = CACHE / name
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        CACHE.mkdir(exist_ok=True)
        subprocess.run([CC, "-O2", "-static", "-o", str(out), str(src)], check=True)
    return out


def _debian(what: str) -> Path | None:
    """tests/debian_pkgs.py's busybox() or lua_sysroot() (downloaded once, cached), or None."""
    sys.path.insert(0, str(TESTS))
    import debian_pkgs
    try:
        return getattr(debian_pkgs, what)()
    except debian_pkgs.PackageUnavailable as e:
        print(f"{what}: Debian package unavailable ({e}); skipping its row")
        return None


def timed(cmd: list[str], env: dict[str, str] | None = None,
          stdin: bytes | None = None) -> tuple[float, bytes, bytes, int]:
    """Run `cmd`; return (child CPU seconds, stdout, stderr, status)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, input=stdin, capture_output=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, p.stdout, p.stderr, p.returncode


def pyqemu_cmd() -> list[str]:
    # The script next to this Python, not a PATH wrapper (a pyenv shim adds a bash and a
    # pyenv process to every start, ~0.1 s, which is not pyqemu's).
    exe = Path(sys.executable).parent / "pyqemu-aarch64"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("pyqemu-aarch64")
    return [found] if found else [sys.executable, "-m", "pyqemu.linux_user.main"]


def emu_argv(emu: list[str], w: Workload) -> list[str]:
    return [*emu, *(["-L", str(w.sysroot)] if w.sysroot else []), *w.argv]


class Runner:
    """Runs workloads under both emulators; `cold` gives each pyqemu run an empty code cache."""

    def __init__(self, repeat: int, cold: bool, jit: str = "on") -> None:
        self.repeat = repeat
        self.cold = cold
        self.jit = jit
        # Byte-code caching on, as installed for a user: start-up is not a recompilation.
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONDONTWRITEBYTECODE", "PYQEMU_COUNT_INSNS", "PYQEMU_JIT")}

    def _pyqemu_env(self, extra: dict[str, str], tmp: str) -> dict[str, str]:
        env = dict(self.env, **extra)
        env["PYQEMU_JIT"] = self.jit
        if self.cold:
            env["PYQEMU_CACHE_DIR"] = tempfile.mkdtemp(dir=tmp)
        return env

    def count(self, w: Workload, tmp: str) -> tuple[int | None, float | None, float | None]:
        """(guest instructions, translation seconds, of which native compilation) from a
        PYQEMU_COUNT_INSNS=1 run."""
        env = self._pyqemu_env({"PYQEMU_COUNT_INSNS": "1"}, tmp)
        _, _, err, _ = timed(emu_argv(pyqemu_cmd(), w), env, w.stdin)
        text = err.decode(errors="replace")
        n = re.search(r"^insns: (\d+)$", text, re.M)
        tr = re.search(r"^translate: ([\d.]+) s, (\d+) blocks$", text, re.M)
        nat = re.search(r"^native: \d+ regions, compile ([\d.]+) s", text, re.M)
        return (int(n.group(1)) if n else None, float(tr.group(1)) if tr else None,
                float(nat.group(1)) if nat else None)

    def median(self, emu: list[str], w: Workload, env_of: Callable[[], dict[str, str]]
               ) -> tuple[float, bytes, int]:
        """Median CPU seconds of `repeat` runs, and the first run's stdout and status."""
        times, first = [], None
        for _ in range(self.repeat):
            t, out, _, status = timed(emu_argv(emu, w), env_of(), w.stdin)
            times.append(t)
            first = first or (out, status)
        assert first is not None
        return statistics.median(times), first[0], first[1]


HEADER = (f"{'workload':<20}{'guest insns':>15}{'pyqemu s':>10}{'qemu s':>9}{'MIPS':>8}{'ratio':>8}"
          f"  {'target':<11}{'met':<5}{'transl s':>9}{'native s':>9}  {'issue 9':<14}")


def row(r: Runner, w: Workload, tmp: str) -> bool:
    """Measure and print one row; returns whether the target (if any) is met."""
    n, tr_s, nat_s = r.count(w, tmp)
    tp, outp, sp = r.median(pyqemu_cmd(), w, lambda: r._pyqemu_env({}, tmp))
    tq, outq, sq = r.median(["qemu-aarch64"], w, lambda: r.env)
    mips = n / tp / 1e6 if n and tp else None
    met: bool | None = None
    target = "-"
    if w.target is not None:
        kind, value = w.target
        if kind == "mips":
            target = f">= {value:g} MIPS"
            met = mips is not None and mips >= value
        else:
            target = f"<= {value * 1000:g} ms"
            met = tp <= value
    same = (outp, sp) == (outq, sq)
    native_met = "-"
    if w.native_target is not None and r.jit != "off":
        native_met = f">= {w.native_target:g}: {'yes' if mips and mips >= w.native_target else 'NO'}"
    print(f"{w.name:<20}{n or 0:>15,}{tp:>10.3f}{tq:>9.3f}"
          f"{f'{mips:.2f}' if mips else '?':>8}{f'{tp / tq:.1f}x' if tq else '?':>8}"
          f"  {target:<11}{'-' if met is None else 'yes' if met else 'NO':<5}"
          f"{f'{tr_s:.3f}' if tr_s is not None else '?':>9}"
          f"{f'{nat_s:.3f}' if nat_s is not None else '-':>9}  {native_met:<14}"
          f"{'' if same else '  DIFFERENT OUTPUT'}", flush=True)
    if not same:
        print(f"  pyqemu: status {sp}, {outp[-200:]!r}\n  qemu:   status {sq}, {outq[-200:]!r}", flush=True)
    return met is not False and same


def gzip_input(path: Path) -> None:
    """8 MiB of compressible but not trivial text."""
    chunk = b"".join(f"line {i} {i * 2654435761 % 1000003}\n".encode() for i in range(20000))
    path.write_bytes((chunk * (8 * 1024 * 1024 // len(chunk) + 1))[: 8 * 1024 * 1024])


def workloads(only: str | None, tmp: Path) -> list[Workload]:
    def want(key: str) -> bool:
        return only is None or only == key

    out: list[Workload] = []
    if want("sieve"):
        out.append(Workload("sieve+hash", [str(build("sieve_hash"))], ("mips", 20), native_target=300))
    if want("memcopy"):
        out.append(Workload("memcopy+hash", [str(build("memcopy_hash"))], ("mips", 15), native_target=300))
    bb = _debian("busybox") if want("gzip") or want("start") else None
    if bb is not None and want("gzip"):
        data = tmp / "data"
        gzip_input(data)
        out.append(Workload("busybox gzip 8MiB", [str(bb), "gzip", "-c", str(data)], ("mips", 15)))
    if want("lua"):
        root = _debian("lua_sysroot")
        if root is not None:
            out.append(Workload("lua5.4 bench.lua", [str(root / "usr/bin/lua5.4"),
                                                     str(HERE / "programs" / "bench.lua"), LUA_SCALE],
                                ("mips", 10), sysroot=root))
    if bb is not None and want("start"):
        out.append(Workload("busybox echo (start)", [str(bb), "echo", "hi"], ("cpu", 0.150)))
    for name in ("intloop", "memhash", "recursion"):
        if want(name):
            out.append(Workload(name, [str(build(name))], None))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="run only this row or group (see above)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per emulator; the median is shown (default 3)")
    ap.add_argument("--cold", action="store_true", help="an empty pyqemu code cache for every run")
    ap.add_argument("--jit", choices=("on", "off"), default="on",
                    help="pyqemu's native tier (PYQEMU_JIT; default on, off: the Python tier alone)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    if args.only == "boot":  # minutes under pyqemu, so only on request
        import boot_virt  # benchmarks/boot_virt.py: pyqemu-system-aarch64 against qemu-system-aarch64
        return boot_virt.main(["--repeat", str(args.repeat)])
    if args.only == "storage":
        import storage_read  # benchmarks/storage_read.py
        return storage_read.main(["--repeat", str(args.repeat)])
    if args.only == "arm":
        import arm_user  # benchmarks/arm_user.py: pyqemu-arm against qemu-arm (issue 8)
        return arm_user.main(["--repeat", str(args.repeat), *(["--cold"] if args.cold else [])])
    if args.only == "img":
        import img_convert  # benchmarks/img_convert.py: pyqemu-img against qemu-img
        return img_convert.main(["--repeat", str(args.repeat)])
    if shutil.which("qemu-aarch64") is None:
        print("qemu-aarch64 not found (apt-get install qemu-user); nothing to compare with")
        return 1
    runner = Runner(args.repeat, args.cold, args.jit)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        rows = workloads(args.only, Path(tmp))
        if not rows:
            print(f"no workload called {args.only!r}")
            return 2
        print(f"median of {args.repeat} run(s), CPU seconds (user+sys)"
              f"{', cold code cache' if args.cold else ''}, native tier {args.jit}", flush=True)
        print(HEADER, flush=True)
        for w in rows:
            ok = row(runner, w, tmp) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
