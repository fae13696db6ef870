/* Minimal smoke test: stdio, argv and environment. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *v = getenv("GUEST_TEST_VAR");

    printf("Hello, world!\n");
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++) {
        printf("argv[%d]=\"%s\"\n", i, argv[i]);
    }
    printf("GUEST_TEST_VAR=%s\n", v ? v : "(unset)");
    puts("bye");
    return 0;
}
