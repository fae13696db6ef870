/*
 * Processes: fork + exit status, death by signal, pipes between parent and
 * child, execve of host programs (/bin/sh, /bin/echo), exec failure, and
 * waitpid options.
 *
 * The children exec host (not guest) binaries on purpose: without binfmt_misc
 * an emulator cannot exec another AArch64 binary, and qemu-aarch64 passes
 * execve straight to the host kernel.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void report(const char *what, int status)
{
    if (WIFEXITED(status)) {
        printf("%s: exited status=%d\n", what, WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        printf("%s: killed by signal %d\n", what, WTERMSIG(status));
    } else {
        printf("%s: other status %#x\n", what, status);
    }
}

int main(void)
{
    int status, p[2];
    pid_t pid, w;

    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t parent = getpid();

    /* child exits with status 7 */
    pid = fork();
    if (pid == 0) {
        _exit(7);
    }
    w = waitpid(pid, &status, 0);
    printf("waitpid matched=%d\n", w == pid);
    report("exit7", status);

    /* child kills itself */
    pid = fork();
    if (pid == 0) {
        raise(SIGKILL);
        _exit(99);
    }
    waitpid(pid, &status, 0);
    report("sigkill", status);

    /* child writes into a pipe; child sees its parent's pid */
    if (pipe(p) != 0) {
        return 2;
    }
    pid = fork();
    if (pid == 0) {
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "hello from child, ppid-ok=%d", getppid() == parent);
        close(p[0]);
        if (write(p[1], msg, (size_t)n) != n) {
            _exit(3);
        }
        _exit(0);
    }
    close(p[1]);
    char buf[128] = {0};
    ssize_t total = 0, n;
    while ((n = read(p[0], buf + total, sizeof(buf) - 1 - (size_t)total)) > 0) {
        total += n;
    }
    close(p[0]);
    wait(&status);
    printf("pipe got: %s\n", buf);
    report("pipe-child", status);

    /* copy-on-write: child's changes are invisible to the parent */
    static int shared_value = 10;
    pid = fork();
    if (pid == 0) {
        shared_value = 20;
        _exit(shared_value);
    }
    waitpid(pid, &status, 0);
    printf("cow: parent=%d child-exit=%d\n", shared_value, WEXITSTATUS(status));

    /* execve of a host shell with arguments and environment */
    pid = fork();
    if (pid == 0) {
        char *argv[] = {"sh", "-c", "echo exec: $0 $1 \"$GREETING\"; exit 5", "arg0", "arg1", NULL};
        char *envp[] = {"GREETING=hi there", "PATH=/usr/bin:/bin", NULL};
        execve("/bin/sh", argv, envp);
        printf("execve failed: %s\n", strerror(errno));
        _exit(127);
    }
    waitpid(pid, &status, 0);
    report("execve-sh", status);

    /* execvp search */
    pid = fork();
    if (pid == 0) {
        char *argv[] = {"echo", "execvp", "works", NULL};
        execvp("echo", argv);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    report("execvp-echo", status);

    /* exec failure */
    errno = 0;
    char *argv[] = {"nope", NULL};
    int rc = execve("/nonexistent/program", argv, environ);
    printf("execve-missing: rc=%d ENOENT=%d\n", rc, errno == ENOENT);

    /* WNOHANG on a still-running child, then reap it */
    if (pipe(p) != 0) {
        return 2;
    }
    pid = fork();
    if (pid == 0) {
        char c;
        close(p[1]);
        n = read(p[0], &c, 1);
        _exit(n == 1 ? c - '0' : 100);
    }
    close(p[0]);
    w = waitpid(pid, &status, WNOHANG);
    printf("wnohang=%d\n", (int)w);
    if (write(p[1], "4", 1) != 1) {
        return 2;
    }
    close(p[1]);
    waitpid(pid, &status, 0);
    report("wnohang-child", status);

    w = wait(&status);
    printf("no-children: %d ECHILD=%d\n", (int)w, errno == ECHILD);
    return 0;
}
