// data aborts in a hot loop
//
// Loop 1 reads a doubleword and stores a running sum on page i >> 16 of DATA (851,968
// iterations on mapped pages first). Page 13 is invalid: the handler maps it and retries.
// Page 15 is read-only: the store's permission fault makes it writable (TLBI VAE1), retry.
// Page 17 is invalid: the handler skips the faulting instruction (4 iterations there).
// Loop 2 does the same on pages 24-31 with a post-indexed load and an unaligned store at
// offsets 4..0xffc, so 8-byte accesses cross pages: a store from page 29 into read-only page
// 30 faults (nothing of it may be written; then page 30 is made writable), a load from page 31
// into invalid page 32 faults and is skipped (its base register must not be written back;
// 4 times).
// Each abort prints the iteration, ESR, FAR and the saved x2 (address) and x4 (loaded value).
    .equ MMU, 1                        // with mmu_on (support.S)
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
