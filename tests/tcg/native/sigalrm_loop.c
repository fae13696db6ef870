/* A hot loop interrupted by SIGALRM and SIGVTALRM (setitimer ITIMER_REAL, then
   ITIMER_VIRTUAL) after it has gone native: the handler counts signals, records
   how far the loop had got and sets a flag that the loop polls. The loop must
   stop right after the handler ran (it polls the flag every iteration), and its
   hash must equal a plain recomputation's over the same number of iterations.
   What is printed does not depend on when the signals arrive. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

/* The loop gives up here if no signal stopped it: seconds even natively, far
   longer than the signal latency (pyqemu delivers signals between slices of up to
   ~6e7 iterations of this loop when it runs natively). */
#define LIMIT (1UL << 31)
#define WARMUP 400000UL  /* iterations before the timer is armed: the loop goes native */

static volatile sig_atomic_t stop;
static volatile sig_atomic_t signals;
static volatile unsigned long iter;        /* the loop's position, stored every iteration */
static volatile unsigned long iter_at_signal;

static void on_timer(int sig)
{
    (void)sig;
    signals++;
    iter_at_signal = iter;
    stop = 1;
}

static unsigned long mix(unsigned long h, unsigned long i)
{
    h ^= i * 0x9e3779b97f4a7c15UL;
    h = (h << 13 | h >> 51) * 5 + 0xe6546b64;
    return h;
}

/* The hot loop: runs until `stop` is set or `limit` iterations; *hash gets the hash. */
static __attribute__((noinline)) unsigned long spin(unsigned long limit, unsigned long *hash)
{
    unsigned long h = 0x6a09e667f3bcc908UL, i;
    for (i = 0; i < limit && !stop; i++) {
        h = mix(h, i);
        iter = i;
    }
    *hash = h;
    return i;
}

/* The same hash, computed differently (two iterations per step, no polling). */
static __attribute__((noinline)) unsigned long recompute(unsigned long n)
{
    unsigned long h = 0x6a09e667f3bcc908UL, i = 0;
    for (; i + 1 < n; i += 2)
        h = mix(mix(h, i), i + 1);
    if (i < n)
        h = mix(h, i);
    return h;
}

static int run_round(int round, int which, unsigned long usec)
{
    unsigned long hash;
    stop = 0;
    iter = 0;
    iter_at_signal = ~0UL;
    struct itimerval it = {.it_interval = {0, usec}, .it_value = {0, usec}};
    setitimer(which, &it, NULL);
    unsigned long n = spin(LIMIT, &hash);
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(which, &off, NULL);
    int by_signal = n < LIMIT;
    /* the handler saw iteration k (or 0 before the first store); the loop ends after
       finishing the iteration it was in: n == k + 1, or n == k + 2 when the signal came
       between the flag test and the store of `iter` */
    unsigned long lag = n - iter_at_signal;
    int lag_ok = by_signal && (lag == 1 || lag == 2 || (iter_at_signal == 0 && n <= 2));
    int hash_ok = hash == recompute(n);
    printf("round %d: stopped by signal %d, lag ok %d, hash ok %d\n", round, by_signal, lag_ok, hash_ok);
    if (!lag_ok)
        printf("  n %lu, iteration seen by the handler %lu\n", n, iter_at_signal);
    return by_signal && lag_ok && hash_ok;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_timer;
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGVTALRM, &sa, NULL);

    unsigned long hash;
    unsigned long n = spin(WARMUP, &hash); /* deterministic: no timer yet */
    printf("warmup: %lu iterations, hash %016lx\n", n, hash);

    int ok = 1;
    ok &= run_round(0, ITIMER_REAL, 20000);
    ok &= run_round(1, ITIMER_VIRTUAL, 30000);
    printf("signals >= 2: %d\n", signals >= 2);
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
