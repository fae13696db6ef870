#!/usr/bin/env python3
"""Disk images and a module-loading initramfs for the storage tests (issue 6).

* ``make_fat(path, files, size_mib)`` / ``make_ext4(path, files, size_mib, fs_mib)``: a raw image
  holding a whole-disk filesystem (no partition table: U-Boot's ``ls virtio 0`` and Linux both
  use a whole-disk filesystem) with ``files`` (name -> bytes) in its root directory, built with
  mkfs.vfat + mcopy (mtools) or ``mkfs.ext4 -d``: no root, no mounts.
* ``to_qcow2(raw, out)``: real ``qemu-img convert -O qcow2`` (sparse: zero clusters stay holes).
* ``fat_read(image, name)`` / ``ext4_read(image, name)``: a file's bytes from an image (raw or
  qcow2, converted to raw first) with mtools / debugfs, None when the file is not there.
* ``modules_initramfs(script)``: boot_assets' busybox initramfs plus the kernel modules (from the
  same linux-image deb as the kernel) for virtio-mmio, virtio-pci, virtio-blk, NVMe and ext4 with
  their dependencies (read from each module's .modinfo: the deb has no modules.dep), and an /init
  that insmods them, runs ``script`` (busybox sh), prints INIT_DONE and powers off (``-f``).
  Debian's modules are plain ``.ko`` files (not compressed): busybox insmod loads them as they are.
* ``data(seed, n)``: deterministic test bytes.

Tools: ``missing_tools()`` names the host tools not installed (dosfstools, mtools, e2fsprogs,
qemu-utils). Command line: ``python tests/storage_assets.py initramfs`` prints the path.
"""
from __future__ import annotations

import random
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import boot_assets
from debian_pkgs import PackageUnavailable

TOOLS = {"mkfs.vfat": "dosfstools", "mcopy": "mtools", "mkfs.ext4": "e2fsprogs",
         "debugfs": "e2fsprogs", "qemu-img": "qemu-utils"}
# Loaded in this order, each after what its .modinfo "depends=" names (added automatically).
# crc32c_generic: ext4's metadata_csum asks the crypto API for "crc32c", and there is no modprobe.
MODULES = ("virtio_mmio", "virtio_pci", "virtio_blk", "nvme", "crc32c_generic", "ext4")
INIT_DONE = "PYQEMU-INIT-DONE"   # printed by /init after the script, just before poweroff -f


def _which(name: str) -> str | None:
    """``shutil.which`` that also looks in the sbin directories (not on a plain user's PATH)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def missing_tools() -> list[str]:
    """``tool (package)`` for each host tool the image builders need that is not installed."""
    return [f"{t} ({p})" for t, p in TOOLS.items() if _which(t) is None]


def _tool(name: str) -> str:
    path = _which(name)
    if path is None:
        raise FileNotFoundError(f"{name} ({TOOLS.get(name, '?')}) is not installed")
    return path


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess:
    res = subprocess.run([_tool(argv[0]), *argv[1:]], capture_output=True, timeout=120, check=False, **kw)
    if res.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr!r}")
    return res


def data(seed: int, n: int) -> bytes:
    """``n`` pseudo-random bytes, the same for the same seed."""
    return random.Random(seed).randbytes(n)


def make_fat(path: Path, files: dict[str, bytes], size_mib: int = 32) -> Path:
    """A raw whole-disk FAT image (FAT16 at these sizes) holding ``files``."""
    with open(path, "wb") as f:
        f.truncate(size_mib << 20)
    _run(["mkfs.vfat", "-n", "PYQEMU", str(path)])
    with tempfile.TemporaryDirectory() as d:
        for name, content in files.items():
            src = Path(d, name)
            src.write_bytes(content)
            _run(["mcopy", "-i", str(path), str(src), f"::{name}"])
    return path


def make_ext4(path: Path, files: dict[str, bytes], size_mib: int = 64, fs_mib: int | None = None) -> Path:
    """A raw image of ``size_mib`` whose first ``fs_mib`` (default all) hold an ext4 with ``files``.

    Inode tables and the journal are initialised here, so the guest's ext4lazyinit writes nothing.
    """
    with tempfile.TemporaryDirectory() as d:
        for name, content in files.items():
            Path(d, name).write_bytes(content)
        path.unlink(missing_ok=True)
        _run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0",
              "-L", "pyqemu", "-d", d, str(path), f"{fs_mib or size_mib}M"])
    with open(path, "r+b") as f:
        f.truncate(size_mib << 20)
    return path


def to_qcow2(raw: Path, out: Path) -> Path:
    _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(out)])
    return out


def to_raw(image: Path, out: Path) -> Path:
    """A raw copy of ``image`` (any format qemu-img knows)."""
    _run(["qemu-img", "convert", "-O", "raw", str(image), str(out)])
    return out


def qemu_img_check(image: Path) -> subprocess.CompletedProcess:
    """Real ``qemu-img check`` (exit status 0: no errors, no leaks)."""
    return subprocess.run([_tool("qemu-img"), "check", str(image)], capture_output=True, text=True,
                          timeout=120, check=False)


def _as_raw(image: Path, tmp: str) -> Path:
    if image.read_bytes()[:4] == b"QFI\xfb":
        return to_raw(image, Path(tmp, "raw.img"))
    return image


def fat_read(image: Path, name: str) -> bytes | None:
    with tempfile.TemporaryDirectory() as d:
        res = subprocess.run([_tool("mcopy"), "-n", "-i", str(_as_raw(image, d)), f"::{name}", "-"],
                             capture_output=True, timeout=60, check=False)
    return res.stdout if res.returncode == 0 else None


def ext4_read(image: Path, name: str) -> bytes | None:
    with tempfile.TemporaryDirectory() as d:
        raw = _as_raw(image, d)
        res = subprocess.run([_tool("debugfs"), "-R", f"stat /{name}", str(raw)], capture_output=True,
                             timeout=60, check=False)
        if b"Inode:" not in res.stdout:
            return None
        res = _run(["debugfs", "-R", f"cat /{name}", str(raw)])
    return res.stdout


# --- the initramfs ---------------------------------------------------------------------------

def _modinfo_depends(ko: bytes) -> list[str]:
    """The ``depends=`` list of a module's .modinfo section (ELF64 little-endian)."""
    shoff, = struct.unpack_from("<Q", ko, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ko, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _, _, _, off, size = struct.unpack_from("<IIQQQQ", ko, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        if ko[stroff + name:ko.index(b"\0", stroff + name)] == b".modinfo":
            for entry in ko[off:off + size].split(b"\0"):
                if entry.startswith(b"depends="):
                    return [d for d in entry[8:].decode().split(",") if d]
    return []


def kernel_modules() -> list[tuple[str, bytes]]:
    """(name, .ko bytes) of MODULES and what they depend on, dependencies first."""
    root = boot_assets.linux_image_arm64().parents[1]
    found = {p.name[:-3].replace("-", "_"): p for p in root.glob("lib/modules/*/kernel/**/*.ko")}
    out: dict[str, bytes] = {}

    def add(name: str) -> None:
        key = name.replace("-", "_")
        if key in out:
            return
        if key not in found:
            raise PackageUnavailable(f"module {name}.ko not in the kernel package")
        ko = found[key].read_bytes()
        for dep in _modinfo_depends(ko):
            add(dep)
        out[key] = ko

    for name in MODULES:
        add(name)
    return [(found[k].name[:-3], ko) for k, ko in out.items()]


INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in {modules}; do insmod /lib/modules/$m.ko || echo "INSMOD-FAILED $m"; done
sh /test.sh
echo {done}
poweroff -f
"""


def modules_initramfs(script: str) -> Path:
    """The busybox + modules initramfs running ``script`` (cached by content)."""
    mods = kernel_modules()
    init = INIT.format(modules=" ".join(n for n, _ in mods), done=INIT_DONE)
    files = [("test.sh", 0o100644, script.encode())]
    files += [(f"lib/modules/{n}.ko", 0o100644, ko) for n, ko in mods]
    return boot_assets.busybox_initramfs(init, dirs=("mnt", "lib", "lib/modules"), files=files,
                                         prefix="modules-")


if __name__ == "__main__":
    if sys.argv[1:] != ["initramfs"]:
        sys.exit("usage: storage_assets.py initramfs")
    print(modules_initramfs("echo hello from the storage initramfs\n"))
