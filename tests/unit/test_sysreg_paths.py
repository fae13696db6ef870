"""MRS/MSR of the system registers a kernel touches constantly (SP_EL0, TPIDR_EL1, DAIF).

These have dedicated run-time paths (a single helper, no lazy-flag folding);
a bare-metal program checks what they read back, that DAIF writes leave NZCV
alone, and that SP_EL0 is still UNDEFINED at EL1 while SPSel selects it.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_cpu_sys import load, run_until_exit  # noqa: E402
from test_softmmu import RAM_BASE  # noqa: E402

PROGRAM = r"""
    .global _start
_start:
    ldr x0, =vectors
    msr vbar_el1, x0
    ldr x25, =log
    ldr x0, =0x1234000
    msr sp_el0, x0
    mrs x1, sp_el0
    ldr x0, =0xffff000012345678
    msr tpidr_el1, x0
    mrs x2, tpidr_el1
    msr daifclr, #0xf
    mrs x3, daif                    // 0
    mov x0, #-1
    cmp x0, #1                      // N=1, Z=0, C=1, V=0
    mov x0, #(0xc << 6)             // D, A
    msr daif, x0
    mrs x4, daif
    mrs x5, nzcv                    // unchanged by the DAIF write
    stp x1, x2, [x25], #16
    stp x3, x4, [x25], #16
    str x5, [x25], #8
    msr spsel, #0
    mrs x6, sp_el0                  // UNDEFINED: EC 0, to the SP_EL0 vector
    ldr x9, =0x09000100
    str x25, [x9]
1:  b 1b
    .ltorg

    .balign 0x800
vectors:
    mrs x20, esr_el1
    mrs x21, elr_el1
    stp x20, x21, [x25], #16
    ldr x9, =0x09000100
    str x25, [x9]
2:  b 2b
    .ltorg
    .balign 4096
log:
    .fill 16, 8, 0
"""


def test_kernel_hot_system_registers() -> None:
    board, image, cpu = load(PROGRAM, model="cortex-a57")
    run_until_exit(cpu, board)
    end = board.exit_value - RAM_BASE
    words = [int.from_bytes(board.ram[i:i + 8], "little") for i in range(end - 7 * 8, end, 8)]
    assert words[:5] == [0x1234000, 0xFFFF000012345678, 0, 0xC << 6, 0xA0000000]
    undef_pc = RAM_BASE + image.index((0xD5384106).to_bytes(4, "little"))  # mrs x6, sp_el0
    assert words[5:] == [0x02000000, undef_pc]
