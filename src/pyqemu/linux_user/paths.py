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
import threading

DEFAULT_PREFIX = "/etc/qemu-binfmt/aarch64"


class PrefixPaths:
    """QEMU's path(): map absolute guest names into an alternate root."""

    def __init__(self, prefix: str | None) -> None:
        self.base: bytes | None = None
        if prefix and prefix != "/":
            self.base = os.fsencode(os.path.abspath(prefix))
            if not os.path.isdir(self.base):
                self.base = None  # nothing can exist under it
        self._cache: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    def __call__(self, name: bytes) -> bytes:
        if self.base is None or not name.startswith(b"/"):
            return name
        with self._lock:
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
    """argv pointers and the address of auxv, from the initial stack."""
    mem = proc.mem
    sp = proc.info.sp
    argc = mem.u64(sp)
    argv = [mem.u64(sp + 8 + 8 * i) for i in range(argc)]
    p = sp + 8 + 8 * (argc + 1)
    while mem.u64(p):
        p += 8
    return argv, p + 8


def _cmdline(proc) -> bytes:
    argv, _ = _initial_stack(proc)
    return b"".join(proc.mem.read_cstr(a) + b"\0" for a in argv)


def _auxv(proc) -> bytes:
    _, p = _initial_stack(proc)
    start = p
    while proc.mem.u64(p):
        p += 16
    return proc.mem.read(start, p + 16 - start)


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


def _labels(proc) -> list[tuple[int, int, str]]:
    """Names for mappings the loader made: (start, end, name)."""
    out = []
    info = getattr(proc, "info", None)
    if info is None:
        return out
    out.append((info.exe.phdr & ~0xFFF, info.exe.end, exe_path(proc)))
    if info.interp is not None:
        name = info.exe.interp or ""
        out.append((info.interp.phdr & ~0xFFF, info.interp.end, name))
    return out


def _maps(proc) -> bytes:
    mem = proc.mem
    labels = _labels(proc)
    sp = proc.info.sp if getattr(proc, "info", None) else 0
    lines = []
    for v in mem.vmas():
        name = v.name or ""
        dev, ino = v.dev, v.ino
        if not name:
            for lo, hi, n in labels:
                if lo <= v.start < hi:
                    name = n
                    try:
                        st = os.stat(n)
                        dev, ino = st.st_dev, st.st_ino
                    except OSError:
                        pass
                    break
            else:
                if v.start <= sp < v.end:
                    name = "[stack]"
                elif mem.brk_start <= v.start < max(mem.brk, mem.brk_start + 1):
                    name = "[heap]"
        if name.startswith("["):
            dev = ino = 0
        prot = v.prot
        head = (f"{v.start:x}-{v.end:x} {'r' if prot & 1 else '-'}{'w' if prot & 2 else '-'}"
                f"{'x' if prot & 4 else '-'}{'s' if v.shared else 'p'} {v.offset:08x} "
                f"{os.major(dev):02x}:{os.minor(dev):02x} {ino if dev or ino > 1 else 0}")
        lines.append(head + " " * max(73 - len(head), 0) + name + "\n")
    return "".join(lines).encode()


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
