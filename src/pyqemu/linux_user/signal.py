"""Guest signals: dispositions, masks, pending queues, delivery, and host signals.

The model follows Linux (kernel/signal.c, arch/arm64/kernel/signal.c):

* Dispositions (``SigAction``) are per process; masks, the alternate stack
  and thread-directed pending signals are per thread (``UserCPU``);
  process-directed pending signals are here. Standard signals (< 32) do not
  queue; real-time ones do.
* A thread takes its deliverable signals at the end of every system call and
  every slice of translated code (``cpu_loop``). Each handler gets a frame
  (``aarch64/signal_frame.py``) on the stack or the alternate stack; with
  several signals, frames stack up and the last one runs first, as on Linux.
* Interrupted system calls return ``-ERESTART*`` codes internally; delivery
  turns them into a restart (pc back on the ``svc``) or ``-EINTR`` according
  to ``SA_RESTART``, exactly as ``do_signal`` does.
* Host signals (SIGINT, SIGTERM, SIGCHLD, SIGALRM from the guest's own
  itimers, ...) are caught by Python handlers, which only ever run in the
  host main thread and therefore take no locks: they append to
  ``host_queue`` and wake a target thread. Guest threads other than the host
  main thread keep host signals blocked (except the internal ``WAKE_SIG``), so
  that the kernel delivers them to the main thread.
* A thread blocked in a host system call is woken with ``WAKE_SIG``: the call
  fails with EINTR, which the syscall layer turns into a restart code. Since
  the signal may arrive just before the call enters the kernel, a helper
  thread (the waker) repeats it a few milliseconds later while the same call
  still blocks.
* Waits that the emulator implements itself (futex, sigsuspend, wait4,
  nanosleep, ...) sleep on the thread's ``wake`` lock, which senders release.
"""
from __future__ import annotations

import collections
import ctypes
import errno
import os
import queue
import resource
import signal as host_signal
import struct
import sys
import threading
import time
from collections.abc import Callable

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.linux_user.aarch64 import signal_frame as frame_mod
from pyqemu.linux_user.aarch64.signal_frame import siginfo
from pyqemu.target.arm.cpu import REG_EXCL_ADDR

SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE = 1, 2, 3, 4, 5, 6, 7, 8
SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM = 9, 10, 11, 12, 13, 14, 15
SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG = 17, 18, 19, 20, 21, 22, 23
SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGPWR, SIGSYS = 24, 25, 26, 27, 28, 29, 30, 31
NSIG = 64

SIG_DFL, SIG_IGN = 0, 1
SA_NOCLDSTOP, SA_NOCLDWAIT, SA_SIGINFO = 1, 2, 4
SA_RESTORER, SA_ONSTACK, SA_RESTART = 0x04000000, 0x08000000, 0x10000000
SA_NODEFER, SA_RESETHAND = 0x40000000, 0x80000000
SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
MINSIGSTKSZ = 5120

SI_USER, SI_KERNEL, SI_QUEUE, SI_TIMER, SI_TKILL = 0, 0x80, -1, -2, -6
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 4, 5, 6

ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK = 512, 513, 514, 516
RESTART_CODES = (-ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK)
NR_RESTART_SYSCALL = 128

M64 = 0xFFFFFFFFFFFFFFFF


def bit(sig: int) -> int:
    return 1 << (sig - 1)


ALL_SIGNALS = (1 << NSIG) - 1
UNBLOCKABLE = bit(SIGKILL) | bit(SIGSTOP)
SYNC_MASK = bit(SIGSEGV) | bit(SIGBUS) | bit(SIGILL) | bit(SIGTRAP) | bit(SIGFPE) | bit(SIGSYS)
DEFAULT_IGNORE = frozenset({SIGCHLD, SIGCONT, SIGURG, SIGWINCH})
DEFAULT_STOP = frozenset({SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU})
CORE_SIGNALS = frozenset({SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU,
                          SIGXFSZ, SIGSYS})

# Host signals forwarded to the guest. Python keeps SIGPIPE and SIGXFSZ ignored
# (EPIPE becomes a guest SIGPIPE in the syscall layer instead); the fault
# signals stay with Python, whose own crashes they report.
_NOT_FORWARDED = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGPIPE, SIGXFSZ, 32, 33}
WAKE_SIG = host_signal.SIGRTMAX  # internal: interrupts the main thread's blocking host call
FORWARDED = tuple(s for s in range(1, WAKE_SIG) if s not in _NOT_FORWARDED)

INTERRUPTED = object()  # results of SignalState.wait_event
TIMED_OUT = object()


class SigAction:
    __slots__ = ("handler", "flags", "restorer", "mask")

    def __init__(self, handler: int = SIG_DFL, flags: int = 0, restorer: int = 0, mask: int = 0) -> None:
        self.handler = handler
        self.flags = flags
        self.restorer = restorer
        self.mask = mask


def signal_name(sig: int) -> str:
    try:
        name = host_signal.strsignal(sig)
    except ValueError:
        name = None
    return name or f"Unknown signal {sig}"


EXIT_HOOKS: list[Callable[[], None]] = []  # run before the emulator dies (e.g. save caches)
DEATH_HOOKS: list[Callable[[int], None]] = []  # told the signal the guest dies of (gdb)


def run_exit_hooks() -> None:
    hooks = list(EXIT_HOOKS)
    EXIT_HOOKS.clear()  # once
    for hook in hooks:
        try:
            hook()
        except Exception:  # noqa: BLE001 - dying anyway; a cache is not worth a traceback
            pass


def die_by_signal(sig: int) -> None:
    """End the emulator the way the guest would have died.

    Like QEMU, print ``qemu: uncaught target signal N (Name) - core dumped``
    for the signals whose default action dumps core, then kill ourselves with
    the same signal (no host core file) so that the exit status matches.
    """
    run_exit_hooks()
    for hook in DEATH_HOOKS:
        hook(sig)
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError, RuntimeError):
            pass
    if sig in CORE_SIGNALS:
        msg = f"qemu: uncaught target signal {sig} ({signal_name(sig)}) - core dumped\n"
        try:
            os.write(2, msg.encode())
        except OSError:
            pass
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    if sig in (32, 33) or not 1 <= sig <= NSIG:
        os._exit(128 + sig)
    if sig not in (SIGKILL, SIGSTOP):
        _raw_sigaction(sig, struct.pack("<Q", 0))  # SIG_DFL, from any thread
        host_signal.pthread_sigmask(host_signal.SIG_UNBLOCK, [sig])
    # Thread-directed, so that it is delivered before the call returns (a signal for
    # the process could go to another thread while this one reaches os._exit).
    host_signal.pthread_kill(threading.get_ident(), sig)
    os.kill(os.getpid(), sig)
    time.sleep(0.1)
    # a signal whose default action does not end us (we should not get here)
    os._exit(128 + sig)


_libc = ctypes.CDLL(None, use_errno=True)
_SIGACTION_BUF = 256  # >= sizeof(struct sigaction) in glibc (152 bytes on LP64)


def _raw_sigaction(sig: int, new: bytes | None) -> bytes | None:
    """libc sigaction(); `new` starts with the handler word. Returns the old struct."""
    old = ctypes.create_string_buffer(_SIGACTION_BUF)
    buf = ctypes.create_string_buffer(new.ljust(_SIGACTION_BUF, b"\0"), _SIGACTION_BUF) \
        if new is not None else None
    if _libc.sigaction(sig, buf, old) != 0:
        return None
    return old.raw


def block_host_signals(include_wake: bool = False) -> set:
    """Block the forwarded host signals in the calling thread; returns the old mask.

    Threads created while they are blocked inherit that mask.
    """
    sigs = list(FORWARDED) + ([WAKE_SIG] if include_wake else [])
    return host_signal.pthread_sigmask(host_signal.SIG_BLOCK, sigs)


_SI_CODE_NAMES = {0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ",
                  -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL"}
_FAULT_SIGNALS = frozenset({SIGILL, SIGFPE, SIGSEGV, SIGBUS, SIGTRAP})


def strace_taken_signal(sig: int, info: bytes) -> None:
    """-strace: QEMU's ``--- SIGSEGV {si_signo=SIGSEGV, si_code=1, si_addr=NULL} ---``."""
    from pyqemu.linux_user.strace import SIGNALS
    from pyqemu.util import log
    code = struct.unpack_from("<i", info, 8)[0]
    name = SIGNALS.get(sig, str(sig))
    text = f"{{si_signo={name}, si_code={_SI_CODE_NAMES.get(code, code)}"
    pid, uid = struct.unpack_from("<II", info, 16)
    if code in (SI_USER, SI_TKILL, SI_KERNEL):
        text += f", si_pid={pid}, si_uid={uid}"
    elif sig in _FAULT_SIGNALS:
        addr = struct.unpack_from("<Q", info, 16)[0]
        text += ", si_addr=" + ("NULL" if addr == 0 else f"0x{addr:016x}")
    elif sig == SIGCHLD:
        status, _pad, utime, stime = struct.unpack_from("<iiqq", info, 24)
        text += f", si_pid={pid}, si_uid={uid}, si_status={status}, si_utime={utime}, si_stime={stime}"
    elif sig == SIGIO:
        band, fd = struct.unpack_from("<qi", info, 16)
        text += f", si_band={band}, si_fd={fd}"
    else:
        text += f", si_pid={pid}, si_uid={uid}, si_sigval={struct.unpack_from('<q', info, 24)[0]}"
    log.write(f"--- {name} {text}}} ---\n")


def _reap_children() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except OSError:
            return
        if pid <= 0:
            return


def stop_self(sig: int = SIGSTOP) -> None:
    """Default action of the stop signals: stop the whole host process with `sig` (so
    that the parent's waitpid sees the same WSTOPSIG), until a SIGCONT."""
    if sig == SIGSTOP:
        os.kill(os.getpid(), sig)
        return
    old = _raw_sigaction(sig, struct.pack("<Q", 0))
    old_mask = host_signal.pthread_sigmask(host_signal.SIG_UNBLOCK, [sig])
    try:
        host_signal.pthread_kill(threading.get_ident(), sig)  # stops here until SIGCONT
    finally:
        if old is not None:
            _raw_sigaction(sig, old)
        host_signal.pthread_sigmask(host_signal.SIG_SETMASK, old_mask)


class SignalState:
    """Per-process signal dispositions, process-directed pending signals, host handlers."""

    def __init__(self, proc, install: bool = True) -> None:
        self.proc = proc
        self.actions = [SigAction() for _ in range(NSIG + 1)]
        self.lock = threading.Lock()
        self.pending: dict[int, list[bytes]] = {}
        self.host_queue: collections.deque = collections.deque()
        self.maybe = False  # something may be pending somewhere (fast check of the CPU loop)
        self.main_cpu = None  # the guest thread that runs on the host main thread
        self.child_waiters: set = set()
        self._trampoline = 0
        # the target's system-call registers (32-bit ARM: r7, 32-bit results, Thumb SVC)
        self.arm32 = getattr(proc, "target", "aarch64") == "arm"
        self.nr_reg, self.reg_mask, self.nr_restart = (7, 0xFFFFFFFF, 0) if self.arm32 else \
            (8, M64, NR_RESTART_SYSCALL)
        self.initial_mask = 0
        self._waker: queue.SimpleQueue = queue.SimpleQueue()  # put() is safe in signal handlers
        if install:
            self.install_host_handlers()
            flush = getattr(proc, "flush_caches", None)
            EXIT_HOOKS[:] = [flush] if flush is not None else []
        self._start_waker()

    def _start_waker(self) -> None:
        """The thread that re-sends WAKE_SIG to calls that may have missed it."""
        def run(q=self._waker):
            while True:
                cpu, seq, tries = q.get()
                if cpu is None:
                    return
                time.sleep(0.004)
                if not (cpu.host_blocking and cpu.sys_seq == seq) or tries >= 50:
                    continue
                try:
                    host_signal.pthread_kill(cpu.host_ident, WAKE_SIG)
                except (OSError, ProcessLookupError):
                    continue
                q.put((cpu, seq, tries + 1))
        old = block_host_signals(include_wake=True)
        try:
            threading.Thread(target=run, name="pyqemu-waker", daemon=True).start()
        finally:
            host_signal.pthread_sigmask(host_signal.SIG_SETMASK, old)

    # --- host side ------------------------------------------------------------------
    def install_host_handlers(self) -> None:
        """Inherit ignored dispositions and the mask from the host; catch host signals."""
        try:
            blocked = host_signal.pthread_sigmask(host_signal.SIG_BLOCK, [])
        except OSError:
            blocked = set()
        mask = 0
        for s in blocked:
            if 1 <= int(s) <= NSIG and int(s) not in (32, 33):
                mask |= bit(int(s))
        self.initial_mask = mask & ~UNBLOCKABLE
        for s in FORWARDED:
            try:
                if host_signal.getsignal(s) == host_signal.SIG_IGN:
                    self.actions[s].handler = SIG_IGN
                host_signal.signal(s, self._host_handler)
            except (OSError, ValueError):
                pass
        try:
            host_signal.signal(WAKE_SIG, self._host_handler)
        except (OSError, ValueError):
            pass
        host_signal.pthread_sigmask(host_signal.SIG_UNBLOCK, list(FORWARDED) + [WAKE_SIG])

    def prepare_exec(self, cpu) -> None:
        """Make the host dispositions and mask what an exec'd program inherits from the
        guest: its ignored signals stay ignored, everything else is default; the mask is
        the guest's. (libc's sigaction, not Python's: this may run in any thread.)"""
        saved = {}
        for s in range(1, NSIG + 1):
            if s in (SIGKILL, SIGSTOP, 32, 33):
                continue
            ign = self.actions[s].handler == SIG_IGN and s != WAKE_SIG
            old = _raw_sigaction(s, struct.pack("<Q", 1 if ign else 0))
            if old is not None:
                saved[s] = old
        self._exec_saved = saved
        sigs = [s for s in range(1, NSIG + 1) if cpu.sigmask & bit(s) and s not in (32, 33, 9, 19)]
        self._exec_mask = host_signal.pthread_sigmask(host_signal.SIG_SETMASK, sigs)

    def exec_failed(self, cpu) -> None:
        """Undo :meth:`prepare_exec` after a failed execve."""
        for s, old in getattr(self, "_exec_saved", {}).items():
            _raw_sigaction(s, old)
        self._exec_saved = {}
        mask = getattr(self, "_exec_mask", None)
        if mask is not None:
            host_signal.pthread_sigmask(host_signal.SIG_SETMASK, mask)

    def _host_handler(self, hsig: int, _frame) -> None:
        """Python-level handler of host signals (runs in the main thread; takes no locks)."""
        if hsig == WAKE_SIG:
            return  # its only purpose was to interrupt a blocking host call (EINTR)
        sig = hsig
        act = self.actions[sig]
        if sig == SIGCHLD:
            if act.handler == SIG_IGN or act.flags & SA_NOCLDWAIT:
                _reap_children()  # the kernel would not have kept zombies
            for c in list(self.child_waiters):
                c.kick()
        target = self._pick_target(sig)
        really_blocked = target is None or target.sigmask & bit(sig)
        if act.handler == SIG_IGN or (act.handler == SIG_DFL and sig in DEFAULT_IGNORE):
            if not really_blocked:
                return  # ignored signals are discarded unless blocked
        elif act.handler == SIG_DFL and not really_blocked:
            if sig in DEFAULT_STOP:
                stop_self(sig)
                return
            die_by_signal(sig)
        self.host_queue.append((sig, self._host_siginfo(sig)))
        self.maybe = True
        if target is not None:
            self.kick(target)

    @staticmethod
    def _host_siginfo(sig: int) -> bytes:
        if sig == SIGCHLD:
            try:
                r = os.waitid(os.P_ALL, 0, os.WEXITED | os.WSTOPPED | os.WCONTINUED | os.WNOHANG
                              | os.WNOWAIT)
            except OSError:
                r = None
            if r is not None:
                return siginfo(SIGCHLD, r.si_code, pid=r.si_pid, uid=r.si_uid, status=r.si_status)
            return siginfo(SIGCHLD, CLD_EXITED)
        if sig in (SIGALRM, SIGVTALRM, SIGPROF):
            return siginfo(sig, SI_KERNEL)  # most likely our own itimer
        return siginfo(sig, SI_USER)

    def _drain_host(self) -> None:
        """Move host signals into the process queue (caller holds the lock)."""
        q = self.host_queue
        while q:
            try:
                sig, info = q.popleft()
            except IndexError:
                break
            self._queue_process(sig, info)

    # --- queueing ---------------------------------------------------------------------
    def _ignored(self, sig: int) -> bool:
        h = self.actions[sig].handler
        return h == SIG_IGN or (h == SIG_DFL and sig in DEFAULT_IGNORE)

    def _queue(self, pend: dict, sig: int, info: bytes) -> None:
        lst = pend.get(sig)
        if lst is None:
            pend[sig] = [info]
        elif sig >= 32:
            lst.append(info)
        # standard signals do not queue: a second instance is dropped

    def _pick_target(self, sig: int):
        """The thread that takes a process-directed `sig`: the main thread if it does not
        block it, else another that does not (or waits for it in rt_sigtimedwait)."""
        b = bit(sig)
        main = self.main_cpu
        if main is not None and not main.sigmask & ~main.sigwaiting & b:
            return main
        for c in list(self.proc.threads.values()):
            if not c.sigmask & ~c.sigwaiting & b:
                return c
        return None

    def _queue_process(self, sig: int, info: bytes):
        """Queue a process-directed signal; returns the thread that should take it."""
        target = self._pick_target(sig)
        if self._ignored(sig) and target is not None and not target.sigmask & bit(sig):
            return None
        self._queue(self.pending, sig, info)
        self.maybe = True
        return target

    def send_process(self, sig: int, info: bytes) -> None:
        """A process-directed signal (kill): any thread that does not block it takes it."""
        if sig == SIGKILL:
            die_by_signal(SIGKILL)
        if sig == SIGCONT:
            pass  # we are running, so there is nothing to continue
        with self.lock:
            target = self._queue_process(sig, info)
        if target is not None:
            self.kick(target)

    def send_thread(self, cpu, sig: int, info: bytes) -> None:
        """A thread-directed signal (tgkill, SIGPIPE, faults)."""
        if sig == SIGKILL:
            die_by_signal(SIGKILL)
        with self.lock:
            if self._ignored(sig) and not cpu.sigmask & bit(sig):
                return
            self._queue(cpu.sig_pending, sig, info)
            self.maybe = True
        self.kick(cpu)

    def kick(self, cpu) -> None:
        """Wake `cpu` so that it notices a new signal: from one of our waits (its wake
        lock), or from a blocking host system call (WAKE_SIG makes it fail with EINTR,
        which the syscall layer turns into a restart)."""
        cpu.kick()
        if cpu.host_blocking:
            if cpu.host_ident != threading.get_ident():
                try:
                    host_signal.pthread_kill(cpu.host_ident, WAKE_SIG)
                except (OSError, ProcessLookupError):
                    pass
            # The call may not have reached the kernel yet: poke it again shortly.
            self._waker.put((cpu, cpu.sys_seq, 0))

    def force_sync(self, cpu, sig: int, code: int, addr: int, esr: int = 0) -> None:
        """Queue a synchronous fault signal; blocked or ignored ones become fatal (force_sig)."""
        info = siginfo(sig, code, addr=addr)
        with self.lock:
            act = self.actions[sig]
            if cpu.sigmask & bit(sig) or act.handler == SIG_IGN:
                act.handler = SIG_DFL
                cpu.sigmask &= ~bit(sig)
            self._queue(cpu.sig_pending, sig, info)
            self.maybe = True
        cpu.fault_address = addr if sig in (SIGSEGV, SIGBUS) else 0
        cpu.fault_esr = esr

    # --- queries ------------------------------------------------------------------------
    def deliverable(self, cpu) -> bool:
        """Whether `cpu` has a signal it would take now."""
        if not self.maybe and not cpu.sig_pending:
            return False
        with self.lock:
            self._drain_host()
            m = cpu.sigmask
            for pend in (cpu.sig_pending, self.pending):
                for s in pend:
                    if not m & bit(s):
                        return True
        return False

    def pending_set(self, cpu) -> int:
        with self.lock:
            self._drain_host()
            r = 0
            for s in cpu.sig_pending:
                r |= bit(s)
            for s in self.pending:
                r |= bit(s)
        return r

    def _dequeue(self, cpu, allowed: int) -> tuple[int, bytes] | None:
        """Take the next signal in `allowed`: thread queue first, synchronous first, lowest first."""
        for pend in (cpu.sig_pending, self.pending):
            best = 0
            for s in pend:
                if allowed & bit(s):
                    if not best or (bit(s) & SYNC_MASK and not bit(best) & SYNC_MASK) or \
                            (s < best and bool(bit(s) & SYNC_MASK) == bool(bit(best) & SYNC_MASK)):
                        best = s
            if best:
                lst = pend[best]
                info = lst.pop(0)
                if not lst:
                    del pend[best]
                return best, info
        return None

    def dequeue(self, cpu, allowed: int) -> tuple[int, bytes] | None:
        with self.lock:
            self._drain_host()
            r = self._dequeue(cpu, allowed)
            self._update_maybe()
        return r

    def _update_maybe(self) -> None:
        self.maybe = False
        if self.pending or self.host_queue or any(c.sig_pending for c in list(self.proc.threads.values())):
            self.maybe = True

    def discard(self, sig: int) -> None:
        """Drop pending instances of `sig` everywhere (its action became 'ignore')."""
        with self.lock:
            self._drain_host()
            self.pending.pop(sig, None)
            for c in list(self.proc.threads.values()):
                c.sig_pending.pop(sig, None)

    def reset_after_fork(self, cpu) -> None:
        """In a fork child: no pending signals, one thread, fresh locks, a new waker."""
        self.lock = threading.Lock()
        self._waker = queue.SimpleQueue()
        self._start_waker()
        self.pending.clear()
        self.host_queue.clear()
        self.child_waiters.clear()
        cpu.sig_pending.clear()
        self.main_cpu = cpu
        self.maybe = False

    # --- waiting ------------------------------------------------------------------------
    def wait_event(self, cpu, check: Callable[[], object], deadline: float | None = None,
                   poll: float | None = None, interruptible: bool = True):
        """Block until ``check()`` returns non-None (returned), a signal (INTERRUPTED) or
        the monotonic `deadline` (TIMED_OUT). `poll` bounds each sleep, for conditions
        nobody signals."""
        wake = cpu.wake
        while True:
            wake.acquire(False)
            r = check()
            if r is not None:
                return r
            if interruptible and self.deliverable(cpu):
                return INTERRUPTED
            timeout = -1.0
            if deadline is not None:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    return TIMED_OUT
            if poll is not None and (timeout < 0 or timeout > poll):
                timeout = poll
            wake.acquire(True, timeout)

    def sleep(self, cpu, seconds: float) -> float:
        """Interruptible sleep; returns the time left (0.0 when it ran to the end)."""
        deadline = time.monotonic() + seconds
        r = self.wait_event(cpu, lambda: None, deadline)
        if r is INTERRUPTED:
            return max(0.0, deadline - time.monotonic())
        return 0.0

    # --- delivery -----------------------------------------------------------------------
    def deliver_pending(self, cpu) -> None:
        """Deliver what `cpu` can take now (between slices of translated code)."""
        self.do_signal(cpu)

    def do_signal(self, cpu, sysret: int | None = None, orig_x0: int = 0) -> None:
        """Linux's do_signal: syscall restart handling, then deliver every deliverable signal.

        `sysret` is the (unsigned 64-bit) result of the system call just made,
        None when not returning from a system call.
        """
        R = cpu.regs
        restart = None
        if sysret is not None:
            ret = sysret - (1 << 64) if sysret >> 63 else sysret
            if ret in RESTART_CODES:
                cont = cpu.pc
                R[0] = orig_x0
                ilen = 2 if self.arm32 and cont & 1 else 4  # a Thumb SVC is 2 bytes
                cpu.pc = cont - ilen
                restart = (ret, cont)
        delivered = False
        while True:
            item = self.dequeue(cpu, ~cpu.sigmask & ALL_SIGNALS)
            if item is None:
                break
            sig, info = item
            gdb = getattr(self.proc, "gdb", None)
            if gdb is not None and not gdb.stop(cpu, sig):
                continue  # gdb suppressed it (QEMU's gdb_handlesig)
            if self.proc.strace:
                strace_taken_signal(sig, info)
            act = self.actions[sig]
            h = act.handler
            if h == SIG_IGN:
                continue
            if h == SIG_DFL:
                if sig in DEFAULT_IGNORE:
                    continue
                if sig in DEFAULT_STOP:
                    stop_self(sig)
                    continue
                die_by_signal(sig)
            if restart is not None:
                ret, cont = restart
                if cpu.pc == cont - ilen and (ret in (-ERESTARTNOHAND, -ERESTART_RESTARTBLOCK)
                                              or (ret == -ERESTARTSYS and not act.flags & SA_RESTART)):
                    R[0] = -errno.EINTR & self.reg_mask
                    cpu.pc = cont
                restart = None
            if self._setup_frame(cpu, sig, info, act):
                delivered = True
        if restart is not None and restart[0] == -ERESTART_RESTARTBLOCK:
            R[self.nr_reg] = self.nr_restart
        if not delivered and cpu.saved_sigmask is not None:
            cpu.sigmask = cpu.saved_sigmask
            cpu.saved_sigmask = None

    def on_altstack(self, cpu, sp: int) -> bool:
        ss_sp, ss_size, flags = cpu.altstack
        if flags & SS_AUTODISARM:
            return False
        return sp > ss_sp and sp - ss_sp <= ss_size

    def sas_flags(self, cpu, sp: int) -> int:
        if not cpu.altstack[1]:
            return SS_DISABLE
        return SS_ONSTACK if self.on_altstack(cpu, sp) else 0

    def trampoline(self, code: bytes = frame_mod.TRAMPOLINE) -> int:
        """Address of a guest page holding the sigreturn ``code`` (made on first use);
        by default ``mov x8, #139; svc #0``."""
        if not self._trampoline:
            mem = self.proc.mem
            from pyqemu.linux_user.mmap import PAGE_SIZE, PROT_EXEC, PROT_READ
            addr = mem.find_free(PAGE_SIZE)
            mem.map(addr, PAGE_SIZE, PROT_READ | PROT_EXEC, code)
            self._trampoline = addr
        return self._trampoline

    def sigsp(self, cpu, sp: int, act: SigAction) -> int:
        """Top of the stack for a signal frame: the alternate stack's if ``act`` asks for it
        and ``sp`` is not on it already, else ``sp``."""
        ss_sp, ss_size, _ = cpu.altstack
        if act.flags & SA_ONSTACK and self.sas_flags(cpu, sp) == 0:
            return ss_sp + ss_size
        return sp

    def force_sigsegv(self, cpu, sig: int, act: SigAction) -> bool:
        """The frame for ``sig`` could not be written: force a SIGSEGV (a SIGSEGV we cannot
        deliver kills the process).  Returns False, for ``_setup_frame``."""
        if sig == SIGSEGV:
            act.handler = SIG_DFL
        self.force_sync(cpu, SIGSEGV, SI_KERNEL, 0)
        return False

    def signal_delivered(self, cpu, sig: int, act: SigAction, ss_cfg: int) -> bool:
        """The handler of ``sig`` has been entered: block its mask (and ``sig`` unless
        SA_NODEFER), apply SA_RESETHAND and SS_AUTODISARM.  Returns True."""
        newmask = cpu.sigmask | act.mask
        if not act.flags & SA_NODEFER:
            newmask |= bit(sig)
        cpu.sigmask = newmask & ~UNBLOCKABLE
        cpu.saved_sigmask = None
        if act.flags & SA_RESETHAND:
            act.handler = SIG_DFL
        if ss_cfg & SS_AUTODISARM:
            cpu.altstack = (0, 0, SS_DISABLE)
        return True

    def _setup_frame(self, cpu, sig: int, info: bytes, act: SigAction) -> bool:
        if self.arm32:
            from pyqemu.linux_user.arm import signal_arm
            return signal_arm.setup_frame(self, cpu, sig, info, act)
        R = cpu.regs
        sp = R[31]
        ss_sp, ss_size, ss_cfg = cpu.altstack
        record, frame = frame_mod.frame_location(self.sigsp(cpu, sp, act))
        saved = cpu.saved_sigmask if cpu.saved_sigmask is not None else cpu.sigmask
        blob = frame_mod.build_frame(cpu, info, saved, (ss_sp, ss_cfg, ss_size),
                                     cpu.fault_address, cpu.fault_esr)
        mem = self.proc.mem
        try:
            mem.write(record, struct.pack("<QQ", R[29], R[30]))
            mem.write(frame, blob)
        except GuestException:
            return self.force_sigsegv(cpu, sig, act)
        restorer = act.restorer if act.flags & SA_RESTORER else self.trampoline()
        R[0] = sig
        if act.flags & SA_SIGINFO:
            R[1] = frame
            R[2] = frame + frame_mod.UC_OFF
        R[31] = frame
        R[29] = record
        R[30] = restorer
        cpu.pc = act.handler
        R[REG_EXCL_ADDR] = (1 << 64) - 1  # exception entry clears the exclusive monitor
        return self.signal_delivered(cpu, sig, act, ss_cfg)

    def sigreturn(self, cpu) -> bool:
        """rt_sigreturn: restore the context saved by :meth:`_setup_frame`. False if bad."""
        R = cpu.regs
        sp = R[31]
        if sp & 15:
            return False
        try:
            data = self.proc.mem.read(sp, frame_mod.FRAME_SIZE)
            mask, stack = frame_mod.restore_frame(cpu, data)
        except (GuestException, frame_mod.BadFrame):
            return False
        cpu.sigmask = mask & ~UNBLOCKABLE
        cpu.saved_sigmask = None
        R[REG_EXCL_ADDR] = (1 << 64) - 1
        self.set_altstack(cpu, stack, R[31])  # errors ignored, as restore_altstack does
        return True

    def set_altstack(self, cpu, stack: tuple[int, int, int], sp: int) -> int:
        """do_sigaltstack for a new stack_t (ss_sp, ss_flags, ss_size): 0 or -errno."""
        ss_sp, ss_flags, ss_size = stack
        if self.on_altstack(cpu, sp):
            return -errno.EPERM
        mode = ss_flags & ~SS_AUTODISARM
        if mode not in (0, SS_ONSTACK, SS_DISABLE):
            return -errno.EINVAL
        if mode == SS_DISABLE:
            ss_sp = ss_size = 0
        elif ss_size < MINSIGSTKSZ:
            return -errno.ENOMEM
        cpu.altstack = (ss_sp, ss_size, ss_flags)
        return 0
