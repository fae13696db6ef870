"""Self-modifying code and code unmapping invalidate translated blocks."""
import shutil
import subprocess
import sys

import pytest

ASM = r"""
.global _start
_start:
    mov x0, #0
    mov x1, #4096
    mov x2, #7            // PROT_READ|PROT_WRITE|PROT_EXEC
    mov x3, #0x22         // MAP_PRIVATE|MAP_ANONYMOUS
    movn x4, #0
    mov x5, #0
    mov x8, #222          // mmap
    svc 0
    mov x19, x0
    ldr w1, =0xd28000a0   // movz x0, #5
    str w1, [x19]
    ldr w1, =0xd65f03c0   // ret
    str w1, [x19, #4]
    blr x19
    mov x20, x0           // 5
    ldr w1, =0xd2800140   // movz x0, #10: rewrites code that has run
    str w1, [x19]
    blr x19
    add x20, x20, x0      // 15
    mov x0, x19
    mov x1, #4096
    mov x8, #215          // munmap
    svc 0
    mov x0, x19
    mov x1, #4096
    mov x2, #7
    mov x3, #0x32         // MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED
    movn x4, #0
    mov x5, #0
    mov x8, #222
    svc 0
    ldr w1, =0xd2800280   // movz x0, #20
    str w1, [x19]
    ldr w1, =0xd65f03c0
    str w1, [x19, #4]
    blr x19
    add x0, x20, x0       // 35
    mov x8, #93
    svc 0
    .ltorg
"""


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None, reason="needs gcc-aarch64-linux-gnu")
@pytest.mark.parametrize("one_insn", [False, True])
def test_code_rewritten_and_remapped(tmp_path, one_insn):
    src = tmp_path / "smc.S"
    src.write_text(ASM)
    exe = tmp_path / "smc"
    subprocess.run(["aarch64-linux-gnu-gcc", "-nostdlib", "-static", "-o", str(exe), str(src)], check=True)
    opts = ["-one-insn-per-tb"] if one_insn else []
    r = subprocess.run([sys.executable, "-m", "pyqemu.linux_user.main", *opts, str(exe)],
                       capture_output=True, timeout=60)
    assert r.returncode == 35, r.stderr
