"""AArch64 CPU state.

Registers live in one Python list (the fastest backing for generated code,
which caches the ones a block uses in locals). The layout:

* 0..30 X0..X30, 31 SP
* 32..34 the lazy condition flags: CC_OP, CC_A, CC_B (see ``CC_*``)
* 35 TPIDR_EL0, 36 FPCR, 37 FPSR, 38/39 the exclusive monitor (address, value)
* 40 TPIDRRO_EL0, 41 exclusive monitor size
* system mode: 42 PSTATE.DAIF (bits 9..6), 43 the interrupt lines that are up, as
  the DAIF bits that mask them (0x80 IRQ, 0x40 FIQ): translated code reads and
  writes DAIF and tests for an interrupt it unmasked without calling Python
* 64..95 V0..V31 as 128-bit unsigned integers

Condition flags are computed lazily: a flag-setting instruction records the
kind of operation and its operands; NZCV is derived only when something reads
it. ``CC_NZCV`` means CC_A holds the flags themselves (bits 31..28).
"""
from __future__ import annotations

REG_SP = 31
REG_CC_OP, REG_CC_A, REG_CC_B = 32, 33, 34
REG_TPIDR, REG_FPCR, REG_FPSR = 35, 36, 37
REG_EXCL_ADDR, REG_EXCL_VAL = 38, 39
REG_TPIDRRO = 40
REG_EXCL_SIZE = 41
REG_DAIF, REG_IRQ_PENDING = 42, 43
REG_V0 = 64
NREGS = REG_V0 + 32

CC_NZCV, CC_ADD32, CC_ADD64, CC_SUB32, CC_SUB64, CC_LOGIC32, CC_LOGIC64 = range(7)
CC_NAMES = ("NZCV", "ADD32", "ADD64", "SUB32", "SUB64", "LOGIC32", "LOGIC64")

N_BIT, Z_BIT, C_BIT, V_BIT = 1 << 31, 1 << 30, 1 << 29, 1 << 28

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def nzcv_from(op: int, a: int, b: int) -> int:
    """NZCV (in bits 31..28) from the lazy flag state."""
    if op == CC_NZCV:
        return a
    if op in (CC_LOGIC32, CC_LOGIC64):
        w = 32 if op == CC_LOGIC32 else 64
        return (N_BIT if a >> (w - 1) else 0) | (Z_BIT if a == 0 else 0)
    w = 32 if op in (CC_ADD32, CC_SUB32) else 64
    m = (1 << w) - 1
    s = 1 << (w - 1)
    if op in (CC_ADD32, CC_ADD64):
        full = a + b
        r = full & m
        c = full > m
        v = (a ^ r) & (b ^ r) & s
    else:
        r = (a - b) & m
        c = a >= b
        v = (a ^ b) & (a ^ r) & s
    return ((N_BIT if r & s else 0) | (Z_BIT if r == 0 else 0)
            | (C_BIT if c else 0) | (V_BIT if v else 0))


# Bit i of COND_TABLE[cc] says whether condition cc holds for NZCV == i.
def _cond_holds(cc: int, nzcv: int) -> bool:
    n, z, c, v = (nzcv >> 3) & 1, (nzcv >> 2) & 1, (nzcv >> 1) & 1, nzcv & 1
    base = cc >> 1
    r = [z == 1, c == 1, n == 1, v == 1, c == 1 and z == 0, n == v,
         n == v and z == 0, True][base]
    if cc & 1 and cc != 15:
        r = not r
    return r


COND_TABLE = tuple(sum(1 << i for i in range(16) if _cond_holds(cc, i)) for cc in range(16))


class ARMCPU:
    """The architectural state of one AArch64 vCPU (user mode for now)."""

    def __init__(self) -> None:
        self.regs: list[int] = [0] * NREGS
        self.regs[REG_CC_OP] = CC_NZCV
        self.regs[REG_EXCL_ADDR] = (1 << 64) - 1
        self.pc = 0
        self.icount = 0  # guest instructions executed (only counted for benchmarks)
        # With counted instructions (-icount), looping blocks stop once icount reaches this.
        self.icount_limit = 1 << 62
        self.midr = 0x410FD034  # Cortex-A53 r0p4, what qemu-aarch64 -cpu max-ish reports
        self.mpidr = 0x80000000
        self.ctr = 0x8444C004
        self.dczid = 4  # 64-byte DC ZVA blocks
        self.cntfrq = 62500000

    @property
    def nzcv(self) -> int:
        r = self.regs
        return nzcv_from(r[REG_CC_OP], r[REG_CC_A], r[REG_CC_B])

    @nzcv.setter
    def nzcv(self, value: int) -> None:
        r = self.regs
        r[REG_CC_OP] = CC_NZCV
        r[REG_CC_A] = value & 0xF0000000
        r[REG_CC_B] = 0

    def dump(self) -> str:
        r = self.regs
        out = []
        for i in range(0, 31):
            out.append(f"X{i:02d}={r[i]:016x}" + ("\n" if i % 4 == 3 else " "))
        out.append(f"SP ={r[REG_SP]:016x}\n")
        n = self.nzcv
        flags = "".join(ch if n & bit else "-" for ch, bit in
                        (("N", N_BIT), ("Z", Z_BIT), ("C", C_BIT), ("V", V_BIT)))
        out.append(f"PC={self.pc:016x} PSTATE={n:08x} {flags} EL0t\n")
        return "".join(out)
