// Loads and stores test programs (tests/unit/test_ldst.py): prelude.S + one body,
// run under qemu-aarch64 and pyqemu-aarch64 with the outputs compared.
// Registers: x20 = data (64 known bytes, page aligned), x22 = data + 32,
// x21 = buf (8 KiB of zeroes, page aligned), sp = a known stack in .data.
// P reg prints a register in hex (clobbers x0-x3, x8, x30); PV prints a q register.
.macro P reg
    add x0, \reg, #0
    bl puthex
.endm
.macro PV vreg
    str \vreg, [x21, #224]
    ldr x0, [x21, #224]
    bl puthex
    ldr x0, [x21, #232]
    bl puthex
.endm
.macro EXIT code
    mov x0, #\code
    mov x8, #93
    svc 0
.endm
.text
puthex:
    adrp x1, hexbuf
    add x1, x1, :lo12:hexbuf
    add x1, x1, #16
    mov x2, #16
1:  and x3, x0, #0xf
    cmp x3, #10
    b.lt 2f
    add x3, x3, #('a' - 10 - '0')
2:  add x3, x3, #'0'
    sub x1, x1, #1
    strb w3, [x1]
    lsr x0, x0, #4
    subs x2, x2, #1
    b.ne 1b
    mov x0, #1
    mov x2, #17
    mov x8, #64
    svc 0
    ret
.data
hexbuf: .skip 16
    .byte 10
.balign 4096
data:
    .byte 0x81,0x92,0xa3,0xb4,0xc5,0xd6,0xe7,0xf8,0x09,0x1a,0x2b,0x3c,0x4d,0x5e,0x6f,0x70
    .byte 0x7f,0x80,0xff,0x01,0xfe,0x7e,0x55,0xaa,0x10,0x32,0x54,0x76,0x98,0xba,0xdc,0xfe
    .byte 0xf0,0xe1,0xd2,0xc3,0xb4,0xa5,0x96,0x87,0x78,0x69,0x5a,0x4b,0x3c,0x2d,0x1e,0x0f
    .byte 0x11,0x22,0x33,0x44,0x55,0x66,0x77,0x88,0x99,0xaa,0xbb,0xcc,0xdd,0xee,0xff,0x00
.balign 4096
buf: .skip 8192
stack_area: .skip 4096
stack_top:
.text
.global _start
_start:
    adrp x20, data
    add x20, x20, :lo12:data
    add x22, x20, #32
    adrp x21, buf
    add x21, x21, :lo12:buf
    adrp x0, stack_top
    add sp, x0, :lo12:stack_top
