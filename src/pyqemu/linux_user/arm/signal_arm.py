"""Signal delivery and (rt_)sigreturn for 32-bit ARM: the target half of
:class:`pyqemu.linux_user.signal.SignalState` (which calls these for ``proc.target == "arm"``)."""
from __future__ import annotations

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.linux_user.arm import signal_frame as F
from pyqemu.target.arm import cpu32 as C


def trampoline(state) -> int:
    """The guest page holding the four sigreturn sequences (made on first use)."""
    if not state._trampoline:
        from pyqemu.linux_user.mmap import PAGE_SIZE, PROT_EXEC, PROT_READ
        mem = state.proc.mem
        addr = mem.find_free(PAGE_SIZE)
        mem.map(addr, PAGE_SIZE, PROT_READ | PROT_EXEC, F.TRAMPOLINE)
        state._trampoline = addr
    return state._trampoline


def setup_frame(state, cpu, sig: int, info: bytes, act) -> bool:
    """Build the frame for `sig` and enter the handler; False if the frame could not be
    written (a SIGSEGV is forced instead)."""
    from pyqemu.linux_user import signal as S
    R = cpu.regs
    sp = R[C.REG_SP]
    ss_sp, ss_size, ss_cfg = cpu.altstack
    top = sp
    if act.flags & S.SA_ONSTACK and state.sas_flags(cpu, sp) == 0:
        top = ss_sp + ss_size
    rt = bool(act.flags & S.SA_SIGINFO)
    frame = F.frame_location(top, rt)
    saved = cpu.saved_sigmask if cpu.saved_sigmask is not None else cpu.sigmask
    handler = act.handler & 0xFFFFFFFF
    thumb = bool(handler & 1)
    blob = F.build_frame(cpu, rt, F.siginfo_to_arm(info), saved, (ss_sp, ss_cfg, ss_size), thumb)
    try:
        state.proc.mem.write(frame, blob)
    except GuestException:
        if sig == S.SIGSEGV:
            act.handler = S.SIG_DFL
        state.force_sync(cpu, S.SIGSEGV, S.SI_KERNEL, 0)
        return False
    if act.flags & S.SA_RESTORER:
        retcode = act.restorer & 0xFFFFFFFF
    else:
        retcode = trampoline(state) + 8 * F.retcode_index(rt, thumb) + (1 if thumb else 0)
    R[0] = sig
    if rt:
        R[1] = frame
        R[2] = frame + F.SIGINFO_SIZE
    R[C.REG_SP] = frame
    R[C.REG_LR] = retcode
    cpu.pc = C.key_for(handler, thumb)  # the handler starts outside any IT block
    R[C.REG_EXCL_ADDR] = -1
    newmask = cpu.sigmask | act.mask
    if not act.flags & S.SA_NODEFER:
        newmask |= S.bit(sig)
    cpu.sigmask = newmask & ~S.UNBLOCKABLE
    cpu.saved_sigmask = None
    if act.flags & S.SA_RESETHAND:
        act.handler = S.SIG_DFL
    if ss_cfg & S.SS_AUTODISARM:
        cpu.altstack = (0, 0, S.SS_DISABLE)
    return True


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
    R[C.REG_EXCL_ADDR] = -1
    if rt:
        ss_sp, ss_flags, ss_size = stack
        state.set_altstack(cpu, (ss_sp, ss_flags & 0xFFFFFFFF, ss_size), R[C.REG_SP])
    return True
