// MMIO in hot loops
//
// A loop of 512,000 iterations (an LCG) prints a letter through putc (which polls UARTFR)
// every 256th, 2,000 in all, with the MMU off and again with it on (the UART in a Device
// block); then 20,000 reads of the PL011 and GIC ID registers summed. Last, a loop stores
// letters to page V 300,000 times, then V is remapped to the PL011 (TLBI VAE1) and the same
// loop's 52 stores must reach UARTDR.
    .equ MMU, 1                        // with mmu_on (support.S)
    .equ V, DATA + 0x80000
main:
    bl chars
    bl mmu_on
    bl chars
    mov x19, #0
    mov x20, #0
    ldr x21, =0x09000fe0               // PL011 PeriphID0..3, CellID0..3
    ldr x22, =0x08000004               // GICD_TYPER
    ldr x23, =20000
1:  and x0, x19, #7
    ldr w1, [x21, x0, lsl #2]
    eor x20, x1, x20, ror #5
    ldr w1, [x22]
    eor x20, x20, x1
    add x19, x19, #1
    cmp x19, x23
    b.ne 1b
    ldr x0, =l_ids
    mov x1, x20
    bl putval

    ldr x19, =V                        // V: a RAM page, then the UART's
    ldr x20, =300000
    bl letters
    ldr x0, =l_ram
    ldr x1, [x19]
    bl putval
    ldr x0, =L3 + ((V - DATA) >> 12) * 8
    ldr x1, =0x09000403                // the PL011 page: AF, AttrIndx 0 (Device-nGnRnE), page
    str x1, [x0]
    dsb ishst
    lsr x0, x19, #12
    tlbi vae1, x0
    dsb ish
    isb
    mov x20, #52
    bl letters
    mov x0, #'\n'
    bl putc
    b poweroff

letters:                               // x20 stores of 'a' + i % 26 to [V] (UARTDR)
    mov x1, #0
    mov x2, #26
1:  udiv x3, x1, x2
    msub x3, x3, x2, x1
    add x3, x3, #'a'
    str w3, [x19]
    add x1, x1, #1
    cmp x1, x20
    b.ne 1b
    ret

chars:                                 // 40 lines of 50 letters, one every 256 iterations
    mov x25, x30
    mov x19, #0                        // iterations
    mov x20, #0                        // letters
    ldr x21, =0x2545f4914f6cdd1d       // LCG state
    ldr x22, =6364136223846793005
    ldr x23, =1442695040888963407
    ldr x24, =2000 * 256
2:  madd x21, x21, x22, x23
    tst x19, #0xff
    b.ne 3f
    lsr x0, x21, #33
    mov x1, #26
    udiv x2, x0, x1
    msub x0, x2, x1, x0
    add x0, x0, #'a'
    bl putc
    add x20, x20, #1
    mov x1, #50
    udiv x0, x20, x1
    msub x0, x0, x1, x20
    cbnz x0, 3f
    mov x0, #'\n'
    bl putc
3:  add x19, x19, #1
    cmp x19, x24
    b.ne 2b
    mov x30, x25
    ret
    .ltorg
l_ids: .asciz "ID registers "
l_ram: .asciz "last letter in RAM "
    .balign 4
