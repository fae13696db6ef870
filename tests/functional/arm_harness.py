"""Run 32-bit ARM guests under Debian's ``qemu-arm`` and under ``pyqemu-arm``, and compare.

The AArch32 counterpart of ``tests/emu_harness.py`` (whose process runner it reuses), for
tests/functional/test_arm_*.py.  Environment knobs:

``PYQEMU_ARM_CMD``  command that starts pyqemu-arm (shell syntax).  Default: the
                    ``pyqemu-arm`` script next to the running Python or on PATH, else
                    ``pyqemu.linux_user.main.main_arm`` run by the running Python.
``QEMU_ARM``        reference emulator (default ``qemu-arm``)
``PYQEMU_TEST_TIMEOUT`` seconds allowed for one pyqemu run (as for AArch64)
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import debian_pkgs
import guest_build
import pytest
from conftest import Runner, _runner, unavailable
from emu_harness import PathLike, RunResult, assert_same_behavior, run_pyqemu, run_qemu

QEMU_ARM = os.environ.get("QEMU_ARM", "qemu-arm")
SCRIPT = "pyqemu-arm"


def qemu_arm_available() -> bool:
    return shutil.which(QEMU_ARM) is not None


def pyqemu_arm_command() -> list[str]:
    """argv prefix that starts pyqemu-arm: $PYQEMU_ARM_CMD, the console script, or its module."""
    if os.environ.get("PYQEMU_ARM_CMD"):
        return shlex.split(os.environ["PYQEMU_ARM_CMD"])
    script = Path(sys.executable).parent / SCRIPT
    if script.exists():
        return [str(script)]
    found = shutil.which(SCRIPT)
    if found:
        return [found]
    return [sys.executable, "-c",
            "import sys; from pyqemu.linux_user.main import main_arm; sys.exit(main_arm())"]


def run_qemu_arm(binary: PathLike, args: Sequence[PathLike] = (), **kw: Any) -> RunResult:
    """Run ``binary`` under the reference ``qemu-arm``; keywords as :func:`emu_harness.run_qemu`."""
    return run_qemu(binary, args, emulator=QEMU_ARM, **kw)


def run_pyqemu_arm(binary: PathLike, args: Sequence[PathLike] = (), **kw: Any) -> RunResult:
    """Run ``binary`` under pyqemu-arm, exactly like :func:`run_qemu_arm`."""
    cmd = pyqemu_arm_command()
    if cmd is None:
        raise RuntimeError(f"no {SCRIPT} command (see PYQEMU_ARM_CMD)")
    return run_pyqemu(binary, args, command=cmd, **kw)


def assert_same_arm(ref: RunResult, got: RunResult, *, what: str = "", compare_stderr: bool = True) -> None:
    """Assert pyqemu-arm's exit status, stdout (and stderr if asked) equal qemu-arm's."""
    assert_same_behavior(ref, got, what=what, compare_stderr=compare_stderr, names=("qemu-arm", "pyqemu-arm"))


# --- pytest fixtures (import them into the test module) ---------------------------------------


@pytest.fixture(scope="session")
def arm_bins() -> guest_build.ArmGuestBins:
    """Lazy mapping ``"hello-thumb-static-O2" -> ArmGuestBinary``; builds on first access."""
    missing = guest_build.arm_missing_tools()
    if missing:
        unavailable(f"armhf cross toolchain not installed: {', '.join(missing)}")
    return guest_build.ArmGuestBins()


@pytest.fixture(scope="session")
def busybox_armhf() -> Path:
    """Debian's unmodified ``busybox-static:armhf`` binary (downloaded and cached)."""
    try:
        return debian_pkgs.busybox_armhf()
    except debian_pkgs.PackageUnavailable as exc:
        unavailable(f"cannot fetch busybox-static:armhf: {exc}")


@pytest.fixture
def qemu_arm(tmp_path: Path) -> Runner:
    """``qemu_arm(binary, args, *, sysroot, stdin, cwd, env, timeout)`` -> RunResult (qemu-arm)."""
    if not qemu_arm_available():
        unavailable(f"{QEMU_ARM} not found (apt-get install qemu-user)")
    return _runner(run_qemu_arm, tmp_path, "qemu")


@pytest.fixture
def pyqemu_arm(tmp_path: Path) -> Runner:
    """Same interface as :func:`qemu_arm`, running pyqemu-arm."""
    return _runner(run_pyqemu_arm, tmp_path, "pyqemu")
