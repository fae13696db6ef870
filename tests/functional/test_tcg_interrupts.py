"""An interrupt reaches a vCPU spinning in a hot loop (a region or a looping block).

The guest arms the virtual timer for 1 ms and spins in a three-instruction
loop that only the timer interrupt ends (its handler sets x20). With
``-icount shift=0`` one instruction is one nanosecond of virtual time, so the
number of iterations before the interrupt is fixed by the architecture: QEMU
runs the same program for the reference, and pyqemu must take the interrupt
within a few iterations of it although its loop runs many iterations per call
of the generated function (the slice budget is exact instructions). Without
-icount the interrupt still ends the loop (time comes from the host clock).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import unavailable  # noqa: E402
from test_virt_baremetal import LIB, TIMER_SETUP, TIMER_VECTORS, _elf, run_on_virt  # noqa: E402

SPIN = TIMER_SETUP + r"""
    mov x20, #0
    mov x3, #0
    msr daifclr, #2
    ldr x0, =62500                    // 1 ms at 62.5 MHz
    msr cntv_tval_el0, x0
    mov x0, #1
    msr cntv_ctl_el0, x0
    isb
1:  add x3, x3, #1                    // spin until the handler sets x20
    eor x4, x4, x3
    cbz x20, 1b
    mov x0, x3                        // print the iteration count in hex
    bl puthex
    ldr x0, =s_nl
    bl puts
    mov x0, x21
    mov x1, #27
    ldr x2, =l_irq
    bl check
    b poweroff

puthex:                               // x0: value, 16 hex digits
    mov x16, x30
    mov x17, x0
    mov x18, #60
5:  lsr x0, x17, x18
    and x0, x0, #0xf
    cmp x0, #10
    add x1, x0, #'0'
    add x2, x0, #('a' - 10)
    csel x0, x1, x2, lt
    bl putc
    subs x18, x18, #4
    b.ge 5b
    mov x30, x16
    ret

""" + TIMER_VECTORS + LIB + r"""
l_irq: .asciz "the timer interrupt ended the spin loop"
    .balign 16
    .skip 4096
stack_top:
"""


def _iterations(stdout: str) -> int:
    m = re.search(r"^([0-9a-f]{16})\r?$", stdout, re.M)
    assert m, stdout
    return int(m.group(1), 16)


def _qemu_iterations(elf: Path) -> int:
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        unavailable("qemu-system-aarch64 is not installed")
    res = subprocess.run([qemu, "-M", "virt", "-cpu", "cortex-a57", "-m", "128", "-nographic", "-nic", "none",
                          "-icount", "shift=0", "-kernel", str(elf)], capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert "PASS the timer interrupt" in res.stdout, res.stdout
    return _iterations(res.stdout)


@pytest.mark.parametrize("regions", ["3", "0"])
def test_interrupt_ends_hot_loop_on_time_with_icount(regions: str, monkeypatch) -> None:
    elf = _elf(SPIN)
    want = _qemu_iterations(elf)
    monkeypatch.setenv("PYQEMU_REGION_HEAT", regions)
    res = run_on_virt(elf, "-icount", "shift=0")
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert "PASS the timer interrupt ended the spin loop" in res.stdout, res.stdout
    got = _iterations(res.stdout)
    # ~333,000 iterations in 1 ms of virtual time; QEMU and pyqemu differ only by where each
    # counts the instructions around the timer setup (a handful), never by a slice.
    assert abs(got - want) <= 16, (got, want)


def test_interrupt_ends_hot_loop_in_real_time() -> None:
    res = run_on_virt(_elf(SPIN))
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert "PASS the timer interrupt ended the spin loop" in res.stdout, res.stdout
    assert _iterations(res.stdout) > 0
