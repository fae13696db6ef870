/* System V IPC and wait4 on 32-bit ARM: msgsnd/msgrcv with a 4-byte mtype, the *ctl calls
 * with ARM's 32-bit *64_ds structures, semctl values, a child's rusage. Prints facts. */
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <unistd.h>
struct m { long mtype; char text[16]; };
union semun { int val; struct semid_ds *buf; unsigned short *array; };
int main(void){ int q = msgget(IPC_PRIVATE, 0600); printf("q ok=%d\n", q >= 0);
 struct m a = {7, "seven"}, b = {3, "three"}, r;
 printf("snd=%d %d\n", msgsnd(q, &a, 6, 0), msgsnd(q, &b, 6, 0));
 memset(&r, 0, sizeof r); printf("rcv=%zd type=%ld %s\n", msgrcv(q, &r, 16, 3, 0), r.mtype, r.text);
 struct msqid_ds ds; printf("stat=%d qnum=%lu mode=%o uid_ok=%d\n", msgctl(q, IPC_STAT, &ds), (unsigned long)ds.msg_qnum, ds.msg_perm.mode & 0777, ds.msg_perm.uid == getuid());
 ds.msg_perm.mode = 0640; printf("set=%d\n", msgctl(q, IPC_SET, &ds)); msgctl(q, IPC_STAT, &ds); printf("mode=%o\n", ds.msg_perm.mode & 0777);
 memset(&r, 0, sizeof r); printf("rcv=%zd type=%ld %s\n", msgrcv(q, &r, 16, 0, 0), r.mtype, r.text);
 printf("rm=%d\n", msgctl(q, IPC_RMID, 0));
 int s = shmget(IPC_PRIVATE, 8192, 0600); struct shmid_ds sd; char *p = shmat(s, 0, 0);
 printf("shm stat=%d size=%zu nattch=%lu\n", shmctl(s, IPC_STAT, &sd), sd.shm_segsz, (unsigned long)sd.shm_nattch);
 shmdt(p); printf("shm rm=%d\n", shmctl(s, IPC_RMID, 0));
 int sem = semget(IPC_PRIVATE, 3, 0600); union semun u; struct semid_ds sds; u.buf = &sds;
 printf("sem stat=%d nsems=%lu\n", semctl(sem, 0, IPC_STAT, u), (unsigned long)sds.sem_nsems);
 u.val = 5; printf("setval=%d getval=%d\n", semctl(sem, 1, SETVAL, u), semctl(sem, 1, GETVAL));
 printf("sem rm=%d\n", semctl(sem, 0, IPC_RMID));
 pid_t pid = fork(); if (!pid) { for (volatile int i = 0; i < 100000; i++); _exit(3); }
 int st; struct rusage ru; memset(&ru, 0xff, sizeof ru);
 printf("wait4=%d st=%d ru_sane=%d\n", wait4(pid, &st, 0, &ru) == pid, WEXITSTATUS(st), ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000 && ru.ru_maxrss >= 0);
 return 0; }
