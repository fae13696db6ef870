"""vl.parse: QEMU's default_monitor rules, chardev creation order, -daemonize conflicts."""
from __future__ import annotations

import pytest

from pyqemu.system import vl


def parse(*args: str):
    return vl.parse(["-M", "none", *args], warn=lambda _m: None)


@pytest.mark.parametrize("args, default", [
    ((), True),
    (("-monitor", "none"), False),
    (("-qmp", "unix:/tmp/x,server=on,wait=off"), False),
    (("-chardev", "null,id=n", "-mon", "n"), False),
    (("-serial", "mon:stdio"), False),
    (("-serial", "stdio"), True),
    (("-nodefaults",), False),
])
def test_default_monitor(args, default):
    assert parse(*args).default_monitor is default


def test_chardev_creation_order_follows_qemu():
    cfg = parse("-serial", "mon:stdio", "-chardev", "ringbuf,id=r,mux=on", "-qmp", "unix:/tmp/q,server=on",
                "-chardev", "null,id=n", "-nographic")
    # -nographic adds no monitor here: -serial mon: and -qmp cleared default_monitor.
    assert cfg.chardev_order == ["r-base", "r", "compat_monitor0", "n", "serial0-base", "serial0"]
    assert parse("-nographic", "-chardev", "null,id=n").chardev_order == ["n", "compat_monitor0"]


def test_locations_kept_for_messages():
    cfg = parse("-chardev", "null,id=n", "-serial", "null", "-monitor", "stdio")
    assert cfg.chardev_locs == ["-chardev null,id=n"]
    assert cfg.serial_locs == ["-serial null"]
    assert cfg.monitors[0].loc == "-monitor stdio"


def test_daemonize_refuses_nographic(capsys):
    assert vl.main(["-M", "none", "-daemonize", "-nographic"]) == 1     # before forking
    assert capsys.readouterr().err == "pyqemu-system-aarch64: -nographic cannot be used with -daemonize\n"
    assert parse("-daemonize", "-pidfile", "/tmp/p").pidfile == "/tmp/p"
