// Start of every program in this directory (the harness, tests/functional/test_native_sys.py,
// assembles start.S, the program, support.S and the output routines of test_virt_baremetal.py
// as one source): stack, FP/SIMD enabled, vectors, then the program's main.
//
// Synchronous exceptions and IRQs (from the current EL or EL0) save x0-x18 and x30 and call
// sync_handler / lower_sync_handler / irq_handler (which may clobber x0-x18 and must keep
// x19-x28; the saved x<n> is at [sp, #8 * n] on entry). A handler the program does not define
// is support.S's default: a branch to unexpected, which prints ESR, ELR and FAR and powers off.
//
// Memory: L1, L2, L3 are the translation tables mmu_on builds (support.S); DATA (2 MiB) is the
// region the programs work in, mapped in 4 KiB pages by L3 with PAGE_ATTRS.
    .equ L1, 0x40300000
    .equ L2, 0x40301000
    .equ L3, 0x40302000
    .equ DATA, 0x40400000
    .equ PAGE_ATTRS, 0x707             // AF, inner shareable, AttrIndx 1 (Normal), page
    .global _start
_start:
    ldr x0, =stack_top
    mov sp, x0
    mov x0, #(3 << 20)                 // CPACR_EL1.FPEN: no FP/SIMD traps
    msr cpacr_el1, x0
    isb
    ldr x0, =vectors
    msr vbar_el1, x0
    b main

    .macro SAVE_CALL handler
    sub sp, sp, #160
    stp x0, x1, [sp]
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x30, [sp, #144]
    bl \handler
    ldp x0, x1, [sp]
    ldp x2, x3, [sp, #16]
    ldp x4, x5, [sp, #32]
    ldp x6, x7, [sp, #48]
    ldp x8, x9, [sp, #64]
    ldp x10, x11, [sp, #80]
    ldp x12, x13, [sp, #96]
    ldp x14, x15, [sp, #112]
    ldp x16, x17, [sp, #128]
    ldp x18, x30, [sp, #144]
    add sp, sp, #160
    eret
    .endm

    .balign 0x800
vectors:
    .skip 0x200
    SAVE_CALL sync_handler               // current EL, SP_ELx, synchronous
    .balign 0x80
    SAVE_CALL irq_handler                // current EL, SP_ELx, IRQ
    .balign 0x80
    .skip 0x100
    SAVE_CALL lower_sync_handler         // lower EL (AArch64), synchronous
    .balign 0x80
    SAVE_CALL irq_handler                // lower EL (AArch64), IRQ
    .balign 0x80
    .skip 0x300

unexpected:
    mov x19, x30
    ldr x0, =s_unexp
    mrs x1, esr_el1
    bl putval
    ldr x0, =s_elr
    mrs x1, elr_el1
    bl putval
    ldr x0, =s_far
    mrs x1, far_el1
    bl putval
    b poweroff
    .ltorg
s_unexp: .asciz "unexpected exception, ESR "
s_elr:   .asciz "ELR "
s_far:   .asciz "FAR "
    .balign 4
