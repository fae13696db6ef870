"""The AArch64 Linux signal frame (``struct rt_sigframe``), as arch/arm64/kernel/signal.c lays it out.

Above the frame the kernel pushes a frame record ``{x29, x30}`` (so that
unwinders can walk through a handler); the frame itself is::

    struct rt_sigframe {
        siginfo_t info;                  //    0: 128 bytes
        struct ucontext uc;              //  128
    };
    struct ucontext {
        unsigned long uc_flags;          //    0
        struct ucontext *uc_link;        //    8
        stack_t uc_stack;                //   16: ss_sp, ss_flags (int), ss_size
        sigset_t uc_sigmask;             //   40 (then padding to 1024 bits)
        struct sigcontext uc_mcontext;   //  176 (16-aligned)
    };
    struct sigcontext {
        __u64 fault_address, regs[31], sp, pc, pstate;   // 0, 8, 256, 264, 272
        __u8 __reserved[4096];           //  288: a list of records, see below
    };

``__reserved`` holds records ``{u32 magic, u32 size, ...}``: the FP/SIMD state
(``fpsimd_context``: magic 0x46508001, fpsr, fpcr, vregs[32]), for faults an
``esr_context``, and a zero terminator.
"""
from __future__ import annotations

import struct

from pyqemu.target.arm.cpu import REG_FPCR, REG_FPSR, REG_V0

SIGINFO_SIZE = 128
UC_OFF = SIGINFO_SIZE
UC_STACK = 16
UC_SIGMASK = 40
UC_MCONTEXT = 176
MC_FAULT_ADDRESS = 0
MC_REGS = 8
MC_SP = 256
MC_PC = 264
MC_PSTATE = 272
MC_RESERVED = 288
RESERVED_SIZE = 4096
MCONTEXT_OFF = UC_OFF + UC_MCONTEXT           # 304
RESERVED_OFF = MCONTEXT_OFF + MC_RESERVED     # 592
FRAME_SIZE = RESERVED_OFF + RESERVED_SIZE     # 4688 == sizeof(struct rt_sigframe)
FRAME_RECORD_SIZE = 16

FPSIMD_MAGIC = 0x46508001
FPSIMD_SIZE = 16 + 32 * 16                    # 528
ESR_MAGIC = 0x45535201
ESR_SIZE = 16
EXTRA_MAGIC = 0x45585401

NZCV_MASK = 0xF0000000
# PSTATE bits a user context may not set: DAIF, nRW (AArch32) and the mode (must be EL0t).
PSTATE_BAD = (0xF << 6) | (1 << 4) | 0xF

_HEAD = struct.Struct("<QQQiIQQ")             # uc_flags, uc_link, ss_sp, ss_flags, pad, ss_size, mask
_GPRS = struct.Struct("<Q31QQQQ")             # fault_address, regs, sp, pc, pstate
_REC = struct.Struct("<II")
_FPSR_FPCR = struct.Struct("<II")
M64 = 0xFFFFFFFFFFFFFFFF
M128 = (1 << 128) - 1


def frame_location(sp_top: int) -> tuple[int, int]:
    """(frame_record, frame) addresses for a frame built below `sp_top`."""
    record = (sp_top - FRAME_RECORD_SIZE) & ~15
    frame = (record & ~15) - FRAME_SIZE
    return record, frame


def build_frame(cpu, info: bytes, mask: int, stack: tuple[int, int, int],
                fault_address: int = 0, esr: int = 0) -> bytes:
    """The bytes of an rt_sigframe saving `cpu`'s state.

    `info` is the 128-byte siginfo, `mask` the signal mask to restore on
    sigreturn, `stack` the (ss_sp, ss_flags, ss_size) for uc_stack.
    """
    R = cpu.regs
    buf = bytearray(FRAME_SIZE)
    buf[0:SIGINFO_SIZE] = info
    ss_sp, ss_flags, ss_size = stack
    _HEAD.pack_into(buf, UC_OFF, 0, 0, ss_sp & M64, ss_flags, 0, ss_size & M64, mask & M64)
    _GPRS.pack_into(buf, MCONTEXT_OFF, fault_address & M64, *R[0:31], R[31], cpu.pc & M64,
                    cpu.nzcv & NZCV_MASK)
    off = RESERVED_OFF
    _REC.pack_into(buf, off, FPSIMD_MAGIC, FPSIMD_SIZE)
    _FPSR_FPCR.pack_into(buf, off + 8, R[REG_FPSR] & 0xFFFFFFFF, R[REG_FPCR] & 0xFFFFFFFF)
    vb = b"".join(v.to_bytes(16, "little") for v in R[REG_V0:REG_V0 + 32])
    buf[off + 16:off + FPSIMD_SIZE] = vb
    off += FPSIMD_SIZE
    if esr:
        _REC.pack_into(buf, off, ESR_MAGIC, ESR_SIZE)
        struct.pack_into("<Q", buf, off + 8, esr)
        off += ESR_SIZE
    # the terminator record {0, 0} is already zero
    return bytes(buf)


class BadFrame(Exception):
    """The frame given to rt_sigreturn is not one we can restore."""


def restore_frame(cpu, data: bytes) -> tuple[int, tuple[int, int, int]]:
    """Load `cpu`'s registers from the frame bytes `data` (rt_sigreturn).

    Returns ``(mask, uc_stack)``. Raises :class:`BadFrame` (nothing changed)
    if the frame is invalid.
    """
    if len(data) < FRAME_SIZE:
        raise BadFrame("short frame")
    _flags, _link, ss_sp, ss_flags, _pad, ss_size, mask = _HEAD.unpack_from(data, UC_OFF)
    vals = _GPRS.unpack_from(data, MCONTEXT_OFF)
    gprs = vals[1:32]
    sp, pc, pstate = vals[32], vals[33], vals[34]
    if pstate & PSTATE_BAD:
        raise BadFrame("invalid pstate")
    fp = None
    off = RESERVED_OFF
    end = RESERVED_OFF + RESERVED_SIZE
    while off + 8 <= end:
        magic, size = _REC.unpack_from(data, off)
        if magic == 0:
            break
        if size < 8 or size & 15 or off + size > end:
            raise BadFrame("bad record size")
        if magic == FPSIMD_MAGIC:
            if size != FPSIMD_SIZE or fp is not None:
                raise BadFrame("bad fpsimd record")
            fpsr, fpcr = _FPSR_FPCR.unpack_from(data, off + 8)
            raw = data[off + 16:off + FPSIMD_SIZE]
            vregs = [int.from_bytes(raw[i:i + 16], "little") for i in range(0, 512, 16)]
            fp = (fpsr, fpcr, vregs)
        elif magic == ESR_MAGIC:
            pass  # informational only
        else:
            raise BadFrame(f"unknown record {magic:#x}")
        off += size
    if fp is None:
        raise BadFrame("no fpsimd record")
    R = cpu.regs
    R[0:31] = gprs
    R[31] = sp
    cpu.pc = pc
    cpu.nzcv = pstate & NZCV_MASK
    fpsr, fpcr, vregs = fp
    R[REG_FPSR] = fpsr
    R[REG_FPCR] = fpcr
    R[REG_V0:REG_V0 + 32] = vregs
    return mask, (ss_sp, ss_flags, ss_size)


# --- siginfo ------------------------------------------------------------------------
_SI_HEAD = struct.Struct("<iii")


def siginfo(signo: int, code: int, errno_: int = 0, *, pid: int = 0, uid: int = 0,
            addr: int | None = None, status: int | None = None, utime: int = 0, stime: int = 0,
            value: int | None = None, tid: int | None = None, overrun: int = 0,
            band: int | None = None, fd: int = 0) -> bytes:
    """A 128-byte siginfo_t (LP64 layout: the union starts at offset 16)."""
    b = bytearray(SIGINFO_SIZE)
    _SI_HEAD.pack_into(b, 0, signo, errno_, code)
    if addr is not None:                       # _sigfault
        struct.pack_into("<Q", b, 16, addr & M64)
    elif tid is not None:                      # _timer
        struct.pack_into("<iiQ", b, 16, tid, overrun, (value or 0) & M64)
    elif band is not None:                     # _sigpoll
        struct.pack_into("<qi", b, 16, band, fd)
    else:                                      # _kill, _rt, _sigchld
        struct.pack_into("<iI", b, 16, pid, uid & 0xFFFFFFFF)
        if status is not None:
            struct.pack_into("<iiqq", b, 24, status, 0, utime, stime)
        elif value is not None:
            struct.pack_into("<Q", b, 24, value & M64)
    return bytes(b)


def siginfo_code(info: bytes) -> int:
    return _SI_HEAD.unpack_from(info, 0)[2]


def with_signo(info: bytes, signo: int) -> bytes:
    return struct.pack("<i", signo) + info[4:SIGINFO_SIZE]


# The return trampoline for handlers installed without SA_RESTORER:
#   mov x8, #139 (__NR_rt_sigreturn) ; svc #0
TRAMPOLINE = struct.pack("<II", 0xD2800000 | (139 << 5) | 8, 0xD4000001)
