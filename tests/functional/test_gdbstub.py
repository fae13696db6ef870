"""The user-mode gdbstub (``-g port``): real gdb-multiarch sessions against pyqemu-aarch64 and
Debian's qemu-aarch64 print the same thing, with the native tier off, on and forced.

``hot_loop`` runs 2,000,000 iterations and calls ``checkpoint`` once, at iteration 1,000,000:
gdb stops there, then adds a breakpoint inside the loop, which by then runs as native code
(with PYQEMU_JIT=force it is native from its first iteration), and must stop on the next
iteration with the loop's registers exact.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "tcg" / "gdb"
SYSROOT = "/usr/aarch64-linux-gnu"

pytestmark = [
    pytest.mark.skipif(shutil.which("gdb-multiarch") is None, reason="needs gdb-multiarch"),
    pytest.mark.skipif(shutil.which("qemu-aarch64") is None, reason="needs qemu-user"),
    pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None, reason="needs gcc-aarch64-linux-gnu"),
]

HOT_LOOP_SESSION = """
print $pc
break checkpoint
continue
print $x19
print $cpsr
break loop
continue
print $x19
print/x $pc
stepi
print/x $pc
stepi
stepi
info registers x20 x19
x/2xw $pc
delete
continue
"""

PIE_SESSION = """
break mark
continue
print i
bt 1
continue
print counter
finish
delete
continue
"""

SEGV_SESSION = """
continue
print/x $pc
info registers x1
continue
"""

PIE_C = r"""
#include <stdio.h>
int counter;
__attribute__((noinline)) void mark(int i) { counter += i; }
int main(void) { for (int i = 0; i < 5; i++) mark(i); printf("%d\n", counter); return 0; }
"""

SEGV_S = """
    .global _start
_start:
    mov x1, #0x10
    ldr x0, [x1]
    mov x8, #93
    svc #0
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pyqemu() -> list[str]:
    exe = Path(sys.executable).with_name("pyqemu-aarch64")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "pyqemu.linux_user.main"]


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("gdb")
    built = {}
    for name, src, flags in (("hot_loop", SRC / "hot_loop.S", ["-nostdlib", "-static"]),
                             ("segv", SEGV_S, ["-nostdlib", "-static"]),
                             ("pie", PIE_C, ["-O1", "-fPIE", "-pie"])):
        if isinstance(src, str):
            path = out / (name + (".c" if name == "pie" else ".S"))
            path.write_text(src)
            src = path
        exe = out / name
        subprocess.run(["aarch64-linux-gnu-gcc", "-g", *flags, "-o", str(exe), str(src)], check=True)
        built[name] = exe
    return built


def gdb_session(emulator: list[str], exe: Path, script: str, env: dict | None = None,
                sysroot: bool = False) -> tuple[str, subprocess.CompletedProcess]:
    """Run ``exe`` under ``emulator -g PORT`` and gdb-multiarch in batch mode with ``script``;
    returns gdb's output and the emulator's result."""
    port = _free_port()
    extra = ["-L", SYSROOT] if sysroot else []
    emu = subprocess.Popen([*emulator, *extra, "-g", str(port), str(exe)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    head = ["set pagination off", "set confirm off", "set tcp connect-timeout 30"]
    if sysroot:
        head.append(f"set sysroot {SYSROOT}")
    cmds = [*head, f"target remote 127.0.0.1:{port}", *script.strip().splitlines()]
    args = ["gdb-multiarch", "-q", "-nx", "-batch"]
    for c in cmds:
        args += ["-ex", c]
    try:
        gdb = subprocess.run([*args, str(exe)], capture_output=True, text=True, timeout=300)
        out, err = emu.communicate(timeout=60)
    finally:
        if emu.poll() is None:
            emu.kill()
            emu.communicate()
    result = subprocess.CompletedProcess(emu.args, emu.returncode, out, err)
    return gdb.stdout + gdb.stderr, result


def _normalise(text: str, addresses: bool = False) -> str:
    """Without the port, and with ``addresses``, without addresses (where the emulators
    put a dynamic loader differs)."""
    text = re.sub(r"Remote debugging using \S+", "Remote debugging using PORT", text)
    return re.sub(r"0x[0-9a-f]+", "ADDR", text) if addresses else text


@pytest.mark.parametrize("jit", ["off", "on", "force"])
def test_breakpoint_added_in_native_loop(programs, jit):
    """Stop at checkpoint, add a breakpoint inside the hot loop, step, read registers and
    memory, delete, run to the exit: the same session output as qemu-aarch64."""
    ref, ref_run = gdb_session(["qemu-aarch64"], programs["hot_loop"], HOT_LOOP_SESSION)
    got, run = gdb_session(pyqemu(), programs["hot_loop"], HOT_LOOP_SESSION,
                           env={"PYQEMU_JIT": jit, "PYQEMU_COUNT_INSNS": "1"})
    assert "$2 = 1000000" in ref and "x19            0xf4241" in ref  # (the script did run)
    assert _normalise(got) == _normalise(ref)
    assert run.returncode == ref_run.returncode == 120
    if jit != "off":
        m = re.search(rb"native: (\d+) regions", run.stderr)
        assert m and int(m.group(1)) >= 1, run.stderr.decode(errors="replace")


def test_pie_dynamic_program(programs):
    """A dynamically linked PIE: gdb relocates it from the auxiliary vector (qXfer:auxv),
    breaks in a function, reads arguments and globals, and finishes a frame."""
    if not Path(SYSROOT, "lib", "ld-linux-aarch64.so.1").exists():
        pytest.skip("needs libc6-arm64-cross")
    ref, ref_run = gdb_session(["qemu-aarch64"], programs["pie"], PIE_SESSION, sysroot=True)
    got, run = gdb_session(pyqemu(), programs["pie"], PIE_SESSION, sysroot=True)
    assert "Breakpoint 1, mark (i=i@entry=0)" in ref
    assert _normalise(got, addresses=True) == _normalise(ref, addresses=True)
    assert run.stdout == ref_run.stdout == b"10\n"


def test_signal_reported_then_fatal(programs):
    """A segmentation fault stops the program in gdb; continuing delivers it and gdb sees the
    process die of it; the emulator dies of it too."""
    ref, ref_run = gdb_session(["qemu-aarch64"], programs["segv"], SEGV_SESSION)
    got, run = gdb_session(pyqemu(), programs["segv"], SEGV_SESSION)
    assert "Program received signal SIGSEGV" in ref
    assert _normalise(got) == _normalise(ref)
    assert run.returncode == ref_run.returncode == -11


def _packet(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(b"$" + payload + b"#%02x" % (sum(payload) & 0xFF))


def _reply(sock: socket.socket, buf: bytearray) -> bytes:
    """The next packet's payload (acknowledging it); skips acknowledgements."""
    while True:
        m = re.search(rb"\$([^#]*)#[0-9a-f]{2}", bytes(buf))
        if m:
            del buf[:m.end()]
            sock.sendall(b"+")
            return m.group(1)
        data = sock.recv(65536)
        assert data, "gdbstub closed the connection"
        buf += data


def test_ctrl_c_stops_a_running_loop(programs):
    """gdb's Ctrl-C (the 0x03 byte) while the program runs stops it with SIGINT (T02) inside
    the loop; kill ends the emulator as QEMU's does. (The raw protocol: gdb's batch mode cannot send Ctrl-C.
    pyqemu alone: Debian's qemu-aarch64 7.2 does not answer it while a loop runs.)"""
    slow = programs["hot_loop"].with_name("hot_loop_long")
    src = (SRC / "hot_loop.S").read_text().replace("movz x21, #0x1e, lsl #16", "movz x21, #0x7fff, lsl #32")
    path = slow.with_suffix(".S")
    path.write_text(src)
    subprocess.run(["aarch64-linux-gnu-gcc", "-nostdlib", "-static", "-o", str(slow), str(path)], check=True)
    nm = subprocess.run(["aarch64-linux-gnu-nm", str(slow)], capture_output=True, text=True,
                        check=True).stdout
    symbols = {name: int(addr, 16) for addr, _, name in (ln.split() for ln in nm.splitlines())}
    port = _free_port()
    emu = subprocess.Popen([*pyqemu(), "-g", str(port), str(slow)], stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        buf = bytearray()
        _packet(sock, b"?")
        assert _reply(sock, buf).startswith(b"T05")
        _packet(sock, b"c")
        time.sleep(1.0)
        sock.sendall(b"\x03")
        assert _reply(sock, buf).startswith(b"T02thread:")
        _packet(sock, b"p20")  # pc (register 32)
        pc = int.from_bytes(bytes.fromhex(_reply(sock, buf).decode()), "little")
        assert symbols["loop"] <= pc <= symbols["after"], hex(pc)
        _packet(sock, b"k")
        assert emu.wait(timeout=30) == 0
        assert emu.stderr.read().endswith(b": QEMU: Terminated via GDBstub\n")  # (QEMU's words)
    finally:
        if emu.poll() is None:
            emu.kill()
        emu.wait()


def test_bad_gdb_address(programs):
    """A -g the stub cannot listen on is an error, before anything runs."""
    r = subprocess.run([*pyqemu(), "-g", "/nonexistent/dir/sock", str(programs["segv"])],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().endswith("could not open gdbserver on /nonexistent/dir/sock")
    assert "Traceback" not in r.stderr
