"""End-to-end check on a tiny hand-written AArch64 program."""
import shutil
import subprocess
import sys

import pytest

ASM = r"""
.global _start
_start:
    mov x3, #3
loop:
    mov x0, #1
    adr x1, msg
    mov x2, #6
    mov x8, #64
    svc 0
    subs x3, x3, #1
    b.ne loop
    mov x0, #42
    mov x8, #93
    svc 0
msg: .ascii "hello\n"
"""


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None, reason="needs gcc-aarch64-linux-gnu")
def test_loop_write_exit(tmp_path):
    src = tmp_path / "hello.S"
    src.write_text(ASM)
    exe = tmp_path / "hello"
    subprocess.run(["aarch64-linux-gnu-gcc", "-nostdlib", "-static", "-o", str(exe), str(src)], check=True)
    r = subprocess.run([sys.executable, "-m", "pyqemu.linux_user.main", str(exe)],
                       capture_output=True, timeout=60)
    assert r.stdout == b"hello\n" * 3
    assert r.returncode == 42
