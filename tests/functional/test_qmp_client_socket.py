"""QMP on a client socket: the emulator connects out to a listening qemu.qmp ``QMPClient``.

``-qmp tcp:HOST:PORT`` / ``-qmp unix:PATH`` without ``server=on``, and
``-chardev socket,...`` (client) with ``-mon mode=control``. The same sessions
run against real qemu-system-aarch64.
"""
from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys

import pytest
from conftest import unavailable

qmp = pytest.importorskip("qemu.qmp")

PYQEMU = [sys.executable, "-c",
          "import sys; from pyqemu.system.vl import main_aarch64; sys.exit(main_aarch64())"]


@pytest.fixture(params=["pyqemu", "qemu"])
def emu(request) -> list[str]:
    if request.param == "qemu":
        if shutil.which("qemu-system-aarch64") is None:
            unavailable("qemu-system-aarch64 not installed (Debian package qemu-system-arm)")
        return ["qemu-system-aarch64"]
    return PYQEMU


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_session(address, argv: list[str], reconnects: int = 0) -> int:
    async def main() -> int:
        first = qmp.QMPClient("listener")
        await first.start_server(address)
        proc = await asyncio.create_subprocess_exec(*argv, stdin=subprocess.DEVNULL,
                                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            clients = [first]
            for i in range(reconnects + 1):
                c = clients[-1]
                await asyncio.wait_for(c.accept(), 20)
                assert c.greeting is not None and c.greeting.QMP.version["qemu"]["major"] == 7
                assert (await c.execute("query-status"))["status"] == "running"
                with c.listener() as events:
                    await c.execute("stop")
                    assert (await asyncio.wait_for(events.get(), 5))["event"] == "STOP"
                    await c.execute("cont")
                    assert (await asyncio.wait_for(events.get(), 5))["event"] == "RESUME"
                if i < reconnects:
                    # Listen again, then hang up: the emulator reconnects and must greet anew.
                    nxt = qmp.QMPClient(f"listener{i + 1}")
                    await c.disconnect()
                    await nxt.start_server(address)
                    clients.append(nxt)
                    continue
                await c.execute("quit")
                try:
                    await c.disconnect()
                except EOFError:
                    pass
            return await asyncio.wait_for(proc.wait(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_legacy_qmp_client(emu, tmp_path, kind):
    if kind == "unix":
        address = str(tmp_path / "listen.sock")
        spec = f"unix:{address}"
    else:
        address = ("127.0.0.1", free_port())
        spec = f"tcp:127.0.0.1:{address[1]}"
    assert run_session(address, emu + ["-M", "none", "-display", "none", "-qmp", spec]) == 0


def test_chardev_socket_client_with_mon(emu, tmp_path):
    address = str(tmp_path / "listen.sock")
    argv = emu + ["-M", "none", "-display", "none", "-chardev", f"socket,id=q,path={address}",
                  "-mon", "chardev=q,mode=control"]
    assert run_session(address, argv) == 0


def test_reconnecting_client_negotiates_again(emu):
    port = free_port()
    argv = emu + ["-M", "none", "-display", "none",
                  "-chardev", f"socket,id=q,host=127.0.0.1,port={port},reconnect=1",
                  "-mon", "chardev=q,mode=control"]
    assert run_session(("127.0.0.1", port), argv, reconnects=1) == 0


def test_nobody_listening(emu, tmp_path):
    path = tmp_path / "nobody.sock"
    r = subprocess.run(emu + ["-M", "none", "-display", "none", "-qmp", f"unix:{path}"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr.endswith(f": -qmp unix:{path}: Failed to connect to '{path}': "
                             "No such file or directory\n")
