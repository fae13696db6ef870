/* Hot loops of many shapes, run long enough for pyqemu to compile them into
   regions (several blocks in one function): side exits, nested loops, calls
   and indirect jumps inside loops, a fault on the n-th iteration, code
   rewritten between calls and inside the loop that runs it. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static __attribute__((noinline)) unsigned long collatz_steps(unsigned long n)
{
    unsigned long steps = 0;
    while (n != 1) {
        n = (n & 1) ? 3 * n + 1 : n / 2;
        steps++;
    }
    return steps;
}

static __attribute__((noinline)) unsigned long nested(unsigned long n)
{
    unsigned long acc = 0;
    for (unsigned long i = 0; i < n; i++) {
        for (unsigned long j = 0; j < 64; j++) {
            if (((i * j) & 7) == 3)
                continue;
            acc += i ^ j;
            if (acc % 1000003 == 17)
                break;  /* a rare side exit */
        }
    }
    return acc;
}

static __attribute__((noinline)) unsigned long step(unsigned long x) { return x * 2654435761u + 7; }

static __attribute__((noinline)) unsigned long calls(unsigned long n)
{
    unsigned long x = 1;
    for (unsigned long i = 0; i < n; i++)
        x = step(x) ^ i;
    return x;
}

static __attribute__((noinline)) unsigned long dispatch(unsigned long n)
{
    unsigned long a = 0;
    for (unsigned long i = 0; i < n; i++) {
        switch ((i * 7) % 9) {  /* a jump table: an indirect jump in the loop */
        case 0: a += 1; break;
        case 1: a ^= i; break;
        case 2: a = a * 3; break;
        case 3: a -= 5; break;
        case 4: a += i << 2; break;
        case 5: a = ~a; break;
        case 6: a = a >> 1; break;
        case 7: a += 0x1234; break;
        default: a = a * 5 + 1; break;
        }
    }
    return a;
}

static sigjmp_buf env;
static volatile uintptr_t fault_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    fault_addr = (uintptr_t)si->si_addr;
    siglongjmp(env, 1);
}

/* Sum bytes until the walk runs off the end of a mapping, in a hot loop. */
static void fault_in_loop(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(p + 3 * pg, pg, PROT_NONE);  /* a guard page (an unmapped hole could be reused by malloc) */
    for (long i = 0; i < 3 * pg; i++)
        p[i] = (unsigned char)(i * 13);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    volatile unsigned long sum = 0;
    volatile long i = 0;
    for (int round = 0; round < 3; round++) {
        if (sigsetjmp(env, 1) == 0) {
            for (i = 0;; i++)
                sum += p[i];
        }
        printf("fault at +%ld after %ld bytes, sum %lu\n", (long)(fault_addr - (uintptr_t)p), (long)i, sum);
    }
    munmap(p, 4 * pg);
}

/* aarch64 encodings */
#define ADD_X0_IMM(k) (0x91000000u | ((k) << 10))  /* add x0, x0, #k */
#define SUBS_X1_1     0xf1000421u                    /* subs x1, x1, #1 */
#define BNE_BACK(n)   (0x54000001u | ((-(n) & 0x7ffff) << 5))
#define RET           0xd65f03c0u
#define STR_W3_X2     0xb9000043u                    /* str w3, [x2] */
#define ISB           0xd5033fdfu

typedef unsigned long (*jit_fn)(unsigned long acc, unsigned long n, void *patch, unsigned long enc);

static void jit(void)
{
    uint32_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    /* loop: add x0, x0, #1; subs x1, x1, #1; b.ne loop; ret */
    code[0] = ADD_X0_IMM(1);
    code[1] = SUBS_X1_1;
    code[2] = BNE_BACK(2);
    code[3] = RET;
    __builtin___clear_cache((char *)code, (char *)(code + 4));
    jit_fn f = (jit_fn)code;
    unsigned long r1 = f(0, 200000, 0, 0);
    code[0] = ADD_X0_IMM(3);  /* rewrite the hot loop, then run it again */
    __builtin___clear_cache((char *)code, (char *)(code + 4));
    unsigned long r2 = f(0, 200000, 0, 0);
    printf("jit: %lu %lu\n", r1, r2);

    /* A loop that rewrites its own add and synchronises with ISB each iteration:
       loop: str w3, [x2]; isb; add x0, x0, #1; subs x1, x1, #1; b.ne loop; ret */
    uint32_t *c2 = code + 64;
    c2[0] = STR_W3_X2;
    c2[1] = ISB;
    c2[2] = ADD_X0_IMM(1);
    c2[3] = SUBS_X1_1;
    c2[4] = BNE_BACK(4);
    c2[5] = RET;
    __builtin___clear_cache((char *)c2, (char *)(c2 + 6));
    unsigned long r3 = ((jit_fn)c2)(0, 300, &c2[2], ADD_X0_IMM(2));
    printf("self-modifying loop: %lu, add now #%u\n", r3, (c2[2] >> 10) & 0xfff);
    munmap(code, 4096);
}

int main(void)
{
    unsigned long total = 0;
    for (unsigned long n = 1; n < 3000; n++)
        total += collatz_steps(n);
    printf("collatz: %lu\n", total);
    printf("nested: %lu\n", nested(2000));
    printf("calls: %lu\n", calls(200000));
    printf("dispatch: %lu\n", dispatch(200000));
    fault_in_loop();
    jit();
    return 0;
}
