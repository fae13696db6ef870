"""The system-mode main loop: clocks, timers, fd handlers, bottom halves, vCPU slices.

Built on an asyncio event loop so that asyncio servers (QMP, migration) share
it. One loop thread owns all device state. TCG vCPUs run through a registered
*vCPU runner*: ``run_slice(budget) -> busy`` executes at most `budget` guest
instructions and returns False when every vCPU is halted (WFI/HLT). While busy,
one slice runs per loop iteration (fds are polled with a zero timeout in
between); when idle, the loop sleeps until the next timer, fd event, bottom half
or :meth:`MainLoop.kick`, then offers the vCPUs another slice.

Clocks (QEMU's QEMUClockType): REALTIME (monotonic), HOST (wall clock),
VIRTUAL (guest time: stops while the VM is stopped; with ``-icount shift=N``
each instruction is 2**N ns and the runner reports executed instructions with
:meth:`MainLoop.icount_account`), VIRTUAL_RT (like VIRTUAL without icount).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import heapq
import itertools
import os
import signal
import stat
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pyqemu.system import runstate as rs_mod

NS_PER_S = 1_000_000_000
SCALE_NS, SCALE_US, SCALE_MS = 1, 1_000, 1_000_000
DEFAULT_SLICE = 10_000          # guest instructions per vCPU slice


class ClockType(enum.IntEnum):
    REALTIME = 0
    VIRTUAL = 1
    HOST = 2
    VIRTUAL_RT = 3


class VcpuRunner(Protocol):
    def __call__(self, budget: int) -> bool: ...


class Clocks:
    """Clock sources; VIRTUAL is enabled only while the VM runs (QEMU's cpu ticks)."""

    def __init__(self) -> None:
        self.enabled = False
        self._cpu_offset = 0             # frozen value while disabled, offset while enabled
        self.icount_shift: int | None = None
        self.icount_sleep = True
        self.icount = 0                  # executed instructions
        self.icount_bias = 0             # ns added by warps while idle

    def enable(self) -> None:
        if not self.enabled:
            self._cpu_offset -= time.monotonic_ns()
            self.enabled = True

    def disable(self) -> None:
        if self.enabled:
            self._cpu_offset = self._cpu_clock()
            self.enabled = False

    def _cpu_clock(self) -> int:
        return self._cpu_offset + time.monotonic_ns() if self.enabled else self._cpu_offset

    def get_ns(self, kind: ClockType) -> int:
        if kind == ClockType.VIRTUAL:
            if self.icount_shift is not None:
                return self.icount_bias + (self.icount << self.icount_shift)
            return self._cpu_clock()
        if kind == ClockType.REALTIME:
            return time.monotonic_ns()
        if kind == ClockType.HOST:
            return time.time_ns()
        return self._cpu_clock()         # VIRTUAL_RT

    def ns_to_insns(self, ns: int) -> int:
        assert self.icount_shift is not None
        return -(-ns >> self.icount_shift)   # ceil


class Timer:
    """A one-shot timer on a clock (QEMU's QEMUTimer); use it from the loop thread only
    (other threads schedule a bottom half)."""

    __slots__ = ("loop", "clock", "cb", "scale", "expire_ns", "_gen")

    def __init__(self, loop: MainLoop, clock: ClockType, cb: Callable[[], None], scale: int = SCALE_NS):
        self.loop, self.clock, self.cb, self.scale = loop, clock, cb, scale
        self.expire_ns = -1
        self._gen = 0

    def mod(self, expire: int) -> None:
        """Fire at `expire` (in this timer's scale units) on its clock."""
        self.mod_ns(expire * self.scale)

    def mod_ns(self, expire_ns: int) -> None:
        self._gen += 1
        self.expire_ns = max(expire_ns, 0)
        self.loop._timer_add(self)

    def mod_anticipate_ns(self, expire_ns: int) -> None:
        """Like mod_ns, but only moves the deadline earlier."""
        if not self.pending() or expire_ns < self.expire_ns:
            self.mod_ns(expire_ns)

    def del_(self) -> None:
        self._gen += 1
        self.expire_ns = -1

    def pending(self) -> bool:
        return self.expire_ns >= 0

    def expire_time(self) -> int:
        """Expiry in scale units, or -1."""
        return self.expire_ns // self.scale if self.expire_ns >= 0 else -1


class BH:
    """A bottom half: a callback run once soon in the loop thread; schedule() is thread-safe."""

    def __init__(self, loop: MainLoop, cb: Callable[[], None]):
        self.loop, self.cb = loop, cb
        self._scheduled = False
        self._lock = threading.Lock()

    def schedule(self) -> None:
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        self.loop._call_threadsafe(self._run)

    def cancel(self) -> None:
        with self._lock:
            self._scheduled = False

    def _run(self) -> None:
        with self._lock:
            if not self._scheduled:
                return
            self._scheduled = False
        self.loop._dispatch(self.cb)


class MainLoop:
    """The one loop of the process; see the module docstring."""

    def __init__(self, runstate: rs_mod.VMRunState | None = None, *, slice_insns: int = DEFAULT_SLICE):
        self.aio = asyncio.new_event_loop()
        self.clocks = Clocks()
        self.runstate = runstate or rs_mod.current()
        self.slice_insns = slice_insns
        # the thread running a vCPU slice (0: none); callbacks to run when it ends (after_slice)
        self.slice_thread = 0
        self._after_slice: list[Callable[[], None]] = []
        self._thread_id = threading.get_ident()
        self._heaps: dict[ClockType, list[tuple[int, int, int, Timer]]] = {c: [] for c in ClockType}
        self._seq = itertools.count()
        self._armed: asyncio.TimerHandle | None = None
        self._armed_at = float("inf")
        self._fds: dict[int, tuple[Callable[[], None] | None, Callable[[], None] | None]] = {}
        self._always_ready: dict[int, tuple[Callable[[], None] | None, Callable[[], None] | None]] = {}
        self._always_scheduled = False
        self._runner: VcpuRunner | None = None
        self._tick_scheduled = False
        self._idle_since: int | None = None   # realtime ns when vCPUs went idle under icount
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._exit: asyncio.Future[int] | None = None
        self._requests_scheduled = False
        self._was_running = False
        self.runstate.notify = self._on_notify
        self.runstate.add_vm_change_state_handler(self._on_vm_state)

    # --- clocks and timers ---------------------------------------------------
    def configure_icount(self, shift: int | str, sleep: bool = True) -> None:
        """``-icount shift=N|auto,sleep=on|off``; `auto` starts (and stays) at QEMU's initial shift 3."""
        self.clocks.icount_shift = 3 if shift == "auto" else int(shift)
        self.clocks.icount_sleep = sleep

    def clock_get_ns(self, kind: ClockType) -> int:
        return self.clocks.get_ns(kind)

    def new_timer(self, clock: ClockType, cb: Callable[[], None], scale: int = SCALE_NS) -> Timer:
        return Timer(self, clock, cb, scale)

    def icount_account(self, insns: int) -> None:
        """The vCPU runner reports `insns` executed instructions (icount mode)."""
        self.clocks.icount += insns

    def _timer_add(self, t: Timer) -> None:
        heapq.heappush(self._heaps[t.clock], (t.expire_ns, next(self._seq), t._gen, t))
        self._rearm()

    def _clock_deadline_ns(self, clock: ClockType) -> int | None:
        """Earliest live expiry on `clock`, dropping stale heap entries."""
        h = self._heaps[clock]
        while h:
            exp, _, gen, t = h[0]
            if gen == t._gen and t.expire_ns == exp:
                return exp
            heapq.heappop(h)
        return None

    def deadline_ns(self, clock: ClockType) -> int:
        """Nanoseconds until the next timer on `clock` expires; -1 if none (QEMU's semantics)."""
        exp = self._clock_deadline_ns(clock)
        if exp is None:
            return -1
        return max(exp - self.clocks.get_ns(clock), 0)

    def _virtual_runs_in_real_time(self) -> bool:
        if not self.clocks.enabled:
            return False
        # With icount, virtual time follows instructions, or realtime while idle (sleep=on).
        return self.clocks.icount_shift is None or self._idle_since is not None

    def _rearm(self) -> None:
        """Arm one asyncio timer at the nearest host-time deadline."""
        best: int | None = None
        for clock in ClockType:
            d = self.deadline_ns(clock)
            if d < 0:
                continue
            if clock in (ClockType.VIRTUAL, ClockType.VIRTUAL_RT):
                if clock == ClockType.VIRTUAL and not self._virtual_runs_in_real_time():
                    continue
                if clock == ClockType.VIRTUAL_RT and not self.clocks.enabled:
                    continue
            best = d if best is None else min(best, d)
        if best is None:
            if self._armed:
                self._armed.cancel()
                self._armed, self._armed_at = None, float("inf")
            return
        when = self.aio.time() + best / NS_PER_S
        # Keep an alarm that fires no later than needed: re-arming a due alarm on every vCPU
        # slice would cancel it from the ready queue each time and starve the timers
        # (a spurious early alarm just finds nothing expired and re-arms).
        if self._armed and self._armed_at <= when + 1e-6:
            return
        if self._armed:
            self._armed.cancel()
        self._armed_at = when
        self._armed = self.aio.call_at(when, self._on_timer_alarm)

    def _on_timer_alarm(self) -> None:
        self._armed, self._armed_at = None, float("inf")
        self._warp_idle()
        self.run_timers()
        self._rearm()

    def run_timers(self) -> bool:
        """Run every expired timer on every clock; True if any ran."""
        ran = False
        for clock in ClockType:
            if clock in (ClockType.VIRTUAL, ClockType.VIRTUAL_RT) and not self.clocks.enabled:
                continue
            h = self._heaps[clock]
            while True:
                exp = self._clock_deadline_ns(clock)
                if exp is None or exp > self.clocks.get_ns(clock):
                    break
                _, _, _, t = heapq.heappop(h)
                t.expire_ns = -1
                ran = True
                self._dispatch(t.cb)
        return ran

    def _warp_idle(self) -> None:
        """icount, sleep=on: idle vCPUs let virtual time follow realtime, capped at the deadline."""
        if self._idle_since is None or self.clocks.icount_shift is None:
            return
        now = time.monotonic_ns()
        delta = now - self._idle_since
        d = self.deadline_ns(ClockType.VIRTUAL)
        if d >= 0:
            delta = min(delta, d)
        self.clocks.icount_bias += delta
        self._idle_since = now

    # --- fd handlers ---------------------------------------------------------
    def set_fd_handler(self, fd: int, read_cb: Callable[[], None] | None,
                       write_cb: Callable[[], None] | None) -> None:
        """Install (or with None, remove) read/write readiness callbacks for `fd`."""
        if fd in self._always_ready or self._is_always_ready(fd):
            # epoll refuses regular files and /dev/null: they are always ready.
            if read_cb or write_cb:
                self._always_ready[fd] = (read_cb, write_cb)
                if not self._always_scheduled:
                    self._always_scheduled = True
                    self.aio.call_soon(self._poll_always_ready)
            else:
                self._always_ready.pop(fd, None)
            return
        old_r, old_w = self._fds.get(fd, (None, None))
        if old_r and not read_cb:
            self.aio.remove_reader(fd)
        if old_w and not write_cb:
            self.aio.remove_writer(fd)
        if read_cb:
            self.aio.add_reader(fd, self._dispatch, read_cb)
        if write_cb:
            self.aio.add_writer(fd, self._dispatch, write_cb)
        if read_cb or write_cb:
            self._fds[fd] = (read_cb, write_cb)
        else:
            self._fds.pop(fd, None)

    @staticmethod
    def _is_always_ready(fd: int) -> bool:
        mode = os.fstat(fd).st_mode
        return stat.S_ISREG(mode) or (stat.S_ISCHR(mode) and os.major(os.fstat(fd).st_rdev) == 1)

    def _poll_always_ready(self) -> None:
        self._always_scheduled = False
        for r, w in list(self._always_ready.values()):
            for cb in (r, w):
                if cb:
                    self._dispatch(cb)
        if self._always_ready and not self._always_scheduled:
            self._always_scheduled = True
            self.aio.call_soon(self._poll_always_ready)

    # --- bottom halves and workers -------------------------------------------
    def new_bh(self, cb: Callable[[], None]) -> BH:
        return BH(self, cb)

    def after_slice(self, cb: Callable[[], None]) -> None:
        """Run ``cb`` when the running vCPU slice ends (the loop thread, inside a slice)."""
        self._after_slice.append(cb)

    def call_soon(self, cb: Callable[[], None]) -> None:
        """Run cb in the loop thread soon; safe from any thread."""
        self._call_threadsafe(lambda: self._dispatch(cb))

    def run_in_worker(self, fn: Callable[[], Any], done_cb: Callable[[Any, BaseException | None], None]
                      ) -> concurrent.futures.Future[Any]:
        """Run fn() in a worker thread; done_cb(result, exc) then runs in the loop thread."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=8,
                                                                   thread_name_prefix="worker")
        fut = self._executor.submit(fn)

        def finished(f: concurrent.futures.Future[Any]) -> None:
            exc = f.exception()
            res = None if exc else f.result()
            self.call_soon(lambda: done_cb(res, exc))

        fut.add_done_callback(finished)
        return fut

    def _call_threadsafe(self, cb: Callable[[], None]) -> None:
        if threading.get_ident() == self._thread_id:
            self.aio.call_soon(cb)
        else:
            try:
                self.aio.call_soon_threadsafe(cb)
            except RuntimeError:
                pass   # loop closed: the process is exiting

    def _dispatch(self, cb: Callable[[], None]) -> None:
        # Any event may raise an interrupt: give halted vCPUs another look.
        try:
            cb()
        finally:
            self.kick()

    # --- vCPUs ---------------------------------------------------------------
    def set_vcpu_runner(self, runner: VcpuRunner | None) -> None:
        self._runner = runner
        self.kick()

    def kick(self) -> None:
        """Offer the vCPUs a slice soon (thread-safe); e.g. after an interrupt is raised."""
        if self._tick_scheduled or self._runner is None:
            return
        self._tick_scheduled = True
        self._call_threadsafe(self._vcpu_tick)

    def _vcpu_tick(self) -> None:
        self._tick_scheduled = False
        if self._runner is None or not self.runstate.is_running():
            return
        budget = self.slice_insns
        icount = self.clocks.icount_shift is not None
        if icount:
            self._warp_idle()
            self._idle_since = None
            self.run_timers()
            d = self.deadline_ns(ClockType.VIRTUAL)
            if d >= 0:
                budget = max(1, min(budget, self.clocks.ns_to_insns(d)))
        self.slice_thread = threading.get_ident()
        try:
            busy = self._runner(budget)
        finally:
            self.slice_thread = 0
            while self._after_slice:
                self._dispatch(self._after_slice.pop(0))
        if icount:
            self.run_timers()
        if busy:
            self._tick_scheduled = True
            self.aio.call_soon(self._vcpu_tick)
        elif icount:
            if self.clocks.icount_sleep:
                self._idle_since = time.monotonic_ns()
            else:
                # sleep=off: jump straight to the next virtual deadline.
                d = self.deadline_ns(ClockType.VIRTUAL)
                if d > 0:
                    self.clocks.icount_bias += d
                if d >= 0:
                    self.call_soon(self.run_timers)
        self._rearm()

    def _on_vm_state(self, running: bool, state: rs_mod.RunState) -> None:
        if running:
            self.clocks.enable()
        else:
            self._warp_idle()
            self._idle_since = None
            self.clocks.disable()
        self._rearm()
        self.kick()

    # --- requests and running -------------------------------------------------
    def _on_notify(self) -> None:
        """qemu_notify_event(): process requests soon; callable from any thread."""
        if self._requests_scheduled:
            return
        self._requests_scheduled = True
        self._call_threadsafe(self._process_requests)

    def _process_requests(self) -> None:
        self._requests_scheduled = False
        should_exit, status = self.runstate.main_loop_should_exit()
        if should_exit and self._exit is not None and not self._exit.done():
            self._exit.set_result(status)
        self.kick()

    def install_signal_handlers(self) -> None:
        """SIGINT/SIGHUP/SIGTERM request a shutdown (cause host-signal), as QEMU's qemu_system_killed."""
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
            self.aio.add_signal_handler(sig, self.runstate.killed, int(sig))

    def run(self) -> int:
        """Run until a shutdown request says exit; returns the process exit status."""
        asyncio.set_event_loop(self.aio)
        self._thread_id = threading.get_ident()
        self._exit = self.aio.create_future()
        if self.runstate.has_pending_requests():
            self._on_notify()
        self.kick()
        self._rearm()
        try:
            return self.aio.run_until_complete(self._exit)
        finally:
            self._exit = None

    def run_for(self, seconds: float) -> None:
        """Run the loop for a while (tests, and waits at startup)."""
        asyncio.set_event_loop(self.aio)
        self._thread_id = threading.get_ident()
        self.kick()
        self._rearm()
        self.aio.run_until_complete(asyncio.sleep(seconds))

    def run_until(self, cond: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Run until cond() is true (polled every millisecond) or timeout; returns cond()."""
        end = time.monotonic() + timeout

        async def waiter() -> None:
            while not cond() and time.monotonic() < end:
                await asyncio.sleep(0.001)

        asyncio.set_event_loop(self.aio)
        self._thread_id = threading.get_ident()
        self.kick()
        self._rearm()
        self.aio.run_until_complete(waiter())
        return cond()

    def close(self) -> None:
        if self._executor:
            self._executor.shutdown(wait=True)
            self._executor = None
        for fd in list(self._fds):
            self.set_fd_handler(fd, None, None)
        self._always_ready.clear()
        policy = asyncio.get_event_loop_policy()
        with contextlib.suppress(RuntimeError):  # (no current loop in this thread)
            if policy.get_event_loop() is self.aio:  # later asyncio users must not get a closed loop
                policy.set_event_loop(None)
        self.aio.close()


_main: MainLoop | None = None


def get() -> MainLoop:
    """The process's main loop, created on first use."""
    global _main
    if _main is None or _main.aio.is_closed():
        _main = MainLoop()
    return _main


def set_main(loop: MainLoop | None) -> None:
    global _main
    _main = loop
