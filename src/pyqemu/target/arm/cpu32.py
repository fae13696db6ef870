"""AArch32 CPU state (user mode: ARMv7-A with the ARMv8 AArch32 additions).

Registers live in one Python list, as for AArch64 (generated code caches the
ones a block uses in locals). The layout:

* 0..14 R0..R14 (13 is SP, 14 is LR); R15 is not stored: ``cpu.pc`` is it
* 16..19 the condition flags, kept as QEMU keeps them for AArch32 so that each
  flag is a separate value and dead flags disappear one by one:
  NF (N is bit 31), ZF (Z is ``ZF == 0``), CF (0 or 1), VF (V is bit 31)
* 20 QF (the sticky saturation flag, 0 or 1), 21 GE (the four GE bits, 0..15)
* 22 TPIDRURW, 23 TPIDRURO, 24 FPSCR (all of it, NZCV included)
* 25/26/27 the exclusive monitor: address (all ones: open), value, size
* 32..63 D0..D31 (64-bit each; S<2n> is the low half of D<n>, S<2n+1> the
  high half; Q<n> is D<2n+1>:D<2n>)

``cpu.pc`` holds the address of the next instruction *with the instruction
set in bit 0*: ``addr | 1`` in Thumb state, ``addr`` (4-aligned) in ARM
state. It is also the key of translated blocks, so an ARM and a Thumb block
at the same address never mix, and an interworking branch (BX) jumps to its
operand's value directly (after clearing bit 1 of an ARM-state target).
"""
from __future__ import annotations

REG_SP, REG_LR = 13, 14
REG_NF, REG_ZF, REG_CF, REG_VF = 16, 17, 18, 19
REG_QF, REG_GE = 20, 21
REG_TPIDRURW, REG_TPIDRURO, REG_FPSCR = 22, 23, 24
REG_EXCL_ADDR, REG_EXCL_VAL, REG_EXCL_SIZE = 25, 26, 27
REG_D0 = 32
NREGS = REG_D0 + 32

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF

CPSR_N, CPSR_Z, CPSR_C, CPSR_V, CPSR_Q = 1 << 31, 1 << 30, 1 << 29, 1 << 28, 1 << 27
CPSR_T = 1 << 5
CPSR_GE_SHIFT = 16
MODE_USR = 0x10


def key_for(addr: int, thumb: bool) -> int:
    """The block key (and ``cpu.pc`` value) of ``addr`` in the given instruction set."""
    return (addr & ~1) | 1 if thumb else addr & ~3


def bx_key(value: int) -> int:
    """Where BX/BLX/LDR-to-PC with ``value`` goes: Thumb if bit 0 is set, else ARM."""
    value &= M32
    return value if value & 1 else value & ~3


class ARMCPU32:
    """The architectural state of one AArch32 vCPU (user mode)."""

    def __init__(self) -> None:
        self.regs: list[int] = [0] * NREGS
        self.regs[REG_EXCL_ADDR] = (1 << 64) - 1
        self.pc = 0
        self.icount = 0  # guest instructions executed (only counted for benchmarks)
        self.icount_limit = 1 << 62
        self.midr = 0x410FC0F1  # Cortex-A15 r0p1 (QEMU's qemu-arm default is "max"; see docs)
        self.mpidr = 0x80000000
        self.ctr = 0x8444C004

    # --- CPSR as software sees it (MRS, signal frames) -----------------------------
    @property
    def thumb(self) -> bool:
        return bool(self.pc & 1)

    @property
    def addr(self) -> int:
        """Address of the next instruction (``cpu.pc`` without the Thumb bit)."""
        return self.pc & ~1

    @property
    def nzcv(self) -> int:
        """N, Z, C, V in bits 31..28."""
        r = self.regs
        return ((r[REG_NF] & CPSR_N) | (0 if r[REG_ZF] else CPSR_Z)
                | (CPSR_C if r[REG_CF] else 0) | ((r[REG_VF] >> 3) & CPSR_V))

    @nzcv.setter
    def nzcv(self, value: int) -> None:
        r = self.regs
        r[REG_NF] = value & CPSR_N
        r[REG_ZF] = 0 if value & CPSR_Z else 1
        r[REG_CF] = (value >> 29) & 1
        r[REG_VF] = (value << 3) & CPSR_N

    @property
    def cpsr(self) -> int:
        """The user-visible CPSR (APSR plus T and the mode)."""
        r = self.regs
        return (self.nzcv | (CPSR_Q if r[REG_QF] else 0) | ((r[REG_GE] & 0xF) << CPSR_GE_SHIFT)
                | (CPSR_T if self.pc & 1 else 0) | MODE_USR)

    def set_cpsr(self, value: int, thumb_too: bool = True) -> None:
        """Write the APSR bits (and, for sigreturn, the T bit) of the CPSR."""
        r = self.regs
        self.nzcv = value
        r[REG_QF] = (value >> 27) & 1
        r[REG_GE] = (value >> CPSR_GE_SHIFT) & 0xF
        if thumb_too:
            self.pc = key_for(self.pc, bool(value & CPSR_T))

    def dump(self) -> str:
        r = self.regs
        out = []
        for i in range(15):
            out.append(f"R{i:02d}={r[i]:08x}" + ("\n" if i % 4 == 3 else " "))
        out.append(f"R15={self.addr:08x}\n")
        n = self.nzcv
        flags = "".join(ch if n & bit else "-" for ch, bit in
                        (("N", CPSR_N), ("Z", CPSR_Z), ("C", CPSR_C), ("V", CPSR_V)))
        out.append(f"PSR={self.cpsr:08x} {flags} {'T' if self.thumb else 'A'} usr32\n")
        return "".join(out)
