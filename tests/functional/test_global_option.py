"""``-global driver.property=value``: defaults for every device of a type, with QEMU's messages.

Each case runs on pyqemu-system-aarch64 and, for the messages, on real qemu-system-aarch64.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import unavailable

BASE = ["-M", "virt", "-cpu", "cortex-a57", "-nic", "none", "-display", "none", "-S"]


def _emulator(name: str) -> str:
    if name == "qemu" and shutil.which("qemu-system-aarch64") is None:
        unavailable("qemu-system-aarch64 not installed (Debian package qemu-system-arm)")
    return "qemu-system-aarch64" if name == "qemu" else "pyqemu-system-aarch64"


def _monitor(prog: str, extra: list[str], commands: str) -> subprocess.CompletedProcess:
    return subprocess.run([prog, *BASE, *extra, "-monitor", "stdio", "-serial", "none"],
                          input=commands + "\nquit\n", capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("emu", ["pyqemu", "qemu"])
@pytest.mark.parametrize(("setting", "message"), [
    ("virtio-mmio.foo=1", "can't apply global virtio-mmio.foo=1: Property 'virtio-mmio.foo' not found"),
    ("virtio-mmio.force-legacy=maybe",
     "can't apply global virtio-mmio.force-legacy=maybe: Parameter 'force-legacy' expects 'on' or 'off'"),
])
def test_a_bad_global_is_refused(emu, setting, message) -> None:
    prog = _emulator(emu)
    r = _monitor(prog, ["-global", setting], "")
    assert (r.returncode, r.stderr) == (1, f"{prog}: {message}\n")


@pytest.mark.parametrize("emu", ["pyqemu", "qemu"])
def test_a_global_changes_every_transport_and_an_unknown_type_warns(emu) -> None:
    prog = _emulator(emu)
    r = _monitor(prog, ["-global", "virtio-mmio.force-legacy=false", "-global", "nosuch.x=1"],
                 "xp /1w 0x0a000004\nxp /1w 0x0a003e04")
    assert r.returncode == 0
    assert f"{prog}: warning: global nosuch.x has invalid class name\n" in r.stderr
    # Version register: 2 (modern) on the first and the last transport
    assert "000000000a000004: 0x00000002" in r.stdout
    assert "000000000a003e04: 0x00000002" in r.stdout
