/* System V IPC: shared memory (shared with a child), message queues, semaphores. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c) printf("%-64s %s\n", #c, (c) ? "ok" : "FAIL")

union semun { int val; struct semid_ds *buf; unsigned short *array; };
struct msg { long mtype; char text[32]; };

int main(void)
{
    int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
    CHECK(id >= 0);
    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1 && p[0] == 0 && p[9999] == 0);
    struct shmid_ds ds;
    CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_segsz == 10000 && ds.shm_nattch == 1);
    CHECK((ds.shm_perm.mode & 0777) == 0600);
    pid_t pid = fork();
    if (pid == 0) {
        strcpy(p, "from the child");
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    CHECK(strcmp(p, "from the child") == 0);
    char *q = shmat(id, NULL, SHM_RDONLY);
    CHECK(q != (void *)-1 && q != p && strcmp(q, "from the child") == 0);
    CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2);
    CHECK(shmdt(q) == 0);
    CHECK(shmdt(q) == -1 && errno == EINVAL);
    CHECK(shmat(id, (void *)0x12345, 0) == (void *)-1 && errno == EINVAL);
    CHECK(shmdt(p) == 0);
    CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 0);
    CHECK(shmctl(id, IPC_RMID, NULL) == 0);
    CHECK(shmat(id, NULL, 0) == (void *)-1 && errno == EINVAL);

    int mq = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    CHECK(mq >= 0);
    struct msg m = {2, "second"}, n = {1, "first"};
    CHECK(msgsnd(mq, &m, strlen(m.text) + 1, 0) == 0);
    CHECK(msgsnd(mq, &n, strlen(n.text) + 1, 0) == 0);
    struct msqid_ds mds;
    CHECK(msgctl(mq, IPC_STAT, &mds) == 0 && mds.msg_qnum == 2);
    struct msg r;
    memset(&r, 0, sizeof r);
    CHECK(msgrcv(mq, &r, sizeof r.text, 1, 0) == 6 && r.mtype == 1 && strcmp(r.text, "first") == 0);
    CHECK(msgrcv(mq, &r, sizeof r.text, 0, 0) == 7 && r.mtype == 2 && strcmp(r.text, "second") == 0);
    CHECK(msgrcv(mq, &r, sizeof r.text, 0, IPC_NOWAIT) == -1 && errno == ENOMSG);
    CHECK(msgctl(mq, IPC_RMID, NULL) == 0);

    int sem = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    CHECK(sem >= 0);
    union semun arg;
    unsigned short vals[3] = {1, 2, 3}, out[3] = {0};
    arg.array = vals;
    CHECK(semctl(sem, 0, SETALL, arg) == 0);
    arg.array = out;
    CHECK(semctl(sem, 0, GETALL, arg) == 0 && out[0] == 1 && out[1] == 2 && out[2] == 3);
    struct sembuf op = {1, -2, IPC_NOWAIT};
    CHECK(semop(sem, &op, 1) == 0 && semctl(sem, 1, GETVAL) == 0);
    CHECK(semop(sem, &op, 1) == -1 && errno == EAGAIN);
    arg.val = 7;
    CHECK(semctl(sem, 2, SETVAL, arg) == 0 && semctl(sem, 2, GETVAL) == 7);
    struct semid_ds sds;
    arg.buf = &sds;
    CHECK(semctl(sem, 0, IPC_STAT, arg) == 0 && sds.sem_nsems == 3 && (sds.sem_perm.mode & 0777) == 0600);
    sds.sem_perm.mode = 0640;
    CHECK(semctl(sem, 0, IPC_SET, arg) == 0);
    CHECK(semctl(sem, 0, IPC_STAT, arg) == 0 && (sds.sem_perm.mode & 0777) == 0640 && sds.sem_nsems == 3);
    struct timespec ts = {0, 1000000};
    struct sembuf wait0 = {0, -5, 0};
    CHECK(semtimedop(sem, &wait0, 1, &ts) == -1 && errno == EAGAIN);
    CHECK(semctl(sem, 0, IPC_RMID) == 0);
    return 0;
}
