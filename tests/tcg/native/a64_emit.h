/* A64 words for the self-modifying-code tests: version v of a small function
   (x, y) -> w0 that a test emits into an executable buffer, and what it computes. */
#ifndef A64_EMIT_H
#define A64_EMIT_H
#include <stdint.h>

#define RET 0xd65f03c0u
#define ADD_W0(imm) (0x11000000u | ((uint32_t)(imm) << 10))  /* add w0, w0, #imm */
#define SUB_W0(imm) (0x51000000u | ((uint32_t)(imm) << 10))  /* sub w0, w0, #imm */
#define MOVZ_W0(imm) (0x52800000u | ((uint32_t)(imm) << 5))  /* mov w0, #imm */
#define EOR_W0_W0_W1 0x4a010000u                              /* eor w0, w0, w1 */

typedef uint32_t (*fn_t)(uint32_t x, uint32_t y);

/* What version v of the emitted function computes. */
static uint32_t model(unsigned v, uint32_t x, uint32_t y)
{
    switch (v % 3) {
    case 0: return x + (v & 0xfff);
    case 1: return x - (v & 0xfff);
    default: return ((v * 37) & 0xffff) ^ y;
    }
}

/* Emit version v at `code` (two or three instructions); inlined, so that the stores are
   in the caller's loop. */
static inline __attribute__((always_inline)) void emit(volatile uint32_t *code, unsigned v)
{
    switch (v % 3) {
    case 0: code[0] = ADD_W0(v & 0xfff); code[1] = RET; break;
    case 1: code[0] = SUB_W0(v & 0xfff); code[1] = RET; break;
    default: code[0] = MOVZ_W0((v * 37) & 0xffff); code[1] = EOR_W0_W0_W1; code[2] = RET; break;
    }
    __builtin___clear_cache((char *)code, (char *)(code + 3));
}
#endif
