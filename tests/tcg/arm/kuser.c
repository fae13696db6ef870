/*
 * The ARM Linux kernel user helpers in the vector page (0xffff0000), which
 * pre-ARMv6K code calls for TLS and atomics: __kuser_helper_version,
 * __kuser_get_tls, __kuser_memory_barrier, __kuser_cmpxchg and
 * __kuser_cmpxchg64 (Documentation/arm/kernel_user_helpers.rst), plus the
 * TLS register they mirror (TPIDRURO via MRC p15).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

typedef void *(*kuser_get_tls_t)(void);
typedef int (*kuser_cmpxchg_t)(int oldval, int newval, volatile int *ptr);
typedef int (*kuser_cmpxchg64_t)(const int64_t *oldval, const int64_t *newval, volatile int64_t *ptr);
typedef void (*kuser_memory_barrier_t)(void);

#define kuser_helper_version (*(volatile int32_t *)0xffff0ffc)
#define kuser_get_tls ((kuser_get_tls_t)0xffff0fe0)
#define kuser_cmpxchg ((kuser_cmpxchg_t)0xffff0fc0)
#define kuser_memory_barrier ((kuser_memory_barrier_t)0xffff0fa0)
#define kuser_cmpxchg64 ((kuser_cmpxchg64_t)0xffff0f60)

static volatile int counter;

static void atomic_add(volatile int *ptr, int val)
{
    int old;
    do {
        old = *ptr;
    } while (kuser_cmpxchg(old, old + val, ptr));
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5000; i++) {
        atomic_add(&counter, 1);
    }
    return NULL;
}

static void *tls_of_thread(void *arg)
{
    void *tp;
    (void)arg;
    __asm__ volatile("mrc p15, 0, %0, c13, c0, 3" : "=r"(tp));
    return (void *)(uintptr_t)(kuser_get_tls() == tp);
}

int main(void)
{
    int version = kuser_helper_version;
    printf("helper version >= 5: %d\n", version >= 5);

    void *tp;
    __asm__ volatile("mrc p15, 0, %0, c13, c0, 3" : "=r"(tp));
    printf("get_tls matches TPIDRURO: %d nonzero: %d\n", kuser_get_tls() == tp, tp != NULL);

    kuser_memory_barrier();

    volatile int v = 10;
    int r1 = kuser_cmpxchg(10, 20, &v);
    int v1 = v;
    int r2 = kuser_cmpxchg(10, 30, &v);
    printf("cmpxchg: ok=%d v=%d; fail=%d v=%d\n", r1 == 0, v1, r2 != 0, v);

    if (version >= 5) {
        volatile int64_t w = 0x1122334455667788LL;
        int64_t oldv = 0x1122334455667788LL, newv = -2;
        int r3 = kuser_cmpxchg64(&oldv, &newv, &w);
        int64_t w1 = w;
        int r4 = kuser_cmpxchg64(&oldv, &newv, &w);
        printf("cmpxchg64: ok=%d w=%llx; fail=%d\n", r3 == 0, (unsigned long long)w1, r4 != 0);
    }

    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        pthread_create(&th[i], NULL, worker, NULL);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
    }
    printf("counter=%d\n", counter);

    pthread_t t;
    void *same;
    pthread_create(&t, NULL, tls_of_thread, NULL);
    pthread_join(t, &same);
    printf("thread get_tls matches: %d\n", same != NULL);
    return counter == 15000 ? 0 : 1;
}
