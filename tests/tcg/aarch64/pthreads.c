/*
 * POSIX threads: mutex-protected counter, condition-variable producer/consumer
 * queue, pthread_once, barriers, thread-local storage, join return values,
 * and atomics (LDXR/STXR or LSE sequences).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define NTHREADS 4
#define INCREMENTS 2000
#define NITEMS 200

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static long atomic_counter;
static __thread long tls_value = 5;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_calls;
static pthread_barrier_t barrier;

static void once_fn(void)
{
    once_calls++;
}

static void *worker(void *arg)
{
    long id = (long)(intptr_t)arg;

    pthread_once(&once, once_fn);
    tls_value += id * 100;
    for (int i = 0; i < INCREMENTS; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
        __atomic_fetch_add(&atomic_counter, 2, __ATOMIC_SEQ_CST);
    }
    pthread_barrier_wait(&barrier);
    return (void *)(intptr_t)(tls_value * 10 + id);
}

/* bounded queue */
static int queue[8];
static int qhead, qtail, qcount;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;

static void put(int v)
{
    pthread_mutex_lock(&qlock);
    while (qcount == 8) {
        pthread_cond_wait(&not_full, &qlock);
    }
    queue[qtail] = v;
    qtail = (qtail + 1) % 8;
    qcount++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&qlock);
}

static int get(void)
{
    int v;

    pthread_mutex_lock(&qlock);
    while (qcount == 0) {
        pthread_cond_wait(&not_empty, &qlock);
    }
    v = queue[qhead];
    qhead = (qhead + 1) % 8;
    qcount--;
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&qlock);
    return v;
}

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 1; i <= NITEMS; i++) {
        put(i);
    }
    put(-1);
    return NULL;
}

static void *consumer(void *arg)
{
    long sum = 0, count = 0, ordered = 1, last = 0;
    int v;

    (void)arg;
    while ((v = get()) != -1) {
        sum += v;
        count++;
        if (v != last + 1) {
            ordered = 0;
        }
        last = v;
    }
    printf("consumer: count=%ld sum=%ld in-order=%ld\n", count, sum, ordered);
    return (void *)(intptr_t)sum;
}

int main(void)
{
    pthread_t th[NTHREADS], prod, cons;
    void *ret;

    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (long i = 0; i < NTHREADS; i++) {
        if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) != 0) {
            printf("pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], &ret);
        printf("thread %d returned %ld\n", i, (long)(intptr_t)ret);
    }
    printf("counter=%ld atomic=%ld once_calls=%d main-tls=%ld\n", counter, atomic_counter, once_calls,
           tls_value);

    pthread_create(&cons, NULL, consumer, NULL);
    pthread_create(&prod, NULL, producer, NULL);
    pthread_join(prod, NULL);
    pthread_join(cons, &ret);
    printf("queue sum=%ld\n", (long)(intptr_t)ret);

    /* trylock, recursive mutex, detached thread state */
    pthread_mutexattr_t ma;
    pthread_mutex_t rec;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&rec, &ma);
    int a = pthread_mutex_lock(&rec), b = pthread_mutex_lock(&rec);
    int c = pthread_mutex_unlock(&rec), d = pthread_mutex_unlock(&rec);
    printf("recursive: %d %d %d %d\n", a, b, c, d);
    pthread_mutex_lock(&lock);
    printf("trylock-busy=%d\n", pthread_mutex_trylock(&lock) != 0);
    pthread_mutex_unlock(&lock);
    printf("self-equal=%d\n", pthread_equal(pthread_self(), pthread_self()));
    return 0;
}
