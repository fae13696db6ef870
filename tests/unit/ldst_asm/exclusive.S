// Exclusives (monitor set, cleared, value changed, other address), pairs,
// load-acquire/store-release, LDAPR, LDAPUR/STLUR.
    add x24, x21, #8
    add x25, x21, #16
    add x26, x21, #24
    movz x14, #0x7788
    movk x14, #0x5566, lsl #16
    movk x14, #0x3344, lsl #32
    movk x14, #0x1122, lsl #48
    mov x15, #0xabcd
    ldp x9, x10, [x20]
    stp x9, x10, [x21]
    stp x9, x10, [x21, #16]
    // a store-exclusive without a monitor fails
    stxr w11, x14, [x21]
    P x11
    // successful pairs of every size
    ldxr x9, [x21]
    stxr w11, x14, [x21]
    P x9
    P x11
    ldxr w9, [x24]
    stxr w11, w15, [x24]
    P x9
    P x11
    add x23, x21, #14
    ldxrh w9, [x23]
    stxrh w11, w14, [x23]
    P x9
    P x11
    add x23, x21, #17
    ldxrb w9, [x23]
    stxrb w11, w14, [x23]
    P x9
    P x11
    ldaxr x9, [x25]
    stlxr w11, x15, [x25]
    P x9
    P x11
    ldaxrb w9, [x21]
    stlxrb w11, w15, [x21]
    P x9
    P x11
    // monitor cleared by CLREX and by a successful store
    ldxr x9, [x21]
    clrex
    stxr w11, x14, [x21]
    P x11
    ldxr x9, [x21]
    stxr w11, x14, [x21]
    stxr w12, x15, [x21]
    P x11
    P x12
    // the value changed under the monitor: fails
    ldxr x9, [x21]
    str x15, [x21]
    stxr w11, x14, [x21]
    P x11
    // another address: fails, and the monitor is gone
    ldxr x9, [x21]
    add x23, x21, #8
    stxr w11, x14, [x23]
    P x11
    stxr w11, x14, [x21]
    P x11
    // status register may be the zero register
    ldxr w9, [x26]
    stxr wzr, w15, [x26]
    // exclusive pairs
    ldxp x9, x10, [x25]
    stxp w11, x15, x14, [x25]
    P x9
    P x10
    P x11
    ldxp w9, w10, [x24]
    stxp w11, w14, w15, [x24]
    P x9
    P x10
    P x11
    ldaxp x9, x10, [x21]
    stlxp w11, x10, x9, [x21]
    P x11
    ldaxp w9, w10, [x26]
    clrex
    stlxp w11, w10, w9, [x26]
    P x11
    ldxp x9, x10, [x21]
    str x9, [x21, #8]
    stxp w11, x14, x14, [x21]
    P x11
    // load-acquire / store-release, all sizes
    ldar x9, [x20]
    P x9
    ldar w9, [x20]
    P x9
    ldarh w9, [x20]
    P x9
    ldarb w9, [x20]
    P x9
    ldlar x9, [x20]
    P x9
    ldlarb w9, [x20]
    P x9
    ldapr x9, [x20]
    P x9
    ldapr w9, [x20]
    P x9
    ldaprh w9, [x20]
    P x9
    ldaprb w9, [x20]
    P x9
    add x23, x21, #32
    stlr x14, [x23]
    add x23, x21, #40
    stlr w14, [x23]
    add x23, x21, #44
    stlrh w14, [x23]
    add x23, x21, #46
    stlrb w14, [x23]
    add x23, x21, #48
    stllr x15, [x23]
    stllrb w14, [x23]
    // RCpc unscaled
    ldapur x9, [x22, #-32]
    P x9
    ldapur w9, [x22, #-28]
    P x9
    ldapurh w9, [x22, #-30]
    P x9
    ldapursh w9, [x22, #-30]
    P x9
    ldapursh x9, [x22, #-30]
    P x9
    ldapurb w9, [x22, #-31]
    P x9
    ldapursb w9, [x22, #-31]
    P x9
    ldapursb x9, [x22, #-31]
    P x9
    ldapursw x9, [x22, #-28]
    P x9
    stlur x14, [x23, #8]
    stlur w14, [x23, #16]
    stlurh w14, [x23, #20]
    stlurb w14, [x23, #255]
    stlurb w15, [x23, #-1]
    mov x9, #0
1:  ldr x0, [x21, x9, lsl #3]
    bl puthex
    add x9, x9, #1
    cmp x9, #42
    b.ne 1b
    EXIT 0
