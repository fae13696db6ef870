// the same hot loop at EL0 and EL1
//
// DATA pages 0-7 are EL0 read/write, pages 8 and 9 EL1-only. The loop (on pages i >> 16, so
// 524,288 iterations before page 8) runs at EL0: its access to page 8 is a permission fault
// taken to EL1, whose handler opens the page to EL0 (TLBI VAE1) and retries; an SVC ends it.
// Then the same code runs at EL1 (other translations, another MMU index). Then EL1 takes page 3
// away from EL0 again (TLBI VAE1) and the loop runs at EL0 one page further on, in code that is
// hot at EL0 by then: page 3, then page 9 must fault.
    .equ MMU, 1                        // with mmu_on (support.S)
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
