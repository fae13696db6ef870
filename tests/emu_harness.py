"""Run guest programs under real ``qemu-aarch64`` and under pyqemu, and compare.

Used by the fixtures in ``tests/conftest.py``.  Environment knobs:

``PYQEMU_CMD``            command that starts pyqemu (shell syntax), default:
                          the ``pyqemu-aarch64`` script next to the running
                          Python, else ``python -m pyqemu.linux_user.main``
``PYQEMU_TEST_TIMEOUT``   seconds allowed for one pyqemu run (default 900)
``QEMU_AARCH64``          reference emulator (default ``qemu-aarch64``)
"""

from __future__ import annotations

import difflib
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parent.parent
QEMU = os.environ.get("QEMU_AARCH64", "qemu-aarch64")
QEMU_TIMEOUT = 120.0
PYQEMU_TIMEOUT = float(os.environ.get("PYQEMU_TEST_TIMEOUT", "900"))

# The environment every guest sees (both emulators pass their own to the guest).
GUEST_ENV: dict[str, str] = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C",
    "LC_ALL": "C",
    "TZ": "UTC",
    "HOME": "/nonexistent-home",
}

PathLike = str | os.PathLike[str]


class RunResult(NamedTuple):
    """Outcome of one emulator run; unpacks as ``(stdout, stderr, returncode)``.

    ``returncode`` is negative (-N) when the emulator died from signal N.
    """

    stdout: bytes
    stderr: bytes
    returncode: int


class EmulatorTimeout(AssertionError):
    """The emulator did not finish within its timeout."""


def qemu_available() -> bool:
    return shutil.which(QEMU) is not None


def pyqemu_command() -> list[str]:
    """argv prefix that starts pyqemu."""
    if os.environ.get("PYQEMU_CMD"):
        return shlex.split(os.environ["PYQEMU_CMD"])
    script = Path(sys.executable).parent / "pyqemu-aarch64"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "pyqemu.linux_user.main"]


def _pyqemu_env(env: Mapping[str, str], cmd: Sequence[str] | None = None) -> dict[str, str]:
    """``env`` for the pyqemu command ``cmd`` (default :func:`pyqemu_command`)."""
    out = dict(env)
    if cmd is None:
        cmd = pyqemu_command()
    if cmd[:1] == [sys.executable]:
        # Not installed as a script: make the src/ layout importable.
        src = str(REPO_ROOT / "src")
        out["PYTHONPATH"] = src + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    return out


def run_process(
    argv: Sequence[PathLike],
    *,
    stdin: bytes | None = None,
    cwd: PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float,
) -> RunResult:
    """Run ``argv`` in its own session; on timeout kill the whole process group.

    ``argv[0]`` is looked up in the test process's PATH, not in ``env``.
    """
    args = [os.fspath(a) for a in argv]
    args[0] = shutil.which(args[0]) or args[0]
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=dict(GUEST_ENV if env is None else env),
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        raise EmulatorTimeout(
            f"timed out after {timeout:.0f}s: {shlex.join(os.fspath(a) for a in argv)}\n"
            f"stdout tail: {out[-500:]!r}\nstderr tail: {err[-2000:]!r}"
        ) from None
    return RunResult(out, err, proc.returncode)


def _sysroot_args(binary: PathLike, sysroot: PathLike | None) -> list[str]:
    if sysroot is None:
        sysroot = getattr(binary, "sysroot", None)
    return ["-L", os.fspath(sysroot)] if sysroot is not None else []


def run_qemu(
    binary: PathLike,
    args: Sequence[PathLike] = (),
    *,
    sysroot: PathLike | None = None,
    stdin: bytes | None = None,
    cwd: PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = QEMU_TIMEOUT,
    extra_opts: Sequence[str] = (),
    emulator: PathLike = QEMU,
) -> RunResult:
    """Run ``binary`` under the reference ``emulator`` (default ``qemu-aarch64``)."""
    argv = [emulator, *extra_opts, *_sysroot_args(binary, sysroot), binary, *args]
    return run_process(argv, stdin=stdin, cwd=cwd, env=env, timeout=timeout)


def run_pyqemu(
    binary: PathLike,
    args: Sequence[PathLike] = (),
    *,
    sysroot: PathLike | None = None,
    stdin: bytes | None = None,
    cwd: PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = PYQEMU_TIMEOUT,
    extra_opts: Sequence[str] = (),
    command: Sequence[str] | None = None,
) -> RunResult:
    """Run ``binary`` under pyqemu (``command``, default :func:`pyqemu_command`), like :func:`run_qemu`."""
    cmd = pyqemu_command() if command is None else list(command)
    argv = [*cmd, *extra_opts, *_sysroot_args(binary, sysroot), binary, *args]
    return run_process(
        argv, stdin=stdin, cwd=cwd, env=_pyqemu_env(GUEST_ENV if env is None else env, cmd), timeout=timeout
    )


def _first_difference(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def describe_difference(
    expected: bytes, actual: bytes, max_lines: int = 40, names: tuple[str, str] = ("qemu-aarch64", "pyqemu")
) -> str:
    """Short human-readable account of how two outputs differ (``names``: expected's, actual's)."""
    text_like = all(b"\0" not in x for x in (expected, actual))
    if text_like:
        diff = list(
            difflib.unified_diff(
                expected.decode(errors="replace").splitlines(),
                actual.decode(errors="replace").splitlines(),
                *names,
                lineterm="",
            )
        )
        if diff:
            more = f"\n... ({len(diff) - max_lines} more diff lines)" if len(diff) > max_lines else ""
            return "\n".join(diff[:max_lines]) + more
    pos = _first_difference(expected, actual)
    return (
        f"{len(expected)} vs {len(actual)} bytes, first difference at offset {pos}: "
        f"{expected[pos : pos + 32]!r} vs {actual[pos : pos + 32]!r}"
    )


def assert_same_behavior(
    ref: RunResult,
    got: RunResult,
    *,
    what: str = "",
    compare_stderr: bool = False,
    names: tuple[str, str] = ("qemu-aarch64", "pyqemu"),
) -> None:
    """Assert pyqemu's stdout and exit status equal the reference's (stderr only if asked).

    ``names`` are the reference emulator's and pyqemu's, for the message.
    """
    ref_name, got_name = names
    problems = []
    if got.returncode != ref.returncode:
        problems.append(f"exit status: {ref_name} {ref.returncode}, {got_name} {got.returncode}")
    if got.stdout != ref.stdout:
        problems.append("stdout differs:\n" + describe_difference(ref.stdout, got.stdout, names=names))
    if compare_stderr and got.stderr != ref.stderr:
        problems.append("stderr differs:\n" + describe_difference(ref.stderr, got.stderr, names=names))
    if problems:
        tail = got.stderr.decode(errors="replace")[-3000:]
        raise AssertionError(
            f"{what + ': ' if what else ''}{got_name} differs from {ref_name}\n"
            + "\n".join(problems)
            + f"\n--- {got_name} stderr (tail) ---\n{tail}"
        )
