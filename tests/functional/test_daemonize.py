"""``-daemonize`` and ``-pidfile`` on pyqemu-system-aarch64 and on real qemu-system-aarch64.

Every test runs the same command lines against both, and expects the same
behaviour and messages (with the program name swapped).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest
from conftest import unavailable

PYQEMU = [sys.executable, "-c",
          "import sys; sys.argv[0] = 'pyqemu-system-aarch64'; "
          "from pyqemu.system.vl import main_aarch64; sys.exit(main_aarch64())"]
BASE = ["-M", "none", "-display", "none"]


@pytest.fixture(params=["pyqemu", "qemu"])
def emu(request):
    """(argv prefix, program name in messages) for the emulator under test."""
    if request.param == "qemu":
        if shutil.which("qemu-system-aarch64") is None:
            unavailable("qemu-system-aarch64 not installed (Debian package qemu-system-arm)")
        return ["qemu-system-aarch64"], "qemu-system-aarch64"
    return PYQEMU, "pyqemu-system-aarch64"


@pytest.fixture
def daemons():
    """PID files of daemons a test started; whatever is still running at the end is killed."""
    files: list[str] = []
    yield files
    for f in files:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(open(f).read()), signal.SIGKILL)


def run(argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    # Capturing stdout/stderr also checks that the daemon let go of them: run() waits for EOF.
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def qmp_quit(path: str) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rwb")
    assert b'"QMP"' in f.readline()
    f.write(b'{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n')
    f.flush()
    # Wait for both replies (capabilities, then quit): QEMU drops requests still queued
    # when the client hangs up, so closing after the first reply could lose the quit.
    for _ in range(2):
        line = f.readline()
        while line.startswith(b'{"timestamp"'):  # events (RESUME, SHUTDOWN) may come in between
            line = f.readline()
        assert line == b'{"return": {}}\r\n'
    s.close()


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def wait_gone(pid: int, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if _is_zombie(pid):  # exited; an init that does not reap orphans (containers) keeps it
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} still running")


def test_daemon_is_ready_when_the_parent_returns(emu, tmp_path, daemons):
    argv, prog = emu
    pidfile, sock = str(tmp_path / "vm.pid"), str(tmp_path / "qmp.sock")
    daemons.append(pidfile)
    r = run(argv + BASE + ["-daemonize", "-pidfile", pidfile, "-qmp", f"unix:{sock},server=on,wait=off"])
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    # The parent returned only after the daemon was listening and had written its PID file.
    st = os.stat(pidfile)
    assert stat.S_IMODE(st.st_mode) == 0o600
    text = open(pidfile).read()
    assert text.endswith("\n")
    pid = int(text)
    os.kill(pid, 0)
    assert os.getsid(pid) not in (os.getsid(0), pid)   # its own session, not its leader
    assert os.readlink(f"/proc/{pid}/cwd") == "/"
    for fd in (0, 1, 2):
        assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"
    # The PID file stays locked: a second instance refuses it, daemonized or not.
    for extra in (["-daemonize"], []):
        r2 = run(argv + BASE + extra + ["-pidfile", pidfile])
        assert (r2.returncode, r2.stderr) == (
            1, f"{prog}: cannot create PID file: Cannot lock pid file: Resource temporarily unavailable\n")
    assert open(pidfile).read() == text
    qmp_quit(sock)
    wait_gone(pid)
    assert not os.path.exists(pidfile)            # removed at exit
    assert not os.path.exists(sock)


@pytest.mark.parametrize("opts, errors", [
    (["-nographic"], ["-nographic cannot be used with -daemonize"]),
    (["-monitor", "stdio"], ["-monitor stdio: cannot use stdio with -daemonize"]),
    (["-qmp", "stdio"], ["-qmp stdio: cannot use stdio with -daemonize"]),
    (["-chardev", "stdio,id=s"], ["-chardev stdio,id=s: cannot use stdio with -daemonize"]),
    (["-serial", "mon:stdio"], ["-serial mon:stdio: cannot use stdio with -daemonize",
                                "-serial mon:stdio: could not connect serial device to character "
                                "backend 'mon:stdio'"]),
    (["-chardev", "socket,id=c,path=/nonexistent/s"],
     ["-chardev socket,id=c,path=/nonexistent/s: Failed to connect to '/nonexistent/s': "
      "No such file or directory"]),
])
def test_refusals_and_startup_failures(emu, tmp_path, opts, errors):
    """Conflicts with stdio and a daemon that fails to start: the parent exits 1 with the message."""
    argv, prog = emu
    pidfile = tmp_path / "vm.pid"
    r = run(argv + BASE + ["-daemonize", "-pidfile", str(pidfile), *opts])
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "".join(f"{prog}: {e}\n" for e in errors))
    assert not pidfile.exists()                   # a failed start leaves no PID file behind


def test_pidfile_errors_and_removal_without_daemonize(emu, tmp_path):
    argv, prog = emu
    r = run(argv + BASE + ["-pidfile", "/nonexistent/vm.pid"])
    assert (r.returncode, r.stderr) == (
        1, f"{prog}: cannot create PID file: Could not create '/nonexistent/vm.pid': "
        "No such file or directory\n")
    pidfile = tmp_path / "vm.pid"
    pidfile.write_text("stale contents, longer than a pid\n")
    sock = str(tmp_path / "qmp.sock")
    p = subprocess.Popen(argv + BASE + ["-pidfile", str(pidfile), "-qmp", f"unix:{sock},server=on,wait=off"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 20
        while not os.path.exists(sock):
            assert time.monotonic() < end and p.poll() is None
            time.sleep(0.02)
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        f = s.makefile("rb")
        # the main loop runs: SIGTERM is handled (real QEMU may put an event that raced with
        # the connection, RESUME, before the greeting)
        assert any(b'"QMP"' in f.readline() for _ in range(3))
        s.close()
        assert pidfile.read_text() == f"{p.pid}\n"
        p.terminate()
        assert p.wait(20) == 0
        assert not pidfile.exists()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_parent_waits_for_the_first_qmp_client(emu, tmp_path, daemons):
    """With wait=on the daemon is not initialised until a client connects, so the parent waits too."""
    argv, _ = emu
    pidfile, sock = str(tmp_path / "vm.pid"), str(tmp_path / "qmp.sock")
    daemons.append(pidfile)
    parent = subprocess.Popen(argv + BASE + ["-daemonize", "-pidfile", pidfile,
                                             "-qmp", f"unix:{sock},server=on"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 20
        while not os.path.exists(sock):
            assert time.monotonic() < end and parent.poll() is None
            time.sleep(0.02)
        time.sleep(0.2)
        assert parent.poll() is None
        qmp_quit(sock)
        assert parent.wait(20) == 0
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
