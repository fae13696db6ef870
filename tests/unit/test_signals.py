"""Guest signals and processes in user mode, compared with qemu-aarch64.

The C programs in ``signal_progs/`` (built static) print deterministic facts;
pyqemu must print the same and end the same way (exit status, death by
signal, QEMU's ``uncaught target signal`` message). Where qemu-aarch64 cannot
be the reference (it cannot exec an AArch64 program without binfmt_misc) the
expected output is spelled out. The first tests need no toolchain: the frame
layout and siginfo encoding against the kernel's structure offsets.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import struct
import subprocess
import time
from pathlib import Path

import pytest
from emu_harness import GUEST_ENV, _pyqemu_env, assert_same_behavior, pyqemu_command, qemu_available

from pyqemu.linux_user.aarch64 import signal_frame as F
from pyqemu.target.arm.cpu import ARMCPU, REG_FPCR, REG_FPSR, REG_V0

PROGS = Path(__file__).resolve().parent / "signal_progs"
CACHE = Path(os.environ.get("PYQEMU_GUEST_CACHE", Path(__file__).resolve().parents[1] / ".cache" / "guest"))
CC = "aarch64-linux-gnu-gcc"

needs_cc = pytest.mark.skipif(shutil.which(CC) is None, reason="needs gcc-aarch64-linux-gnu")
needs_qemu = pytest.mark.skipif(shutil.which(CC) is None or not qemu_available(),
                                reason="needs gcc-aarch64-linux-gnu and qemu-user")


def compile_prog(name: str) -> Path:
    """Build signal_progs/<name>.c static -O1 (cached by content)."""
    src = PROGS / f"{name}.c"
    key = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    out = CACHE / f"sig-{name}-{key}"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + f".{os.getpid()}")
        subprocess.run([CC, "-static", "-O1", "-Wall", "-pthread", "-o", str(tmp), str(src)], check=True)
        os.replace(tmp, out)
    return out


# --- the frame, without running anything ----------------------------------------------

def _cpu_with_state() -> ARMCPU:
    cpu = ARMCPU()
    R = cpu.regs
    for i in range(31):
        R[i] = 0x1000 * i + 7
    R[31] = 0x7FFF0000
    cpu.pc = 0x400123
    cpu.nzcv = 0xA0000000
    R[REG_FPSR] = 0x08000010
    R[REG_FPCR] = 0x03000000
    for i in range(32):
        R[REG_V0 + i] = (i << 120) | (0xDEADBEEF << 32) | i
    return cpu


def test_frame_layout_matches_kernel_offsets():
    cpu = _cpu_with_state()
    info = F.siginfo(11, 2, addr=0x1234)
    blob = F.build_frame(cpu, info, 0x5000, (0x9000, 0, 0x4000), fault_address=0x1234, esr=0x92000046)
    assert len(blob) == F.FRAME_SIZE == 4688  # sizeof(struct rt_sigframe) on arm64
    assert blob[:128] == info
    uc = 128
    assert struct.unpack_from("<QiIQ", blob, uc + 16) == (0x9000, 0, 0, 0x4000)  # uc_stack
    assert struct.unpack_from("<Q", blob, uc + 40)[0] == 0x5000  # uc_sigmask
    mc = uc + 176
    assert struct.unpack_from("<Q", blob, mc)[0] == 0x1234  # fault_address
    assert struct.unpack_from("<Q", blob, mc + 8 + 8 * 5)[0] == 0x5007  # regs[5]
    assert struct.unpack_from("<QQQ", blob, mc + 256) == (0x7FFF0000, 0x400123, 0xA0000000)
    res = mc + 288
    assert struct.unpack_from("<IIII", blob, res) == (0x46508001, 528, 0x08000010, 0x03000000)
    v3 = int.from_bytes(blob[res + 16 + 3 * 16:res + 16 + 4 * 16], "little")
    assert v3 == (3 << 120) | (0xDEADBEEF << 32) | 3
    assert struct.unpack_from("<IIQ", blob, res + 528) == (0x45535201, 16, 0x92000046)  # esr
    assert struct.unpack_from("<II", blob, res + 544) == (0, 0)  # terminator


def test_frame_round_trip_and_bad_frames():
    cpu = _cpu_with_state()
    blob = F.build_frame(cpu, bytes(128), 0x42, (0, 2, 0))
    other = ARMCPU()
    mask, stack = F.restore_frame(other, blob)
    assert (mask, stack) == (0x42, (0, 2, 0))
    assert other.regs[:32] == cpu.regs[:32] and other.pc == cpu.pc
    assert other.nzcv == 0xA0000000
    assert other.regs[REG_V0:REG_V0 + 32] == cpu.regs[REG_V0:REG_V0 + 32]
    assert (other.regs[REG_FPSR], other.regs[REG_FPCR]) == (0x08000010, 0x03000000)
    bad = bytearray(blob)
    struct.pack_into("<Q", bad, 128 + 176 + 272, 0x3C5)  # pstate: EL1h with DAIF masked
    with pytest.raises(F.BadFrame):
        F.restore_frame(ARMCPU(), bytes(bad))
    bad = bytearray(blob)
    struct.pack_into("<I", bad, F.RESERVED_OFF, 0x12345678)  # no fpsimd record
    with pytest.raises(F.BadFrame):
        F.restore_frame(ARMCPU(), bytes(bad))


def test_siginfo_unions():
    chld = F.siginfo(17, 1, pid=321, uid=1000, status=3)
    assert struct.unpack_from("<iiiiiIi", chld) == (17, 0, 1, 0, 321, 1000, 3)
    rt = F.siginfo(35, -1, pid=5, uid=6, value=0x1122334455)
    assert struct.unpack_from("<Q", rt, 24)[0] == 0x1122334455
    fault = F.siginfo(11, 1, addr=0xFFFF_0000_1000)
    assert struct.unpack_from("<Q", fault, 16)[0] == 0xFFFF_0000_1000
    assert F.with_signo(fault, 7)[:4] == struct.pack("<i", 7)


# --- a raw-syscall program: handler without SA_RESTORER returns via our trampoline -------

ASM_HANDLER = r"""
.global _start
_start:
    mov x0, #10            // rt_sigaction(SIGUSR1, &act, NULL, 8)
    adr x1, act
    mov x2, #0
    mov x3, #8
    mov x8, #134
    svc 0
    mov x8, #172           // getpid
    svc 0
    mov x1, #10            // kill(pid, SIGUSR1)
    mov x19, #0x1234
    mov x8, #129
    svc 0
    mov x20, x0            // kill's result survives the handler
    mov x0, #1
    adr x1, after
    mov x2, #6
    mov x8, #64
    svc 0
    add x0, x19, x20
    mov x8, #93            // exit(x19 + x20): the handler's changes were undone
    svc 0
handler:
    mov x19, #5
    mov x0, #1
    adr x1, msg
    mov x2, #8
    mov x8, #64
    svc 0
    ret                    // x30 = the return trampoline
.align 3
act: .quad handler, 0, 0, 0
msg: .ascii "handler\n"
after: .ascii "after\n"
"""


@needs_cc
def test_asm_handler_and_trampoline(tmp_path):
    src = tmp_path / "h.S"
    src.write_text(ASM_HANDLER)
    exe = tmp_path / "h"
    subprocess.run([CC, "-nostdlib", "-static", "-o", str(exe), str(src)], check=True)
    r = subprocess.run([*pyqemu_command(), str(exe)], capture_output=True, timeout=60,
                       env=_pyqemu_env(GUEST_ENV))
    assert r.stdout == b"handler\nafter\n"
    assert r.returncode == 0x34


# --- C programs against qemu-aarch64 -----------------------------------------------------

@needs_qemu
def test_signal_frame_as_handler_sees_it(qemu_ref, pyqemu_run):
    exe = compile_prog("sigframe")
    ref = qemu_ref(exe)
    got = pyqemu_run(exe)
    assert b"checks: 7 ok=1\n" in got.stdout, got.stdout.decode() + got.stderr.decode()
    # qemu-aarch64 -cpu max restores V registers from its SVE record, not from the
    # fpsimd record the handler edited; Linux (and pyqemu) use the fpsimd record.
    assert b"v20=0123456789abcdeffedcba9876543210\n" in got.stdout

    def strip(out: bytes) -> bytes:
        return b"".join(ln for ln in out.splitlines(keepends=True) if not ln.startswith(b"v20="))
    assert_same_behavior(ref._replace(stdout=strip(ref.stdout)), got._replace(stdout=strip(got.stdout)),
                         what="sigframe")


@needs_qemu
def test_processes_and_signals(qemu_ref, pyqemu_run):
    """SIGCHLD, SA_RESTART vs EINTR, SIGPIPE, default actions, nanosleep, sigtimedwait."""
    exe = compile_prog("procs")
    ref = qemu_ref(exe)
    assert b"read restart: n=1 c=z alarms=2" in ref.stdout
    assert_same_behavior(ref, pyqemu_run(exe), what="procs")


@needs_cc
def test_exec_of_guest_programs(pyqemu_run):
    """fork + execve of an AArch64 program runs it under pyqemu; host programs run natively."""
    exe = compile_prog("procs")
    got = pyqemu_run(exe, ["exec"])
    assert got.stdout.decode() == (
        "exec'd child: argc=3 argv0=renamed-child env=hello usr1-blocked=1 usr2-ignored=1\n"
        "exec-self: exited 9\n"
        f"exec'd child: argc=2 argv0={exe.name} env=(null) usr1-blocked=0 usr2-ignored=0\n"
        "exec-argv0: exited 9\n"
        "host shell says zero one\n"
        "exec-host: exited 0\n"), got.stderr.decode()
    assert got.returncode == 0


@needs_cc
def test_exec_of_scripts(tmp_path, pyqemu_run):
    """#! scripts: an AArch64 interpreter runs under pyqemu, a host one natively."""
    exe = compile_prog("procs")
    guest_script = tmp_path / "guest-script"
    guest_script.write_text(f"#!{exe} child-mode\n")
    host_script = tmp_path / "host-script"
    host_script.write_text("#!/bin/sh\necho host script: $1\n")
    for f in (guest_script, host_script):
        f.chmod(0o755)
    got = pyqemu_run(exe, ["run", str(guest_script)])
    # argv: interpreter, its argument, the script, then the script's arguments
    assert got.stdout.decode() == (f"exec'd child: argc=4 argv0={exe.name} env=(null) usr1-blocked=0 "
                                   "usr2-ignored=0\nrun: exited 9\n"), got.stderr.decode()
    got = pyqemu_run(exe, ["run", str(host_script)])
    assert got.stdout == b"host script: extra\nrun: exited 0\n"
    got = pyqemu_run(exe, ["run", str(tmp_path / "missing")])
    assert got.stdout == b"execv: No such file or directory\nrun: exited 127\n"


@needs_qemu
@pytest.mark.parametrize("mode", ["abort", "segv", "term", "kill-usr2", "blocked-segv", "thread-exit-group",
                                  "thread-segv", "main-pthread-exit", "exit-code"])
def test_exit_status_and_uncaught_signals(mode, qemu_ref, pyqemu_run):
    exe = compile_prog("die")
    ref = qemu_ref(exe, [mode])
    got = pyqemu_run(exe, [mode])
    assert_same_behavior(ref, got, what=mode, compare_stderr=True)


@needs_qemu
@pytest.mark.parametrize("mode,sig", [
    ("read", signal.SIGTERM), ("hread", signal.SIGTERM), ("read", signal.SIGINT),
    ("hjoin", signal.SIGTERM), ("join", signal.SIGINT), ("hsleep", signal.SIGTERM),
    ("hspin", signal.SIGTERM), ("spin", signal.SIGINT),
])
def test_signals_from_outside(mode, sig):
    """A host signal reaches the guest wherever it waits: default action or handler."""
    exe = compile_prog("ext")
    results = []
    for cmd in (["qemu-aarch64"], pyqemu_command()):
        # (a shell without job control starts background jobs with SIGINT ignored, and an
        # ignored disposition is inherited by the guest: give both emulators the default.
        # env(1) does it rather than a preexec_fn, which would make Popen fork the test worker,
        # a large process, where it otherwise spawns with vfork)
        p = subprocess.Popen(["env", "--default-signal=INT", *cmd, str(exe), mode],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=_pyqemu_env(GUEST_ENV))
        try:
            assert p.stdout.readline() == b"ready\n"
            time.sleep(0.2)  # let it reach the wait
            p.send_signal(sig)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        results.append((p.returncode, out))
    assert results[1] == results[0]
    assert results[0][0] == (7 if mode.startswith("h") and sig == signal.SIGTERM else -sig)


@needs_qemu
def test_stop_and_continue(qemu_ref, pyqemu_run):
    """Stop signals with their default action stop the (host) process with that signal."""
    exe = compile_prog("stop")
    ref = qemu_ref(exe)
    assert b"stopped=1 sig=19\n" in ref.stdout
    assert_same_behavior(ref, pyqemu_run(exe), what="stop")
