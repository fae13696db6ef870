/* The auxiliary vector and uname of a 32-bit ARM process: what the loader tells the program. */
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/utsname.h>

int main(int argc, char **argv, char **envp) {
    char **e = envp;
    while (*e)
        e++;
    int n = 0;
    for (Elf32_auxv_t *a = (void *)(e + 1); a->a_type != AT_NULL; a++)
        n++;
    printf("auxv entries %d\n", n > 10);
    printf("AT_HWCAP %lx\n", getauxval(AT_HWCAP));
    printf("AT_PAGESZ %lu\n", getauxval(AT_PAGESZ));
    printf("AT_CLKTCK %lu\n", getauxval(AT_CLKTCK));
    printf("AT_PHENT %lu\n", getauxval(AT_PHENT));
    printf("AT_PHNUM %lu\n", getauxval(AT_PHNUM));
    printf("AT_SECURE %lu\n", getauxval(AT_SECURE));
    printf("AT_PLATFORM %s\n", (char *)getauxval(AT_PLATFORM));
    printf("AT_EXECFN is argv0 %d\n", strcmp((char *)getauxval(AT_EXECFN), argv[0]) == 0);
    printf("AT_RANDOM set %d\n", getauxval(AT_RANDOM) != 0);
    printf("AT_ENTRY %lx\n", getauxval(AT_ENTRY));
    printf("AT_PHDR %lx\n", getauxval(AT_PHDR));
    struct utsname u;
    uname(&u);
    printf("machine %s\n", u.machine);
    printf("env %s\n", getenv("PYQEMU_ARM_T") ? getenv("PYQEMU_ARM_T") : "(unset)");
    int x;
    printf("stack below 4G and above the program %d\n", (unsigned long)&x > 0x10000);
    return argc;
}
