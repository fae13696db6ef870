/* Threads and signals: mutex/condvar, thread-directed signals to a thread
 * blocked in a futex or in read(), faults in threads, process-directed
 * signals taken by the thread that does not block them, exit from a thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 4
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int ready, go;
static volatile pid_t handler_tid;
static volatile int usr1_hits, usr2_hits;
static volatile pid_t usr2_tid;
static __thread sigjmp_buf tjmp;
static volatile void *fault_addr;

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }
static void on_usr1(int sig) { (void)sig; usr1_hits++; handler_tid = gettid_(); }
static void on_usr2(int sig) { (void)sig; usr2_hits++; usr2_tid = gettid_(); }
static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    fault_addr = si->si_addr;
    siglongjmp(tjmp, 1);
}

static void *adder(void *arg)
{
    for (int i = 0; i < 3000; i++) {
        pthread_mutex_lock(&mu);
        counter += (long)arg;
        pthread_mutex_unlock(&mu);
    }
    return (void *)(long)gettid_();
}

static volatile pid_t waiter_tid;
static void *cond_waiter(void *arg)
{
    (void)arg;
    waiter_tid = gettid_();
    pthread_mutex_lock(&mu);
    ready = 1;
    pthread_cond_broadcast(&cv);
    while (!go)
        pthread_cond_wait(&cv, &mu); /* woken by the signal, then waits again */
    pthread_mutex_unlock(&mu);
    return NULL;
}

static int rpipe[2];
static void *reader(void *arg)
{
    char c;
    (void)arg;
    waiter_tid = gettid_();
    __atomic_store_n(&ready, 2, __ATOMIC_SEQ_CST);
    errno = 0;
    ssize_t n = read(rpipe[0], &c, 1);
    return (void *)(long)(n == -1 && errno == EINTR ? 1 : 100 + n);
}

static void *faulter(void *arg)
{
    (void)arg;
    if (sigsetjmp(tjmp, 1) == 0) {
        *(volatile int *)16 = 1;
        return (void *)0;
    }
    return (void *)(long)(fault_addr == (void *)16 ? 7 : 8);
}

static void *usr2_taker(void *arg)
{
    (void)arg;
    while (!usr2_hits)
        usleep(1000);
    return NULL;
}

static void *forker(void *arg)
{
    (void)arg;
    pid_t p = fork(); /* the child holds only this thread */
    if (p == 0) {
        usr1_hits = 0;
        raise(SIGUSR1);
        _exit(usr1_hits == 1 ? 21 : 22);
    }
    int st;
    waitpid(p, &st, 0);
    return (void *)(long)WEXITSTATUS(st);
}

static void *exiter(void *arg)
{
    (void)arg;
    usleep(20000);
    printf("thread calls exit(5)\n");
    exit(5);
}

int main(void)
{
    pthread_t th[N], t;
    void *ret;
    struct sigaction sa;

    setvbuf(stdout, NULL, _IONBF, 0);
    /* 1: mutexes and joins */
    for (long i = 0; i < N; i++)
        pthread_create(&th[i], NULL, adder, (void *)(i + 1));
    int distinct = 1;
    pid_t tids[N];
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], &ret);
        tids[i] = (pid_t)(long)ret;
        for (int j = 0; j < i; j++)
            distinct &= tids[j] != tids[i];
        distinct &= tids[i] != getpid();
    }
    printf("counter=%ld distinct-tids=%d\n", counter, distinct);

    /* 2: pthread_kill to a thread blocked in pthread_cond_wait */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_create(&t, NULL, cond_waiter, NULL);
    pthread_mutex_lock(&mu);
    while (!ready)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    usleep(20000);
    pthread_kill(t, SIGUSR1);
    while (!usr1_hits)
        usleep(1000);
    pthread_mutex_lock(&mu);
    go = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(t, NULL);
    printf("condwait signal: hits=%d in-thread=%d\n", usr1_hits, handler_tid == waiter_tid);

    /* 3: pthread_kill to a thread blocked in read(): EINTR (no SA_RESTART) */
    pipe(rpipe);
    ready = 0;
    pthread_create(&t, NULL, reader, NULL);
    while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) != 2)
        usleep(1000);
    usleep(50000);
    pthread_kill(t, SIGUSR1);
    pthread_join(t, &ret);
    printf("read in thread interrupted: %ld hits=%d in-thread=%d\n", (long)ret, usr1_hits,
           handler_tid == waiter_tid);

    /* 4: a fault in a thread is handled by that thread */
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    pthread_create(&t, NULL, faulter, NULL);
    pthread_join(t, &ret);
    printf("fault in thread: %ld\n", (long)ret);

    /* 5: a process-directed signal goes to the thread that does not block it */
    signal(SIGUSR2, on_usr2);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_create(&t, NULL, usr2_taker, NULL);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    usleep(10000);
    kill(getpid(), SIGUSR2);
    pthread_join(t, NULL);
    printf("process signal: hits=%d by-main=%d\n", usr2_hits, usr2_tid == getpid());

    /* 6: fork from a thread */
    pthread_create(&t, NULL, forker, NULL);
    pthread_join(t, &ret);
    printf("fork in thread: child exited %ld\n", (long)ret);

    /* 7: exit() in a thread ends the process while main waits */
    pthread_create(&t, NULL, exiter, NULL);
    pthread_join(t, NULL);
    printf("not reached\n");
    return 0;
}
