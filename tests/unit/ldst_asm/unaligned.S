// Unaligned plain accesses, including ones that cross a page boundary.
    // unaligned plain accesses are allowed, also across a page boundary
    ldr x9, [x20, #8]
    add x23, x20, #1
    ldr x9, [x23]
    P x9
    ldr w9, [x23, #2]
    P x9
    ldrsh x9, [x23, #4]
    P x9
    ldur x9, [x22, #-13]
    P x9
    ldp x9, x10, [x23, #8]
    P x9
    P x10
    ldpsw x9, x10, [x23, #12]
    P x9
    P x10
    ldr q0, [x23, #16]
    PV q0
    ldp s1, s2, [x23, #4]
    PV q1
    PV q2
    movz x14, #0x7788
    movk x14, #0x5566, lsl #16
    movk x14, #0x3344, lsl #32
    movk x14, #0x1122, lsl #48
    add x24, x21, #4093
    str x14, [x24]
    ldr x9, [x24]
    P x9
    add x25, x21, #4096
    ldur x9, [x25, #-8]
    P x9
    ldr x9, [x25]
    P x9
    add x24, x21, #4089
    stp x14, x14, [x24]
    ldp x9, x10, [x24]
    P x9
    P x10
    ldr q3, [x24]
    PV q3
    add x24, x21, #4087
    str q3, [x24]
    ldp x9, x10, [x24]
    P x9
    P x10
    add x24, x21, #4095
    strh w14, [x24]
    ldrh w9, [x24]
    P x9
    ldr x9, [x25]
    P x9
    EXIT 0
