"""Compare settings of pyqemu on the Linux notests boot, interleaved (an A/B benchmark).

    python3 benchmarks/ab_boot.py PYQEMU_CHAIN_FILL 1 0 --rounds 6

boots Linux (cryptomgr.notests, to /init's marker) with the environment variable set to each
value in turn, ``--rounds`` times, alternating the order every round (ABBA...), and prints
each boot's time and the median and spread per value. Interleaving matters: a boot's time
drifts while the code cache fills and with the machine's load, and one setting run after the
other would see different caches. Warm the caches first (``--warmup N`` boots of the first
value). All settings share the code cache, so a setting that changes what is translated
(the translator's sources) cannot be compared this way: use two checkouts instead.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import boot_assets  # noqa: E402
import boot_virt  # noqa: E402

APPEND = "console=ttyAMA0 cryptomgr.notests"


def boot(env_var: str, value: str, kernel: Path, initrd: Path, timeout: float) -> float:
    """Seconds from spawn to the marker with ``env_var=value``."""
    old = os.environ.get(env_var)
    os.environ[env_var] = value
    try:
        return boot_virt.boot_linux(boot_virt.pyqemu_system(), kernel, initrd, APPEND,
                                    boot_assets.MARKER, timeout).reached
    finally:
        if old is None:
            del os.environ[env_var]
        else:
            os.environ[env_var] = old


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variable", help="environment variable to vary (e.g. PYQEMU_CHAIN_FILL)")
    ap.add_argument("values", nargs="+", help="its values (two or more)")
    ap.add_argument("--rounds", type=int, default=4, help="boots per value (default 4)")
    ap.add_argument("--warmup", type=int, default=0, help="boots of the first value first, not counted")
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args()
    if len(args.values) < 2:
        ap.error("give at least two values to compare")
    kernel, initrd = boot_assets.linux_image_arm64(), boot_assets.initramfs()
    for _ in range(args.warmup):
        t = boot(args.variable, args.values[0], kernel, initrd, args.timeout)
        print(f"warm-up {args.variable}={args.values[0]}: {t:.2f} s", flush=True)
    times: dict[str, list[float]] = {v: [] for v in args.values}
    for r in range(args.rounds):
        order = args.values if r % 2 == 0 else args.values[::-1]
        for value in order:
            t = boot(args.variable, value, kernel, initrd, args.timeout)
            times[value].append(t)
            print(f"round {r + 1} {args.variable}={value}: {t:.2f} s", flush=True)
    print(f"{args.variable:>24}  {'median':>7}  {'min':>6}  {'max':>6}  boots")
    for value, ts in times.items():
        print(f"{value:>24}  {statistics.median(ts):7.2f}  {min(ts):6.2f}  {max(ts):6.2f}  {len(ts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
