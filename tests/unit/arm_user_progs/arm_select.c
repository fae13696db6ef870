/* select on 32-bit ARM: glibc's pselect6 with a 32-bit timespec; fd_sets are arrays of
 * 4-byte longs, so the word after a one-long set must stay untouched. Prints facts. */
#include <stdio.h>
#include <sys/select.h>
#include <unistd.h>
#include <string.h>
int main(void){ int p[2]; pipe(p); write(p[1], "x", 1);
 struct { unsigned long set[1]; unsigned long guard; } r = {{0}, 0x12345678};
 r.set[0] = 1u << p[0];
 struct timeval tv = {0, 1000};
 int n = select(p[0] + 1, (fd_set *)&r, 0, 0, &tv);
 printf("select=%d bit=%d guard=%lx\n", n, (int)(r.set[0] >> p[0]) & 1, r.guard);
 fd_set w; FD_ZERO(&w); FD_SET(p[1], &w); tv.tv_usec = 1000;
 printf("select w=%d isset=%d\n", select(p[1] + 1, 0, &w, 0, &tv), FD_ISSET(p[1], &w));
 return 0; }
