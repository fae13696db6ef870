"""Debian's U-Boot enumerates PCI behind bridges: two pcie-root-ports and a pci-bridge behind one
of them, with a virtio-blk-pci disk behind a root port and one behind the pci-bridge. Its ``pci``
listings, the headers it programs (bus numbers, windows, command, BARs) and what it reads from
the disks through the windows must be what it prints on qemu-system-aarch64."""
from __future__ import annotations

import subprocess
import sys
import zlib
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
           "-device", "pcie-root-port,id=rp2,chassis=3,slot=4",
           "-device", "virtio-blk-pci,drive=d1,bus=rp2", "-device", "virtio-blk-pci,drive=d2,bus=br,addr=5"]
COMMANDS = ["pci", "pci 1", "pci 2", "pci 3", "pci header 0.1.0", "pci header 0.2.0",
            "pci header 1.0.0", "pci display.l 1.0.0 40 10", "pci header 3.0.0", "pci header 2.5.0",
            "virtio scan", "virtio info", "virtio read 0x50000000 0 8", "crc32 0x50000000 0x1000",
            "virtio dev 1", "virtio read 0x50000000 0 8", "crc32 0x50000000 0x1000"]


def _transcript(emulator: str, bios: Path, disks: list[Path]) -> list[tuple[str, list[str]]]:
    slow = emulator.startswith("pyqemu")
    drives = []
    for n, disk in enumerate(disks, 1):
        drives += ["-drive", f"if=none,id=d{n},file={disk},format=raw,readonly=on"]
    with UBootShell(emulator, str(bios), drives + DEVICES, boot_timeout=120 if slow else 30,
                    cmd_timeout=60 if slow else 20) as u:
        out = [(cmd, u.run(cmd)) for cmd in COMMANDS]
        assert u.poweroff() == 0
    return out


@pytest.fixture(scope="module")
def uboot() -> Path:
    try:
        return boot_assets.uboot_qemu_arm64()
    except (PackageUnavailable, OSError, subprocess.SubprocessError) as exc:
        unavailable(f"cannot fetch u-boot-qemu: {exc}")


def test_uboot_enumerates_behind_bridges_as_on_qemu(uboot: Path, tmp_path: Path) -> None:
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    disks = []
    for n, mult in ((1, 7), (2, 13)):            # 1 MiB each, different contents
        disk = tmp_path / f"d{n}.img"
        disk.write_bytes(bytes((i * mult + i // 4096) & 0xFF for i in range(1 << 20)))
        disks.append(disk)
    expected = _transcript("qemu-system-aarch64", uboot, disks)
    got = _transcript("pyqemu-system-aarch64", uboot, disks)
    exp = dict(expected)
    assert "01.00.00   0x1b36     0x0001     Bridge device           0x04" in exp["pci"]
    assert any("2048 x 512" in line for line in exp["virtio info"])
    for (cmd, ours), (_, theirs) in zip(got, expected, strict=True):
        assert ours == theirs, cmd
    crcs = {int(out[-1].split("==> ")[1], 16) for cmd, out in got if cmd.startswith("crc32")}
    assert crcs == {zlib.crc32(d.read_bytes()[:4096]) for d in disks}   # both disks, both paths
