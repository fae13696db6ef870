"""HMP info commands, x/xp and the QOM tree of ``-M none -m 64M``, compared with real QEMU 7.2.

The same commands go to pyqemu-system-aarch64 and to Debian's qemu-system-aarch64
(package qemu-system-arm) over QMP (``human-monitor-command``, ``qom-list``,
``qom-get``); the answers must be the same.
"""
from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import unavailable

PYQEMU = [sys.executable, "-c",
          "import sys; from pyqemu.system.vl import main_aarch64; sys.exit(main_aarch64())"]

HMP_COMMANDS = [
    "info mtree", "info mtree -f", "info mtree -o", "info mtree -z", "info qtree", "info roms",
    "info roms x", "info registers", "info registers -a", "info registers 0", "info qom-tree",
    "info qom-tree unattached", "info qom-tree /nope", "help info mtree", "help x", "help xp",
    "x /4x 0", "xp /4x 0", "xp /4xw 0x10", "xp /2i 0", "xp", "xp /4z 0", "xp /4x foo",
    "xp /3xg 0x3fffff8", "xp /2x 0x100000000", "xp /5c 0", "xp /3d 0", "xp /3ub 0", "xp /3o 0",
    "xp /3og 0", "xp /20xb 0", "xp 0x10+0x10*2", "xp /x (1+2", "xp /x 1 2", "xp 010", "xp /4xh 2",
    "xp/2xg 0x3fffff0", "xp /2x -8", "xp /0x 0", "xp /x 7/0", "xp /x 'a'", "xp /x -(2-3)*4%3",
]


class Client:
    """A raw QMP connection to an emulator started with ``-qmp unix:SOCK``."""

    def __init__(self, argv: list[str], sock: Path) -> None:
        self.proc = subprocess.Popen(argv + ["-qmp", f"unix:{sock},server=on,wait=off"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        for _ in range(1200):  # up to 30 s: a loaded CI machine starts Python slowly
            if sock.exists() or self.proc.poll() is not None:
                break
            time.sleep(0.025)
        for _ in range(200):  # the path exists from bind(); connecting waits for listen()
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(20)
            try:
                self.sock.connect(str(sock))
                break
            except (ConnectionRefusedError, FileNotFoundError):
                self.sock.close()
                time.sleep(0.025)
        else:
            self.proc.kill()
            raise AssertionError(f"cannot connect to {argv[0]}'s QMP socket")
        self.file = self.sock.makefile("rw")
        self.file.readline()  # greeting
        self.call("qmp_capabilities")

    def call(self, command: str, **args: object) -> dict:
        self.file.write(json.dumps({"execute": command, "arguments": args}) + "\n")
        self.file.flush()
        while True:
            reply = json.loads(self.file.readline())
            if "event" not in reply:
                return reply

    def hmp(self, line: str) -> str:
        reply = self.call("human-monitor-command", **{"command-line": line})["return"]
        return reply.replace("\r\n", "\n")  # the monitor's line ends, on both sides

    def close(self) -> None:
        self.sock.close()
        self.proc.kill()
        self.proc.wait()


def _start(argv: list[str], tmp_path: Path, name: str) -> Client:
    return Client(argv + ["-M", "none", "-display", "none", "-nodefaults", "-m", "64M",
                          "-chardev", "null,id=n0", "-chardev", "ringbuf,id=r0"], tmp_path / f"{name}.sock")


@pytest.fixture
def ours(tmp_path: Path) -> Iterator[Client]:
    c = _start(PYQEMU, tmp_path, "ours")
    yield c
    c.close()


@pytest.fixture
def real(tmp_path: Path) -> Iterator[Client]:
    exe = shutil.which("qemu-system-aarch64")
    if exe is None:
        unavailable("qemu-system-aarch64 not installed (Debian package qemu-system-arm)")
    c = _start([exe], tmp_path, "real")
    yield c
    c.close()


def normalize(text: str) -> str:
    """QEMU prints address spaces in hash-table (pointer) order, which varies run to run."""
    if not text.startswith(("address-space:", "FlatView #")):
        return text
    blocks = re.sub(r"FlatView #\d+", "FlatView #N", text).split("\n\n")
    return "\n\n".join(sorted(blocks))


def walk(c: Client, path: str = "/") -> dict[str, list]:
    """Every object's qom-list and every readable property's qom-get, recursively."""
    props = c.call("qom-list", path=path)["return"]
    out = {path: [(p["name"], p["type"], c.call("qom-get", path=path, property=p["name"]))
                  for p in props]}
    for p in props:
        if p["type"].startswith("child<") and not path.startswith("/chardevs"):
            out.update(walk(c, path.rstrip("/") + "/" + p["name"]))
    return out


def test_hmp_outputs_match_qemu(ours: Client, real: Client) -> None:
    for line in HMP_COMMANDS:
        assert normalize(ours.hmp(line)) == normalize(real.hmp(line)), line
    help_ours = ours.hmp("help info").splitlines()
    help_real = real.hmp("help info").splitlines()
    for entry in help_ours:
        assert entry in help_real


def test_qom_tree_matches_qemu(ours: Client, real: Client) -> None:
    a, b = walk(ours), walk(real)
    # Our QMP socket is not a chardev (QEMU's is /chardevs/compat_monitor0), and as it comes
    # first in QEMU's hash table it changes the order of the others: compare /chardevs as a set.
    chardevs = [sorted(p for p in tree.pop("/chardevs") if p[0] != "compat_monitor0") for tree in (a, b)]
    assert chardevs[0] == chardevs[1]
    assert [p[0] for p in chardevs[0]] == ["n0", "r0", "type"]
    assert a == b
    for path in ("", "ram", "container", "memory-backend", "unattached/sysbus", "//machine", "/machine/",
                 "nope", "/objects/ram/ram[0]/container"):
        assert ours.call("qom-list", path=path) == real.call("qom-list", path=path), path
    for path, prop in (("/machine", "nope"), ("/machine/unattached", "sysbus"), ("nope", "type")):
        assert (ours.call("qom-get", path=path, property=prop)
                == real.call("qom-get", path=path, property=prop)), (path, prop)
    assert ours.call("query-cpus-fast") == real.call("query-cpus-fast") == {"return": []}
    for path, prop, value in (("/machine", "nope", 1), ("/machine/unattached/system[0]", "addr", 1),
                              ("/machine", "dt-compatible", "bar"), ("/machine", "graphics", "x"),
                              ("/nope", "graphics", True), ("/machine", "graphics", False),
                              ("/machine", "type", "x"), ("/machine", "phandle-start", "x")):
        assert (ours.call("qom-set", path=path, property=prop, value=value)
                == real.call("qom-set", path=path, property=prop, value=value)), (path, prop, value)
    for prop in ("dt-compatible", "graphics"):
        assert ours.call("qom-get", path="/machine", property=prop) == real.call(
            "qom-get", path="/machine", property=prop)


def test_our_outputs_alone(ours: Client) -> None:
    """The key facts without the reference, so they are checked wherever QEMU is missing."""
    assert ours.hmp("info mtree -f").count("0000000000000000-0000000003ffffff (prio 0, ram): ram") == 1
    assert ours.hmp("info qtree") == "bus: main-system-bus\n  type System\n"
    assert ours.hmp("info registers") == "No CPU available\n"
    assert ours.hmp("x /4x 0") == "Can not dump without CPU\n"
    assert ours.hmp("xp /2x 0x3fffffc") == "0000000003fffffc: Cannot access memory\n"
    assert ours.hmp("xp /2x 0x3fffff8") == "0000000003fffff8: 0x00000000 0x00000000\n"
    assert ours.hmp("xp /4x 0x4000000") == "0000000004000000: Cannot access memory\n"
    assert ours.call("qom-get", path="/objects/ram", property="size") == {"return": 64 << 20}
    assert ours.call("query-cpus-fast") == {"return": []}


def test_no_ram_without_m(tmp_path: Path) -> None:
    c = Client(PYQEMU + ["-M", "none", "-display", "none"], tmp_path / "s.sock")
    try:
        assert c.hmp("xp 0") == "0000000000000000: Cannot access memory\n"
        assert " Root memory region: (none)\n  No rendered FlatView\n" in c.hmp("info mtree -f")
        assert "objects" not in [p["name"] for p in c.call("qom-list", path="/")["return"]]
    finally:
        c.close()


MACHINE_OPTS = ["-boot", "order=dc", "-M", "none,dt-compatible=foo,graphics=off,usb=on,dump-guest-core=off,"
                "mem-merge=off,suppress-vmdesc=on,phandle-start=5", "-bios", "/dev/null"]


def test_machine_properties_match_qemu(tmp_path: Path) -> None:
    exe = shutil.which("qemu-system-aarch64")
    if exe is None:
        unavailable("qemu-system-aarch64 not installed (Debian package qemu-system-arm)")
    clients = [Client(argv + ["-display", "none", "-nodefaults"] + MACHINE_OPTS, tmp_path / f"{i}.sock")
               for i, argv in enumerate((PYQEMU, [exe]))]
    try:
        ours, real = (walk(c, "/machine")["/machine"] for c in clients)
        assert ours == real
        assert ("boot", "BootConfiguration", {"return": {"order": "dc"}}) in ours
    finally:
        for c in clients:
            c.close()
    for argv in (PYQEMU, [exe]):  # -M none has nothing to load a kernel with
        p = subprocess.run(argv + ["-M", "none", "-display", "none", "-kernel", "/dev/null"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 1
        assert p.stderr.split(": ", 1)[1] == (
            "The -kernel parameter is not supported (use the generic 'loader' device instead).\n")
