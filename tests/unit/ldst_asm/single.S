// Single registers: every addressing form, size and extension; SIMD&FP B/H/S/D/Q.
    // unsigned offset, all integer sizes and extensions
    ldrb w9, [x20, #1]
    P x9
    ldrsb w9, [x20, #1]
    P x9
    ldrsb x9, [x20, #1]
    P x9
    ldrsb x9, [x20, #8]
    P x9
    ldrh w9, [x20, #2]
    P x9
    ldrsh w9, [x20, #2]
    P x9
    ldrsh x9, [x20, #2]
    P x9
    ldrsh x9, [x20, #8]
    P x9
    ldr w9, [x20, #4]
    P x9
    ldrsw x9, [x20, #4]
    P x9
    ldrsw x9, [x20, #8]
    P x9
    ldr x9, [x20, #8]
    P x9
    ldr x9, [x20, #4088]
    P x9
    // unscaled, negative
    ldur x9, [x22, #-3]
    P x9
    ldurb w9, [x22, #-1]
    P x9
    ldursb w9, [x22, #-2]
    P x9
    ldursb x9, [x22, #-255]
    P x9
    ldurh w9, [x22, #-5]
    P x9
    ldursh x9, [x22, #7]
    P x9
    ldursh w9, [x22, #-256]
    P x9
    ldur w9, [x22, #255]
    P x9
    ldursw x9, [x22, #-7]
    P x9
    // unprivileged
    ldtr x9, [x20, #3]
    P x9
    ldtrb w9, [x20, #1]
    P x9
    ldtrsb x9, [x20, #1]
    P x9
    ldtrsh w9, [x20, #2]
    P x9
    ldtrsw x9, [x20, #4]
    P x9
    ldtrh w9, [x20, #6]
    P x9
    ldtr w9, [x20, #6]
    P x9
    // pre/post index
    add x23, x20, #16
    ldr x9, [x23, #8]!
    P x9
    P x23
    ldrsb w9, [x23, #-3]!
    P x9
    P x23
    ldrh w9, [x23], #-6
    P x9
    P x23
    ldrsw x9, [x23], #255
    P x9
    P x23
    ldr w9, [x23, #-256]!
    P x9
    P x23
    // register offset: every extend, shifted and not
    mov x10, #3
    ldr x9, [x20, x10, lsl #3]
    P x9
    ldr x9, [x20, x10]
    P x9
    ldr w9, [x20, w10, uxtw #2]
    P x9
    ldrsh x9, [x20, w10, uxtw]
    P x9
    movz x11, #0xfffe
    movk x11, #0xffff, lsl #16
    movk x11, #0x1234, lsl #32
    ldrb w9, [x22, w11, sxtw]
    P x9
    ldrsw x9, [x22, w11, sxtw #2]
    P x9
    mov x12, #-2
    ldrh w9, [x22, x12, sxtx #1]
    P x9
    ldrsb x9, [x22, x12, sxtx]
    P x9
    ldr x9, [x22, x12, sxtx #3]
    P x9
    ldrsh w9, [x20, x10, lsl #1]
    P x9
    ldr x9, [x20, xzr]
    P x9
    // literal
    ldr x9, lit
    P x9
    ldr w9, lit
    P x9
    ldrsw x9, lit
    P x9
    ldrsw x9, lit + 4
    P x9
    prfm pldl1keep, lit
    // prefetches never fault
    mov x13, #0
    prfm pldl1keep, [x13]
    prfm pstl2strm, [x13, #8]
    prfum pldl1keep, [x13, #1]
    prfm pldl3keep, [x13, x10]
    // stores of every size and form
    movz x14, #0x7788
    movk x14, #0x5566, lsl #16
    movk x14, #0x3344, lsl #32
    movk x14, #0x1122, lsl #48
    str x14, [x21]
    str w14, [x21, #8]
    strh w14, [x21, #12]
    strb w14, [x21, #14]
    stur x14, [x21, #17]
    sturh w14, [x21, #26]
    sturb w14, [x21, #31]
    stur w14, [x21, #33]
    sttr x14, [x21, #40]
    sttrb w14, [x21, #48]
    sttrh w14, [x21, #50]
    sttr w14, [x21, #52]
    add x23, x21, #56
    str x14, [x23], #8
    P x23
    strb w14, [x23, #1]!
    P x23
    strh w14, [x23, #1]!
    P x23
    str w14, [x23], #-3
    P x23
    str x14, [x21, x10, lsl #3]
    strh w14, [x21, w10, uxtw #1]
    add x23, x21, #128
    strb w14, [x23, w11, sxtw]
    str w14, [x23, x12, sxtx #2]
    str xzr, [x21, #160]
    strb wzr, [x21, #17]
    mov x9, #0
1:  ldr x0, [x21, x9, lsl #3]
    bl puthex
    add x9, x9, #1
    cmp x9, #22
    b.ne 1b
    // SIMD&FP registers: loads zero the rest, stores of every size
    ldr q0, [x20]
    PV q0
    ldr b0, [x20, #5]
    PV q0
    ldr q0, [x20, #16]
    ldr h0, [x20, #6]
    PV q0
    ldr q0, [x20, #16]
    ldr s0, [x20, #12]
    PV q0
    ldr q0, [x20, #16]
    ldr d0, [x20, #8]
    PV q0
    ldr q1, [x20, #48]
    PV q1
    ldur q2, [x22, #-31]
    PV q2
    ldur d3, [x22, #-1]
    PV q3
    ldur s4, [x22, #3]
    PV q4
    ldur h5, [x22, #-5]
    PV q5
    ldur b6, [x22, #-6]
    PV q6
    add x23, x20, #8
    ldr d7, [x23], #8
    PV q7
    ldr q8, [x23, #-16]!
    PV q8
    P x23
    ldr s9, [x20, x10, lsl #2]
    PV q9
    ldr h10, [x20, w10, uxtw #1]
    PV q10
    ldr b11, [x22, w11, sxtw]
    PV q11
    ldr q12, [x20, x10, lsl #4]
    PV q12
    ldr d13, [x22, x12, sxtx]
    PV q13
    ldr q14, litq
    PV q14
    ldr d15, lit
    PV q15
    ldr s16, lit
    PV q16
    mov x9, #0
    mov x10, #0
    stp x9, x10, [x21]
    stp x9, x10, [x21, #16]
    stp x9, x10, [x21, #32]
    stp x9, x10, [x21, #48]
    stp x9, x10, [x21, #64]
    stp x9, x10, [x21, #80]
    str q1, [x21]
    str d1, [x21, #16]
    str s1, [x21, #24]
    str h1, [x21, #28]
    str b1, [x21, #30]
    stur q2, [x21, #33]
    stur d2, [x21, #49]
    stur s2, [x21, #58]
    stur h2, [x21, #62]
    add x23, x21, #64
    str q1, [x23], #16
    str d2, [x23, #1]!
    str b1, [x23, #-2]!
    P x23
    mov x10, #11
    str h1, [x21, x10, lsl #1]
    str s2, [x21, w10, uxtw #2]
    str b2, [x21, x10]
    mov x9, #0
1:  ldr x0, [x21, x9, lsl #3]
    bl puthex
    add x9, x9, #1
    cmp x9, #12
    b.ne 1b
    EXIT 0
.balign 16
lit:  .quad 0x8877665544332211
litq: .quad 0x0123456789abcdef, 0xfedcba9876543210
