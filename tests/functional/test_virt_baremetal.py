"""Bare-metal programs on ``-M virt`` loaded with ``-kernel prog.elf`` (issue 5, acceptance 3 and 4).

Each program is our own assembly, linked at RAM (0x40080000), and talks only
to the board: it prints lines on the PL011 and powers the machine off with
PSCI SYSTEM_OFF over HVC, so the process exit status is 0. It checks
exception levels and ERET to EL0, synchronous exceptions and their syndromes
(SVC, UDF, BRK, MMU faults), timer interrupts through the GIC with WFI
wake-up, and what an access to an unassigned address or an unimplemented
device register does (external abort / RAZ, logged, never a crash).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import baremetal  # noqa: E402
from conftest import unavailable  # noqa: E402

LOAD = 0x40080000

# Shared helpers: puts (x0 = string), check (w0 = got, w1 = want, x2 = label: PASS/FAIL line).
LIB = r"""
    .equ UART, 0x09000000
putc:                               // w0: character
    ldr x9, =UART
1:  ldr w10, [x9, #0x18]            // UARTFR: wait while TXFF
    tbnz w10, #5, 1b
    str w0, [x9]
    ret
puts:                               // x0: NUL-terminated string
    mov x11, x30
    mov x12, x0
2:  ldrb w0, [x12], #1
    cbz w0, 3f
    bl putc
    b 2b
3:  mov x30, x11
    ret
check:                              // x0 = got, x1 = want, x2 = label
    mov x13, x30
    mov x14, x0
    cmp x0, x1
    ldr x0, =s_pass
    ldr x15, =s_fail
    csel x0, x0, x15, eq
    bl puts
    mov x0, x2
    bl puts
    ldr x0, =s_nl
    bl puts
    mov x30, x13
    ret
poweroff:
    ldr x0, =0x84000008             // PSCI SYSTEM_OFF
    hvc #0
4:  b 4b
    .ltorg
s_pass: .asciz "PASS "
s_fail: .asciz "FAIL "
s_nl:   .asciz "\n"
"""

EXCEPTIONS = r"""
    .global _start
_start:
    ldr x0, =stack_top
    mov sp, x0
    ldr x0, =vectors
    msr vbar_el1, x0
    mrs x0, CurrentEL
    mov x1, #4
    ldr x2, =l_el1
    bl check
    svc #0x42
    mov x0, x20                      // ESR from the handler
    ldr x1, =0x56000042
    ldr x2, =l_svc
    bl check
    udf #7
    mov x0, x20
    ldr x1, =0x02000000
    ldr x2, =l_udf
    bl check
    brk #0x99
    mov x0, x20
    ldr x1, =0xf2000099
    ldr x2, =l_brk
    bl check
    ldr x3, =0x09040000              // nothing is mapped there on virt: synchronous external abort
    ldr w4, [x3]
    mov x0, x20
    ldr x1, =0x96000010
    ldr x2, =l_ea
    bl check
    mov x0, x21
    ldr x1, =0x09040000
    ldr x2, =l_far
    bl check
    ldr x3, =0x09000ff0              // PL011 PrimeCell ID: implemented
    ldr w0, [x3]
    mov x1, #0x0d
    ldr x2, =l_pid
    bl check
    ldr x3, =0x09000090              // PL011 reserved offset: reads as zero, logged
    ldr w0, [x3]
    mov x1, #0
    ldr x2, =l_raz
    bl check
    // to EL0 and back with SVC
    ldr x0, =user
    msr elr_el1, x0
    ldr x0, =user_stack_top
    msr sp_el0, x0
    msr spsr_el1, xzr
    eret
back:
    mov x0, x20
    ldr x1, =0x56000007
    ldr x2, =l_el0
    bl check
    b poweroff

user:
    svc #7
1:  b 1b

    .balign 0x800
vectors:
    .skip 0x200                       // current EL, SP_ELx, synchronous
    mrs x20, esr_el1
    mrs x21, far_el1
    lsr x22, x20, #26
    cmp x22, #0x15
    b.eq 2f
    mrs x22, elr_el1                  // skip the instruction that faulted
    add x22, x22, #4
    msr elr_el1, x22
2:  eret
    .skip 0x200 - 36
    mrs x20, esr_el1                  // lower EL, synchronous: the SVC from EL0
    b back
""" + LIB + r"""
l_el1: .asciz "CurrentEL is EL1"
l_svc: .asciz "SVC syndrome"
l_udf: .asciz "UDF syndrome"
l_brk: .asciz "BRK syndrome"
l_ea:  .asciz "external abort on an unassigned address"
l_far: .asciz "FAR of the external abort"
l_pid: .asciz "PL011 PrimeCell ID"
l_raz: .asciz "reserved PL011 register reads as zero"
l_el0: .asciz "SVC from EL0"
    .balign 16
    .skip 4096
stack_top:
    .skip 4096
user_stack_top:
"""

# Start-up shared by the programs that take the virtual timer's interrupt: stack, vectors,
# the GIC distributor and CPU interface enabled with PPI 27 (the virtual timer) let through.
TIMER_SETUP = r"""
    .equ GICD, 0x08000000
    .equ GICC, 0x08010000
    .global _start
_start:
    ldr x0, =stack_top
    mov sp, x0
    ldr x0, =vectors
    msr vbar_el1, x0
    ldr x1, =GICD
    mov w2, #1
    str w2, [x1]                      // GICD_CTLR: enable
    mov w2, #(1 << 27)
    str w2, [x1, #0x100]              // GICD_ISENABLER0: PPI 27, the virtual timer
    ldr x1, =GICC
    mov w2, #0xff
    str w2, [x1, #4]                  // GICC_PMR: let everything through
    mov w2, #1
    str w2, [x1]                      // GICC_CTLR: enable
"""

# The IRQ vector of those programs: acknowledge (w21 = the interrupt ID), mask the timer, end
# the interrupt, count it in x20.
TIMER_VECTORS = r"""
    .balign 0x800
vectors:
    .skip 0x280                       // current EL, SP_ELx, IRQ
    ldr x1, =GICC
    ldr w21, [x1, #0x0c]              // GICC_IAR
    mov x0, #3
    msr cntv_ctl_el0, x0              // mask the timer so the line drops
    str w21, [x1, #0x10]              // GICC_EOIR
    add x20, x20, #1
    eret
    .ltorg
"""

TIMER = TIMER_SETUP + r"""
    mov x20, #0                       // interrupts seen
    msr daifclr, #2
    ldr x0, =625000                   // 10 ms at 62.5 MHz
    msr cntv_tval_el0, x0
    mov x0, #1
    msr cntv_ctl_el0, x0              // enable, not masked
1:  wfi                               // sleep until the timer fires
    cbz x20, 1b
    mov x0, x21                       // the interrupt ID the handler acknowledged
    mov x1, #27
    ldr x2, =l_irq
    bl check
    mrs x0, cntv_ctl_el0              // the handler masked the timer: ISTATUS set, IMASK set
    mov x1, #7
    ldr x2, =l_ctl
    bl check
    b poweroff

""" + TIMER_VECTORS + LIB + r"""
l_irq: .asciz "virtual timer interrupt through the GIC woke WFI"
l_ctl: .asciz "CNTV_CTL after the interrupt"
    .balign 16
    .skip 4096
stack_top:
"""


def _elf(source: str) -> Path:
    tools = baremetal.missing_tools()
    if tools:
        unavailable(f"binutils for aarch64 missing: {tools}")
    out = baremetal.CACHE / f"virt-{hashlib.sha256(source.encode()).hexdigest()[:16]}.elf"
    if not out.exists():
        baremetal.CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as d:
            src, obj = Path(d) / "p.S", Path(d) / "p.o"
            src.write_text(source)
            subprocess.run(["aarch64-linux-gnu-as", "-o", str(obj), str(src)], check=True,
                           capture_output=True)
            subprocess.run(["aarch64-linux-gnu-ld", "-Ttext", hex(LOAD), "-o", str(out), str(obj)],
                           check=True, capture_output=True)
    return out


def run_on_virt(elf: Path, *extra: str) -> subprocess.CompletedProcess:
    exe = shutil.which("pyqemu-system-aarch64")
    assert exe, "pyqemu-system-aarch64 is not installed (pip install -e .)"
    return subprocess.run([exe, "-M", "virt", "-cpu", "cortex-a57", "-m", "128", "-nographic", "-nic", "none",
                           "-kernel", str(elf), *extra], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name,source,count", [("exceptions", EXCEPTIONS, 9), ("timer", TIMER, 2)])
def test_baremetal_program_passes(name: str, source: str, count: int, tmp_path: Path) -> None:
    log = tmp_path / "guest.log"
    res = run_on_virt(_elf(source), "-d", "guest_errors,unimp", "-D", str(log))
    lines = [ln for ln in res.stdout.replace("\r", "").splitlines() if ln.startswith(("PASS", "FAIL"))]
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert lines and all(ln.startswith("PASS") for ln in lines), res.stdout
    assert len(lines) == count, res.stdout
    assert "Traceback" not in res.stderr
    if name == "exceptions":
        text = log.read_text()
        assert "0x9040000" in text.replace("0x09040000", "0x9040000")  # the unassigned access is logged
        assert "pl011_read: Bad offset 0x90" in text
