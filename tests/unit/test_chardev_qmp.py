"""Chardev QMP commands (query-chardev, query-chardev-backends, ringbuf-read/-write) on a QMPSession.

Expected replies were captured from qemu-system-aarch64 7.2.
"""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pyqemu.chardev import char, qmp_commands
from pyqemu.monitor import FakeRunState, Monitor, Providers, StubQOMTree


@pytest.fixture
def wire() -> Iterator:
    char.chardev_close_all()
    for opts in ({"backend": "ringbuf", "id": "rb"}, {"backend": "null", "id": "n"},
                 {"backend": "ringbuf", "id": "m", "size": "4"}):
        char.chardev_new(opts)
    mon = Monitor(Providers(qom=StubQOMTree()))
    mon.providers.runstate = FakeRunState(mon.events.emit)
    qmp_commands.register(mon.registry)
    out = bytearray()
    session = mon.session(out.extend)
    session.greet()

    def send(cmd: str, **args: object) -> str:
        out.clear()
        session.feed(json.dumps({"execute": cmd, "arguments": args}).encode())
        return out.decode().strip()

    send("qmp_capabilities")
    yield send
    char.chardev_close_all()


ERR = '{"error": {"class": "GenericError", "desc": "%s"}}'


@pytest.mark.parametrize("cmd,args,reply", [
    ("ringbuf-read", {"device": "nope", "size": 0}, ERR % "Device 'nope' not found"),
    ("ringbuf-write", {"device": "nope", "data": "x"}, ERR % "Device 'nope' not found"),
    ("ringbuf-write", {"device": "n", "data": "x"}, ERR % "n is not a ringbuf device"),
    ("ringbuf-read", {"device": "n", "size": 0}, ERR % "n is not a ringbuf device"),
    ("ringbuf-read", {"device": "rb", "size": 0}, ERR % "size must be greater than zero"),
    ("ringbuf-read", {"device": "rb", "size": -1}, ERR % "size must be greater than zero"),
    ("ringbuf-read", {"device": "rb", "size": 5}, '{"return": ""}'),
    ("ringbuf-write", {"device": "rb", "data": "QQ=!", "format": "base64"},
     ERR % "Base64 data contains invalid characters"),
    ("ringbuf-write", {"device": "rb", "data": "QQ\u0000=", "format": "base64"},
     ERR % "Base64 data contains invalid characters"),
    ("ringbuf-write", {"device": "rb", "data": "x", "format": "hex"},
     ERR % "Parameter 'format' does not accept value 'hex'"),
    ("ringbuf-write", {"device": "rb"}, ERR % "Parameter 'data' is missing"),
    ("ringbuf-read", {"device": "rb", "size": "1"},
     ERR % "Invalid parameter type for 'size', expected: integer"),
])
def test_errors(wire, cmd: str, args: dict, reply: str) -> None:
    assert wire(cmd, **args) == reply


@pytest.mark.parametrize("data,fmt,size,rfmt,reply", [
    ("hello w\u00f6rld\u0001", "utf8", 100, "utf8", '"hello w\\u00F6rld\\u0001"'),
    ("aGVsbG8=", "base64", 100, "base64", '"aGVsbG8="'),
    ("aGVsbG8", "base64", 100, "base64", '"aGVs"'),        # glib drops an incomplete group
    ("QQ", "base64", 100, "base64", '""'),
    ("QQ==QQ==\nQUJD", "base64", 100, "base64", '"QUFBQkM="'),
    ("a=b=", "base64", 100, "base64", '"aAY="'),
    ("ab\u0000cd", "utf8", 100, "utf8", '"ab\\u0000cd"'),  # NUL travels as C0 80
    ("/4D/AGE=", "base64", 100, "utf8", '"\\uFFFD\\uFFFD\\uFFFD"'),  # stops at NUL
    ("wIBh4oKs8J+YgO2goA==", "base64", 100, "utf8", '"\\u0000a\\u20AC\\uD83D\\uDE00\\uFFFD"'),
    ("hello", "utf8", 3, "utf8", '"hel"'),
])
def test_write_then_read(wire, data: str, fmt: str, size: int, rfmt: str, reply: str) -> None:
    assert wire("ringbuf-write", device="rb", data=data, format=fmt) == '{"return": {}}'
    assert wire("ringbuf-read", device="rb", size=size, format=rfmt) == f'{{"return": {reply}}}'


def test_small_ring_keeps_the_newest_bytes(wire) -> None:
    wire("ringbuf-write", device="m", data="abcdef")
    assert wire("ringbuf-read", device="m", size=100) == '{"return": "cdef"}'
    assert wire("ringbuf-read", device="m", size=100) == '{"return": ""}'


def test_query_chardev_order_and_format(wire) -> None:
    # QEMU's order for these three chardevs (reverse glib hash-table order), checked with 7.2.
    assert wire("query-chardev") == (
        '{"return": [{"frontend-open": false, "filename": "ringbuf", "label": "m"}, '
        '{"frontend-open": false, "filename": "null", "label": "n"}, '
        '{"frontend-open": false, "filename": "ringbuf", "label": "rb"}]}')


def test_glib_table_order_matches_qemu() -> None:
    # From qemu-system-aarch64 7.2's query-chardev (reversed), compat_monitor0 created first.
    keys = ["compat_monitor0", "rb", "n", "s", "m", "mx-base", "mx"]
    assert list(reversed(qmp_commands.glib_table_order(keys))) == [
        "mx", "m", "n", "mx-base", "rb", "compat_monitor0", "s"]


def test_query_chardev_backends_in_qemu_order(wire) -> None:
    names = [b["name"] for b in json.loads(wire("query-chardev-backends"))["return"]]
    assert names[:3] == ["memory", "file", "socket"]
    assert set(names) >= {"ringbuf", "null", "pty", "pipe", "stdio"}
