// two vCPUs: a broadcast TLBI reaches the other one's hot loop
//
// vCPU 1 (started with PSCI CPU_ON) waits in a hot loop that reads V and a flag until the flag
// is k, then adds what it read from V and acknowledges k. vCPU 0, 50 times: maps V to P2
// (k odd) or P1 (k even), TLBI VAE1IS, DSB ISH, sets the flag to k and waits in a hot loop for
// the acknowledgement. vCPU 1 must have read the page mapped at that time (P1 holds 1, P2
// 0x10000): the sum shows what it saw.
    .equ MMU, 1                        // with mmu_on (support.S)
    .equ V, DATA + 0x80000
    .equ P1, DATA + 0x90000
    .equ P2, DATA + 0xa0000
    .equ FLAG, 0x40200000
    .equ ACK, 0x40200040
    .equ SUM, 0x40200080
    .equ ROUNDS, 50
main:
    bl mmu_on
    ldr x0, =FLAG
    str xzr, [x0]
    str xzr, [x0, #ACK - FLAG]
    str xzr, [x0, #SUM - FLAG]
    ldr x0, =P1
    mov x1, #1
    str x1, [x0]
    ldr x0, =P2
    mov x1, #0x10000
    str x1, [x0]
    ldr x19, =V
    ldr x20, =P1 + PAGE_ATTRS
    ldr x21, =P2 + PAGE_ATTRS
    ldr x22, =L3 + ((V - DATA) >> 12) * 8
    str x20, [x22]
    dsb ishst
    tlbi vmalle1is
    dsb ish
    isb
    ldr x0, =0xc4000003                // PSCI CPU_ON: MPIDR 1, entry, context
    mov x1, #1
    ldr x2, =secondary
    mov x3, #0
    hvc #0
    mov x1, x0
    ldr x0, =l_on
    bl putval
    mov x23, #1                        // k
1:  tst x23, #1
    csel x0, x21, x20, ne
    str x0, [x22]
    dsb ishst
    lsr x0, x19, #12
    tlbi vae1is, x0
    dsb ish
    isb
    ldr x0, =FLAG
    stlr x23, [x0]
    ldr x0, =ACK
    mov x1, x23
    bl wait_eq
    add x23, x23, #1
    cmp x23, #ROUNDS + 1
    b.ne 1b
    ldr x0, =l_sum
    ldr x1, =SUM
    ldr x1, [x1]
    bl putval
    ldr x0, =SUM
    ldr x0, [x0]
    ldr x1, =(ROUNDS / 2) * 0x10001
    ldr x2, =l_check
    bl check
    b poweroff

wait_eq:                               // wait until [x0] == x1 (load-acquire)
1:  ldar x2, [x0]
    cmp x2, x1
    b.ne 1b
    ret

secondary:
    ldr x0, =stack2_top
    mov sp, x0
    ldr x0, =vectors
    msr vbar_el1, x0
    mov x0, #(3 << 20)
    msr cpacr_el1, x0
    bl mmu_enable
    ldr x19, =V
    ldr x20, =FLAG
    mov x23, #1
    mov x24, #0
2:  ldar x1, [x20]                     // wait for the flag, reading V each time
    ldr x0, [x19]
    cmp x1, x23
    b.ne 2b
    add x24, x24, x0
    ldr x0, =SUM
    str x24, [x0]
    ldr x0, =ACK
    stlr x23, [x0]
    add x23, x23, #1
    cmp x23, #ROUNDS + 1
    b.ne 2b
3:  wfi
    b 3b
    .ltorg
l_on:    .asciz "CPU_ON returned "
l_sum:   .asciz "what vCPU 1 read through V "
l_check: .asciz "vCPU 1 read the page of each round's mapping"
    .balign 16
    .skip 4096
stack2_top:
