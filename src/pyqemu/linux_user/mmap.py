"""The guest address space of a user-mode process.

Guest virtual addresses map 1:1 onto one big host reservation (an anonymous
``MAP_NORESERVE`` mapping of ``GUEST_VA_SIZE`` bytes, so untouched pages cost
nothing): guest address ``a`` is byte ``a`` of ``mem``. Page permissions live
in three byte tables indexed by page number, checked by generated code:

* ``rp[page]`` 1 if readable;
* ``wp[page]`` 1 if writable, 2 if writable but holding translated code (the
  store goes to a slow path that invalidates the code first), 0 if not;
* ``xp[page]`` 1 if executable.

This module also implements the guest's mmap/munmap/mprotect/mremap/brk.
"""
from __future__ import annotations

import mmap as _mmap
import os
import struct
from collections.abc import Callable

from pyqemu.accel.tcg.excp import GuestException

PAGE_SIZE = 4096
PAGE_SHIFT = 12
GUEST_VA_BITS = 39
GUEST_VA_SIZE = 1 << GUEST_VA_BITS
MAP_NORESERVE = 0x4000

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_FIXED_NOREPLACE = 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2

# Where the kernel-chosen mappings go (top down, below the stack).
MMAP_TOP = 0x7F_F000_0000
MMAP_BOTTOM = 0x10_0000_0000
STACK_TOP = 0x7F_FFFF_F000 - 0x1000


def page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def _anon(size: int) -> _mmap.mmap:
    return _mmap.mmap(-1, size, flags=_mmap.MAP_PRIVATE | _mmap.MAP_ANONYMOUS | MAP_NORESERVE)


class GuestMemory:
    """Flat guest address space with page permissions and mapping calls."""

    def __init__(self) -> None:
        self._map = _anon(GUEST_VA_SIZE)
        self.mem = memoryview(self._map)
        npages = GUEST_VA_SIZE >> PAGE_SHIFT
        self._rp_map, self._wp_map, self._xp_map = _anon(npages), _anon(npages), _anon(npages)
        self.rp = memoryview(self._rp_map)
        self.wp = memoryview(self._wp_map)
        self.xp = memoryview(self._xp_map)
        # Mapped ranges: page -> prot (only mapped pages are present).
        self.prot: dict[int, int] = {}
        self.brk_start = 0
        self.brk = 0
        self.mmap_next = MMAP_TOP
        self.on_unmap: Callable[[int, int], None] | None = None  # invalidates code
        self.code_pages: set[int] = set()
        self._u32 = struct.Struct("<I").unpack_from

    # --- permissions -----------------------------------------------------------
    def set_prot(self, start: int, length: int, prot: int) -> None:
        p0 = start >> PAGE_SHIFT
        p1 = (start + length + PAGE_SIZE - 1) >> PAGE_SHIFT
        n = p1 - p0
        r = 1 if prot & (PROT_READ | PROT_WRITE | PROT_EXEC) else 0
        w = 1 if prot & PROT_WRITE else 0
        x = 1 if prot & PROT_EXEC else 0
        self.rp[p0:p1] = bytes([r]) * n
        self.wp[p0:p1] = bytes([w]) * n
        self.xp[p0:p1] = bytes([x]) * n
        prots = self.prot
        for p in range(p0, p1):
            prots[p] = prot
        if self.code_pages and self.on_unmap is not None:
            for p in range(p0, p1):
                if p in self.code_pages:
                    self.on_unmap(p << PAGE_SHIFT, PAGE_SIZE)

    def is_mapped(self, start: int, length: int) -> bool:
        p0 = start >> PAGE_SHIFT
        p1 = (start + length + PAGE_SIZE - 1) >> PAGE_SHIFT
        return all(p in self.prot for p in range(p0, p1))

    def range_free(self, start: int, length: int) -> bool:
        p0 = start >> PAGE_SHIFT
        p1 = (start + length + PAGE_SIZE - 1) >> PAGE_SHIFT
        return not any(p in self.prot for p in range(p0, p1))

    def _clear(self, start: int, length: int) -> None:
        """Zero the host pages backing [start, start+length)."""
        if length <= 0:
            return
        self._map.madvise(_mmap.MADV_DONTNEED, start, length)

    # --- the guest's mapping calls ---------------------------------------------
    def find_free(self, length: int, hint: int = 0) -> int:
        length = page_align(length)
        if hint and hint + length <= GUEST_VA_SIZE and self.range_free(hint, length):
            return hint
        addr = self.mmap_next - length
        while addr >= MMAP_BOTTOM:
            if self.range_free(addr, length):
                self.mmap_next = addr
                return addr
            # skip below the lowest mapped page in the way
            addr -= PAGE_SIZE
        raise MemoryError("guest address space exhausted")

    def map(self, addr: int, length: int, prot: int, data: bytes | None = None) -> None:
        """Map (and zero) [addr, addr+length), optionally copying `data` in."""
        length = page_align(length)
        self._clear(addr, length)
        if data:
            self.mem[addr:addr + len(data)] = data
        self.set_prot(addr, length, prot)

    def unmap(self, addr: int, length: int) -> None:
        length = page_align(length)
        p0 = addr >> PAGE_SHIFT
        p1 = (addr + length) >> PAGE_SHIFT
        for p in range(p0, p1):
            if p in self.code_pages and self.on_unmap is not None:
                self.on_unmap(p << PAGE_SHIFT, PAGE_SIZE)
            self.prot.pop(p, None)
        n = p1 - p0
        zero = bytes(n)
        self.rp[p0:p1] = zero
        self.wp[p0:p1] = zero
        self.xp[p0:p1] = zero
        self._clear(addr, length)

    def mmap(self, addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
        """The guest's mmap; returns the address or -errno."""
        import errno
        if length <= 0 or offset & (PAGE_SIZE - 1):
            return -errno.EINVAL
        length = page_align(length)
        if length > GUEST_VA_SIZE:
            return -errno.ENOMEM
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
            if addr & (PAGE_SIZE - 1) or addr + length > GUEST_VA_SIZE:
                return -errno.EINVAL if addr & (PAGE_SIZE - 1) else -errno.ENOMEM
            if flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED \
                    and not self.range_free(addr, length):
                return -errno.EEXIST
        else:
            try:
                addr = self.find_free(length, addr & ~(PAGE_SIZE - 1))
            except MemoryError:
                return -errno.ENOMEM
        data = None
        if not flags & MAP_ANONYMOUS:
            try:
                st = os.fstat(fd)
                import stat as _stat
                if _stat.S_ISDIR(st.st_mode):
                    return -errno.ENODEV
                data = os.pread(fd, length, offset)
            except OSError as e:
                return -e.errno
        self.map(addr, length, prot, data)
        return addr

    def mprotect(self, addr: int, length: int, prot: int) -> int:
        import errno
        if addr & (PAGE_SIZE - 1):
            return -errno.EINVAL
        length = page_align(length)
        if not self.is_mapped(addr, length):
            return -errno.ENOMEM
        self.set_prot(addr, length, prot)
        return 0

    def mremap(self, old: int, old_len: int, new_len: int, flags: int, new_addr: int) -> int:
        import errno
        if old & (PAGE_SIZE - 1):
            return -errno.EINVAL
        old_len = page_align(old_len)
        new_len = page_align(new_len)
        if not self.is_mapped(old, old_len):
            return -errno.EFAULT
        prot = self.prot[old >> PAGE_SHIFT]
        if flags & MREMAP_FIXED:
            dest = new_addr
        elif new_len <= old_len:
            self.unmap(old + new_len, old_len - new_len)
            return old
        elif self.range_free(old + old_len, new_len - old_len) and old + new_len <= GUEST_VA_SIZE:
            self.map(old + old_len, new_len - old_len, prot)
            return old
        elif flags & MREMAP_MAYMOVE:
            dest = self.find_free(new_len)
        else:
            return -errno.ENOMEM
        data = bytes(self.mem[old:old + min(old_len, new_len)])
        self.unmap(old, old_len)
        self.map(dest, new_len, prot, data)
        return dest

    def set_brk(self, new: int) -> int:
        if new < self.brk_start:
            return self.brk
        old_top = page_align(self.brk)
        new_top = page_align(new)
        if new_top > old_top:
            if not self.range_free(old_top, new_top - old_top):
                return self.brk
            self.map(old_top, new_top - old_top, PROT_READ | PROT_WRITE)
        elif new_top < old_top:
            self.unmap(new_top, old_top - new_top)
        self.brk = new
        return new

    # --- access from Python (loader, syscalls) ---------------------------------
    def check(self, addr: int, length: int, write: bool = False) -> bool:
        if length == 0:
            return True
        if addr < 0 or addr + length > GUEST_VA_SIZE:
            return False
        table = self.wp if write else self.rp
        p0 = addr >> PAGE_SHIFT
        p1 = (addr + length - 1) >> PAGE_SHIFT
        return all(table[p] for p in range(p0, p1 + 1))

    def read(self, addr: int, length: int) -> bytes:
        if not self.check(addr, length):
            raise GuestException("segv", addr)
        return bytes(self.mem[addr:addr + length])

    def write(self, addr: int, data: bytes) -> None:
        if not self.check(addr, len(data), True):
            raise GuestException("segv", addr, True)
        self._invalidate_if_code(addr, len(data))
        self.mem[addr:addr + len(data)] = data

    def write_force(self, addr: int, data: bytes) -> None:
        """Write regardless of guest permissions (loader, signal frames)."""
        self._invalidate_if_code(addr, len(data))
        self.mem[addr:addr + len(data)] = data

    def _invalidate_if_code(self, addr: int, length: int) -> None:
        if not self.code_pages or self.on_unmap is None:
            return
        for p in range(addr >> PAGE_SHIFT, ((addr + length - 1) >> PAGE_SHIFT) + 1):
            if p in self.code_pages:
                self.on_unmap(p << PAGE_SHIFT, PAGE_SIZE)

    def read_cstr(self, addr: int, limit: int = 1 << 16) -> bytes:
        out = bytearray()
        mem = self.mem
        while len(out) < limit:
            if not self.rp[addr >> PAGE_SHIFT]:
                raise GuestException("segv", addr)
            end = min((addr | (PAGE_SIZE - 1)) + 1, addr + limit)
            chunk = bytes(mem[addr:end])
            i = chunk.find(b"\0")
            if i >= 0:
                out += chunk[:i]
                return bytes(out)
            out += chunk
            addr = end
        return bytes(out)

    def u64(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 8), "little")

    def u32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    def put_u64(self, addr: int, v: int) -> None:
        self.write(addr, (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little"))

    def put_u32(self, addr: int, v: int) -> None:
        self.write(addr, (v & 0xFFFFFFFF).to_bytes(4, "little"))

    def fetch32(self, addr: int) -> int:
        """Instruction fetch: needs execute permission."""
        if addr & 3 or addr + 4 > GUEST_VA_SIZE or not self.xp[addr >> PAGE_SHIFT]:
            raise GuestException("segv", addr, code=2)
        return self._u32(self.mem, addr)[0]
