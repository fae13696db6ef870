"""A user-mode guest process: its address space, translated code, threads."""
from __future__ import annotations

import errno
import os
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from pyqemu.accel.tcg import cpu_exec as _cpu_exec
from pyqemu.accel.tcg.excp import GuestException, GuestExit, InternalError
from pyqemu.accel.tcg.tb import TBCache
from pyqemu.linux_user import syscall as _syscall
from pyqemu.linux_user.aarch64.signal_frame import siginfo
from pyqemu.linux_user.aarch64.syscall_nr import NUMBERS
from pyqemu.linux_user.abi import ABIS
from pyqemu.linux_user.mmap import PAGE_SHIFT, PAGE_SIZE, GuestMemory
from pyqemu.linux_user.signal import (
    ERESTART_RESTARTBLOCK,
    ERESTARTNOHAND,
    ERESTARTSYS,
    SI_USER,
    SIGPIPE,
    SS_DISABLE,
    SignalState,
    block_host_signals,
)
from pyqemu.target.arm import cpu32 as _cpu32
from pyqemu.target.arm import translate_a64
from pyqemu.target.arm.cpu import ARMCPU, REG_TPIDR
from pyqemu.target.arm.cpu32 import ARMCPU32

M64 = 0xFFFFFFFFFFFFFFFF


def _nrs(*names: str) -> frozenset[int]:
    return frozenset(NUMBERS[n] for n in names if n in NUMBERS)


# System calls that may block in the host: a signal for the thread interrupts them
# (WAKE_SIG -> EINTR -> restart code), so they are bracketed by `host_blocking`.
HOST_BLOCKING = _nrs(
    "read", "readv", "write", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg", "accept",
    "accept4", "connect", "ppoll", "pselect6", "epoll_pwait", "epoll_pwait2", "openat",
    "openat2", "flock", "fcntl", "msgrcv", "msgsnd", "semtimedop", "mq_timedsend",
    "mq_timedreceive", "splice", "tee", "sendfile", "io_getevents", "io_pgetevents", "ioctl",
    "getrandom", "copy_file_range", "vmsplice", "close", "fsync",
    "fdatasync", "sync_file_range", "fallocate", "ftruncate", "truncate")
# -EINTR from these reaches the guest as is (the kernel returns it unconditionally).
EINTR_FINAL = _nrs("close", "rt_sigsuspend", "rt_sigtimedwait", "restart_syscall", "io_getevents",
                   "io_pgetevents", "nanosleep", "clock_nanosleep")
# Calls that fail with EINTR when a handler runs even under SA_RESTART (and go on
# waiting when the signal was ignored): the kernel's ERESTARTNOHAND.
RESTART_FOR = {nr: -ERESTARTNOHAND & M64 for nr in _nrs("ppoll", "pselect6", "epoll_pwait", "epoll_pwait2")}
ERESTARTSYS_RET = -ERESTARTSYS & M64
EINTR_RET = -errno.EINTR & M64
EPIPE_RET = -errno.EPIPE & M64
EINTR_MIN = min(EINTR_RET, EPIPE_RET)
RESTART_MIN = -ERESTART_RESTARTBLOCK & M64
RESTART_MAX = -ERESTARTSYS & M64
# Writes to a broken pipe or socket raise SIGPIPE (unless MSG_NOSIGNAL).
SIGPIPE_CALLS = _nrs("write", "writev", "pwrite64", "pwritev", "pwritev2", "sendto", "sendmsg",
                     "sendmmsg", "splice", "vmsplice", "tee", "sendfile", "copy_file_range")
MSG_FLAGS_ARG = {NUMBERS["sendto"]: 3, NUMBERS["sendmsg"]: 2, NUMBERS["sendmmsg"]: 3}
MSG_NOSIGNAL = 0x4000


@dataclass(frozen=True)
class SvcNumbers:
    """An ABI's system-call number sets for :func:`run_svc` (see the AArch64 ones above)."""

    host_blocking: frozenset[int]
    eintr_final: frozenset[int]
    restart_for: dict[int, int]
    sigpipe_calls: frozenset[int]
    msg_flags_arg: dict[int, int]  # call -> register holding its MSG_* flags


A64_SVC = SvcNumbers(HOST_BLOCKING, EINTR_FINAL, RESTART_FOR, SIGPIPE_CALLS, MSG_FLAGS_ARG)


def run_svc(cpu, nr: int, call: Callable[[], int | None], abi: SvcNumbers, mask: int) -> None:
    """Run system call ``nr`` with ``call()``, then handle restarts and deliver signals.

    ``call()`` returns the result (a 64-bit two's complement value), or None when the call
    set the registers itself; ``mask`` covers the result register (r0 or x0).
    """
    R = cpu.regs
    orig_r0 = R[0]
    signals = cpu.proc.signals
    cpu.skip_restart = False
    if nr in abi.host_blocking:
        cpu.sys_seq += 1
        cpu.host_blocking = True
        try:
            if signals.maybe and signals.deliverable(cpu):
                R[0] = ERESTARTSYS_RET & mask  # take the signal first, then restart the call
                ret = ERESTARTSYS_RET
            else:
                ret = call()
        finally:
            cpu.host_blocking = False
    else:
        ret = call()
    if ret is not None and ret >= EINTR_MIN:
        if ret == EINTR_RET and nr not in abi.eintr_final and not cpu.skip_restart:
            # A host call was interrupted by a host signal: restart it, or
            # return EINTR if a handler runs (as the kernel's -ERESTART* codes do).
            ret = abi.restart_for.get(nr, ERESTARTSYS_RET)
            R[0] = ret & mask
        elif ret == EPIPE_RET and nr in abi.sigpipe_calls and not cpu.skip_restart \
                and not (nr in abi.msg_flags_arg and R[abi.msg_flags_arg[nr]] & MSG_NOSIGNAL):
            signals.send_thread(cpu, SIGPIPE, siginfo(SIGPIPE, SI_USER, pid=os.getpid(), uid=os.getuid()))
    if cpu.skip_restart or ret is None:
        if signals.maybe:
            signals.do_signal(cpu)
    elif signals.maybe or cpu.saved_sigmask is not None or RESTART_MIN <= ret <= RESTART_MAX:
        signals.do_signal(cpu, ret, orig_r0)


def threading_mask_restore(mask: set) -> None:
    import signal as host_signal
    host_signal.pthread_sigmask(host_signal.SIG_SETMASK, mask)


class ThreadExit(Exception):
    """A guest thread called exit(): unwinds its CPU loop."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _UserThread:
    """What a user-mode vCPU adds to the architectural state: its thread's OS state.
    Mixed into the CPU class of each target (:class:`UserCPU`, :class:`UserCPU32`)."""

    def __init__(self, proc: Process) -> None:
        super().__init__()
        self.proc = proc
        self.mem = proc.mem  # guest memory for helpers (atomics: target/arm/helper_a64_atomic.py)
        self.tid = 0
        self.clear_child_tid = 0
        self.robust_list = (0, 0)  # head, len
        # signals (see linux_user/signal.py)
        self.sigmask = 0
        self.saved_sigmask: int | None = None  # mask to restore after rt_sigsuspend
        self.sigwaiting = 0  # signals this thread waits for in rt_sigtimedwait
        self.sig_pending: dict[int, list[bytes]] = {}  # thread-directed pending signals
        self.altstack = (0, 0, SS_DISABLE)  # ss_sp, ss_size, ss_flags
        self.fault_address = 0
        self.fault_esr = 0
        self.restart_fn = None  # what restart_syscall runs
        self.skip_restart = False  # set by rt_sigreturn: x0 is not a syscall result
        # waiting: `wake` is a binary semaphore, released by whoever has news for us
        self.wake = threading.Lock()
        self.wake.acquire()
        self.host_blocking = False  # inside a system call that may block in the host
        self.sys_seq = 0
        self.on_main = False  # runs on the host main thread
        self.host_ident = 0

    def kick(self) -> None:
        """Wake this thread from a wait of the emulator (futex, sigsuspend, ...)."""
        try:
            self.wake.release()
        except RuntimeError:
            pass  # already released

    def new_thread_cpu(self):
        """A CPU for a new thread: a copy of this one's registers."""
        c = type(self)(self.proc)
        c.regs[:] = self.regs
        c.pc = self.pc
        for k in ("midr", "mpidr", "ctr", "dczid", "cntfrq"):
            if hasattr(self, k):
                setattr(c, k, getattr(self, k))
        c.sigmask = self.sigmask
        return c

    # hooks called from generated code
    def lookup(self, pc: int):
        return self.proc.tbs.lookup(pc)

    def exception_svc(self) -> None:
        """SVC: run the system call, then handle restarts and deliver signals."""
        R = self.regs

        def call() -> int:
            _syscall.dispatch(self.proc, self)
            return R[0]

        run_svc(self, R[8], call, A64_SVC, M64)

    def fault_in_block(self, e, linemap, count=False):
        return _cpu_exec.fault_in_block(self, e, linemap, count)

    def dc_zva(self, addr: int) -> None:
        self.proc.mem.write(addr, bytes(64))

    def rmw_view(self, addr: int, size: int) -> tuple[memoryview, int]:
        """Guest memory for an aligned atomic read-modify-write at ``addr`` (target/arm atomics)."""
        mem = self.proc.mem
        try:
            w = mem.wp[addr >> PAGE_SHIFT]
        except IndexError:
            w = 0
        if not w:
            raise GuestException("segv", addr, True)
        if w == 2:  # translated code lives there: drop it first (without rewriting the
            mem.host_w(addr, size)  # bytes, which could undo another thread's store)
        return mem.mem, addr


class UserCPU(_UserThread, ARMCPU):
    """An AArch64 vCPU of a user-mode process (one per guest thread)."""

    SP_REG = 31  # where clone() puts the new stack and TLS pointer
    TLS_REG = REG_TPIDR


class UserCPU32(_UserThread, ARMCPU32):
    """An AArch32 vCPU of a user-mode process (one per guest thread)."""

    SP_REG = _cpu32.REG_SP
    TLS_REG = _cpu32.REG_TPIDRURO
    syscall_name = None  # the implementation's name while a system call runs
    arm_scratch = 0  # linux_user/arm/syscalls.py: scratch page for converted arguments

    def exception_svc(self) -> None:
        from pyqemu.linux_user.arm.syscalls import exception_svc
        exception_svc(self)


# The guest architectures of user mode: name -> (CPU class, translator module).
TARGETS = {"aarch64": UserCPU, "arm": UserCPU32}


class Process:
    """Everything shared by the threads of one guest process.

    ``target`` is the guest architecture: ``"aarch64"`` or ``"arm"`` (AArch32).
    """

    def __init__(self, strace: bool = False, one_insn_per_tb: bool = False,
                 target: str = "aarch64") -> None:
        self.target = target
        self.abi = ABIS[target]
        self.cpu_class = TARGETS[target]
        self.mem = GuestMemory()
        self._fetch = self.mem.fetch32
        if target == "arm":
            from pyqemu.linux_user.arm import kuser
            abi = self.abi
            self.mem.set_layout(abi.va_limit, abi.mmap_top, abi.mmap_bottom)
            self.mem.reserved_va = abi.reserved_va
            kuser.map_page(self.mem)
            self._fetch = kuser.wrap_fetch(self.mem.fetch16)
        self.strace = strace
        self.exe_path = ""
        self.exe_argv0 = ""
        self.ld_prefix: str | None = None
        self.max_insns = 1 if one_insn_per_tb else translate_a64.MAX_INSNS
        ns = self._namespace()
        import os
        self.count_insns = bool(os.environ.get("PYQEMU_COUNT_INSNS"))
        self.exited_insns = 0  # instructions of threads that called exit()
        self.tbs = TBCache(self._translate, ns, on_code_page=self._on_code_page,
                           count_insns=self.count_insns, code_cache=self._code_cache(),
                           lock=self.mem.lock)
        self.mem.on_unmap = self._code_unmapped
        self._enable_native()
        self.model_cpu: UserCPU | None = None
        self.lock = threading.RLock()
        self.threads: dict[int, UserCPU] = {}
        self.exit_status: int | None = None
        self.options: dict = {}
        self.gdb = None  # the gdbstub (linux_user/gdb.py) with -g

    # --- translated code -----------------------------------------------------------
    def _enable_native(self) -> None:
        """The native tier (accel/tcg/native.py) unless PYQEMU_JIT=off or llvmlite is missing."""
        from pyqemu.accel.tcg import native
        mode = native.jit_mode()
        if mode == "off":
            return
        from pyqemu.linux_user.mmap import GUEST_VA_BITS
        from pyqemu.tcg.llvmgen import GuestRAM
        if self.target == "aarch64":
            import pyqemu.target.arm.native_helpers  # noqa: F401 - registers them
            from pyqemu.target.arm.cpu import NREGS
        else:
            from pyqemu.target.arm.cpu32 import NREGS
        mem = self.mem
        ram = GuestRAM(mem.host_base, mem.table_address("rpf"), mem.table_address("wpf"), GUEST_VA_BITS)
        self.tbs.native = native.NativeTier(self.tbs, ram, NREGS, mode == "force")
        if mode == "force":
            self.tbs.code_cache = None  # every block is built (and goes native), none is loaded

    def _translate(self, pc: int):
        return self.translate_at(pc, self.max_insns)

    def translate_at(self, pc: int, max_insns: int):
        """The IR of the block at ``pc`` (at most ``max_insns`` instructions)."""
        # The first CPU stands for the model: ID registers are constants in code.
        model = next(iter(self.threads.values()), None) or self.model_cpu
        if self.target == "arm":
            from pyqemu.target.arm import translate32
            return translate32.translate(model, pc, self._fetch, max_insns)
        fetch = self.mem.fetch32
        if self.gdb is not None and self.gdb.breakpoints:
            fetch = self.gdb.fetch_guard(fetch)
        return translate_a64.translate(model, pc, fetch, max_insns)

    def _on_code_page(self, page: int) -> None:
        self.mem.code_pages.add(page)
        if self.mem.wp[page] == 1:
            self.mem.wp[page] = 2
            self.mem.update_fast_tables(page, page + 1)

    def code_written(self, addr: int, length: int) -> None:
        """Code at ``addr`` changes (gdb's memory writes): drop its translations."""
        self._code_unmapped(addr, length)

    def _code_unmapped(self, addr: int, length: int) -> None:
        page = addr >> PAGE_SHIFT
        self.tbs.invalidate_page(page)
        self.mem.code_pages.discard(page)
        if self.mem.wp[page] == 2:
            self.mem.wp[page] = 1
            self.mem.update_fast_tables(page, page + 1)

    def _namespace(self) -> dict:
        mem = self.mem
        ns: dict = {"M": mem.mem, "RP": mem.rpf, "WP": mem.wpf}
        for size, ch in ((1, "B"), (2, "H"), (4, "I"), (8, "Q")):
            ns[f"U{size * 8}"] = struct.Struct("<" + ch).unpack_from
            ns[f"S{size * 8}"] = struct.Struct("<" + ch.lower()).unpack_from
            ns[f"P{size * 8}"] = struct.Struct("<" + ch).pack_into

        def segv(cpu, addr, write):
            raise GuestException("segv", addr, bool(write))

        def unaligned(cpu, addr, write):
            raise GuestException("bus", addr, bool(write))

        lock = mem.lock

        def st_slow(cpu, addr, val, size):
            data = (val & ((1 << (size * 8)) - 1)).to_bytes(size, "little")
            page = addr >> PAGE_SHIFT
            last = (addr + size - 1) >> PAGE_SHIFT
            # Dropping the page's translations and the store are one step for the other guest
            # threads (translation holds the same lock): else one of them could translate the
            # old bytes in between, and no store would ever drop that translation.
            with lock:
                wp = mem.wp[page]
                if wp == 0:
                    raise GuestException("segv", addr, True)
                if wp == 2:
                    self._code_unmapped(page << PAGE_SHIFT, PAGE_SIZE)
                if last != page:
                    if mem.wp[last] == 0:
                        raise GuestException("segv", (last << PAGE_SHIFT), True)
                    if mem.wp[last] == 2:
                        self._code_unmapped(last << PAGE_SHIFT, PAGE_SIZE)
                mem.mem[addr:addr + size] = data

        def ld_slow(cpu, addr, size, signed, mask):
            """A load the fast tables did not clear: maybe unmapped, maybe crossing a page."""
            last = addr + size - 1
            for a in (addr, last):
                if a >= len(mem.mem) or not mem.rp[a >> PAGE_SHIFT]:
                    raise GuestException("segv", a if a == addr else (last & ~(PAGE_SIZE - 1)))
            v = int.from_bytes(mem.mem[addr:addr + size], "little")
            if signed and v >> (size * 8 - 1):
                v -= 1 << (size * 8)
            return v & mask

        ns["LD_SLOW"] = ld_slow
        ns["SEGV"] = segv
        ns["UNALIGNED"] = unaligned
        ns["ST_SLOW"] = st_slow
        return ns

    # --- running ---------------------------------------------------------------------
    def _code_cache(self):
        from pyqemu.accel.tcg.code_cache import CodeCache, default_dir
        d = default_dir()
        if d is None:
            return None
        mem = self.mem

        def page_bytes(page: int) -> bytes | None:
            if mem.wp[page] or not mem.xp[page]:
                return None  # writable code may change under us: don't cache it
            return bytes(mem.mem[page << PAGE_SHIFT:(page + 1) << PAGE_SHIFT])

        tag = f"insns={self.max_insns},count={self.count_insns}"
        if self.target != "aarch64":
            tag += f",target={self.target}"
        return CodeCache(d, tag, page_bytes)

    def flush_caches(self) -> None:
        """Save newly compiled blocks for later runs (at exit, exec, fatal signal)."""
        cache = self.tbs.code_cache
        if cache is not None:
            cache.flush()
        native = sys.modules.get("pyqemu.accel.tcg.native")  # (only if the native tier ran)
        if native is not None:
            native.save_disk_cache()

    def new_cpu(self) -> UserCPU:
        cpu = self.cpu_class(self)
        if self.model_cpu is None:
            self.model_cpu = cpu
        return cpu

    def run_main(self, cpu: UserCPU) -> int:
        """Run the main thread; returns the process exit status."""
        self.signals = SignalState(self)
        if self.tbs.native is not None:
            self.tbs.native.interrupts = self.signals  # native loops yield to pending signals
        cpu.sigmask = self.signals.initial_mask
        cpu.tid = os.getpid()
        cpu.on_main = True
        cpu.host_ident = threading.get_ident()
        self.signals.main_cpu = cpu
        self.threads[cpu.tid] = cpu
        if self.gdb is not None:
            self.gdb.attach(cpu)  # wait for gdb before the first instruction
        self._last_exit = threading.Lock()
        self._last_exit.acquire()
        self.main_loop_ident = threading.get_ident()  # the thread that returns the status
        self.main_waiting = False
        try:
            try:
                self.run_thread(cpu)
            except ThreadExit:
                # The main thread left with exit(): the process lives on until its last
                # thread exits. Wait here (host signal handlers run in this thread).
                self.signals.main_cpu = None
                self.main_waiting = True
                while not self._last_exit.acquire(True, 1.0):
                    pass
                status = self.exit_status or 0
            else:
                status = 0
        except GuestExit as e:
            status = e.status & 0xFF
        except InternalError as e:
            sys.stderr.write(f"{self.abi.prog}: {e}\n")
            return 1
        finally:
            self.flush_caches()
        sys.stdout.flush()
        self._report_counts()
        if self.gdb is not None:
            self.gdb.exited(status)
        return status

    def _report_counts(self) -> None:
        """PYQEMU_COUNT_INSNS=1: ``insns: N`` (every thread, exited ones too) and the
        translation cost (decode+optimise+generate+compile) on stderr, for benchmarks/."""
        if not self.count_insns or getattr(self, "_counts_reported", False):
            return
        self._counts_reported = True
        total = self.exited_insns + sum(getattr(c, "icount", 0) for c in self.threads.values())
        secs = getattr(self.tbs, "translate_seconds", 0.0)
        sys.stderr.write(f"insns: {total}\ntranslate: {secs:.3f} s, {self.tbs.count} blocks\n")
        nat = self.tbs.native
        if nat is not None:
            sys.stderr.write(f"native: {nat.regions} regions, compile {nat.compile_seconds:.3f} s, "
                             f"{nat.failed} failed, {nat.disk_hits} from disk{nat.retired_note()}\n")

    def run_thread(self, cpu: UserCPU) -> None:
        """The CPU loop of one guest thread; returns when the thread exits."""
        if self.target == "arm":
            from pyqemu.linux_user.arm.cpu_loop import cpu_loop
        else:
            from pyqemu.linux_user.aarch64.cpu_loop import cpu_loop
        cpu_loop(self, cpu)

    # --- threads ---------------------------------------------------------------------
    def start_thread(self, cpu: UserCPU, on_tid=None) -> int:
        """Run `cpu` in a new host thread; returns its tid (the host thread's).

        `on_tid(tid)` runs before the new thread executes guest code (the
        clone flags that store the tid).
        """
        ready = threading.Lock()
        ready.acquire()
        go = threading.Lock()
        go.acquire()

        def body() -> None:
            cpu.tid = threading.get_native_id()
            cpu.host_ident = threading.get_ident()
            ready.release()
            go.acquire()
            self._thread_body(cpu)

        t = threading.Thread(target=body, name=f"guest-{len(self.threads)}", daemon=True)
        old = block_host_signals()  # the new thread inherits the mask: host signals go to main
        try:
            t.start()
        finally:
            threading_mask_restore(old)
        ready.acquire()
        with self.lock:
            self.threads[cpu.tid] = cpu
        try:
            if on_tid is not None:
                on_tid(cpu.tid)
        finally:
            go.release()
        return cpu.tid

    def _thread_body(self, cpu: UserCPU) -> None:
        try:
            self.run_thread(cpu)
        except ThreadExit:
            pass
        except GuestExit as e:
            self.exit_group(e.status)
        except InternalError as e:
            sys.stderr.write(f"{self.abi.prog}: {e}\n")
            self._hard_exit(1)
        except BaseException:  # a bug: do not leave a half-dead process behind
            import traceback
            traceback.print_exc()
            self._hard_exit(1)

    def thread_exit(self, cpu: UserCPU, status: int) -> None:
        """exit(): end the calling thread only (clear_child_tid, robust futexes)."""
        from pyqemu.linux_user import futex
        futex.exit_robust_list(self, cpu)
        if cpu.clear_child_tid:
            try:
                self.mem.put_u32(cpu.clear_child_tid, 0)
                futex.wake(self, cpu.clear_child_tid, 1)
            except GuestException:
                pass
        with self.lock:
            self.threads.pop(cpu.tid, None)
            self.exited_insns += cpu.icount  # PYQEMU_COUNT_INSNS: the thread's share stays counted
            last = not self.threads
        if last:
            self.exit_status = status
            if threading.get_ident() == getattr(self, "main_loop_ident", None):
                raise GuestExit(status)
            if not getattr(self, "main_waiting", False):
                self._hard_exit(status)
            self._last_exit.release()  # the host main thread returns the status
        raise ThreadExit(status)

    def exit_group(self, status: int) -> None:
        """exit_group(): end every thread and the process with `status`."""
        status &= 0xFF
        if threading.get_ident() == getattr(self, "main_loop_ident", None) and len(self.threads) <= 1:
            raise GuestExit(status)  # the clean way out: run_main returns the status
        self._hard_exit(status)

    def _hard_exit(self, status: int) -> None:
        from pyqemu.linux_user.signal import run_exit_hooks
        run_exit_hooks()
        if self.gdb is not None:
            self.gdb.exited(status)
        self._report_counts()
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except (OSError, ValueError):
                pass
        from pyqemu.util import log
        flush = getattr(log, "flush", None)
        if flush is not None:
            flush()
        os._exit(status)

    def after_fork_child(self, cpu: UserCPU) -> None:
        """In the child of a fork: only the calling thread survives."""
        self.lock = threading.RLock()
        self.threads = {}
        cpu.tid = os.getpid()
        cpu.on_main = True
        cpu.host_ident = threading.get_ident()
        cpu.host_blocking = False
        cpu.wake = threading.Lock()
        cpu.wake.acquire()
        self.threads[cpu.tid] = cpu
        self._last_exit = threading.Lock()
        self._last_exit.acquire()
        self.main_waiting = False  # if a non-main thread forked, no run_main waits for us
        self.signals.reset_after_fork(cpu)
        from pyqemu.linux_user import futex
        futex.reset_after_fork(self)
        # this thread may have had host signals blocked (it was not the main thread)
        threading_mask_restore(set())

    def strace_enter(self, cpu, nr, name, args) -> None:
        from pyqemu.linux_user import strace
        strace.enter(self, cpu, nr, name, args)

    def strace_exit(self, cpu, nr, name, args, ret) -> None:
        from pyqemu.linux_user import strace
        strace.exit(self, cpu, nr, name, args, ret)

    def log(self, msg: str) -> None:
        sys.stderr.write(msg)
