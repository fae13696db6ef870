/* Four threads in hot loops update shared words with __atomic builtins (built
   for ARMv8.0 without outline atomics: LDXR/STXR, LDAXR/STLXR loops; for
   ARMv8.1: LSE instructions) and call a function whose own hot loop makes plain
   stores to the thread's slot. A spin lock made of an atomic exchange guards a
   plain counter. Every total must be exact. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>

#define NTHREADS 4
#define ITERS 16000

static uint64_t counter;      /* __atomic_fetch_add */
static uint64_t cas_sum;      /* compare-and-swap loop */
static uint32_t mask_word;    /* __atomic_fetch_xor */
static int lock;              /* __atomic_exchange spin lock ... */
static uint64_t locked_plain; /* ... around a plain read-modify-write */
struct slot {
    uint64_t last, acc[4];
} __attribute__((aligned(64)));
static struct slot slots[NTHREADS];
static pthread_barrier_t start;

/* Plain work between the atomics, a hot loop of its own (8 to 15 steps) with
   plain stores to the thread's slot. */
static __attribute__((noinline)) void work(struct slot *s, uint64_t i, unsigned t)
{
    uint64_t x = i ^ t;
    for (unsigned k = 0; k < 8 + (i & 7); k++) {
        x = x * 0x5851f42d4c957f2dULL + k;
        s->acc[k & 3] += x >> 7;
    }
    s->last = i;
}

static uint32_t bit(uint64_t i, unsigned t)
{
    return 1u << ((((uint32_t)i * 0x9e3779b1u) >> 27) + t) % 32;
}

static void *worker(void *arg)
{
    unsigned t = (unsigned)(uintptr_t)arg;
    pthread_barrier_wait(&start);
    for (uint64_t i = 0; i < ITERS; i++) {
        __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        uint64_t old = __atomic_load_n(&cas_sum, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&cas_sum, &old, old + i % 7 + t, 1, __ATOMIC_ACQ_REL,
                                            __ATOMIC_RELAXED))
            ;
        __atomic_fetch_xor(&mask_word, bit(i, t), __ATOMIC_SEQ_CST);
        if (i % 32 == 0) {
            while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
                while (__atomic_load_n(&lock, __ATOMIC_RELAXED))
                    sched_yield();
            locked_plain += i + t;
            __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
        }
        work(&slots[t], i, t);
    }
    return NULL;
}

int main(void)
{
    pthread_t th[NTHREADS];
    pthread_barrier_init(&start, NULL, NTHREADS);
    for (unsigned t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)t))
            return 2;
    for (unsigned t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);

    uint64_t want_cas = 0, want_locked = 0;
    uint32_t want_mask = 0;
    int ok = 1;
    for (unsigned t = 0; t < NTHREADS; t++) {
        struct slot want = {0};
        for (uint64_t i = 0; i < ITERS; i++) {
            want_cas += i % 7 + t;
            want_mask ^= bit(i, t);
            if (i % 32 == 0)
                want_locked += i + t;
            work(&want, i, t);
        }
        uint64_t got_sum = 0, want_sum = 0;
        for (int k = 0; k < 4; k++) {
            got_sum = got_sum * 31 + slots[t].acc[k];
            want_sum = want_sum * 31 + want.acc[k];
        }
        int slot_ok = slots[t].last == ITERS - 1 && got_sum == want_sum;
        printf("thread %u slot: last %llu, hash %016llx %s\n", t, (unsigned long long)slots[t].last,
               (unsigned long long)got_sum, slot_ok ? "ok" : "WRONG");
        ok &= slot_ok;
    }
    printf("counter %llu %s\n", (unsigned long long)counter, counter == (uint64_t)NTHREADS * ITERS ? "ok" : "WRONG");
    printf("cas sum %llu %s\n", (unsigned long long)cas_sum, cas_sum == want_cas ? "ok" : "WRONG");
    printf("xor mask %08x %s\n", mask_word, mask_word == want_mask ? "ok" : "WRONG");
    printf("locked plain sum %llu %s\n", (unsigned long long)locked_plain,
           locked_plain == want_locked ? "ok" : "WRONG");
    ok &= counter == (uint64_t)NTHREADS * ITERS && cas_sum == want_cas && mask_word == want_mask &&
          locked_plain == want_locked;
    printf("%s\n", ok ? "PASS" : "FAIL");
    return !ok;
}
