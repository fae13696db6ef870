"""The A64 read-modify-write helpers (STXR/STXP, CAS/CASP, SWP, LD<op>) lose no plain store
of another guest thread.

Guest threads are host threads and plain guest stores take no lock, so a helper that
read memory, then (after a possible thread switch) wrote it back, could overwrite a
store landing in between: a spin lock released by ``stlr wzr`` would then stay taken.
Each test races a helper (called directly, as generated code does) against plain
stores of another thread, switching threads as often as CPython allows.
"""
from __future__ import annotations

import struct
import sys
import threading
import time
from collections.abc import Callable

import pytest

FLAG = 0x20000
DURATION = 1.0


@pytest.fixture()
def cpu():
    from pyqemu.linux_user.mmap import PROT_READ, PROT_WRITE
    from pyqemu.linux_user.process import Process
    p = Process()
    p.mem.map(FLAG, 0x1000, PROT_READ | PROT_WRITE)
    return p.new_cpu()


def _u(mem, size: int) -> int:
    return int.from_bytes(mem[FLAG:FLAG + size], "little")


def _race(mem, taker: Callable[[], None], releaser: Callable[[], None],
          settle: Callable[[], bool] = lambda: True) -> None:
    """Run ``taker`` in a loop in a second thread while this one runs ``releaser`` in a loop
    for DURATION seconds, with the shortest switch interval; then wait (10 s at most) until
    ``settle()`` before stopping the taker."""
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            taker()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    t = threading.Thread(target=loop)
    try:
        t.start()
        end = time.monotonic() + DURATION
        while time.monotonic() < end:
            releaser()
        while not settle() and time.monotonic() < end + 10:
            pass
    finally:
        done.set()
        t.join(30)
        sys.setswitchinterval(old)


def _flag_race(mem, take: Callable[[], bool]) -> tuple[int, int]:
    """One thread takes the word at FLAG (0: free) with ``take()`` (True when it saw it
    free), the other frees it by a plain 32-bit store whenever it is taken. Returns
    (times freed, times taken after a free): equal unless a helper lost a plain store."""
    freed = taken = 0

    def taker() -> None:
        nonlocal taken
        if take():
            taken += 1

    def releaser() -> None:
        nonlocal freed
        if struct.unpack_from("<I", mem, FLAG)[0]:
            struct.pack_into("<I", mem, FLAG, 0)  # as generated code stores a word
            freed += 1

    _race(mem, taker, releaser, lambda: struct.unpack_from("<I", mem, FLAG)[0] != 0)
    return freed, taken - 1  # the first take needs no free


def _takers(cpu) -> dict[str, Callable[[], bool]]:
    """Test-and-set built on each helper (as C11 atomic_exchange / atomic_flag_test_and_set
    compile): stores non-zero even over non-zero, True when it saw 0."""
    from pyqemu.target.arm import helper_a64_atomic as H
    mem = cpu.mem.mem
    stxr, cas = H.stxr.func, H.cas.func

    def excl(size: int) -> Callable[[], bool]:
        def take() -> bool:
            v = _u(mem, size)  # LDXR / LDXP
            return stxr(cpu, FLAG, FLAG, v, 1, size) == 0 and v == 0
        return take

    def cas_loop(size: int) -> Callable[[], bool]:
        def take() -> bool:
            v = _u(mem, size)
            return cas(cpu, FLAG, v, 1, size) == v and v == 0
        return take

    def lse(fn, val: int) -> Callable[[], bool]:
        f = fn.func
        return lambda: f(cpu, FLAG, val, 4) == 0

    ops = {f.func.__name__: f for f in H.LD_OPS}
    return {
        "stxr": excl(4), "stxr64": excl(8), "stxp128": excl(16),
        "cas": cas_loop(4), "casp64": cas_loop(8), "casp128": cas_loop(16),
        "swp": lse(H.SWP, 1), "ldset": lse(ops["ldset"], 1), "ldadd": lse(ops["ldadd"], 1),
        "ldumax": lse(ops["ldumax"], 1), "ldsmax": lse(ops["ldsmax"], 1),
    }


TAKERS = ("stxr", "stxr64", "stxp128", "cas", "casp64", "casp128",
          "swp", "ldset", "ldadd", "ldumax", "ldsmax")


@pytest.mark.parametrize("kind", TAKERS)
def test_test_and_set_sees_every_plain_release(cpu, kind: str) -> None:
    """Test-and-set by a helper against a plain-store release: every release is seen (no
    lost update; a lost one would leave the flag taken by nobody: a deadlock)."""
    take = _takers(cpu)[kind]
    freed, taken = _flag_race(cpu.mem.mem, take)
    assert freed > 10 and taken == freed, (freed, taken)


# LD<op> on the high half of the word at FLAG (operand, effect on the high half), while
# the other thread stores the low half: the low half must always hold its last store.
HIGH_HALF_OPS = {
    "ldadd": 1 << 16, "ldclr": 1 << 16, "ldeor": 1 << 16, "ldset": 1 << 16,
    "ldsmax": 0x80000000, "ldsmin": 0x7FFFFFFF, "ldumax": 0, "ldumin": 0xFFFFFFFF,
}


@pytest.mark.parametrize("op", sorted(HIGH_HALF_OPS))
def test_ld_op_keeps_a_racing_plain_store(cpu, op: str) -> None:
    """LD<op> (every one stores, even when the value does not change) against plain 16-bit
    stores to the other half of its word: none of those stores is undone."""
    from pyqemu.target.arm import helper_a64_atomic as H
    fn = {f.func.__name__: f for f in H.LD_OPS}[op].func
    mem = cpu.mem.mem
    val = HIGH_HALF_OPS[op]
    lost = stores = 0
    calls = [0]
    seq = 0

    def taker() -> None:
        fn(cpu, FLAG, val, 4)
        calls[0] += 1

    def releaser() -> None:
        nonlocal lost, stores, seq
        if struct.unpack_from("<H", mem, FLAG)[0] != seq:
            lost += 1
        seq = (seq + 1) & 0xFFFF
        struct.pack_into("<H", mem, FLAG, seq)
        stores += 1

    _race(mem, taker, releaser)
    assert calls[0] > 100 and stores > 100 and lost == 0, (calls[0], stores, lost)


def test_ld_op_results(cpu) -> None:
    """Each LD<op> returns the old value and stores op(old, operand) truncated to the size
    (signed compares for the S forms)."""
    from pyqemu.target.arm import helper_a64_atomic as H
    ops = {f.func.__name__: f.func for f in H.LD_OPS}
    mem = cpu.mem.mem
    cases = [  # op, size, old, operand, new
        ("ldadd", 1, 0xFF, 0x02, 0x01), ("ldadd", 8, 2**64 - 1, 3, 2),
        ("ldclr", 4, 0xF0F0F0F0, 0xFF00FF00, 0x00F000F0),
        ("ldeor", 2, 0x1234, 0xFFFF, 0xEDCB), ("ldset", 4, 0x10, 0x01, 0x11),
        ("ldsmax", 4, 0xFFFFFFFF, 1, 1), ("ldsmax", 1, 0x7F, 0x80, 0x7F),
        ("ldsmin", 4, 0xFFFFFFFF, 1, 0xFFFFFFFF), ("ldsmin", 8, 5, 2**63, 2**63),
        ("ldumax", 4, 0xFFFFFFFF, 1, 0xFFFFFFFF), ("ldumin", 2, 0x8000, 0x7FFF, 0x7FFF),
    ]
    for op, size, old, operand, new in cases:
        mem[FLAG:FLAG + 8] = (0x5555555555555555).to_bytes(8, "little")
        mem[FLAG:FLAG + size] = old.to_bytes(size, "little")
        assert ops[op](cpu, FLAG, operand, size) == old, op
        assert _u(mem, size) == new, (op, size, hex(_u(mem, size)))
        assert mem[FLAG + size:FLAG + 8] == b"\x55" * (8 - size), op
    mem[FLAG:FLAG + 4] = (7).to_bytes(4, "little")
    assert H.SWP.func(cpu, FLAG, 0x1FFFFFFFF, 4) == 7 and _u(mem, 4) == 0xFFFFFFFF


def test_cas_and_stxr_results(cpu) -> None:
    """CAS/CASP store only on a match (of the value truncated to the size) and return the
    old value; STXR/STXP store only when the monitor address and value match."""
    from pyqemu.target.arm import helper_a64_atomic as H
    cas, stxr = H.cas.func, H.stxr.func
    mem = cpu.mem.mem
    big = 0x0123456789ABCDEF_FEDCBA9876543210
    mem[FLAG:FLAG + 16] = big.to_bytes(16, "little")
    assert cas(cpu, FLAG, big ^ (1 << 100), 5, 16) == big and _u(mem, 16) == big
    assert cas(cpu, FLAG, big, 5, 16) == big and _u(mem, 16) == 5
    assert cas(cpu, FLAG, 5 | 1 << 40, 9, 4) == 5 and _u(mem, 16) == 9  # compare on 32 bits
    assert cas(cpu, FLAG, 8, 10, 8) == 9 and _u(mem, 16) == 9
    assert stxr(cpu, FLAG, FLAG + 8, 9, 1, 4) == 1 and _u(mem, 16) == 9  # other address
    assert stxr(cpu, FLAG, FLAG, 8, 1, 4) == 1 and _u(mem, 16) == 9  # value changed
    assert stxr(cpu, FLAG, FLAG, 9, big, 16) == 0 and _u(mem, 16) == big
    assert stxr(cpu, FLAG, FLAG, big, 3, 16) == 0 and _u(mem, 16) == 3
    assert stxr(cpu, FLAG, FLAG, 3 | 1 << 64, 4, 8) == 1 and _u(mem, 16) == 3


@pytest.mark.parametrize("size", [2, 4, 8, 16])
def test_misaligned_faults(cpu, size: int) -> None:
    from pyqemu.accel.tcg.excp import GuestException
    from pyqemu.target.arm import helper_a64_atomic as H
    with pytest.raises(GuestException):
        H.cas.func(cpu, FLAG + size // 2, 0, 1, size)


def test_page_views_as_in_system_mode() -> None:
    """In system mode ``rmw_view`` gives a view of one page and the offset in it: the helpers
    reach the right bytes whichever page comes next."""
    from pyqemu.target.arm import helper_a64_atomic as H
    ram = memoryview(bytearray(0x3000))

    class PageCPU:
        def rmw_view(self, addr: int, size: int) -> tuple[memoryview, int]:
            page = addr >> 12
            return ram[page << 12:(page + 1) << 12], addr & 0xFFF

    cpu = PageCPU()
    for n in range(3):
        for page in (2, 0, 1):
            addr = page << 12 | 0x7F0
            assert H.LD_OPS[0].func(cpu, addr, page + 1, 8) == n * (page + 1)
            assert H.cas.func(cpu, addr + 8, n, n + 1, 8) == n
            assert H.cas.func(cpu, addr + 0x10, n << 64, (n + 1) << 64, 16) == n << 64
    for page in range(3):
        base = page << 12 | 0x7F0
        assert int.from_bytes(ram[base:base + 8], "little") == 3 * (page + 1)
        assert int.from_bytes(ram[base + 8:base + 16], "little") == 3
        assert int.from_bytes(ram[base + 0x10:base + 0x20], "little") == 3 << 64
    assert not any(ram[:0x7F0]) and not any(ram[0x1000:0x17F0])
