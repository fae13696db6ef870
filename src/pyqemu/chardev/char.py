"""Character devices: the base class, the fd-backed base, frontends and the registry.

A *Chardev* is a host-side byte stream (QEMU's chardev/char.c). A device or the
monitor attaches as a frontend through :class:`CharBackend` (QEMU's name for the
frontend's handle): ``set_handlers(can_read, read, event)`` and ``write()``.
``write`` never blocks: output is queued and flushed when the host fd is
writable; past :data:`MAX_QUEUED` bytes (a slow or absent peer) new output is
dropped, as QEMU drops output for a disconnected socket.

Backends register with :func:`register_backend`; :func:`chardev_new` creates
one from ``-chardev``-style options (``{"backend": "socket", "id": ..., ...}``).
"""
from __future__ import annotations

import errno
import os
import stat
import sys
import threading
from collections.abc import Callable
from typing import Any

from pyqemu.system import main_loop

CHR_EVENT_BREAK = 0
CHR_EVENT_OPENED = 1
CHR_EVENT_MUX_IN = 2
CHR_EVENT_MUX_OUT = 3
CHR_EVENT_CLOSED = 4

MAX_QUEUED = 1 << 20
READ_CHUNK = 4096


class ChardevError(Exception):
    """A user-facing error, worded as QEMU's."""


# The command-line location being processed ("-chardev socket,id=s0,..."); set by vl.py
# so that informational messages read like QEMU's.
location = ""


def info_report(msg: str) -> None:
    """QEMU's info_report(): ``prog: [location: ]info: msg`` on stderr."""
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "pyqemu"
    loc = f"{location}: " if location else ""
    sys.stderr.write(f"{prog}: {loc}info: {msg}\n")
    sys.stderr.flush()


CanRead = Callable[[], int]
Read = Callable[[bytes], None]
Event = Callable[[int], None]


def opt_bool(opts: dict[str, Any], key: str, default: bool) -> bool:
    v = opts.get(key)
    if v is None:
        return default
    if isinstance(v, bool):
        return v
    if v in ("on", "yes", "true", "y"):
        return True
    if v in ("off", "no", "false", "n"):
        return False
    raise ChardevError(f"Parameter '{key}' expects 'on' or 'off'")


class CharBackend:
    """A frontend's handle on a chardev (QEMU's CharBackend)."""

    def __init__(self, chr: Chardev):
        self.chr = chr
        self.can_read: CanRead | None = None
        self.read: Read | None = None
        self.event: Event | None = None
        self.tag = chr._attach(self)

    def set_handlers(self, can_read: CanRead | None, read: Read | None, event: Event | None,
                     set_open: bool = True) -> None:
        self.can_read, self.read, self.event = can_read, read, event
        self.chr._frontend_changed(self, set_open and bool(can_read or read or event))

    def write(self, data: bytes) -> int:
        """Queue `data` for output; never blocks. Returns the bytes accepted."""
        return self.chr.write(data)

    write_all = write

    def accept_input(self) -> None:
        """The frontend can take input again (QEMU's qemu_chr_fe_accept_input)."""
        self.chr.accept_input()

    def detach(self) -> None:
        self.set_handlers(None, None, None)
        self.chr._detach(self)

    def _can_read(self) -> int:
        return self.can_read() if self.can_read else 0

    def _read(self, data: bytes) -> None:
        if self.read:
            self.read(data)

    def _event(self, ev: int) -> None:
        if self.event:
            self.event(ev)


class Chardev:
    """Base chardev: one frontend; subclasses provide output and input."""

    backend = "chardev"

    def __init__(self, id: str, opts: dict[str, Any]):
        self.id = self.label = id
        self.opts = opts
        self.loop = main_loop.get()
        self.filename = self.backend
        self.be_open = False
        self.fe: CharBackend | None = None
        self.fe_open = False
        self.mux: Chardev | None = None  # the mux this chardev is the base of (mux=on)
        self.logfd: int | None = None
        logfile = opts.get("logfile")
        if logfile:
            flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if opt_bool(opts, "logappend", False)
                                                 else os.O_TRUNC)
            try:
                self.logfd = os.open(logfile, flags, 0o666)
            except OSError as e:
                raise ChardevError(f"Unable to open logfile {logfile}: {e.strerror}") from None

    # --- frontend side ---------------------------------------------------------
    def _attach(self, fe: CharBackend) -> int:
        if self.fe is not None:
            raise ChardevError(f"Device '{self.label}' is in use")
        self.fe = fe
        return 0

    def _detach(self, fe: CharBackend) -> None:
        if self.fe is fe:
            self.fe = None
            self.fe_open = False

    def _frontend_changed(self, fe: CharBackend, open_: bool) -> None:
        self.fe_open = open_
        if open_ and self.be_open:
            fe._event(CHR_EVENT_OPENED)
        self.update_read_handler()

    def set_handlers(self, can_read: CanRead | None, read: Read | None, event: Event | None) -> CharBackend:
        """Attach a frontend with these handlers in one step."""
        fe = self.fe or CharBackend(self)
        fe.set_handlers(can_read, read, event)
        return fe

    def accept_input(self) -> None:
        self.update_read_handler()

    def in_use(self) -> bool:
        """A frontend is attached (chardev-remove refuses then)."""
        return self.fe is not None

    # --- backend side (called by subclasses) ------------------------------------
    def be_can_write(self) -> int:
        return self.fe._can_read() if self.fe and self.fe_open else 0

    def be_write(self, data: bytes) -> None:
        """Input from the host to the frontend."""
        if self.fe and self.fe_open:
            self.fe._read(data)

    def be_event(self, ev: int) -> None:
        if ev == CHR_EVENT_OPENED:
            self.be_open = True
        elif ev == CHR_EVENT_CLOSED:
            self.be_open = False
        if self.fe and self.fe_open:
            self.fe._event(ev)

    # --- to override -------------------------------------------------------------
    def write(self, data: bytes) -> int:
        """Guest/monitor output to the host; never blocks."""
        self._log(data)
        return len(data)

    def _log(self, data: bytes) -> None:
        if self.logfd is not None and data:
            try:
                os.write(self.logfd, data)
            except OSError:
                pass

    def update_read_handler(self) -> None:
        """Re-evaluate whether to poll for input (the frontend's can_read changed)."""

    def info(self) -> dict[str, Any]:
        """One entry of query-chardev.

        A mux's base reports the mux's frontends: QEMU opens it only for them.
        """
        fe_open = self.mux.fe_open if self.mux is not None else self.fe_open
        return {"label": self.label, "filename": self.filename, "frontend-open": fe_open}

    def close(self) -> None:
        if self.logfd is not None:
            os.close(self.logfd)
            self.logfd = None


class FdChardev(Chardev):
    """A chardev over a pair of non-blocking fds (QEMU's char-fd.c)."""

    def __init__(self, id: str, opts: dict[str, Any]):
        super().__init__(id, opts)
        self.fd_in: int | None = None
        self.fd_out: int | None = None
        self._outbuf = bytearray()
        self._slice_out = bytearray()  # written during a vCPU slice: one write when it ends
        self._reading = False
        self._writing = False
        self.drop_when_closed = True

    def set_fds(self, fd_in: int | None, fd_out: int | None) -> None:
        for fd in (fd_in, fd_out):
            # A regular file never blocks, and O_NONBLOCK means nothing to it.
            if fd is not None and not stat.S_ISREG(os.fstat(fd).st_mode):
                os.set_blocking(fd, False)
        self.fd_in, self.fd_out = fd_in, fd_out
        self.update_read_handler()
        self._update_write_handler()

    def write(self, data: bytes) -> int:
        self._log(data)
        total = len(data)
        if self.fd_out is None:
            return total if self.drop_when_closed else 0
        loop = self.loop
        if loop.slice_thread == threading.get_ident():
            # A guest's UART writes a character at a time: one system call per character was
            # 2% of a Linux boot. The slice's output goes out in one write when it ends.
            if not self._slice_out:
                loop.after_slice(self._end_of_slice)
            self._slice_out += data
            return total
        return self._write_now(data)

    def _end_of_slice(self) -> None:
        data = bytes(self._slice_out)
        self._slice_out.clear()
        if data and self.fd_out is not None:
            self._write_now(data)

    def _write_now(self, data: bytes) -> int:
        total = len(data)
        if not self._outbuf:
            try:
                n = os.write(self.fd_out, data)
            except BlockingIOError:
                n = 0
            except OSError as e:
                self.on_write_error(e)
                return total
            data = data[n:]
        if data:
            room = MAX_QUEUED - len(self._outbuf)
            self._outbuf += data[:max(room, 0)]
            self._update_write_handler()
        return total

    def flush(self) -> None:
        """Block until queued output is written (used at exit)."""
        self._end_of_slice()
        if self.fd_out is None:
            return
        os.set_blocking(self.fd_out, True)
        try:
            while self._outbuf:
                n = os.write(self.fd_out, self._outbuf)
                del self._outbuf[:n]
        except OSError:
            self._outbuf.clear()
        finally:
            os.set_blocking(self.fd_out, False)

    def _on_writable(self) -> None:
        if self.fd_out is None:
            return
        try:
            n = os.write(self.fd_out, self._outbuf)
            del self._outbuf[:n]
        except BlockingIOError:
            pass
        except OSError as e:
            self.on_write_error(e)
        self._update_write_handler()

    def _update_write_handler(self) -> None:
        want = bool(self._outbuf) and self.fd_out is not None
        if want != self._writing:
            self._writing = want
            self._set_handlers_for(self.fd_out)

    def update_read_handler(self) -> None:
        want = self.fd_in is not None and self.be_can_write() > 0
        if want != self._reading:
            self._reading = want
            self._set_handlers_for(self.fd_in)

    def _set_handlers_for(self, fd: int | None) -> None:
        if fd is None:
            return
        r = self._on_readable if self._reading and fd == self.fd_in else None
        w = self._on_writable if self._writing and fd == self.fd_out else None
        self.loop.set_fd_handler(fd, r, w)

    def _on_readable(self) -> None:
        n = self.be_can_write()
        if n <= 0 or self.fd_in is None:
            self.update_read_handler()
            return
        try:
            data = os.read(self.fd_in, min(n, READ_CHUNK))
        except BlockingIOError:
            return
        except OSError as e:
            data = b""
            if e.errno not in (errno.EIO, errno.ECONNRESET):
                raise
        if not data:
            self.on_eof()
            return
        self.be_write(data)
        self.update_read_handler()

    def stop_io(self) -> None:
        """Stop polling the fds (before closing them)."""
        for fd in {self.fd_in, self.fd_out}:
            if fd is not None:
                self.loop.set_fd_handler(fd, None, None)
        self._reading = self._writing = False
        self._outbuf.clear()

    def on_eof(self) -> None:
        """Input ended (peer closed); the default stops reading."""
        if self.fd_in is not None:
            self._reading = False
            self._set_handlers_for(self.fd_in)
            self.fd_in = None

    def on_write_error(self, e: OSError) -> None:
        self._outbuf.clear()
        self._writing = False
        if self.fd_out is not None:
            self._set_handlers_for(self.fd_out)

    def close(self) -> None:
        self.stop_io()
        for fd in {self.fd_in, self.fd_out}:
            if fd is not None and fd > 2:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.fd_in = self.fd_out = None
        super().close()


# --- registry -------------------------------------------------------------------

BACKENDS: dict[str, type[Chardev]] = {}
_chardevs: dict[str, Chardev] = {}


def register_backend(*names: str) -> Callable[[type[Chardev]], type[Chardev]]:
    def deco(cls: type[Chardev]) -> type[Chardev]:
        for n in names:
            BACKENDS[n] = cls
        return cls
    return deco


def _load_backends() -> None:
    # Backends register themselves on import.
    from pyqemu.chardev import file, null, pipe, pty, ringbuf, socket, stdio  # noqa: F401


def chardev_new(opts: dict[str, Any], loc: str | None = None) -> Chardev:
    """Create and register a chardev from ``-chardev`` options; ``mux=on`` wraps it in a mux.

    ``loc`` is the command-line option it comes from: messages then start with
    it, as QEMU's do (``-chardev socket,id=s,...: Failed to connect ...``).
    """
    global location
    if loc is None:
        return _chardev_new(opts)
    saved, location = location, loc
    try:
        return _chardev_new(opts)
    except ChardevError as e:
        raise ChardevError(f"{loc}: {e}") from None
    finally:
        location = saved


def _chardev_new(opts: dict[str, Any]) -> Chardev:
    _load_backends()
    opts = dict(opts)
    backend = opts.pop("backend", None)
    cid = opts.get("id")
    if not backend:
        raise ChardevError("chardev: \"\" missing backend")
    if not cid:
        raise ChardevError("Parameter 'id' is missing")
    if cid in _chardevs:
        raise ChardevError(f"attempt to add duplicate property '{cid}' to object (type 'container')")
    cls = BACKENDS.get(backend)
    if cls is None:
        raise ChardevError(f"'{backend}' is not a valid char driver name")
    mux = opt_bool(opts, "mux", False)
    if mux:
        from pyqemu.chardev.mux import MuxChardev
        base = cls(f"{cid}-base", opts)
        _chardevs[base.id] = base
        chr: Chardev = MuxChardev(cid, opts, base)
    else:
        chr = cls(cid, opts)
    _chardevs[cid] = chr
    return chr


def chardev_add(chr: Chardev) -> None:
    """Register a chardev built outside chardev_new() (e.g. one that stands in for a QMP socket)."""
    if chr.id in _chardevs:
        raise ChardevError(f"attempt to add duplicate property '{chr.id}' to object (type 'container')")
    _chardevs[chr.id] = chr


def chardev_find(id: str) -> Chardev | None:
    return _chardevs.get(id)


def chardev_remove(id: str) -> None:
    """chardev-remove: refused while a frontend is attached."""
    chr = _chardevs.get(id)
    if chr is None:
        raise ChardevError(f"Chardev '{id}' not found")
    if chr.in_use():
        raise ChardevError(f"Chardev '{id}' is busy")
    chr.close()
    del _chardevs[id]
    from pyqemu.chardev.mux import MuxChardev
    if isinstance(chr, MuxChardev):
        chr.base.close()
        _chardevs.pop(chr.base.id, None)


def chardev_close_all() -> None:
    for chr in list(_chardevs.values()):
        if isinstance(chr, FdChardev):
            chr.flush()
        chr.close()
    _chardevs.clear()


_creation_order: dict[str, int] = {}


def set_creation_order(ids: list[str]) -> None:
    """The order in which QEMU would have created these chardevs (query-chardev's order follows it)."""
    _creation_order.clear()
    _creation_order.update((cid, i) for i, cid in enumerate(ids))


def query_chardev() -> list[dict[str, Any]]:
    """Every chardev's info, in QEMU's creation order (others after, as created)."""
    chrs = sorted(_chardevs.values(), key=lambda c: _creation_order.get(c.id, len(_creation_order)))
    return [c.info() for c in chrs]


def query_chardev_backends() -> list[dict[str, str]]:
    _load_backends()
    return [{"name": n} for n in BACKENDS]


def parse_compat(spec: str, id: str) -> dict[str, Any]:
    """The legacy ``-serial``/``-monitor`` syntax (QEMU's qemu_chr_parse_compat)."""
    opts: dict[str, Any] = {"id": id}
    if spec.startswith("mon:"):
        spec = spec[4:]
        opts["mux"] = "on"
        if spec == "stdio":
            # Muxed monitor on stdio: Ctrl-C goes to the guest, as -nographic always did.
            opts["signal"] = "off"
    if spec in ("null", "vc", "stdio", "pty", "msmouse", "braille", "testdev"):
        opts["backend"] = "null" if spec == "vc" else spec
        return opts
    kind, _, rest = spec.partition(":")
    if kind == "file":
        opts.update(backend="file", path=rest)
    elif kind == "pipe":
        opts.update(backend="pipe", path=rest)
    elif kind in ("tcp", "telnet"):
        hostport, *flags = rest.split(",")
        host, _, port = hostport.rpartition(":")
        opts.update(backend="socket", host=host, port=port)
        if kind == "telnet":
            opts["telnet"] = "on"
        _flags(opts, flags)
    elif kind == "unix":
        path, *flags = rest.split(",")
        opts.update(backend="socket", path=path)
        _flags(opts, flags)
    elif spec.startswith("/dev/"):
        opts.update(backend="serial", path=spec)
    else:
        raise ChardevError(f"'{spec}' is not a valid char driver")
    return opts


def _flags(opts: dict[str, Any], flags: list[str]) -> None:
    for f in flags:
        k, eq, v = f.partition("=")
        if k == "nowait":
            opts["wait"] = "off"
        else:
            opts[k] = v if eq else "on"
