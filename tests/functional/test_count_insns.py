"""The instruction-counting mode (PYQEMU_COUNT_INSNS=1) that benchmarks/ uses for MIPS.

User mode: pyqemu-aarch64's ``insns: N`` is checked against QEMU 7.2's own count
(``-singlestep -d nochain,exec``: one ``Trace`` line per executed instruction).
System mode: pyqemu-system-aarch64's count for a bare-metal loop of known length.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import baremetal  # noqa: E402
from conftest import unavailable  # noqa: E402

# No libc: the count does not depend on glibc's start-up, whose string functions (and the
# IFUNC variants it picks from the CPU's ID registers) run a number of iterations that
# depends on stack alignment and on the environment, so it differs run to run under QEMU.
FREESTANDING = r"""
static long sys3(long n, long a, long b, long c) {
    register long x8 asm("x8") = n, x0 asm("x0") = a, x1 asm("x1") = b, x2 asm("x2") = c;
    asm volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}
void _start(void) {
    unsigned long h = 1469598103934665603UL;
    for (unsigned long i = 0; i < 10000; i++)
        h = (h ^ i) * 1099511628211UL;
    char buf[17];
    for (int k = 15; k >= 0; k--) { buf[k] = "0123456789abcdef"[h & 15]; h >>= 4; }
    buf[16] = '\n';
    sys3(64, 1, (long)buf, 17);   /* write */
    sys3(93, 0, 0, 0);            /* exit (the thread's exit, not exit_group) */
    for (;;) ;
}
"""
COUNT_ENV = {"PYQEMU_COUNT_INSNS": "1"}


def _insns(stderr: bytes) -> int:
    m = re.search(rb"^insns: (\d+)$", stderr, re.M)
    assert m, f"no 'insns:' line on stderr: {stderr[-500:]!r}"
    return int(m.group(1))


def _freestanding(tmp_path: Path) -> Path:
    cc = "aarch64-linux-gnu-gcc"
    if shutil.which(cc) is None:
        unavailable(f"{cc} not installed")
    src, exe = tmp_path / "free.c", tmp_path / "free"
    src.write_text(FREESTANDING)
    subprocess.run([cc, "-O2", "-static", "-nostdlib", "-ffreestanding", "-o", str(exe), str(src)],
                   check=True, capture_output=True)
    return exe


def _baremetal_elf(source: str, tmp_path: Path) -> Path:
    tools = baremetal.missing_tools()
    if tools:
        unavailable(f"binutils for aarch64 missing: {tools}")
    src, obj, elf = tmp_path / "p.S", tmp_path / "p.o", tmp_path / "p.elf"
    src.write_text(source)
    subprocess.run(["aarch64-linux-gnu-as", "-o", str(obj), str(src)], check=True, capture_output=True)
    subprocess.run(["aarch64-linux-gnu-ld", "-Ttext", "0x40080000", "-o", str(elf), str(obj)],
                   check=True, capture_output=True)
    return elf


def _virt(elf: Path) -> list[str]:
    exe = shutil.which("pyqemu-system-aarch64")
    assert exe, "pyqemu-system-aarch64 is not installed (pip install -e .)"
    return [exe, "-M", "virt", "-cpu", "cortex-a57", "-m", "128", "-nographic", "-nic", "none",
            "-kernel", str(elf)]


def test_user_count_equals_qemu_exec_trace(qemu_ref, pyqemu_run, tmp_path: Path) -> None:
    """Exactly QEMU's count: every instruction, both SVCs included (no systematic difference;
    the exit() SVC ends the only thread, whose count must survive it)."""
    exe = _freestanding(tmp_path)
    log = tmp_path / "exec.log"
    # -singlestep (QEMU 7.2's name; 8.1 renamed it -one-insn-per-tb): one instruction per TB;
    # nochain: every TB entry goes through the logged path, so Trace lines = instructions.
    ref = qemu_ref(exe, extra_opts=["-singlestep", "-d", "nochain,exec", "-D", str(log)])
    assert ref.returncode == 0, ref.stderr
    qemu_count = sum(1 for line in log.read_text().splitlines() if line.startswith("Trace "))
    assert qemu_count > 50000  # the 10,000-step loop is 5 instructions a step
    got = pyqemu_run(exe, env=COUNT_ENV)
    assert (got.stdout, got.returncode) == (ref.stdout, 0)
    assert _insns(got.stderr) == qemu_count
    assert re.search(rb"^translate: \d+\.\d+ s, \d+ blocks$", got.stderr, re.M), got.stderr


def test_user_count_off_by_default(pyqemu_run, tmp_path: Path) -> None:
    got = pyqemu_run(_freestanding(tmp_path))
    assert got.returncode == 0
    assert b"insns:" not in got.stderr


LOOP_STEPS = 5000
# Executed: ldr, 2 per step, ldr, mov, str, mov, str, wfi = 2 * LOOP_STEPS + 7. WFI halts for
# good (interrupts stay masked from reset, nothing is pending), so `b 2b` never runs and the
# count stays put until SIGTERM shuts the machine down.
BAREMETAL = rf"""
    .global _start
_start:
    ldr x0, ={LOOP_STEPS}
1:  subs x0, x0, #1
    b.ne 1b
    ldr x9, =0x09000000
    mov w1, #'D'
    str w1, [x9]
    mov w1, #'\n'
    str w1, [x9]
2:  wfi
    b 2b
    .ltorg
"""


def test_system_count_is_exact(tmp_path: Path) -> None:
    p = subprocess.Popen(_virt(_baremetal_elf(BAREMETAL, tmp_path)), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, **COUNT_ENV))
    try:
        # The UART line is written by the block that ends with the WFI: once it is out,
        # that block completes before the main loop handles the signal.
        assert p.stdout is not None
        assert p.stdout.read(2) == b"D\n"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert _insns(err) == 2 * LOOP_STEPS + 7
    assert re.search(rb"^translate: \d+\.\d+ s, \d+ blocks$", err, re.M), err


def test_system_count_off_by_default(tmp_path: Path) -> None:
    """Without PYQEMU_COUNT_INSNS nothing is printed (and blocks are built without counters)."""
    elf = _baremetal_elf(".global _start\n_start: ldr x0, =0x84000008\nhvc #0\n1: b 1b\n.ltorg\n",
                         tmp_path)
    res = subprocess.run(_virt(elf), stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert b"insns:" not in res.stderr


@pytest.fixture(autouse=True)
def _no_count_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests set the variable per process; a developer's own setting must not leak in."""
    monkeypatch.delenv("PYQEMU_COUNT_INSNS", raising=False)
