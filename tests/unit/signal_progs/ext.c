/* External signals: argv[1] selects what the program waits in. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_term(int sig) { printf("handler %d\n", sig); fflush(stdout); _exit(7); }
static void *sleeper(void *a) { (void)a; for (;;) pause(); return NULL; }

int main(int argc, char **argv)
{
    int p[2];
    const char *mode = argc > 1 ? argv[1] : "read";
    if (strchr(mode, 'h'))
        signal(SIGTERM, on_term);
    pipe(p);
    printf("ready\n");
    fflush(stdout);
    if (strstr(mode, "read")) {
        char c;
        read(p[0], &c, 1);
    } else if (strstr(mode, "join")) {
        pthread_t t;
        pthread_create(&t, NULL, sleeper, NULL);
        pthread_join(t, NULL);
    } else if (strstr(mode, "sleep")) {
        sleep(100);
    } else if (strstr(mode, "spin")) {
        for (volatile long i = 0;; i++) ;
    } else if (strstr(mode, "pause")) {
        pause();
    }
    printf("woke\n");
    return 0;
}
