"""Bare-metal programs on ``-M virt`` whose hot loops switch between pyqemu's tiers in system mode.

Each program (our own assembly, see test_virt_baremetal.py) runs loops long enough to be
compiled to machine code by the native tier (docs/native-tier.md) and then makes them leave
it: unaligned and page-crossing accesses, data aborts (invalid and read-only pages, at EL1
and EL0), page-table changes with TLB maintenance and ASID switches, self-modifying code,
stores to code pages, MMIO, exclusives and timer interrupts. Every program prints values (hex)
and PASS/FAIL lines; pyqemu's output with ``PYQEMU_JIT=off``, ``on`` (hot code compiled in
the background, or at once with ``PYQEMU_JIT_ASYNC=0``) and ``force`` must equal
qemu-system-aarch64's on the same ELF.
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

# puthex (x0: 16 hex digits) and putval (x0 = label, x1 = value: "label value\n"). Helpers
# clobber x0-x18; the programs keep their state in x19-x28.
PUTVAL = r"""
puthex:
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
putval:
    stp x30, x1, [sp, #-16]!
    bl puts
    ldr x0, [sp, #8]
    bl puthex
    ldr x0, =s_nl
    bl puts
    ldp x30, x1, [sp], #16
    ret
    .ltorg
"""

# Identity-mapped translation tables (4 KiB granule, 39-bit VA, start at level 1), built by
# mmu_on: 0-1 GiB one Device-nGnRnE block (the UART, the GIC), RAM 0x40000000-0x47ffffff
# 2 MiB Normal blocks except 0x40400000-0x405fffff (DATA), mapped by the level 3 table L3 in
# 4 KiB pages; mmu_enable only turns the MMU on with them. Clobbers x0-x5.
MMU = r"""
mmu_on:
    ldr x0, =L1
    mov x1, #(3 * 4096 / 8)
1:  str xzr, [x0], #8
    subs x1, x1, #1
    b.ne 1b
    ldr x0, =L1
    mov x1, #0x401                     // 1 GiB block at 0, AF, AttrIndx 0 (Device-nGnRnE)
    str x1, [x0]
    ldr x1, =(L2 + 3)
    str x1, [x0, #8]
    ldr x2, =L2
    mov x3, #0
    ldr x4, =0x40000705                // 2 MiB blocks: AF, inner shareable, Normal
2:  add x5, x4, x3, lsl #21
    str x5, [x2, x3, lsl #3]
    add x3, x3, #1
    cmp x3, #64
    b.lo 2b
    ldr x5, =(L3 + 3)
    str x5, [x2, #16]
    ldr x2, =L3
    mov x3, #0
    ldr x4, =(DATA + PAGE_ATTRS)
3:  add x5, x4, x3, lsl #12
    str x5, [x2, x3, lsl #3]
    add x3, x3, #1
    cmp x3, #512
    b.lo 3b
mmu_enable:                            // (another vCPU: the tables are there)
    ldr x1, =0xff00                    // MAIR: 0 Device-nGnRnE, 1 Normal write-back
    msr mair_el1, x1
    ldr x1, =0x200803519               // TCR: T0SZ 25, WB WA, inner shareable, EPD1, IPS 40 bits
    msr tcr_el1, x1
    ldr x1, =L1
    msr ttbr0_el1, x1
    dsb ish
    tlbi vmalle1
    dsb ish
    isb
    mrs x1, sctlr_el1
    orr x1, x1, #1                     // M
    orr x1, x1, #4                     // C
    orr x1, x1, #0x1000                // I
    msr sctlr_el1, x1
    isb
    ret
    .ltorg
"""

# Start: stack and vectors. Synchronous exceptions and IRQs (from the current EL or EL0) save
# x0-x18 and x30 and call sync_handler / lower_sync_handler / irq_handler (which may clobber
# x0-x18 and must keep x19-x28; the saved x<n> is at [sp, #8 * n] on entry). Their default
# (unexpected) prints ESR, ELR and FAR and powers off.
START = r"""
    .equ L1, 0x40300000
    .equ L2, 0x40301000
    .equ L3, 0x40302000
    .equ DATA, 0x40400000
    .equ PAGE_ATTRS, 0x707             // AF, inner shareable, AttrIndx 1 (Normal), page
    .global _start
_start:
    ldr x0, =stack_top
    mov sp, x0
    mov x0, #(3 << 20)                 // CPACR_EL1.FPEN: no FP/SIMD traps
    msr cpacr_el1, x0
    isb
    ldr x0, =vectors
    msr vbar_el1, x0
    b main

    .macro SAVE_CALL handler
    sub sp, sp, #160
    stp x0, x1, [sp]
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x30, [sp, #144]
    bl \handler
    ldp x0, x1, [sp]
    ldp x2, x3, [sp, #16]
    ldp x4, x5, [sp, #32]
    ldp x6, x7, [sp, #48]
    ldp x8, x9, [sp, #64]
    ldp x10, x11, [sp, #80]
    ldp x12, x13, [sp, #96]
    ldp x14, x15, [sp, #112]
    ldp x16, x17, [sp, #128]
    ldp x18, x30, [sp, #144]
    add sp, sp, #160
    eret
    .endm

    .balign 0x800
vectors:
    .skip 0x200
    SAVE_CALL sync_handler               // current EL, SP_ELx, synchronous
    .balign 0x80
    SAVE_CALL irq_handler                // current EL, SP_ELx, IRQ
    .balign 0x80
    .skip 0x100
    SAVE_CALL lower_sync_handler         // lower EL (AArch64), synchronous
    .balign 0x80
    SAVE_CALL irq_handler                // lower EL (AArch64), IRQ
    .balign 0x80
    .skip 0x300

unexpected:
    mov x19, x30
    ldr x0, =s_unexp
    mrs x1, esr_el1
    bl putval
    ldr x0, =s_elr
    mrs x1, elr_el1
    bl putval
    ldr x0, =s_far
    mrs x1, far_el1
    bl putval
    b poweroff
    .ltorg
s_unexp: .asciz "unexpected exception, ESR "
s_elr:   .asciz "ELR "
s_far:   .asciz "FAR "
    .balign 4
"""

STACK = r"""
    .balign 16
    .skip 8192
stack_top:
"""


def program(body: str, *, sync: bool = False, lower: bool = False, irq: bool = False,
            mmu: bool = False) -> str:
    """A whole program: ``body`` defines ``main`` (and ``sync_handler`` / ``lower_sync_handler``
    / ``irq_handler`` when ``sync`` / ``lower`` / ``irq``); ``mmu`` adds ``mmu_on``."""
    parts = [START, body]
    for name, given in (("sync_handler", sync), ("lower_sync_handler", lower), ("irq_handler", irq)):
        if not given:
            parts.append(f"{name}:\n    b unexpected\n")
    if mmu:
        parts.append(MMU)
    parts += [PUTVAL, LIB, STACK]
    return "\n".join(parts)


# --- checksum over 1 MiB ----------------------------------------------------------------------
# Fill DATA (1 MiB + 64 bytes) with an LCG through STP, then 500,000 iterations at offsets that
# step by STRIDE: loads of 1/2/4/8/16 bytes (signed and unsigned, LDP, LDR Q) mixed into a
# checksum, and stores of every size that later iterations read. With the MMU off (all data
# is Device memory) every access is naturally aligned; with it on (4 KiB pages) they are
# unaligned and some cross a page boundary. Then a checksum of the whole buffer.
CHECKSUM = r"""
main:
    {mmu}
    ldr x19, =0x40400000
    ldr x20, =0x9e3779b97f4a7c15       // LCG state
    ldr x21, =6364136223846793005
    ldr x22, =1442695040888963407
    mov x0, x19
    ldr x1, =(0x100000 + 64) / 16
1:  madd x20, x20, x21, x22
    eor x2, x20, x20, lsr #29
    stp x20, x2, [x0], #16
    subs x1, x1, #1
    b.ne 1b

    mov x21, #0                        // i
    mov x22, #0                        // offset
    mov x23, #0                        // checksum
    ldr x24, =500000
    ldr x25, ={stride}
    ldr x26, ={mask}
2:  add x2, x19, x22
    ldrb w3, [x2, #{b}]
    ldrsh x4, [x2, #{h}]
    ldr w5, [x2, #{w}]
    ldrsw x15, [x2, #{w}]
    ldr x6, [x2, #{x}]
    ldp x7, x8, [x2]
    ldr q0, [x2, #{q}]
    fmov x9, d0
    mov x10, v0.d[1]
    eor x23, x23, x3
    add x23, x23, x4, lsl #8
    eor x23, x23, x5, lsl #16
    add x23, x23, x15
    add x23, x23, x6
    eor x23, x23, x7
    eor x23, x23, x8, ror #13
    ror x23, x23, #59
    eor x23, x23, x9
    add x23, x23, x10
    add x11, x23, x21
    tbnz x21, #4, 3f                   // (a second block: the loop is a region early)
    strb w11, [x2, #{sb}]
    strh w11, [x2, #{sh}]
    str w11, [x2, #{sw}]
    str x11, [x2, #{sx}]
    stp x11, x23, [x2, #16]
3:  str q0, [x2, #{sq}]
    add x22, x22, x25
    and x22, x22, x26
    add x21, x21, #1
    cmp x21, x24
    b.ne 2b
    ldr x0, =l_loop
    mov x1, x23
    bl putval

    mov x0, x19                        // the whole buffer
    ldr x1, =(0x100000 + 64) / 8
    mov x23, #0
4:  ldr x2, [x0], #8
    ror x23, x23, #7
    add x23, x23, x2
    subs x1, x1, #1
    b.ne 4b
    ldr x0, =l_buf
    mov x1, x23
    bl putval
    b poweroff
    .ltorg
l_loop: .asciz "loop checksum "
l_buf:  .asciz "buffer checksum "
    .balign 4
"""
ALIGNED = {"mmu": "", "stride": 0xffd0, "mask": 0xffff0, "b": 1, "h": 2, "w": 4, "x": 8, "q": 0,
           "sb": 3, "sh": 6, "sw": 12, "sx": 24, "sq": 32}
UNALIGNED = {"mmu": "bl mmu_on", "stride": 4093, "mask": 0xfffff, "b": 0, "h": 1, "w": 3, "x": 5, "q": 7,
             "sb": 2, "sh": 9, "sw": 13, "sx": 21, "sq": 35}
CHECKSUM_MMU_OFF = program(CHECKSUM.format(**ALIGNED))
CHECKSUM_MMU_ON = program(CHECKSUM.format(**UNALIGNED), mmu=True)

# --- data aborts in a hot loop ----------------------------------------------------------------
# Loop 1 reads a doubleword and stores a running sum on page i >> 16 of DATA (851,968
# iterations on mapped pages first). Page 13 is invalid: the handler maps it and retries.
# Page 15 is read-only: the store's permission fault makes it writable (TLBI VAE1), retry.
# Page 17 is invalid: the handler skips the faulting instruction (4 iterations there).
# Loop 2 does the same on pages 24-31 with a post-indexed load and an unaligned store at
# offsets 4..0xffc, so 8-byte accesses cross pages: a store from page 29 into read-only page
# 30 faults (nothing of it may be written; then page 30 is made writable), a load from page 31
# into invalid page 32 faults and is skipped (its base register must not be written back;
# 4 times).
# Each abort prints the iteration, ESR, FAR and the saved x2 (address) and x4 (loaded value).
FAULTS = r"""
main:
    bl mmu_on
    ldr x0, =L3
    str xzr, [x0, #13 * 8]
    ldr x1, =(DATA + 15 * 4096 + PAGE_ATTRS + 0x80)   // AP[2]: read-only
    str x1, [x0, #15 * 8]
    str xzr, [x0, #17 * 8]
    ldr x1, =(DATA + 30 * 4096 + PAGE_ATTRS + 0x80)
    str x1, [x0, #30 * 8]
    str xzr, [x0, #32 * 8]
    dsb ishst
    tlbi vmalle1
    dsb ish
    isb
    mov x19, #0                        // i
    mov x23, #0                        // sum
    ldr x24, =(17 << 16) + 4
    ldr x25, =DATA
    mov x26, #0                        // aborts
1:  lsr x2, x19, #16
    and x3, x19, #0xff
    lsl x2, x2, #12
    add x2, x2, x3, lsl #3
    add x2, x2, x25
    ldr x4, [x2, #0x800]               // what the store wrote 256 iterations earlier
    add x23, x23, x4
    eor x23, x19, x23, ror #61
    tbz x19, #2, 2f
    add x23, x23, #1
2:  str x23, [x2, #0x800]
    add x19, x19, #1
    cmp x19, x24
    b.ne 1b
    ldr x0, =l_sum
    mov x1, x23
    bl putval

    mov x19, #0
    ldr x24, =(7 << 16) + 4 * 512
3:  lsr x2, x19, #16
    add x2, x2, #24
    and x3, x19, #0x1ff
    lsl x3, x3, #3
    add x3, x3, #4                     // 4..0xffc
    add x2, x25, x2, lsl #12
    add x2, x2, x3
    ldr x4, [x2], #8
    add x23, x23, x4
    eor x23, x19, x23, ror #61
    stur x23, [x2, #-8]
    add x19, x19, #1
    cmp x19, x24
    b.ne 3b
    ldr x0, =l_sum
    mov x1, x23
    bl putval

    ldr x0, =l_aborts
    mov x1, x26
    bl putval
    ldr x0, =l_page13
    ldr x1, =DATA + 13 * 4096 + 0xff8  // the last stores on pages 13, 15 and 31
    ldr x1, [x1]
    bl putval
    ldr x0, =l_page15
    ldr x1, =DATA + 15 * 4096 + 0xff8
    ldr x1, [x1]
    bl putval
    ldr x0, =l_page31
    ldr x1, =DATA + 31 * 4096 + 0xff8
    ldr x1, [x1]
    bl putval
    b poweroff

sync_handler:
    str x30, [sp, #-16]!
    add x26, x26, #1
    mrs x0, esr_el1
    lsr x1, x0, #26
    cmp x1, #0x25                      // data abort at the current EL
    b.ne unexpected
    ldr x0, =l_i
    mov x1, x19
    bl putval
    ldr x0, =l_esr
    mrs x1, esr_el1
    bl putval
    ldr x0, =l_far
    mrs x1, far_el1
    bl putval
    ldr x0, =l_x2
    ldr x1, [sp, #16 + 2 * 8]
    bl putval
    ldr x0, =l_x4
    ldr x1, [sp, #16 + 4 * 8]
    bl putval
    mrs x0, far_el1
    sub x0, x0, x25
    add x0, x0, #7                     // (FAR may be the address of the access or of its page)
    lsr x0, x0, #12                    // the page of DATA
    cmp x0, #30
    b.ne 2f
    ldr x0, =l_before
    ldr x1, =DATA + 30 * 4096 - 8
    ldr x1, [x1]
    bl putval
    mov x0, #30
2:  cmp x0, #17
    b.eq 3f
    cmp x0, #32
    b.eq 3f
    ldr x1, =L3
    add x2, x25, x0, lsl #12
    add x2, x2, #PAGE_ATTRS
    str x2, [x1, x0, lsl #3]           // map the page / make it writable
    dsb ishst
    lsr x2, x2, #12
    tlbi vae1, x2
    dsb ish
    isb
    b 4f
3:  mrs x0, elr_el1                    // pages 17 and 32: skip the access
    add x0, x0, #4
    msr elr_el1, x0
4:  ldr x30, [sp], #16
    ret
    .ltorg
l_sum:    .asciz "sum "
l_aborts: .asciz "aborts "
l_i:      .asciz "data abort at i "
l_esr:    .asciz "  ESR "
l_far:    .asciz "  FAR "
l_x2:     .asciz "  x2 "
l_x4:     .asciz "  x4 "
l_before: .asciz "  before page 30 "
l_page13: .asciz "last store on page 13 "
l_page15: .asciz "last store on page 15 "
l_page31: .asciz "last store on page 31 "
    .balign 4
"""

# --- remapping a page under a hot loop --------------------------------------------------------
# Virtual page V (in DATA) maps physical page P1, then P2, then P1 again (TLBI VAE1, then
# VMALLE1); the same loop reads V and increments a counter in it (1,000,000 times, then
# 200,000) and must see the page the tables map. Then a loop that swaps V's mapping itself
# every 4,096 iterations. Then V is a non-global page that maps P1 under ASID 1 and P2 under
# ASID 2 (two sets of tables), and the loop alternates between them by writing TTBR0 alone.
# Last, V's descriptor is made invalid (TLBI VAE1 with the ASID): the walk must fault, and the
# handler maps P2. Every 64th iteration of a walk also reads and counts in W = V + 4 MiB, whose
# entry in a direct-mapped TLB of 1024 pages is V's. Counters are read through the identity map.
REMAP = r"""
    .equ V, DATA + 0x80000
    .equ P1, DATA + 0x90000
    .equ P2, DATA + 0xa0000
    .equ L1B, 0x40304000
    .equ L2B, 0x40305000
    .equ L3B, 0x40306000
main:
    bl mmu_on
    ldr x0, =P1
    ldr x1, =P2
    mov x2, #0
1:  add x3, x2, #0x1000
    str x3, [x0, x2, lsl #3]
    add x3, x2, x2, lsl #1
    add x3, x3, #0x20000
    str x3, [x1, x2, lsl #3]
    add x2, x2, #1
    cmp x2, #512
    b.lo 1b
    ldr x0, =V + 0x400000              // W, identity-mapped by a 2 MiB block
    mov x2, #0
2:  add x3, x2, #0x7000
    str x3, [x0, x2, lsl #3]
    add x2, x2, #1
    cmp x2, #512
    b.lo 2b
    ldr x19, =V
    ldr x20, =P1 + PAGE_ATTRS
    ldr x21, =P2 + PAGE_ATTRS
    ldr x22, =L3 + ((V - DATA) >> 12) * 8    // V's descriptor

    str x20, [x22]
    dsb ishst
    lsr x0, x19, #12
    tlbi vae1, x0
    dsb ish
    isb
    ldr x3, =1000000                   // (long enough for the loop to go native)
    bl walk
    ldr x0, =l_p1
    bl putval

    str x21, [x22]                     // V -> P2, TLBI VAE1
    dsb ishst
    lsr x0, x19, #12
    tlbi vae1, x0
    dsb ish
    isb
    ldr x3, =200000
    bl walk
    ldr x0, =l_p2
    bl putval

    str x20, [x22]                     // V -> P1, TLBI VMALLE1
    dsb ishst
    tlbi vmalle1
    dsb ish
    isb
    ldr x3, =200000
    bl walk
    ldr x0, =l_p1
    bl putval

    mov x23, #0                        // the loop swaps the mapping itself
    mov x24, #0
    ldr x25, =600000
2:  tst x24, #0xfff
    b.ne 3f
    tst x24, #0x1000
    csel x0, x20, x21, eq
    str x0, [x22]
    dsb ishst
    lsr x0, x19, #12
    tlbi vae1, x0
    dsb ish
    isb
3:  and x0, x24, #0xff
    ldr x1, [x19, x0, lsl #3]
    add x23, x23, x1
    add x24, x24, #1
    cmp x24, x25
    b.ne 2b
    ldr x0, =l_swap
    mov x1, x23
    bl putval

    ldr x0, =L1                        // a second set of tables in which V maps P2
    ldr x1, =L1B
    mov x2, #(3 * 4096 / 8)
4:  ldr x3, [x0], #8
    str x3, [x1], #8
    subs x2, x2, #1
    b.ne 4b
    ldr x0, =L1B
    ldr x1, =L2B + 3
    str x1, [x0, #8]
    ldr x0, =L2B
    ldr x1, =L3B + 3
    str x1, [x0, #16]
    orr x0, x20, #0x800                // nG: V's translations belong to an ASID
    str x0, [x22]
    orr x0, x21, #0x800
    str x0, [x22, #(L3B - L3)]
    dsb ishst
    tlbi vmalle1
    dsb ish
    isb
    ldr x26, =L1 + (1 << 48)           // ASID 1: V -> P1
    ldr x27, =L1B + (2 << 48)          // ASID 2: V -> P2
    mov x28, #0
5:  tst x28, #1
    csel x0, x26, x27, eq
    msr ttbr0_el1, x0                  // no TLBI: the ASID tells the translations apart
    isb
    ldr x3, =100000
    bl walk
    ldr x0, =l_asid
    bl putval
    add x28, x28, #1
    cmp x28, #4
    b.ne 5b

    msr ttbr0_el1, x26                 // ASID 1; V loses its mapping: the walk faults, the
    isb                                // handler maps P2 (which must be used from then on)
    str xzr, [x22]
    dsb ishst
    ldr x0, =(V >> 12) + (1 << 48)
    tlbi vae1, x0
    dsb ish
    isb
    ldr x3, =100000
    bl walk
    ldr x0, =l_p2
    bl putval

    ldr x0, =l_c1
    ldr x1, =P1 + 0x800
    ldr x1, [x1]
    bl putval
    ldr x0, =l_c2
    ldr x1, =P2 + 0x800
    ldr x1, [x1]
    bl putval
    ldr x0, =l_cw
    ldr x1, =V + 0x400800
    ldr x1, [x1]
    bl putval
    b poweroff

sync_handler:
    str x30, [sp, #-16]!
    mrs x0, esr_el1
    lsr x1, x0, #26
    cmp x1, #0x25                      // data abort at the current EL
    b.ne unexpected
    ldr x0, =l_abort
    ldr x1, [sp, #16 + 2 * 8]          // the walk's iteration
    bl putval
    ldr x0, =l_esr
    mrs x1, esr_el1
    bl putval
    ldr x0, =l_far
    mrs x1, far_el1
    bl putval
    orr x0, x21, #0x800
    str x0, [x22]                      // V -> P2 (non-global)
    dsb ishst
    ldr x0, =(V >> 12) + (1 << 48)
    tlbi vae1, x0
    dsb ish
    isb
    ldr x30, [sp], #16
    ret

walk:                                  // x1 = sum of x3 reads of V (and some of W); counters
    mov x1, #0
    mov x2, #0
    add x9, x19, #0x400, lsl #12      // W = V + 4 MiB (the same slot of a 1024-entry TLB)
1:  and x4, x2, #0xff
    ldr x5, [x19, x4, lsl #3]
    add x1, x1, x5
    tbz x2, #3, 2f
    ldr x6, [x19, #0x800]
    add x6, x6, #1
    str x6, [x19, #0x800]
2:  tst x2, #0x3f
    b.ne 3f
    ldr x7, [x9, x4, lsl #3]           // W every 64th iteration
    add x1, x1, x7, lsl #1
    ldr x6, [x9, #0x800]
    add x6, x6, #1
    str x6, [x9, #0x800]
3:  add x1, x1, x2
    add x2, x2, #1
    cmp x2, x3
    b.ne 1b
    ret
    .ltorg
l_p1:   .asciz "sum through V -> P1 "
l_p2:   .asciz "sum through V -> P2 "
l_swap: .asciz "sum while the loop swaps V "
l_asid: .asciz "sum through V after switching ASID "
l_c1:   .asciz "P1 counter "
l_c2:   .asciz "P2 counter "
l_cw:   .asciz "W counter "
l_abort: .asciz "data abort in the walk at "
l_esr:  .asciz "  ESR "
l_far:  .asciz "  FAR "
    .balign 4
"""

# --- turning the MMU on and off under a hot loop ----------------------------------------------
# V maps P2 in the tables; the same loop (300,000 reads of V) runs with the MMU off (V is a
# physical address), on, off, on, off. SCTLR_EL1.M is toggled with an ISB and no TLB
# maintenance: with the MMU off there are no translations to cache, so each switch must take
# effect at once (V holds 0x11, P2 0x2200).
MMU_TOGGLE = r"""
    .equ V, DATA + 0x80000
    .equ P2, DATA + 0xa0000
main:
    bl mmu_on
    ldr x0, =V
    mov x1, #0x11
    str x1, [x0]
    ldr x0, =P2
    mov x1, #0x2200
    str x1, [x0]
    ldr x22, =L3 + ((V - DATA) >> 12) * 8
    ldr x0, =P2 + PAGE_ATTRS
    str x0, [x22]
    dsb ishst
    tlbi vmalle1
    dsb ish
    isb
    ldr x19, =V
    mov x26, #5
1:  mrs x0, sctlr_el1
    eor x0, x0, #1                     // toggle SCTLR_EL1.M
    msr sctlr_el1, x0
    isb
    mov x1, #0
    mov x2, #0
    ldr x3, =300000
2:  ldr x5, [x19]
    add x1, x1, x5
    add x2, x2, #1
    cmp x2, x3
    b.ne 2b
    ldr x0, =l_sum
    bl putval
    subs x26, x26, #1
    b.ne 1b
    b poweroff
    .ltorg
l_sum: .asciz "sum through V "
    .balign 4
"""

# --- the same hot loop at EL0 and EL1 ---------------------------------------------------------
# DATA pages 0-7 are EL0 read/write, pages 8 and 9 EL1-only. The loop (on pages i >> 16, so
# 524,288 iterations before page 8) runs at EL0: its access to page 8 is a permission fault
# taken to EL1, whose handler opens the page to EL0 (TLBI VAE1) and retries; an SVC ends it.
# Then the same code runs at EL1 (other translations, another MMU index). Then EL1 takes page 3
# away from EL0 again (TLBI VAE1) and the loop runs at EL0 one page further on, in code that is
# hot at EL0 by then: page 3, then page 9 must fault.
EL0 = r"""
main:
    bl mmu_on
    ldr x0, =L3
    ldr x1, =DATA + PAGE_ATTRS + 0x40  // AP[1]: EL0 read/write
    mov x2, #0
1:  add x3, x1, x2, lsl #12
    str x3, [x0, x2, lsl #3]
    add x2, x2, #1
    cmp x2, #8
    b.lo 1b
    dsb ishst
    tlbi vmalle1
    dsb ish
    isb
    mov x26, #0                        // aborts
    mov x27, #0                        // 0: the loop ends with SVC, 1: with RET
    mov x19, #0
    mov x23, #0
    ldr x24, =(8 << 16) + 1024
    ldr x25, =DATA
    adr x28, 2f
    b to_el0
2:  ldr x0, =l_el0
    mov x1, x23
    bl putval

    mov x27, #1
    mov x19, #0
    mov x23, #0
    bl loop
    ldr x0, =l_el1
    mov x1, x23
    bl putval

    ldr x0, =L3                        // take page 3 away from EL0 again
    ldr x1, [x0, #3 * 8]
    bic x1, x1, #0x40
    str x1, [x0, #3 * 8]
    dsb ishst
    ldr x0, =(DATA + 3 * 4096) >> 12
    tlbi vae1, x0
    dsb ish
    isb
    mov x27, #0
    mov x19, #0
    mov x23, #0
    ldr x25, =DATA + 4096
    adr x28, 3f
    b to_el0
3:  ldr x0, =l_el0
    mov x1, x23
    bl putval
    ldr x0, =l_aborts
    mov x1, x26
    bl putval
    b poweroff

to_el0:                                // run loop at EL0; the SVC continues at x28 (at EL1)
    adr x0, loop
    msr elr_el1, x0
    msr spsr_el1, xzr                  // EL0t
    eret

loop:
1:  lsr x2, x19, #16
    and x3, x19, #0xff
    add x2, x25, x2, lsl #12
    ldr x4, [x2, x3, lsl #3]
    add x23, x23, x4
    eor x23, x19, x23, ror #61
    tbz x19, #3, 2f
    str x23, [x2, x3, lsl #3]
2:  add x19, x19, #1
    cmp x19, x24
    b.ne 1b
    cbnz x27, 3f
    svc #0
3:  ret

lower_sync_handler:
    str x30, [sp, #-16]!
    mrs x0, esr_el1
    lsr x1, x0, #26
    cmp x1, #0x15                      // SVC from EL0: the loop is done
    b.eq 5f
    cmp x1, #0x24                      // data abort from EL0
    b.ne unexpected
    add x26, x26, #1
    ldr x0, =l_i
    mov x1, x19
    bl putval
    ldr x0, =l_esr
    mrs x1, esr_el1
    bl putval
    ldr x0, =l_far
    mrs x1, far_el1
    bl putval
    mrs x0, far_el1
    lsr x0, x0, #12
    ldr x1, =DATA >> 12
    sub x0, x0, x1
    ldr x1, =L3
    ldr x2, [x1, x0, lsl #3]
    orr x2, x2, #0x40                  // open the page to EL0
    str x2, [x1, x0, lsl #3]
    dsb ishst
    mrs x0, far_el1
    lsr x0, x0, #12
    tlbi vae1, x0
    dsb ish
    isb
    ldr x30, [sp], #16
    ret
5:  add sp, sp, #(16 + 160)            // drop this handler's frames
    br x28
    .ltorg
l_el0:    .asciz "sum at EL0 "
l_el1:    .asciz "sum at EL1 "
l_aborts: .asciz "aborts "
l_i:      .asciz "permission fault at EL0 at i "
l_esr:    .asciz "  ESR "
l_far:    .asciz "  FAR "
    .balign 4
"""

# --- self-modifying code ----------------------------------------------------------------------
# The outer loop (4 times) rewrites the immediate of ADD instructions in a function that the
# inner loop (524,288 iterations, long enough to go native) calls and in the inner loop
# itself, with DC CVAU, IC IVAU and the barriers; the sums show which version of each ran.
# In smc-cross-page, the inner loop's straight-line code after the call starts 8 bytes before
# a page boundary and the ADD it patches is the first instruction of the next page.
SMC = r"""
main:
    {mmu}
    b smc
    .balign 4096
smc:
    mov x19, #0                        // k
    mov x0, #0
    mov x21, #0
    mov x22, #0
1:  add w1, w19, #1
    mov w2, #0x91000000                // ADD (immediate), 64-bit
    orr w1, w2, w1, lsl #10
    ldr x3, =site_fn
    str w1, [x3]                       // add x0, x0, #(k + 1)
    dc cvau, x3
    add w4, w19, #3
    orr w4, w2, w4, lsl #10
    mov w5, #(21 << 5 | 21)
    orr w4, w4, w5
    ldr x5, =site_loop
    str w4, [x5]                       // add x21, x21, #(k + 3)
    dc cvau, x5
    dsb ish
    ic ivau, x3
    ic ivau, x5
    dsb ish
    isb
    mov x20, #(1 << {shift})
    b 2f
3:  add x19, x19, #1
    cmp x19, #4
    b.ne 1b
    mov x19, x0
    ldr x0, =l_fn
    mov x1, x19
    bl putval
    ldr x0, =l_loop
    mov x1, x21
    bl putval
    ldr x0, =l_mix
    mov x1, x22
    bl putval
    mov x0, x19
    ldr x1, =(1 << {shift}) * 4 * 5 / 2
    ldr x2, =l_check
    bl check
    b poweroff
    .ltorg
l_fn:    .asciz "sum of the patched function "
l_loop:  .asciz "sum of the patched loop "
l_mix:   .asciz "mix "
l_check: .asciz "every version of the function ran"

    .balign 4
    {org}
2:  bl site_fn
    eor x22, x22, x0
    eor x22, x22, x21, ror #3
site_loop:
    add x21, x21, #0
    subs x20, x20, #1
    b.ne 2b
    b 3b
site_fn:
    add x0, x0, #0
    ret
    .balign 4096
"""
SMC_MMU_OFF = program(SMC.format(mmu="", shift=19, org=""))
SMC_MMU_ON = program(SMC.format(mmu="bl mmu_on", shift=19, org=""), mmu=True)
# (Regions stay on one page: this loop runs on the Python tier unless forced.)
SMC_CROSS_PAGE = program(SMC.format(mmu="bl mmu_on", shift=17, org=".org smc + 4096 - 12"), mmu=True)

# --- a hot loop that stores to another page's code --------------------------------------------
# Every iteration adds to a doubleword on page F, which holds a function; every 4,096th
# iteration the loop also rewrites the function's ADD immediate (with the cache maintenance)
# and calls it. Once F has translated code again, the loop's next store to F must invalidate
# it (native code keeps no write entry for a code page), so each call runs the new ADD.
CODEGEN = r"""
main:
    {mmu}
    ldr x20, =fpage
    mov x19, #0
    mov x0, #0
    ldr x24, =1000000
    mov w22, #0x91000000               // ADD (immediate), 64-bit
1:  ldr x1, [x20, #0x800]              // data on the function's page
    add x1, x1, x19
    str x1, [x20, #0x800]
    tst x19, #0xfff
    b.ne 2f
    lsr x2, x19, #12
    add x2, x2, #1
    orr w3, w22, w2, lsl #10           // add x0, x0, #(i / 4096 + 1)
    str w3, [x20]
    dc cvau, x20
    dsb ish
    ic ivau, x20
    dsb ish
    isb
    blr x20
2:  add x19, x19, #1
    cmp x19, x24
    b.ne 1b
    mov x19, x0
    ldr x0, =l_fn
    mov x1, x19
    bl putval
    ldr x0, =l_data
    ldr x1, [x20, #0x800]
    bl putval
    mov x0, x19
    ldr x1, =245 * 246 / 2
    ldr x2, =l_check
    bl check
    b poweroff
    .ltorg
l_fn:    .asciz "sum of the function "
l_data:  .asciz "data on its page "
l_check: .asciz "every version of the function ran"
    .balign 4096
fpage:
    add x0, x0, #0
    ret
    .balign 4096
"""

# --- flags, system registers, FP/SIMD, DC ZVA in a hot loop ---------------------------------
# 100,000 iterations with the MMU on: carry chains, CCMP/CSEL on flags, NZCV through MRS/MSR,
# TPIDR_EL0 writes and reads, division, CLZ/RBIT/REV, UMULH/SMULH, CRC32, NEON lanes; every
# 8th iteration also DC ZVA on a 64-byte block of DATA that the loop reads, TPIDR_EL1, scalar
# double arithmetic and NEON MUL/ADDV (instructions that leave native code).
MISC = r"""
    .arch armv8-a+crc
main:
    bl mmu_on
    mrs x0, dczid_el0
    mov x1, x0
    ldr x0, =l_dczid
    bl putval
    ldr x19, =DATA
    mov x20, #0                        // i
    mov x21, #0                        // flags accumulator
    mov x22, #0                        // integer accumulator
    mov x23, #0                        // FP accumulator (bits)
    mov x24, #0                        // SIMD accumulator
    ldr x25, =0x9e3779b97f4a7c15
    ldr x26, =100000
    fmov d2, #1.5
    movi v3.4s, #3
    movi v4.4s, #0
1:  eor x0, x25, x20, ror #17          // an operand that changes
    adds x1, x0, x25
    adcs x2, x1, x20
    sbcs x3, x2, x0
    ccmp x3, x20, #4, hi
    csel x4, x1, x2, ge
    csinc x5, x3, x4, vs
    mrs x6, nzcv
    eor x21, x21, x6, lsr #28
    add x21, x21, x4
    eor x21, x21, x5, ror #9
    lsl x7, x20, #28
    msr nzcv, x7                       // flags from a register
    cinc x21, x21, mi
    cset x8, cs
    add x21, x21, x8, lsl #3
    msr tpidr_el0, x1
    mrs x8, tpidr_el0
    add x22, x22, x8
    orr x10, x20, #1
    udiv x11, x0, x10
    sdiv x12, x0, x10
    add x22, x22, x11
    eor x22, x22, x12
    clz x13, x0
    rbit x14, x0
    rev x15, x1
    add x22, x22, x13
    eor x22, x22, x14, ror #5
    add x22, x22, x15
    umulh x13, x0, x25
    smulh x14, x0, x25
    eor x22, x22, x13
    add x22, x22, x14
    crc32cx w15, w22, x0
    add x22, x22, x15
    dup v0.2d, x0                      // SIMD
    add v4.4s, v4.4s, v0.4s
    eor v4.16b, v4.16b, v0.16b
    and x2, x20, #0xffc0               // DC ZVA on the block at DATA + (i & 0xffc0)
    add x2, x19, x2
    tst x20, #7
    b.ne 2f
    dc zva, x2
    msr tpidr_el1, x21
    mrs x9, tpidr_el1
    eor x22, x22, x9
    scvtf d0, x20                      // FP
    fmul d1, d0, d2
    fadd d1, d1, d0
    fsqrt d5, d1
    fcvtzs x16, d5
    fmov x17, d1
    add x23, x23, x16
    eor x23, x23, x17
    mul v5.4s, v0.4s, v3.4s
    eor v4.16b, v4.16b, v5.16b
    addv s6, v4.4s
    fmov w16, s6
    add x24, x24, x16
2:  ldr x3, [x2, #8]
    add x3, x3, x20
    str x3, [x2, #8]
    add x20, x20, #1
    cmp x20, x26
    b.ne 1b
    ldr x0, =l_flags
    mov x1, x21
    bl putval
    ldr x0, =l_int
    mov x1, x22
    bl putval
    ldr x0, =l_fp
    mov x1, x23
    bl putval
    ldr x0, =l_simd
    mov x1, x24
    bl putval
    mov x20, #0                        // the blocks DC ZVA left
    mov x21, #0
3:  ldr x0, [x19, x20, lsl #3]
    ror x21, x21, #3
    add x21, x21, x0
    add x20, x20, #1
    cmp x20, #0x2000
    b.ne 3b
    ldr x0, =l_mem
    mov x1, x21
    bl putval
    b poweroff
    .ltorg
l_dczid: .asciz "DCZID_EL0 "
l_flags: .asciz "flags "
l_int:   .asciz "integer "
l_fp:    .asciz "FP "
l_simd:  .asciz "SIMD "
l_mem:   .asciz "memory "
    .balign 4
"""

# --- two vCPUs: a broadcast TLBI reaches the other one's hot loop ----------------------------
# vCPU 1 (started with PSCI CPU_ON) waits in a hot loop that reads V and a flag until the flag
# is k, then adds what it read from V and acknowledges k. vCPU 0, 50 times: maps V to P2
# (k odd) or P1 (k even), TLBI VAE1IS, DSB ISH, sets the flag to k and waits in a hot loop for
# the acknowledgement. vCPU 1 must have read the page mapped at that time (P1 holds 1, P2
# 0x10000): the sum shows what it saw.
SMP = r"""
    .equ V, DATA + 0x80000
    .equ P1, DATA + 0x90000
    .equ P2, DATA + 0xa0000
    .equ FLAG, 0x40200000
    .equ ACK, 0x40200040
    .equ SUM, 0x40200080
    .equ ROUNDS, 50
main:
    bl mmu_on
    ldr x0, =FLAG
    str xzr, [x0]
    str xzr, [x0, #ACK - FLAG]
    str xzr, [x0, #SUM - FLAG]
    ldr x0, =P1
    mov x1, #1
    str x1, [x0]
    ldr x0, =P2
    mov x1, #0x10000
    str x1, [x0]
    ldr x19, =V
    ldr x20, =P1 + PAGE_ATTRS
    ldr x21, =P2 + PAGE_ATTRS
    ldr x22, =L3 + ((V - DATA) >> 12) * 8
    str x20, [x22]
    dsb ishst
    tlbi vmalle1is
    dsb ish
    isb
    ldr x0, =0xc4000003                // PSCI CPU_ON: MPIDR 1, entry, context
    mov x1, #1
    ldr x2, =secondary
    mov x3, #0
    hvc #0
    mov x1, x0
    ldr x0, =l_on
    bl putval
    mov x23, #1                        // k
1:  tst x23, #1
    csel x0, x21, x20, ne
    str x0, [x22]
    dsb ishst
    lsr x0, x19, #12
    tlbi vae1is, x0
    dsb ish
    isb
    ldr x0, =FLAG
    stlr x23, [x0]
    ldr x0, =ACK
    mov x1, x23
    bl wait_eq
    add x23, x23, #1
    cmp x23, #ROUNDS + 1
    b.ne 1b
    ldr x0, =l_sum
    ldr x1, =SUM
    ldr x1, [x1]
    bl putval
    ldr x0, =SUM
    ldr x0, [x0]
    ldr x1, =(ROUNDS / 2) * 0x10001
    ldr x2, =l_check
    bl check
    b poweroff

wait_eq:                               // wait until [x0] == x1 (load-acquire)
1:  ldar x2, [x0]
    cmp x2, x1
    b.ne 1b
    ret

secondary:
    ldr x0, =stack2_top
    mov sp, x0
    ldr x0, =vectors
    msr vbar_el1, x0
    mov x0, #(3 << 20)
    msr cpacr_el1, x0
    bl mmu_enable
    ldr x19, =V
    ldr x20, =FLAG
    mov x23, #1
    mov x24, #0
2:  ldar x1, [x20]                     // wait for the flag, reading V each time
    ldr x0, [x19]
    cmp x1, x23
    b.ne 2b
    add x24, x24, x0
    ldr x0, =SUM
    str x24, [x0]
    ldr x0, =ACK
    stlr x23, [x0]
    add x23, x23, #1
    cmp x23, #ROUNDS + 1
    b.ne 2b
3:  wfi
    b 3b
    .ltorg
l_on:    .asciz "CPU_ON returned "
l_sum:   .asciz "what vCPU 1 read through V "
l_check: .asciz "vCPU 1 read the page of each round's mapping"
    .balign 16
    .skip 4096
stack2_top:
"""

# --- MMIO in hot loops ------------------------------------------------------------------------
# A loop of 512,000 iterations (an LCG) prints a letter through putc (which polls UARTFR)
# every 256th, 2,000 in all, with the MMU off and again with it on (the UART in a Device
# block); then 20,000 reads of the PL011 and GIC ID registers summed. Last, a loop stores
# letters to page V 300,000 times, then V is remapped to the PL011 (TLBI VAE1) and the same
# loop's 52 stores must reach UARTDR.
MMIO = r"""
    .equ V, DATA + 0x80000
main:
    bl chars
    bl mmu_on
    bl chars
    mov x19, #0
    mov x20, #0
    ldr x21, =0x09000fe0               // PL011 PeriphID0..3, CellID0..3
    ldr x22, =0x08000004               // GICD_TYPER
    ldr x23, =20000
1:  and x0, x19, #7
    ldr w1, [x21, x0, lsl #2]
    eor x20, x1, x20, ror #5
    ldr w1, [x22]
    eor x20, x20, x1
    add x19, x19, #1
    cmp x19, x23
    b.ne 1b
    ldr x0, =l_ids
    mov x1, x20
    bl putval

    ldr x19, =V                        // V: a RAM page, then the UART's
    ldr x20, =300000
    bl letters
    ldr x0, =l_ram
    ldr x1, [x19]
    bl putval
    ldr x0, =L3 + ((V - DATA) >> 12) * 8
    ldr x1, =0x09000403                // the PL011 page: AF, AttrIndx 0 (Device-nGnRnE), page
    str x1, [x0]
    dsb ishst
    lsr x0, x19, #12
    tlbi vae1, x0
    dsb ish
    isb
    mov x20, #52
    bl letters
    mov x0, #'\n'
    bl putc
    b poweroff

letters:                               // x20 stores of 'a' + i % 26 to [V] (UARTDR)
    mov x1, #0
    mov x2, #26
1:  udiv x3, x1, x2
    msub x3, x3, x2, x1
    add x3, x3, #'a'
    str w3, [x19]
    add x1, x1, #1
    cmp x1, x20
    b.ne 1b
    ret

chars:                                 // 40 lines of 50 letters, one every 256 iterations
    mov x25, x30
    mov x19, #0                        // iterations
    mov x20, #0                        // letters
    ldr x21, =0x2545f4914f6cdd1d       // LCG state
    ldr x22, =6364136223846793005
    ldr x23, =1442695040888963407
    ldr x24, =2000 * 256
2:  madd x21, x21, x22, x23
    tst x19, #0xff
    b.ne 3f
    lsr x0, x21, #33
    mov x1, #26
    udiv x2, x0, x1
    msub x0, x2, x1, x0
    add x0, x0, #'a'
    bl putc
    add x20, x20, #1
    mov x1, #50
    udiv x0, x20, x1
    msub x0, x0, x1, x20
    cbnz x0, 3f
    mov x0, #'\n'
    bl putc
3:  add x19, x19, #1
    cmp x19, x24
    b.ne 2b
    mov x30, x25
    ret
    .ltorg
l_ids: .asciz "ID registers "
l_ram: .asciz "last letter in RAM "
    .balign 4
"""

# --- a periodic timer interrupt in a hot loop -------------------------------------------------
# The virtual timer fires every 0.5 ms (the handler re-arms it) while loops of fixed length
# run: 1,000,000 iterations on registers and a stack buffer, then 300,000 atomic adds with
# LDXR/STXR (an interrupt in between makes the STXR fail and the add retry). Their results
# must not depend on where the interrupts came. The handler counts the interrupts whose ELR
# is in the loops; they run again from the start until a run other than the first (when the
# loops are hot) saw two. In timer-el0 they run at EL0 (interrupts from EL0, an SVC ends
# them). Then, at EL1, a hot loop that waits for the next interrupt in WFI every 1,024 steps.
TIMER = r"""
    .equ GICD, 0x08000000
    .equ GICC, 0x08010000
    .equ PERIOD, 31250
    .equ in_loop, 0x40200000           // (not on a code page: stores there would flush the loop)
    .equ counter, 0x40200008
main:
    {mmu}
    ldr x1, =GICD
    mov w2, #1
    str w2, [x1]                       // GICD_CTLR: enable
    mov w2, #(1 << 27)
    str w2, [x1, #0x100]               // GICD_ISENABLER0: PPI 27, the virtual timer
    ldr x1, =GICC
    mov w2, #0xff
    str w2, [x1, #4]                   // GICC_PMR
    mov w2, #1
    str w2, [x1]                       // GICC_CTLR
    ldr x0, =PERIOD
    msr cntv_tval_el0, x0
    mov x0, #1
    msr cntv_ctl_el0, x0
    msr daifclr, #2
    sub sp, sp, #256
    mov x24, #0                        // runs of the loop
    {to_el0}
again:                                 // the loop from the start, until a run (not the first) saw
    ldr x0, =in_loop                   // two interrupts in it
    str xzr, [x0]
    mov x0, #0
0:  str xzr, [sp, x0, lsl #3]
    add x0, x0, #1
    cmp x0, #32
    b.ne 0b
    mov x19, #0
    mov x20, #0
    mov x21, #1
    ldr x22, =1000000
loop_start:
    add x20, x20, x19
    eor x21, x21, x20, ror #7
    and x0, x19, #31
    ldr x1, [sp, x0, lsl #3]
    add x1, x1, x21
    str x1, [sp, x0, lsl #3]
    add x19, x19, #1
    cmp x19, x22
    b.ne loop_start
    ldr x5, =counter                   // an atomic add (exclusives) in a loop: an interrupt
    str xzr, [x5]                      // between LDXR and STXR makes the STXR fail
    mov x19, #0
    ldr x22, =300000
loop_x:
    ldxr x6, [x5]
    add x6, x6, x19
    stxr w7, x6, [x5]
    cbnz w7, loop_x
    add x19, x19, #1
    cmp x19, x22
    b.ne loop_x
loop_end:
    add x24, x24, #1
    cmp x24, #2
    b.lo again
    ldr x0, =in_loop
    ldr x0, [x0]
    cmp x0, #2
    b.lo again
    {to_el1}
    msr daifclr, #2                    // a hot loop that sleeps in WFI every 1,024 iterations
    mov x19, #0
    mov x25, #0
5:  add x25, x25, x19
    eor x25, x25, x25, lsr #7
    tst x19, #0x3ff
    b.ne 6f
    wfi
6:  add x19, x19, #1
    cmp x19, #(64 * 1024)
    b.ne 5b
    msr daifset, #2
    mov x0, #0
    msr cntv_ctl_el0, x0
    mov x23, #0
    mov x0, #0
1:  ldr x1, [sp, x0, lsl #3]
    ror x23, x23, #11
    add x23, x23, x1
    add x0, x0, #1
    cmp x0, #32
    b.ne 1b
    add sp, sp, #256
    ldr x0, =l_sum
    mov x1, x20
    bl putval
    ldr x0, =l_mix
    mov x1, x21
    bl putval
    ldr x0, =l_buf
    mov x1, x23
    bl putval
    ldr x0, =l_counter
    ldr x1, =counter
    ldr x1, [x1]
    bl putval
    ldr x0, =l_wfi
    mov x1, x25
    bl putval
    ldr x0, =in_loop
    ldr x0, [x0]
    cmp x0, #2
    cset x0, hs
    mov x1, #1
    ldr x2, =l_irq
    bl check
    b poweroff

irq_handler:
    ldr x1, =GICC
    ldr w2, [x1, #0x0c]                // GICC_IAR
    ldr x0, =PERIOD
    msr cntv_tval_el0, x0
    str w2, [x1, #0x10]                // GICC_EOIR
    mrs x0, elr_el1
    ldr x1, =loop_start
    ldr x2, =loop_end
    cmp x0, x1
    ccmp x0, x2, #2, hs                // loop_start <= ELR < loop_end
    b.hs 2f
    ldr x0, =in_loop
    ldr x1, [x0]
    add x1, x1, #1
    str x1, [x0]
2:  ret
    .ltorg
l_sum: .asciz "sum "
l_mix: .asciz "mix "
l_buf: .asciz "buffer "
l_counter: .asciz "counter "
l_wfi: .asciz "WFI loop "
l_irq: .asciz "timer interrupts came in the loop"
    .balign 4
"""
TO_EL0 = r"""
    mov x0, sp                         // the loops run at EL0 on the same stack
    msr sp_el0, x0
    adr x0, again
    msr elr_el1, x0
    msr spsr_el1, xzr                  // EL0t, interrupts unmasked
    eret
"""
TO_EL1 = r"""
    svc #0
el1:
"""
BACK_TO_EL1 = r"""
lower_sync_handler:
    mrs x0, esr_el1
    lsr x0, x0, #26
    cmp x0, #0x15
    b.ne unexpected
    add sp, sp, #160                   // the SVC from EL0: drop the frame, go on at EL1
    b el1
"""
TIMER_MMU_OFF = program(TIMER.format(mmu="", to_el0="", to_el1=""), irq=True)
TIMER_MMU_ON = program(TIMER.format(mmu="bl mmu_on", to_el0="", to_el1=""), irq=True, mmu=True)
TIMER_EL0 = program(TIMER.format(mmu="", to_el0=TO_EL0, to_el1=TO_EL1) + BACK_TO_EL1, irq=True, lower=True)

PROGRAMS = {
    "checksum-mmu-off": CHECKSUM_MMU_OFF,
    "checksum-mmu-on": CHECKSUM_MMU_ON,
    "faults": program(FAULTS, sync=True, mmu=True),
    "mmu-toggle": program(MMU_TOGGLE, mmu=True),
    "el0": program(EL0, lower=True, mmu=True),
    "remap": program(REMAP, sync=True, mmu=True),
    "smc-mmu-off": SMC_MMU_OFF,
    "smc-mmu-on": SMC_MMU_ON,
    "smc-cross-page": SMC_CROSS_PAGE,
    "codegen-mmu-off": program(CODEGEN.format(mmu="")),
    "codegen-mmu-on": program(CODEGEN.format(mmu="bl mmu_on"), mmu=True),
    "misc": program(MISC, mmu=True),
    "smp": program(SMP, mmu=True),
    "mmio": program(MMIO, mmu=True),
    "timer-mmu-off": TIMER_MMU_OFF,
    "timer-mmu-on": TIMER_MMU_ON,
    "timer-el0": TIMER_EL0,
}
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
    res = _run(qemu, _elf(PROGRAMS[name]), *OPTIONS.get(name, ()))
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
    res = _run(exe, _elf(PROGRAMS[name]), *OPTIONS.get(name, ()), *extra, env=full)
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
