"""Linux user-mode system calls, compared with qemu-aarch64 on the same binaries.

The C programs in ``syscall_progs/`` (built static) print only deterministic
facts, one per line; pyqemu must print the same lines and exit the same way.
Raw-syscall programs (tests/syscall_asm.py) check the ``-L`` prefix rules and
the emulated ``/proc/self`` files at the level of exact system-call results.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from emu_harness import GUEST_ENV, assert_same_behavior, pyqemu_command, qemu_available
from syscall_asm import build

PROGS = Path(__file__).resolve().parent / "syscall_progs"
CACHE = Path(os.environ.get("PYQEMU_GUEST_CACHE", Path(__file__).resolve().parents[1] / ".cache" / "guest"))
CC = "aarch64-linux-gnu-gcc"

pytestmark = pytest.mark.skipif(shutil.which(CC) is None or not qemu_available(),
                                reason="needs gcc-aarch64-linux-gnu and qemu-user")


def compile_prog(name: str) -> Path:
    """Build syscall_progs/<name>.c static -O1 (cached by content)."""
    src = PROGS / f"{name}.c"
    key = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    out = CACHE / f"{name}-{key}"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + f".{os.getpid()}")
        subprocess.run([CC, "-static", "-O1", "-Wall", "-o", str(tmp), str(src)], check=True)
        os.replace(tmp, out)
    return out


@pytest.mark.parametrize("prog,args", [
    ("sc_files", []),
    ("sc_mem", []),
    ("sc_misc", ["arg1", "two words"]),
    ("sc_net", []),
    ("sc_sigio", []),
    ("sc_ipc", []),
])
def test_program_matches_qemu(prog, args, qemu_ref, pyqemu_run):
    exe = compile_prog(prog)
    ref = qemu_ref(exe, args)
    assert not re.search(rb" FAIL$", ref.stdout, re.M), ref.stdout.decode()  # the program itself is sound
    got = pyqemu_run(exe, args)
    assert_same_behavior(ref, got, what=prog)


# --- raw system calls ---------------------------------------------------------------------

AT = -100
S = lambda s: ("str", s)  # noqa: E731
B = lambda n: ("buf", n)  # noqa: E731


def _strace(cmd: list[str], exe: Path, cwd: Path, opts: list[str]) -> str:
    cwd.mkdir()
    r = subprocess.run([*cmd, *opts, "-strace", str(exe)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       cwd=cwd, env=dict(GUEST_ENV), timeout=300)
    return re.sub(r"^\d+ ", "", r.stdout.decode("latin-1"), flags=re.M) + f"[exit {r.returncode}]\n"


def test_ld_prefix_applies_like_qemu(tmp_path):
    """-L: openat/newfstatat/readlinkat/statfs/utimensat look under the prefix first."""
    root = tmp_path / "root"
    top = "/pyqemu-prefix-test-dir"
    (root / top[1:]).mkdir(parents=True)
    (root / top[1:] / "f").write_text("in prefix\n")
    os.symlink("f", root / top[1:] / "lnk")
    calls = [
        (56, [AT, S(f"{top}/f"), 0, 0]),
        (63, [("reg", "x0"), B(64), 64]),
        (64, [1, ("lab", "d1"), ("reg", "x0")]),
        (56, [AT, S(f"{top}/../{top[1:]}/f"), 0, 0]),
        (56, [AT, S(f"{top}/missing"), 0, 0]),
        (79, [AT, S(f"{top}/f"), B(128), 0]),
        (78, [AT, S(f"{top}/lnk"), B(64), 64]),
        (43, [S(top), B(128)]),
        (88, [AT, S(f"{top}/f"), 0, 0]),
        (48, [AT, S(f"{top}/f"), 0, 0]),
        (291, [AT, S(f"{top}/f"), 0, 0x7FF, B(256)]),
        (49, [S(top)]),
        (45, [S(f"{top}/f"), 1]),
        (56, [AT, S("/dev/null"), 0, 0]),
    ]
    exe = build(calls, tmp_path / "prog")
    opts = ["-L", str(root)]
    ref = _strace(["qemu-aarch64"], exe, tmp_path / "q", opts)
    got = _strace(pyqemu_command(), exe, tmp_path / "p", opts)
    assert "in prefix" in ref
    assert got == ref


def test_proc_self_exe(tmp_path):
    """readlinkat and openat of /proc/self/exe name the guest program, not the emulator."""
    exe = tmp_path / "prog"
    calls = [
        (78, [AT, S("/proc/self/exe"), B(4096), 4096]),  # d0, d1
        (64, [1, ("lab", "d1"), ("reg", "x0")]),
        (78, [AT, S("/proc/self/exe"), B(8), 8]),  # d2, d3
        (56, [AT, S("/proc/self/exe"), 0, 0]),  # d4
        (63, [("reg", "x0"), B(4), 4]),  # d5
        (64, [1, ("lab", "d5"), 4]),
    ]
    build(calls, exe)
    r = subprocess.run([*pyqemu_command(), str(exe)], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == os.path.realpath(exe).encode() + b"\x7fELF"


def test_proc_self_maps_and_cmdline(tmp_path):
    calls = [
        (56, [AT, S("/proc/self/maps"), 0, 0]),
        (63, [("reg", "x0"), B(65536), 65536]),
        (64, [1, ("lab", "d1"), ("reg", "x0")]),
        (56, [AT, S("/proc/self/cmdline"), 0, 0]),
        (63, [("reg", "x0"), B(4096), 4096]),
        (64, [1, ("lab", "d3"), ("reg", "x0")]),
    ]
    exe = build(calls, tmp_path / "prog")
    r = subprocess.run([*pyqemu_command(), str(exe), "a b", "c"], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    maps, _, cmdline = r.stdout.rpartition(b"\n")
    lines = maps.decode().splitlines()
    text_line = next(ln for ln in lines if ln.startswith("400000-"))
    pattern = r"400000-401000 r-xp 00000000 [0-9a-f]{2}:[0-9a-f]{2} \d+ +" + re.escape(str(exe.resolve()))
    assert re.match(pattern, text_line), text_line
    assert any(ln.endswith("[stack]") and " rw-p " in ln for ln in lines)
    assert all(len(ln.split(None, 5)[:5]) == 5 for ln in lines)
    assert cmdline == f"{exe}\0a b\0c\0".encode()


def _run_on_pty(cmd: list[str], cwd: Path) -> bytes:
    """Run `cmd` as a session leader whose stdin/stdout/stderr are a new pty; all its output."""
    import pty
    cwd.mkdir()
    pid, master = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        try:
            os.chdir(cwd)
            os.execvpe(cmd[0], cmd, dict(GUEST_ENV))
        finally:
            os._exit(127)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the pty
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    _, status = os.waitpid(pid, 0)
    return out + f"[exit {os.waitstatus_to_exitcode(status)}]".encode()


def test_terminal_ioctls_on_a_pty(tmp_path):
    """isatty, window size, termios and foreground group behave (and -strace prints) like qemu."""
    exe = compile_prog("sc_tty")
    ref = _run_on_pty(["qemu-aarch64", str(exe)], tmp_path / "q")
    got = _run_on_pty([*pyqemu_command(), str(exe)], tmp_path / "p")
    assert b" FAIL" not in ref and ref.endswith(b"[exit 0]")
    assert got == ref

    def ioctl_lines(out: bytes) -> list[bytes]:
        lines = [re.sub(rb"^\d+ ", b"", ln) for ln in out.replace(b"\r\n", b"\n").split(b"\n")]
        lines = [re.sub(rb"0x[0-9a-f]{16}", b"PTR", ln) for ln in lines if ln.startswith(b"ioctl(")]
        return [re.sub(rb"(TIOCGPGRP,PTR\) = 0) \(\d+\)", rb"\1 (PGRP)", ln) for ln in lines]

    ref = ioctl_lines(_run_on_pty(["qemu-aarch64", "-strace", str(exe)], tmp_path / "qs"))
    got = ioctl_lines(_run_on_pty([*pyqemu_command(), "-strace", str(exe)], tmp_path / "ps"))
    assert len(ref) >= 8
    assert got == ref
