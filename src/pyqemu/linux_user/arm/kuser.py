"""The ARM Linux kuser helpers: the vector page at 0xffff0000 (Documentation/arm/kernel_user_helpers.rst).

User code calls fixed addresses in the page::

    0xffff0f60 __kuser_cmpxchg64   r0 = &oldval, r1 = &newval, r2 = ptr (64-bit)
    0xffff0fa0 __kuser_memory_barrier
    0xffff0fc0 __kuser_cmpxchg     r0 = oldval, r1 = newval, r2 = ptr
    0xffff0fe0 __kuser_get_tls     r0 = TPIDRURO
    0xffff0ffc __kuser_helper_version (data: 5)

cmpxchg returns r0 = 0 and C set when it stored, else r0 != 0 and C clear;
every helper returns to ``lr`` (ARM or Thumb). Like qemu-arm, the page reads
as zeros apart from the version word, and a call into it is trapped rather
than run: the instruction fetch of the helper area yields ``svc #0`` (see
:func:`wrap_fetch`), and :func:`run_helper` performs the helper when that
SVC is taken. The compare-and-swaps are atomic with respect to the other
guest threads: they are those of the exclusives (``helper_a32_ldst.cmpxchg``,
under the atomics' lock and safe from racing plain stores). As in qemu-arm, a
misaligned pointer raises SIGBUS and an unwritable one SIGSEGV, delivered at
the return address (the helper is over).
"""
from __future__ import annotations

import struct

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.target.arm import cpu32 as C

PAGE = 0xFFFF0000
HELPERS_START = 0xFFFF0F60
HELPERS_END = 0xFFFF1000
CMPXCHG64, MEMORY_BARRIER, CMPXCHG, GET_TLS, VERSION = (0xFFFF0F60, 0xFFFF0FA0, 0xFFFF0FC0,
                                                        0xFFFF0FE0, 0xFFFF0FFC)
HELPER_VERSION = 5
_SVC0 = 0xEF000000  # the ARM-state SVC the fetch of a helper address returns
M32 = 0xFFFFFFFF


def map_page(mem) -> None:
    """Map the vector page read+exec with the helper version word (qemu-arm's contents)."""
    from pyqemu.linux_user.mmap import PAGE_SIZE, PROT_EXEC, PROT_READ
    data = bytearray(PAGE_SIZE)
    struct.pack_into("<I", data, VERSION - PAGE, HELPER_VERSION)
    mem.map(PAGE, PAGE_SIZE, PROT_READ | PROT_EXEC, bytes(data))


def wrap_fetch(fetch16):
    """An instruction fetch that traps the helper area (only while it is mapped executable)."""
    def fetch(addr: int) -> int:
        v = fetch16(addr)  # permission check first: an unmapped page still faults
        if HELPERS_START <= addr < HELPERS_END:
            return (_SVC0 >> 16) if addr & 2 else (_SVC0 & 0xFFFF)
        return v
    return fetch


def is_helper_return(cpu) -> bool:
    """Whether the SVC just taken is a helper trap (cpu.pc: the address after it)."""
    return HELPERS_START < cpu.pc <= HELPERS_END and not cpu.pc & 1


def run_helper(cpu) -> None:
    """Perform the helper whose trap was just taken and return to lr.
    Raises GuestException: "segv"/"bus" for a bad pointer of a cmpxchg (pinned to the
    return address, where qemu-arm delivers the signal), "segv" for an address that is
    no helper."""
    entry = (cpu.pc - 4) & M32
    R = cpu.regs
    ret = C.bx_key(R[C.REG_LR])
    if entry == GET_TLS:
        R[0] = R[C.REG_TPIDRURO] & M32
    elif entry == CMPXCHG or entry == CMPXCHG64:
        try:
            stored = _cmpxchg(cpu, entry == CMPXCHG64)
        except GuestException as e:
            e.pc = ret
            raise
        R[0] = 0 if stored else M32  # -1 on failure, as qemu-arm returns
        R[C.REG_CF] = int(stored)
    elif entry != MEMORY_BARRIER:
        raise GuestException("segv", entry, code=2)
    R[C.REG_EXCL_ADDR] = (1 << 64) - 1
    cpu.pc = ret


def _cmpxchg(cpu, wide: bool) -> bool:
    """__kuser_cmpxchg (r0 old, r1 new) or __kuser_cmpxchg64 (r0/r1 point to them) on the
    word at r2: whether it stored. Atomic like the exclusives (same lock, same store)."""
    from pyqemu.target.arm.helper_a32_ldst import cmpxchg
    R = cpu.regs
    if wide:
        mem = cpu.proc.mem
        old = int.from_bytes(mem.read(R[0] & M32, 8), "little")
        new = int.from_bytes(mem.read(R[1] & M32, 8), "little")
        return cmpxchg(cpu, R[2] & M32, 8, old, new) == old
    old = R[0] & M32
    return cmpxchg(cpu, R[2] & M32, 4, old, R[1]) == old
