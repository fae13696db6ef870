"""Chardev QMP commands on pyqemu-system-aarch64, through the real qemu.qmp client.

The same exchanges go to real qemu-system-aarch64 when it is installed, and the
results must be equal.
"""
import asyncio
import os
import shutil
import subprocess
import sys
import time

import pytest

qmp = pytest.importorskip("qemu.qmp")

PYQEMU = [sys.executable, "-c",
          "import sys; from pyqemu.system.vl import main_aarch64; sys.exit(main_aarch64())"]
CHARDEVS = ["-chardev", "ringbuf,id=rb", "-chardev", "null,id=n", "-chardev", "ringbuf,id=small,size=8"]

EXCHANGES = [
    ("ringbuf-write", {"device": "rb", "data": "hello w\u00f6rld"}),
    ("ringbuf-read", {"device": "rb", "size": 5}),
    ("ringbuf-read", {"device": "rb", "size": 100, "format": "base64"}),
    ("ringbuf-write", {"device": "rb", "data": "AAEC/w==", "format": "base64"}),
    ("ringbuf-read", {"device": "rb", "size": 100, "format": "base64"}),
    ("ringbuf-write", {"device": "small", "data": "0123456789"}),
    ("ringbuf-read", {"device": "small", "size": 100}),
    ("ringbuf-read", {"device": "rb", "size": 0}),
    ("ringbuf-write", {"device": "n", "data": "x"}),
    ("ringbuf-write", {"device": "nope", "data": "x"}),
    ("ringbuf-write", {"device": "rb", "data": "%%", "format": "base64"}),
    ("query-chardev", {}),
]


def start(cmd, sock):
    # -S: real QEMU sends its start-up RESUME event ahead of the greeting to a client that
    # connects early (seen on a loaded machine); paused, there is no such event.
    p = subprocess.Popen(cmd + ["-S", "-M", "none", "-display", "none",
                                "-qmp", f"unix:{sock},server=on,wait=off", *CHARDEVS],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        if os.path.exists(sock):
            return p
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    raise AssertionError(p.communicate()[1].decode())


def run_exchanges(cmd, sock):
    p = start(cmd, sock)

    async def session():
        c = qmp.QMPClient("test")
        await c.connect(sock)
        out = []
        for name, args in EXCHANGES:
            try:
                out.append(("return", await c.execute(name, args)))
            except qmp.ExecuteError as e:
                out.append(("error", e.error_class, e.error.error.desc))
        await c.disconnect()
        return out

    try:
        return asyncio.run(asyncio.wait_for(session(), 20))
    finally:
        p.terminate()
        try:
            assert p.wait(timeout=10) == 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_ringbuf_over_qmp(tmp_path):
    res = run_exchanges(PYQEMU, str(tmp_path / "py.sock"))
    assert res[1] == ("return", "hello")
    assert res[2] == ("return", "IHfDtnJsZA==")
    assert res[4] == ("return", "AAEC/w==")
    assert res[6] == ("return", "23456789")
    assert res[7] == ("error", "GenericError", "size must be greater than zero")
    assert res[8] == ("error", "GenericError", "n is not a ringbuf device")
    assert res[9] == ("error", "GenericError", "Device 'nope' not found")
    assert res[10] == ("error", "GenericError", "Base64 data contains invalid characters")
    labels = [c["label"] for c in res[11][1]]
    assert labels == ["small", "n", "rb", "compat_monitor0"]   # the -qmp socket is listed, as in QEMU


@pytest.mark.skipif(shutil.which("qemu-system-aarch64") is None, reason="qemu-system-aarch64 not installed")
def test_same_results_as_qemu(tmp_path):
    ours = run_exchanges(PYQEMU, str(tmp_path / "py.sock"))
    theirs = run_exchanges(["qemu-system-aarch64"], str(tmp_path / "q.sock"))
    for c in theirs[-1][1]:      # the -qmp socket (compat_monitor0) has its own path
        c["filename"] = c["filename"].replace("q.sock", "py.sock")
    assert ours == theirs
