"""pyqemu-system-aarch64 -M none driven over QMP by the real qemu.qmp client."""
import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

qmp = pytest.importorskip("qemu.qmp")

CMD = [sys.executable, "-c",
       "import sys; from pyqemu.system.vl import main_aarch64; sys.exit(main_aarch64())"]


@pytest.fixture
def procs():
    """Processes started by a test; killed if the test leaves them running."""
    started = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()


def start(sock, *extra):
    p = subprocess.Popen(CMD + ["-M", "none", "-display", "none",
                                "-qmp", f"unix:{sock},server=on,wait=off", *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(200):
        if os.path.exists(sock):
            return p
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    raise AssertionError(p.communicate()[1].decode())


def test_status_stop_cont_quit(tmp_path, procs):
    sock = str(tmp_path / "qmp.sock")
    p = start(sock)
    procs.append(p)

    async def session():
        c = qmp.QMPClient("test")
        await c.connect(sock)
        assert (await c.execute("query-status"))["status"] == "running"
        with c.listener() as listener:
            await c.execute("stop")
            ev = await asyncio.wait_for(listener.get(), 5)
            assert ev["event"] == "STOP"
            assert (await c.execute("query-status"))["status"] == "paused"
            await c.execute("cont")
            ev = await asyncio.wait_for(listener.get(), 5)
            assert ev["event"] == "RESUME"
            await c.execute("system_reset")
            ev = await asyncio.wait_for(listener.get(), 5)
            assert ev["event"] == "RESET" and ev["data"]["guest"] is False
            await c.execute("quit")
        try:
            await c.disconnect()
        except EOFError:
            pass  # the server closed first after quit, as QEMU may

    asyncio.run(session())
    assert p.wait(timeout=20) == 0


def test_prelaunch_with_S_and_sigterm(tmp_path, procs):
    sock = str(tmp_path / "qmp.sock")
    p = start(sock, "-S")
    procs.append(p)
    from qemu.qmp.legacy import QEMUMonitorProtocol
    legacy = QEMUMonitorProtocol(sock)
    legacy.connect()
    reply = legacy.cmd("query-status")
    assert reply.get("return", reply)["status"] == "prelaunch"  # qemu.qmp versions differ here
    legacy.close()
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 0


@pytest.mark.parametrize("spec", [
    "-qmp unix:{},server=on,wait=off",
    "-chardev socket,id=q,path={},server=on,wait=off -mon chardev=q,mode=control"])
def test_qmp_unix_socket_is_private(tmp_path, procs, spec):
    """The QMP socket is mode 0600 even under umask 0: only its owner may drive the VM."""
    sock = str(tmp_path / "qmp.sock")
    p = subprocess.Popen(CMD + ["-M", "none", "-display", "none", *spec.format(sock).split()],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         umask=0)
    procs.append(p)
    for _ in range(400):
        if os.path.exists(sock) or p.poll() is not None:
            break
        time.sleep(0.05)
    assert os.stat(sock).st_mode & 0o777 == 0o600
    p.terminate()
    assert p.wait(timeout=20) == 0
