/* The emulated /proc/self files of a 32-bit ARM process: cmdline, auxv (4-byte words, the
 * kernel's order), stat's comm. Prints facts. */
#include <stdio.h>
#include <string.h>
#include <elf.h>
int main(int argc, char **argv){ char b[4096]; FILE*f=fopen("/proc/self/cmdline","r"); size_t n=fread(b,1,sizeof b,f); fclose(f);
for(size_t i=0;i<n;i++) putchar(b[i]?b[i]:'|'); putchar('\n');
f=fopen("/proc/self/auxv","r"); n=fread(b,1,sizeof b,f); fclose(f); Elf32_auxv_t*a=(void*)b; int k=0;
for(;a->a_type;a++) if(a->a_type==AT_PAGESZ||a->a_type==AT_HWCAP||a->a_type==AT_PHNUM) printf("%u=%x\n",a->a_type,a->a_un.a_val), k++;
printf("n=%d size_mult=%d\n",k,(int)(n%8));
f=fopen("/proc/self/stat","r"); fgets(b,sizeof b,f); *strchr(b,')')=0; printf("%s\n", strchr(b,'(')); return 0;}
