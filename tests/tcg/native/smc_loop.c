/* Self-modifying code inside hot loops: a small function emitted as A64 words
   into an mmap'ed buffer is called on every iteration; every K iterations the
   loop itself rewrites the function (a new immediate, sometimes a different
   instruction) and calls __builtin___clear_cache. The sum of the results must
   reflect every version. Three ways: an RWX buffer; a W^X buffer switched with
   mprotect around each rewrite; and a rewrite on every iteration. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include "a64_emit.h"

static int failures;

static void check(const char *what, uint64_t got, uint64_t want)
{
    printf("%s: %llu %s\n", what, (unsigned long long)got, got == want ? "ok" : "WRONG");
    if (got != want) {
        printf("  expected %llu\n", (unsigned long long)want);
        failures++;
    }
}

static uint64_t expected(unsigned long n, unsigned long k)
{
    uint64_t sum = 0;
    for (unsigned long i = 0; i < n; i++)
        sum += model((unsigned)(i / k), (uint32_t)i, (uint32_t)(i * 3));
    return sum;
}

/* RWX buffer, rewritten by the hot loop every k iterations. */
static __attribute__((noinline)) uint64_t rwx_loop(volatile uint32_t *code, unsigned long n, unsigned long k)
{
    fn_t f = (fn_t)code;
    uint64_t sum = 0;
    for (unsigned long i = 0, left = 0, v = 0; i < n; i++) {
        if (left-- == 0) {
            emit(code, (unsigned)v++);
            left = k - 1;
        }
        sum += f((uint32_t)i, (uint32_t)(i * 3));
    }
    return sum;
}

/* W^X: writable only while it is rewritten. */
static __attribute__((noinline)) uint64_t wx_loop(volatile uint32_t *code, unsigned long n, unsigned long k)
{
    fn_t f = (fn_t)code;
    uint64_t sum = 0;
    for (unsigned long i = 0, left = 0, v = 0; i < n; i++) {
        if (left-- == 0) {
            mprotect((void *)code, 4096, PROT_READ | PROT_WRITE);
            emit(code, (unsigned)v++);
            mprotect((void *)code, 4096, PROT_READ | PROT_EXEC);
            left = k - 1;
        }
        sum += f((uint32_t)i, (uint32_t)(i * 3));
    }
    return sum;
}

int main(void)
{
    volatile uint32_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    volatile uint32_t *wx = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED || wx == MAP_FAILED)
        return 2;
    check("rwx, new version every 25000", rwx_loop(code, 300000, 25000), expected(300000, 25000));
    check("rwx, new version every 97", rwx_loop(code, 20000, 97), expected(20000, 97));
    check("w^x, new version every 20000", wx_loop(wx, 200000, 20000), expected(200000, 20000));
    check("rwx, new version every call", rwx_loop(code, 1000, 1), expected(1000, 1));
    printf("%s\n", failures ? "FAIL" : "PASS");
    return failures != 0;
}
