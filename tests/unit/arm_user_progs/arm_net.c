/* sendmsg / recvmsg on 32-bit ARM: iovecs, a peer address, SCM_RIGHTS and SCM_CREDENTIALS
 * control messages, truncation (MSG_CTRUNC), sendmmsg / recvmmsg. Prints facts. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <fcntl.h>

int main(void) {
    int sv[2];
    printf("socketpair=%d\n", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    int one = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    int pfd[2];
    pipe(pfd);
    char cbuf[CMSG_SPACE(2 * sizeof(int))];
    struct iovec iov[2] = {{"abc", 3}, {"defg", 4}};
    struct msghdr m = {0};
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(c), pfd, 2 * sizeof(int));
    printf("sendmsg=%zd\n", sendmsg(sv[0], &m, 0));

    char data[16] = {0};
    struct iovec riov = {data, sizeof data};
    char rc[256];
    struct msghdr r = {0};
    r.msg_iov = &riov;
    r.msg_iovlen = 1;
    r.msg_control = rc;
    r.msg_controllen = sizeof rc;
    printf("recvmsg=%zd data=%s flags=%d\n", recvmsg(sv[1], &r, 0), data, r.msg_flags);
    for (c = CMSG_FIRSTHDR(&r); c; c = CMSG_NXTHDR(&r, c)) {
        printf("cmsg level=%d type=%d len=%u\n", c->cmsg_level, c->cmsg_type, (unsigned)c->cmsg_len);
        if (c->cmsg_type == SCM_RIGHTS) {
            int fds[2];
            memcpy(fds, CMSG_DATA(c), sizeof fds);
            write(fds[1], "P", 1);
            char x = 0;
            read(fds[0], &x, 1);
            printf("passed fds work=%d\n", x == 'P');
        } else if (c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred uc;
            memcpy(&uc, CMSG_DATA(c), sizeof uc);
            printf("cred pid ok=%d\n", uc.pid == getpid());
        }
    }
    printf("controllen=%u\n", (unsigned)r.msg_controllen);

    /* a control buffer too small: MSG_CTRUNC */
    c = CMSG_FIRSTHDR(&m);
    sendmsg(sv[0], &m, 0);
    char small[CMSG_SPACE(sizeof(int))];
    r.msg_control = small;
    r.msg_controllen = sizeof small;
    recvmsg(sv[1], &r, 0);
    printf("ctrunc=%d\n", !!(r.msg_flags & MSG_CTRUNC));

    struct mmsghdr mm[2];
    memset(mm, 0, sizeof mm);
    struct iovec a = {"one", 3}, b = {"three", 5};
    mm[0].msg_hdr.msg_iov = &a;
    mm[0].msg_hdr.msg_iovlen = 1;
    mm[1].msg_hdr.msg_iov = &b;
    mm[1].msg_hdr.msg_iovlen = 1;
    printf("sendmmsg=%d len=%u,%u\n", sendmmsg(sv[0], mm, 2, 0), mm[0].msg_len, mm[1].msg_len);
    char b1[8] = {0}, b2[8] = {0};
    struct iovec ra = {b1, 8}, rb = {b2, 8};
    struct mmsghdr rm[2];
    memset(rm, 0, sizeof rm);
    rm[0].msg_hdr.msg_iov = &ra;
    rm[0].msg_hdr.msg_iovlen = 1;
    rm[1].msg_hdr.msg_iov = &rb;
    rm[1].msg_hdr.msg_iovlen = 1;
    printf("recvmmsg=%d %s %s\n", recvmmsg(sv[1], rm, 2, 0, 0), b1, b2);
    return 0;
}
