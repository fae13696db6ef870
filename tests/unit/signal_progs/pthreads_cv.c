/* Synchronisation built on futexes: condvar queue, timed waits, barriers,
 * rwlocks, semaphores, once, TLS and atomics across many threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NT 6
#define ITEMS 300
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nonempty = PTHREAD_COND_INITIALIZER, nonfull = PTHREAD_COND_INITIALIZER;
static int q[4], qh, qt, qn;
static long total;
static pthread_barrier_t bar;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long shared_table[16];
static sem_t sem;
static long atomic_sum;
static __thread int tls = 11;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;

static void init_once(void) { once_runs++; }

static void put(int v)
{
    pthread_mutex_lock(&mu);
    while (qn == 4)
        pthread_cond_wait(&nonfull, &mu);
    q[qt] = v;
    qt = (qt + 1) % 4;
    qn++;
    pthread_cond_signal(&nonempty);
    pthread_mutex_unlock(&mu);
}

static int get(void)
{
    pthread_mutex_lock(&mu);
    while (qn == 0)
        pthread_cond_wait(&nonempty, &mu);
    int v = q[qh];
    qh = (qh + 1) % 4;
    qn--;
    pthread_cond_signal(&nonfull);
    pthread_mutex_unlock(&mu);
    return v;
}

static void *producer(void *a)
{
    long id = (long)a;
    for (int i = 1; i <= ITEMS; i++)
        put((int)(id * 1000 + i));
    return NULL;
}

static void *consumer(void *a)
{
    long sum = 0;
    (void)a;
    for (int i = 0; i < ITEMS; i++)
        sum += get();
    pthread_mutex_lock(&mu);
    total += sum;
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void *worker(void *a)
{
    long id = (long)a;
    pthread_once(&once, init_once);
    tls += (int)id;
    for (int r = 0; r < 50; r++) {
        pthread_rwlock_wrlock(&rw);
        shared_table[id] += r;
        pthread_rwlock_unlock(&rw);
        pthread_rwlock_rdlock(&rw);
        long s = 0;
        for (int k = 0; k < 16; k++)
            s += shared_table[k];
        (void)s;
        pthread_rwlock_unlock(&rw);
        __atomic_fetch_add(&atomic_sum, id, __ATOMIC_SEQ_CST);
    }
    int serial = pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD;
    sem_post(&sem);
    return (void *)(long)(tls * 2 + serial);
}

int main(void)
{
    pthread_t p[3], c[3], w[NT];
    void *ret;

    for (long i = 0; i < 3; i++) {
        pthread_create(&c[i], NULL, consumer, NULL);
        pthread_create(&p[i], NULL, producer, (void *)(i + 1));
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(p[i], NULL);
        pthread_join(c[i], NULL);
    }
    printf("queue total=%ld\n", total);

    pthread_barrier_init(&bar, NULL, NT);
    sem_init(&sem, 0, 0);
    int serials = 0;
    long rets = 0;
    for (long i = 0; i < NT; i++)
        pthread_create(&w[i], NULL, worker, (void *)i);
    for (int i = 0; i < NT; i++)
        sem_wait(&sem);
    for (int i = 0; i < NT; i++) {
        pthread_join(w[i], &ret);
        serials += (long)ret & 1;
        rets += (long)ret >> 1;
    }
    long tsum = 0;
    for (int k = 0; k < 16; k++)
        tsum += shared_table[k];
    printf("workers: serial=%d tls-sum=%ld table=%ld atomic=%ld once=%d main-tls=%d\n", serials, rets, tsum,
           atomic_sum, once_runs, tls);

    /* a timed wait that times out, and sem_trywait on an empty semaphore */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 30000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&mu);
    int r = pthread_cond_timedwait(&nonempty, &mu, &ts);
    pthread_mutex_unlock(&mu);
    printf("timedwait: %s\n", r == ETIMEDOUT ? "ETIMEDOUT" : "other");
    printf("sem_trywait: %d EAGAIN=%d\n", sem_trywait(&sem), errno == EAGAIN);
    struct timespec rel;
    clock_gettime(CLOCK_REALTIME, &rel);
    rel.tv_nsec += 20000000;
    if (rel.tv_nsec >= 1000000000) {
        rel.tv_sec++;
        rel.tv_nsec -= 1000000000;
    }
    printf("sem_timedwait: %d ETIMEDOUT=%d\n", sem_timedwait(&sem, &rel), errno == ETIMEDOUT);
    pthread_mutex_t pi;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&pi, &ma);
    int a = pthread_mutex_lock(&pi), b = pthread_mutex_trylock(&pi), d = pthread_mutex_unlock(&pi);
    printf("pi mutex: %d %d %d\n", a, b == EBUSY, d);
    return 0;
}
