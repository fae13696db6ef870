// a periodic timer interrupt in a hot loop
//
// The virtual timer fires every 0.5 ms (the handler re-arms it) while loops of fixed length
// run: 1,000,000 iterations on registers and a stack buffer, then 300,000 atomic adds with
// LDXR/STXR (an interrupt in between makes the STXR fail and the add retry). Their results
// must not depend on where the interrupts came. The handler counts the interrupts whose ELR
// is in the loops; they run again from the start until a run other than the first (when the
// loops are hot) saw two. In timer-el0 they run at EL0 (interrupts from EL0, an SVC ends
// them). Then, at EL1, a hot loop that waits for the next interrupt in WFI every 1,024 steps.
// The harness defines MMU for timer-mmu-on, EL0 for timer-el0.
    .equ GICD, 0x08000000
    .equ GICC, 0x08010000
    .equ PERIOD, 31250
    .equ in_loop, 0x40200000           // (not on a code page: stores there would flush the loop)
    .equ counter, 0x40200008
main:
    .ifdef MMU
    bl mmu_on
    .endif
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
    .ifdef EL0
    mov x0, sp                         // the loops run at EL0 on the same stack
    msr sp_el0, x0
    adr x0, again
    msr elr_el1, x0
    msr spsr_el1, xzr                  // EL0t, interrupts unmasked
    eret
    .endif
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
    .ifdef EL0
    svc #0
el1:
    .endif
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
    .ifdef EL0
lower_sync_handler:
    mrs x0, esr_el1
    lsr x0, x0, #26
    cmp x0, #0x15
    b.ne unexpected
    add sp, sp, #160                   // the SVC from EL0: drop the frame, go on at EL1
    b el1
    .endif
