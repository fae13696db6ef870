"""futex(2) for guest threads (which are host threads of this process).

Wait queues are keyed by guest address (one process, so private and shared
futexes are the same thing). Checking the futex word and queueing happen under
one lock, which every wake also takes, so a wake cannot slip between a
waiter's check and its sleep -- the futex guarantee. Read-modify-write of a
futex word (WAKE_OP, PI locks, robust-list cleanup) also holds the lock of the
guest's atomic instructions, so that it is atomic with respect to them.
Sleeping is :meth:`SignalState.wait_event`, so signals interrupt it.
"""
from __future__ import annotations

import errno
import struct
import threading
import time

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.linux_user import signal as sigmod
from pyqemu.linux_user.signal import ERESTART_RESTARTBLOCK, ERESTARTNOINTR, ERESTARTSYS
from pyqemu.linux_user.syscall import syscall

FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 2, 3, 4, 5
FUTEX_LOCK_PI, FUTEX_UNLOCK_PI, FUTEX_TRYLOCK_PI = 6, 7, 8
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI, FUTEX_LOCK_PI2 = 11, 12, 13
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
BITSET_ALL = 0xFFFFFFFF

FUTEX_WAITERS, FUTEX_OWNER_DIED, FUTEX_TID_MASK = 0x80000000, 0x40000000, 0x3FFFFFFF
ROBUST_LIST_LIMIT = 2048


class Waiter:
    __slots__ = ("cpu", "addr", "bitset", "woken", "pi")

    def __init__(self, cpu, addr: int, bitset: int, pi: bool = False) -> None:
        self.cpu = cpu
        self.addr = addr
        self.bitset = bitset
        self.woken = False
        self.pi = pi


class FutexTable:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queues: dict[int, list[Waiter]] = {}

    def add(self, w: Waiter) -> None:
        self.queues.setdefault(w.addr, []).append(w)

    def remove(self, w: Waiter) -> None:
        q = self.queues.get(w.addr)
        if q is not None:
            try:
                q.remove(w)
            except ValueError:
                pass
            if not q:
                del self.queues[w.addr]

    def wake(self, addr: int, n: int, bitset: int = BITSET_ALL) -> int:
        """Wake up to `n` waiters on `addr` whose bitset matches (caller holds the lock)."""
        q = self.queues.get(addr)
        if not q or n <= 0:
            return 0
        done = 0
        keep = []
        for w in q:
            if done < n and w.bitset & bitset:
                w.woken = True
                w.cpu.kick()
                done += 1
            else:
                keep.append(w)
        if keep:
            self.queues[addr] = keep
        else:
            del self.queues[addr]
        return done


def table(proc) -> FutexTable:
    t = getattr(proc, "futexes", None)
    if t is None:
        t = proc.futexes = FutexTable()
    return t


def atomic_lock():
    """The lock that guest atomic instructions hold around read-modify-write."""
    from pyqemu.target.arm import helper_a64_atomic
    return helper_a64_atomic.LOCK


def reset_after_fork(proc) -> None:
    proc.futexes = FutexTable()


def wake(proc, addr: int, n: int, bitset: int = BITSET_ALL) -> int:
    t = table(proc)
    with t.lock:
        return t.wake(addr, n, bitset)


def _u32(mem, addr: int) -> int:
    if addr & 3:
        raise _Inval
    return mem.u32(addr)


class _Inval(Exception):
    pass


def _sleep(proc, cpu, t: FutexTable, w: Waiter, deadline: float | None):
    """Wait until `w` is woken; 0, or the interruption/timeout result."""
    r = proc.signals.wait_event(cpu, lambda: 0 if w.woken else None, deadline)
    if r == 0:
        return 0
    with t.lock:
        if w.woken:
            return 0
        t.remove(w)
    return r


def futex_wait(proc, cpu, addr: int, val: int, deadline: float | None, bitset: int) -> int:
    if not bitset:
        return -errno.EINVAL
    t = table(proc)
    with t.lock:
        if _u32(proc.mem, addr) != val & 0xFFFFFFFF:
            return -errno.EAGAIN
        w = Waiter(cpu, addr, bitset)
        t.add(w)
    r = _sleep(proc, cpu, t, w, deadline)
    if r is sigmod.TIMED_OUT:
        return -errno.ETIMEDOUT
    if r is sigmod.INTERRUPTED:
        if deadline is None:
            return -ERESTARTSYS

        def restart(proc=proc, cpu=cpu):
            return futex_wait(proc, cpu, addr, val, deadline, bitset)
        cpu.restart_fn = restart
        return -ERESTART_RESTARTBLOCK
    return 0


def futex_requeue(proc, addr: int, n: int, addr2: int, n2: int, cmpval: int | None) -> int:
    t = table(proc)
    with t.lock:
        if cmpval is not None and _u32(proc.mem, addr) != cmpval & 0xFFFFFFFF:
            return -errno.EAGAIN
        done = t.wake(addr, n)
        moved = 0
        q = t.queues.get(addr)
        if q and addr2 != addr:
            while q and moved < n2:
                w = q.pop(0)
                w.addr = addr2
                t.add(w)
                moved += 1
            if not q:
                t.queues.pop(addr, None)
        return done + moved if cmpval is not None else done


def _sx12(v: int) -> int:
    v &= 0xFFF
    return v - 0x1000 if v & 0x800 else v


def futex_wake_op(proc, addr: int, n: int, addr2: int, n2: int, op: int) -> int:
    encoded = op & 0xFFFFFFFF
    kind = (encoded >> 28) & 7
    cmp = (encoded >> 24) & 15
    oparg = _sx12(encoded >> 12)
    cmparg = _sx12(encoded)
    if encoded & (1 << 31):
        if not 0 <= oparg <= 31:
            return -errno.EINVAL
        oparg = 1 << oparg
    if kind > 4 or cmp > 5:
        return -errno.ENOSYS
    mem = proc.mem
    t = table(proc)
    with t.lock:
        if addr2 & 3:
            return -errno.EINVAL
        with atomic_lock():
            old = mem.u32(addr2)
            new = (oparg, old + oparg, old | oparg, old & ~oparg, old ^ oparg)[kind]
            mem.put_u32(addr2, new & 0xFFFFFFFF)
        done = t.wake(addr, n)
        o = old - (1 << 32) if old & 0x80000000 else old
        if (o == cmparg, o != cmparg, o < cmparg, o <= cmparg, o > cmparg, o >= cmparg)[cmp]:
            done += t.wake(addr2, n2)
        return done


# --- priority-inheritance locks (no priorities here: plain handoff locks) --------------
def futex_lock_pi(proc, cpu, addr: int, deadline: float | None, trylock: bool = False) -> int:
    mem = proc.mem
    t = table(proc)
    tid = cpu.tid
    while True:
        with t.lock:
            with atomic_lock():
                v = _u32(mem, addr)
                owner = v & FUTEX_TID_MASK
                if owner == 0:
                    waiters = bool(t.queues.get(addr))
                    mem.put_u32(addr, tid | (v & FUTEX_OWNER_DIED) | (FUTEX_WAITERS if waiters else 0))
                    return 0
                if owner == tid:
                    return -errno.EDEADLK
                if trylock:
                    return -errno.EAGAIN
                if not v & FUTEX_WAITERS:
                    mem.put_u32(addr, v | FUTEX_WAITERS)
            w = Waiter(cpu, addr, BITSET_ALL, pi=True)
            t.add(w)
        r = _sleep(proc, cpu, t, w, deadline)
        if r == 0:
            if w.pi is None:  # ownership was handed to us by unlock
                return 0
            continue
        if r is sigmod.TIMED_OUT:
            return -errno.ETIMEDOUT
        return -ERESTARTNOINTR


def futex_unlock_pi(proc, cpu, addr: int) -> int:
    mem = proc.mem
    t = table(proc)
    with t.lock:
        with atomic_lock():
            v = _u32(mem, addr)
            if v & FUTEX_TID_MASK != cpu.tid:
                return -errno.EPERM
            q = t.queues.get(addr)
            if q:
                w = q.pop(0)
                if not q:
                    del t.queues[addr]
                mem.put_u32(addr, w.cpu.tid | (FUTEX_WAITERS if q else 0))
                w.pi = None
                w.woken = True
                w.cpu.kick()
            else:
                mem.put_u32(addr, 0)
    return 0


# --- robust futexes ---------------------------------------------------------------------
def _futex_death(proc, addr: int, tid: int, pending: bool) -> None:
    mem = proc.mem
    t = table(proc)
    with t.lock:
        with atomic_lock():
            try:
                v = _u32(mem, addr)
            except (GuestException, _Inval):
                return
            if pending and v == 0:
                t.wake(addr, 1)
                return
            if v & FUTEX_TID_MASK != tid:
                return
            mem.put_u32(addr, (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
        if v & FUTEX_WAITERS:
            t.wake(addr, 1)


def exit_robust_list(proc, cpu) -> None:
    """Mark the robust mutexes the exiting thread holds as OWNER_DIED (exit_robust_list)."""
    head, size = cpu.robust_list
    if not head:
        return
    mem = proc.mem
    ilp32 = size == 12  # 32-bit ARM: struct robust_list_head of 4-byte pointers and long
    mask = 0xFFFFFFFF if ilp32 else 0xFFFFFFFFFFFFFFFF
    try:
        first, offset, pending = struct.unpack("<IiI" if ilp32 else "<QqQ", mem.read(head, size))
    except GuestException:
        return
    next_of = mem.u32 if ilp32 else mem.u64
    entry = first
    n = 0
    while entry != head and n < ROBUST_LIST_LIMIT:
        try:
            nxt = next_of(entry & ~1)
        except GuestException:
            return
        if entry != pending:
            _futex_death(proc, ((entry & ~1) + offset) & mask, cpu.tid, False)
        entry = nxt
        n += 1
    if pending:
        _futex_death(proc, ((pending & ~1) + offset) & mask, cpu.tid, True)


# --- the system call -------------------------------------------------------------------
def _timeout(proc, ts_addr: int, absolute: bool, realtime: bool) -> float | None:
    """The monotonic deadline for a timespec argument (None: wait forever)."""
    if not ts_addr:
        return None
    sec, nsec = struct.unpack("<qq", proc.mem.read(ts_addr, 16))
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        raise _Inval
    t = sec + nsec / 1e9
    if not absolute:
        return time.monotonic() + t
    now = time.time() if realtime else time.monotonic()
    return time.monotonic() + (t - now)


@syscall("futex")
def sys_futex(proc, cpu, uaddr, op, val, timeout, uaddr2, val3):
    cmd = op & FUTEX_CMD_MASK & 0xFFFFFFFF
    realtime = bool(op & FUTEX_CLOCK_REALTIME)
    val &= 0xFFFFFFFF
    try:
        if cmd == FUTEX_WAIT:
            return futex_wait(proc, cpu, uaddr, val, _timeout(proc, timeout, False, realtime), BITSET_ALL)
        if cmd == FUTEX_WAIT_BITSET:
            return futex_wait(proc, cpu, uaddr, val, _timeout(proc, timeout, True, realtime),
                              val3 & 0xFFFFFFFF)
        if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
            bitset = BITSET_ALL if cmd == FUTEX_WAKE else val3 & 0xFFFFFFFF
            if not bitset:
                return -errno.EINVAL
            if uaddr & 3:
                return -errno.EINVAL
            return wake(proc, uaddr, max(_cint(val), 1), bitset)  # the kernel wakes >= 1
        if cmd == FUTEX_REQUEUE:
            return futex_requeue(proc, uaddr, _cint(val), uaddr2, _cint(timeout), None)
        if cmd == FUTEX_CMP_REQUEUE:
            return futex_requeue(proc, uaddr, _cint(val), uaddr2, _cint(timeout), val3)
        if cmd == FUTEX_WAKE_OP:
            return futex_wake_op(proc, uaddr, _cint(val), uaddr2, _cint(timeout), val3)
        if cmd in (FUTEX_LOCK_PI, FUTEX_LOCK_PI2):
            # LOCK_PI timeouts are absolute CLOCK_REALTIME; LOCK_PI2 follows the flag
            return futex_lock_pi(proc, cpu, uaddr,
                                 _timeout(proc, timeout, True, realtime or cmd == FUTEX_LOCK_PI))
        if cmd == FUTEX_TRYLOCK_PI:
            return futex_lock_pi(proc, cpu, uaddr, None, trylock=True)
        if cmd == FUTEX_UNLOCK_PI:
            return futex_unlock_pi(proc, cpu, uaddr)
    except _Inval:
        return -errno.EINVAL
    return -errno.ENOSYS


def _cint(v: int) -> int:
    """A count argument (a C int)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v
