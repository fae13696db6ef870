/* Page faults on the n-th iteration of hot loops: the loops walk arrays whose
   pages are PROT_NONE, one in two; a SIGSEGV handler (SA_SIGINFO) makes the
   faulting page readable and writable and returns, so the faulting load or
   store runs again and the loop carries on. The loops have run natively over
   the accessible first page before. Checksums and the fault addresses (as
   offsets from the array) are printed. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 16
#define MAXFAULTS 64

static long pg;
static unsigned char *base;
static volatile uintptr_t faults[MAXFAULTS];
static volatile int nfaults;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr;
    if (nfaults < MAXFAULTS)
        faults[nfaults] = a - (uintptr_t)base;
    nfaults++;
    if (a < (uintptr_t)base || a >= (uintptr_t)base + PAGES * pg || nfaults > MAXFAULTS)
        _exit(3); /* a fault that is not ours: the loop would fault forever */
    mprotect((void *)(a & ~(uintptr_t)(pg - 1)), pg, PROT_READ | PROT_WRITE);
}

/* Load, modify and store every element: the load faults. */
static __attribute__((noinline)) uint64_t rmw(uint64_t *a, long n, uint64_t k)
{
    uint64_t sum = 0;
    for (long i = 0; i < n; i++) {
        uint64_t v = a[i] * k + (uint64_t)i;
        a[i] = v;
        sum = (sum ^ v) * 0x100000001b3UL;
        sum ^= sum >> 29;
    }
    return sum;
}

/* Stores only (32-bit): the store faults. */
static __attribute__((noinline)) void fill(uint32_t *a, long n, uint32_t seed)
{
    for (long i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        a[i] = seed ^ (uint32_t)i;
    }
}

/* Byte loads with a data-dependent stride: faults land mid-page. */
static __attribute__((noinline)) uint64_t hop(const unsigned char *a, long len)
{
    uint64_t h = 0;
    for (long i = 0; i < len; i += 1 + (a[i] & 7))
        h = h * 31 + a[i] + (uint64_t)i;
    return h;
}

static void protect_odd_pages(void)
{
    for (int p = 1; p < PAGES; p += 2)
        mprotect(base + p * pg, pg, PROT_NONE);
}

static void report(const char *what, uint64_t result)
{
    printf("%s: %016llx, %d faults at", what, (unsigned long long)result, nfaults);
    for (int i = 0; i < nfaults && i < MAXFAULTS; i++)
        printf(" +%#lx", (unsigned long)faults[i]);
    printf("\n");
    nfaults = 0;
}

int main(void)
{
    pg = sysconf(_SC_PAGESIZE);
    base = mmap(NULL, PAGES * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);

    uint64_t *q = (uint64_t *)base;
    long q_per_page = pg / 8;
    /* warm up on the first page (no faults), then run into the protected pages */
    uint64_t warm = 0;
    for (int r = 0; r < 200; r++)
        warm ^= rmw(q, q_per_page, 3);
    report("rmw warm-up", warm);
    protect_odd_pages();
    report("rmw", rmw(q, PAGES * q_per_page, 5));

    uint32_t *w = (uint32_t *)base;
    for (int r = 0; r < 200; r++)
        fill(w, pg / 4, (uint32_t)r);
    protect_odd_pages();
    fill(w, PAGES * pg / 4, 12345);
    uint64_t s = 0;
    for (long i = 0; i < PAGES * pg / 4; i++)
        s = (s ^ w[i] ^ s >> 31) * 1099511628211UL;
    report("fill", s);

    for (int r = 0; r < 100; r++)
        s ^= hop(base, pg);
    protect_odd_pages();
    report("hop", hop(base, PAGES * pg) ^ s);
    return 0;
}
