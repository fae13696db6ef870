"""Process, thread and signal system calls.

Threads (clone with CLONE_VM) are host threads sharing the Process; clone
without CLONE_VM is a host fork (CLONE_VFORK too, as in QEMU); execve of an
AArch64 program re-executes pyqemu, anything else runs natively. Signal
calls drive :mod:`pyqemu.linux_user.signal`; futex lives in
:mod:`pyqemu.linux_user.futex`.
"""
from __future__ import annotations

import ctypes
import errno
import os
import platform
import signal as host_signal
import stat as _stat
import struct
import sys
import time

from pyqemu.linux_user import futex  # noqa: F401 - registers futex
from pyqemu.linux_user import signal as S
from pyqemu.linux_user.aarch64.signal_frame import SIGINFO_SIZE, siginfo, with_signo
from pyqemu.linux_user.syscall import sx32, syscall
from pyqemu.target.arm.cpu import REG_TPIDR

M64 = 0xFFFFFFFFFFFFFFFF

CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_PIDFD, CLONE_PTRACE, CLONE_VFORK, CLONE_PARENT = 0x1000, 0x2000, 0x4000, 0x8000
CLONE_THREAD, CLONE_NEWNS, CLONE_SYSVSEM, CLONE_SETTLS = 0x10000, 0x20000, 0x40000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_DETACHED = 0x100000, 0x200000, 0x400000
CLONE_UNTRACED, CLONE_CHILD_SETTID, CLONE_NEWCGROUP = 0x800000, 0x1000000, 0x2000000
CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = (
    0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000)
CLONE_IO, CLONE_CLEAR_SIGHAND, CLONE_INTO_CGROUP = 0x80000000, 0x100000000, 0x200000000
CLONE_NEW_ANY = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
    CLONE_NEWPID | CLONE_NEWNET

WNOHANG, WUNTRACED, WSTOPPED, WEXITED, WCONTINUED, WNOWAIT = 1, 2, 2, 4, 8, 0x01000000
__WNOTHREAD, __WALL, __WCLONE = 0x20000000, 0x40000000, 0x80000000
P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH = 0x100, 0x1000
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
TIMER_ABSTIME = 1
EM_AARCH64 = 183
EM_ARM_32 = 40 | 0x10000  # EM_ARM as _elf_machine reports an ELF32 file
CHILD_POLL = 0.5  # seconds: re-check for children even if no SIGCHLD woke us


def _restart(r) -> int:
    return -S.ERESTARTSYS if r is S.INTERRUPTED else r


# --- host system calls the os module does not offer ---------------------------------
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_HOST_X86_64 = {"tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297,
                "pidfd_send_signal": 424}
_HOST_AARCH64 = {"tgkill": 131, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240,
                 "pidfd_send_signal": 424}
_HOST_NR = _HOST_AARCH64 if platform.machine() in ("aarch64", "arm64") else _HOST_X86_64


def _host_call(name: str, *args) -> int:
    conv = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    r = _libc.syscall(ctypes.c_long(_HOST_NR[name]), *conv)
    return -ctypes.get_errno() if r == -1 else r


# --- threads and processes -----------------------------------------------------------
@syscall("gettid")
def sys_gettid(proc, cpu, *_):
    return cpu.tid


@syscall("set_tid_address")
def sys_set_tid_address(proc, cpu, addr, *_):
    cpu.clear_child_tid = addr
    return cpu.tid


@syscall("set_robust_list")
def sys_set_robust_list(proc, cpu, head, size, *_):
    return set_robust_list(cpu, head, size, 24)


@syscall("get_robust_list")
def sys_get_robust_list(proc, cpu, pid, head_ptr, len_ptr, *_):
    return get_robust_list(proc, cpu, pid, head_ptr, len_ptr, proc.mem.put_u64, 24)


def set_robust_list(cpu, head: int, size: int, head_size: int) -> int:
    """set_robust_list(2) for a guest whose ``struct robust_list_head`` is ``head_size`` bytes."""
    if size != head_size:
        return -errno.EINVAL
    cpu.robust_list = (head, size)
    return 0


def get_robust_list(proc, cpu, pid: int, head_ptr: int, len_ptr: int, put_word, head_size: int) -> int:
    """get_robust_list(2); ``put_word(addr, value)`` stores one guest pointer/size_t."""
    pid = sx32(pid)
    target = cpu if pid == 0 else proc.threads.get(pid)
    if target is None:
        return -errno.ESRCH
    head, size = target.robust_list
    put_word(head_ptr, head)
    put_word(len_ptr, size or head_size)
    return 0


@syscall("exit")
def sys_exit(proc, cpu, status, *_):
    proc.thread_exit(cpu, status & 0xFF)


@syscall("exit_group")
def sys_exit_group(proc, cpu, status, *_):
    proc.exit_group(status & 0xFF)


@syscall("clone")
def sys_clone(proc, cpu, flags, newsp, ptid, tls, ctid, *_):
    # arm64 uses the CLONE_BACKWARDS argument order: flags, stack, ptid, tls, ctid
    flags &= 0xFFFFFFFF
    pidfd_addr = ptid if flags & CLONE_PIDFD else 0
    if flags & CLONE_PIDFD and flags & CLONE_PARENT_SETTID:
        return -errno.EINVAL
    return do_clone(proc, cpu, flags & ~0xFF, newsp, ptid, tls, ctid, pidfd_addr)


@syscall("clone3")
def sys_clone3(proc, cpu, uargs, size, *_):
    if size < 64 or size > 4096:
        return -errno.EINVAL
    raw = proc.mem.read(uargs, size)
    if size > 88 and any(raw[88:]):
        return -errno.E2BIG
    raw = raw[:88].ljust(88, b"\0")
    (flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
     set_tid_size, _cgroup) = struct.unpack("<11Q", raw)
    if exit_signal & ~0xFF or flags & (CLONE_DETACHED | 0xFF):
        return -errno.EINVAL
    if (stack == 0) != (stack_size == 0):
        return -errno.EINVAL
    if set_tid or set_tid_size:
        return -errno.EPERM
    if flags & CLONE_INTO_CGROUP:
        return -errno.EINVAL
    newsp = (stack + stack_size) & M64 if stack else 0
    return do_clone(proc, cpu, flags, newsp, parent_tid, tls, child_tid,
                    pidfd if flags & CLONE_PIDFD else 0)


def do_clone(proc, cpu, flags: int, newsp: int, ptid: int, tls: int, ctid: int, pidfd_addr: int) -> int:
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND:
        return -errno.EINVAL
    if flags & CLONE_SIGHAND and not flags & CLONE_VM:
        return -errno.EINVAL
    if flags & CLONE_NEW_ANY:
        return -errno.EPERM
    if flags & CLONE_VM and not flags & CLONE_VFORK:
        if flags & CLONE_PIDFD:
            return -errno.EINVAL
        return _new_thread(proc, cpu, flags, newsp, ptid, tls, ctid)
    # Without CLONE_VM (or with CLONE_VFORK, where the child only execs or exits): fork.
    return do_fork(proc, cpu, flags, newsp, ptid, tls, ctid, pidfd_addr)


def _new_thread(proc, cpu, flags: int, newsp: int, ptid: int, tls: int, ctid: int) -> int:
    child = cpu.new_thread_cpu()
    R = child.regs
    R[0] = 0
    if newsp:
        R[getattr(child, "SP_REG", 31)] = newsp
    if flags & CLONE_SETTLS:
        R[getattr(child, "TLS_REG", REG_TPIDR)] = tls
    if flags & CLONE_CHILD_CLEARTID:
        child.clear_child_tid = ctid
    mem = proc.mem

    def on_tid(tid: int) -> None:
        if flags & CLONE_PARENT_SETTID:
            mem.put_u32(ptid, tid)
        if flags & CLONE_CHILD_SETTID:
            mem.put_u32(ctid, tid)
    return proc.start_thread(child, on_tid)


def _fork_locks(proc) -> list:
    locks = [proc.signals.lock, futex.table(proc).lock, futex.atomic_lock()]
    mem_lock = getattr(proc.mem, "lock", None)
    if mem_lock is not None:
        locks.append(mem_lock)
    locks.append(proc.lock)
    return locks


def do_fork(proc, cpu, flags: int, newsp: int, ptid: int, tls: int, ctid: int, pidfd_addr: int) -> int:
    """fork(); CLONE_VFORK is a plain fork too (as in QEMU): the parent does not wait,
    and the child (which only execs or exits) runs on its own copy of memory."""
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    # Hold the emulator's locks across fork, so that the child's copies are consistent.
    locks = _fork_locks(proc)
    for lk in locks:
        lk.acquire()
    try:
        pid = os.fork()
    except OSError:
        for lk in reversed(locks):
            lk.release()
        raise
    if pid == 0:
        for lk in reversed(locks):
            lk.release()
        proc.after_fork_child(cpu)
        R = cpu.regs
        if newsp:
            R[getattr(cpu, "SP_REG", 31)] = newsp
        if flags & CLONE_SETTLS:
            R[getattr(cpu, "TLS_REG", REG_TPIDR)] = tls
        if flags & CLONE_CHILD_SETTID:
            proc.mem.put_u32(ctid, cpu.tid)
        cpu.clear_child_tid = ctid if flags & CLONE_CHILD_CLEARTID else 0
        return 0
    for lk in reversed(locks):
        lk.release()
    if flags & CLONE_PARENT_SETTID:
        proc.mem.put_u32(ptid, pid)
    if flags & CLONE_PIDFD:
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            fd = -1
        proc.mem.put_u32(pidfd_addr, fd)
    return pid


# --- wait ----------------------------------------------------------------------------
def _timeval(seconds: float) -> tuple[int, int]:
    sec = int(seconds)
    return sec, int(round((seconds - sec) * 1e6))


def _put_rusage(mem, addr: int, ru) -> None:
    fields = [*_timeval(ru.ru_utime), *_timeval(ru.ru_stime), ru.ru_maxrss, ru.ru_ixrss,
              ru.ru_idrss, ru.ru_isrss, ru.ru_minflt, ru.ru_majflt, ru.ru_nswap, ru.ru_inblock,
              ru.ru_oublock, ru.ru_msgsnd, ru.ru_msgrcv, ru.ru_nsignals, ru.ru_nvcsw, ru.ru_nivcsw]
    mem.write(addr, struct.pack("<18q", *fields))


def _wait_children(proc, cpu, attempt, nohang: bool):
    """Run `attempt()` (non-blocking; None = nothing yet) until it gives a result."""
    if nohang:
        return attempt()
    signals = proc.signals
    signals.child_waiters.add(cpu)
    try:
        return signals.wait_event(cpu, attempt, poll=CHILD_POLL)
    finally:
        signals.child_waiters.discard(cpu)


@syscall("wait4")
def sys_wait4(proc, cpu, pid, status_addr, options, rusage_addr, *_):
    pid = sx32(pid)
    options &= 0xFFFFFFFF
    if options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL):
        return -errno.EINVAL

    def attempt():
        try:
            r = os.wait4(pid, options | WNOHANG)
        except ChildProcessError:
            return -errno.ECHILD
        except OSError as e:
            return -e.errno
        return r if r[0] else None

    r = _wait_children(proc, cpu, attempt, bool(options & WNOHANG))
    if r is None:
        return 0
    if not isinstance(r, tuple):
        return _restart(r)
    cpid, status, ru = r
    if status_addr:
        proc.mem.put_u32(status_addr, status)
    if rusage_addr:
        _put_rusage(proc.mem, rusage_addr, ru)
    return cpid


@syscall("waitid")
def sys_waitid(proc, cpu, idtype, id_, infop, options, rusage_addr, *_):
    idtype = sx32(idtype)
    options &= 0xFFFFFFFF
    if options & ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL):
        return -errno.EINVAL
    if not options & (WEXITED | WSTOPPED | WCONTINUED):
        return -errno.EINVAL
    if idtype not in (P_ALL, P_PID, P_PGID, P_PIDFD):
        return -errno.EINVAL
    ident = sx32(id_) if idtype != P_ALL else 0

    def attempt():
        try:
            r = os.waitid(idtype, ident, options | WNOHANG)
        except ChildProcessError:
            return -errno.ECHILD
        except OSError as e:
            return -e.errno
        return r

    r = _wait_children(proc, cpu, attempt, bool(options & WNOHANG))
    if isinstance(r, int):
        return r
    if r is S.INTERRUPTED:
        return -S.ERESTARTSYS
    if infop:
        if r is None:
            proc.mem.write(infop, bytes(SIGINFO_SIZE))
        else:
            proc.mem.write(infop, siginfo(S.SIGCHLD, r.si_code, pid=r.si_pid, uid=r.si_uid,
                                          status=r.si_status))
    if rusage_addr:
        proc.mem.write(rusage_addr, bytes(144))
    return 0


# --- execve --------------------------------------------------------------------------
_BOOT = ("import sys,os;sys.path[:]=sys.argv.pop(1).split(os.pathsep);"
         "from pyqemu.linux_user.main import main;sys.exit(main())")
_BOOT_ARM = _BOOT.replace("import main;sys.exit(main())", "import main_arm;sys.exit(main_arm())")


def _read_strv(mem, addr: int, word: int = 8) -> list[bytes]:
    out = []
    if not addr:
        return out
    get = mem.u64 if word == 8 else mem.u32
    while len(out) < 0x10000:
        p = get(addr)
        if not p:
            return out
        out.append(mem.read_cstr(p, 1 << 20))
        addr += word
    raise OSError(errno.E2BIG, "argument list too long")


def _elf_machine(head: bytes) -> int | None:
    if head[:4] != b"\x7fELF" or len(head) < 20:
        return None
    if head[4] == 2:
        return struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)[0]
    return struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)[0] | 0x10000  # 32-bit


def _is_guest_elf(path: bytes, machine: int = EM_AARCH64) -> bool:
    try:
        with open(path, "rb") as f:
            return _elf_machine(f.read(64)) == machine
    except OSError:
        return False


def pyqemu_command(proc, exe: bytes, argv: list[bytes]) -> list[bytes]:
    """The host command line that runs guest program `exe` with `argv` under pyqemu."""
    st = getattr(proc, "settings", None)
    opts: list[str] = []
    if st is not None:
        if st.ld_prefix:
            opts += ["-L", st.ld_prefix]
        if st.stack_size != 8 << 20:
            opts += ["-s", str(st.stack_size)]
        if st.cpu != "max":
            opts += ["-cpu", st.cpu]
        if st.log_items:
            opts += ["-d", st.log_items]
        if st.log_file:
            opts += ["-D", st.log_file]
        if st.strace:
            opts.append("-strace")
        if st.one_insn_per_tb:
            opts.append("-one-insn-per-tb")
        if st.uname_release:
            opts += ["-r", st.uname_release]
        if st.seed is not None:
            opts += ["-seed", str(st.seed)]
    paths = os.pathsep.join(p for p in sys.path if p)
    boot = _BOOT if getattr(proc, "target", "aarch64") == "aarch64" else _BOOT_ARM
    cmd = [sys.executable, "-E", "-c", boot, paths, *opts]
    return [os.fsencode(c) for c in cmd] + [b"-0", argv[0] if argv else b"", exe, *argv[1:]]


def _c_strv(items: list[bytes]):
    arr = (ctypes.c_char_p * (len(items) + 1))()
    arr[:len(items)] = items
    arr[len(items)] = None
    return arr


def _host_execve(path: bytes, argv: list[bytes], envp: list[bytes]) -> int:
    """execve(2) as is (no Python checks on argv); returns -errno on failure."""
    _libc.execve.restype = ctypes.c_int
    _libc.execve(path, _c_strv(argv), _c_strv(envp))
    return -ctypes.get_errno()


def _resolve_exec_path(proc, dirfd: int, path: bytes, flags: int) -> bytes:
    if not path:
        if not flags & AT_EMPTY_PATH:
            raise OSError(errno.ENOENT, "empty path")
        return f"/proc/self/fd/{dirfd}".encode()
    if not path.startswith(b"/") and dirfd != AT_FDCWD:
        base = os.readlink(f"/proc/self/fd/{dirfd}")
        path = os.path.join(os.fsencode(base), path)
    if path in (b"/proc/self/exe", f"/proc/{os.getpid()}/exe".encode(),
                b"/proc/thread-self/exe") and proc.exe_path:
        return os.fsencode(proc.exe_path)
    return path


def do_execve(proc, cpu, dirfd: int, path_addr: int, argv_addr: int, envp_addr: int, flags: int) -> int:
    mem = proc.mem
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -errno.EINVAL
    path = mem.read_cstr(path_addr, 4096)
    word = getattr(getattr(proc, "abi", None), "word", 8)
    guest_machine = EM_AARCH64 if word == 8 else EM_ARM_32
    argv = _read_strv(mem, argv_addr, word)
    envp = _read_strv(mem, envp_addr, word)
    target = _resolve_exec_path(proc, dirfd, path, flags)
    st = os.stat(target, follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
    if not _stat.S_ISREG(st.st_mode):
        return -errno.EACCES
    if not os.access(target, os.X_OK):
        return -errno.EACCES
    head = b""
    try:
        with open(target, "rb") as f:
            head = f.read(256)
    except OSError:
        pass
    run = target
    run_argv = argv
    machine = _elf_machine(head)
    if machine == guest_machine:
        run_argv = pyqemu_command(proc, target, argv)
        run = os.fsencode(sys.executable)
    elif head[:2] == b"#!":
        line = head[2:].split(b"\n", 1)[0].strip()
        parts = line.split(None, 1)
        if parts and _is_guest_elf(parts[0], guest_machine):
            new_argv = [parts[0]] + parts[1:2] + [path] + argv[1:]
            run_argv = pyqemu_command(proc, parts[0], new_argv)
            run = os.fsencode(sys.executable)
    # The point of no return (if execve succeeds): the new program inherits the
    # guest's signal mask and ignored signals, and our CLOEXEC fds go away.
    flush = getattr(proc, "flush_caches", None)
    if flush is not None:
        flush()  # the compiled-code cache outlives us
    proc.signals.prepare_exec(cpu)
    ret = _host_execve(run, run_argv, envp)
    proc.signals.exec_failed(cpu)
    return ret


@syscall("execve")
def sys_execve(proc, cpu, path, argv, envp, *_):
    return do_execve(proc, cpu, AT_FDCWD, path, argv, envp, 0)


@syscall("execveat")
def sys_execveat(proc, cpu, dirfd, path, argv, envp, flags, *_):
    return do_execve(proc, cpu, sx32(dirfd), path, argv, envp, flags & 0xFFFFFFFF)


# --- signals -------------------------------------------------------------------------
_SIGACTION = struct.Struct("<QQQQ")  # handler, flags, restorer, mask (arm64 kernel layout)


@syscall("rt_sigaction")
def sys_rt_sigaction(proc, cpu, sig, act_addr, oact_addr, sigsetsize, *_):
    return do_rt_sigaction(proc, sig, act_addr, oact_addr, sigsetsize, _SIGACTION, 0xFFFFFFFFFFFFFFFF)


def do_rt_sigaction(proc, sig: int, act_addr: int, oact_addr: int, sigsetsize: int,
                    layout: struct.Struct, word_mask: int) -> int:
    """rt_sigaction(2) for a guest ``struct sigaction`` of ``layout`` (handler, flags,
    restorer, mask); ``word_mask`` masks the pointer-sized fields written back."""
    sig = sx32(sig)
    if sigsetsize != 8 or not 1 <= sig <= S.NSIG:
        return -errno.EINVAL
    if act_addr and sig in (S.SIGKILL, S.SIGSTOP):
        return -errno.EINVAL
    signals = proc.signals
    a = signals.actions[sig]
    old = (a.handler & word_mask, a.flags & word_mask, a.restorer & word_mask, a.mask)
    if act_addr:
        handler, flags, restorer, mask = layout.unpack(proc.mem.read(act_addr, layout.size))
        a.mask = mask & ~S.UNBLOCKABLE
        a.flags = flags & 0xFFFFFFFF & ~0x400  # SA_UNSUPPORTED never sticks
        a.restorer = restorer
        a.handler = handler
        if signals._ignored(sig):
            signals.discard(sig)  # POSIX: setting 'ignore' discards pending instances
    if oact_addr:
        proc.mem.write(oact_addr, layout.pack(*old))
    return 0


@syscall("rt_sigprocmask")
def sys_rt_sigprocmask(proc, cpu, how, set_addr, oset_addr, sigsetsize, *_):
    if sigsetsize != 8:
        return -errno.EINVAL
    old = cpu.sigmask
    if set_addr:
        new = proc.mem.u64(set_addr)
        how = sx32(how)
        if how == SIG_BLOCK:
            new |= old
        elif how == SIG_UNBLOCK:
            new = old & ~new
        elif how != SIG_SETMASK:
            return -errno.EINVAL
        cpu.sigmask = new & ~S.UNBLOCKABLE & S.ALL_SIGNALS
    if oset_addr:
        proc.mem.put_u64(oset_addr, old)
    return 0


@syscall("rt_sigpending")
def sys_rt_sigpending(proc, cpu, set_addr, sigsetsize, *_):
    if sigsetsize > 8:
        return -errno.EINVAL
    pend = proc.signals.pending_set(cpu) & cpu.sigmask
    proc.mem.write(set_addr, pend.to_bytes(8, "little")[:sigsetsize])
    return 0


@syscall("rt_sigsuspend")
def sys_rt_sigsuspend(proc, cpu, mask_addr, sigsetsize, *_):
    if sigsetsize != 8:
        return -errno.EINVAL
    new = proc.mem.u64(mask_addr) & ~S.UNBLOCKABLE
    cpu.saved_sigmask = cpu.sigmask
    cpu.sigmask = new
    proc.signals.wait_event(cpu, lambda: None)
    return -S.ERESTARTNOHAND


def _read_timespec(mem, addr: int) -> float:
    sec, nsec = struct.unpack("<qq", mem.read(addr, 16))
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        raise OSError(errno.EINVAL, "bad timespec")
    return sec + nsec / 1e9


def _put_timespec(mem, addr: int, t: float) -> None:
    t = max(t, 0.0)
    sec = int(t)
    mem.write(addr, struct.pack("<qq", sec, min(int((t - sec) * 1e9), 999_999_999)))


@syscall("rt_sigtimedwait")
def sys_rt_sigtimedwait(proc, cpu, set_addr, info_addr, ts_addr, sigsetsize, *_):
    if sigsetsize != 8:
        return -errno.EINVAL
    these = proc.mem.u64(set_addr) & ~S.UNBLOCKABLE & S.ALL_SIGNALS
    deadline = time.monotonic() + _read_timespec(proc.mem, ts_addr) if ts_addr else None
    signals = proc.signals
    cpu.sigwaiting = these
    try:
        r = signals.wait_event(cpu, lambda: signals.dequeue(cpu, these), deadline)
    finally:
        cpu.sigwaiting = 0
    if r is S.TIMED_OUT:
        return -errno.EAGAIN
    if r is S.INTERRUPTED:
        return -errno.EINTR
    sig, info = r
    if info_addr:
        proc.mem.write(info_addr, info)
    return sig


@syscall("sigaltstack")
def sys_sigaltstack(proc, cpu, ss_addr, oss_addr, *_):
    signals = proc.signals
    sp = cpu.regs[31]
    old_sp, old_size, old_flags = cpu.altstack
    oflags = signals.sas_flags(cpu, sp) | (old_flags & S.SS_AUTODISARM)
    if ss_addr:
        ss_sp, ss_flags, _pad, ss_size = struct.unpack("<QiIQ", proc.mem.read(ss_addr, 24))
        r = signals.set_altstack(cpu, (ss_sp, ss_flags, ss_size), sp)
        if r:
            return r
    if oss_addr:
        proc.mem.write(oss_addr, struct.pack("<QiIQ", old_sp, oflags, 0, old_size))
    return 0


def _check_sig(sig: int) -> bool:
    return 0 <= sig <= S.NSIG


def _self_special(sig: int) -> bool:
    """Signals sent to ourselves that act on the host process directly."""
    if sig == S.SIGKILL:
        S.die_by_signal(S.SIGKILL)
    if sig == S.SIGSTOP:
        S.stop_self()
        return True
    return False


@syscall("kill")
def sys_kill(proc, cpu, pid, sig, *_):
    pid = sx32(pid)
    sig = sx32(sig)
    if not _check_sig(sig):
        return -errno.EINVAL
    me = os.getpid()
    if pid == me:
        if sig and not _self_special(sig):
            proc.signals.send_process(sig, siginfo(sig, S.SI_USER, pid=me, uid=os.getuid()))
        return 0
    os.kill(pid, sig)  # other processes (and groups, which may include us: host handler)
    return 0


def _tkill(proc, tgid: int | None, tid: int, sig: int) -> int:
    if not _check_sig(sig) or tid <= 0 or (tgid is not None and tgid <= 0):
        return -errno.EINVAL
    me = os.getpid()
    target = proc.threads.get(tid) if tgid in (None, me) else None
    if target is None:
        if tgid == me or (tgid is None and tid == me):
            return -errno.ESRCH
        return _host_call("tgkill", tgid if tgid is not None else tid, tid, sig)
    if sig and not _self_special(sig):
        proc.signals.send_thread(target, sig, siginfo(sig, S.SI_TKILL, pid=me, uid=os.getuid()))
    return 0


@syscall("tkill")
def sys_tkill(proc, cpu, tid, sig, *_):
    return _tkill(proc, None, sx32(tid), sx32(sig))


@syscall("tgkill")
def sys_tgkill(proc, cpu, tgid, tid, sig, *_):
    return _tkill(proc, sx32(tgid), sx32(tid), sx32(sig))


def _queueinfo(proc, tgid: int, tid: int | None, sig: int, uinfo: int) -> int:
    if not 1 <= sig <= S.NSIG:
        return -errno.EINVAL
    info = with_signo(proc.mem.read(uinfo, SIGINFO_SIZE), sig)
    code = struct.unpack_from("<i", info, 8)[0]
    me = os.getpid()
    if tgid != me:
        if code >= 0 or code == S.SI_TKILL:
            return -errno.EPERM
        buf = ctypes.create_string_buffer(info, SIGINFO_SIZE)
        if tid is None:
            return _host_call("rt_sigqueueinfo", tgid, sig, buf)
        return _host_call("rt_tgsigqueueinfo", tgid, tid, sig, buf)
    if _self_special(sig):
        return 0
    if tid is None:
        proc.signals.send_process(sig, info)
        return 0
    target = proc.threads.get(tid)
    if target is None:
        return -errno.ESRCH
    proc.signals.send_thread(target, sig, info)
    return 0


@syscall("rt_sigqueueinfo")
def sys_rt_sigqueueinfo(proc, cpu, tgid, sig, uinfo, *_):
    return _queueinfo(proc, sx32(tgid), None, sx32(sig), uinfo)


@syscall("rt_tgsigqueueinfo")
def sys_rt_tgsigqueueinfo(proc, cpu, tgid, tid, sig, uinfo, *_):
    return _queueinfo(proc, sx32(tgid), sx32(tid), sx32(sig), uinfo)


@syscall("rt_sigreturn")
def sys_rt_sigreturn(proc, cpu, *_):
    cpu.skip_restart = True
    cpu.restart_fn = None
    if not proc.signals.sigreturn(cpu):
        sp = cpu.regs[31]
        proc.signals.force_sync(cpu, S.SIGSEGV, 1 if not proc.mem.is_mapped(sp, 1) else 2, sp)
    return None  # the registers are the restored context


@syscall("restart_syscall")
def sys_restart_syscall(proc, cpu, *_):
    fn = cpu.restart_fn
    cpu.restart_fn = None
    return fn() if fn is not None else -errno.EINTR


# --- timers and sleeping -------------------------------------------------------------
_ITIMERVAL = struct.Struct("<qqqq")


def _itimer_tuple(delay: float, interval: float) -> bytes:
    return _ITIMERVAL.pack(*_timeval(interval), *_timeval(delay))


@syscall("setitimer")
def sys_setitimer(proc, cpu, which, new_addr, old_addr, *_):
    which = sx32(which)
    if which not in (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF):
        return -errno.EINVAL
    if new_addr:
        isec, iusec, vsec, vusec = _ITIMERVAL.unpack(proc.mem.read(new_addr, 32))
        if min(isec, vsec, iusec, vusec) < 0 or iusec >= 1_000_000 or vusec >= 1_000_000:
            return -errno.EINVAL
        delay, interval = host_signal.setitimer(which, vsec + vusec / 1e6, isec + iusec / 1e6)
    else:
        delay, interval = host_signal.getitimer(which)
        host_signal.setitimer(which, 0)
    if old_addr:
        proc.mem.write(old_addr, _itimer_tuple(delay, interval))
    return 0


@syscall("getitimer")
def sys_getitimer(proc, cpu, which, cur_addr, *_):
    which = sx32(which)
    if which not in (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF):
        return -errno.EINVAL
    delay, interval = host_signal.getitimer(which)
    proc.mem.write(cur_addr, _itimer_tuple(delay, interval))
    return 0


def _sleep_until(proc, cpu, deadline: float, rem_addr: int) -> int:
    """Sleep to the monotonic `deadline`; interrupted: remaining time in `rem_addr`."""
    r = proc.signals.wait_event(cpu, lambda: None, deadline)
    if r is S.TIMED_OUT:
        return 0
    if rem_addr:
        _put_timespec(proc.mem, rem_addr, deadline - time.monotonic())
    cpu.restart_fn = lambda: _sleep_until(proc, cpu, deadline, rem_addr)
    return -S.ERESTART_RESTARTBLOCK


@syscall("nanosleep")
def sys_nanosleep(proc, cpu, req_addr, rem_addr, *_):
    t = _read_timespec(proc.mem, req_addr)
    return _sleep_until(proc, cpu, time.monotonic() + t, rem_addr)


_CLOCKS = {0: time.CLOCK_REALTIME, 1: time.CLOCK_MONOTONIC, 7: getattr(time, "CLOCK_BOOTTIME", 7),
           8: time.CLOCK_REALTIME, 9: getattr(time, "CLOCK_BOOTTIME", 7),
           11: getattr(time, "CLOCK_TAI", 11)}


@syscall("clock_nanosleep")
def sys_clock_nanosleep(proc, cpu, clockid, flags, req_addr, rem_addr, *_):
    clockid = sx32(clockid)
    host_clock = _CLOCKS.get(clockid)
    if host_clock is None:
        return -errno.EINVAL
    t = _read_timespec(proc.mem, req_addr)
    if flags & TIMER_ABSTIME:
        deadline = time.monotonic() + (t - time.clock_gettime(host_clock))
        r = _sleep_until(proc, cpu, deadline, 0)
        return -S.ERESTARTNOHAND if r == -S.ERESTART_RESTARTBLOCK else r
    return _sleep_until(proc, cpu, time.monotonic() + t, rem_addr)
