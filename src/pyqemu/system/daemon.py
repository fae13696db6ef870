"""``-daemonize`` and ``-pidfile``, as QEMU 7.2's os-posix.c and util/oslib-posix.c do them.

The order follows QEMU's qemu_init(): :func:`daemonize` forks right after the
command line is checked, :func:`write_pidfile` runs in the daemon, backends
and monitors are created (errors still reach the user's terminal), and
:func:`setup_post` finally detaches stdio and tells the waiting parent that
initialisation succeeded. The parent exits 0 only on that signal; if the
daemon dies first (any startup error), the parent exits 1.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import signal
import sys

_daemon_pipe: int | None = None  # write end, in the daemon until setup_post
_daemonized = False
_pidfile_fd: int | None = None  # kept open: the lock lives as long as the process


class PidfileError(Exception):
    """Why the PID file could not be written, worded as QEMU's."""


def is_daemonized() -> bool:
    """-daemonize was given and this is the daemon (QEMU's is_daemonized())."""
    return _daemonized


def daemonize() -> None:
    """Fork into the background; the original process waits for :func:`setup_post`, then exits."""
    global _daemon_pipe, _daemonized
    sys.stdout.flush()
    sys.stderr.flush()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(wfd)
        status = b""
        while True:
            try:
                status = os.read(rfd, 1)
                break
            except InterruptedError:
                continue
        # Only a one-byte zero means the daemon finished initialising.
        os._exit(0 if status == b"\0" else 1)
    os.close(rfd)
    os.set_inheritable(wfd, False)
    os.setsid()
    if os.fork() > 0:  # the session leader leaves: the daemon can never regain a terminal
        os._exit(0)
    os.umask(0o027)
    for sig in (signal.SIGTSTP, signal.SIGTTOU, signal.SIGTTIN):
        signal.signal(sig, signal.SIG_IGN)
    _daemon_pipe = wfd
    _daemonized = True


def setup_post(keep_stderr: bool = False) -> None:
    """Initialisation is done: detach from the terminal and release the waiting parent.

    ``keep_stderr``: -D was given, so stderr stays (QEMU's qemu_log_enabled()).
    """
    global _daemon_pipe
    if not _daemonized or _daemon_pipe is None:
        return
    try:
        os.chdir("/")
    except OSError as e:
        sys.stderr.write(f"{_prog()}: not able to chdir to /: {e.strerror}\n")
        sys.exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(os.devnull, os.O_RDWR)
    os.dup2(fd, 0)
    os.dup2(fd, 1)
    if not keep_stderr:
        os.dup2(fd, 2)
    os.close(fd)
    try:
        os.write(_daemon_pipe, b"\0")
    except OSError:
        sys.exit(1)
    os.close(_daemon_pipe)
    _daemon_pipe = None


def write_pidfile(path: str) -> None:
    """Create, lock and fill the PID file; it is removed when the process exits.

    Raises PidfileError with QEMU's wording (the caller adds "cannot create PID file: ").
    """
    global _pidfile_fd
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as e:
            raise PidfileError(f"Could not create '{path}': {e.strerror}") from None
        try:
            ino = os.fstat(fd).st_ino
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            raise PidfileError(f"Cannot lock pid file: {e.strerror}") from None
        # Another instance may have removed or replaced the file between open and lock.
        try:
            same = os.stat(path).st_ino == ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise PidfileError("Failed to write pid file") from None
    _pidfile_fd = fd
    # Absolute: the daemon changes to / before it exits.
    atexit.register(_unlink_pidfile, os.path.realpath(path))


def _unlink_pidfile(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _prog() -> str:
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "pyqemu"
