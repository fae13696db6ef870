"""The socket chardev: TCP (``host``/``port``) or Unix (``path``), server or client.

As QEMU: a server serves ONE connection at a time; while it is connected the
listening socket is not polled, so a second client waits in the backlog until
the first disconnects. ``wait=on`` (the server default) blocks creation until a
client connects; clients with ``reconnect=N`` retry every N seconds.
``nodelay=on`` sets TCP_NODELAY; ``telnet=on`` sends QEMU's telnet option
negotiation and strips IAC sequences from input.
"""
from __future__ import annotations

import os
import socket as so
from collections.abc import Callable
from typing import Any

from pyqemu.chardev.char import (
    CHR_EVENT_BREAK,
    CHR_EVENT_CLOSED,
    CHR_EVENT_OPENED,
    Chardev,
    ChardevError,
    FdChardev,
    info_report,
    opt_bool,
    register_backend,
)
from pyqemu.system.main_loop import ClockType

IAC, SB, SE, BREAK = 255, 250, 240, 243
# QEMU's tcp_chr_telnet_init: IAC WILL ECHO, WILL SUPPRESS-GO-AHEAD, WILL BINARY, DO BINARY.
TELNET_INIT = bytes([255, 251, 1, 255, 251, 3, 255, 251, 0, 255, 253, 0])


def disconnected_filename(path: str | None, host: str, port: str, proto: str, listen: bool) -> str:
    """query-chardev's filename for a socket with no peer (QEMU's qemu_chr_socket_address)."""
    srv = ",server=on" if listen else ""
    if path is not None:
        return f"disconnected:unix:{path}{srv}"
    return f"disconnected:{proto}:{host}:{port}{srv}"


def connected_filename(s: Any, proto: str, listen: bool) -> str:
    """query-chardev's filename for a connected socket ``s`` (QEMU's sockaddr_to_str)."""
    srv = ",server=on" if listen else ""
    if s.family == so.AF_UNIX:
        return f"unix:{s.getsockname() or ''}{srv}"
    local, peer = s.getsockname(), s.getpeername()
    lb, rb = ("[", "]") if s.family == so.AF_INET6 else ("", "")
    return f"{proto}:{lb}{local[0]}{rb}:{local[1]}{srv} <-> {lb}{peer[0]}{rb}:{peer[1]}"


class ServedSocketChardev(Chardev):
    """A listening socket that another server serves (QMP's, which takes many clients at once).

    In QEMU ``-qmp unix:PATH,server=on`` is a socket chardev named
    ``compat_monitorN``; this stands in for it in query-chardev and ``info chardev``.
    ``peers`` returns the connected sockets; the first one names the connection.
    """

    backend = "socket"

    def __init__(self, id: str, opts: dict[str, Any], peers: Callable[[], list[Any]]):
        super().__init__(id, {})
        self._peers = peers
        self._path = opts.get("path")
        self._disconnected = disconnected_filename(
            opts.get("path"), opts.get("host") or "0.0.0.0", str(opts.get("port", "")),
            "telnet" if opt_bool(opts, "telnet", False) else "tcp", True)
        self.fe_open = True  # the monitor is its frontend

    def info(self) -> dict[str, Any]:
        peers = self._peers()
        if not peers:
            self.filename = self._disconnected
        elif self._path is not None:  # the server may have bound a temporary name, then renamed it
            self.filename = f"unix:{self._path},server=on"
        else:
            self.filename = connected_filename(peers[0], "tcp", True)
        return super().info()

    def in_use(self) -> bool:
        return True


@register_backend("socket")
class SocketChardev(FdChardev):
    backend = "socket"

    def __init__(self, id: str, opts: dict[str, Any]):
        super().__init__(id, opts)
        self.is_unix = bool(opts.get("path"))
        if not self.is_unix and opts.get("port") is None:
            raise ChardevError("chardev: socket: no host given" if opts.get("host") is None
                               else "chardev: socket: no port given")
        self.is_listen = opt_bool(opts, "server", False)
        self.is_telnet = opt_bool(opts, "telnet", False)
        self.nodelay = opt_bool(opts, "nodelay", False)
        wait = opt_bool(opts, "wait", True)
        self.reconnect = int(opts.get("reconnect", 0))
        if self.is_listen and self.reconnect:
            raise ChardevError("'reconnect' option is incompatible with 'server' option")
        self.path = opts.get("path", "")
        self.host = opts.get("host") or ("0.0.0.0" if self.is_listen else "localhost")
        self.port = str(opts.get("port", ""))
        self.sock: so.socket | None = None
        self.listener: so.socket | None = None
        self._telnet_state = 0
        self._timer = self.loop.new_timer(ClockType.REALTIME, self._try_connect)
        self._update_disconnected_filename()
        if self.is_listen:
            self._listen()
            if wait:
                info_report(f"QEMU waiting for connection on: {self.filename}")
                self.listener.setblocking(True)
                conn, _ = self.listener.accept()
                self.listener.setblocking(False)
                self._connected(conn)
            else:
                self._watch_listener(True)
        else:
            try:
                self._connect()
            except OSError as e:
                if not self.reconnect:
                    raise ChardevError(f"Failed to connect to '{self._target()}': "
                                       f"{e.strerror or e}") from None
                self._schedule_reconnect()

    # --- addresses ----------------------------------------------------------------
    def _target(self) -> str:
        return self.path if self.is_unix else f"{self.host}:{self.port}"

    def _proto(self) -> str:
        return "telnet" if self.is_telnet else "tcp"

    def _update_disconnected_filename(self) -> None:
        self.filename = disconnected_filename(self.path if self.is_unix else None, self.host, self.port,
                                              self._proto(), self.is_listen)

    def _connected_filename(self, s: so.socket) -> str:
        return connected_filename(s, self._proto(), self.is_listen)

    def _addrinfo(self) -> list[tuple[Any, ...]]:
        return so.getaddrinfo(self.host or None, self.port, type=so.SOCK_STREAM,
                              flags=so.AI_PASSIVE if self.is_listen else 0)

    # --- server -------------------------------------------------------------------
    def _listen(self) -> None:
        try:
            if self.is_unix:
                if os.path.exists(self.path):
                    os.unlink(self.path)
                s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
                # Mode 0600 whatever the umask (Linux takes it from the unbound socket), as the
                # QMP server's: a monitor may sit on it. QEMU leaves it to the umask.
                os.fchmod(s.fileno(), 0o600)
                s.bind(self.path)
            else:
                fam, typ, proto, _, addr = self._addrinfo()[0]
                s = so.socket(fam, typ, proto)
                s.setsockopt(so.SOL_SOCKET, so.SO_REUSEADDR, 1)
                s.bind(addr)
            s.listen(1)
        except OSError as e:
            what = self.path if self.is_unix else f"{self.host}:{self.port}"
            raise ChardevError(f"Failed to bind socket to {what}: {e.strerror}") from None
        s.setblocking(False)
        self.listener = s

    def _watch_listener(self, on: bool) -> None:
        if self.listener is not None:
            self.loop.set_fd_handler(self.listener.fileno(), self._accept if on else None, None)

    def _accept(self) -> None:
        assert self.listener is not None
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        self._connected(conn)

    # --- client -------------------------------------------------------------------
    def _connect(self) -> None:
        if self.is_unix:
            s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
            try:
                s.connect(self.path)
            except OSError:
                s.close()
                raise
        else:
            s = so.create_connection((self.host, int(self.port)))
        self._connected(s)

    def _schedule_reconnect(self) -> None:
        self._timer.mod_ns(self.loop.clock_get_ns(ClockType.REALTIME) + self.reconnect * 1_000_000_000)

    def _try_connect(self) -> None:
        try:
            self._connect()
        except OSError:
            self._schedule_reconnect()

    # --- connection ---------------------------------------------------------------
    def _connected(self, s: so.socket) -> None:
        self.sock = s
        if self.listener is not None:
            self._watch_listener(False)   # one client at a time
        if self.nodelay and s.family != so.AF_UNIX:
            s.setsockopt(so.IPPROTO_TCP, so.TCP_NODELAY, 1)
        s.setblocking(False)
        self.filename = self._connected_filename(s)
        self._telnet_state = 0
        self.set_fds(s.fileno(), s.fileno())
        if self.is_telnet:
            self.write(TELNET_INIT)
        self.be_event(CHR_EVENT_OPENED)

    def _disconnect(self) -> None:
        if self.sock is None:
            return
        self.stop_io()
        self.fd_in = self.fd_out = None
        self.sock.close()
        self.sock = None
        self._update_disconnected_filename()
        self.be_event(CHR_EVENT_CLOSED)
        if self.listener is not None:
            self._watch_listener(True)
        elif self.reconnect:
            self._schedule_reconnect()

    def on_eof(self) -> None:
        self._disconnect()

    def on_write_error(self, e: OSError) -> None:
        self._disconnect()

    def disconnect(self) -> None:
        """Drop the current connection (QMP's and the monitor's hook)."""
        self._disconnect()

    @property
    def connected(self) -> bool:
        return self.sock is not None

    def be_write(self, data: bytes) -> None:
        if self.is_telnet:
            data = self._telnet_filter(data)
        if data:
            super().be_write(data)

    def _telnet_filter(self, data: bytes) -> bytes:
        """Strip IAC commands; IAC BREAK becomes CHR_EVENT_BREAK (QEMU's tcp_chr_process_IAC_bytes)."""
        out = bytearray()
        for b in data:
            st = self._telnet_state
            if st == 0:
                if b == IAC:
                    self._telnet_state = 1
                else:
                    out.append(b)
            elif st == 1:
                if b == IAC:
                    out.append(b)
                    self._telnet_state = 0
                elif b == BREAK:
                    self.be_event(CHR_EVENT_BREAK)
                    self._telnet_state = 0
                elif b == SB:
                    self._telnet_state = 3
                elif b in (251, 252, 253, 254):
                    self._telnet_state = 2
                else:
                    self._telnet_state = 0
            elif st == 2:
                self._telnet_state = 0
            elif st == 3 and b == IAC:
                self._telnet_state = 4
            elif st == 4:
                self._telnet_state = 0 if b == SE else 3
        return bytes(out)

    def write(self, data: bytes) -> int:
        if self.sock is None:
            self._log(data)
            return len(data)     # no peer: output is dropped
        return super().write(data)

    def close(self) -> None:
        self._timer.del_()
        self._disconnect()
        if self.listener is not None:
            self._watch_listener(False)
            self.listener.close()
            self.listener = None
            if self.is_unix:
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
        super().close()
