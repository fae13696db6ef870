"""Debian's U-Boot reads and writes disks on virtio-mmio, virtio-pci and NVMe (issue 6, acceptance 1).

For each bus one U-Boot session on ``-M virt`` with two disks on that bus:
* ``fat``: FAT (mkfs.vfat + mcopy), 32 MiB, **qcow2**, holding a.bin and b.txt;
* ``ext``: ext4 (mkfs.ext4 -d) in the first 40 MiB of a 48 MiB **raw** image, holding c.bin.
The devices are told apart by capacity (``virtio info`` / ``nvme info``). U-Boot then: ``scan``,
``info``, ``device``, ``<if> read`` of the first 64 KiB of each disk (the ``crc32`` U-Boot computes
must be the host's zlib.crc32 of those sectors), ``ls``, ``load`` + ``crc32`` + ``md.b`` of every
file (byte for byte what the host put there), ``fatwrite`` of 12 KiB of RAM into the qcow2 FAT
image, and ``<if> write`` of one raw block past the ext4 filesystem. After ``poweroff`` (status 0)
real ``qemu-img check`` passes on the qcow2 image, mtools reads the written file back (after a
``qemu-img convert`` to raw) and the raw block is in the ext image.

The same test runs on qemu-system-aarch64 (param "qemu") and pyqemu-system-aarch64 ("pyqemu").
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boot_assets  # noqa: E402
import storage_assets as sa  # noqa: E402
from conftest import unavailable  # noqa: E402
from debian_pkgs import PackageUnavailable  # noqa: E402
from uboot_shell import UBootShell  # noqa: E402

EMULATORS = {"qemu": "qemu-system-aarch64", "pyqemu": "pyqemu-system-aarch64"}
# bus -> (U-Boot interface, -device arguments for drives "fat" and "ext"). NVMe: one controller with
# two namespaces, as U-Boot 2023.01 cannot take two controllers ("Adding disk for nvme#1.blk#1 failed").
BUSES = {
    "virtio-mmio": ("virtio", ["virtio-blk-device,drive=fat,serial=pyqemu-fat",
                               "virtio-blk-device,drive=ext,serial=pyqemu-ext"]),
    "virtio-pci": ("virtio", ["virtio-blk-pci,drive=fat,serial=pyqemu-fat",
                              "virtio-blk-pci,drive=ext,serial=pyqemu-ext"]),
    "nvme": ("nvme", ["nvme,id=nvme0,serial=pyqemu-nvme", "nvme-ns,drive=fat,bus=nvme0",
                      "nvme-ns,drive=ext,bus=nvme0"]),
}
FAT_MIB, EXT_MIB, EXT_FS_MIB = 32, 48, 40
RAW_BLOCK = (EXT_FS_MIB << 20) // 512 + 100     # a 512-byte block past the ext4 filesystem
ADDR = 0x50000000                               # load address: RAM, far from U-Boot and the DTB
WRITE_OFF, WRITE_LEN = 0x100, 0x3000            # fatwrite's source: inside the last file loaded
FILES = {
    "fat": {"b.txt": b"hello from the host, FAT\n" * 3, "a.bin": sa.data(1, 100_000)},  # a.bin: loaded last

    "ext": {"c.bin": sa.data(2, 70_001)},
}


@pytest.fixture(scope="module")
def uboot() -> Path:
    missing = sa.missing_tools()
    if missing:
        unavailable(f"not installed: {', '.join(missing)}")
    try:
        return boot_assets.uboot_qemu_arm64()
    except (PackageUnavailable, OSError, subprocess.SubprocessError) as exc:
        unavailable(f"cannot fetch u-boot-qemu: {exc}")


def _devices(info: list[str]) -> dict[int, int]:
    """``<if> info`` -> {device number: capacity in 512-byte blocks}."""
    out: dict[int, int] = {}
    dev = None
    for line in info:
        m = re.match(r"\s*Device (\d+):", line)
        if m:
            dev = int(m.group(1))
        m = re.search(r"Capacity: .*\((\d+) x 512\)", line)
        if m and dev is not None:
            out[dev] = int(m.group(1))
    return out


def _session(emulator: str, bios: Path, iface: str, devices: list[str], images: dict[str, Path],
             raw_heads: dict[str, bytes]) -> dict[str, object]:
    """Run the commands; assert on U-Boot's answers as they come; return what the host checks later."""
    extra = []
    for name, image in images.items():
        fmt = "qcow2" if image.suffix == ".qcow2" else "raw"
        extra += ["-drive", f"if=none,id={name},file={image},format={fmt}"]
    for dev in devices:
        extra += ["-device", dev]
    slow = emulator == "pyqemu"
    with UBootShell(EMULATORS[emulator], str(bios), extra, boot_timeout=120 if slow else 30,
                    cmd_timeout=120 if slow else 20) as u:
        assert u.run(f"{iface} scan") == []
        info = u.run(f"{iface} info")
        caps = _devices(info)
        by_blocks = {FAT_MIB << 11: "fat", EXT_MIB << 11: "ext"}
        assert sorted(caps.values()) == sorted(by_blocks), info
        num = {by_blocks[blocks]: n for n, blocks in caps.items()}
        for name, n in num.items():
            shown = u.run(f"{iface} device {n}")
            assert any(re.match(rf"\s*Device {n}: ", line) for line in shown), shown
            assert shown[-1].strip() == "... is now current device", shown
            got = "\n".join(u.run(f"{iface} read {ADDR:#x} 0 0x80"))
            assert re.search(rf"device {n} block # 0, count 128 \.\.\. 128 blocks read: OK", got), got
            assert u.crc32(ADDR, 0x10000) == zlib.crc32(raw_heads[name]), name

            listing = "\n".join(u.run(f"ls {iface} {n}"))
            for fname, content in FILES[name].items():
                assert re.search(rf"^\s*{len(content)}\s+{re.escape(fname)}$", listing, re.M), listing
                got = "\n".join(u.run(f"load {iface} {n} {ADDR:#x} {fname}"))
                assert re.search(rf"^{len(content)} bytes read in \d+ ms", got, re.M), got
                assert u.run("printenv filesize") == [f"filesize={len(content):x}"]
                assert u.crc32(ADDR, len(content)) == zlib.crc32(content), fname
                dump = u.run(f"md.b {ADDR:#x} 0x10")
                assert bytes.fromhex(dump[0][10:57]) == content[:16], dump
            last = list(FILES[name].values())[-1]
            if name == "fat":
                got = "\n".join(u.run(f"fatwrite {iface} {n} {ADDR + WRITE_OFF:#x} out.bin {WRITE_LEN:#x}"))
                assert re.search(rf"^{WRITE_LEN} bytes written", got, re.M), got
                listing = "\n".join(u.run(f"ls {iface} {n}"))
                assert re.search(rf"^\s*{WRITE_LEN}\s+out\.bin$", listing, re.M), listing
                written = last[WRITE_OFF:WRITE_OFF + WRITE_LEN]
            else:
                got = "\n".join(u.run(f"{iface} write {ADDR:#x} {RAW_BLOCK:#x} 1"))
                assert re.search(rf"block # {RAW_BLOCK}, count 1 \.\.\. 1 blocks written: OK", got), got
                raw_block = last[:512]
        status = u.poweroff()
        tail = u.p.out[-3000:].decode(errors="replace")
    assert status == 0, tail
    return {"fatwrite": written, "raw_block": raw_block}


# One worker runs the storage boots one after another (scripts/test.sh: --dist loadgroup): under
# pyqemu, U-Boot's 3 s NVMe command timeout was hit twice while the Linux storage boot ran beside it.
@pytest.mark.xdist_group("storage-boots")
@pytest.mark.parametrize("bus", list(BUSES))
@pytest.mark.parametrize("emulator", list(EMULATORS))
def test_uboot_disk_commands(emulator: str, bus: str, uboot: Path, tmp_path: Path) -> None:
    if shutil.which(EMULATORS[emulator]) is None:
        unavailable(f"{EMULATORS[emulator]} not installed")
    iface, devices = BUSES[bus]
    fat_raw = sa.make_fat(tmp_path / "fat.raw", FILES["fat"], FAT_MIB)
    ext = sa.make_ext4(tmp_path / "ext.img", FILES["ext"], EXT_MIB, EXT_FS_MIB)
    heads = {"fat": fat_raw.read_bytes()[:0x10000], "ext": ext.read_bytes()[:0x10000]}
    images = {"fat": sa.to_qcow2(fat_raw, tmp_path / "fat.qcow2"), "ext": ext}
    fat_raw.unlink()
    result = _session(emulator, uboot, iface, devices, images, heads)

    check = sa.qemu_img_check(images["fat"])
    assert check.returncode == 0, (check.stdout, check.stderr)
    assert "No errors were found on the image." in check.stdout, check.stdout
    assert sa.fat_read(images["fat"], "out.bin") == result["fatwrite"]
    for fname, content in FILES["fat"].items():
        assert sa.fat_read(images["fat"], fname) == content, fname
    with open(ext, "rb") as f:
        f.seek(RAW_BLOCK * 512)
        assert f.read(512) == result["raw_block"]
    assert sa.ext4_read(ext, "c.bin") == FILES["ext"]["c.bin"]
