/*
 * posix_spawn and system(): glibc implements both with clone(CLONE_VM |
 * CLONE_VFORK) on a separate stack, which emulators must handle.
 * (posix_spawn of a missing file is not tested: qemu-aarch64 treats
 * CLONE_VFORK like fork, so the exec error never reaches the parent.)
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(void)
{
    pid_t pid;
    int status;

    setvbuf(stdout, NULL, _IONBF, 0);

    char *argv[] = {"sh", "-c", "echo spawned $0; exit 9", "child", NULL};
    /* print only after waitpid: qemu-aarch64 runs vfork children concurrently */
    int rc = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
    waitpid(pid, &status, 0);
    printf("posix_spawn rc=%d\n", rc);
    printf("spawned child status=%d\n", WEXITSTATUS(status));

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
    char *argv2[] = {"echo", "this goes to /dev/null", NULL};
    rc = posix_spawnp(&pid, "echo", &fa, NULL, argv2, environ);
    waitpid(pid, &status, 0);
    printf("posix_spawnp rc=%d status=%d\n", rc, WEXITSTATUS(status));
    posix_spawn_file_actions_destroy(&fa);

    status = system("echo from system; exit 3");
    printf("system status=%d\n", WEXITSTATUS(status));

    FILE *f = popen("echo one; echo two", "r");
    char line[64];
    while (fgets(line, sizeof(line), f)) {
        printf("popen read: %s", line);
    }
    printf("pclose=%d\n", WEXITSTATUS(pclose(f)));
    return 0;
}
