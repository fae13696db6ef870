"""Switches between pyqemu's Python tier and its native tier while hot loops run natively.

Guest programs in tests/tcg/native (static, -O2, AArch64; built and cached like
tests/guest_build.py's into ``CACHE_DIR/native``) run hot loops long enough for them
to be compiled to machine code, and then leave that code in every way there is:

* sigalrm_loop: SIGALRM / SIGVTALRM from setitimer stop a native loop through a flag;
* fault_loop: page faults (loads, stores) on the n-th iteration, resumed by a handler;
* smc_loop: the loop rewrites the function it calls (RWX, W^X with mprotect);
* codepage_store: hot stores to the page of the running code (data, then an instruction);
* syscall_loop: a system call every N iterations from a function the loop calls;
* atomic_threads: four threads with __atomic builtins (LDXR/STXR, LDAXR/STLXR; LSE);
* smc_threads: four threads rewrite their own functions on one shared code page while
  the others translate and run code there (the process's translation cache is shared).

Each program checks its own results and prints them; under pyqemu (PYQEMU_CACHE=0) its
stdout and exit status must equal Debian qemu-aarch64's, ``native: N regions`` on stderr
(PYQEMU_COUNT_INSNS=1) must show N >= 1 and no failed compile, and with PYQEMU_JIT=off
(the Python tier only) the output must be the same again.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import guest_build
import pytest
from conftest import Runner, unavailable
from emu_harness import GUEST_ENV, RunResult, describe_difference

SRC_DIR = guest_build.TESTS_DIR / "tcg" / "native"
CACHE_DIR = guest_build.CACHE_DIR / "native"
TIMEOUT = 300.0

# Binary name -> (source stem, extra compiler flags).
PROGRAMS: dict[str, tuple[str, list[str]]] = {
    "sigalrm_loop": ("sigalrm_loop", []),
    "fault_loop": ("fault_loop", []),
    "smc_loop": ("smc_loop", []),
    "codepage_store": ("codepage_store", []),
    "syscall_loop": ("syscall_loop", []),
    # ARMv8.0 without the outline-atomics helpers: exclusives inline in the loop.
    "atomic_threads-llsc": ("atomic_threads", ["-march=armv8-a", "-mno-outline-atomics"]),
    "atomic_threads-lse": ("atomic_threads", ["-march=armv8.1-a"]),
    "smc_threads": ("smc_threads", []),
}

NATIVE_LINE = re.compile(rb"^native: (\d+) regions, compile [0-9.]+ s, (\d+) failed\b", re.M)
BASE_ENV = {**GUEST_ENV, "PYQEMU_CACHE": "0", "PYQEMU_COUNT_INSNS": "1"}
JIT_ON = {**BASE_ENV, "PYQEMU_JIT": "on"}
JIT_OFF = {**BASE_ENV, "PYQEMU_JIT": "off"}


def compile_command(src: Path, out: Path, extra: list[str]) -> list[str]:
    """The cross compiler invocation for one program (static, -O2)."""
    return [guest_build.CC, "-O2", *guest_build.COMMON_FLAGS, *guest_build.C_FLAGS, *extra, "-static",
            "-o", str(out), str(src), *guest_build.LIBS]


def build(name: str) -> Path:
    """Build (or take from the cache) the binary ``name`` of :data:`PROGRAMS`."""
    stem, extra = PROGRAMS[name]
    src = SRC_DIR / f"{stem}.c"
    return guest_build._build_cached(name, src, lambda out: compile_command(src, out, extra), CACHE_DIR)


@pytest.fixture(scope="module")
def native_bin() -> Callable[[str], Path]:
    """``native_bin(name)`` -> path of the built program."""
    missing = guest_build.missing_tools()
    if missing:
        unavailable(f"AArch64 cross toolchain not installed: {', '.join(missing)}")
    return build


def _native_regions(res: RunResult) -> tuple[int, int]:
    m = NATIVE_LINE.search(res.stderr)
    assert m, f"no 'native: N regions' line on pyqemu's stderr: {res.stderr[-2000:]!r}"
    return int(m.group(1)), int(m.group(2))


def _difference(ref: RunResult, got: RunResult, names: tuple[str, str]) -> list[str]:
    out = []
    if got.returncode != ref.returncode:
        out.append(f"exit status: {names[0]} {ref.returncode}, {names[1]} {got.returncode}")
    if got.stdout != ref.stdout:
        out.append(f"stdout, {names[0]} vs {names[1]}:\n" + describe_difference(ref.stdout, got.stdout,
                                                                               names=names))
    return out


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_native_tier_switches(name: str, native_bin, qemu_ref: Runner, pyqemu_run: Runner) -> None:
    binary = native_bin(name)
    ref = qemu_ref(binary, env=GUEST_ENV)
    assert ref.returncode == 0 and b"FAIL" not in ref.stdout and b"WRONG" not in ref.stdout, (
        f"{name} fails under qemu-aarch64 itself: status {ref.returncode}, stdout {ref.stdout[-1000:]!r}")
    on = pyqemu_run(binary, env=JIT_ON, timeout=TIMEOUT)
    off = pyqemu_run(binary, env=JIT_OFF, timeout=TIMEOUT)
    problems = _difference(ref, on, ("qemu-aarch64", "PYQEMU_JIT=on"))
    problems += _difference(ref, off, ("qemu-aarch64", "PYQEMU_JIT=off"))
    problems += _difference(on, off, ("PYQEMU_JIT=on", "PYQEMU_JIT=off"))
    tails = "".join(f"\n--- PYQEMU_JIT={mode} stderr (tail) ---\n{r.stderr[-2000:].decode(errors='replace')}"
                    for mode, r in (("on", on), ("off", off)))
    assert not problems, f"{name}:\n" + "\n".join(problems) + tails
    regions, failed = _native_regions(on)
    assert regions >= 1, f"{name}: no region ran natively ({on.stderr[-500:]!r})"
    assert failed == 0, f"{name}: {failed} native compiles failed"
    assert not NATIVE_LINE.search(off.stderr), f"{name}: PYQEMU_JIT=off still compiled natively"


EXCLUSIVES = {"ldxr", "stxr", "ldaxr", "stlxr"}
LSE = {"ldadd", "casal", "swpa", "ldeoral"}


@pytest.mark.parametrize(("name", "wanted", "unwanted"), [
    ("atomic_threads-llsc", EXCLUSIVES, LSE),
    ("atomic_threads-lse", LSE, EXCLUSIVES),
])
def test_atomic_threads_instructions(name: str, wanted: set[str], unwanted: set[str], native_bin) -> None:
    """The threads' loop really uses exclusives (resp. LSE atomics): else the test proves less."""
    objdump = guest_build.CC.removesuffix("gcc") + "objdump"
    if shutil.which(objdump) is None:
        unavailable(f"{objdump} not installed (binutils-aarch64-linux-gnu)")
    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(native_bin(name))],
                          capture_output=True, text=True, check=True).stdout
    m = re.search(r"^[0-9a-f]+ <worker>:\n(.*?)\n\n", text, re.M | re.S)
    assert m, f"no worker function in {name}"
    found = set(re.findall(r"^\s*[0-9a-f]+:\s+([a-z]+)", m.group(1), re.M))
    assert wanted <= found, f"{name}: worker lacks {sorted(wanted - found)}"
    assert not found & unwanted, f"{name}: worker has {sorted(found & unwanted)}"


RETIRE_DRIVER = """
import sys
import pyqemu.accel.tcg.native as native
native.ENGINE_OBJECTS, native.MAX_ENGINES = 4, 2
from pyqemu.linux_user.main import main
status = main(sys.argv[1:])
llvm = native._LLVM._instances[2]
sys.stderr.write(f"engines: open={len(llvm.engines)} closed={llvm.closed}\\n")
sys.exit(status)
"""


def test_engines_retired_under_a_cap(native_bin, qemu_ref: Runner) -> None:
    """With every block native (PYQEMU_JIT=force) a program needs more engines than may be
    open (each object costs memory maps; the kernel's limit is 65,530 per process): the
    oldest engines' regions go back to the Python tier and the engines are freed, and the
    program still runs right (here with 4 objects per engine and 2 engines at most)."""
    import os
    import sys
    binary = native_bin("syscall_loop")
    ref = qemu_ref(binary, env=GUEST_ENV)
    env = {**os.environ, **GUEST_ENV, "PYQEMU_COUNT_INSNS": "1", "PYQEMU_JIT": "force"}
    got = subprocess.run([sys.executable, "-c", RETIRE_DRIVER, str(binary)], capture_output=True,
                         env=env, timeout=TIMEOUT)
    assert (got.returncode, got.stdout) == (ref.returncode, ref.stdout), got.stderr[-2000:]
    m = re.search(rb"engines: open=(\d+) closed=(\d+)", got.stderr)
    assert m, got.stderr[-2000:]
    assert int(m.group(1)) <= 3 and int(m.group(2)) >= 1, m.group(0)
    assert re.search(rb"^native: \d+ regions, .*, [1-9]\d* retired$", got.stderr, re.M), got.stderr[-500:]
