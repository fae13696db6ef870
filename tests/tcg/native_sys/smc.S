// self-modifying code
//
// The outer loop (4 times) rewrites the immediate of ADD instructions in a function that the
// inner loop (524,288 iterations, long enough to go native) calls and in the inner loop
// itself, with DC CVAU, IC IVAU and the barriers; the sums show which version of each ran.
// In smc-cross-page, the inner loop's straight-line code after the call starts 8 bytes before
// a page boundary and the ADD it patches is the first instruction of the next page (so
// the regions stay on one page: this loop runs on the Python tier unless forced).
// The harness defines MMU for smc-mmu-on, MMU and CROSS_PAGE for smc-cross-page.
    .ifdef CROSS_PAGE
    .equ SHIFT, 17                     // 1 << SHIFT iterations of the inner loop
    .else
    .equ SHIFT, 19
    .endif
main:
    .ifdef MMU
    bl mmu_on
    .endif
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
    mov x20, #(1 << SHIFT)
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
    ldr x1, =(1 << SHIFT) * 4 * 5 / 2
    ldr x2, =l_check
    bl check
    b poweroff
    .ltorg
l_fn:    .asciz "sum of the patched function "
l_loop:  .asciz "sum of the patched loop "
l_mix:   .asciz "mix "
l_check: .asciz "every version of the function ran"

    .balign 4
    .ifdef CROSS_PAGE
    .org smc + 4096 - 12
    .endif
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
