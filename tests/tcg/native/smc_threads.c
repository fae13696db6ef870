/* Threads that share translated code: four threads run hot loops that call, through a
   function-pointer table (computed jumps), small functions emitted as A64 words into
   one shared RWX page, one 64-byte slot per thread. Every K iterations a thread
   rewrites its own slot, so the page's translations are dropped while the other
   threads translate, run and form regions from code on the same page. Each thread's
   sum must reflect every version of its own function. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#define NTHREADS 4
#define ITERS 60000
#define REWRITE_EVERY 1500

#include "a64_emit.h"

static volatile uint32_t *page;
static pthread_barrier_t start;
static uint64_t got[NTHREADS], want[NTHREADS];

static uint32_t twice(uint32_t x, uint32_t y) { return 2 * x + y; }
static uint32_t mixed(uint32_t x, uint32_t y) { return (x ^ (y << 3)) + 7; }

static void *worker(void *arg)
{
    unsigned t = (unsigned)(uintptr_t)arg;
    volatile uint32_t *code = page + 16 * t;
    fn_t table[4] = {(fn_t)code, twice, (fn_t)code, mixed};
    uint64_t sum = 0, model_sum = 0;
    unsigned v = 0;
    pthread_barrier_wait(&start);
    for (unsigned i = 0; i < ITERS; i++) {
        if (i % REWRITE_EVERY == 0) {
            v = t * 1000 + i / REWRITE_EVERY;
            emit(code, v);
        }
        uint32_t y = i * 3 + t;
        unsigned k = (i ^ (i >> 2)) & 3;
        sum += table[k](i, y);
        model_sum += (k & 1) == 0 ? model(v, i, y) : k == 1 ? twice(i, y) : mixed(i, y);
    }
    got[t] = sum;
    want[t] = model_sum;
    return NULL;
}

int main(void)
{
    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return 2;
    pthread_t th[NTHREADS];
    pthread_barrier_init(&start, NULL, NTHREADS);
    for (unsigned t = 0; t < NTHREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)t);
    int failures = 0;
    for (unsigned t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        printf("thread %u: %llu %s\n", t, (unsigned long long)got[t], got[t] == want[t] ? "ok" : "WRONG");
        failures += got[t] != want[t];
    }
    printf("%s\n", failures ? "FAIL" : "PASS");
    return failures != 0;
}
