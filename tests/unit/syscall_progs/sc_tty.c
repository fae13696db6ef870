/* Terminal ioctls on a pseudo-terminal: isatty, window size, termios, pgrp. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define CHECK(c) printf("%-64s %s\r\n", #c, (c) ? "ok" : "FAIL")

int main(void)
{
    struct winsize ws;
    struct termios t, raw, back;
    CHECK(isatty(0) && isatty(1));
    CHECK(ioctl(1, TIOCGWINSZ, &ws) == 0);
    printf("rows=%d cols=%d\r\n", ws.ws_row, ws.ws_col);
    ws.ws_row = 33; ws.ws_col = 99;
    CHECK(ioctl(1, TIOCSWINSZ, &ws) == 0);
    memset(&ws, 0, sizeof ws);
    CHECK(ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row == 33 && ws.ws_col == 99);
    CHECK(tcgetattr(0, &t) == 0);
    printf("icanon=%d echo=%d isig=%d opost=%d cs8=%d ospeed=%d vintr=%d\r\n", !!(t.c_lflag & ICANON),
           !!(t.c_lflag & ECHO), !!(t.c_lflag & ISIG), !!(t.c_oflag & OPOST), (t.c_cflag & CSIZE) == CS8,
           (int)cfgetospeed(&t), t.c_cc[VINTR]);
    raw = t;
    cfmakeraw(&raw);
    CHECK(tcsetattr(0, TCSANOW, &raw) == 0);
    CHECK(tcgetattr(0, &back) == 0 && !(back.c_lflag & (ICANON | ECHO)));
    CHECK(tcsetattr(0, TCSAFLUSH, &t) == 0);
    CHECK(tcgetattr(0, &back) == 0 && (back.c_lflag & ICANON));
    int n = -1;
    CHECK(ioctl(0, FIONREAD, &n) == 0 && n == 0);
    CHECK(tcgetpgrp(0) == getpgrp());
    CHECK(tcdrain(1) == 0);
    CHECK(tcflush(0, TCIFLUSH) == 0);
    char *name = ttyname(0);
    CHECK(name != NULL && strncmp(name, "/dev/pts/", 9) == 0);
    return 0;
}
