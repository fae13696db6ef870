"""The ELF64 and ELF32 little-endian headers the loader needs, read with struct.

pyelftools parses far more than a program loader needs and costs ~35 ms to
import, a quarter of a short program's start-up; the loader only reads the
file header and the program headers.
"""
from __future__ import annotations

import struct
from typing import BinaryIO

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_EHDR32 = struct.Struct("<16sHHIIIIIHHHHHH")
_PHDR32 = struct.Struct("<IIIIIIII")  # type, offset, vaddr, paddr, filesz, memsz, flags, align
_ETYPES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
_PTYPES = {0: "PT_NULL", 1: "PT_LOAD", 2: "PT_DYNAMIC", 3: "PT_INTERP", 4: "PT_NOTE", 5: "PT_SHLIB",
           6: "PT_PHDR", 7: "PT_TLS", 0x6474E550: "PT_GNU_EH_FRAME", 0x6474E551: "PT_GNU_STACK",
           0x6474E552: "PT_GNU_RELRO", 0x6474E553: "PT_GNU_PROPERTY", 0x70000001: "PT_ARM_EXIDX"}
MAX_PHNUM = 0xFFFF


class ELFError(ValueError):
    """A malformed ELF header or program header table."""


class Segment:
    """One program header; ``header`` holds its fields by their ELF names."""

    __slots__ = ("header",)

    def __init__(self, header: dict) -> None:
        self.header = header


class ELF64:
    """An ELF64 little-endian file: ``header`` (e_* fields) and ``iter_segments()``."""

    _ehdr = _EHDR
    _phdr = _PHDR

    @staticmethod
    def _ph_fields(t: tuple) -> tuple:
        """(type, flags, offset, vaddr, paddr, filesz, memsz, align) of one program header."""
        return t

    def __init__(self, f: BinaryIO) -> None:
        f.seek(0)
        ehdr, phdr = self._ehdr, self._phdr
        raw = f.read(ehdr.size)
        if len(raw) < ehdr.size:
            raise ELFError("file too short for an ELF header")
        (ident, etype, machine, version, entry, phoff, shoff, flags, ehsize, phentsize, phnum,
         shentsize, shnum, shstrndx) = ehdr.unpack(raw)
        self.header = {"e_ident": ident, "e_type": _ETYPES.get(etype, etype), "e_machine": machine,
                       "e_version": version, "e_entry": entry, "e_phoff": phoff, "e_shoff": shoff,
                       "e_flags": flags, "e_ehsize": ehsize, "e_phentsize": phentsize,
                       "e_phnum": phnum, "e_shentsize": shentsize, "e_shnum": shnum,
                       "e_shstrndx": shstrndx}
        self._segments: list[Segment] = []
        if phnum:
            if phentsize < phdr.size:
                raise ELFError(f"program header entries of {phentsize} bytes")
            f.seek(phoff)
            table = f.read(phentsize * phnum)
            if len(table) < phentsize * phnum:
                raise ELFError("program header table past the end of the file")
            for i in range(phnum):
                ptype, pflags, offset, vaddr, paddr, filesz, memsz, align = \
                    self._ph_fields(phdr.unpack_from(table, i * phentsize))
                self._segments.append(Segment({
                    "p_type": _PTYPES.get(ptype, ptype), "p_flags": pflags, "p_offset": offset,
                    "p_vaddr": vaddr, "p_paddr": paddr, "p_filesz": filesz, "p_memsz": memsz,
                    "p_align": align}))

    def iter_segments(self):
        return iter(self._segments)


class ELF32(ELF64):
    """An ELF32 little-endian file (32-bit ARM), with the same interface as :class:`ELF64`."""

    _ehdr = _EHDR32
    _phdr = _PHDR32

    @staticmethod
    def _ph_fields(t: tuple) -> tuple:
        ptype, offset, vaddr, paddr, filesz, memsz, flags, align = t
        return ptype, flags, offset, vaddr, paddr, filesz, memsz, align
