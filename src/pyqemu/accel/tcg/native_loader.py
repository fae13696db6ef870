"""A loader for the native tier's object files: x86-64 ELF relocatables into executable memory.

MCJIT (llvmlite's ``add_object_file`` + ``finalize_object``) costs 50-80 µs per object
in a booting process, and a warm Linux boot loads ~6,500 remembered regions. The
objects the native tier makes are simple: one function, code in ``.ltext`` (the
large code model), constants in ``.rodata*``, no calls out (helpers are inlined;
the Python callbacks are called through pointers in the state block), and only
section-relative relocations. :class:`CodeArena` places such an object in a
chunk of read-write-execute memory in a few microseconds: the allocated sections
one after another, their relocations applied, ``.eh_frame`` left out (no
exception unwinds through guest code). An object with anything else (an
undefined symbol, a relocation type not listed in ``_APPLY``) is refused with
:class:`Unsupported`, and the caller loads it with MCJIT.
"""
from __future__ import annotations

import ctypes
import mmap
import struct

_ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")
SHT_PROGBITS, SHT_SYMTAB, SHT_RELA, SHT_NOBITS = 1, 2, 4, 8
SHF_ALLOC = 0x2
R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_PC64 = 1, 2, 4, 24
CHUNK = 4 << 20  # bytes of executable memory mapped at a time

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                       ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value


class Unsupported(Exception):
    """The object needs a full linker (MCJIT)."""


def _map(size: int) -> int:
    addr = _libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC,
                      mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    if addr is None or addr == _MAP_FAILED:
        raise Unsupported(f"mmap of {size} executable bytes failed (errno {ctypes.get_errno()})")
    return addr


def layout(obj: bytes, name: str) -> tuple[list[tuple[int, int, int, int]], list, int, int]:
    """Where ``obj``'s sections go: (placed sections as (index, file offset or -1 for
    zeroes, size, offset in the image)), relocations as (image offset of the field, type,
    section index or -1, symbol value, addend), the image size, and ``name``'s offset."""
    try:
        head = _ELF_HEADER.unpack_from(obj)
        if head[0][:4] != b"\x7fELF" or head[0][4] != 2 or head[0][5] != 1 or head[2] != 62:
            raise Unsupported("not an x86-64 ELF64 little-endian object")
        shoff, shnum = head[6], head[12]
        sections = [_SECTION.unpack_from(obj, shoff + i * _SECTION.size) for i in range(shnum)]
        placed: dict[int, int] = {}
        parts = []
        size = 0
        for i, (_n, kind, flags, _a, off, sz, _l, _i, align, _e) in enumerate(sections):
            if flags & SHF_ALLOC and kind in (SHT_PROGBITS, SHT_NOBITS) and sz:
                size = -(-size // max(align, 1)) * max(align, 1)
                placed[i] = size
                parts.append((i, off if kind == SHT_PROGBITS else -1, sz, size))
                size += sz
        symtab = next((s for s in sections if s[1] == SHT_SYMTAB), None)
        if symtab is None:
            raise Unsupported("no symbol table")
        strtab = sections[symtab[6]]
        symbols = [_SYMBOL.unpack_from(obj, symtab[4] + j * _SYMBOL.size)
                   for j in range(symtab[5] // _SYMBOL.size)]
        entry = -1
        want = name.encode()
        for st_name, _info, _other, shndx, value, _size in symbols:
            if shndx in placed and st_name:
                s = strtab[4] + st_name
                if obj[s:s + len(want) + 1] == want + b"\0":
                    entry = placed[shndx] + value
        if entry < 0:
            raise Unsupported(f"no symbol {name}")
        relocs = []
        for kind, target, rel in ((s[1], s[7], s) for s in sections):
            if kind != SHT_RELA or target not in placed:
                continue
            for j in range(rel[5] // _RELA.size):
                where, info, addend = _RELA.unpack_from(obj, rel[4] + j * _RELA.size)
                rtype, sym = info & 0xFFFFFFFF, info >> 32
                shndx, value = symbols[sym][3], symbols[sym][4]
                if shndx not in placed or rtype not in _APPLY:
                    raise Unsupported(f"relocation type {rtype} against symbol {sym}")
                relocs.append((placed[target] + where, rtype, placed[shndx] + value, addend))
        return parts, relocs, size, entry
    except (struct.error, IndexError) as e:
        raise Unsupported(f"malformed object: {e}") from None


def _apply(image: int, at: int, rtype: int, target: int, addend: int) -> None:
    s, p = image + target, image + at
    if rtype == R_X86_64_64:
        ctypes.c_uint64.from_address(p).value = (s + addend) & ((1 << 64) - 1)
    elif rtype == R_X86_64_PC64:
        ctypes.c_uint64.from_address(p).value = (s + addend - p) & ((1 << 64) - 1)
    else:  # PC32 / PLT32 to a section of the same image
        ctypes.c_int32.from_address(p).value = s + addend - p


_APPLY = (R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_PC64)


def prepare(obj: bytes, name: str) -> tuple[bytes, tuple, int, int]:
    """``obj`` as an image ready to copy: (its placed sections as one byte string, its
    relocations as (offset, type, target offset, addend), ``name``'s offset, the image's
    alignment). Marshal can keep it (the code cache does: loading it again skips the file
    and the ELF parsing)."""
    parts, relocs, size, entry = layout(obj, name)
    image = bytearray(size)
    for _i, off, sz, at in parts:
        if off >= 0:
            image[at:at + sz] = obj[off:off + sz]
    align = 64
    head = _ELF_HEADER.unpack_from(obj)
    for i, _off, _sz, _at in parts:
        align = max(align, _SECTION.unpack_from(obj, head[6] + i * _SECTION.size)[8])
    return bytes(image), tuple(relocs), entry, align


class CodeArena:
    """Executable memory holding loaded objects; unmapped as a whole by close()."""

    def __init__(self) -> None:
        self.chunks: list[tuple[int, int]] = []  # (address, size)
        self.free = 0  # next free byte of the last chunk
        self.end = 0
        self.objects = 0
        self.live = 0  # regions using code here
        self.names: list[str] = []

    def add(self, obj: bytes, name: str) -> int:
        """Load ``obj`` and return the address of its function ``name``."""
        return self.add_prepared(prepare(obj, name), name)

    def add_prepared(self, prepared: tuple[bytes, tuple, int, int], name: str) -> int:
        """Load an object :func:`prepare` made; return the address of its function."""
        image, relocs, entry, align = prepared
        size = len(image)
        base = -(-self.free // align) * align
        if base + size > self.end:
            want = max(CHUNK, -(-size // 4096) * 4096)
            base = _map(want)
            self.chunks.append((base, want))
            self.end = base + want
        ctypes.memmove(base, image, size)
        for at, rtype, target, addend in relocs:
            _apply(base, at, rtype, target, addend)
        self.free = base + size
        self.objects += 1
        self.names.append(name)
        return base + entry

    def close(self) -> None:
        for address, size in self.chunks:
            _libc.munmap(address, size)
        self.chunks.clear()
        self.free = self.end = 0
