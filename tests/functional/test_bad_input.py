"""Bad programs: pyqemu must print exactly one line on stderr, exit 1, and never a Traceback.

The wording follows QEMU's.  What Debian 12's qemu-aarch64 7.2 does (checked by
``test_qemu_reference_wording``; the program name may differ, ``pyqemu-aarch64``
instead of ``qemu-aarch64``):

=================== ====== ===========================================================
case                status message
=================== ====== ===========================================================
missing-file        1      Error while loading PROG: No such file or directory  [1]
directory           1      Error while loading PROG: Permission denied          [1]
empty-file          1      Error while loading PROG: Exec format error          [1]
text-file           1      Error while loading PROG: Exec format error          [1]
wrong-machine       255    qemu-aarch64: PROG: Invalid ELF image for this architecture
patched-machine     255    qemu-aarch64: PROG: Invalid ELF image for this architecture
elf-class32         255    qemu-aarch64: PROG: Invalid ELF image for this architecture
missing-interp      255    qemu-aarch64: Could not open 'INTERP': No such file or directory
no-sysroot          255    qemu-aarch64: Could not open '/lib/ld-linux-aarch64.so.1': No such file
                           or directory
truncated-header    255    qemu-aarch64: PROG: Error mapping file: Invalid argument
truncated-phdrs     -11    (crash) qemu: uncaught target signal 11 (Segmentation fault) - core dumped
truncated-half      -7     (crash, SIGBUS, nothing printed)
=================== ====== ===========================================================

[1] QEMU 7.2 printf()s these to *stdout* and then calls _exit(), so the line
    is lost unless stdout is unbuffered (a terminal, or ``stdbuf -o0``).
pyqemu writes them to stderr and exits with status 1 in every case.

For truncated ELF files QEMU has no sensible message of its own; pyqemu may use
any of QEMU's loader wordings (see ``TRUNCATED``), e.g.
``pyqemu-aarch64: PROG: Invalid ELF image (truncated segment)``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from emu_harness import QEMU, run_process

PREFIX = r"(?:(?:py)?qemu-aarch64: )?"
MISSING_INTERP = "/nonexistent/ld-aarch64.so"  # same length as /lib/ld-linux-aarch64.so.1
DEFAULT_INTERP = "/lib/ld-linux-aarch64.so.1"
TRUNCATED = (
    r"(?:Error while loading {prog}: Exec format error"
    r"|{prog}: (?:Incomplete read of file header|Error reading file header: .+|Error mapping file: .+"
    r"|Invalid ELF image(?: .+)?))"
)


def _elf_machine(path: str) -> int | None:
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if head[:4] != b"\x7fELF":
        return None
    return int.from_bytes(head[18:20], "little")


def _copy(src: Path, dst: Path, edit: Callable[[bytearray], bytes | bytearray]) -> Path:
    dst.write_bytes(edit(bytearray(src.read_bytes())))
    os.chmod(dst, 0o755)
    return dst


def _patch(data: bytearray, offset: int, value: bytes) -> bytearray:
    data[offset : offset + len(value)] = value
    return data


def _patch_interp(data: bytearray) -> bytearray:
    old = DEFAULT_INTERP.encode()
    assert data.count(old) >= 1, "PT_INTERP string not found"
    return bytearray(data.replace(old, MISSING_INTERP.encode().ljust(len(old), b"\0"), 1))


LOAD_ENOENT = "Error while loading {prog}: No such file or directory"
LOAD_EACCES = "Error while loading {prog}: Permission denied"
LOAD_ENOEXEC = "Error while loading {prog}: Exec format error"
BAD_ARCH = "{prog}: Invalid ELF image for this architecture"
NO_INTERP = "Could not open '{interp}': No such file or directory"

# case -> (qemu status, qemu message regex or None for a crash, pyqemu message regex)
# "{prog}" is replaced by the escaped program path.
CASES: dict[str, tuple[int, str | None, str]] = {
    "missing-file": (1, LOAD_ENOENT, LOAD_ENOENT),
    "directory": (1, LOAD_EACCES, LOAD_EACCES),
    "empty-file": (1, LOAD_ENOEXEC, LOAD_ENOEXEC),
    "text-file": (1, LOAD_ENOEXEC, LOAD_ENOEXEC),
    "wrong-machine": (255, "qemu-aarch64: " + BAD_ARCH, BAD_ARCH),
    "patched-machine": (255, "qemu-aarch64: " + BAD_ARCH, BAD_ARCH),
    "elf-class32": (255, "qemu-aarch64: " + BAD_ARCH, BAD_ARCH),
    "missing-interp": (
        255,
        "qemu-aarch64: " + NO_INTERP.format(interp=MISSING_INTERP),
        NO_INTERP.format(interp=MISSING_INTERP),
    ),
    "no-sysroot": (
        255,
        "qemu-aarch64: " + NO_INTERP.format(interp=DEFAULT_INTERP),
        NO_INTERP.format(interp=DEFAULT_INTERP),
    ),
    "truncated-header": (255, "qemu-aarch64: {prog}: Error mapping file: Invalid argument", TRUNCATED),
    "truncated-phdrs": (-11, None, TRUNCATED),
    "truncated-half": (-7, None, TRUNCATED),
}


@pytest.fixture
def bad_program(request, guest_bins, tmp_path) -> Callable[[str], str]:
    """Factory: case name -> path of a bad program (tmp_path holds the copies)."""

    def make(case: str) -> str:
        static = guest_bins["hello-static-O0"].path
        dynamic = guest_bins["hello-dynamic-O0"].path
        if case == "missing-file":
            return str(tmp_path / "no-such-dir" / "no-such-program")
        if case == "directory":
            d = tmp_path / "a-directory"
            d.mkdir()
            return str(d)
        if case == "empty-file":
            return str(_copy(static, tmp_path / "empty", lambda d: b""))
        if case == "text-file":
            return str(_copy(static, tmp_path / "text", lambda d: b"just some text, no shebang\n"))
        if case == "wrong-machine":
            host_true = shutil.which("true") or "/bin/true"
            if _elf_machine(host_true) in (None, 183):
                pytest.skip(f"{host_true} is not a non-AArch64 ELF on this host")
            return host_true
        if case == "patched-machine":
            em_x86_64 = (62).to_bytes(2, "little")
            return str(_copy(static, tmp_path / "x86-64-machine", lambda d: _patch(d, 18, em_x86_64)))
        if case == "elf-class32":
            return str(_copy(static, tmp_path / "elfclass32", lambda d: _patch(d, 4, b"\x01")))
        if case == "missing-interp":
            return str(_copy(dynamic, tmp_path / "bad-interp", _patch_interp))
        if case == "no-sysroot":
            if os.path.exists(DEFAULT_INTERP):
                pytest.skip(f"{DEFAULT_INTERP} exists on this host")
            return str(dynamic)
        if case == "truncated-header":
            return str(_copy(static, tmp_path / "trunc-header", lambda d: d[:64]))
        if case == "truncated-phdrs":
            return str(_copy(static, tmp_path / "trunc-phdrs", lambda d: d[:100]))
        if case == "truncated-half":
            return str(_copy(static, tmp_path / "trunc-half", lambda d: d[: len(d) // 2]))
        raise AssertionError(case)

    return make


@pytest.mark.parametrize("case", list(CASES))
def test_pyqemu_bad_input(case, bad_program, pyqemu_run, tmp_path):
    prog = bad_program(case)
    pattern = CASES[case][2].replace("{prog}", re.escape(prog))
    res = pyqemu_run(prog, [], cwd=tmp_path, timeout=120)
    err = res.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), f"expected exactly one line on stderr, got {err!r}"
    assert re.fullmatch(PREFIX + pattern, lines[0]), f"{lines[0]!r} does not match {PREFIX + pattern!r}"
    assert res.returncode == 1, f"exit status {res.returncode}, expected 1 ({err!r})"
    assert res.stdout == b""


@pytest.mark.parametrize("case", list(CASES))
def test_qemu_reference_wording(case, bad_program, qemu_ref, tmp_path):
    """Documents (and re-checks) what qemu-aarch64 itself prints for each case."""
    status, message, _ = CASES[case]
    prog = bad_program(case)
    stdbuf = shutil.which("stdbuf")
    if stdbuf is None:
        pytest.skip("stdbuf (coreutils) not found")
    # stdbuf -o0 makes QEMU's printf()+_exit() messages visible
    res = run_process([stdbuf, "-o0", QEMU, prog], cwd=tmp_path, timeout=60)
    out = (res.stdout + res.stderr).decode(errors="replace")
    if message is None:
        assert res.returncode != 0, out
        return
    assert res.returncode == status, out
    assert re.fullmatch(message.replace("{prog}", re.escape(prog)), out.strip()), out
