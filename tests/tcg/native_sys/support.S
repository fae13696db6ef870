// Shared routines, after the program: default handlers, mmu_on / mmu_enable (when the program
// defines MMU), puthex and putval. Then come putc, puts, check and poweroff
// (test_virt_baremetal.py's LIB) and the stack.

// Handlers the program does not define: an unexpected exception.
    .ifndef sync_handler
sync_handler:
    b unexpected
    .endif
    .ifndef lower_sync_handler
lower_sync_handler:
    b unexpected
    .endif
    .ifndef irq_handler
irq_handler:
    b unexpected
    .endif

// Identity-mapped translation tables (4 KiB granule, 39-bit VA, start at level 1), built by
// mmu_on: 0-1 GiB one Device-nGnRnE block (the UART, the GIC), RAM 0x40000000-0x47ffffff
// 2 MiB Normal blocks except 0x40400000-0x405fffff (DATA), mapped by the level 3 table L3 in
// 4 KiB pages; mmu_enable only turns the MMU on with them. Clobbers x0-x5.
    .ifdef MMU
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
    .endif

// puthex (x0: 16 hex digits) and putval (x0 = label, x1 = value: "label value\n"). Helpers
// clobber x0-x18; the programs keep their state in x19-x28.
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
