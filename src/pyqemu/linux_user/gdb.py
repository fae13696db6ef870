"""The user-mode gdbstub (``-g port`` / ``QEMU_GDB``): the program waits for gdb before its
first instruction; breakpoints, single steps, Ctrl-C, signals and the exit are reported.

Breakpoints work on translation, for both tiers (docs/gdbstub.md): inserting or removing
one drops the translated code of its page (Python blocks and native regions alike); a
block is translated to end before a breakpoint, and translating the block at one raises
the debug exception. A single step runs a one-instruction block from a separate cache.
"""
from __future__ import annotations

import os
import socket
import sys

from pyqemu.accel.tcg.cpu_exec import cpu_exec
from pyqemu.accel.tcg.excp import GuestException
from pyqemu.gdbstub.rsp import RspConnection
from pyqemu.gdbstub.server import SIGINT, SIGTRAP, GdbServer, Resume, to_gdb_signal

PAGE_SHIFT = 12


class GdbSetupError(Exception):
    """The gdbstub could not listen where asked."""


def listen(spec: str) -> socket.socket:
    """QEMU's -g argument: a TCP port (all interfaces), or else a Unix socket path."""
    try:
        if spec.isdigit() and int(spec) > 0:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", int(spec)))
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(spec)
        s.listen(1)
        return s
    except (OSError, ValueError, OverflowError):
        raise GdbSetupError(f"could not open gdbserver on {spec}") from None


class UserGdb:
    """The gdbstub of one user-mode process (its first guest thread is the one debugged)."""

    def __init__(self, proc, listener: socket.socket) -> None:
        self.proc = proc
        self.listener = listener
        self.breakpoints: set[int] = set()
        self.stepping = False
        self.server: GdbServer | None = None
        self._step_tbs = None

    # --- connection -------------------------------------------------------------------
    def attach(self, cpu) -> None:
        """Wait for gdb, then serve it until it resumes the program."""
        conn, _ = self.listener.accept()
        self.listener.close()
        if conn.family == socket.AF_INET:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server = GdbServer(RspConnection(conn), self)
        self.server.stop_reply(SIGTRAP, cpu.tid)
        self._resume(self.server.serve(None), 0)

    def _resume(self, how: Resume, sig: int) -> int:
        """Act on gdb's resume command after a stop with ``sig``; returns the signal to
        deliver (0: none): gdb's choice, or ``sig`` itself once gdb has gone."""
        if how.action == "k":
            sys.stderr.write(f"{self.proc.abi.prog}: QEMU: Terminated via GDBstub\n")
            os._exit(0)  # as QEMU: gdb's kill ends the process at once
        if how.action == "D":
            self.detach()
            return sig
        self.stepping = how.action == "s"
        return how.signal

    def detach(self) -> None:
        if self.server is not None:
            self.server.conn.close()
            self.server = None
        self.stepping = False
        bps, self.breakpoints = self.breakpoints, set()
        for addr in bps:
            self._invalidate(addr)
        self.proc.tbs.debugging = False

    def stop(self, cpu, sig: int) -> int:
        """The program stopped with ``sig``: tell gdb and serve it until it resumes; returns
        the signal to deliver (gdb may suppress or change it)."""
        if self.server is None:
            return sig
        return self._resume(self.server.serve(self.server.stop_reply(sig, cpu.tid)), sig)

    def exited(self, status: int) -> None:
        self._final(f"W{status & 0xFF:02x}")

    def signalled(self, sig: int) -> None:
        self._final(f"X{to_gdb_signal(sig):02x}")

    def _final(self, reply: str) -> None:
        server, self.server = self.server, None
        if server is not None:
            try:
                server.conn.send_packet(reply)
            except Exception:  # noqa: BLE001 - gdb may be gone already
                pass
            server.conn.close()

    # --- running ------------------------------------------------------------------------
    def run(self, cpu, tbs, budget: int) -> None:
        """cpu_exec under gdb: one instruction when stepping, else a slice that stops at
        breakpoints and at gdb's Ctrl-C."""
        if self.server is None:
            cpu_exec(cpu, tbs, budget)
            return
        if self.stepping:
            self._step(cpu)
            self.stop(cpu, SIGTRAP)
            return
        if self.server.conn.interrupt_pending():
            self.server.conn.buf.clear()
            self.stop(cpu, SIGINT)
            return
        try:
            cpu_exec(cpu, tbs, budget)
        except GuestException as e:
            if e.kind != "debug":
                raise
            self.stop(cpu, SIGTRAP)

    def _step(self, cpu) -> None:
        """Run exactly one instruction (a one-instruction block, never cached or native)."""
        if self._step_tbs is None:
            from pyqemu.accel.tcg.tb import TBCache
            proc = self.proc
            self._step_tbs = TBCache(lambda pc: proc.translate_at(pc, 1), dict(proc.tbs.ns),
                                     count_insns=proc.count_insns, regions=False)
        try:
            cpu_exec(cpu, self._step_tbs, 1)
        finally:
            self._step_tbs.flush()  # (code may change before the next step)

    def fetch_guard(self, fetch):
        """``fetch`` for translating while breakpoints are set: a breakpoint raises the debug
        exception there (ending the block before it, or the block that starts on it)."""
        bps = self.breakpoints

        def guarded(addr: int) -> int:
            if addr in bps:
                raise GuestException("debug", addr, pc=addr)
            return fetch(addr)
        return guarded

    # --- GdbTarget ------------------------------------------------------------------------
    def _cpu(self):
        threads = self.proc.threads
        return threads.get(self.server.tid if self.server else 0) or next(iter(threads.values()))

    def target_xml(self) -> str:
        from pyqemu.target.arm.gdb_a64 import TARGET_XML
        return TARGET_XML

    def read_registers(self) -> bytes:
        from pyqemu.target.arm.gdb_a64 import read_registers
        return read_registers(self._cpu())

    def read_register(self, n: int) -> bytes | None:
        from pyqemu.target.arm.gdb_a64 import read_register
        return read_register(self._cpu(), n)

    def write_register(self, n: int, data: bytes) -> bool:
        from pyqemu.target.arm.gdb_a64 import write_register
        return write_register(self._cpu(), n, data)

    def read_memory(self, addr: int, length: int) -> bytes | None:
        mem = self.proc.mem
        end = addr + length
        if length < 0 or end > len(mem.mem):
            return None
        for page in range(addr >> PAGE_SHIFT, (max(end, addr + 1) - 1 >> PAGE_SHIFT) + 1):
            if not mem.rp[page]:
                return None
        return bytes(mem.mem[addr:end])

    def write_memory(self, addr: int, data: bytes) -> bool:
        mem = self.proc.mem
        end = addr + len(data)
        if end > len(mem.mem):
            return False
        pages = range(addr >> PAGE_SHIFT, ((end - 1) >> PAGE_SHIFT) + 1)
        if any(not mem.wp[p] for p in pages):
            return False  # as QEMU: only writable pages
        for p in pages:
            if mem.wp[p] == 2:  # translated code there
                self.proc.code_written(p << PAGE_SHIFT, 1 << PAGE_SHIFT)
        mem.mem[addr:end] = data
        return True

    def insert_breakpoint(self, addr: int) -> None:
        if addr not in self.breakpoints:
            self.breakpoints.add(addr)
            self.proc.tbs.debugging = True
            self._invalidate(addr)

    def remove_breakpoint(self, addr: int) -> None:
        if addr in self.breakpoints:
            self.breakpoints.discard(addr)
            self.proc.tbs.debugging = bool(self.breakpoints)
            self._invalidate(addr)

    def _invalidate(self, addr: int) -> None:
        self.proc.tbs.invalidate_page(addr >> PAGE_SHIFT)  # (blocks never cross a page)

    def thread_ids(self) -> list[int]:
        return sorted(self.proc.threads)

    def offsets(self) -> str:
        return "Text=0000000000000000;Data=0000000000000000;Bss=0000000000000000"  # (PIE: auxv)

    def auxv(self) -> bytes:
        from pyqemu.linux_user.paths import _auxv
        return _auxv(self.proc)


def start(proc, spec: str, prog: str) -> UserGdb | None:
    """Listen for gdb (``-g``); prints QEMU's error and returns None on failure."""
    try:
        return UserGdb(proc, listen(spec))
    except GdbSetupError as e:
        sys.stderr.write(f"{prog}: {e}\n")
        return None
