"""The human monitor: each command's output, the readline echo, mux focus, human-monitor-command.

Expected texts are QEMU 7.2's (``qemu-system-aarch64 -M none -monitor stdio``).
"""
from __future__ import annotations

import json

from pyqemu.monitor import FakeRunState, Monitor, Providers, StubQOMTree
from pyqemu.monitor.hmp import CHR_EVENT_MUX_IN, CHR_EVENT_MUX_OUT, CHR_EVENT_OPENED, HMP, HMPSession
from pyqemu.monitor.providers import VMIdentity


def make(status: str = "running", name: str | None = "myvm") -> tuple[HMP, FakeRunState, list]:
    events: list = []
    providers = Providers(identity=VMIdentity(name=name), qom=StubQOMTree())
    providers.runstate = FakeRunState(lambda n, d: events.append(n), status=status)
    chardevs = [{"label": "compat_monitor0", "filename": "stdio", "frontend-open": True}]
    hmp = HMP(providers, {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": "pyqemu 0.1.0"},
              lambda: chardevs)
    return hmp, providers.runstate, events


def test_info_status() -> None:
    hmp, rs, events = make()
    assert hmp.execute("info status") == "VM status: running\n"
    assert hmp.execute("stop") == ""
    assert hmp.execute("  info   status  ") == "VM status: paused\n"
    assert hmp.execute("c") == ""
    assert hmp.execute("info status") == "VM status: running\n"
    assert hmp.execute("s") == ""
    assert hmp.execute("cont") == ""
    assert events == ["STOP", "RESUME", "STOP", "RESUME"]
    assert make("prelaunch")[0].execute("info status") == "VM status: paused (prelaunch)\n"


def test_info_others() -> None:
    hmp, _, _ = make()
    assert hmp.execute("info version") == "7.2.0 (pyqemu 0.1.0)\n"
    assert hmp.execute("info name") == "myvm\n"
    assert make(name=None)[0].execute("info name") == ""
    assert hmp.execute("info chardev") == "compat_monitor0: filename=stdio\n"
    assert hmp.execute("info foo") == "unknown command: 'info foo'\n"
    listing = hmp.execute("info").splitlines()   # other subsystems add theirs (info block...)
    assert "info chardev  -- show the character devices" in listing
    assert listing == sorted(listing)   # by name, as QEMU's help
    assert hmp.execute("info status x") == (
        "status: extraneous characters at the end of line\n"
        "Try \"help info status\" for more information\n")


def test_reset_powerdown_quit() -> None:
    hmp, rs, events = make()
    hmp.execute("system_reset")
    hmp.execute("system_powerdown")
    assert (rs.resets, rs.powerdowns) == (1, 1)
    hmp.execute("q")
    assert hmp.quitting and events == ["RESET", "POWERDOWN", "SHUTDOWN"]


def test_cont_error() -> None:
    hmp, _, _ = make("shutdown")
    assert hmp.execute("cont") == "Error: Resetting the Virtual Machine is required\n"


def test_help_and_unknown() -> None:
    hmp, _, _ = make()
    text = hmp.execute("help")
    assert "cont|c  -- resume emulation\n" in text
    assert "help|? [cmd] -- show the help\n" in text
    assert "quit|q  -- quit the emulator\n" in text
    assert "stop|s  -- stop emulation\n" in text
    assert hmp.execute("?") == text
    assert hmp.execute("help stop") == "stop|s  -- stop emulation\n"
    assert hmp.execute("help foo") == "unknown command: 'foo'\n"
    assert hmp.execute("foo") == "unknown command: 'foo'\n"
    assert hmp.execute("xyz abc") == "unknown command: 'xyz'\n"
    assert hmp.execute("") == ""
    assert hmp.execute("stop now") == (
        "stop|s: extraneous characters at the end of line\n"
        "Try \"help stop\" for more information\n")


def test_session_echo_matches_qemu() -> None:
    hmp, _, _ = make()
    out = bytearray()
    s = HMPSession(hmp, out.extend)
    s.event(CHR_EVENT_OPENED)
    assert out == b"QEMU 7.2.0 monitor - type 'help' for more information\r\n(qemu) "
    out.clear()
    s.feed(b"sto")
    assert out == b"s\x1b[K\x1b[Dst\x1b[K\x1b[D\x1b[Dsto\x1b[K"
    out.clear()
    s.feed(b"p\r")
    assert out == b"\x1b[D\x1b[D\x1b[Dstop\x1b[K\r\n(qemu) "
    out.clear()
    s.feed(b"ab\x7fc\n")   # backspace, and LF ends a line as CR does
    assert out == (b"a\x1b[K\x1b[Dab\x1b[K\x1b[D\x1b[Da\x1b[K\x1b[Dac\x1b[K\r\n"
                   b"unknown command: 'ac'\r\n(qemu) ")
    out.clear()
    s.feed(b"info status\r")
    assert out.endswith(b"\r\nVM status: paused\r\n(qemu) ")
    out.clear()
    s.feed(b"q\r")
    assert out == b"q\x1b[K\r\n"    # no prompt after quit


def test_session_editing_and_history() -> None:
    hmp, _, _ = make()
    s = HMPSession(hmp, lambda b: None)
    s.feed(b"sop\x1b[D\x1b[Dt")      # left twice, insert
    assert s.buf == "stop" and s.cursor == 2
    s.feed(b"\x05\x01\x1b[3~")        # end, home, delete
    assert s.buf == "top" and s.cursor == 0
    s.feed(b"\x05\x7f\x7f\x7f\x7f")
    assert s.buf == ""
    s.feed(b"info name\r\x1b[A")
    assert s.buf == "info name"
    s.feed(b"\x1b[B")
    assert s.buf == ""


def test_session_mux_focus() -> None:
    hmp, _, _ = make()
    out = bytearray()
    s = HMPSession(hmp, out.extend)
    s.event(CHR_EVENT_MUX_IN)
    s.event(CHR_EVENT_OPENED)
    out.clear()
    s.event(CHR_EVENT_MUX_OUT)
    assert out == b"\r\n"
    out.clear()
    s.puts("held\n")
    assert out == b""
    s.event(CHR_EVENT_MUX_IN)
    assert out == b"held\r\n(qemu) "


def test_human_monitor_command() -> None:
    mon = Monitor(Providers(identity=VMIdentity(name="vm1"), qom=StubQOMTree()))
    mon.providers.runstate = FakeRunState(mon.events.emit)
    mon.providers.hmp = HMP(mon.providers, mon.version())
    out = bytearray()
    session = mon.session(out.extend)
    session.greet()
    session.feed(b'{"execute":"qmp_capabilities"}')
    out.clear()
    replies = []
    for line in ("stop", "info status", "info name", "info version", "bogus"):
        arg = json.dumps({"execute": "human-monitor-command", "arguments": {"command-line": line}})
        session.feed(arg.encode())
        replies += [json.loads(x) for x in out.decode().split("\r\n") if x and '"return"' in x]
        out.clear()
    from pyqemu import __version__
    assert [r["return"] for r in replies] == [
        "", "VM status: paused\r\n", "vm1\r\n", f"7.2.0 (pyqemu {__version__})\r\n",
        "unknown command: 'bogus'\r\n"]
