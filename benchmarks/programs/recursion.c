/* Call-heavy recursion: naive Fibonacci and Ackermann. */
#include <stdio.h>

__attribute__((noinline)) static long fib(long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

__attribute__((noinline)) static long ack(long m, long n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ack(m - 1, 1);
    return ack(m - 1, ack(m, n - 1));
}

int main(void)
{
    printf("fib(25)=%ld ack(2,300)=%ld\n", fib(25), ack(2, 300));
    return 0;
}
