"""Linux user mode for 32-bit ARM (EABI): pyqemu-arm compared with Debian's qemu-arm.

The C programs in ``arm_user_progs/`` (built static with arm-linux-gnueabihf-gcc, in ARM
and in Thumb) print only deterministic facts; pyqemu-arm must print the same lines and
exit the same way. Smaller tests drive a ``Process(target="arm")`` directly with a few
hand-assembled instructions (SVC from ARM and Thumb state, the kuser helper trap).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from emu_harness import GUEST_ENV, run_process

ROOT = Path(__file__).resolve().parents[2]
PROGS = Path(__file__).resolve().parent / "arm_user_progs"
CACHE = Path(os.environ.get("PYQEMU_GUEST_CACHE", ROOT / "tests" / ".cache" / "guest"))
CC = "arm-linux-gnueabihf-gcc"
QEMU_ARM = os.environ.get("QEMU_ARM", "qemu-arm")
TIMEOUT = float(os.environ.get("PYQEMU_TEST_TIMEOUT", "900"))

needs_tools = pytest.mark.skipif(shutil.which(CC) is None or shutil.which(QEMU_ARM) is None,
                                 reason="needs gcc-arm-linux-gnueabihf and qemu-user")


def build(name: str, *flags: str, static: bool = True) -> Path:
    """arm_user_progs/<name>.c built -O1 with `flags`, static unless asked (cached by content
    and flags); dynamic ones are PIE (Debian's default)."""
    src = PROGS / f"{name}.c"
    flags = ("-static",) + flags if static else flags
    key = hashlib.sha256(src.read_bytes() + " ".join(flags).encode()).hexdigest()[:16]
    out = CACHE / f"{name}-arm-{key}"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + f".{os.getpid()}")
        subprocess.run([CC, "-O1", "-Wall", *flags, "-o", str(tmp), str(src), "-lpthread"],
                       check=True)
        os.replace(tmp, out)
    return out


def pyqemu_arm(args: list[str], env: dict | None = None):
    code = "import sys; from pyqemu.linux_user.main import main_arm; sys.exit(main_arm())"
    e = dict(GUEST_ENV if env is None else env)
    e["PYTHONPATH"] = str(ROOT / "src")
    return run_process([sys.executable, "-c", code, *args], env=e, timeout=TIMEOUT)


def qemu_arm(args: list[str], env: dict | None = None):
    return run_process([QEMU_ARM, *args], env=dict(GUEST_ENV if env is None else env), timeout=120)


def assert_same(ref, got, what: str) -> None:
    assert got.returncode == ref.returncode, \
        f"{what}: exit status qemu-arm {ref.returncode}, pyqemu {got.returncode}\n{got.stderr[-2000:]!r}"
    assert got.stdout.decode(errors="replace") == ref.stdout.decode(errors="replace"), what


@needs_tools
@pytest.mark.parametrize("prog,mode", [
    ("arm_sys", "-marm"), ("arm_sys", "-mthumb"),
    ("arm_sig", "-marm"), ("arm_sig", "-mthumb"),
    ("arm_kuser", "-marm"), ("arm_kuser", "-mthumb"),
    ("arm_auxv", "-marm"), ("arm_net", "-mthumb"),
    ("arm_restart", "-marm"), ("arm_restart", "-mthumb"), ("arm_sigvfp", "-marm"),
    ("arm_proc", "-mthumb"), ("arm_ipc", "-marm"), ("arm_select", "-mthumb"),
    ("arm_msync", "-mthumb"),
])
def test_program_matches_qemu_arm(prog: str, mode: str) -> None:
    exe = str(build(prog, mode))
    ref = qemu_arm([exe, "one", "two"])
    got = pyqemu_arm([exe, "one", "two"])
    assert_same(ref, got, f"{prog} {mode}")


SYSROOT = "/usr/arm-linux-gnueabihf"


@needs_tools
@pytest.mark.skipif(not os.path.exists(SYSROOT + "/lib/ld-linux-armhf.so.3"),
                    reason="needs libc6-armhf-cross")
@pytest.mark.parametrize("prog,mode", [("arm_sys", "-mthumb"), ("arm_sig", "-marm")])
def test_dynamic_pie_program_with_prefix(prog: str, mode: str) -> None:
    """A dynamically linked PIE program and its interpreter, found under -L."""
    exe = str(build(prog, mode, static=False))
    ref = qemu_arm(["-L", SYSROOT, exe])
    got = pyqemu_arm(["-L", SYSROOT, exe])
    assert_same(ref, got, f"{prog} {mode} dynamic")


@needs_tools
def test_options_and_environment_twins() -> None:
    """-E / QEMU_SET_ENV / PYQEMU_SET_ENV, -0, -cpu: the same options as qemu-arm."""
    exe = str(build("arm_auxv", "-marm"))
    for args, env in ((["-E", "PYQEMU_ARM_T=opt", exe], None),
                      ([exe], {**GUEST_ENV, "QEMU_SET_ENV": "PYQEMU_ARM_T=env"}),
                      (["-cpu", "cortex-a15", exe], None)):
        ref = qemu_arm(args, env)
        got = pyqemu_arm(args, env)
        if args[0] == "-cpu":  # qemu-arm claims ThumbEE (HWCAP bit 11) for v7 cores; pyqemu does not
            import re
            hw = [int(re.search(rb"^AT_HWCAP (\w+)$", r.stdout, re.M).group(1), 16) for r in (ref, got)]
            assert hw[1] == hw[0] & ~0x800
            drop = (b"AT_HWCAP",)
            ref = ref._replace(stdout=b"".join(x for x in ref.stdout.splitlines(True)
                                               if not x.startswith(drop)))
            got = got._replace(stdout=b"".join(x for x in got.stdout.splitlines(True)
                                               if not x.startswith(drop)))
        assert_same(ref, got, " ".join(args))
    got = pyqemu_arm([exe], {**GUEST_ENV, "PYQEMU_SET_ENV": "PYQEMU_ARM_T=py"})
    assert b"env py\n" in got.stdout
    got = pyqemu_arm(["-cpu", "help"])
    assert got.returncode == 0 and b"cortex-a15" in got.stdout
    ref = qemu_arm(["-cpu", "help"])
    assert b"cortex-a15" in ref.stdout


@needs_tools
def test_wrong_architecture_is_refused(tmp_path: Path) -> None:
    """An ELF64 (AArch64) program is not an ARM program: the same message as qemu-arm."""
    a64 = shutil.which("aarch64-linux-gnu-gcc")
    if a64 is None:
        pytest.skip("needs gcc-aarch64-linux-gnu")
    src = tmp_path / "t.c"
    src.write_text("int main(void){return 0;}\n")
    exe = tmp_path / "a64"
    subprocess.run([a64, "-static", "-o", str(exe), str(src)], check=True)
    ref = qemu_arm([str(exe)])
    got = pyqemu_arm([str(exe)])
    # qemu-arm exits with 255; pyqemu's loader errors exit with 1 (tests/functional/test_bad_input.py)
    assert ref.returncode == 255 and got.returncode == 1
    assert ref.stderr.replace(b"qemu-arm", b"pyqemu-arm").strip() == got.stderr.strip()


# --- a Process driven directly --------------------------------------------------------------

SVC_A32 = 0xEF000000


def _movw(rd: int, imm: int) -> int:
    """movw rd, #imm16 (A32)."""
    return 0xE3000000 | ((imm >> 12) << 16) | (rd << 12) | (imm & 0xFFF)


def _proc():
    from pyqemu.linux_user.process import Process
    from pyqemu.linux_user.signal import SignalState
    p = Process(target="arm")
    p.signals = SignalState(p, install=False)
    cpu = p.new_cpu()
    p.threads[os.getpid()] = cpu
    cpu.tid = os.getpid()
    return p, cpu


def _run(p, cpu, code: bytes, thumb: bool, regs: dict[int, int], budget: int = 50) -> None:
    from pyqemu.accel.tcg.cpu_exec import cpu_exec
    from pyqemu.linux_user.mmap import PROT_EXEC, PROT_READ
    p.mem.map(0x10000, 0x1000, PROT_READ | PROT_EXEC, code)
    for r, v in regs.items():
        cpu.regs[r] = v
    cpu.pc = 0x10000 | (1 if thumb else 0)
    cpu_exec(cpu, p.tbs, budget)


def test_svc_arm_state_uses_r7_and_32bit_results() -> None:
    """getpid (20) through r7; an unknown number returns -ENOSYS as a 32-bit value."""
    p, cpu = _proc()
    ins = [_movw(7, 20), SVC_A32, 0xE1A08000,  # getpid; mov r8, r0
           _movw(7, 0x1FF), SVC_A32, 0xE7F000F0]  # an unallocated number; udf: the end
    code = struct.pack(f"<{len(ins)}I", *ins)
    from pyqemu.accel.tcg.excp import GuestException
    with pytest.raises(GuestException):
        _run(p, cpu, code, False, {})
    assert cpu.regs[8] == os.getpid()
    assert cpu.regs[0] == (-38) & 0xFFFFFFFF  # ENOSYS, 32-bit


def test_svc_thumb_state_write() -> None:
    """write(1, buf, n) from Thumb: movs r7, #4; svc #0 (a 2-byte SVC)."""
    p, cpu = _proc()
    r, w = os.pipe()
    try:
        from pyqemu.linux_user.mmap import PROT_READ, PROT_WRITE
        p.mem.map(0x20000, 0x1000, PROT_READ | PROT_WRITE, b"thumb!")
        code = struct.pack("<HHH", 0x2704, 0xDF00, 0xDE00)  # movs r7,#4; svc 0; udf
        from pyqemu.accel.tcg.excp import GuestException
        with pytest.raises(GuestException):
            _run(p, cpu, code, True, {0: w, 1: 0x20000, 2: 6})
        assert cpu.regs[0] == 6
        assert os.read(r, 16) == b"thumb!"
    finally:
        os.close(r)
        os.close(w)


def test_set_tls_and_kuser_get_tls() -> None:
    """ARM_set_tls (0xf0005) sets TPIDRURO; __kuser_get_tls returns it to lr."""
    from pyqemu.target.arm import cpu32 as C
    p, cpu = _proc()
    ins = [_movw(0, 0x1234), 0xE3400000 | (0x5 << 16) | 0x678,  # movt r0, #0x5678
           _movw(7, 0x0005), 0xE340700F,  # movt r7, #0x000f -> r7 = 0xf0005
           SVC_A32, _movw(0, 0),
           0xE3E0CA0F,  # mvn ip, #0xf000  (ip = 0xffff0fff)
           0xE24CC01F,  # sub ip, ip, #0x1f (0xffff0fe0)
           0xE12FFF3C,  # blx ip
           0xE7F000F0]  # udf
    code = struct.pack(f"<{len(ins)}I", *ins)
    from pyqemu.accel.tcg.excp import GuestException
    with pytest.raises(GuestException) as e:
        _run(p, cpu, code, False, {})
    assert cpu.regs[C.REG_TPIDRURO] == 0x56781234
    assert cpu.regs[0] == 0x56781234
    assert e.value.kind == "ill"
    # the vector page: read+exec, zeros but the helper version word
    assert p.mem.read(0xFFFF0FFC, 4) == struct.pack("<I", 5)
    assert p.mem.read(0xFFFF0FE0, 4) == bytes(4)


def test_elf32_headers() -> None:
    """ELF32 program headers are read in their own field order."""
    from pyqemu.linux_user.elfhdr import ELF32
    if shutil.which(CC) is None:
        pytest.skip("needs gcc-arm-linux-gnueabihf")
    exe = build("arm_auxv", "-marm")
    out = subprocess.run(["arm-linux-gnueabihf-readelf", "-lW", str(exe)], capture_output=True,
                         text=True, check=True).stdout
    with open(exe, "rb") as f:
        elf = ELF32(f)
    loads = [s.header for s in elf.iter_segments() if s.header["p_type"] == "PT_LOAD"]
    want = [line.split() for line in out.splitlines() if line.strip().startswith("LOAD")]
    assert [(h["p_offset"], h["p_vaddr"], h["p_filesz"], h["p_memsz"]) for h in loads] == \
        [tuple(int(x, 16) for x in (w[1], w[2], w[4], w[5])) for w in want]
    assert elf.header["e_machine"] == 40


@needs_tools
def test_strace_names_match_qemu_arm() -> None:
    """-strace logs the same calls as qemu-arm, under ARM's names (ugetrlimit, readlink...),
    with 32-bit pointers; the ARM private calls (set_tls) are not logged."""
    import re
    exe = str(build("arm_auxv", "-marm"))
    ref = qemu_arm(["-strace", exe])
    got = pyqemu_arm(["-strace", exe])
    pat = re.compile(rb"^\d+ (Unknown syscall \d+|\w+)\(?", re.M)
    assert pat.findall(got.stderr) == pat.findall(ref.stderr)
    assert re.search(rb"^\d+ brk\(NULL\) = 0x[0-9a-f]{8}$", got.stderr, re.M)


# --- atomicity of the read-compare-write helpers (exclusives, kuser cmpxchg) ----------------

FLAG = 0x20000


def _atomic_proc():
    from pyqemu.linux_user.mmap import PROT_READ, PROT_WRITE
    p, cpu = _proc()
    p.mem.map(FLAG, 0x1000, PROT_READ | PROT_WRITE)
    return p, cpu


def _kuser_call(cpu, entry: int, r0: int, r1: int, r2: int) -> int:
    """Take the trap of the kuser helper at ``entry`` (as after its ``svc``); return r0."""
    from pyqemu.linux_user.arm import kuser
    from pyqemu.target.arm import cpu32 as C
    R = cpu.regs
    R[0], R[1], R[2], R[C.REG_LR] = r0, r1, r2, 0x10001
    cpu.pc = entry + 4
    kuser.run_helper(cpu)
    assert cpu.pc == 0x10001
    return R[0]


@pytest.mark.parametrize("wide", [False, True])
def test_kuser_cmpxchg_takes_the_atomics_lock(wide: bool) -> None:
    """__kuser_cmpxchg(64) compares and stores under the lock of the exclusives and atomics:
    while another thread holds it, the helper waits, and then stores."""
    from pyqemu.linux_user.arm import kuser
    from pyqemu.target.arm.helper_a64_atomic import LOCK
    p, cpu = _atomic_proc()
    mem = p.mem
    if wide:
        mem.put_u64(FLAG + 8, 0x1111111122222222)  # oldval
        mem.put_u64(FLAG + 16, 0x3333333344444444)  # newval
        mem.put_u64(FLAG + 24, 0x1111111122222222)
        call = (kuser.CMPXCHG64, FLAG + 8, FLAG + 16, FLAG + 24)
    else:
        mem.put_u32(FLAG + 24, 7)
        call = (kuser.CMPXCHG, 7, 9, FLAG + 24)
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(_kuser_call(cpu, *call)))
    with LOCK:
        t.start()
        t.join(0.3)
        assert t.is_alive(), "the helper did not wait for the atomics lock"
        assert mem.u32(FLAG + 24) in (7, 0x22222222)
    t.join(10)
    assert result == [0]
    assert mem.u64(FLAG + 24) == (0x3333333344444444 if wide else 9)


def _race_with_plain_release(mem, take) -> tuple[int, int]:
    """Two threads share the word at FLAG (0: free): one takes it with ``take()`` (an
    atomic exchange with 1 built from a read-compare-write helper: True when it saw 0),
    the other frees it with a plain store whenever it is taken, as often as it can for a
    second. Returns (times freed, times taken after a free): equal unless a
    read-compare-write lost a plain store (the flag then stays taken by nobody)."""
    freed = taken = 0
    done = threading.Event()

    def taker() -> None:
        nonlocal taken
        while not done.is_set():
            if take():
                taken += 1

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    t = threading.Thread(target=taker)
    try:
        t.start()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            if struct.unpack_from("<I", mem.mem, FLAG)[0] == 1:
                struct.pack_into("<I", mem.mem, FLAG, 0)  # as generated code stores a word
                freed += 1
        while struct.unpack_from("<I", mem.mem, FLAG)[0] != 1 and time.monotonic() < end + 10:
            pass  # the last free is taken
    finally:
        done.set()
        t.join(30)
        sys.setswitchinterval(old)
    return freed, taken - 1  # the first take needs no free


def test_strex_does_not_lose_a_racing_plain_store() -> None:
    """LDREX/STREX test-and-set (as atomic_flag_test_and_set: STREX stores 1 even over 1)
    against a plain-store release: every release is seen (no lost update, no deadlock)."""
    from pyqemu.target.arm import helper_a32_ldst as H
    p, cpu = _atomic_proc()
    strex = H.strex.func

    def take() -> bool:
        v = p.mem.u32(FLAG)  # LDREX
        return strex(cpu, FLAG, FLAG, v, 1, 4) == 0 and v == 0

    freed, taken = _race_with_plain_release(p.mem, take)
    assert freed > 10 and taken == freed, (freed, taken)


def test_kuser_cmpxchg_does_not_lose_a_racing_plain_store() -> None:
    """The same with an exchange built on __kuser_cmpxchg (glibc's pre-v6K atomics)."""
    from pyqemu.linux_user.arm import kuser
    p, cpu = _atomic_proc()

    def take() -> bool:
        v = p.mem.u32(FLAG)
        return _kuser_call(cpu, kuser.CMPXCHG, v, 1, FLAG) == 0 and v == 0

    freed, taken = _race_with_plain_release(p.mem, take)
    assert freed > 10 and taken == freed, (freed, taken)


def test_msync_of_unmapped_space_per_target() -> None:
    """msync finds no hole below qemu-arm's host reservation (0xffff0000) for 32-bit ARM;
    AArch64 keeps ENOMEM for unmapped ranges (as qemu-aarch64). Both check arguments
    like the kernel and accept an empty range."""
    import errno

    from pyqemu.linux_user.mmap import MS_ASYNC, MS_SYNC
    from pyqemu.linux_user.process import Process
    arm, a64 = Process(target="arm").mem, Process(target="aarch64").mem
    assert arm.msync(0x1000, 4096, MS_ASYNC) == 0
    assert arm.msync(0xE0000000, 0x10000, MS_SYNC) == 0
    assert arm.msync(0xFFFF0000, 4096, MS_SYNC) == 0  # the vector page
    assert arm.msync(0xFFFE0000, 0x20000, MS_SYNC) == -errno.ENOMEM  # past it
    assert a64.msync(0x1000, 4096, MS_ASYNC) == -errno.ENOMEM
    for mem in (arm, a64):
        assert mem.msync(0x1000, 0, MS_SYNC) == 0
        assert mem.msync(0x1001, 4096, MS_SYNC) == -errno.EINVAL
        assert mem.msync(0x1000, 4096, MS_SYNC | MS_ASYNC) == -errno.EINVAL
        assert mem.msync(0x1000, 4096, 0x100) == -errno.EINVAL
