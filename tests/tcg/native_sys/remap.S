// remapping a page under a hot loop
//
// Virtual page V (in DATA) maps physical page P1, then P2, then P1 again (TLBI VAE1, then
// VMALLE1); the same loop reads V and increments a counter in it (1,000,000 times, then
// 200,000) and must see the page the tables map. Then a loop that swaps V's mapping itself
// every 4,096 iterations. Then V is a non-global page that maps P1 under ASID 1 and P2 under
// ASID 2 (two sets of tables), and the loop alternates between them by writing TTBR0 alone.
// Last, V's descriptor is made invalid (TLBI VAE1 with the ASID): the walk must fault, and the
// handler maps P2. Every 64th iteration of a walk also reads and counts in W = V + 4 MiB, whose
// entry in a direct-mapped TLB of 1024 pages is V's. Counters are read through the identity map.
    .equ MMU, 1                        // with mmu_on (support.S)
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
