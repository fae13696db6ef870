#!/usr/bin/env python3
"""Firmware, kernel and initramfs for the system-mode boot tests (all fetched, never committed).

* ``uboot_qemu_arm64()``: Debian's u-boot-qemu ``qemu_arm64/u-boot.bin``;
* ``linux_image_arm64()``: the raw arm64 ``Image`` (``/boot/vmlinuz-*``) of the
  kernel Debian's ``linux-image-arm64`` metapackage points to;
* ``initramfs(marker)``: a gzip'd newc cpio holding Debian's static busybox and
  an ``/init`` that mounts /proc and /sys, prints ``marker`` and runs a shell
  on the console; ``busybox_initramfs(init, dirs=, files=)``, the same with another /init
  and more entries (tests/storage_assets.py's module-loading initramfs).

Packages go through tests/debian_pkgs.py's cache (``PYQEMU_DEB_CACHE``).
Command line: ``python tests/boot_assets.py uboot|kernel|initramfs``.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import debian_pkgs
from debian_pkgs import CACHE_ROOT, PackageUnavailable

MARKER = "PYQEMU-SHELL-READY"
INIT_SCRIPT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo {MARKER}
exec setsid cttyhack sh
"""


def _download_any_arch(package: str, arch_suffix: str) -> Path:
    """``apt-get download`` for a package whose .deb is ``*_{arch_suffix}.deb`` (all, arm64)."""
    deb_dir = debian_pkgs.DEB_CACHE
    found = sorted(deb_dir.glob(f"{package}_*_{arch_suffix}.deb"))
    if found:
        return found[-1]
    deb_dir.mkdir(parents=True, exist_ok=True)
    spec = package if arch_suffix == "all" else f"{package}:{arch_suffix}"
    res = subprocess.run(["apt-get", "download", "-o", "APT::Sandbox::User=root", spec], cwd=deb_dir,
                         capture_output=True, text=True, timeout=900, check=False)
    found = sorted(deb_dir.glob(f"{package}_*_{arch_suffix}.deb"))
    if res.returncode or not found:
        raise PackageUnavailable(f"apt-get download {spec} failed: {res.stderr.strip()[-300:]}")
    return found[-1]


def uboot_qemu_arm64() -> Path:
    deb = _download_any_arch("u-boot-qemu", "all")
    root = debian_pkgs.extract([deb], CACHE_ROOT / "u-boot", "u-boot")
    path = root / "usr/lib/u-boot/qemu_arm64/u-boot.bin"
    if not path.exists():
        raise PackageUnavailable(f"{path} missing in {deb.name}")
    return path


def _kernel_package() -> str:
    cached = sorted(debian_pkgs.DEB_CACHE.glob("linux-image-*-arm64_*_arm64.deb"))
    if cached:
        return cached[-1].name.split("_")[0]
    res = subprocess.run(["apt-cache", "depends", "linux-image-arm64:arm64"], capture_output=True,
                         text=True, check=False)
    for line in res.stdout.splitlines():
        line = line.strip()
        if line.startswith("Depends: linux-image-"):
            return line.split()[1].split(":")[0]
    raise PackageUnavailable("cannot resolve linux-image-arm64 "
                             "(dpkg --add-architecture arm64; apt-get update)")


def linux_image_arm64() -> Path:
    deb = _download_any_arch(_kernel_package(), "arm64")
    root = debian_pkgs.extract([deb], CACHE_ROOT / "linux", "linux")
    images = sorted((root / "boot").glob("vmlinuz-*"))
    if not images:
        raise PackageUnavailable(f"no /boot/vmlinuz-* in {deb.name}")
    return images[-1]


def _newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    """A newc cpio archive of (path, mode, data) entries."""
    out = io.BytesIO()
    ino = 1
    for name, mode, data in [*entries, ("TRAILER!!!", 0, b"")]:
        nm = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nm), 0]
        out.write(b"070701" + b"".join(f"{v:08x}".encode() for v in fields))
        out.write(nm)
        out.write(b"\0" * (-(110 + len(nm)) % 4))
        out.write(data)
        out.write(b"\0" * (-len(data) % 4))
        ino += 1
    return out.getvalue()


def initramfs(marker: str = MARKER) -> Path:
    """The initramfs (cached by content under tests/.cache/initramfs/)."""
    return busybox_initramfs(INIT_SCRIPT.replace(MARKER, marker))


def busybox_initramfs(init: str, *, dirs: Sequence[str] = (),
                      files: Sequence[tuple[str, int, bytes]] = (), prefix: str = "") -> Path:
    """A gzip'd newc cpio with Debian's static busybox, ``init`` as /init, and the extra ``dirs``
    and (path, mode, data) ``files``; cached by content as
    tests/.cache/initramfs/``prefix``<hash>.cpio.gz."""
    busybox = debian_pkgs.busybox().read_bytes()
    entries = [(d, 0o040755, b"") for d in ("bin", "dev", "proc", "sys", "tmp", "root", "etc", *dirs)]
    entries += [("bin/busybox", 0o100755, busybox), ("init", 0o100755, init.encode()),
                ("dev/console", 0o020600, b""), *files]
    archive = _newc(entries)
    out = CACHE_ROOT / "initramfs" / f"{prefix}{hashlib.sha256(archive).hexdigest()[:16]}.cpio.gz"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")   # pytest -n: workers may build it at once
        tmp.write_bytes(gzip.compress(archive, 6, mtime=0))
        tmp.replace(out)
    return out


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    fn = {"uboot": uboot_qemu_arm64, "kernel": linux_image_arm64, "initramfs": initramfs}.get(what)
    if fn is None:
        sys.exit("usage: boot_assets.py uboot|kernel|initramfs")
    print(fn())
