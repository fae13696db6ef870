// A hot loop for the gdbstub tests: 2,000,000 iterations of a few instructions, calling
// `checkpoint` once, at iteration 1,000,000 (by then the loop is native); exits with a
// checksum of its accumulator.
    .text
    .global _start, loop, checkpoint, after
_start:
    mov x19, #0                 // iteration
    mov x20, #7                 // accumulator
    movz x21, #0x1e, lsl #16
    movk x21, #0x8480           // 2,000,000
    movz x22, #0xf, lsl #16
    movk x22, #0x4240           // 1,000,000
loop:
    add x20, x20, x19
    eor x20, x20, x20, lsr #3
    add x19, x19, #1
    cmp x19, x22
    b.ne 1f
    bl checkpoint
1:  cmp x19, x21
    b.ne loop
after:
    eor x0, x20, x20, lsr #8
    and x0, x0, #0x7f
    mov x8, #93                 // exit
    svc #0

checkpoint:
    add x23, x23, #1
    ret
