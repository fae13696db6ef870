"""Load an AArch64 (or 32-bit ARM) ELF program (and its interpreter) and build the initial stack.

Static and dynamic, PIE and non-PIE. The stack is laid out as Linux's
``create_elf_tables`` does: strings at the top (argv, envp, the executable's
name, the platform string, 16 random bytes), then auxv, envp, argv, argc.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from pyqemu.linux_user.elfhdr import ELF32, ELFError
from pyqemu.linux_user.elfhdr import ELF64 as ELFFile
from pyqemu.linux_user.mmap import (
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    STACK_TOP,
    GuestMemory,
    page_align,
)

EM_AARCH64 = 183
ET_EXEC, ET_DYN = 2, 3
PIE_BASE = 0x55_0000_0000

AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_MINSIGSTKSZ = 23, 25, 26, 31, 51

# HWCAP bits (arch/arm64/include/uapi/asm/hwcap.h) for what pyqemu implements.
HWCAP_FP, HWCAP_ASIMD, HWCAP_CRC32, HWCAP_ATOMICS, HWCAP_CPUID = 1 << 0, 1 << 1, 1 << 7, 1 << 8, 1 << 11
HWCAP_LRCPC, HWCAP_ILRCPC, HWCAP_FLAGM, HWCAP_SB = 1 << 15, 1 << 26, 1 << 27, 1 << 29
HWCAP2_FLAGM2 = 1 << 7
DEFAULT_HWCAP = (HWCAP_FP | HWCAP_ASIMD | HWCAP_CRC32 | HWCAP_ATOMICS | HWCAP_CPUID | HWCAP_LRCPC
                 | HWCAP_ILRCPC | HWCAP_FLAGM | HWCAP_SB)
DEFAULT_HWCAP2 = HWCAP2_FLAGM2


class LoadError(Exception):
    """The program cannot be loaded; the message is shown to the user."""


@dataclass
class LoadedImage:
    entry: int
    load_bias: int
    phdr: int
    phnum: int
    phent: int
    end: int  # highest mapped address (for brk)
    interp: str | None


@dataclass
class ProgramInfo:
    entry: int  # where execution starts (the interpreter's entry if any)
    sp: int
    exe: LoadedImage
    interp: LoadedImage | None
    brk: int


def _open_elf(path: str, abi=None):
    try:
        f = open(path, "rb")  # noqa: SIM115 - kept open while loading
    except IsADirectoryError:  # as execve(2): EACCES for a directory
        raise LoadError(f"Error while loading {path}: Permission denied") from None
    except OSError as e:
        raise LoadError(f"Error while loading {path}: {e.strerror}") from None
    if os.path.isdir(path):
        f.close()
        raise LoadError(f"Error while loading {path}: Permission denied")
    head = f.read(64)
    f.seek(0)
    if head[:4] != b"\x7fELF" or len(head) < 64:
        f.close()
        raise LoadError(f"Error while loading {path}: Exec format error")
    (machine,) = struct.unpack_from("<H", head, 18)
    want_class, want_machine = (2, EM_AARCH64) if abi is None else (abi.elf_class, abi.elf_machine)
    if head[4] != want_class or head[5] != 1 or machine != want_machine:
        f.close()
        raise LoadError(f"{path}: Invalid ELF image for this architecture")
    try:
        elf = ELFFile(f) if want_class == 2 else ELF32(f)
    except (ELFError, struct.error, ValueError) as e:
        f.close()
        raise LoadError(f"{path}: Invalid ELF image ({e})") from None
    return f, elf


def load_elf(mem: GuestMemory, path: str, base: int | None, abi=None) -> LoadedImage:
    """Map the PT_LOAD segments of `path`; `base` is the load bias for ET_DYN.
    `abi` (linux_user/abi.py) is the target's; None for AArch64."""
    f, elf = _open_elf(path, abi)
    try:
        return _load(mem, path, f, elf, base, 1 << 39 if abi is None else abi.va_limit)
    except (ELFError, struct.error, ValueError, OSError) as e:
        raise LoadError(f"{path}: Invalid ELF image ({e})") from None
    finally:
        f.close()


def _load(mem: GuestMemory, path: str, f, elf, base: int | None, va_limit: int = 1 << 39) -> LoadedImage:
    etype = elf.header["e_type"]
    if etype not in ("ET_EXEC", "ET_DYN"):
        raise LoadError(f"{path}: Invalid ELF image for this architecture")
    size = os.fstat(f.fileno()).st_size
    loads = []
    interp = None
    phdr_vaddr = None
    for seg in elf.iter_segments():
        h = seg.header
        if h["p_type"] == "PT_LOAD":
            if h["p_offset"] + h["p_filesz"] > size or h["p_filesz"] > h["p_memsz"]:
                raise LoadError(f"{path}: Invalid ELF image (truncated segment)")
            loads.append(h)
        elif h["p_type"] == "PT_INTERP":
            f.seek(h["p_offset"])
            raw = f.read(h["p_filesz"])
            interp = raw.split(b"\0", 1)[0].decode(errors="replace")
        elif h["p_type"] == "PT_PHDR":
            phdr_vaddr = h["p_vaddr"]
    if not loads:
        raise LoadError(f"{path}: Invalid ELF image (no loadable segments)")
    lo = min(h["p_vaddr"] for h in loads) & ~(PAGE_SIZE - 1)
    hi = page_align(max(h["p_vaddr"] + h["p_memsz"] for h in loads))
    if etype == "ET_DYN":
        if base is None:
            base = mem.find_free(hi - lo) - lo
        bias = base
    else:
        bias = 0
    if lo + bias < 0 or hi + bias > va_limit:
        raise LoadError(f"{path}: Cannot allocate memory")
    mem.map(lo + bias, hi - lo, PROT_READ | PROT_WRITE)
    for h in loads:
        f.seek(h["p_offset"])
        data = f.read(h["p_filesz"])
        mem.write_force(h["p_vaddr"] + bias, data)
    for h in loads:
        flags = h["p_flags"]
        prot = (PROT_READ if flags & 4 else 0) | (PROT_WRITE if flags & 2 else 0) | \
            (PROT_EXEC if flags & 1 else 0)
        start = (h["p_vaddr"] + bias) & ~(PAGE_SIZE - 1)
        end = page_align(h["p_vaddr"] + bias + h["p_memsz"])
        mem.set_prot(start, end - start, prot)
    # Holes between segments are not mapped (as Linux's loader leaves them).
    spans = sorted(((h["p_vaddr"] + bias) & ~(PAGE_SIZE - 1), page_align(h["p_vaddr"] + bias + h["p_memsz"]))
                   for h in loads)
    for (_, prev_end), (next_start, _) in zip(spans, spans[1:], strict=False):
        if next_start > prev_end:
            mem.unmap(prev_end, next_start - prev_end)
    phoff = elf.header["e_phoff"]
    if phdr_vaddr is None:
        for h in loads:
            if h["p_offset"] <= phoff < h["p_offset"] + h["p_filesz"]:
                phdr_vaddr = h["p_vaddr"] + phoff - h["p_offset"]
                break
        else:
            phdr_vaddr = 0
    return LoadedImage(
        entry=elf.header["e_entry"] + bias,
        load_bias=bias,
        phdr=phdr_vaddr + bias,
        phnum=elf.header["e_phnum"],
        phent=elf.header["e_phentsize"],
        end=hi + bias,
        interp=interp,
    )


def resolve_interp(interp: str, ld_prefix: str | None) -> str:
    if ld_prefix:
        cand = os.path.join(ld_prefix, interp.lstrip("/"))
        if os.path.exists(cand):
            return cand
    return interp


def load_program(mem: GuestMemory, path: str, argv: list[str], envp: list[str],
                 ld_prefix: str | None = None, stack_size: int = 8 << 20,
                 hwcap: int = DEFAULT_HWCAP, hwcap2: int = DEFAULT_HWCAP2,
                 execfn: str | None = None, abi=None) -> ProgramInfo:
    """Load `path` (and its interpreter) and build the initial stack.
    `abi` (linux_user/abi.py) is the target's; None for AArch64."""
    f, elf = _open_elf(path, abi)
    etype = elf.header["e_type"]
    f.close()
    if abi is not None:
        hwcap, hwcap2 = abi.hwcap, abi.hwcap2
    pie_base = PIE_BASE if abi is None else abi.pie_base
    exe = load_elf(mem, path, pie_base if etype == "ET_DYN" else None, abi)
    interp_img = None
    entry = exe.entry
    if exe.interp:
        ipath = resolve_interp(exe.interp, ld_prefix)
        if not os.path.exists(ipath):
            raise LoadError(f"Could not open '{exe.interp}': No such file or directory")
        interp_img = load_elf(mem, ipath, None, abi)
        entry = interp_img.entry
    brk = page_align(exe.end)
    mem.brk_start = mem.brk = brk
    sp = setup_stack(mem, argv, envp, exe, interp_img, stack_size, hwcap, hwcap2,
                     execfn if execfn is not None else path, abi)
    return ProgramInfo(entry=entry, sp=sp, exe=exe, interp=interp_img, brk=brk)


def setup_stack(mem: GuestMemory, argv: list[str], envp: list[str], exe: LoadedImage,
                interp: LoadedImage | None, stack_size: int, hwcap: int, hwcap2: int,
                execfn: str, abi=None) -> int:
    stack_size = page_align(max(stack_size, 64 * 1024))
    if abi is None:
        top = STACK_TOP
    else:  # a 32-bit target: the stack goes where mmap would put it, a guard page below
        top = mem.find_free(stack_size + PAGE_SIZE) + PAGE_SIZE + stack_size
    bottom = top - stack_size
    mem.fast_pad.add((top >> PAGE_SHIFT) - 1)
    mem.map(bottom, stack_size, PROT_READ | PROT_WRITE, name="[stack]" if abi is not None else None)
    if abi is not None:
        mem.map(bottom - PAGE_SIZE, PAGE_SIZE, 0)  # the guard page, as qemu-arm maps it
    # guard page below the stack stays unmapped
    p = top

    def push_bytes(data: bytes) -> int:
        nonlocal p
        p -= len(data)
        mem.write_force(p, data)
        return p

    push_bytes(b"\0" * 8)
    execfn_addr = push_bytes(os.fsencode(execfn) + b"\0")
    env_addrs = [push_bytes(os.fsencode(e) + b"\0") for e in reversed(envp)][::-1]
    arg_addrs = [push_bytes(os.fsencode(a) + b"\0") for a in reversed(argv)][::-1]
    platform = push_bytes((b"aarch64" if abi is None else abi.platform) + b"\0")
    p &= ~15
    random_addr = push_bytes(os.urandom(16))
    p &= ~15
    auxv = [
        (AT_HWCAP, hwcap), (AT_PAGESZ, PAGE_SIZE), (AT_CLKTCK, 100),
        (AT_PHDR, exe.phdr), (AT_PHENT, exe.phent), (AT_PHNUM, exe.phnum),
        (AT_BASE, interp.load_bias if interp else 0), (AT_FLAGS, 0), (AT_ENTRY, exe.entry),
        (AT_UID, os.getuid()), (AT_EUID, os.geteuid()), (AT_GID, os.getgid()),
        (AT_EGID, os.getegid()), (AT_SECURE, 0), (AT_RANDOM, random_addr),
        (AT_HWCAP2, hwcap2), (AT_EXECFN, execfn_addr), (AT_PLATFORM, platform),
        (AT_MINSIGSTKSZ, 5120), (AT_NULL, 0),
    ]
    if abi is not None and abi.auxv_minsigstksz is None:
        auxv.remove((AT_MINSIGSTKSZ, 5120))
    if abi is not None:  # qemu-arm's order (its create_elf_tables)
        order = [AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID,
                 AT_EUID, AT_GID, AT_EGID, AT_HWCAP, AT_CLKTCK, AT_RANDOM, AT_SECURE, AT_EXECFN,
                 AT_HWCAP2, AT_PLATFORM, AT_MINSIGSTKSZ, AT_NULL]
        auxv.sort(key=lambda kv: order.index(kv[0]))
    words = [len(argv)] + arg_addrs + [0] + env_addrs + [0]
    for k, v in auxv:
        words += [k, v]
    wsize = 8 if abi is None else abi.word
    size = len(words) * wsize
    p = (p - size) & ~15
    mem.write_force(p, struct.pack(f"<{len(words)}{'Q' if wsize == 8 else 'I'}", *words))
    return p
