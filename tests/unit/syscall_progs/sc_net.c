/*
 * Sockets (unix and loopback inet), fd passing, poll/ppoll/select/pselect,
 * epoll and eventfd. Port numbers and fd numbers are not printed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define CHECK(c) printf("%-64s %s\n", #c, (c) ? "ok" : "FAIL")

int main(void)
{
    int sv[2];
    char buf[256];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(send(sv[0], "ping", 4, 0) == 4);
    memset(buf, 0, sizeof buf);
    CHECK(recv(sv[1], buf, sizeof buf, 0) == 4 && strcmp(buf, "ping") == 0);
    CHECK(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN);
    int type = 0;
    socklen_t len = sizeof type;
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM && len == 4);
    int one = 1;
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0);

    /* sendmsg with SCM_RIGHTS and a two-piece iovec */
    int pfd[2];
    pipe(pfd);
    write(pfd[1], "through the pipe", 16);
    struct iovec iov[2] = {{"fd ", 3}, {"message", 7}};
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &pfd[0], sizeof(int));
    CHECK(sendmsg(sv[0], &msg, 0) == 10);
    char r1[4] = {0}, r2[16] = {0}, rc[CMSG_SPACE(sizeof(int)) + 64];
    struct iovec riov[2] = {{r1, 3}, {r2, 15}};
    struct msghdr rmsg = {.msg_iov = riov, .msg_iovlen = 2, .msg_control = rc, .msg_controllen = sizeof rc};
    CHECK(recvmsg(sv[1], &rmsg, 0) == 10 && strcmp(r1, "fd ") == 0 && strcmp(r2, "message") == 0);
    struct cmsghdr *rcm = CMSG_FIRSTHDR(&rmsg);
    CHECK(rcm && rcm->cmsg_type == SCM_RIGHTS && rmsg.msg_controllen == CMSG_SPACE(sizeof(int)));
    int got;
    memcpy(&got, CMSG_DATA(rcm), sizeof got);
    memset(buf, 0, sizeof buf);
    CHECK(read(got, buf, 16) == 16 && strcmp(buf, "through the pipe") == 0);
    close(got);
    close(pfd[0]);
    close(pfd[1]);
    CHECK(shutdown(sv[0], SHUT_WR) == 0);
    CHECK(recv(sv[1], buf, sizeof buf, 0) == 0);
    close(sv[0]);
    close(sv[1]);

    /* datagram unix socket bound to a path */
    int us = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path, "sock");
    CHECK(bind(us, (struct sockaddr *)&un, sizeof un) == 0);
    CHECK(bind(us, (struct sockaddr *)&un, sizeof un) == -1 && errno == EADDRINUSE);
    int uc = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(sendto(uc, "dgram", 5, 0, (struct sockaddr *)&un, sizeof un) == 5);
    struct sockaddr_un from;
    socklen_t flen = sizeof from;
    memset(buf, 0, sizeof buf);
    CHECK(recvfrom(us, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen) == 5 && strcmp(buf, "dgram") == 0);
    CHECK(flen == 0);  /* the sender is not bound */
    close(uc);
    close(us);
    unlink("sock");

    /* TCP over loopback */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(ls, (struct sockaddr *)&sin, sizeof sin) == 0);
    CHECK(listen(ls, 4) == 0);
    socklen_t sl = sizeof sin;
    CHECK(getsockname(ls, (struct sockaddr *)&sin, &sl) == 0 && sl == sizeof sin && ntohs(sin.sin_port) > 0);
    int cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    CHECK(connect(cs, (struct sockaddr *)&sin, sizeof sin) == 0);
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    int as = accept4(ls, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK);
    CHECK(as >= 0 && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    CHECK((fcntl(as, F_GETFL) & O_NONBLOCK) != 0);
    CHECK(setsockopt(cs, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    pl = sizeof peer;
    CHECK(getpeername(cs, (struct sockaddr *)&peer, &pl) == 0 && peer.sin_port == sin.sin_port);
    CHECK(write(cs, "over tcp", 8) == 8);

    /* poll and select see it */
    struct pollfd pf = {.fd = as, .events = POLLIN};
    CHECK(poll(&pf, 1, 2000) == 1 && (pf.revents & POLLIN));
    struct timespec zero = {0, 0};
    pf.revents = 0;
    CHECK(ppoll(&pf, 1, &zero, NULL) == 1);
    fd_set rfds;
    FD_ZERO(&rfds);
    FD_SET(as, &rfds);
    struct timeval tv = {1, 0};
    CHECK(select(as + 1, &rfds, NULL, NULL, &tv) == 1 && FD_ISSET(as, &rfds));
    FD_ZERO(&rfds);
    FD_SET(as, &rfds);
    CHECK(pselect(as + 1, &rfds, NULL, NULL, &zero, NULL) == 1);
    memset(buf, 0, sizeof buf);
    CHECK(read(as, buf, sizeof buf) == 8 && strcmp(buf, "over tcp") == 0);
    CHECK(read(as, buf, sizeof buf) == -1 && errno == EAGAIN);
    pf.revents = 0;
    CHECK(poll(&pf, 1, 10) == 0);

    /* epoll and eventfd */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(ep >= 0 && ev >= 0);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ULL};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) == 0);
    e.data.u64 = 42;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, as, &e) == 0);
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, as, &e) == -1 && errno == EEXIST);
    struct epoll_event out[4];
    CHECK(epoll_wait(ep, out, 4, 0) == 0);
    uint64_t val = 5;
    CHECK(write(ev, &val, 8) == 8);
    CHECK(write(cs, "x", 1) == 1);
    int nready = 0;
    for (int tries = 0; tries < 100 && nready < 2; tries++)
        nready = epoll_wait(ep, out, 4, 100);
    CHECK(nready == 2);
    int saw_ev = 0, saw_sock = 0;
    for (int i = 0; i < nready; i++) {
        saw_ev |= out[i].data.u64 == 0x1122334455667788ULL && out[i].events == EPOLLIN;
        saw_sock |= out[i].data.u64 == 42;
    }
    CHECK(saw_ev && saw_sock);
    CHECK(read(ev, &val, 8) == 8 && val == 5);
    CHECK(read(ev, &val, 8) == -1 && errno == EAGAIN);
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, ev, NULL) == 0);
    CHECK(epoll_wait(ep, out, 0, 0) == -1 && errno == EINVAL);
    close(ep);
    close(ev);
    close(as);
    close(cs);
    close(ls);

    /* UDP */
    int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a1 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(u1, (struct sockaddr *)&a1, sizeof a1);
    sl = sizeof a1;
    getsockname(u1, (struct sockaddr *)&a1, &sl);
    CHECK(sendto(u2, "udp!", 4, 0, (struct sockaddr *)&a1, sizeof a1) == 4);
    memset(buf, 0, sizeof buf);
    CHECK(recvfrom(u1, buf, sizeof buf, 0, NULL, NULL) == 4 && strcmp(buf, "udp!") == 0);
    close(u1);
    close(u2);
    CHECK(socket(12345, SOCK_STREAM, 0) == -1 && errno == EAFNOSUPPORT);
    return 0;
}
