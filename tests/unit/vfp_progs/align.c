/* Alignment faults of VFP/NEON loads and stores: which accesses raise SIGBUS (7).
   Built for A32 and T32; pyqemu must print what qemu-arm prints. */
#include <stdio.h>
#include <signal.h>
#include <setjmp.h>
#include <string.h>
static sigjmp_buf jb; static volatile int sig;
static void h(int s) { sig = s; siglongjmp(jb, 1); }
static char buf[64] __attribute__((aligned(16)));
#define T(name, asmtxt) do { sig = 0; if (!sigsetjmp(jb, 1)) { __asm__ volatile(asmtxt :: "r"(buf + 2), "r"(buf + 4), "r"(buf+1) : "memory", "d0", "d1", "d2", "d3"); } printf("%s: %d\n", name, sig); } while (0)
int main(void) {
    signal(SIGBUS, h); signal(SIGSEGV, h); signal(SIGILL, h);
    T("vldr d0 +2", "vldr d0, [%0]");
    T("vldr s0 +1", "vldr s0, [%2]");
    T("vldmia +2", "vldmia %0, {d0-d1}");
    T("vld1.8 :128 +4", "vld1.8 {d0-d1}, [%1 :128]");
    T("vld1.8 :64 +4", "vld1.8 {d0}, [%1 :64]");
    T("vld1.32 lane :32 +2", "vld1.32 {d0[1]}, [%0 :32]");
    T("vld1.32 lane +2", "vld1.32 {d0[1]}, [%0]");
    T("vld4.8 all :32 +2", "vld4.8 {d0[],d1[],d2[],d3[]}, [%0 :32]");
    T("vld1.8 +1", "vld1.8 {d0-d1}, [%2]");
    T("vld2.16 +1", "vld2.16 {d0-d1}, [%2]");
    T("vst1.16 lane :16 +1", "vst1.16 {d2[1]}, [%2 :16]");
    return 0;
}
