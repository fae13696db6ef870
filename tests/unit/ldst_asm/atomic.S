// LSE atomics: every LD<op> and SWP at every size and ordering, ST<op>, CAS, CASP.
    // every LSE op at every size; memory starts as 0x80..., operand 0x7f... (signed/unsigned differ)
    movz x14, #0x7f01
    movk x14, #0x7f02, lsl #16
    movk x14, #0x7f03, lsl #32
    movk x14, #0x7f04, lsl #48
    movz x15, #0x80f0
    movk x15, #0x80f1, lsl #16
    movk x15, #0x80f2, lsl #32
    movk x15, #0x80f3, lsl #48
.macro ATOM op
    str x15, [x21]
    \op x14, x9, [x21]
    ldr x10, [x21]
    P x9
    P x10
    str x15, [x21]
    \op w14, w9, [x21]
    ldr x10, [x21]
    P x9
    P x10
    str x15, [x21]
    \op\()h w14, w9, [x21]
    ldr x10, [x21]
    P x9
    P x10
    str x15, [x21]
    \op\()b w14, w9, [x21]
    ldr x10, [x21]
    P x9
    P x10
    str x14, [x21]
    \op\()b w15, w9, [x21]
    ldr x10, [x21]
    P x9
    P x10
    str x14, [x21]
    \op x15, x9, [x21]
    ldr x10, [x21]
    P x9
    P x10
.endm
.irp op, ldadd, ldclr, ldeor, ldset, ldsmax, ldsmin, ldumax, ldumin, swp
    ATOM \op
    ATOM \op\()a
    ATOM \op\()l
    ATOM \op\()al
.endr
    // ST<op> aliases (no result) and the zero register as operand
    str x15, [x21]
    stadd x14, [x21]
    stsmaxh w14, [x21]
    ldr x10, [x21]
    P x10
    ldaddal xzr, x9, [x21]
    P x9
    // CAS: success and failure, all sizes and orderings
.macro CASM op, cmpreg, newreg
    str x15, [x21]
    add x9, \cmpreg, #0
    \op x9, \newreg, [x21]
    ldr x10, [x21]
    P x9
    P x10
.endm
    mov x13, #0x1234
.irp op, cas, casa, casl, casal
    CASM \op, x15, x14
    CASM \op, x14, x13
.endr
.irp op, cas, casa, casl, casal, casb, casab, caslb, casalb, cash, casah, caslh, casalh
    str x15, [x21]
    add x9, x15, #0
    \op w9, w14, [x21]
    ldr x10, [x21]
    P x9
    P x10
    str x15, [x21]
    add x9, x14, #0
    \op w9, w13, [x21]
    ldr x10, [x21]
    P x9
    P x10
.endr
    // CASP
    ldp x2, x3, [x20]
    stp x2, x3, [x21]
.irp op, casp, caspa, caspl, caspal
    ldp x2, x3, [x21]
    add x4, x2, #0
    add x5, x3, #0
    add x6, x14, #0
    add x7, x15, #0
    \op x4, x5, x6, x7, [x21]
    ldp x9, x10, [x21]
    P x4
    P x5
    P x9
    P x10
    add x4, x4, #1
    \op x4, x5, x6, x7, [x21]
    ldp x9, x10, [x21]
    P x4
    P x5
    P x9
    P x10
    ldp x4, x5, [x21]
    add x5, x5, #1
    \op x4, x5, x6, x7, [x21]
    P x4
    P x5
    ldr x2, [x21]
    add x4, x2, #0
    ldr w5, [x21, #4]
    add x6, x15, #0
    add x7, x14, #0
    \op w4, w5, w6, w7, [x21]
    ldp x9, x10, [x21]
    P x4
    P x5
    P x9
    add x4, x4, #1
    \op w4, w5, w6, w7, [x21]
    P x4
    P x5
.endr
    EXIT 0
