/* Ways to end: argv[1] picks one. The exit status must be the native one. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *thread_exit_group(void *arg)
{
    (void)arg;
    _exit(42); /* exit_group from a thread while main waits in a futex */
}

static void *thread_segv(void *arg)
{
    (void)arg;
    *(volatile int *)24 = 0;
    return NULL;
}

static void *thread_idle(void *arg)
{
    (void)arg;
    usleep(50000);
    printf("last thread leaves\n");
    return (void *)0;
}

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    pthread_t t;

    printf("mode %s\n", m);
    fflush(stdout);
    if (!strcmp(m, "abort"))
        abort();
    if (!strcmp(m, "segv"))
        *(volatile int *)8 = 1;
    if (!strcmp(m, "term"))
        raise(SIGTERM);
    if (!strcmp(m, "kill-usr2"))
        kill(getpid(), SIGUSR2);
    if (!strcmp(m, "blocked-segv")) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGSEGV);
        sigprocmask(SIG_BLOCK, &s, NULL); /* a blocked fault is still fatal */
        *(volatile int *)8 = 1;
    }
    if (!strcmp(m, "thread-exit-group")) {
        pthread_create(&t, NULL, thread_exit_group, NULL);
        pthread_join(t, NULL);
    }
    if (!strcmp(m, "thread-segv")) {
        pthread_create(&t, NULL, thread_segv, NULL);
        pthread_join(t, NULL);
    }
    if (!strcmp(m, "main-pthread-exit")) {
        pthread_create(&t, NULL, thread_idle, NULL);
        pthread_exit(NULL); /* the process lives on until its last thread exits */
    }
    if (!strcmp(m, "exit-code"))
        return 77;
    printf("survived\n");
    return 3;
}
