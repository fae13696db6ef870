"""The QMP server driven by PyPI's real client library (``qemu.qmp``) and by misbehaving raw sockets."""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from pyqemu.monitor import FakeRunState, Monitor, Providers, QMPServer, StubQOMTree, qjson

qmp = pytest.importorskip("qemu.qmp", reason="pip install qemu.qmp")
from qemu.qmp import ExecuteError, QMPClient  # noqa: E402
from qemu.qmp.legacy import QEMUMonitorProtocol  # noqa: E402


class ServerThread:
    """A QMPServer on its own event loop thread, as the main loop will run it."""

    def __init__(self, address: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.monitor = Monitor(Providers(qom=StubQOMTree()))
        self.runstate = FakeRunState(self.monitor.events.emit, on_quit=self._on_quit)
        self.monitor.providers.runstate = self.runstate
        self.server = QMPServer(address, self.monitor)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.server.start())

    def _on_quit(self) -> None:
        # The main loop disconnects everyone once the quit reply has been queued.
        self.loop.call_soon(self.server.close_clients)

    def call(self, coro: Any) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout=30)

    def stop(self) -> None:
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def unix_server(tmp_path: Path) -> Iterator[tuple[ServerThread, str]]:
    path = str(tmp_path / "qmp.sock")
    srv = ServerThread(path)
    yield srv, path
    srv.stop()


@pytest.fixture
def tcp_server() -> Iterator[tuple[ServerThread, tuple[str, int]]]:
    srv = ServerThread(("127.0.0.1", 0))
    port = srv.server.tcp_port
    assert port
    yield srv, ("127.0.0.1", port)
    srv.stop()


async def _client_session(addr: Any) -> list[str]:
    client = QMPClient("test")
    await client.connect(addr)
    log = []
    try:
        assert client.greeting.QMP.version["qemu"] == {"major": 7, "minor": 2, "micro": 0}
        status = await client.execute("query-status")
        assert status == {"status": "running", "singlestep": False, "running": True}
        with client.listener(("STOP", "RESUME", "RESET")) as listener:
            await client.execute("stop")
            log.append((await listener.get())["event"])
            assert (await client.execute("query-status"))["status"] == "paused"
            await client.execute("cont")
            log.append((await listener.get())["event"])
            await client.execute("system_reset")
            ev = await listener.get()
            log.append(ev["event"])
            assert ev["data"] == {"guest": False, "reason": "host-qmp-system-reset"}
            assert set(ev["timestamp"]) == {"seconds", "microseconds"}
        with pytest.raises(ExecuteError) as ei:
            await client.execute("no-such-command")
        assert ei.value.error_class == "CommandNotFound"
        assert str(ei.value) == "The command no-such-command has not been found"
        with pytest.raises(ExecuteError) as ei:
            await client.execute("qom-get", {"path": "/machine"})
        assert str(ei.value) == "Parameter 'property' is missing"
        with pytest.raises(ExecuteError) as ei:
            await client.execute("qom-get", {"path": 1, "property": "type"})
        assert str(ei.value) == "Invalid parameter type for 'path', expected: string"
        assert await client.execute("qom-get", {"path": "/machine", "property": "type"}) == "none-machine"
        with client.listener("SHUTDOWN") as listener:
            await client.execute("quit")
            ev = await listener.get()
            log.append(ev["event"])
            assert ev["data"] == {"guest": False, "reason": "host-qmp-quit"}
        # The server hangs up after quit.
        for _ in range(100):
            if client.runstate.name != "RUNNING":
                break
            await asyncio.sleep(0.02)
        assert client.runstate.name != "RUNNING"
    finally:
        # After the server hung up, disconnect() re-raises the reader's EOFError (as with real QEMU).
        with contextlib.suppress(EOFError):
            await client.disconnect()
    return log


def test_async_client_unix(unix_server: tuple[ServerThread, str]) -> None:
    srv, path = unix_server
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert asyncio.run(_client_session(path)) == ["STOP", "RESUME", "RESET", "SHUTDOWN"]


def test_async_client_tcp(tcp_server: tuple[ServerThread, tuple[str, int]]) -> None:
    srv, addr = tcp_server
    assert asyncio.run(_client_session(addr)) == ["STOP", "RESUME", "RESET", "SHUTDOWN"]


def test_legacy_sync_client(unix_server: tuple[ServerThread, str]) -> None:
    srv, path = unix_server
    m = QEMUMonitorProtocol(path)
    greeting = m.connect(negotiate=True)
    assert greeting["QMP"]["capabilities"] == ["oob"]
    try:
        assert m.cmd("query-status")["status"] == "running"
        assert m.cmd_obj({"execute": "stop", "id": "five"}) == {"return": {}, "id": "five"}
        ev = m.pull_event(wait=5.0)
        assert ev is not None and ev["event"] == "STOP"
        assert m.cmd_obj({"execute": "nope"})["error"]["class"] == "CommandNotFound"
        assert m.cmd_raw("cont", {"x": 1})["error"]["desc"] == "Parameter 'x' is unexpected"
        m.cmd("cont")
        assert m.pull_event(wait=5.0)["event"] == "RESUME"  # type: ignore[index]
        m.cmd("system_powerdown")
        assert m.pull_event(wait=5.0)["event"] == "POWERDOWN"  # type: ignore[index]
        assert srv.runstate.powerdowns == 1
    finally:
        m.close()


# -- raw sockets: what a broken client can do ----------------------------------------------------

class Raw:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.sock.settimeout(20)
        self.buf = bytearray()
        self.greeting = self.line()

    def line(self) -> str:
        while b"\r\n" not in self.buf:
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError
            self.buf += data
        end = self.buf.index(b"\r\n")
        out = bytes(self.buf[:end]).decode()
        del self.buf[:end + 2]
        return out

    def ask(self, data: bytes | str, n: int = 1) -> list[Any]:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)
        return [qjson.loads(self.line()) for _ in range(n)]

    def close(self) -> None:
        self.sock.close()


def test_bad_input_gets_qemu_errors(unix_server: tuple[ServerThread, str]) -> None:
    srv, path = unix_server
    c = Raw(path)
    assert c.ask('{"execute":"query-status"}')[0]["error"] == {
        "class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}
    assert c.ask('{"execute":"qmp_capabilities"}') == [{"return": {}}]

    def err(data: str | bytes, n: int = 1) -> list[tuple[str, str]]:
        return [(r["error"]["class"], r["error"]["desc"]) for r in c.ask(data, n)]

    g = "GenericError"
    assert err("{]") == [(g, "JSON parse error, expecting value")]
    assert err(b"\xff{") == [(g, "JSON parse error, stray '\ufffd'")]
    assert err("}") == [(g, "QMP input lacks member 'execute'")]  # the '{' after 0xFF resynchronised
    assert err("}") == [(g, "JSON parse error, expecting value")]
    assert err('"just a string"') == [(g, "QMP input must be a JSON object")]
    assert err("[1, 2]") == [(g, "QMP input must be a JSON object")]
    assert err('{"execute":["x"]}') == [(g, "QMP input member 'execute' must be a string")]
    assert err('{"execute":"frobnicate"}') == [
        ("CommandNotFound", "The command frobnicate has not been found")]
    assert err('{"execute":"qom-list","arguments":{"path":5}}') == [
        (g, "Invalid parameter type for 'path', expected: string")]
    assert err('{"execute":"qom-list"}') == [(g, "Parameter 'path' is missing")]
    assert err('{"execute":"qom-list","arguments":{"path":"/","y":1}}') == [
        (g, "Parameter 'y' is unexpected")]
    # Several MiB in one message, split however the kernel likes.
    blob = "x" * (6 << 20)
    t = time.monotonic()
    assert err(f'{{"execute":"query-status","arguments":{{"pad":"{blob}"}}}}') == [
        (g, "Parameter 'pad' is unexpected")]
    assert time.monotonic() - t < 20
    # Two messages in one write, one message in many writes.
    assert c.ask('{"execute":"query-name","id":1}{"execute":"query-uuid","id":2}', 2) == [
        {"return": {}, "id": 1}, {"return": {"UUID": "00000000-0000-0000-0000-000000000000"}, "id": 2}]
    msg = b'{"execute":"query-target","id":"split"}'
    for i in range(len(msg) - 1):
        c.sock.sendall(msg[i:i + 1])
    assert c.ask(msg[-1:]) == [{"return": {"arch": "aarch64"}, "id": "split"}]
    c.close()


def test_disconnect_mid_message_and_churn(unix_server: tuple[ServerThread, str]) -> None:
    srv, path = unix_server
    steady = Raw(path)
    steady.ask('{"execute":"qmp_capabilities"}')
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for i in range(50):
                s = socket.socket(socket.AF_UNIX)
                s.connect(path)
                if i % 3 == 0:
                    s.sendall(b'{"execute":"qmp_capabilities"}{"execute":"query-status","argu')
                elif i % 3 == 1:
                    s.sendall(b'{"execute":"query-status","arguments":{"pad":"' + b"y" * (1 << 20))
                s.close()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            stop.set()

    th = threading.Thread(target=churn)
    th.start()
    answered = 0
    while not stop.is_set() or answered < 5:
        r = steady.ask(f'{{"execute":"query-status","id":{answered}}}')[0]
        assert r == {"return": {"status": "running", "singlestep": False, "running": True}, "id": answered}
        answered += 1
    th.join()
    assert not errors
    # Everyone else is gone; the server forgot them.
    for _ in range(100):
        if len(srv.server.connections) == 1:
            break
        time.sleep(0.02)
    assert len(srv.server.connections) == 1
    assert len(srv.monitor.sessions) == 1
    steady.close()


def test_many_clients_each_negotiate(unix_server: tuple[ServerThread, str]) -> None:
    srv, path = unix_server
    clients = [Raw(path) for _ in range(10)]
    for c in clients[::2]:
        c.ask('{"execute":"qmp_capabilities"}')
    srv.loop.call_soon_threadsafe(srv.monitor.events.emit, "POWERDOWN")
    for i, c in enumerate(clients):
        r = c.ask('{"execute":"query-kvm"}')
        if i % 2 == 0:
            assert r[0]["event"] == "POWERDOWN"
            assert c.line() == '{"return": {"enabled": false, "present": false}}'
        else:
            assert r[0]["error"]["class"] == "CommandNotFound"
        c.close()
