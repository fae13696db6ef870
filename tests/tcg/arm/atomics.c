/*
 * C11 atomics.  Built with -march=armv8-a, so GCC uses the ARMv8 AArch32
 * load-acquire/store-release instructions: LDA/STL (B/H), LDAEX/STLEX
 * (B/H/D) for read-modify-write, besides LDREX/STREX and DMB.
 * Single-threaded results for every type and operation, then threads
 * hammering shared counters, a spinlock and a lock-free stack of indices.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define NTHREADS 4
#define ITERS 20000

static _Atomic uint8_t a8 = 0xf0;
static _Atomic uint16_t a16 = 0x1234;
static _Atomic uint32_t a32 = 100;
static _Atomic uint64_t a64 = 0x0123456789abcdefULL;
static _Atomic int32_t s32 = -5;

#define SHOW(name, expr) printf("%-28s %llx\n", name, (unsigned long long)(expr))

/* Values read through volatile so GCC cannot fold them (and GCC 12 -marm does
 * not hit an internal error on a 64-bit CAS against constants). */
static volatile uint64_t v_old = 0x4444444455555555ULL, v_new = 0x0102030405060708ULL;

__attribute__((noinline)) static void single_threaded(void)
{
    SHOW("load8 seq_cst", atomic_load(&a8));
    SHOW("load16 acquire", atomic_load_explicit(&a16, memory_order_acquire));
    SHOW("load32 seq_cst", atomic_load(&a32));
    SHOW("load64 acquire", atomic_load_explicit(&a64, memory_order_acquire));

    atomic_store_explicit(&a8, 0x5a, memory_order_release);
    atomic_store(&a16, 0xbeef);
    atomic_store_explicit(&a32, 0xdeadbeef, memory_order_release);
    atomic_store(&a64, 0xfedcba9876543210ULL);
    SHOW("after stores a8", atomic_load(&a8));
    SHOW("after stores a16", atomic_load(&a16));
    SHOW("after stores a32", atomic_load(&a32));
    SHOW("after stores a64", atomic_load(&a64));

    SHOW("fetch_add8", atomic_fetch_add(&a8, 0xb0));
    SHOW("a8 wrapped", atomic_load(&a8));
    SHOW("fetch_sub16", atomic_fetch_sub(&a16, 0xbef0));
    SHOW("a16 wrapped", atomic_load(&a16));
    SHOW("fetch_and32", atomic_fetch_and(&a32, 0x0ff00ff0));
    SHOW("fetch_or32", atomic_fetch_or_explicit(&a32, 0x1, memory_order_acq_rel));
    SHOW("fetch_xor32", atomic_fetch_xor_explicit(&a32, 0xffff, memory_order_release));
    SHOW("a32", atomic_load(&a32));
    SHOW("fetch_add64", atomic_fetch_add(&a64, 0x0123456789abcdf0ULL));
    SHOW("a64 carry", atomic_load(&a64));
    SHOW("fetch_sub64 acquire", atomic_fetch_sub_explicit(&a64, 1, memory_order_acquire));
    SHOW("fetch_xor64", atomic_fetch_xor(&a64, 0xffffffff00000000ULL));
    SHOW("a64", atomic_load(&a64));
    SHOW("fetch_add s32", (uint32_t)atomic_fetch_add(&s32, -10));
    printf("%-28s %d\n", "s32", atomic_load(&s32));

    SHOW("exchange8", atomic_exchange(&a8, 0x11));
    SHOW("exchange16", atomic_exchange_explicit(&a16, 0x2222, memory_order_acquire));
    SHOW("exchange32", atomic_exchange(&a32, 0x33333333));
    SHOW("exchange64", atomic_exchange_explicit(&a64, 0x4444444455555555ULL, memory_order_release));

    uint8_t e8 = 0x11;
    uint16_t e16 = 0x9999;
    uint32_t e32 = 0x33333333;
    uint64_t e64 = v_old;
    int ok;
    ok = atomic_compare_exchange_strong(&a8, &e8, 0x12);
    printf("cas8 ok=%d expected=%x now=%x\n", ok, e8, atomic_load(&a8));
    ok = atomic_compare_exchange_strong(&a16, &e16, 0x1);
    printf("cas16 (fails) ok=%d expected=%x now=%x\n", ok, e16, atomic_load(&a16));
    ok = atomic_compare_exchange_strong_explicit(&a32, &e32, 7, memory_order_acq_rel, memory_order_acquire);
    printf("cas32 ok=%d expected=%x now=%x\n", ok, e32, atomic_load(&a32));
    ok = atomic_compare_exchange_strong(&a64, &e64, v_new);
    printf("cas64 ok=%d expected=%llx now=%llx\n", ok, (unsigned long long)e64,
           (unsigned long long)atomic_load(&a64));
    e64 = 0;
    ok = atomic_compare_exchange_strong(&a64, &e64, 1);
    printf("cas64 (fails) ok=%d expected=%llx\n", ok, (unsigned long long)e64);
    uint32_t w = atomic_load(&a32);
    while (!atomic_compare_exchange_weak(&a32, &w, w * 3 + 1)) {
    }
    printf("cas_weak loop a32=%x\n", atomic_load(&a32));

    atomic_flag flag = ATOMIC_FLAG_INIT;
    int first = atomic_flag_test_and_set(&flag);
    int second = atomic_flag_test_and_set_explicit(&flag, memory_order_acquire);
    atomic_flag_clear_explicit(&flag, memory_order_release);
    int third = atomic_flag_test_and_set(&flag);
    printf("flag: %d %d %d\n", first, second, third);

    atomic_thread_fence(memory_order_seq_cst);
    atomic_signal_fence(memory_order_acq_rel);
    printf("lock-free: 8=%d 16=%d 32=%d 64=%d\n", atomic_is_lock_free(&a8), atomic_is_lock_free(&a16),
           atomic_is_lock_free(&a32), atomic_is_lock_free(&a64));
}

static _Atomic uint32_t counter32;
static _Atomic uint64_t counter64;
static _Atomic uint16_t counter16;
static atomic_flag spin = ATOMIC_FLAG_INIT;
static uint64_t guarded; /* protected by spin */
static _Atomic uint32_t max_seen;

__attribute__((noinline)) static void *worker(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    for (int i = 0; i < ITERS; i++) {
        atomic_fetch_add_explicit(&counter32, 1, memory_order_relaxed);
        atomic_fetch_add(&counter64, 0x100000001ULL);
        atomic_fetch_add_explicit(&counter16, 3, memory_order_acq_rel);
        while (atomic_flag_test_and_set_explicit(&spin, memory_order_acquire)) {
        }
        guarded += id + 1;
        atomic_flag_clear_explicit(&spin, memory_order_release);
        uint32_t v = (uint32_t)i * (id + 1);
        uint32_t cur = atomic_load_explicit(&max_seen, memory_order_relaxed);
        while (cur < v && !atomic_compare_exchange_weak(&max_seen, &cur, v)) {
        }
    }
    return NULL;
}

int main(void)
{
    single_threaded();

    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
    }
    printf("counter32=%u (expect %u)\n", atomic_load(&counter32), NTHREADS * ITERS);
    printf("counter64=%llx\n", (unsigned long long)atomic_load(&counter64));
    printf("counter16=%u\n", atomic_load(&counter16));
    printf("guarded=%llu\n", (unsigned long long)guarded);
    printf("max_seen=%u\n", atomic_load(&max_seen));
    int fail = atomic_load(&counter32) != NTHREADS * ITERS
               || atomic_load(&counter64) != (uint64_t)NTHREADS * ITERS * 0x100000001ULL;
    if (fail) {
        printf("FAIL: lost updates\n");
    }
    return fail;
}
