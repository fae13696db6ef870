"""The guest address space of a user-mode process.

Guest virtual addresses map 1:1 onto one big host reservation (an anonymous
``MAP_NORESERVE`` mapping of ``GUEST_VA_SIZE`` bytes, so untouched pages cost
nothing): guest address ``a`` is byte ``a`` of ``mem``, at host address
``host_base + a``. Page permissions live in three byte tables indexed by page
number, checked by generated code:

* ``rp[page]`` 1 if readable;
* ``wp[page]`` 1 if writable, 2 if writable but holding translated code (the
  store goes to a slow path that invalidates the code first), 0 if not;
* ``xp[page]`` 1 if executable.

The mappings themselves are kept as a sorted list of :class:`VMA` (one per
contiguous range with the same attributes), so that mapping calls cost
O(log n + pieces touched) rather than O(pages). Private mappings are host
anonymous memory (file contents are copied in); shared mappings -- anonymous
or of a file -- are host ``MAP_SHARED`` mappings placed with ``MAP_FIXED``
inside the reservation, so they stay shared with other processes and across
``fork``. Unmapping puts fresh anonymous reservation back.

This module also implements the guest's mmap/munmap/mprotect/mremap/brk.
"""
from __future__ import annotations

import ctypes
import errno
import mmap as _mmap
import os
import stat as _stat
import struct
import threading
from bisect import bisect_right
from collections.abc import Callable

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.linux_user import host_syscall as _host

PAGE_SIZE = 4096
PAGE_SHIFT = 12
PAGE_MASK = PAGE_SIZE - 1
GUEST_VA_BITS = 39
GUEST_VA_SIZE = 1 << GUEST_VA_BITS
MAP_NORESERVE = 0x4000

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
PROT_RWX = 7
MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_TYPE = 0x01, 0x02, 0x03, 0x0F
MAP_FIXED, MAP_ANONYMOUS = 0x10, 0x20
MAP_FIXED_NOREPLACE = 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
MADV_DONTNEED = 4
MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4

# Where the kernel-chosen mappings go (top down, below the stack).
MMAP_TOP = 0x7F_F000_0000
MMAP_BOTTOM = 0x10_0000_0000
STACK_TOP = 0x7F_FFFF_F000 - 0x1000

_HOST_RW = _mmap.PROT_READ | _mmap.PROT_WRITE
_HOST_ANON = _mmap.MAP_PRIVATE | _mmap.MAP_ANONYMOUS | MAP_NORESERVE


def page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def _anon(size: int) -> _mmap.mmap:
    return _mmap.mmap(-1, size, flags=_HOST_ANON)


class VMA:
    """One guest mapping: [start, end) with uniform attributes."""

    __slots__ = ("start", "end", "prot", "shared", "maxprot", "name", "offset", "dev", "ino")

    def __init__(self, start: int, end: int, prot: int, shared: bool = False, maxprot: int = PROT_RWX,
                 name: str | None = None, offset: int = 0, dev: int = 0, ino: int = 0) -> None:
        self.start = start
        self.end = end
        self.prot = prot
        self.shared = shared
        self.maxprot = maxprot
        self.name = name
        self.offset = offset
        self.dev = dev
        self.ino = ino

    def split(self, at: int) -> VMA:
        """Cut at `at`; self keeps the low part, the high part is returned."""
        hi = VMA(at, self.end, self.prot, self.shared, self.maxprot, self.name,
                 self.offset + (at - self.start) if self.ino else 0, self.dev, self.ino)
        self.end = at
        return hi

    def __repr__(self) -> str:
        return f"VMA({self.start:#x}-{self.end:#x} prot={self.prot} shared={self.shared} {self.name})"


class GuestMemory:
    """Flat guest address space with page permissions and mapping calls."""

    def __init__(self) -> None:
        self._map = _anon(GUEST_VA_SIZE)
        self.mem = memoryview(self._map)
        self.host_base = ctypes.addressof(ctypes.c_char.from_buffer(self._map))
        npages = GUEST_VA_SIZE >> PAGE_SHIFT
        self._rp_map, self._wp_map, self._xp_map = _anon(npages), _anon(npages), _anon(npages)
        self.rp = memoryview(self._rp_map)
        self.wp = memoryview(self._wp_map)
        self.xp = memoryview(self._xp_map)
        # What generated code checks: 1 when an access of up to 16 bytes starting
        # in the page needs no other check (this and the next page readable, or
        # writable without translated code); anything else takes the slow path.
        self._rpf_map, self._wpf_map = _anon(npages), _anon(npages)
        self.rpf = memoryview(self._rpf_map)
        self.wpf = memoryview(self._wpf_map)
        # Pages whose fast-path entry ignores the next page: the top page of the
        # stack, so that pushes there need no slow call. A guest access crossing
        # off the stack top then reads zeros instead of faulting.
        self.fast_pad: set[int] = set()
        self._starts: list[int] = []  # VMA starts, sorted (parallel to _vmas)
        self._vmas: list[VMA] = []
        self.brk_start = 0
        self.brk = 0
        self.mmap_next = MMAP_TOP  # search for free space starts below this
        # the target's address-space layout (see set_layout)
        self.va_limit = GUEST_VA_SIZE
        self.mmap_top = MMAP_TOP
        self.mmap_bottom = MMAP_BOTTOM
        # Guest addresses below this count as mapped where the host kernel would see them
        # (msync): qemu-arm reserves the 32-bit guest space (TargetABI.reserved_va).
        self.reserved_va = 0
        self.on_unmap: Callable[[int, int], None] | None = None  # invalidates code
        self.code_pages: set[int] = set()
        self.lock = threading.RLock()
        self._u32 = struct.Struct("<I").unpack_from

    # --- the VMA list ------------------------------------------------------------
    def set_layout(self, va_limit: int, mmap_top: int, mmap_bottom: int) -> None:
        """Restrict the guest's mappings to [0, va_limit) (a 32-bit target), kernel-chosen
        ones to [mmap_bottom, mmap_top) searched top down."""
        self.va_limit = va_limit
        self.mmap_top = self.mmap_next = mmap_top
        self.mmap_bottom = mmap_bottom

    def vmas(self) -> list[VMA]:
        """A snapshot of the mappings, in address order."""
        return list(self._vmas)

    def find_vma(self, addr: int) -> VMA | None:
        i = bisect_right(self._starts, addr) - 1
        if i >= 0 and self._vmas[i].end > addr:
            return self._vmas[i]
        return None

    def _split_at(self, addr: int) -> None:
        i = bisect_right(self._starts, addr) - 1
        if i >= 0:
            v = self._vmas[i]
            if v.start < addr < v.end:
                hi = v.split(addr)
                self._vmas.insert(i + 1, hi)
                self._starts.insert(i + 1, addr)

    def _span(self, start: int, end: int) -> tuple[int, int]:
        """Split at both ends; the index range of the VMAs inside [start, end)."""
        self._split_at(start)
        self._split_at(end)
        i = bisect_right(self._starts, start - 1)
        j = bisect_right(self._starts, end - 1)
        return i, j

    def _insert(self, v: VMA) -> None:
        i = bisect_right(self._starts, v.start)
        self._vmas.insert(i, v)
        self._starts.insert(i, v.start)

    def _merge_around(self, start: int, end: int) -> None:
        """Coalesce identical private anonymous neighbours (keeps the list short)."""
        i = max(bisect_right(self._starts, start) - 2, 0)
        vmas, starts = self._vmas, self._starts
        while i + 1 < len(vmas) and vmas[i].start <= end:
            a, b = vmas[i], vmas[i + 1]
            if (a.end == b.start and a.prot == b.prot and not a.shared and not b.shared
                    and a.name == b.name and not a.ino and not b.ino and a.maxprot == b.maxprot):
                a.end = b.end
                del vmas[i + 1]
                del starts[i + 1]
            else:
                i += 1

    # --- permissions -----------------------------------------------------------
    def _set_tables(self, start: int, end: int, prot: int) -> None:
        p0 = start >> PAGE_SHIFT
        p1 = end >> PAGE_SHIFT
        n = p1 - p0
        r = b"\1" if prot & PROT_RWX else b"\0"
        self.rp[p0:p1] = r * n
        self.wp[p0:p1] = (b"\1" if prot & PROT_WRITE else b"\0") * n
        self.xp[p0:p1] = (b"\1" if prot & PROT_EXEC else b"\0") * n
        self.update_fast_tables(p0, p1)

    def table_address(self, name: str) -> int:
        """Host address of the fast-path table ``rpf`` or ``wpf`` (native code reads it)."""
        return ctypes.addressof(ctypes.c_char.from_buffer(getattr(self, f"_{name}_map")))

    def update_fast_tables(self, p0: int, p1: int) -> None:
        """Recompute rpf/wpf for pages [p0 - 1, p1) after rp/wp changed there."""
        p0 = max(p0 - 1, 0)
        p1 = min(p1, len(self.rp) - 1)
        n = p1 - p0
        if n <= 0:
            return
        ones = int.from_bytes(b"\1" * n, "big")
        rp, wp = self.rp, self.wp
        r = int.from_bytes(rp[p0:p1], "big") & int.from_bytes(rp[p0 + 1:p1 + 1], "big")
        self.rpf[p0:p1] = (r & ones).to_bytes(n, "big")
        # wp 2 (code) and 0 both end the fast path: keep only bytes equal to 1
        w0 = int.from_bytes(wp[p0:p1], "big")
        w1 = int.from_bytes(wp[p0 + 1:p1 + 1], "big")
        w = w0 & w1 & ones & ~((w0 | w1) >> 1)
        self.wpf[p0:p1] = (w & ones).to_bytes(n, "big")
        for p in self.fast_pad:
            if p0 <= p < p1:
                self.rpf[p] = 1 if rp[p] else 0
                self.wpf[p] = 1 if wp[p] == 1 else 0

    def _drop_code(self, start: int, end: int) -> None:
        """Invalidate translated code of the pages in [start, end)."""
        if not self.code_pages or self.on_unmap is None:
            return
        p0 = start >> PAGE_SHIFT
        p1 = (end + PAGE_MASK) >> PAGE_SHIFT
        if p1 - p0 <= len(self.code_pages):
            pages = [p for p in range(p0, p1) if p in self.code_pages]
        else:
            pages = [p for p in self.code_pages if p0 <= p < p1]
        for p in pages:
            self.on_unmap(p << PAGE_SHIFT, PAGE_SIZE)

    def set_prot(self, start: int, length: int, prot: int) -> None:
        """Give [start, start+length) protection `prot` (mapping any holes)."""
        end = page_align(start + length)
        start &= ~PAGE_MASK
        if end <= start:
            return
        with self.lock:
            i, j = self._span(start, end)
            pos = start
            new = []
            for v in self._vmas[i:j]:
                if v.start > pos:
                    new.append(VMA(pos, v.start, prot))
                v.prot = prot
                pos = v.end
            if pos < end:
                new.append(VMA(pos, end, prot))
            for v in new:
                self._insert(v)
            self._set_tables(start, end, prot)
            self._drop_code(start, end)
            self._merge_around(start, end)

    def is_mapped(self, start: int, length: int) -> bool:
        end = start + max(length, 1)
        start &= ~PAGE_MASK
        i = bisect_right(self._starts, start) - 1
        if i < 0:
            return False
        pos = start
        for v in self._vmas[i:]:
            if v.start > pos or v.end <= pos:
                return False
            pos = v.end
            if pos >= end:
                return True
        return False

    def range_free(self, start: int, length: int) -> bool:
        end = start + length
        i = bisect_right(self._starts, start) - 1
        if i >= 0 and self._vmas[i].end > start:
            return False
        return i + 1 >= len(self._vmas) or self._vmas[i + 1].start >= end

    # --- host backing ----------------------------------------------------------
    def _host_reset(self, start: int, length: int) -> None:
        """Put fresh zeroed private reservation at [start, start+length)."""
        if length <= 0:
            return
        if _host.host_mmap_fixed(self.host_base + start, length, _HOST_RW, _HOST_ANON) < 0:
            self._map.madvise(_mmap.MADV_DONTNEED, start, length)

    def _clear(self, start: int, length: int) -> None:
        """Zero the host pages backing [start, start+length)."""
        self._host_reset(start, length)

    # --- the guest's mapping calls ---------------------------------------------
    def find_free(self, length: int, hint: int = 0) -> int:
        """A free page-aligned range of `length` bytes (the hint if it is free)."""
        length = page_align(length)
        if hint and hint + length <= self.va_limit and self.range_free(hint, length):
            return hint
        for top in (self.mmap_next, self.mmap_top):
            addr = self._search_down(length, top)
            if addr is not None:
                self.mmap_next = addr
                return addr
        raise MemoryError("guest address space exhausted")

    def _search_down(self, length: int, top: int) -> int | None:
        vmas = self._vmas
        i = bisect_right(self._starts, top - 1) - 1
        gap_end = top
        while True:
            if i < 0:
                low = self.mmap_bottom
            else:
                low = vmas[i].end
                if low > gap_end:  # a mapping straddles gap_end
                    gap_end = vmas[i].start
                    i -= 1
                    continue
            low = max(low, self.mmap_bottom)
            if gap_end - low >= length:
                return gap_end - length
            if i < 0 or low <= self.mmap_bottom:
                return None
            gap_end = vmas[i].start
            i -= 1

    def map(self, addr: int, length: int, prot: int, data: bytes | None = None, *,
            name: str | None = None) -> None:
        """Map (and zero) [addr, addr+length) privately, optionally copying `data` in."""
        length = page_align(length)
        with self.lock:
            self.unmap(addr, length)
            if data:
                self.mem[addr:addr + len(data)] = data
            self._insert(VMA(addr, addr + length, prot, name=name))
            self._set_tables(addr, addr + length, prot)
            self._merge_around(addr, addr + length)

    def unmap(self, addr: int, length: int) -> None:
        length = page_align(length)
        end = addr + length
        with self.lock:
            i, j = self._span(addr, end)
            if i < j:
                del self._vmas[i:j]
                del self._starts[i:j]
            self._drop_code(addr, end)
            self._set_tables(addr, end, 0)
            self._host_reset(addr, length)
            if self.mmap_bottom <= end <= self.mmap_top and end > self.mmap_next:
                self.mmap_next = end

    def _map_shared(self, addr: int, length: int, prot: int, fd: int, offset: int) -> int:
        """Place a host MAP_SHARED mapping (anonymous if fd < 0) at guest `addr`."""
        host = self.host_base + addr
        maxprot = PROT_RWX
        if fd < 0:
            r = _host.host_mmap_fixed(host, length, _HOST_RW, _mmap.MAP_SHARED | _mmap.MAP_ANONYMOUS)
            if r < 0:
                return r
            self._insert(VMA(addr, addr + length, prot, shared=True, name="/dev/zero (deleted)",
                             ino=1))
            return 0
        try:
            st = os.fstat(fd)
        except OSError as e:
            return -e.errno
        r = _host.host_mmap_fixed(host, length, _HOST_RW, _mmap.MAP_SHARED, fd, offset)
        if r == -errno.EACCES and not prot & PROT_WRITE:
            r = _host.host_mmap_fixed(host, length, _mmap.PROT_READ, _mmap.MAP_SHARED, fd, offset)
            maxprot = PROT_READ | PROT_EXEC
        if r < 0:
            self._host_reset(addr, length)
            return r
        if _stat.S_ISREG(st.st_mode):
            # Pages wholly past the end of the file would raise SIGBUS in the host:
            # back them with zeros instead.
            valid = max(page_align(st.st_size - offset), 0)
            if valid < length:
                self._host_reset(addr + valid, length - valid)
        self._insert(VMA(addr, addr + length, prot, shared=True, maxprot=maxprot,
                         name=_fd_path(fd), offset=offset, dev=st.st_dev, ino=st.st_ino or 1))
        return 0

    def mmap(self, addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
        """The guest's mmap; returns the address or -errno."""
        if length <= 0 or offset & PAGE_MASK or offset < 0:
            return -errno.EINVAL
        mtype = flags & MAP_TYPE
        if mtype not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE):
            return -errno.EINVAL
        shared = mtype != MAP_PRIVATE
        length = page_align(length)
        if length > self.va_limit:
            return -errno.ENOMEM
        anon = bool(flags & MAP_ANONYMOUS)
        st = None
        if not anon:
            try:
                st = os.fstat(fd)
            except OSError as e:
                return -e.errno
            if _stat.S_ISDIR(st.st_mode):
                return -errno.ENODEV
        with self.lock:
            if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
                if addr & PAGE_MASK:
                    return -errno.EINVAL
                if addr + length > self.va_limit:
                    return -errno.ENOMEM
                if flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED \
                        and not self.range_free(addr, length):
                    return -errno.EEXIST
            else:
                try:
                    addr = self.find_free(length, addr & ~PAGE_MASK)
                except MemoryError:
                    return -errno.ENOMEM
            self.unmap(addr, length)
            if shared:
                r = self._map_shared(addr, length, prot, -1 if anon else fd, offset)
                if r < 0:
                    return r
            else:
                if not anon:
                    r = self._read_file(fd, addr, length, offset)
                    if r < 0:
                        self._host_reset(addr, length)
                        return r
                name = None if anon else _fd_path(fd)
                self._insert(VMA(addr, addr + length, prot, name=name, offset=0 if anon else offset,
                                 dev=st.st_dev if st else 0, ino=st.st_ino if st else 0))
            self._set_tables(addr, addr + length, prot)
            if anon and not shared:
                self._merge_around(addr, addr + length)
        return addr

    def _read_file(self, fd: int, addr: int, length: int, offset: int) -> int:
        """Copy file contents into [addr, addr+length); 0 or -errno."""
        done = 0
        while done < length:
            try:
                n = os.preadv(fd, [self.mem[addr + done:addr + length]], offset + done)
            except OSError as e:
                return -errno.EACCES if e.errno == errno.EBADF else -e.errno
            if n <= 0:
                break
            done += n
        return 0

    def mprotect(self, addr: int, length: int, prot: int) -> int:
        if addr & PAGE_MASK:
            return -errno.EINVAL
        length = page_align(length)
        if length == 0:
            return 0
        prot &= PROT_RWX
        with self.lock:
            if not self.is_mapped(addr, length):
                return -errno.ENOMEM
            i, j = self._span(addr, addr + length)
            if any(prot & ~v.maxprot for v in self._vmas[i:j]):
                return -errno.EACCES
            for v in self._vmas[i:j]:
                v.prot = prot
            self._set_tables(addr, addr + length, prot)
            self._drop_code(addr, addr + length)
            self._merge_around(addr, addr + length)
        return 0

    def munmap(self, addr: int, length: int) -> int:
        if addr & PAGE_MASK or length <= 0 or addr + length > self.va_limit:
            return -errno.EINVAL
        self.unmap(addr, length)
        return 0

    def mremap(self, old: int, old_len: int, new_len: int, flags: int, new_addr: int) -> int:
        if old & PAGE_MASK or flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP):
            return -errno.EINVAL
        if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
            return -errno.EINVAL
        old_len = page_align(old_len)
        new_len = page_align(new_len)
        if new_len == 0 or old_len == 0:
            return -errno.EINVAL
        with self.lock:
            v = self.find_vma(old)
            if v is None or not self.is_mapped(old, old_len):
                return -errno.EFAULT
            i, j = self._span(old, old + old_len)
            pieces = self._vmas[i:j]
            if len({(p.prot, p.shared) for p in pieces}) != 1:
                return -errno.EFAULT
            prot, shared = pieces[0].prot, pieces[0].shared
            if flags & MREMAP_FIXED:
                if new_addr & PAGE_MASK or new_addr + new_len > self.va_limit:
                    return -errno.EINVAL
                if new_addr < old + old_len and old < new_addr + new_len:
                    return -errno.EINVAL
                dest = new_addr
            elif new_len <= old_len:
                if new_len < old_len:
                    self.unmap(old + new_len, old_len - new_len)
                return old
            elif old + new_len <= self.va_limit and self.range_free(old + old_len, new_len - old_len) \
                    and not shared:
                self._insert(VMA(old + old_len, old + new_len, prot))
                self._set_tables(old + old_len, old + new_len, prot)
                self._merge_around(old, old + new_len)
                return old
            elif flags & MREMAP_MAYMOVE:
                try:
                    dest = self.find_free(new_len)
                except MemoryError:
                    return -errno.ENOMEM
            else:
                return -errno.ENOMEM
            return self._move(old, old_len, new_len, dest, pieces, prot, shared)

    def _move(self, old: int, old_len: int, new_len: int, dest: int, pieces: list[VMA],
              prot: int, shared: bool) -> int:
        self.unmap(dest, new_len)
        if shared:
            # Move the host mapping itself so that it stays shared.
            r = _host.host_mremap_fixed(self.host_base + old, old_len, new_len, self.host_base + dest)
            if r < 0:
                self._host_reset(dest, new_len)
                return r
            self._host_reset(old, old_len)
            first = pieces[0]
            i, j = self._span(old, old + old_len)
            del self._vmas[i:j]
            del self._starts[i:j]
            self._drop_code(old, old + old_len)
            self._set_tables(old, old + old_len, 0)
            self._insert(VMA(dest, dest + new_len, prot, True, first.maxprot, first.name,
                             first.offset, first.dev, first.ino))
        else:
            n = min(old_len, new_len)
            self.mem[dest:dest + n] = self.mem[old:old + n]
            self.unmap(old, old_len)
            self._insert(VMA(dest, dest + new_len, prot))
        self._set_tables(dest, dest + new_len, prot)
        return dest

    def madvise(self, addr: int, length: int, advice: int) -> int:
        if addr & PAGE_MASK:
            return -errno.EINVAL
        length = page_align(length)
        if advice != MADV_DONTNEED or length == 0:
            return 0
        with self.lock:
            # Advice is only a hint: like QEMU, unmapped ranges are not an error.
            i, j = self._span(addr, addr + length)
            for v in self._vmas[i:j]:
                if not v.shared:  # private pages read back as zeros
                    self._map.madvise(_mmap.MADV_DONTNEED, v.start, v.end - v.start)
        return 0

    def msync(self, addr: int, length: int, flags: int) -> int:
        """msync(2) with the host kernel's checks: EINVAL for unknown flags, a misaligned
        address or MS_SYNC with MS_ASYNC; 0 for an empty range; shared mappings in the
        range are synced; ENOMEM if part of the range is unmapped. Below
        ``reserved_va`` nothing counts as unmapped: qemu-arm reserves the 32-bit guest
        space on the host, so the host call finds no hole there."""
        if flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC) or addr & PAGE_MASK \
                or (flags & MS_ASYNC and flags & MS_SYNC):
            return -errno.EINVAL
        end = addr + page_align(length)
        if end == addr:
            return 0
        with self.lock:
            for v in self._vmas[max(bisect_right(self._starts, addr) - 1, 0):]:
                if v.start >= end:
                    break
                lo, hi = max(v.start, addr), min(v.end, end)
                if lo < hi and v.shared:
                    r = _host.host_msync(self.host_base + lo, hi - lo, flags)
                    if r < 0:
                        return r
            covered = self._covered(addr, end)
        return 0 if covered else -errno.ENOMEM

    def _covered(self, start: int, end: int) -> bool:
        """Whether [start, end) is all mapped or below ``reserved_va``."""
        pos = min(end, self.reserved_va) if start < self.reserved_va else start
        for v in self._vmas[max(bisect_right(self._starts, pos) - 1, 0):]:
            if pos >= end:
                break
            if v.end <= pos:
                continue
            if v.start > pos:
                return False
            pos = v.end
        return pos >= end

    def set_brk(self, new: int) -> int:
        with self.lock:
            if new < self.brk_start:
                return self.brk
            old_top = page_align(self.brk)
            new_top = page_align(new)
            if new_top > old_top:
                if new_top > self.va_limit or not self.range_free(old_top, new_top - old_top):
                    return self.brk
                self.map(old_top, new_top - old_top, PROT_READ | PROT_WRITE, name="[heap]")
            elif new_top < old_top:
                self.unmap(new_top, old_top - new_top)
            if new > self.brk and self.brk & PAGE_MASK:
                # the tail of the old last page must read as zeros when regrown
                end = min(new, old_top)
                self.mem[self.brk:end] = bytes(end - self.brk)
            self.brk = new
            return new

    # --- access from Python (loader, syscalls) ---------------------------------
    def check(self, addr: int, length: int, write: bool = False) -> bool:
        if length <= 0:
            return length == 0
        if addr < 0 or addr + length > GUEST_VA_SIZE:
            return False
        table = self.wp if write else self.rp
        p0 = addr >> PAGE_SHIFT
        p1 = (addr + length - 1) >> PAGE_SHIFT
        if p0 == p1:
            return bool(table[p0])
        return b"\0" not in table[p0:p1 + 1].tobytes()

    def host_r(self, addr: int, length: int) -> int:
        """Host address of guest range [addr, addr+length) for reading (EFAULT if not readable)."""
        if not self.check(addr, length):
            raise GuestException("segv", addr)
        return self.host_base + addr

    def host_w(self, addr: int, length: int) -> int:
        """Host address of [addr, addr+length) for the host to write (drops code there first)."""
        if not self.check(addr, length, True):
            raise GuestException("segv", addr, True)
        if length:
            self._invalidate_if_code(addr, length)
        return self.host_base + addr

    def read(self, addr: int, length: int) -> bytes:
        if not self.check(addr, length):
            raise GuestException("segv", addr)
        return bytes(self.mem[addr:addr + length])

    def write(self, addr: int, data: bytes) -> None:
        if not self.check(addr, len(data), True):
            raise GuestException("segv", addr, True)
        with self.lock:  # (one step for translating threads: see process.py's st_slow)
            self._invalidate_if_code(addr, len(data))
            self.mem[addr:addr + len(data)] = data

    def write_force(self, addr: int, data: bytes) -> None:
        """Write regardless of guest permissions (loader, signal frames)."""
        with self.lock:
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
            if addr >= GUEST_VA_SIZE or not self.rp[addr >> PAGE_SHIFT]:
                raise GuestException("segv", addr)
            end = min((addr | PAGE_MASK) + 1, addr + limit - len(out))
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

    def fetch16(self, addr: int) -> int:
        """Instruction fetch of a halfword (AArch32: Thumb, and ARM words in two halves)."""
        if addr & 1 or addr + 2 > GUEST_VA_SIZE or not self.xp[addr >> PAGE_SHIFT]:
            raise GuestException("segv", addr, code=2)
        return self.mem[addr] | (self.mem[addr + 1] << 8)


def _fd_path(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
