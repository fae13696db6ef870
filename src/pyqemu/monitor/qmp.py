"""QMP: the JSON machine protocol, as QEMU 7.2 speaks it.

- :class:`Monitor` is what all sessions share: the command registry, the
  event bus and the providers (run state, machine facts, QOM, HMP).
- :class:`QMPSession` is one client's protocol state over any byte transport:
  ``feed(bytes)`` in, ``write(bytes)`` out. It sends the greeting, enforces
  capabilities negotiation, parses a delimiter-free JSON stream (several
  messages per read, a message split across reads), dispatches, echoes ``id``
  and forwards events once negotiated. A chardev can carry it later.
- :class:`QMPServer` puts sessions on a unix socket (mode 0600) or TCP, any
  number of clients at once, each with its own negotiation state. A client
  that sends garbage, several MiB, or disconnects mid-message affects only
  itself. (QEMU serves one client per socket at a time; this server does not
  make the others wait.)
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyqemu import __version__
from pyqemu.monitor.events import EventBus
from pyqemu.monitor.providers import HMPInterpreter, QOMProvider, RunStateProvider, VMIdentity
from pyqemu.monitor.qjson import JSONParseError, JSONStreamParser, dumps, qdict_order
from pyqemu.monitor.registry import COMMAND_NOT_FOUND, GENERIC_ERROR, CommandRegistry, QMPError

log = logging.getLogger("pyqemu.monitor.qmp")

QEMU_VERSION = (7, 2, 0)
PACKAGE = f"pyqemu {__version__}"
# Replies and events a client leaves unread before it is dropped (QEMU would grow without bound).
MAX_PENDING_OUTPUT = 64 << 20
MAX_QUEUED_REQUESTS = 8


@dataclass
class Providers:
    runstate: RunStateProvider | None = None
    identity: VMIdentity = field(default_factory=VMIdentity)
    qom: QOMProvider | None = None
    hmp: HMPInterpreter | None = None
    machine_ready: Callable[[], bool] = lambda: True


class Monitor:
    """Commands, events and providers shared by every QMP session."""

    def __init__(self, providers: Providers | None = None, registry: CommandRegistry | None = None,
                 *, core_commands: bool = True) -> None:
        self.registry = registry or CommandRegistry()
        self.events = EventBus(known=self.registry.has_event)
        self.providers = providers or Providers()
        self.sessions: set[QMPSession] = set()
        if core_commands:
            from pyqemu.monitor.commands import register_core
            register_core(self.registry)

    def version(self) -> dict[str, Any]:
        major, minor, micro = QEMU_VERSION
        return {"qemu": {"major": major, "minor": minor, "micro": micro}, "package": PACKAGE}

    def session(self, write: Callable[[bytes], None], *, pretty: bool = False,
                close: Callable[[], None] | None = None) -> QMPSession:
        return QMPSession(self, write, pretty=pretty, close=close)


@dataclass
class CommandContext:
    """What a handler may use besides its arguments."""
    monitor: Monitor
    session: QMPSession

    @property
    def providers(self) -> Providers:
        return self.monitor.providers


class QMPSession:
    """One client's QMP conversation over a byte transport."""

    def __init__(self, monitor: Monitor, write: Callable[[bytes], None], *, pretty: bool = False,
                 close: Callable[[], None] | None = None) -> None:
        self.monitor = monitor
        self.pretty = pretty
        self.negotiated = False
        self.oob = False
        self.offered_capabilities = ("oob",)
        self.closed = False
        self._write = write
        self._close_transport = close
        self._parser = JSONStreamParser(self._on_message)
        self._queue: deque[tuple[Any, JSONParseError | None]] = deque()
        self._busy = False
        self._unsubscribe: Callable[[], None] | None = None
        # Called when the requests queued behind an asynchronous command have all run.
        self.on_drained: Callable[[], None] | None = None
        monitor.sessions.add(self)

    # -- transport side -------------------------------------------------------------------------

    def greet(self) -> None:
        self.send({"QMP": {"version": self.monitor.version(),
                           "capabilities": list(self.offered_capabilities)}})

    def feed(self, data: bytes) -> None:
        """Bytes from the client."""
        if not self.closed:
            self._parser.feed(data)

    def close(self) -> None:
        """The transport is gone (or closing): stop events and forget the session."""
        if self.closed:
            return
        self.closed = True
        self._parser.stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.monitor.sessions.discard(self)
        self._queue.clear()
        if self._close_transport is not None:
            self._close_transport()

    @property
    def pending(self) -> int:
        """Parsed requests waiting for an asynchronous command to finish."""
        return len(self._queue)

    def send(self, msg: dict[str, Any]) -> None:
        if self.closed:
            return
        text = dumps(msg, self.pretty) + "\n"
        self._write(text.replace("\n", "\r\n").encode("ascii"))

    # -- dispatch -------------------------------------------------------------------------------

    def _on_message(self, value: Any, err: JSONParseError | None) -> None:
        self._queue.append((value, err))
        self._pump()

    def _pump(self) -> None:
        while self._queue and not self._busy and not self.closed:
            value, err = self._queue.popleft()
            if err is not None:
                self._reply_error(None, False, str(err))
                continue
            self._dispatch(value)

    def _reply_error(self, ident: Any, has_id: bool, desc: str, cls: str = GENERIC_ERROR) -> None:
        if not self.negotiated and cls == COMMAND_NOT_FOUND:
            desc = "Expecting capabilities negotiation with 'qmp_capabilities'"
        msg: dict[str, Any] = {"error": {"class": cls, "desc": desc}}
        if has_id:
            msg["id"] = ident
        self.send(msg)

    def _reply(self, ident: Any, has_id: bool, ret: Any) -> None:
        msg: dict[str, Any] = {"return": {} if ret is None else ret}
        if has_id:
            msg["id"] = ident
        self.send(msg)

    def _dispatch(self, req: Any) -> None:
        if not isinstance(req, dict):
            return self._reply_error(None, False, "QMP input must be a JSON object")
        has_id = "id" in req
        ident = req.get("id")
        try:
            name, oob = self._check_request(req)
            reg = self.monitor.registry
            cmd = reg.find(name)
            if cmd is not None and not self.negotiated and name != "qmp_capabilities":
                cmd = None  # only qmp_capabilities exists before negotiation
            if cmd is None:
                raise QMPError(f"The command {name} has not been found", COMMAND_NOT_FOUND)
            if not cmd.enabled:
                reason = f": {cmd.disable_reason}" if cmd.disable_reason else ""
                raise QMPError(f"Command {name} has been disabled{reason}", COMMAND_NOT_FOUND)
            if oob and not cmd.allow_oob:
                raise QMPError(f"The command {name} does not support OOB")
            if not cmd.allow_preconfig and not self.monitor.providers.machine_ready():
                raise QMPError(f"The command '{name}' is permitted only after machine initialization "
                               "has completed")
            kwargs = reg.parse_args(cmd, req.get("arguments", {}))
            result = cmd.handler(CommandContext(self.monitor, self), **kwargs)
        except QMPError as e:
            return self._reply_error(ident, has_id, e.desc, e.cls)
        except Exception as e:  # a bug in a command must not take the monitor down
            log.exception("QMP command failed")
            return self._reply_error(ident, has_id, f"internal error: {e}")
        if inspect.isawaitable(result):
            self._busy = True
            asyncio.ensure_future(self._finish(result, ident, has_id))
            return None
        return self._reply(ident, has_id, result)

    async def _finish(self, awaitable: Any, ident: Any, has_id: bool) -> None:
        try:
            result = await awaitable
        except QMPError as e:
            self._reply_error(ident, has_id, e.desc, e.cls)
        except Exception as e:
            log.exception("QMP command failed")
            self._reply_error(ident, has_id, f"internal error: {e}")
        else:
            self._reply(ident, has_id, result)
        self._busy = False
        self._pump()
        if not self._queue and self.on_drained is not None:
            self.on_drained()

    def _check_request(self, req: dict[str, Any]) -> tuple[str, bool]:
        """Validate the request's members in QEMU's order; the command name and OOB flag."""
        exec_key = None
        for key in qdict_order(req):
            value = req[key]
            if key == "execute" or (key == "exec-oob" and self.oob):
                if not isinstance(value, str):
                    raise QMPError(f"QMP input member '{key}' must be a string")
                if exec_key is not None:
                    raise QMPError(f"QMP input member '{key}' clashes with '{exec_key}'")
                exec_key = key
            elif key == "arguments":
                if not isinstance(value, dict):
                    raise QMPError("QMP input member 'arguments' must be an object")
            elif key != "id":
                raise QMPError(f"QMP input member '{key}' is unexpected")
        if exec_key is None:
            raise QMPError("QMP input lacks member 'execute'")
        return req[exec_key], exec_key == "exec-oob"

    # -- negotiation and events -----------------------------------------------------------------

    def negotiate(self, enable: list[str]) -> None:
        for cap in enable:
            if cap not in self.offered_capabilities:
                raise QMPError(f"Capability '{cap}' not available")
        self.oob = "oob" in enable
        self.negotiated = True
        self._unsubscribe = self.monitor.events.subscribe(self.send)


class _Protocol(asyncio.Protocol):
    def __init__(self, server: QMPServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.session: QMPSession | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.session = self.server.monitor.session(self._write, pretty=self.server.pretty,
                                                   close=transport.close)
        self.session.on_drained = self._resume
        self.server.connections.add(self)
        self.server.accepted += 1
        self.session.greet()

    def _write(self, data: bytes) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        t.write(data)
        if t.get_write_buffer_size() > MAX_PENDING_OUTPUT:
            log.warning("QMP client does not read its replies; dropping it")
            t.abort()

    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            self.session.feed(data)
            # Like QEMU, stop reading while requests wait behind a command still running.
            if self.session.pending >= MAX_QUEUED_REQUESTS and self.transport is not None:
                self.transport.pause_reading()

    def _resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self.session is not None:
            self.session._close_transport = None
            self.session.close()
        self.transport = None


Address = str | tuple[str, int] | socket.socket


class QMPServer:
    """Serve QMP on a unix socket path, a ``(host, port)`` TCP address or a listening socket."""

    def __init__(self, address: Address, monitor: Monitor, *, pretty: bool = False) -> None:
        self.address = address
        self.monitor = monitor
        self.pretty = pretty
        self.connections: set[_Protocol] = set()
        self.accepted = 0  # clients ever connected (a wait=on start ends even if the first left)
        self._server: asyncio.AbstractServer | None = None
        self._unix_path: str | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.monitor.events.attach_loop(loop)
        factory = lambda: _Protocol(self)  # noqa: E731
        addr = self.address
        if isinstance(addr, socket.socket):
            if addr.family == socket.AF_UNIX:
                self._server = await loop.create_unix_server(factory, sock=addr)
            else:
                self._server = await loop.create_server(factory, sock=addr)
        elif isinstance(addr, tuple):
            self._server = await loop.create_server(factory, addr[0], addr[1], reuse_address=True)
        else:
            self._server = await loop.create_unix_server(factory, sock=_unix_listener(addr))
            self._unix_path = addr

    @property
    def tcp_port(self) -> int | None:
        """The bound TCP port (useful with port 0)."""
        if self._server is None:
            return None
        for s in self._server.sockets:
            if s.family in (socket.AF_INET, socket.AF_INET6):
                return s.getsockname()[1]
        return None

    def close_clients(self) -> None:
        """Disconnect every client after what was already queued for it is sent."""
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self.close_clients()
            await self._server.wait_closed()
            self._server = None
        if self._unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._unix_path)
            self._unix_path = None


def _unix_listener(path: str) -> socket.socket:
    """A listening unix socket created with mode 0600, whatever the umask."""
    with contextlib.suppress(FileNotFoundError):
        if os.path.exists(path) and not os.path.isdir(path):
            os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bind and listen under a temporary name, then rename: a client that connects as soon
    # as `path` appears is never refused (the socket is already listening).
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        # Linux takes the new inode's mode from the unbound socket's: no window where it is open.
        os.fchmod(sock.fileno(), 0o600)
        if len(os.fsencode(tmp)) < 108:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            sock.bind(tmp)
            os.chmod(tmp, 0o600)
            sock.listen(16)
            os.rename(tmp, path)
        else:  # the temporary name would not fit in sun_path: bind the real one
            sock.bind(path)
            os.chmod(path, 0o600)
            sock.listen(16)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return sock
