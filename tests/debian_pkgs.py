#!/usr/bin/env python3
"""Fetch unmodified Debian arm64 (and armhf) packages for the functional tests.

Packages are downloaded with ``apt-get download`` (needs ``dpkg
--add-architecture arm64`` / ``armhf`` and ``apt-get update``, done by ``.ci/run``) into
``tests/.cache/debs/`` (override with ``PYQEMU_DEB_CACHE``) and unpacked with
``dpkg-deb -x`` under ``tests/.cache/``.  Both steps are cached.

Command line: ``python tests/debian_pkgs.py busybox|lua|busybox-armhf`` prints the path.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
CACHE_ROOT = TESTS_DIR / ".cache"
DEB_CACHE = Path(os.environ.get("PYQEMU_DEB_CACHE", CACHE_ROOT / "debs"))

BUSYBOX_PACKAGES = ("busybox-static",)
# lua5.4 links libreadline8 (-> libtinfo6), libm and libc; liblua5.4-0 and the
# C++ runtime are included so the sysroot can also run programs using liblua.
LUA_PACKAGES = (
    "lua5.4",
    "liblua5.4-0",
    "libc6",
    "libgcc-s1",
    "libstdc++6",
    "libreadline8",
    "libtinfo6",
)


class PackageUnavailable(RuntimeError):
    """apt-get could not download a package (no network, no arm64 lists, ...)."""


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _cached_deb(package: str, deb_dir: Path, arch: str = "arm64") -> Path | None:
    found = sorted(deb_dir.glob(f"{package}_*_{arch}.deb"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def download(packages: tuple[str, ...], deb_dir: Path = DEB_CACHE, arch: str = "arm64") -> list[Path]:
    """Return the ``arch`` (arm64 or armhf) .deb files for ``packages``, downloading missing ones."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise PackageUnavailable("apt-get/dpkg-deb not found (not a Debian system)")
    deb_dir.mkdir(parents=True, exist_ok=True)
    with _locked(deb_dir / ".lock"):
        missing = [p for p in packages if _cached_deb(p, deb_dir, arch) is None]
        if missing:
            cmd = ["apt-get", "download", "-o", "APT::Sandbox::User=root", *(f"{p}:{arch}" for p in missing)]
            try:
                res = subprocess.run(
                    cmd, cwd=deb_dir, capture_output=True, text=True, timeout=600, check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise PackageUnavailable(f"{' '.join(cmd)} timed out") from exc
            still = [p for p in missing if _cached_deb(p, deb_dir, arch) is None]
            if res.returncode != 0 or still:
                msg = (res.stderr or res.stdout).strip().splitlines()[-3:]
                raise PackageUnavailable(
                    f"{' '.join(cmd)} failed (exit {res.returncode}): {' / '.join(msg)}; "
                    f"run 'dpkg --add-architecture {arch} && apt-get update' first"
                )
    return [_cached_deb(p, deb_dir, arch) for p in packages]  # type: ignore[misc]


def extract(debs: list[Path], dest_parent: Path, label: str) -> Path:
    """Unpack ``debs`` into one directory (cached by the set of .deb file names)."""
    digest = hashlib.sha256("\n".join(sorted(d.name for d in debs)).encode()).hexdigest()[:16]
    dest = dest_parent / f"{label}-{digest}"
    with _locked(dest_parent / f".{label}.lock"):
        if not (dest / ".complete").exists():
            tmp = Path(tempfile.mkdtemp(prefix=f".{label}.", dir=dest_parent))
            try:
                for deb in debs:
                    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True, capture_output=True)
                (tmp / ".complete").write_text("\n".join(d.name for d in debs) + "\n")
                if dest.exists():
                    shutil.rmtree(dest)
                os.replace(tmp, dest)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp)
    return dest


def busybox(cache_root: Path = CACHE_ROOT) -> Path:
    """Path of Debian's unmodified static arm64 busybox binary."""
    root = extract(download(BUSYBOX_PACKAGES), cache_root / "busybox", "busybox")
    path = root / "bin" / "busybox"
    if not path.exists():
        raise PackageUnavailable(f"{path} missing after extracting busybox-static")
    return path


def lua_sysroot(cache_root: Path = CACHE_ROOT) -> Path:
    """A sysroot (for ``-L``) holding ``usr/bin/lua5.4`` and its arm64 libraries."""
    root = extract(download(LUA_PACKAGES), cache_root / "lua-sysroot", "lua")
    if not (root / "usr" / "bin" / "lua5.4").exists():
        raise PackageUnavailable(f"{root}/usr/bin/lua5.4 missing after extraction")
    return root


def busybox_armhf(cache_root: Path = CACHE_ROOT) -> Path:
    """Path of Debian's unmodified static armhf busybox binary (``busybox-static:armhf``)."""
    root = extract(download(BUSYBOX_PACKAGES, arch="armhf"), cache_root / "busybox-armhf", "busybox")
    path = root / "bin" / "busybox"
    if not path.exists():
        raise PackageUnavailable(f"{path} missing after extracting busybox-static:armhf")
    return path


def main(argv: list[str]) -> int:
    what = argv[0] if argv else ""
    getters = {"busybox": busybox, "lua": lua_sysroot, "busybox-armhf": busybox_armhf}
    if what not in getters:
        print("usage: debian_pkgs.py busybox|lua|busybox-armhf", file=sys.stderr)
        return 2
    try:
        print(getters[what]())
    except PackageUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
