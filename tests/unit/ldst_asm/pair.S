// Pairs: LDP/STP/LDPSW/LDNP/STNP, W/X/S/D/Q, offset and writeback forms, SP as base.
    ldp x9, x10, [x20]
    P x9
    P x10
    ldp w9, w10, [x20, #8]
    P x9
    P x10
    ldpsw x9, x10, [x20, #-4+8]
    P x9
    P x10
    ldpsw x9, x10, [x22, #-32]
    P x9
    P x10
    ldp x9, x10, [x22, #-512+512]
    P x9
    P x10
    ldp w9, w10, [x22, #-256]
    P x9
    P x10
    ldnp x9, x10, [x20, #16]
    P x9
    P x10
    ldnp w9, w10, [x22, #-4]
    P x9
    P x10
    add x23, x20, #16
    ldp x9, x10, [x23, #-16]!
    P x9
    P x10
    P x23
    ldp x9, x10, [x23], #32
    P x9
    P x10
    P x23
    ldp w9, w10, [x23, #-8]!
    P x9
    P x10
    P x23
    ldpsw x9, x10, [x23], #-24
    P x9
    P x10
    P x23
    ldpsw x9, x10, [x23, #8]!
    P x9
    P x10
    P x23
    ldp w9, w10, [x23], #4
    P x9
    P x10
    P x23
    // SIMD&FP pairs
    ldp q0, q1, [x20]
    PV q0
    PV q1
    ldp d2, d3, [x20, #8]
    PV q2
    PV q3
    ldp s4, s5, [x22, #-4]
    PV q4
    PV q5
    ldnp q6, q7, [x20, #32]
    PV q6
    PV q7
    ldnp d8, d9, [x20, #40]
    PV q8
    ldnp s10, s11, [x20, #4]
    PV q11
    add x23, x20, #32
    ldp q12, q13, [x23, #-32]!
    PV q13
    P x23
    ldp d14, d15, [x23], #16
    PV q15
    P x23
    ldp s16, s17, [x23, #4]!
    PV q16
    P x23
    // stores
    movz x14, #0x7788
    movk x14, #0x5566, lsl #16
    movk x14, #0x3344, lsl #32
    movk x14, #0x1122, lsl #48
    mov x15, #0xabcd
    stp x14, x15, [x21]
    stp w15, w14, [x21, #16]
    stnp x15, x14, [x21, #24]
    stnp w14, w15, [x21, #40]
    stp xzr, x14, [x21, #48]
    add x23, x21, #64
    stp x14, x15, [x23], #16
    P x23
    stp w14, w15, [x23, #8]!
    P x23
    stp x15, x14, [x23, #-8]!
    P x23
    stp w15, w14, [x23], #-4
    P x23
    stp q0, q1, [x21, #112]
    stp d2, d3, [x21, #144]
    stp s4, s5, [x21, #160]
    stnp q6, q7, [x21, #176]
    stnp d8, d9, [x21, #208]
    stnp s10, s11, [x21, #224-8]
    add x23, x21, #240
    stp q12, q13, [x23, #32]!
    stp d14, d15, [x23], #-16
    stp s16, s17, [x23, #4]!
    P x23
    mov x9, #0
1:  ldr x0, [x21, x9, lsl #3]
    bl puthex
    add x9, x9, #1
    cmp x9, #40
    b.ne 1b
    // stack pointer as base, with writeback
    add x0, sp, #0
    bl puthex
    stp x14, x15, [sp, #-16]!
    stp x15, x14, [sp, #-32]!
    str x14, [sp, #-8]!
    ldr x9, [sp], #8
    P x9
    ldp x9, x10, [sp, #32]
    P x9
    P x10
    ldp x9, x10, [sp], #48
    P x9
    P x10
    add x0, sp, #0
    bl puthex
    EXIT 0
