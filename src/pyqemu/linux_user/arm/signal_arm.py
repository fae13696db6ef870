"""Signal delivery and (rt_)sigreturn for 32-bit ARM: the target half of
:class:`pyqemu.linux_user.signal.SignalState` (which calls these for ``proc.target == "arm"``)."""
from __future__ import annotations

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.linux_user.arm import signal_frame as F
from pyqemu.target.arm import cpu32 as C


def setup_frame(state, cpu, sig: int, info: bytes, act) -> bool:
    """Build the frame for `sig` and enter the handler; False if the frame could not be
    written (a SIGSEGV is forced instead)."""
    from pyqemu.linux_user import signal as S
    R = cpu.regs
    sp = R[C.REG_SP]
    ss_sp, ss_size, ss_cfg = cpu.altstack
    rt = bool(act.flags & S.SA_SIGINFO)
    frame = F.frame_location(state.sigsp(cpu, sp, act), rt)
    saved = cpu.saved_sigmask if cpu.saved_sigmask is not None else cpu.sigmask
    handler = act.handler & 0xFFFFFFFF
    thumb = bool(handler & 1)
    blob = F.build_frame(cpu, rt, F.siginfo_to_arm(info), saved, (ss_sp, ss_cfg, ss_size), thumb)
    try:
        state.proc.mem.write(frame, blob)
    except GuestException:
        return state.force_sigsegv(cpu, sig, act)
    if act.flags & S.SA_RESTORER:
        retcode = act.restorer & 0xFFFFFFFF
    else:
        retcode = state.trampoline(F.TRAMPOLINE) + 8 * F.retcode_index(rt, thumb) + (1 if thumb else 0)
    R[0] = sig
    if rt:
        R[1] = frame
        R[2] = frame + F.SIGINFO_SIZE
    R[C.REG_SP] = frame
    R[C.REG_LR] = retcode
    cpu.pc = C.key_for(handler, thumb)  # the handler starts outside any IT block
    R[C.REG_EXCL_ADDR] = (1 << 64) - 1
    return state.signal_delivered(cpu, sig, act, ss_cfg)


def sigreturn(state, cpu, rt: bool) -> bool:
    """sigreturn / rt_sigreturn: restore the context at sp. False if the frame is bad."""
    from pyqemu.linux_user import signal as S
    R = cpu.regs
    sp = R[C.REG_SP]
    if sp & 7:
        return False
    uc = sp + (F.SIGINFO_SIZE if rt else 0)
    try:
        data = state.proc.mem.read(uc, F.UC_SIZE)
        mask, stack = F.restore_ucontext(cpu, data)
    except (GuestException, F.BadFrame):
        return False
    cpu.sigmask = mask & ~S.UNBLOCKABLE
    cpu.saved_sigmask = None
    R[C.REG_EXCL_ADDR] = (1 << 64) - 1
    if rt:
        ss_sp, ss_flags, ss_size = stack
        state.set_altstack(cpu, (ss_sp, ss_flags & 0xFFFFFFFF, ss_size), R[C.REG_SP])
    return True
