"""Debian's U-Boot enumerates PCI behind bridges: two pcie-root-ports and a pci-bridge behind one
of them. Its ``pci`` listings and the headers it programs (bus numbers, windows, command) must be
what it prints on qemu-system-aarch64 (a ~15 s boot under pyqemu)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functional"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boot_assets  # noqa: E402
from conftest import unavailable  # noqa: E402
from debian_pkgs import PackageUnavailable  # noqa: E402
from qtest_support import qemu_available  # noqa: E402
from uboot_shell import UBootShell  # noqa: E402

DEVICES = ["-device", "pcie-root-port,id=rp1,chassis=1", "-device", "pci-bridge,chassis_nr=2,bus=rp1,id=br",
           "-device", "pcie-root-port,id=rp2,chassis=3,slot=4"]
COMMANDS = ["pci", "pci 1", "pci 2", "pci 3", "pci header 0.1.0", "pci header 0.2.0",
            "pci header 1.0.0", "pci display.l 1.0.0 40 10"]


def _transcript(emulator: str, bios: Path) -> dict[str, list[str]]:
    slow = emulator.startswith("pyqemu")
    with UBootShell(emulator, str(bios), DEVICES, boot_timeout=120 if slow else 30,
                    cmd_timeout=60 if slow else 20) as u:
        out = {cmd: u.run(cmd) for cmd in COMMANDS}
        assert u.poweroff() == 0
    return out


@pytest.fixture(scope="module")
def uboot() -> Path:
    try:
        return boot_assets.uboot_qemu_arm64()
    except (PackageUnavailable, OSError, subprocess.SubprocessError) as exc:
        unavailable(f"cannot fetch u-boot-qemu: {exc}")


def test_uboot_enumerates_behind_bridges_as_on_qemu(uboot: Path) -> None:
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    expected = _transcript("qemu-system-aarch64", uboot)
    got = _transcript("pyqemu-system-aarch64", uboot)
    assert "01.00.00   0x1b36     0x0001     Bridge device           0x04" in expected["pci"]
    for cmd in COMMANDS:
        assert got[cmd] == expected[cmd], cmd
