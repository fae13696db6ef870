/* Stores from hot loops to the page that holds the loop's own code. The loops
   (assembly, position independent) are copied into an RWX page and run there
   long enough to go native. Their store instruction is on the hot path, with an
   address chosen by csel: a scratch word elsewhere, but every P-th iteration a
   word on the code page. mix_loop's word there is in the page's second half and
   never executed; its results must equal those of the same loop run from .text
   with both words elsewhere. patch_loop's word is an instruction of its own body
   (executed after an isb), `add x3, x3, #imm` with a new imm each time; its sum
   must reflect every version. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* uint64_t mix_loop(uint64_t *slot, uint64_t n, uint64_t mask, uint64_t *scratch):
   a hash over i < n; each iteration adds the hash to a word and mixes the word in:
   to *slot when (i & mask) == 0, else to *scratch. */
extern char mix_loop[], mix_loop_end[];
/* uint64_t patch_loop(uint64_t n, uint32_t *scratch): sum of i + ((i >> 13) & 0xfff)
   over i < n, the second term by an `add x3, x3, #imm` that the loop rewrites in
   itself when (i & 8191) == 0 (else it writes the instruction to *scratch). */
extern char patch_loop[], patch_loop_end[];

__asm__(
    "    .text\n"
    "    .balign 4\n"
    "    .global mix_loop, mix_loop_end\n"
    "mix_loop:\n"
    "    mov x10, xzr\n"
    "    mov x4, xzr\n"
    "1:  eor x10, x10, x4\n"
    "    ror x10, x10, #59\n"
    "    add x10, x10, x4, lsl #3\n"
    "    tst x4, x2\n"
    "    csel x9, x3, x0, ne\n"
    "    ldr x5, [x9]\n"
    "    add x5, x5, x10\n"
    "    str x5, [x9]\n"
    "    eor x10, x10, x5\n"
    "    add x4, x4, #1\n"
    "    cmp x4, x1\n"
    "    b.lo 1b\n"
    "    mov x0, x10\n"
    "    ret\n"
    "mix_loop_end:\n"
    "    .global patch_loop, patch_loop_end\n"
    "patch_loop:\n"
    "    mov x11, x30\n"
    "    mov x2, x0\n"
    "    mov x3, xzr\n"
    "    mov x4, xzr\n"
    "    adr x6, 3f\n"
    "1:  ubfx x7, x4, #13, #12\n"
    "    lsl w7, w7, #10\n"
    "    movz w8, #0x9100, lsl #16\n" /* add x0, x0, #0 */
    "    orr w8, w8, w7\n"
    "    tst x4, #8191\n"
    "    csel x9, x1, x6, ne\n"
    "    str w8, [x9]\n"
    "    dc cvau, x9\n" /* the architecture's sequence for modified code */
    "    dsb ish\n"
    "    ic ivau, x9\n"
    "    dsb ish\n"
    "    isb\n"
    "    mov x0, x3\n"
    "    blr x6\n"
    "    add x3, x0, x4\n"
    "    add x4, x4, #1\n"
    "    cmp x4, x2\n"
    "    b.lo 1b\n"
    "    mov x0, x3\n"
    "    ret x11\n"
    "    .balign 64\n"
    "3:  add x0, x0, #0\n"
    "    ret\n"
    "patch_loop_end:\n");

typedef uint64_t (*mix_fn)(uint64_t *slot, uint64_t n, uint64_t mask, uint64_t *scratch);
typedef uint64_t (*patch_fn)(uint64_t n, uint32_t *scratch);

static int failures;

static void check(const char *what, uint64_t got, uint64_t want)
{
    printf("%s: %016llx %s\n", what, (unsigned long long)got, got == want ? "ok" : "WRONG");
    if (got != want) {
        printf("  expected %016llx\n", (unsigned long long)want);
        failures++;
    }
}

int main(void)
{
    unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return 2;
    size_t mix_len = (size_t)(mix_loop_end - mix_loop);
    size_t patch_len = (size_t)(patch_loop_end - patch_loop);
    memcpy(page, mix_loop, mix_len);
    memcpy(page + 512, patch_loop, patch_len);
    __builtin___clear_cache((char *)page, (char *)page + 1024);
    uint64_t *slot = (uint64_t *)(page + 2048); /* same page, never executed */
    static uint64_t elsewhere, scratch_ref, scratch;

    static const struct { uint64_t n, mask; } runs[] = {{300000, 16383}, {1000, 0}, {24000, 2047}};
    for (unsigned r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        elsewhere = *slot = 0x1234 + r;
        scratch_ref = scratch = 0x5678 + r;
        uint64_t want = ((mix_fn)(void *)mix_loop)(&elsewhere, runs[r].n, runs[r].mask, &scratch_ref);
        uint64_t got = ((mix_fn)(void *)page)(slot, runs[r].n, runs[r].mask, &scratch);
        char what[64];
        snprintf(what, sizeof what, "to the code page every %llu", (unsigned long long)runs[r].mask + 1);
        check(what, got, want);
        check("  word on the code page", *slot, elsewhere);
        check("  scratch word", scratch, scratch_ref);
    }

    uint64_t n = 120000, want = 0;
    for (uint64_t i = 0; i < n; i++)
        want += i + ((i >> 13) & 0xfff);
    uint32_t patch_scratch;
    check("self-patching loop", ((patch_fn)(void *)(page + 512))(n, &patch_scratch), want);
    printf("%s\n", failures ? "FAIL" : "PASS");
    return failures != 0;
}
