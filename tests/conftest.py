"""Shared fixtures: guest binaries, the reference qemu-aarch64, pyqemu, Debian packages.

Missing prerequisites (cross compiler, qemu-user, network for apt-get) skip
the affected tests locally but fail them when ``CI`` is set, so CI cannot go
green without running them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, Protocol

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import debian_pkgs  # noqa: E402
import emu_harness  # noqa: E402
import guest_build  # noqa: E402
from emu_harness import PathLike, RunResult  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip locally, fail in CI: prerequisites must exist there."""
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


class Runner(Protocol):
    def __call__(
        self,
        binary: PathLike,
        args: Sequence[PathLike] = (),
        *,
        sysroot: PathLike | None = None,
        stdin: bytes | None = None,
        cwd: PathLike | None = None,
        env: dict[str, str] | None = None,
        timeout: float = ...,
        extra_opts: Sequence[str] = (),
    ) -> RunResult: ...


@pytest.fixture(scope="session")
def guest_bins() -> guest_build.GuestBins:
    """Lazy mapping ``"hello-static-O2" -> GuestBinary``; builds on first access."""
    missing = guest_build.missing_tools()
    if missing:
        unavailable(f"AArch64 cross toolchain not installed: {', '.join(missing)}")
    return guest_build.GuestBins()


def _runner(run: Callable[..., RunResult], tmp_path: Path, label: str) -> Runner:
    counter = 0

    def call(binary: PathLike, args: Sequence[PathLike] = (), **kw: object) -> RunResult:
        nonlocal counter
        if kw.get("cwd") is None:
            # a fresh empty working directory per run
            counter += 1
            kw["cwd"] = tmp_path / f"{label}-cwd-{counter}"
            os.mkdir(kw["cwd"])  # type: ignore[arg-type]
        return run(binary, args, **kw)

    return call  # type: ignore[return-value]


@pytest.fixture
def qemu_ref(tmp_path: Path) -> Runner:
    """``qemu_ref(binary, args, *, sysroot, stdin, cwd, env, timeout)`` -> RunResult.

    Runs the reference ``qemu-aarch64``; ``-L`` is added for dynamic GuestBinary
    objects (or given ``sysroot``).  Without ``cwd`` each run gets a fresh empty dir.
    """
    if not emu_harness.qemu_available():
        unavailable(f"{emu_harness.QEMU} not found (apt-get install qemu-user)")
    return _runner(emu_harness.run_qemu, tmp_path, "qemu")


@pytest.fixture
def pyqemu_run(tmp_path: Path) -> Runner:
    """Same interface as :func:`qemu_ref`, running pyqemu (``PYQEMU_CMD`` overrides how)."""
    return _runner(emu_harness.run_pyqemu, tmp_path, "pyqemu")


@pytest.fixture(scope="session")
def busybox() -> Path:
    """Debian's unmodified ``busybox-static:arm64`` binary (downloaded and cached)."""
    try:
        return debian_pkgs.busybox()
    except debian_pkgs.PackageUnavailable as exc:
        unavailable(f"cannot fetch busybox-static:arm64: {exc}")


@pytest.fixture(scope="session")
def lua_sysroot() -> Path:
    """Sysroot with Debian's arm64 ``usr/bin/lua5.4`` and the libraries it needs."""
    try:
        return debian_pkgs.lua_sysroot()
    except debian_pkgs.PackageUnavailable as exc:
        unavailable(f"cannot fetch lua5.4:arm64 and its libraries: {exc}")
