"""The stdio chardev: the terminal in raw mode, restored on every way out.

Raw mode follows QEMU's qemu_chr_set_echo_stdio(); with ``signal=off`` Ctrl-C
reaches the guest instead of stopping the emulator. The saved terminal settings
are restored at exit (atexit, which also covers uncaught exceptions), on
SIGTERM/SIGINT/SIGHUP when nothing else handles them, and on close.
"""
from __future__ import annotations

import atexit
import os
import signal
import stat
import termios
from typing import Any

from pyqemu.chardev.char import CHR_EVENT_OPENED, ChardevError, FdChardev, opt_bool, register_backend

_saved: list[Any] | None = None
_stdio_in_use = False


def restore_terminal() -> None:
    """Put the terminal back as we found it; safe to call many times."""
    global _saved
    if _saved is not None:
        try:
            termios.tcsetattr(0, termios.TCSANOW, _saved)
        except (termios.error, OSError):
            pass
        _saved = None


def _on_signal(signum: int, frame: Any) -> None:
    restore_terminal()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_exit_hooks() -> None:
    atexit.register(restore_terminal)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
        # Only if nobody else (the main loop) took the signal: it restores via atexit.
        cur = signal.getsignal(sig)
        if cur in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(sig, _on_signal)


def set_echo(echo: bool, sig: bool = True) -> None:
    """Raw (echo=False) or saved mode, as QEMU's qemu_chr_set_echo_stdio()."""
    global _saved
    if not os.isatty(0):
        return
    if _saved is None:
        _saved = termios.tcgetattr(0)
    if echo:
        termios.tcsetattr(0, termios.TCSANOW, _saved)
        return
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(0)
    cc = list(cc)
    iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
               | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    oflag |= termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.IEXTEN)
    cflag &= ~(termios.CSIZE | termios.PARENB)
    cflag |= termios.CS8
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    if not sig:
        lflag &= ~termios.ISIG
    termios.tcsetattr(0, termios.TCSANOW, [iflag, oflag, cflag, lflag, ispeed, ospeed, cc])


def _private_fd(fd: int, flags: int) -> int:
    """A new open file description for a terminal or pipe on `fd`.

    O_NONBLOCK belongs to the file description, which stdin/stdout share with
    stderr and with the parent shell; a private one keeps it to ourselves.
    """
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode):
        return os.dup(fd)
    try:
        path = os.ttyname(fd) if os.isatty(fd) else f"/proc/self/fd/{fd}"
        return os.open(path, flags | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return os.dup(fd)


@register_backend("stdio")
class StdioChardev(FdChardev):
    backend = "stdio"

    def __init__(self, id: str, opts: dict[str, Any]):
        global _stdio_in_use
        from pyqemu.system import daemon
        if daemon.is_daemonized():  # the daemon's stdio is /dev/null once initialised
            raise ChardevError("cannot use stdio with -daemonize")
        super().__init__(id, opts)
        if _stdio_in_use:
            raise ChardevError("cannot use stdio by multiple character devices")
        _stdio_in_use = True
        self.signal = opt_bool(opts, "signal", True)
        _install_exit_hooks()
        set_echo(False, self.signal)
        self._own = [_private_fd(0, os.O_RDONLY), _private_fd(1, os.O_WRONLY)]
        self.set_fds(*self._own)
        self.be_event(CHR_EVENT_OPENED)

    def on_eof(self) -> None:
        # QEMU keeps stdout after stdin ends (e.g. input from /dev/null).
        fd = self.fd_in
        super().on_eof()
        if fd is not None and fd != self.fd_out:
            os.close(fd)

    def close(self) -> None:
        global _stdio_in_use
        self.flush()
        restore_terminal()
        _stdio_in_use = False
        super().close()     # closes the private fds


def _reset_for_tests() -> None:
    global _stdio_in_use
    _stdio_in_use = False



