// turning the MMU on and off under a hot loop
//
// V maps P2 in the tables; the same loop (300,000 reads of V) runs with the MMU off (V is a
// physical address), on, off, on, off. SCTLR_EL1.M is toggled with an ISB and no TLB
// maintenance: with the MMU off there are no translations to cache, so each switch must take
// effect at once (V holds 0x11, P2 0x2200).
    .equ MMU, 1                        // with mmu_on (support.S)
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
