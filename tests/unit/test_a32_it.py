"""Thumb IT blocks around instructions that end a translation block (ISB, the CP15 ISB,
SVC) and BKPT, which runs whatever its IT condition: Thumb programs run by pyqemu-arm,
checked against the architecture (and against qemu-arm 7.2 when it is installed).

pyqemu keeps ITSTATE in the translator, so a block may not end inside an IT block:
an ISB there ends the block after the IT block, and an SVC goes on with the rest of the
IT block in the same block. Unicorn (QEMU 5) gets the ISB case wrong, hence this test.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from emu_harness import GUEST_ENV, run_process

ROOT = Path(__file__).resolve().parents[2]
CC = "arm-linux-gnueabihf-gcc"
QEMU_ARM = "qemu-arm"

pytestmark = pytest.mark.skipif(shutil.which(CC) is None, reason="needs gcc-arm-linux-gnueabihf")

INV = {"eq": "ne", "ne": "eq"}
# What ends a block, with its IT condition: ISB, the ARMv6 CP15 ISB, SVC (getpid: r7 = 20).
KINDS = {
    "isb": "isb{c} sy",
    "mcr": "mcr{c} p15, 0, r0, c7, c5, 4",
    "svc": "svc{c} #0",
}


def _cases():
    """(kind, first condition, then/else pattern, position of the block end, Z flag)."""
    for kind in KINDS:
        for first in ("eq", "ne"):
            for n in range(1, 5):
                for pat in range(1 << (n - 1)):
                    elses = [(pat >> k) & 1 for k in range(n - 1)]
                    for pos in range(n):
                        for z in (0, 1):
                            yield kind, first, elses, pos, z


def _program() -> tuple[str, bytes]:
    """The assembler source and the bytes it must write to stdout."""
    lines = [
        ".syntax unified", ".thumb", ".global _start", ".thumb_func", "_start:",
        "sub sp, sp, #4096", "mov r6, sp", "movs r7, #20",
    ]
    expect = bytearray()
    for kind, first, elses, pos, z in _cases():
        conds = [first] + [INV[first] if e else first for e in elses]
        it = "it" + "".join("e" if e else "t" for e in elses)
        lines += ["movs r5, #0", f"cmp r5, #{0 if z else 1}", f"{it} {first}"]
        val = 0
        for k, c in enumerate(conds):
            if k == pos:
                lines.append(KINDS[kind].format(c=c))
            else:
                lines.append(f"add{c} r5, r5, #{1 << k}")
                if (c == "eq") == bool(z):
                    val |= 1 << k
        lines.append("strb r5, [r6], #1")
        expect.append(val)
    lines += [
        "movs r0, #1", "mov r1, sp", f"movw r2, #{len(expect)}", "movs r7, #4", "svc #0",
        "movs r0, #0", "movs r7, #1", "svc #0",
    ]
    assert len(expect) <= 4096
    return "\n".join(lines) + "\n", bytes(expect)


def _bkpt_program() -> str:
    """BKPT under a failing IT condition still traps (QEMU: SIGTRAP)."""
    return "\n".join([
        ".syntax unified", ".thumb", ".global _start", ".thumb_func", "_start:",
        "movs r4, #1", "cmp r4, #0", "it eq", ".inst.n 0xbe01",
        "movs r0, #7", "movs r7, #1", "svc #0",
    ]) + "\n"


def _build(tmp_path: Path, name: str, src: str) -> Path:
    s = tmp_path / f"{name}.S"
    s.write_text(src)
    exe = tmp_path / name
    subprocess.run([CC, "-nostdlib", "-static", "-o", str(exe), str(s)], check=True)
    return exe


def _pyqemu(args: list[str]):
    code = "import sys; from pyqemu.linux_user.main import main_arm; sys.exit(main_arm())"
    env = dict(GUEST_ENV)
    env["PYTHONPATH"] = str(ROOT / "src")
    return run_process([sys.executable, "-c", code, *args], env=env, timeout=600)


@pytest.mark.parametrize("opts", [[], ["-one-insn-per-tb"]])
def test_block_end_inside_it_block(tmp_path: Path, opts: list[str]) -> None:
    src, expect = _program()
    exe = _build(tmp_path, "it_end", src)
    got = _pyqemu([*opts, str(exe)])
    assert got.returncode == 0, got.stderr[-2000:]
    bad = [(c, e, g) for c, e, g in zip(_cases(), expect, got.stdout, strict=True) if e != g]
    assert not bad, f"{len(bad)} cases differ, first (case, expected, got): {bad[:5]}"
    if shutil.which(QEMU_ARM):
        assert run_process([QEMU_ARM, str(exe)], env=dict(GUEST_ENV), timeout=120).stdout == expect


def test_bkpt_in_it_block_is_unconditional(tmp_path: Path) -> None:
    exe = _build(tmp_path, "it_bkpt", _bkpt_program())
    got = _pyqemu([str(exe)])
    assert got.returncode == -5, (got.returncode, got.stderr[-2000:])


@pytest.mark.parametrize("z,status", [(1, -5), (0, 7)])
def test_a32_conditional_bkpt(tmp_path: Path, z: int, status: int) -> None:
    """An A32 BKPT with a condition (UNPREDICTABLE) traps only when it holds, as in qemu-arm."""
    src = "\n".join([
        ".syntax unified", ".arm", ".global _start", "_start:",
        f"movs r4, #{0 if z else 1}", "cmp r4, #0", ".inst 0x01200070",  # bkpteq #0
        "mov r0, #7", "mov r7, #1", "svc #0",
    ]) + "\n"
    got = _pyqemu([str(_build(tmp_path, "a32_bkpt", src))])
    assert got.returncode == status, (got.returncode, got.stderr[-2000:])
