"""A user-mode guest process: its address space, translated code, threads."""
from __future__ import annotations

import struct
import sys
import threading

from pyqemu.accel.tcg import cpu_exec as _cpu_exec
from pyqemu.accel.tcg.excp import GuestException
from pyqemu.accel.tcg.tb import TBCache
from pyqemu.linux_user import syscall as _syscall
from pyqemu.linux_user.mmap import PAGE_SHIFT, PAGE_SIZE, GuestMemory
from pyqemu.target.arm import translate_a64
from pyqemu.target.arm.cpu import ARMCPU


class UserCPU(ARMCPU):
    """An AArch64 vCPU of a user-mode process (one per guest thread)."""

    def __init__(self, proc: Process) -> None:
        super().__init__()
        self.proc = proc
        self.tid = 0
        self.clear_child_tid = 0
        self.sigmask = 0
        self.sigaltstack = (0, 2, 0)  # sp, flags (SS_DISABLE), size
        self.pending: list = []  # thread-directed pending signals

    # hooks called from generated code
    def lookup(self, pc: int):
        return self.proc.tbs.lookup(pc)

    def exception_svc(self) -> None:
        _syscall.dispatch(self.proc, self)

    def fault_in_block(self, e, linemap):
        return _cpu_exec.fault_in_block(self, e, linemap)

    def dc_zva(self, addr: int) -> None:
        self.proc.mem.write(addr, bytes(64))


class Process:
    """Everything shared by the threads of one guest process."""

    def __init__(self, strace: bool = False, one_insn_per_tb: bool = False) -> None:
        self.mem = GuestMemory()
        self.strace = strace
        self.exe_path = ""
        self.exe_argv0 = ""
        self.ld_prefix: str | None = None
        self.max_insns = 1 if one_insn_per_tb else translate_a64.MAX_INSNS
        ns = self._namespace()
        import os
        self.count_insns = bool(os.environ.get("PYQEMU_COUNT_INSNS"))
        self.tbs = TBCache(self._translate, ns, on_code_page=self._on_code_page,
                           count_insns=self.count_insns)
        self.mem.on_unmap = self._code_unmapped
        self.lock = threading.RLock()
        self.threads: dict[int, UserCPU] = {}
        self.exit_status: int | None = None
        self.options: dict = {}

    # --- translated code -----------------------------------------------------------
    def _translate(self, pc: int):
        return translate_a64.translate(None, pc, self.mem.fetch32, self.max_insns)

    def _on_code_page(self, page: int) -> None:
        self.mem.code_pages.add(page)
        if self.mem.wp[page] == 1:
            self.mem.wp[page] = 2

    def _code_unmapped(self, addr: int, length: int) -> None:
        page = addr >> PAGE_SHIFT
        self.tbs.invalidate_page(page)
        self.mem.code_pages.discard(page)
        if self.mem.wp[page] == 2:
            self.mem.wp[page] = 1

    def _namespace(self) -> dict:
        mem = self.mem
        ns: dict = {"M": mem.mem, "RP": mem.rp, "WP": mem.wp}
        for size, ch in ((1, "B"), (2, "H"), (4, "I"), (8, "Q")):
            ns[f"U{size * 8}"] = struct.Struct("<" + ch).unpack_from
            ns[f"S{size * 8}"] = struct.Struct("<" + ch.lower()).unpack_from
            ns[f"P{size * 8}"] = struct.Struct("<" + ch).pack_into

        def segv(cpu, addr, write):
            raise GuestException("segv", addr, bool(write))

        def unaligned(cpu, addr, write):
            raise GuestException("bus", addr, bool(write))

        def st_slow(cpu, addr, val, size):
            page = addr >> PAGE_SHIFT
            wp = mem.wp[page]
            if wp == 0:
                raise GuestException("segv", addr, True)
            if wp == 2:
                self._code_unmapped(page << PAGE_SHIFT, PAGE_SIZE)
            last = (addr + size - 1) >> PAGE_SHIFT
            if last != page:
                if mem.wp[last] == 0:
                    raise GuestException("segv", (last << PAGE_SHIFT), True)
                if mem.wp[last] == 2:
                    self._code_unmapped(last << PAGE_SHIFT, PAGE_SIZE)
            mem.mem[addr:addr + size] = (val & ((1 << (size * 8)) - 1)).to_bytes(size, "little")

        ns["SEGV"] = segv
        ns["UNALIGNED"] = unaligned
        ns["ST_SLOW"] = st_slow
        return ns

    # --- running ---------------------------------------------------------------------
    def new_cpu(self) -> UserCPU:
        return UserCPU(self)

    def run_main(self, cpu: UserCPU) -> int:
        """Run the main thread; returns the process exit status."""
        import os

        from pyqemu.accel.tcg.excp import GuestExit, InternalError
        from pyqemu.linux_user.signal import SignalState
        self.signals = SignalState(self)
        cpu.tid = os.getpid()
        self.threads[cpu.tid] = cpu
        try:
            self.run_thread(cpu)
        except GuestExit as e:
            sys.stdout.flush()
            if self.count_insns:
                total = sum(getattr(c, "icount", 0) for c in self.threads.values())
                sys.stderr.write(f"insns: {total}\n")
            return e.status & 0xFF
        except InternalError as e:
            sys.stderr.write(f"pyqemu-aarch64: {e}\n")
            return 1
        return 0

    def run_thread(self, cpu: UserCPU) -> None:
        """The CPU loop of one guest thread; returns when the thread exits."""
        from pyqemu.linux_user.aarch64.cpu_loop import cpu_loop
        cpu_loop(self, cpu)

    def strace_enter(self, cpu, nr, name, args) -> None:
        from pyqemu.linux_user import strace
        strace.enter(self, cpu, nr, name, args)

    def strace_exit(self, cpu, nr, name, args, ret) -> None:
        from pyqemu.linux_user import strace
        strace.exit(self, cpu, nr, name, args, ret)

    def log(self, msg: str) -> None:
        sys.stderr.write(msg)
