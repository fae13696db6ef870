"""System mode's persistent cache of compiled blocks (accel/tcg/code_cache.py).

Blocks are keyed by the digest of their physical page, their virtual pc and
the translation flags, so a second boot reuses the first one's compiled code,
and different code at the same addresses never gets it.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_virt_baremetal import LIB, _elf, run_on_virt  # noqa: E402


def _program(value: int) -> str:
    # The same layout for every value: only an immediate in the code differs.
    return r"""
    .global _start
_start:
    ldr x0, =stack_top
    mov sp, x0
    mov x3, #0
    mov x4, #0
1:  add x3, x3, #VALUE                 // a loop, so blocks run many times
    add x4, x4, #1
    cmp x4, #1000
    b.ne 1b
    mov x0, x3
    ldr x1, =TOTAL
    ldr x2, =l_sum
    bl check
    b poweroff
""".replace("VALUE", str(value)).replace("TOTAL", str(value * 1000)) + LIB + r"""
l_sum: .asciz "loop sum"
    .balign 16
    .skip 4096
stack_top:
"""


def test_second_run_reuses_cache_and_other_code_is_not_confused(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("PYQEMU_CACHE_DIR", str(cache))
    monkeypatch.setenv("PYQEMU_COUNT_INSNS", "1")
    first = run_on_virt(_elf(_program(3)))
    assert first.returncode == 0 and "PASS loop sum" in first.stdout, (first.stdout, first.stderr)
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files, "no cache written at exit"
    again = run_on_virt(_elf(_program(3)))
    assert "PASS loop sum" in again.stdout
    assert again.stderr.count("insns:") == 1
    assert _insns(again.stderr) == _insns(first.stderr)
    # Different code at the same addresses: its own translation, not the cached one.
    other = run_on_virt(_elf(_program(5)))
    assert other.returncode == 0 and "PASS loop sum" in other.stdout, (other.stdout, other.stderr)


def _insns(stderr: str) -> int:
    for line in stderr.splitlines():
        if line.startswith("insns: "):
            return int(line.split()[1])
    raise AssertionError(stderr)
