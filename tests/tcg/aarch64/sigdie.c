/* Death by signal: default SIGTERM action must terminate the process. */
#include <signal.h>
#include <stdio.h>

int main(void)
{
    printf("raising SIGTERM\n");
    fflush(stdout);
    signal(SIGTERM, SIG_DFL);
    raise(SIGTERM);
    printf("not reached\n");
    return 0;
}
