"""Guest file names: the ``-L`` prefix and the emulated ``/proc/self`` files.

The prefix works as QEMU's ``path()`` (util/path.c): an absolute name is
looked up under the prefix and used from there if it exists; the answer is
cached for the life of the process. Like qemu-aarch64 7.2 only some calls
apply it (openat, newfstatat, readlinkat, statfs, utimensat).

``/proc/self/{maps,stat,auxv,cmdline}`` describe the host process, not the
guest, so they are generated from the guest's state into an anonymous file;
``/proc/self/exe`` names the guest program.
"""
from __future__ import annotations

import os
import struct

DEFAULT_PREFIX = "/etc/qemu-binfmt/aarch64"


class PrefixPaths:
    """QEMU's path(): map absolute guest names into an alternate root."""

    def __init__(self, prefix: str | None) -> None:
        self.base: bytes | None = None
        if prefix and prefix != "/":
            self.base = os.fsencode(os.path.abspath(prefix))
            if not os.path.isdir(self.base):
                self.base = None  # nothing can exist under it
        # No lock: dict operations are atomic, and two threads racing on the same
        # name only both check it once.
        self._cache: dict[bytes, bytes] = {}

    def __call__(self, name: bytes) -> bytes:
        if self.base is None or not name.startswith(b"/"):
            return name
        hit = self._cache.get(name)
        if hit is None:
            full = self.base + name
            hit = full if os.access(full, os.F_OK) else name
            self._cache[name] = hit
        return hit


def prefix_of(proc) -> PrefixPaths:
    pp = getattr(proc, "_prefix_paths", None)
    if pp is None:
        prefix = proc.ld_prefix if proc.ld_prefix is not None else DEFAULT_PREFIX
        pp = proc._prefix_paths = PrefixPaths(prefix)
    return pp


def proc_self_entry(name: bytes) -> bytes | None:
    """For ``/proc/self/X`` or ``/proc/<our pid>/X``, return X."""
    if not name.startswith(b"/proc/"):
        return None
    rest = name[6:]
    for who in (b"self/", str(os.getpid()).encode() + b"/"):
        if rest.startswith(who):
            return rest[len(who):]
    return None


def exe_path(proc) -> str:
    return os.path.realpath(proc.exe_path)


# --- generated /proc files ------------------------------------------------------------

def _initial_stack(proc) -> tuple[list[int], int]:
    """argv pointers and the address of auxv, from the initial stack (as the loader left it,
    when it was recorded: ``proc.initial_stack``)."""
    saved = getattr(proc, "initial_stack", None)
    if saved is not None:
        return saved
    mem = proc.mem
    sp = proc.info.sp
    w = _word(proc)
    get = mem.u64 if w == 8 else mem.u32
    argc = get(sp)
    argv = [get(sp + w + w * i) for i in range(argc)]
    p = sp + w + w * (argc + 1)
    while get(p):
        p += w
    return argv, p + w


def _word(proc) -> int:
    """Bytes in a guest long (4 for 32-bit ARM)."""
    return getattr(getattr(proc, "abi", None), "word", 8)


def _cmdline(proc) -> bytes:
    argv, _ = _initial_stack(proc)
    return b"".join(proc.mem.read_cstr(a) + b"\0" for a in argv)


def _auxv(proc) -> bytes:
    _, p = _initial_stack(proc)
    start = p
    w = _word(proc)
    get = proc.mem.u64 if w == 8 else proc.mem.u32
    while get(p):
        p += 2 * w
    return proc.mem.read(start, p + 2 * w - start)


def _stat(proc) -> bytes:
    argv, _ = _initial_stack(proc)
    comm = os.path.basename(proc.mem.read_cstr(argv[0]).decode(errors="replace")) if argv else ""
    fields = ["0"] * 44
    fields[0] = str(os.getpid())
    fields[1] = f"({comm[:15]})"
    fields[3] = str(os.getppid())
    try:
        with open("/proc/self/stat") as f:
            host = f.read().rsplit(")", 1)[1].split()
        fields[21] = host[19]
    except (OSError, IndexError):
        pass
    fields[27] = str(proc.info.sp)
    return (" ".join(fields) + "\n").encode()


def _load_segments(path: str, bias: int) -> list[tuple[int, int, int]]:
    """(start, end, file offset) of the file-backed pages of each PT_LOAD of an ELF64 image."""
    out = []
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except (OSError, struct.error):
        return out
    for i in range(phnum):
        ptype, _flags, off, vaddr, _pa, filesz = struct.unpack_from("<IIQQQQ", table, i * phentsize)
        if ptype == 1 and filesz:  # PT_LOAD
            lo = (vaddr + bias) & ~0xFFF
            out.append((lo, (vaddr + bias + filesz + 0xFFF) & ~0xFFF, off & ~0xFFF))
    return out


def _images(proc) -> list[tuple[int, int, str, list]]:
    """The images the loader mapped: (start, end, host path, segments)."""
    out = []
    info = getattr(proc, "info", None)
    if info is None:
        return out
    images = [(info.exe, exe_path(proc))]
    if info.interp is not None and info.exe.interp:
        from pyqemu.linux_user.elfload import resolve_interp
        images.append((info.interp, os.path.realpath(resolve_interp(info.exe.interp, proc.ld_prefix))))
    for img, path in images:
        out.append((img.phdr & ~0xFFF, img.end, path, _load_segments(path, img.load_bias)))
    return out


def _maps(proc) -> bytes:
    mem = proc.mem
    images = _images(proc)
    sp = proc.info.sp if getattr(proc, "info", None) else 0
    cuts = sorted({c for img in images for seg in img[3] for c in seg[:2]})
    lines = []
    for v in mem.vmas():
        # split where an image's file-backed pages start or end
        bounds = [v.start] + [c for c in cuts if v.start < c < v.end] + [v.end]
        for start, end in zip(bounds, bounds[1:], strict=False):
            lines.append(_maps_line(mem, v, start, end, images, sp))
    return "".join(lines).encode()


def _maps_line(mem, v, start: int, end: int, images, sp: int) -> str:
    name = v.name or ""
    dev, ino, offset = v.dev, v.ino, v.offset + (start - v.start if v.ino else 0)
    if not name:
        for lo, hi, path, segs in images:
            if lo <= start < hi:
                for slo, shi, soff in segs:
                    if slo <= start < shi:
                        name, offset = path, soff + (start - slo)
                        try:
                            st = os.stat(path)
                            dev, ino = st.st_dev, st.st_ino
                        except OSError:
                            pass
                break
        else:
            if start <= sp < end:
                name = "[stack]"
            elif mem.brk_start <= start < max(mem.brk, mem.brk_start + 1):
                name = "[heap]"
    if name.startswith(("[", "/dev/zero")):
        dev = ino = 0
    prot = v.prot
    head = (f"{start:x}-{end:x} {'r' if prot & 1 else '-'}{'w' if prot & 2 else '-'}"
            f"{'x' if prot & 4 else '-'}{'s' if v.shared else 'p'} {offset:08x} "
            f"{os.major(dev):02x}:{os.minor(dev):02x} {ino}")
    return head + " " * max(73 - len(head), 0) + name + "\n"


_GENERATED = {b"maps": _maps, b"stat": _stat, b"auxv": _auxv, b"cmdline": _cmdline}


def open_special(proc, name: bytes, flags: int, mode: int) -> int | None:
    """Open an emulated /proc file: an fd, -errno, or None if `name` is not one."""
    entry = proc_self_entry(name)
    if entry is None:
        return None
    if entry == b"exe":
        try:
            return os.open(exe_path(proc), flags & (os.O_CLOEXEC | os.O_ACCMODE), mode)
        except OSError as e:
            return -e.errno
    gen = _GENERATED.get(entry)
    if gen is None:
        return None
    data = gen(proc)
    fd = os.memfd_create("pyqemu-proc", os.MFD_CLOEXEC if flags & os.O_CLOEXEC else 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
