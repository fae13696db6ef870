"""The 32-bit ARM Linux signal frames, as arch/arm/kernel/signal.c lays them out.

::

    struct sigframe {                    // handlers without SA_SIGINFO
        struct ucontext uc;              //   0
        unsigned long retcode[2];        // 744
    };
    struct rt_sigframe {                 // SA_SIGINFO
        siginfo_t info;                  //   0: 128 bytes (ILP32 layout)
        struct sigframe sig;             // 128
    };
    struct ucontext {
        unsigned long uc_flags;          //   0
        struct ucontext *uc_link;        //   4
        stack_t uc_stack;                //   8: ss_sp, ss_flags, ss_size
        struct sigcontext uc_mcontext;   //  20: 21 words
        sigset_t uc_sigmask;             // 104
        int __unused[30];                // 112
        unsigned long uc_regspace[128];  // 232: records {magic, size, ...}; VFP, then 0
    };
    struct sigcontext {
        trap_no, error_code, oldmask, r0..r10, fp, ip, sp, lr, pc, cpsr, fault_address
    };

The VFP record (``struct vfp_sigframe``): magic 0x56465001, size 288,
d0..d31, fpscr (padded to 8), fpexc, fpinst, fpinst2.

The handler returns through ``lr``: the SA_RESTORER function (Thumb when
bit 0 is set), else a sigreturn sequence in a trampoline page (ARM or Thumb
to match the handler), which the kernel also copies into ``retcode``.
trap_no, error_code and fault_address are written as zero, as qemu-arm does.
"""
from __future__ import annotations

import struct

from pyqemu.target.arm import cpu32 as C

SIGINFO_SIZE = 128
UC_FLAGS, UC_LINK, UC_STACK, UC_MCONTEXT, UC_SIGMASK, UC_REGSPACE = 0, 4, 8, 20, 104, 232
UC_SIZE = UC_REGSPACE + 128 * 4  # 744
SIGFRAME_SIZE = UC_SIZE + 8  # 752
RT_SIGFRAME_SIZE = SIGINFO_SIZE + SIGFRAME_SIZE  # 880
UC_MAGIC_SIGFRAME = 0x5AC3C35A  # uc_flags of a non-RT frame (for debuggers)

VFP_MAGIC = 0x56465001
VFP_SIZE = 288
FPEXC_EN = 1 << 30

NR_SIGRETURN, NR_RT_SIGRETURN = 119, 173

# trampoline page / retcode words: [ARM sigreturn, Thumb sigreturn, ARM rt, Thumb rt]
_ARM_MOV_R7, _ARM_SVC0 = 0xE3A07000, 0xEF000000
_T_MOVS_R7, _T_SVC0 = 0x2700, 0xDF00


def _codes(nr: int) -> tuple[tuple[int, int], tuple[int, int]]:
    arm = (_ARM_MOV_R7 | nr, _ARM_SVC0)
    thumb = ((_T_MOVS_R7 | nr) | (_T_SVC0 << 16), 0)
    return arm, thumb


_RETCODES = [*_codes(NR_SIGRETURN), *_codes(NR_RT_SIGRETURN)]
TRAMPOLINE = b"".join(struct.pack("<II", *c) for c in _RETCODES)  # 8 bytes each

_SC = struct.Struct("<21I")


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v

_STACK = struct.Struct("<IiI")
M32 = 0xFFFFFFFF

# CPSR bits a user context may set on sigreturn: NZCVQ, IT/J?, GE, E, T (mode forced to USR).
_CPSR_USER = 0xF80F0000 | C.CPSR_T


class BadFrame(Exception):
    """The frame given to (rt_)sigreturn is not one we can restore."""


def frame_location(sp_top: int, rt: bool) -> int:
    """Address of a frame built below `sp_top` (8-byte aligned, as get_sigframe does)."""
    return (sp_top - (RT_SIGFRAME_SIZE if rt else SIGFRAME_SIZE)) & ~7


def retcode_index(rt: bool, thumb: bool) -> int:
    return (2 if rt else 0) + (1 if thumb else 0)


def build_ucontext(cpu, mask: int, stack: tuple[int, int, int] | None) -> bytearray:
    """The bytes of a struct ucontext saving `cpu`'s state (`stack`: uc_stack, or None)."""
    R = cpu.regs
    buf = bytearray(UC_SIZE)
    if stack is None:
        struct.pack_into("<I", buf, UC_FLAGS, UC_MAGIC_SIGFRAME)
    else:
        ss_sp, ss_flags, ss_size = stack
        _STACK.pack_into(buf, UC_STACK, ss_sp & M32, _s32(ss_flags), ss_size & M32)
    _SC.pack_into(buf, UC_MCONTEXT, 0, 0, mask & M32, *(r & M32 for r in R[0:15]),
                  cpu.addr & M32, cpu.cpsr & M32, 0)
    struct.pack_into("<Q", buf, UC_SIGMASK, mask & 0xFFFFFFFFFFFFFFFF)
    off = UC_REGSPACE
    struct.pack_into("<II", buf, off, VFP_MAGIC, VFP_SIZE)
    struct.pack_into("<32Q", buf, off + 8, *R[C.REG_D0:C.REG_D0 + 32])
    struct.pack_into("<I", buf, off + 8 + 256, R[C.REG_FPSCR] & M32)
    struct.pack_into("<III", buf, off + 8 + 264, FPEXC_EN, 0, 0)
    # the terminator (magic 0) is already zero
    return buf


def build_frame(cpu, rt: bool, info: bytes, mask: int, stack: tuple[int, int, int],
                thumb_handler: bool) -> bytes:
    """An rt_sigframe (`rt`, with the 128-byte ILP32 `info`) or a sigframe."""
    uc = build_ucontext(cpu, mask, stack if rt else None)
    codes = _RETCODES[retcode_index(rt, thumb_handler)]
    tail = struct.pack("<II", *codes)
    if rt:
        return bytes(info[:SIGINFO_SIZE]) + bytes(uc) + tail
    return bytes(uc) + tail


def restore_ucontext(cpu, data: bytes) -> tuple[int, tuple[int, int, int]]:
    """Load `cpu`'s registers from a struct ucontext (sigreturn). Returns
    ``(mask, uc_stack)``; raises :class:`BadFrame` with nothing changed."""
    if len(data) < UC_SIZE:
        raise BadFrame("short frame")
    sc = _SC.unpack_from(data, UC_MCONTEXT)
    gprs = sc[3:18]
    pc, cpsr = sc[18], sc[19]
    mask = struct.unpack_from("<Q", data, UC_SIGMASK)[0]
    ss = _STACK.unpack_from(data, UC_STACK)
    magic, size = struct.unpack_from("<II", data, UC_REGSPACE)
    vfp = None
    if magic == VFP_MAGIC:
        if size != VFP_SIZE:
            raise BadFrame("bad VFP record")
        off = UC_REGSPACE + 8
        vfp = (struct.unpack_from("<32Q", data, off), struct.unpack_from("<I", data, off + 256)[0])
    elif magic != 0:
        raise BadFrame(f"unknown record {magic:#x}")
    R = cpu.regs
    R[0:15] = list(gprs)
    thumb = bool(cpsr & C.CPSR_T)
    cpu.pc = C.key_for(pc, thumb)
    cpu.set_cpsr(cpsr & _CPSR_USER, thumb_too=False)
    if vfp is not None:
        R[C.REG_D0:C.REG_D0 + 32] = list(vfp[0])
        R[C.REG_FPSCR] = vfp[1]
    return mask, (ss[0], ss[1], ss[2])


# --- siginfo: the emulator builds LP64 siginfo (aarch64/signal_frame.py); 32-bit ARM sees ILP32 ---
_FAULT_SIGS = frozenset({4, 5, 7, 8, 11})  # SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV
SIGCHLD, SIGPOLL = 17, 29
SI_TIMER = -2


def siginfo_to_arm(info: bytes) -> bytes:
    """An LP64 siginfo_t (union at 16) -> the ILP32 one (union at 12, 4-byte longs)."""
    signo, err, code = struct.unpack_from("<iii", info, 0)
    out = bytearray(SIGINFO_SIZE)
    struct.pack_into("<iii", out, 0, signo, err, code)
    if code == SI_TIMER:
        tid, overrun, value = struct.unpack_from("<iiQ", info, 16)
        struct.pack_into("<iiI", out, 12, tid, overrun, value & M32)
    elif code > 0 and signo in _FAULT_SIGS:
        struct.pack_into("<I", out, 12, struct.unpack_from("<Q", info, 16)[0] & M32)
    elif code > 0 and signo == SIGCHLD:
        pid, uid, status, _pad, ut, st = struct.unpack_from("<iIiiqq", info, 16)
        struct.pack_into("<iIiii", out, 12, pid, uid, status, ut & M32, st & M32)
    elif code > 0 and signo == SIGPOLL:
        band, fd = struct.unpack_from("<qi", info, 16)
        struct.pack_into("<ii", out, 12, _s32(band), fd)
    else:  # _kill / _rt
        pid, uid, value = struct.unpack_from("<iIQ", info, 16)
        struct.pack_into("<iII", out, 12, pid, uid, value & M32)
    return bytes(out)


def siginfo_from_arm(raw: bytes) -> bytes:
    """An ILP32 siginfo_t from the guest (rt_sigqueueinfo) -> the emulator's LP64 one."""
    signo, err, code = struct.unpack_from("<iii", raw, 0)
    out = bytearray(SIGINFO_SIZE)
    struct.pack_into("<iii", out, 0, signo, err, code)
    if code == SI_TIMER:
        tid, overrun, value = struct.unpack_from("<iiI", raw, 12)
        struct.pack_into("<iiQ", out, 16, tid, overrun, value)
    elif code > 0 and signo in _FAULT_SIGS:
        struct.pack_into("<Q", out, 16, struct.unpack_from("<I", raw, 12)[0])
    else:
        pid, uid, value = struct.unpack_from("<iII", raw, 12)
        struct.pack_into("<iIQ", out, 16, pid, uid, value)
    return bytes(out)
