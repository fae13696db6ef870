"""System instructions a user program uses, checked against qemu-aarch64."""
import shutil
import subprocess
import sys

import pytest

FLAGM = r"""
.global _start
_start:
    mov x0, #0
    cmp x0, #0        // Z=1 C=1
    cfinv             // C=0
    mrs x1, nzcv
    cmp x0, #1        // N=1, C=0
    .inst 0xd500403f  // xaflag
    mrs x2, nzcv
    .inst 0xd500405f  // axflag
    mrs x3, nzcv
    mrs x4, tpidr_el0
    msr tpidr_el0, x1
    mrs x5, tpidr_el0
    cmp x5, x1
    cset x6, eq
    eor x0, x1, x2, lsr #4
    eor x0, x0, x3, lsr #8
    lsr x0, x0, #24
    add x0, x0, x6
    mov x8, #93
    svc 0
"""

needs_tools = pytest.mark.skipif(
    shutil.which("aarch64-linux-gnu-gcc") is None or shutil.which("qemu-aarch64") is None,
    reason="needs gcc-aarch64-linux-gnu and qemu-user")


@needs_tools
def test_flag_manipulation_and_tpidr(tmp_path):
    src = tmp_path / "p.S"
    src.write_text(FLAGM)
    exe = tmp_path / "p"
    subprocess.run(["aarch64-linux-gnu-gcc", "-march=armv8.5-a", "-nostdlib", "-static", "-o", str(exe),
                    str(src)], check=True)
    ref = subprocess.run(["qemu-aarch64", "-cpu", "max", str(exe)], timeout=60)
    got = subprocess.run([sys.executable, "-m", "pyqemu.linux_user.main", str(exe)], timeout=60)
    assert got.returncode == ref.returncode == 73
