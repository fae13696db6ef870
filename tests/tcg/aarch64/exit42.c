/* Exit status propagation: main's return value becomes the exit status. */
#include <stdio.h>

int main(void)
{
    printf("exiting with 42\n");
    return 42;
}
