"""Guest threads (host threads sharing one Process), futexes and thread-directed signals."""
from __future__ import annotations

import threading
import time

import pytest
from emu_harness import assert_same_behavior
from test_signals import compile_prog, needs_cc, needs_qemu

from pyqemu.linux_user import futex
from pyqemu.linux_user.signal import SignalState


class FakeMem:
    def __init__(self) -> None:
        self.words: dict[int, int] = {}

    def u32(self, addr: int) -> int:
        return self.words.get(addr, 0)

    def put_u32(self, addr: int, v: int) -> None:
        self.words[addr] = v & 0xFFFFFFFF


class FakeCPU:
    def __init__(self, tid: int) -> None:
        self.tid = tid
        self.sigmask = 0
        self.sigwaiting = 0
        self.sig_pending: dict = {}
        self.host_blocking = False
        self.on_main = False
        self.restart_fn = None
        self.wake = threading.Lock()
        self.wake.acquire()

    def kick(self) -> None:
        try:
            self.wake.release()
        except RuntimeError:
            pass


class FakeProc:
    def __init__(self) -> None:
        self.mem = FakeMem()
        self.threads: dict = {}
        self.signals = SignalState(self, install=False)


def _waiter(proc, cpu, addr, val, results, deadline=None, bitset=futex.BITSET_ALL):
    results[cpu.tid] = futex.futex_wait(proc, cpu, addr, val, deadline, bitset)


def _start_waiters(proc, n, addr, val, bitsets=None):
    results: dict[int, int] = {}
    ts = []
    for i in range(n):
        cpu = FakeCPU(100 + i)
        t = threading.Thread(target=_waiter, args=(proc, cpu, addr, val, results),
                             kwargs={"bitset": bitsets[i] if bitsets else futex.BITSET_ALL})
        t.start()
        ts.append(t)
    t0 = time.monotonic()
    while sum(len(q) for q in futex.table(proc).queues.values()) < n:
        assert time.monotonic() - t0 < 5
        time.sleep(0.001)
    return results, ts


def test_futex_wait_value_mismatch_and_timeout():
    proc = FakeProc()
    proc.mem.put_u32(0x1000, 5)
    cpu = FakeCPU(1)
    assert futex.futex_wait(proc, cpu, 0x1000, 4, None, futex.BITSET_ALL) == -11  # EAGAIN
    t0 = time.monotonic()
    assert futex.futex_wait(proc, cpu, 0x1000, 5, t0 + 0.05, futex.BITSET_ALL) == -110  # ETIMEDOUT
    assert time.monotonic() - t0 >= 0.05
    assert not futex.table(proc).queues


def test_futex_wake_counts_bitsets_and_requeue():
    proc = FakeProc()
    results, ts = _start_waiters(proc, 4, 0x2000, 0, bitsets=[1, 2, 1, 2])
    assert futex.wake(proc, 0x2000, 10, bitset=2) == 2
    # move one of the remaining two to another futex, wake the other
    assert futex.futex_requeue(proc, 0x2000, 1, 0x3000, 1, 0) == 2
    assert futex.wake(proc, 0x2000, 10) == 0
    assert futex.wake(proc, 0x3000, 10) == 1
    for t in ts:
        t.join(5)
    assert sorted(results.values()) == [0, 0, 0, 0]
    proc.mem.put_u32(0x2000, 9)
    assert futex.futex_requeue(proc, 0x2000, 1, 0x3000, 1, 0) == -11  # CMP_REQUEUE mismatch


def test_futex_wake_op():
    proc = FakeProc()
    proc.mem.put_u32(0x4000, 3)
    results, ts = _start_waiters(proc, 1, 0x4000, 3)
    # FUTEX_OP_ADD 2 on *0x4000 (old 3); wake 1 on 0x4000 if old > 2 (FUTEX_OP_CMP_GT)
    op = (1 << 28) | (4 << 24) | (2 << 12) | 2
    assert futex.futex_wake_op(proc, 0x5000, 1, 0x4000, 1, op) == 1
    assert proc.mem.u32(0x4000) == 5
    ts[0].join(5)
    assert results == {100: 0}
    # OPARG_SHIFT: OR (1 << 4); compare EQ fails -> nothing woken
    op = (1 << 31) | (2 << 28) | (0 << 24) | (4 << 12) | 99
    assert futex.futex_wake_op(proc, 0x5000, 1, 0x4000, 1, op) == 0
    assert proc.mem.u32(0x4000) == 5 | 16


def test_futex_wait_interrupted_by_signal():
    proc = FakeProc()
    cpu = FakeCPU(7)
    proc.threads[7] = cpu
    proc.signals.actions[10].handler = 0x1234
    results: dict[int, int] = {}
    t = threading.Thread(target=_waiter, args=(proc, cpu, 0x6000, 0, results))
    t.start()
    while not futex.table(proc).queues:
        time.sleep(0.001)
    proc.signals.send_thread(cpu, 10, bytes(128))
    t.join(5)
    assert results == {7: -512}  # -ERESTARTSYS: restarted or EINTR by the delivery code
    assert not futex.table(proc).queues


@needs_qemu
def test_threads_match_qemu(qemu_ref, pyqemu_run):
    """Mutexes, pthread_kill into futex and read() waits, faults in threads, exit from a thread."""
    exe = compile_prog("threads")
    ref = qemu_ref(exe)
    assert ref.returncode == 5
    assert_same_behavior(ref, pyqemu_run(exe), what="threads")


@needs_cc
def test_robust_mutex_owner_died(pyqemu_run):
    """A thread that exits holding a robust mutex: the next locker gets EOWNERDEAD.
    (qemu-aarch64 ignores set_robust_list, so the program hangs there.)"""
    got = pyqemu_run(compile_prog("robust"), timeout=120)
    assert got.stdout == b"lock after owner died: EOWNERDEAD\nrelock: 0\n"
    assert got.returncode == 0


@needs_qemu
@pytest.mark.parametrize("prog", ["pthreads_cv", "cancel"])
def test_condvar_program(prog, qemu_ref, pyqemu_run):
    exe = compile_prog(prog)
    assert_same_behavior(qemu_ref(exe), pyqemu_run(exe), what=prog)
