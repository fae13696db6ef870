"""Character devices: each backend, the registry, the mux, and the terminal restore of stdio."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import termios
import textwrap
import time

import pytest

from pyqemu.chardev import char
from pyqemu.chardev.char import CHR_EVENT_CLOSED, CHR_EVENT_OPENED, ChardevError, chardev_new
from pyqemu.chardev.ringbuf import RingbufChardev
from pyqemu.system import main_loop, runstate


@pytest.fixture
def loop():
    ml = main_loop.MainLoop(runstate.VMRunState())
    main_loop.set_main(ml)
    yield ml
    char.chardev_close_all()
    ml.close()
    main_loop.set_main(None)


class Frontend:
    def __init__(self, chr, room=4096):
        self.data = bytearray()
        self.events = []
        self.room = room
        self.fe = chr.set_handlers(lambda: self.room - len(self.data), self.data.extend, self.events.append)


def test_registry_and_errors(loop):
    chardev_new({"backend": "null", "id": "n0"})
    with pytest.raises(ChardevError, match="duplicate"):
        chardev_new({"backend": "null", "id": "n0"})
    with pytest.raises(ChardevError, match="'nope' is not a valid char driver name"):
        chardev_new({"backend": "nope", "id": "x"})
    fe = Frontend(char.chardev_find("n0"))
    assert fe.events == [CHR_EVENT_OPENED]
    with pytest.raises(ChardevError, match="Device 'n0' is in use"):
        char.CharBackend(char.chardev_find("n0"))
    with pytest.raises(ChardevError, match="is busy"):
        char.chardev_remove("n0")
    assert {"label": "n0", "filename": "null", "frontend-open": True} in char.query_chardev()


def test_parse_compat():
    assert char.parse_compat("mon:stdio", "serial0") == {"id": "serial0", "mux": "on", "signal": "off",
                                                         "backend": "stdio"}
    assert char.parse_compat("unix:/tmp/s,server,nowait", "m") == {
        "id": "m", "backend": "socket", "path": "/tmp/s", "server": "on", "wait": "off"}
    assert char.parse_compat("tcp::4444,server=on", "m")["port"] == "4444"


def test_file_truncate_and_append(loop, tmp_path):
    p = tmp_path / "out.txt"
    p.write_bytes(b"old\n")
    c = chardev_new({"backend": "file", "id": "f0", "path": str(p), "append": "on"})
    c.write(b"new\n")
    char.chardev_remove("f0")
    assert p.read_bytes() == b"old\nnew\n"
    c = chardev_new({"backend": "file", "id": "f1", "path": str(p)})
    c.write(b"x")
    char.chardev_remove("f1")
    assert p.read_bytes() == b"x"
    with pytest.raises(ChardevError, match="Could not open"):
        chardev_new({"backend": "file", "id": "f2", "path": str(tmp_path / "no" / "such")})


def test_ringbuf(loop):
    c = chardev_new({"backend": "ringbuf", "id": "r0", "size": "8"})
    c.write(b"hello world!")
    assert c.read(100) == b"o world!"          # as QEMU 7.2: the last 8 bytes
    c.write(b"\x00\x01\x02\xff")
    assert c.read(2) == b"\x00\x01"
    assert c.read(10) == b"\x02\xff"
    assert c.read(10) == b""
    with pytest.raises(ChardevError, match="power of two"):
        chardev_new({"backend": "ringbuf", "id": "r1", "size": "12"})
    m = chardev_new({"backend": "memory", "id": "m0"})
    assert isinstance(m, RingbufChardev)
    assert char.query_chardev()[-1] == {"label": "m0", "filename": "memory", "frontend-open": False}


def test_muxed_base_reports_the_mux_frontends(loop):
    """QEMU shows a mux's base open only while the mux has a frontend."""
    mux = chardev_new({"backend": "ringbuf", "id": "r", "mux": "on"})
    opened = {i["label"]: i["frontend-open"] for i in char.query_chardev()}
    assert opened == {"r-base": False, "r": False}
    fe = Frontend(mux)
    assert {i["label"]: i["frontend-open"] for i in char.query_chardev()} == {"r-base": True, "r": True}
    fe.fe.detach()
    assert {i["label"]: i["frontend-open"] for i in char.query_chardev()} == {"r-base": False, "r": False}


def test_pipe(loop, tmp_path):
    base = str(tmp_path / "p")
    os.mkfifo(base + ".in")
    os.mkfifo(base + ".out")
    c = chardev_new({"backend": "pipe", "id": "p0", "path": base})
    fe = Frontend(c)
    wr = os.open(base + ".in", os.O_WRONLY)
    rd = os.open(base + ".out", os.O_RDONLY | os.O_NONBLOCK)
    os.write(wr, b"in")
    assert loop.run_until(lambda: bytes(fe.data) == b"in", 2)
    c.write(b"out")
    assert os.read(rd, 10) == b"out"
    os.close(wr)
    os.close(rd)


def test_pty(loop, capsys):
    c = chardev_new({"backend": "pty", "id": "serial0"})
    err = capsys.readouterr().err
    assert err == f"char device redirected to {c.pty_name} (label serial0)\n"
    assert c.info()["filename"] == f"pty:{c.pty_name}"
    fe = Frontend(c)
    c.write(b"lost")                 # nobody on the slave side yet: dropped
    peer = os.open(c.pty_name, os.O_RDWR | os.O_NOCTTY)
    assert loop.run_until(lambda: CHR_EVENT_OPENED in fe.events, 3)
    c.write(b"hello")
    assert loop.run_until(lambda: True, 0.01)
    assert os.read(peer, 100) == b"hello"
    os.write(peer, b"typed")
    assert loop.run_until(lambda: bytes(fe.data) == b"typed", 2)
    os.close(peer)
    assert loop.run_until(lambda: CHR_EVENT_CLOSED in fe.events, 3)


def _unix_client(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(2)
    return s


def test_socket_unix_server_one_client_at_a_time(loop, tmp_path):
    path = str(tmp_path / "s.sock")
    c = chardev_new({"backend": "socket", "id": "mon", "path": path, "server": "on", "wait": "off"})
    assert c.info()["filename"] == f"disconnected:unix:{path},server=on"
    fe = Frontend(c)
    c1 = _unix_client(path)
    assert loop.run_until(lambda: fe.events == [CHR_EVENT_OPENED], 2)
    assert c.filename == f"unix:{path},server=on"
    c2 = _unix_client(path)                  # waits in the backlog
    c1.sendall(b"from1")
    assert loop.run_until(lambda: bytes(fe.data) == b"from1", 2)
    c.write(b"to1")
    assert c1.recv(10) == b"to1"
    c2.sendall(b"from2")
    loop.run_for(0.05)
    assert bytes(fe.data) == b"from1"        # not accepted while the first is connected
    c1.close()
    assert loop.run_until(lambda: fe.events == [CHR_EVENT_OPENED, CHR_EVENT_CLOSED, CHR_EVENT_OPENED], 2)
    assert loop.run_until(lambda: bytes(fe.data) == b"from1from2", 2)
    c2.close()


def test_socket_tcp_client_reconnect(loop):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    srv.close()
    with pytest.raises(ChardevError, match=f"Failed to connect to '127.0.0.1:{port}': Connection refused"):
        chardev_new({"backend": "socket", "id": "c0", "host": "127.0.0.1", "port": str(port)})
    c = chardev_new({"backend": "socket", "id": "c1", "host": "127.0.0.1", "port": str(port),
                     "reconnect": "1", "nodelay": "on"})
    fe = Frontend(c)
    assert not c.connected
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    srv.settimeout(3)
    assert loop.run_until(lambda: c.connected, 3)
    conn, _ = srv.accept()
    assert c.filename.startswith("tcp:127.0.0.1:") and c.filename.endswith(f" <-> 127.0.0.1:{port}")
    c.write(b"hi")
    conn.settimeout(2)
    assert conn.recv(10) == b"hi"
    conn.close()
    assert loop.run_until(lambda: CHR_EVENT_CLOSED in fe.events, 2)
    assert loop.run_until(lambda: c.connected, 3)       # reconnected
    conn, _ = srv.accept()
    conn.sendall(b"again")
    assert loop.run_until(lambda: bytes(fe.data) == b"again", 2)
    conn.close()
    srv.close()


def test_socket_tcp_server_wait_and_telnet(loop, capsys):
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    srv.close()
    box = {}

    def client():
        for _ in range(100):
            try:
                box["s"] = socket.create_connection(("127.0.0.1", port))
                return
            except OSError:
                time.sleep(0.02)

    t = threading.Thread(target=client)
    t.start()
    c = chardev_new({"backend": "socket", "id": "t0", "host": "127.0.0.1", "port": str(port),
                     "server": "on", "telnet": "on"})          # wait=on: blocks until the client came
    t.join()
    assert "QEMU waiting for connection on: disconnected:telnet:127.0.0.1:" in capsys.readouterr().err
    s = box["s"]
    s.settimeout(2)
    fe = Frontend(c)
    assert s.recv(100) == bytes([255, 251, 1, 255, 251, 3, 255, 251, 0, 255, 253, 0])
    s.sendall(bytes([255, 253, 1]) + b"ok" + bytes([255, 255]))
    assert loop.run_until(lambda: bytes(fe.data) == b"ok\xff", 2)
    s.close()


def test_socket_write_never_blocks(loop, tmp_path):
    path = str(tmp_path / "slow.sock")
    c = chardev_new({"backend": "socket", "id": "s", "path": path, "server": "on", "wait": "off"})
    peer = _unix_client(path)
    assert loop.run_until(lambda: c.connected, 2)
    t0 = time.monotonic()
    for _ in range(300):
        c.write(b"x" * 65536)                 # the peer never reads
    assert time.monotonic() - t0 < 2
    assert len(c._outbuf) <= char.MAX_QUEUED
    peer.close()


def test_mux_escape_commands(loop):
    c = chardev_new({"backend": "null", "id": "m", "mux": "on"})
    base = char.chardev_find("m-base")
    serial = Frontend(c)
    monitor = Frontend(c)
    assert c.focus == 1                          # the last frontend attached has the focus
    assert char.CHR_EVENT_MUX_IN in monitor.events
    base.be_write(b"a\x01cb")                    # 'a' to monitor, Ctrl-A c switches, 'b' to serial
    assert bytes(monitor.data) == b"a" and bytes(serial.data) == b"b"
    assert char.CHR_EVENT_MUX_OUT in monitor.events
    base.be_write(b"\x01\x01")                   # Ctrl-A Ctrl-A sends Ctrl-A
    assert bytes(serial.data) == b"b\x01"
    out = []
    base.write = lambda data: out.append(data) or len(data)
    base.be_write(b"\x01h")
    assert out[0].startswith(b"\n\rC-a h    print this help\n\r")
    assert b"C-a C-a  sends C-a\n\r" in out[0]
    base.be_write(b"\x01x")
    assert out[-1] == b"QEMU: Terminated\n\r"


def test_mux_x_requests_shutdown(loop):
    state = runstate.VMRunState()
    runstate.set_current(state)
    try:
        c = chardev_new({"backend": "null", "id": "mx", "mux": "on"})
        Frontend(c)
        char.chardev_find("mx-base").be_write(b"\x01x")
        assert state.main_loop_should_exit() == (True, 0)
    finally:
        runstate.set_current(runstate.VMRunState())


DRIVER = textwrap.dedent("""
    import os, select, sys, time
    from pyqemu.chardev.char import chardev_new
    from pyqemu.system import main_loop
    mode = sys.argv[1]
    if mode == "loop":
        loop = main_loop.get()
        loop.install_signal_handlers()
        loop.runstate.vm_start()
    c = chardev_new({"backend": "stdio", "id": "s", "signal": "off"})
    os.write(1, b"READY\\n")
    if mode == "exc":
        select.select([0], [], [], 10)        # the test says when
        raise RuntimeError("boom")
    if mode == "loop":
        sys.exit(loop.run() + 7)
    time.sleep(30)
""")


@pytest.mark.parametrize("mode", ["exc", "sigterm", "loop"])
def test_stdio_restores_terminal(tmp_path, mode):
    import pty
    drv = tmp_path / "drv.py"
    drv.write_text(DRIVER)
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([sys.executable, str(drv), mode], stdin=slave, stdout=slave,
                         stderr=subprocess.DEVNULL)
    buf = b""
    deadline = time.monotonic() + 10
    while b"READY" not in buf and time.monotonic() < deadline:
        buf += os.read(master, 100)
    raw = termios.tcgetattr(slave)
    assert not raw[3] & termios.ECHO and not raw[3] & termios.ISIG    # raw, signal=off
    if mode in ("sigterm", "loop"):
        p.terminate()
    else:
        os.write(master, b"g")
    rc = p.wait(10)
    if mode == "loop":
        assert rc == 7                 # a clean exit (status 0) through the main loop
    assert termios.tcgetattr(slave) == before
    os.close(master)
    os.close(slave)


def test_mux_remove(loop):
    c = chardev_new({"backend": "null", "id": "mm", "mux": "on"})
    fe = Frontend(c)
    with pytest.raises(ChardevError, match="is busy"):
        char.chardev_remove("mm")
    fe.fe.detach()
    char.chardev_remove("mm")
    assert char.chardev_find("mm") is None and char.chardev_find("mm-base") is None


def test_file_input_from_regular_file(loop, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(b"x" * 10000)
    c = chardev_new({"backend": "file", "id": "fi", "path": str(tmp_path / "o"), "in": str(src)})
    fe = Frontend(c, room=20000)
    assert loop.run_until(lambda: len(fe.data) == 10000, 2)   # epoll can't watch files: polled
    loop.run_for(0.01)
    assert c.fd_in is None                                      # EOF stops the polling


MUX_DRIVER = textwrap.dedent("""
    import sys
    from pyqemu.chardev.char import chardev_close_all, chardev_new, parse_compat
    from pyqemu.system import main_loop
    loop = main_loop.get()
    loop.install_signal_handlers()
    c = chardev_new(parse_compat("mon:stdio", "serial0"))
    mon = c.set_handlers(lambda: 64, lambda d: c.write(b"mon:" + d), None)
    ser = c.set_handlers(lambda: 64, lambda d: c.write(b"ser:" + d), None)
    c.write(b"READY\\n")
    loop.runstate.vm_start()
    status = loop.run()
    chardev_close_all()
    sys.exit(status)
""")


def test_mon_stdio_mux_in_a_pty(tmp_path):
    import pty
    drv = tmp_path / "mux.py"
    drv.write_text(MUX_DRIVER)
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([sys.executable, str(drv)], stdin=slave, stdout=slave, stderr=subprocess.DEVNULL)

    def read_until(marker: bytes) -> bytes:
        buf = b""
        deadline = time.monotonic() + 10
        while marker not in buf and time.monotonic() < deadline:
            buf += os.read(master, 4096)
        return buf

    read_until(b"READY")
    os.write(master, b"a")
    assert b"ser:a" in read_until(b"ser:a")
    os.write(master, b"\x01h")
    assert b"C-a x    exit emulator\r\n\r" in read_until(b"sends C-a")
    os.write(master, b"\x01cb\x03")              # Ctrl-C reaches the frontend (signal=off)
    assert b"mon:b" in read_until(b"mon:\x03")
    os.write(master, b"\x01x")
    assert b"QEMU: Terminated" in read_until(b"Terminated")
    assert p.wait(10) == 0
    assert termios.tcgetattr(slave) == before
    os.close(master)
    os.close(slave)


def test_output_written_during_a_vcpu_slice_goes_out_when_it_ends(loop, tmp_path, monkeypatch):
    """A guest UART writes one character at a time: what a vCPU slice writes leaves in one
    write when the slice ends (not one system call per character); output from anywhere
    else is written at once."""
    base = str(tmp_path / "p")
    os.mkfifo(base + ".in")
    os.mkfifo(base + ".out")
    c = chardev_new({"backend": "pipe", "id": "p0", "path": base})
    rd = os.open(base + ".out", os.O_RDONLY | os.O_NONBLOCK)
    writes = []
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: (writes.append(bytes(data)), real_write(fd, data))[1])
    seen_in_slice = []

    def runner(budget):
        if seen_in_slice:
            return False
        for ch in b"hello":
            c.write(bytes([ch]))
        try:
            seen_in_slice.append(os.read(rd, 10))
        except BlockingIOError:
            seen_in_slice.append(b"")
        return False  # (the vCPU halts)
    loop.set_vcpu_runner(runner)
    loop.runstate.vm_start()
    assert loop.run_until(lambda: seen_in_slice, 2)
    assert seen_in_slice == [b""] and writes == [b"hello"]
    assert os.read(rd, 10) == b"hello"
    c.write(b"!")  # (not in a slice)
    assert os.read(rd, 10) == b"!" and writes == [b"hello", b"!"]
    os.close(rd)
