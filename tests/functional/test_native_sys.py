"""Bare-metal programs on ``-M virt`` whose hot loops switch between pyqemu's tiers in system mode.

Each program (our own assembly in tests/tcg/native_sys/, built as in test_virt_baremetal.py)
runs loops long enough to be compiled to machine code by the native tier (docs/native-tier.md)
and then makes them leave it. Every program prints values (hex) and PASS/FAIL lines; pyqemu's
output with ``PYQEMU_JIT=off``, ``on`` (hot code compiled in the background, or at once with
``PYQEMU_JIT_ASYNC=0``) and ``force`` must equal qemu-system-aarch64's on the same ELF.

- checksum: loads and stores of every size, aligned with the MMU off, unaligned and crossing
  pages with it on.
- faults: data aborts (invalid and read-only pages, page-crossing accesses) in a hot loop,
  retried or skipped by the handler.
- remap: page-table changes under a hot loop, with TLBI VAE1 / VMALLE1, ASID switches through
  TTBR0 and an entry made invalid.
- mmu-toggle: SCTLR_EL1.M turned off and on under a hot loop.
- el0: the same hot loop at EL0 and EL1, permission faults from EL0.
- smc: self-modifying code (MMU off, on, and the patched instruction on the next page).
- codegen: a hot loop that stores to another page's code and calls it.
- misc: flags, system registers, division, CRC32, FP/SIMD and DC ZVA in a hot loop.
- smp: a broadcast TLBI from vCPU 0 reaches vCPU 1's hot loop.
- mmio: UART and GIC accesses in hot loops, a RAM page remapped to the UART.
- timer: periodic timer interrupts in hot loops (with exclusives and WFI), at EL1 with the
  MMU off or on, or at EL0.

start.S (vectors) comes before each program, support.S (default handlers, mmu_on, putval),
test_virt_baremetal.py's LIB (putc, puts, check, poweroff) and a stack after it. A program
that comes in variants is assembled with symbols defined at its start (PROGRAMS).
"""
from __future__ import annotations

import difflib
import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import unavailable  # noqa: E402
from test_virt_baremetal import LIB, _elf  # noqa: E402

TIMEOUT = 120
NATIVE_LINE = re.compile(r"^native: (\d+) regions, compile [0-9.]+ s, (\d+) failed\b", re.M)
SOURCES = Path(__file__).resolve().parents[1] / "tcg" / "native_sys"

STACK = r"""
    .balign 16
    .skip 8192
stack_top:
"""

# Test name: the source file in SOURCES and the symbols defined (as 1) for this variant.
PROGRAMS: dict[str, tuple[str, ...]] = {
    "checksum-mmu-off": ("checksum",),
    "checksum-mmu-on": ("checksum", "MMU"),
    "faults": ("faults",),
    "mmu-toggle": ("mmu_toggle",),
    "el0": ("el0",),
    "remap": ("remap",),
    "smc-mmu-off": ("smc",),
    "smc-mmu-on": ("smc", "MMU"),
    "smc-cross-page": ("smc", "MMU", "CROSS_PAGE"),
    "codegen-mmu-off": ("codegen",),
    "codegen-mmu-on": ("codegen", "MMU"),
    "misc": ("misc",),
    "smp": ("smp",),
    "mmio": ("mmio",),
    "timer-mmu-off": ("timer",),
    "timer-mmu-on": ("timer", "MMU"),
    "timer-el0": ("timer", "EL0"),
}


@functools.cache
def program(name: str) -> Path:
    """The ELF of program ``name``: start.S, its source with its symbols, support.S, LIB, a stack."""
    file, *symbols = PROGRAMS[name]
    defs = "".join(f"    .equ {sym}, 1\n" for sym in symbols)
    parts = [defs + (SOURCES / "start.S").read_text(), (SOURCES / f"{file}.S").read_text(),
             (SOURCES / "support.S").read_text(), LIB, STACK]
    return _elf("\n".join(parts))


COLD = {"smc-cross-page"}  # loops that stay on the Python tier unless PYQEMU_JIT=force
OPTIONS = {"smp": ("-smp", "2")}  # more command-line options for QEMU and pyqemu
BOARD = ("-M", "virt", "-cpu", "cortex-a57", "-m", "128", "-nographic", "-nic", "none")
# No on-disk code caches (every run translates and compiles, force mode reaches every block);
# the exit report says how many native regions were made.
BASE_ENV = {"PYQEMU_CACHE": "0", "PYQEMU_COUNT_INSNS": "1"}
JIT_MODES: dict[str, dict[str, str | None]] = {
    "off": {"PYQEMU_JIT": "off"},
    "on": {"PYQEMU_JIT": "on", "PYQEMU_JIT_ASYNC": None},  # hot regions, compiled in the background
    "on-sync": {"PYQEMU_JIT": "on", "PYQEMU_JIT_ASYNC": "0"},  # hot regions, at a fixed point
    "force": {"PYQEMU_JIT": "force"},  # every block at its first run
}


def _run(exe: str, elf: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([exe, *BOARD, *extra, "-kernel", str(elf)], capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL, env=env)


@functools.cache
def _qemu_output(name: str) -> str:
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        unavailable("qemu-system-aarch64 is not installed")
    res = _run(qemu, program(name), *OPTIONS.get(name, ()))
    out = res.stdout.replace("\r", "")
    assert res.returncode == 0, (name, out, res.stderr)
    assert "FAIL" not in out and "unexpected" not in out, f"{name} fails under QEMU itself:\n{out}"
    return out


def _pyqemu(name: str, *extra: str, **env: str | None) -> tuple[str, int | None]:
    """pyqemu's stdout for program ``name`` and its number of native regions (None: no tier);
    ``env`` is added to the environment (None: removed from it)."""
    exe = shutil.which("pyqemu-system-aarch64")
    assert exe, "pyqemu-system-aarch64 is not installed (pip install -e .)"
    full = {k: v for k, v in {**os.environ, **BASE_ENV, **env}.items() if v is not None}
    res = _run(exe, program(name), *OPTIONS.get(name, ()), *extra, env=full)
    out = res.stdout.replace("\r", "")
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert res.returncode == 0, (out[-3000:], res.stderr[-3000:])
    m = NATIVE_LINE.search(res.stderr)
    if m is None:
        return out, None
    assert int(m.group(2)) == 0, f"native compilations failed: {res.stderr[-1000:]}"
    return out, int(m.group(1))


def _same(name: str, want: str, got: str, label: str) -> None:
    if got != want:
        diff = difflib.unified_diff(want.splitlines(), got.splitlines(), "qemu-system-aarch64", label,
                                    lineterm="", n=2)
        pytest.fail(f"{name}: output differs from QEMU's\n" + "\n".join(list(diff)[:80]), pytrace=False)


@pytest.mark.parametrize("jit", list(JIT_MODES))
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_native_sys(name: str, jit: str) -> None:
    """pyqemu prints what QEMU prints, whichever tier runs the hot loops."""
    want = _qemu_output(name)
    got, regions = _pyqemu(name, **JIT_MODES[jit])
    _same(name, want, got, f"pyqemu PYQEMU_JIT={jit}")
    if jit == "off":
        assert regions is None, "PYQEMU_JIT=off made native regions"
    elif jit == "force" or jit == "on-sync" and name not in COLD:
        # (In the background, a compilation may still be running when the program ends.)
        assert regions, f"PYQEMU_JIT={jit}: no native region was made"
    else:
        assert regions is not None, f"PYQEMU_JIT={jit}: no native tier"


@pytest.mark.parametrize("jit", ["on", "off"])
def test_accel_jit_option(jit: str) -> None:
    """``-accel tcg,jit=on`` uses the native tier, ``jit=off`` does not even with PYQEMU_JIT=force;
    the results are the same."""
    want = _qemu_output("faults")
    got, regions = _pyqemu("faults", "-accel", f"tcg,jit={jit}",
                           PYQEMU_JIT="force" if jit == "off" else None)
    _same("faults", want, got, f"pyqemu -accel tcg,jit={jit}")
    assert (regions is None) if jit == "off" else regions is not None, regions
