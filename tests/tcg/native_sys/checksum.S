// checksum over 1 MiB
//
// Fill DATA (1 MiB + 64 bytes) with an LCG through STP, then 500,000 iterations at offsets that
// step by STRIDE: loads of 1/2/4/8/16 bytes (signed and unsigned, LDP, LDR Q) mixed into a
// checksum, and stores of every size that later iterations read. With the MMU off (all data
// is Device memory) every access is naturally aligned; with it on (4 KiB pages) they are
// unaligned and some cross a page boundary. Then a checksum of the whole buffer.
// The harness defines MMU for checksum-mmu-on.
    .ifdef MMU
    .equ STRIDE, 4093                  // unaligned offsets of the loads and stores
    .equ MASK, 0xfffff
    .equ LD_B, 0
    .equ LD_H, 1
    .equ LD_W, 3
    .equ LD_X, 5
    .equ LD_Q, 7
    .equ ST_B, 2
    .equ ST_H, 9
    .equ ST_W, 13
    .equ ST_X, 21
    .equ ST_Q, 35
    .else
    .equ STRIDE, 0xffd0                // naturally aligned offsets
    .equ MASK, 0xffff0
    .equ LD_B, 1
    .equ LD_H, 2
    .equ LD_W, 4
    .equ LD_X, 8
    .equ LD_Q, 0
    .equ ST_B, 3
    .equ ST_H, 6
    .equ ST_W, 12
    .equ ST_X, 24
    .equ ST_Q, 32
    .endif
main:
    .ifdef MMU
    bl mmu_on
    .endif
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
    ldr x25, =STRIDE
    ldr x26, =MASK
2:  add x2, x19, x22
    ldrb w3, [x2, #LD_B]
    ldrsh x4, [x2, #LD_H]
    ldr w5, [x2, #LD_W]
    ldrsw x15, [x2, #LD_W]
    ldr x6, [x2, #LD_X]
    ldp x7, x8, [x2]
    ldr q0, [x2, #LD_Q]
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
    strb w11, [x2, #ST_B]
    strh w11, [x2, #ST_H]
    str w11, [x2, #ST_W]
    str x11, [x2, #ST_X]
    stp x11, x23, [x2, #16]
3:  str q0, [x2, #ST_Q]
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
