"""GuestMemory: the guest's mmap/munmap/mprotect/mremap/brk bookkeeping (no CPU involved)."""
from __future__ import annotations

import errno
import os

import pytest

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.linux_user.mmap import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    MMAP_TOP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    GuestMemory,
)

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


@pytest.fixture(scope="module")
def mem_factory():
    mems = []

    def make() -> GuestMemory:
        m = GuestMemory()
        mems.append(m)
        return m
    return make


def anon(mem, length, addr=0, flags=0, prot=RW):
    return mem.mmap(addr, length, prot, ANON | flags, -1, 0)


def test_anonymous_mappings_are_disjoint_zeroed_and_top_down(mem_factory):
    mem = mem_factory()
    a = anon(mem, 3 * PAGE_SIZE)
    b = anon(mem, PAGE_SIZE)
    assert a > 0 and b > 0 and a % PAGE_SIZE == 0
    assert b + PAGE_SIZE <= a < MMAP_TOP  # top down, no overlap
    assert mem.read(a, 16) == bytes(16)
    mem.write(a + 5, b"xyz")
    assert mem.read(a + 4, 5) == b"\0xyz\0"
    assert mem.rp[a >> 12] == 1 and mem.wp[a >> 12] == 1 and mem.xp[a >> 12] == 0


def test_errors(mem_factory):
    mem = mem_factory()
    assert mem.mmap(0, 0, RW, ANON, -1, 0) == -errno.EINVAL
    assert mem.mmap(0, PAGE_SIZE, RW, MAP_ANONYMOUS, -1, 0) == -errno.EINVAL  # no MAP_PRIVATE/SHARED
    assert mem.mmap(0x10001, PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0) == -errno.EINVAL
    assert mem.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE, 12345, 0) == -errno.EBADF
    assert mem.mmap(0, PAGE_SIZE, RW, ANON, -1, 100) == -errno.EINVAL
    assert mem.mprotect(0x123000, PAGE_SIZE, PROT_READ) == -errno.ENOMEM
    assert mem.mprotect(0x123001, PAGE_SIZE, PROT_READ) == -errno.EINVAL
    assert mem.munmap(0x123001, PAGE_SIZE) == -errno.EINVAL
    assert mem.munmap(0x123000, PAGE_SIZE) == 0  # nothing there: fine
    with pytest.raises(GuestException):
        mem.read(0x123000, 1)


def test_fixed_replaces_and_noreplace_refuses(mem_factory):
    mem = mem_factory()
    base = 0x4000_0000
    assert anon(mem, 4 * PAGE_SIZE, base, MAP_FIXED) == base
    mem.write(base, b"old")
    assert mem.mmap(base + PAGE_SIZE, PAGE_SIZE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0) == -errno.EEXIST
    assert anon(mem, PAGE_SIZE, base, MAP_FIXED) == base
    assert mem.read(base, 3) == bytes(3)
    hint = anon(mem, PAGE_SIZE, base + 16 * PAGE_SIZE)
    assert hint == base + 16 * PAGE_SIZE  # a free hint is honoured
    assert anon(mem, PAGE_SIZE, base) != base  # a taken hint is not


def test_mprotect_splits_and_merges(mem_factory):
    mem = mem_factory()
    a = anon(mem, 4 * PAGE_SIZE)
    n0 = len(mem.vmas())
    assert mem.mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_READ) == 0
    assert len(mem.vmas()) == n0 + 2
    assert mem.wp[(a >> 12) + 1] == 0 and mem.wp[a >> 12] == 1
    with pytest.raises(GuestException):
        mem.write(a + PAGE_SIZE, b"x")
    assert mem.mprotect(a + PAGE_SIZE, PAGE_SIZE, RW) == 0
    assert len(mem.vmas()) == n0
    assert mem.mprotect(a, 2 * PAGE_SIZE, PROT_READ | PROT_EXEC) == 0
    assert mem.xp[a >> 12] == 1 and mem.xp[(a >> 12) + 2] == 0


def test_munmap_middle(mem_factory):
    mem = mem_factory()
    a = anon(mem, 3 * PAGE_SIZE)
    assert mem.munmap(a + PAGE_SIZE, PAGE_SIZE) == 0
    assert mem.is_mapped(a, PAGE_SIZE) and mem.is_mapped(a + 2 * PAGE_SIZE, PAGE_SIZE)
    assert not mem.is_mapped(a, 3 * PAGE_SIZE)
    assert mem.range_free(a + PAGE_SIZE, PAGE_SIZE)
    assert mem.rp[(a >> 12) + 1] == 0


def test_mremap(mem_factory):
    mem = mem_factory()
    a = anon(mem, 2 * PAGE_SIZE)
    mem.write(a, b"keep me")
    # shrink in place
    assert mem.mremap(a, 2 * PAGE_SIZE, PAGE_SIZE, 0, 0) == a
    assert not mem.is_mapped(a + PAGE_SIZE, 1)
    # grow in place when the next page is free
    assert mem.mremap(a, PAGE_SIZE, 2 * PAGE_SIZE, 0, 0) == a
    assert mem.is_mapped(a, 2 * PAGE_SIZE)
    # a neighbour blocks growth: must move
    anon(mem, PAGE_SIZE, a + 2 * PAGE_SIZE, MAP_FIXED)
    assert mem.mremap(a, 2 * PAGE_SIZE, 4 * PAGE_SIZE, 0, 0) == -errno.ENOMEM
    b = mem.mremap(a, 2 * PAGE_SIZE, 4 * PAGE_SIZE, MREMAP_MAYMOVE, 0)
    assert b > 0 and b != a
    assert mem.read(b, 7) == b"keep me" and not mem.is_mapped(a, 1)
    c = mem.mremap(b, 4 * PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, 0x5000_0000)
    assert c == 0x5000_0000 and mem.read(c, 7) == b"keep me"
    assert mem.mremap(0x6000_0000, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE, 0) == -errno.EFAULT


def test_brk(mem_factory):
    mem = mem_factory()
    mem.brk_start = mem.brk = 0x60_0000
    assert mem.set_brk(0x60_0000 + 100) == 0x60_0064
    mem.write(0x60_0000, b"x" * 100)
    assert mem.set_brk(0x60_3000) == 0x60_3000
    assert mem.is_mapped(0x60_0000, 0x3000)
    assert mem.set_brk(0x60_0010) == 0x60_0010
    assert not mem.is_mapped(0x60_1000, 1)
    assert mem.set_brk(0x60_0100) == 0x60_0100
    assert mem.read(0x60_0000, 0x20) == b"x" * 16 + bytes(16)  # regrown bytes read as zero
    assert mem.set_brk(0x10) == 0x60_0100  # below the start: unchanged


def test_private_file_mapping_copies(mem_factory, tmp_path):
    mem = mem_factory()
    p = tmp_path / "f"
    p.write_bytes(b"A" * 5000)
    fd = os.open(p, os.O_RDWR)
    try:
        a = mem.mmap(0, 3 * PAGE_SIZE, RW, MAP_PRIVATE, fd, 0)
        assert mem.read(a, 4) == b"AAAA" and mem.read(a + 5000, 10) == bytes(10)
        mem.write(a, b"B")
        assert p.read_bytes()[:1] == b"A"
        b = mem.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE, fd, PAGE_SIZE)
        assert mem.read(b, 4) == b"AAAA" and mem.read(b + 904, 4) == bytes(4)
    finally:
        os.close(fd)


def test_shared_file_mapping_is_shared(mem_factory, tmp_path):
    mem = mem_factory()
    p = tmp_path / "f"
    p.write_bytes(b"0123456789" * 1000)
    fd = os.open(p, os.O_RDWR)
    try:
        a = mem.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0)
        assert mem.read(a, 4) == b"0123"
        mem.write(a, b"xy")
        assert os.pread(fd, 4, 0) == b"xy23"
        os.pwrite(fd, b"ZZ", 4096)
        assert mem.read(a + 4096, 3) == b"ZZ8"
        assert mem.msync(a, 2 * PAGE_SIZE, 4) == 0
        # moving keeps it shared
        b = mem.mremap(a, 2 * PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, 0x5100_0000)
        assert b == 0x5100_0000
        mem.write(b + 1, b"Q")
        assert os.pread(fd, 2, 0) == b"xQ"
        assert mem.munmap(b, 2 * PAGE_SIZE) == 0
        assert mem.mmap(b, PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0) == b
        assert mem.read(b, 2) == bytes(2)  # fresh private memory, not the file
    finally:
        os.close(fd)
    ro = os.open(p, os.O_RDONLY)
    try:
        c = mem.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, ro, 0)
        assert c > 0
        assert mem.mprotect(c, PAGE_SIZE, RW) == -errno.EACCES
        assert mem.mmap(0, PAGE_SIZE, RW, MAP_SHARED, ro, 0) == -errno.EACCES
    finally:
        os.close(ro)


def test_shared_anonymous_survives_fork(mem_factory):
    mem = mem_factory()
    a = mem.mmap(0, PAGE_SIZE, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
    p = anon(mem, PAGE_SIZE)
    pid = os.fork()
    if pid == 0:
        mem.write(a, b"child")
        mem.write(p, b"child")
        os._exit(0)
    os.waitpid(pid, 0)
    assert mem.read(a, 5) == b"child"
    assert mem.read(p, 5) == bytes(5)


def test_madvise_dontneed_zeroes_private(mem_factory):
    mem = mem_factory()
    a = anon(mem, 2 * PAGE_SIZE)
    mem.write(a, b"data")
    assert mem.madvise(a, PAGE_SIZE, 4) == 0
    assert mem.read(a, 4) == bytes(4)
    assert mem.madvise(0x7000_0000, PAGE_SIZE, 4) == 0  # unmapped: a hint, ignored


def test_many_mappings_stay_fast(mem_factory):
    mem = mem_factory()
    addrs = [anon(mem, PAGE_SIZE) for _ in range(3000)]
    assert len(set(addrs)) == 3000
    for a in addrs[::2]:
        mem.munmap(a, PAGE_SIZE)
    again = [anon(mem, PAGE_SIZE) for _ in range(1500)]
    assert all(a > 0 for a in again)
    assert len(set(again) | set(addrs[1::2])) == 3000  # no overlaps


def test_code_pages_invalidated_on_unmap_and_mprotect(mem_factory):
    mem = mem_factory()
    seen = []
    mem.on_unmap = lambda addr, length: (seen.append(addr), mem.code_pages.discard(addr >> 12))
    a = anon(mem, 2 * PAGE_SIZE, prot=PROT_READ | PROT_EXEC)
    mem.code_pages.add(a >> 12)
    assert mem.mprotect(a, PAGE_SIZE, PROT_READ) == 0
    assert seen == [a]
    mem.code_pages.add((a >> 12) + 1)
    mem.munmap(a, 2 * PAGE_SIZE)
    assert seen == [a, a + PAGE_SIZE]
