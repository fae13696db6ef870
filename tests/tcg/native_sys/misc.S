// flags, system registers, FP/SIMD, DC ZVA in a hot loop
//
// 100,000 iterations with the MMU on: carry chains, CCMP/CSEL on flags, NZCV through MRS/MSR,
// TPIDR_EL0 writes and reads, division, CLZ/RBIT/REV, UMULH/SMULH, CRC32, NEON lanes; every
// 8th iteration also DC ZVA on a 64-byte block of DATA that the loop reads, TPIDR_EL1, scalar
// double arithmetic and NEON MUL/ADDV (instructions that leave native code).
    .equ MMU, 1                        // with mmu_on (support.S)
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
