// a hot loop that stores to another page's code
//
// Every iteration adds to a doubleword on page F, which holds a function; every 4,096th
// iteration the loop also rewrites the function's ADD immediate (with the cache maintenance)
// and calls it. Once F has translated code again, the loop's next store to F must invalidate
// it (native code keeps no write entry for a code page), so each call runs the new ADD.
// The harness defines MMU for codegen-mmu-on.
main:
    .ifdef MMU
    bl mmu_on
    .endif
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
