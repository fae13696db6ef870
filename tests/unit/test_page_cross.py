"""Accesses that straddle two pages: the second page's permissions count too."""
import shutil
import subprocess
import sys

import pytest

PROLOGUE = r"""
.global _start
_start:
    mov x0, #0
    mov x1, #8192
    mov x2, #3
    mov x3, #0x22
    movn x4, #0
    mov x5, #0
    mov x8, #222          // mmap two pages
    svc 0
    mov x19, x0
    movz x2, #0x0807, lsl #48
    movk x2, #0x0605, lsl #32
    movk x2, #0x0403, lsl #16
    movk x2, #0x0201
    add x1, x19, #4092
    str x2, [x1]          // crossing store, both pages writable
    ldr x3, [x1]          // crossing load
    cmp x3, x2
    b.ne bad
    add x0, x19, #4096
    mov x1, #4096
    mov x2, #1            // second page read-only
    mov x8, #226          // mprotect
    svc 0
"""

CASES = {
    "load_into_unmapped": r"""
    add x0, x19, #4096
    mov x1, #4096
    mov x8, #215          // munmap the second page
    svc 0
    add x1, x19, #4092
    ldr x0, [x1]
""",
    "store_into_readonly": r"""
    add x1, x19, #4092
    str x2, [x1]
""",
    "q_load_into_unmapped": r"""
    add x0, x19, #4096
    mov x1, #4096
    mov x8, #215
    svc 0
    add x1, x19, #4088
    ldr q0, [x1]
""",
}

EPILOGUE = r"""
    mov x0, #0
    mov x8, #93
    svc 0
bad:
    mov x0, #1
    mov x8, #93
    svc 0
"""


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None or shutil.which("qemu-aarch64") is None,
                    reason="needs gcc-aarch64-linux-gnu and qemu-user")
@pytest.mark.parametrize("case", sorted(CASES))
def test_straddling_access_faults_like_qemu(tmp_path, case):
    src = tmp_path / "p.S"
    src.write_text(PROLOGUE + CASES[case] + EPILOGUE)
    exe = tmp_path / "p"
    subprocess.run(["aarch64-linux-gnu-gcc", "-nostdlib", "-static", "-o", str(exe), str(src)], check=True)
    ref = subprocess.run(["qemu-aarch64", str(exe)], capture_output=True, timeout=60)
    got = subprocess.run([sys.executable, "-m", "pyqemu.linux_user.main", str(exe)], capture_output=True,
                         timeout=60)
    assert ref.returncode == -11
    assert got.returncode == ref.returncode, got.stderr
