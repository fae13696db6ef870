"""AArch32 VFP and Advanced SIMD (NEON): pyqemu against Unicorn, A32 and T32.

Each case is one or two instructions assembled by ``arm-linux-gnueabihf-as``
(batched: one assembler run per group and instruction set), run from random
state on Unicorn (``max`` CPU, FPEXC.EN set) and on pyqemu's AArch32
translator; R0-R14, NZCV, D0-D31, FPSCR and a data page are compared. The D
registers hold values biased toward the special cases of floating point
(zeros, infinities, NaNs, denormals, extremes), and FPSCR a random rounding
mode, flush-to-zero, default-NaN setting and cumulative flags.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

U = pytest.importorskip("unicorn")
from unicorn import arm_const as A  # noqa: E402

from pyqemu.accel.tcg.cpu_exec import cpu_exec  # noqa: E402
from pyqemu.accel.tcg.excp import GuestException  # noqa: E402
from pyqemu.linux_user.mmap import PROT_EXEC, PROT_READ, PROT_WRITE  # noqa: E402
from pyqemu.linux_user.process import Process  # noqa: E402

AS = "arm-linux-gnueabihf-as"
CODE, DATA, DSIZE = 0x10000, 0x20000, 0x2000
SEED = 8


@pytest.fixture(autouse=True)
def _no_code_cache(monkeypatch):
    monkeypatch.setenv("PYQEMU_CACHE", "0")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed")
    return path


def assemble(snippets: list[str], thumb: bool) -> list[bytes]:
    """Machine code of each snippet (instructions separated by ';')."""
    asm = _tool(AS)
    objcopy = _tool("arm-linux-gnueabihf-objcopy")
    nm = _tool("arm-linux-gnueabihf-nm")
    lines = [".syntax unified", ".arch armv8-a", ".fpu neon-fp-armv8", ".thumb" if thumb else ".arm", ".text"]
    for i, s in enumerate(snippets):
        lines += [".balign 4", f"s{i}:", *s.split(";"), f"e{i}:"]
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/a.s", "w") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run([asm, "-o", f"{d}/a.o", f"{d}/a.s"], check=True)
        subprocess.run([objcopy, "-O", "binary", "-j", ".text", f"{d}/a.o", f"{d}/a.bin"], check=True)
        out = subprocess.run([nm, f"{d}/a.o"], capture_output=True, text=True, check=True).stdout
        with open(f"{d}/a.bin", "rb") as f:
            blob = f.read()
    syms = {p[2]: int(p[0], 16) for p in (line.split() for line in out.splitlines()) if len(p) == 3}
    return [blob[syms[f"s{i}"] : syms[f"e{i}"]] for i in range(len(snippets))]


# --- the two emulators ------------------------------------------------------------------------


def run_unicorn(code: bytes, thumb: bool, st: dict) -> dict:
    uc = U.Uc(U.UC_ARCH_ARM, U.UC_MODE_THUMB if thumb else U.UC_MODE_ARM)
    uc.ctl_set_cpu_model(A.UC_CPU_ARM_MAX)
    uc.mem_map(CODE, 0x1000)
    uc.mem_map(DATA, DSIZE)
    uc.mem_write(CODE, code)
    uc.mem_write(DATA, st["mem"])
    uc.reg_write(A.UC_ARM_REG_C1_C0_2, uc.reg_read(A.UC_ARM_REG_C1_C0_2) | (0xF << 20))
    uc.reg_write(A.UC_ARM_REG_FPEXC, 0x40000000)
    for i in range(13):
        uc.reg_write(A.UC_ARM_REG_R0 + i, st["r"][i])
    uc.reg_write(A.UC_ARM_REG_SP, st["r"][13])
    uc.reg_write(A.UC_ARM_REG_LR, st["r"][14])
    for i in range(32):
        uc.reg_write(A.UC_ARM_REG_D0 + i, st["d"][i])
    uc.reg_write(A.UC_ARM_REG_FPSCR, st["fpscr"])
    uc.reg_write(A.UC_ARM_REG_CPSR, (uc.reg_read(A.UC_ARM_REG_CPSR) & 0x0FFFFFFF) | st["nzcv"])
    uc.emu_start(CODE | thumb, CODE + len(code))
    r = [uc.reg_read(A.UC_ARM_REG_R0 + i) for i in range(13)]
    return {
        "r": r + [uc.reg_read(A.UC_ARM_REG_SP), uc.reg_read(A.UC_ARM_REG_LR)],
        "d": [uc.reg_read(A.UC_ARM_REG_D0 + i) for i in range(32)],
        "fpscr": uc.reg_read(A.UC_ARM_REG_FPSCR),
        "nzcv": uc.reg_read(A.UC_ARM_REG_CPSR) & 0xF0000000,
        "mem": bytes(uc.mem_read(DATA, DSIZE)),
    }


def run_pyqemu(code: bytes, thumb: bool, st: dict) -> dict:
    """Run ``code`` followed by UDF; returns the state, or {"exc": ...} if it stopped early."""
    p = Process(target="arm")
    udf = b"\x00\xde" if thumb else b"\xf0\x00\xf0\xe7"
    p.mem.map(CODE, 0x1000, PROT_READ | PROT_EXEC, code + udf)
    p.mem.map(DATA, DSIZE, PROT_READ | PROT_WRITE, st["mem"])
    cpu = p.new_cpu()
    R = cpu.regs
    R[0:15] = st["r"]
    R[32:64] = st["d"]
    R[24] = st["fpscr"]
    cpu.nzcv = st["nzcv"]
    cpu.pc = CODE | thumb
    try:
        cpu_exec(cpu, p.tbs, 100)
    except GuestException as e:
        if cpu.addr != CODE + len(code):
            return {"exc": f"{e} at {cpu.addr:#x}"}
    else:
        return {"exc": "ran off"}
    return {"r": R[:15], "d": R[32:64], "fpscr": R[24], "nzcv": cpu.nzcv, "mem": p.mem.read(DATA, DSIZE)}


def differences(code: bytes, thumb: bool, st: dict) -> list[str]:
    u = run_unicorn(code, thumb, st)
    p = run_pyqemu(code, thumb, st)
    if "exc" in p:
        return [f"pyqemu stopped: {p['exc']}"]
    out = [
        f"{k}{i}: unicorn {x:#x} pyqemu {y:#x}"
        for k in ("r", "d")
        for i, (x, y) in enumerate(zip(u[k], p[k], strict=True))
        if x != y
    ]
    out += [f"{k}: unicorn {u[k]:#x} pyqemu {p[k]:#x}" for k in ("fpscr", "nzcv") if u[k] != p[k]]
    if u["mem"] != p["mem"]:
        out.append("memory differs")
    return out


# --- random state -----------------------------------------------------------------------------

SPECIAL_S = [
    0,
    0x80000000,
    0x3F800000,
    0xBF800000,
    0x7F800000,
    0xFF800000,
    0x7FC00000,
    0x7F800001,
    0xFFC00123,
    0x00000001,
    0x807FFFFF,
    0x7F7FFFFF,
    0x40490FDB,
    0x4F000000,
    0xCF000000,
    0x3F000000,
    0x3FC00000,
    0x4B800001,
    0x00800000,
]
SPECIAL_D = [
    0,
    1 << 63,
    0x3FF0000000000000,
    0xBFF0000000000000,
    0x7FF0000000000000,
    0x7FF8000000000000,
    0x7FF0000000000001,
    0x0000000000000001,
    0x7FEFFFFFFFFFFFFF,
    0x400921FB54442D18,
    0x41E0000000000000,
    0xC1E0000000000000,
    0x3FE0000000000000,
    0x3FF8000000000000,
    0x0010000000000000,
    0x4330000000000001,
]
FPSCRS = [
    0,
    0,
    0x00C00000,
    0x00400000,
    0x00800000,
    0x01000000,
    0x02000000,
    0x03000000,
    0x9F,
    0x08000010,
    0x04000000,
    0x04800000,
]  # the last two: alternative half precision (AHP)


def rand_single(r: random.Random) -> int:
    c = r.random()
    if c < 0.3:
        return r.choice(SPECIAL_S)
    if c < 0.8:
        return struct.unpack("<I", struct.pack("<f", r.uniform(-1e4, 1e4)))[0]
    return r.getrandbits(32)


def rand_d(r: random.Random) -> int:
    c = r.random()
    if c < 0.3:
        return r.choice(SPECIAL_D)
    if c < 0.5:
        return rand_single(r) << 32 | rand_single(r)
    if c < 0.8:
        return struct.unpack("<Q", struct.pack("<d", r.uniform(-1e6, 1e6)))[0]
    return r.getrandbits(64)


def rand_state(r: random.Random) -> dict:
    regs = [r.getrandbits(32) for _ in range(15)]
    for i in range(4):  # base registers of loads and stores: 32-byte aligned
        regs[i] = DATA + 0x800 + r.randrange(0x40) * 32  # aligned for any hint
    for i in (5, 6, 7):  # post-index register offsets
        regs[i] = r.randrange(64)
    regs[13] = DATA + 0x1000
    return {
        "r": regs,
        "d": [rand_d(r) for _ in range(32)],
        "fpscr": r.choice(FPSCRS),
        "nzcv": r.getrandbits(4) << 28,
        "mem": r.randbytes(DSIZE),
    }


# --- the cases -----------------------------------------------------------------------------------


def _s(r):
    return f"s{r.randrange(32)}"


def _d(r):
    return f"d{r.randrange(32)}"


def _q(r):
    return f"q{r.randrange(16)}"


def _core(r):
    return f"r{r.choice([4, 5, 6, 7, 8, 9, 10, 11, 12, 14])}"


def _dlist(r, n, step=1, top=32):
    k = r.randrange(top - (n - 1) * step)
    return ", ".join(f"d{k + i * step}" for i in range(n))


def vfp_arith(r):
    out = []
    for op in (
        "vadd",
        "vsub",
        "vmul",
        "vdiv",
        "vnmul",
        "vmla",
        "vmls",
        "vnmla",
        "vnmls",
        "vfma",
        "vfms",
        "vfnma",
        "vfnms",
        "vmaxnm",
        "vminnm",
    ):
        out += [f"{op}.f32 {_s(r)}, {_s(r)}, {_s(r)}", f"{op}.f64 {_d(r)}, {_d(r)}, {_d(r)}"]
    for op in (
        "vabs",
        "vneg",
        "vsqrt",
        "vmov",
        "vrintr",
        "vrintz",
        "vrintx",
        "vrinta",
        "vrintn",
        "vrintp",
        "vrintm",
    ):
        out += [f"{op}.f32 {_s(r)}, {_s(r)}", f"{op}.f64 {_d(r)}, {_d(r)}"]
    for op in ("vcmp", "vcmpe"):
        out += [
            f"{op}.f32 {_s(r)}, {_s(r)}; vmrs APSR_nzcv, fpscr",
            f"{op}.f64 {_d(r)}, {_d(r)}; vmrs APSR_nzcv, fpscr",
            f"{op}.f32 {_s(r)}, #0",
            f"{op}.f64 {_d(r)}, #0",
        ]
    for cc in ("eq", "vs", "ge", "gt"):
        out += [f"vsel{cc}.f32 {_s(r)}, {_s(r)}, {_s(r)}", f"vsel{cc}.f64 {_d(r)}, {_d(r)}, {_d(r)}"]
    return out


def vfp_convert(r):
    out = [
        f"vcvt.f64.f32 {_d(r)}, {_s(r)}",
        f"vcvt.f32.f64 {_s(r)}, {_d(r)}",
        f"vcvt.s32.f32 {_s(r)}, {_s(r)}",
        f"vcvt.u32.f32 {_s(r)}, {_s(r)}",
        f"vcvtr.s32.f32 {_s(r)}, {_s(r)}",
        f"vcvtr.u32.f64 {_s(r)}, {_d(r)}",
        f"vcvt.s32.f64 {_s(r)}, {_d(r)}",
        f"vcvt.u32.f64 {_s(r)}, {_d(r)}",
        f"vcvt.f32.s32 {_s(r)}, {_s(r)}",
        f"vcvt.f32.u32 {_s(r)}, {_s(r)}",
        f"vcvt.f64.s32 {_d(r)}, {_s(r)}",
        f"vcvt.f64.u32 {_d(r)}, {_s(r)}",
        f"vcvta.s32.f32 {_s(r)}, {_s(r)}",
        f"vcvtn.u32.f64 {_s(r)}, {_d(r)}",
        f"vcvtp.s32.f64 {_s(r)}, {_d(r)}",
        f"vcvtm.u32.f32 {_s(r)}, {_s(r)}",
        f"vcvtb.f32.f16 {_s(r)}, {_s(r)}",
        f"vcvtt.f32.f16 {_s(r)}, {_s(r)}",
        f"vcvtb.f16.f32 {_s(r)}, {_s(r)}",
        f"vcvtt.f16.f32 {_s(r)}, {_s(r)}",
    ]
    for fx in ("s32", "u32", "s16", "u16"):
        n = r.randrange(1, 33 if fx.endswith("32") else 17)
        x, y = _s(r), _d(r)
        out += [
            f"vcvt.{fx}.f32 {x}, {x}, #{n}",
            f"vcvt.f32.{fx} {x}, {x}, #{n}",
            f"vcvt.{fx}.f64 {y}, {y}, #{n}",
            f"vcvt.f64.{fx} {y}, {y}, #{n}",
        ]
    return out


def vfp_move(r):
    imm = ("1.0", "-2.5", "0.125", "31.0", "-0.1875")
    return [
        f"vmov.f32 {_s(r)}, #{r.choice(imm)}",
        f"vmov.f64 {_d(r)}, #{r.choice(imm)}",
        f"vmov {_s(r)}, {_core(r)}",
        f"vmov {_core(r)}, {_s(r)}",
        "vmov r4, r5, d7",
        "vmov d9, r4, r5",
        "vmov r6, r7, s12, s13",
        "vmov s30, s31, r8, r9",
        f"vmov.32 {_d(r)}[1], {_core(r)}",
        f"vmov.16 {_d(r)}[3], {_core(r)}",
        f"vmov.8 {_d(r)}[5], {_core(r)}",
        f"vmov.s8 {_core(r)}, {_d(r)}[6]",
        f"vmov.u8 {_core(r)}, {_d(r)}[1]",
        f"vmov.s16 {_core(r)}, {_d(r)}[2]",
        f"vmov.u16 {_core(r)}, {_d(r)}[3]",
        f"vmov.32 {_core(r)}, {_d(r)}[0]",
        f"vdup.8 {_d(r)}, {_core(r)}",
        f"vdup.16 {_q(r)}, {_core(r)}",
        f"vdup.32 {_d(r)}, {_core(r)}",
        "vmrs r3, fpscr",
        "vmsr fpscr, r5; vmrs r6, fpscr",
        "mvn r5, #0; vmsr fpscr, r5; vmrs r6, fpscr",
        "vmrs APSR_nzcv, fpscr",
    ]


def vfp_ldst(r):
    return [
        f"vldr {_s(r)}, [r0, #{r.randrange(-64, 64) * 4}]",
        f"vldr {_d(r)}, [r1, #{r.randrange(-64, 64) * 4}]",
        f"vstr {_s(r)}, [r2, #{r.randrange(-64, 64) * 4}]",
        f"vstr {_d(r)}, [r3, #-{r.randrange(64) * 4}]",
        "vldmia r0!, {d0-d3}",
        "vldmia r1, {s3-s9}",
        "vldmdb r2!, {d16-d31}",
        "vstmia r3!, {s0-s31}",
        "vstmdb r0!, {d4-d6}",
        "vstmia r1, {d30-d31}",
        "vpush {d8-d15}",
        "vpop {d0-d2}",
        "vpush {s1-s5}",
        "vpop {s7}",
        "vldr d3, [pc, #8]",
    ]


def vfp_cond(r):
    """Conditional execution: A32 condition fields, T32 IT blocks."""
    return [
        "it ne; vaddne.f32 s0, s1, s2",
        "it mi; vmovmi.f64 d3, d4",
        "ite ge; vldrge d1, [r0]; vstrlt d2, [r1]",
        "vcmp.f64 d5, d6; vmrs APSR_nzcv, fpscr; it gt; vmovgt r4, r5, d7",
        "itt eq; vmoveq s3, r9; vdupeq.32 d2, r9",
    ]


NEON_T = ["s8", "s16", "s32", "u8", "u16", "u32"]
NEON_3SAME = [
    ("vhadd", NEON_T),
    ("vrhadd", NEON_T),
    ("vhsub", NEON_T),
    ("vqadd", NEON_T + ["s64", "u64"]),
    ("vqsub", NEON_T + ["u64"]),
    ("vcgt", NEON_T),
    ("vcge", NEON_T),
    ("vshl", NEON_T + ["s64", "u64"]),
    ("vqshl", NEON_T + ["u64"]),
    ("vrshl", NEON_T + ["s64"]),
    ("vqrshl", NEON_T),
    ("vmax", NEON_T),
    ("vmin", NEON_T),
    ("vabd", NEON_T),
    ("vaba", NEON_T),
    ("vadd", ["i8", "i16", "i32", "i64"]),
    ("vsub", ["i8", "i16", "i32", "i64"]),
    ("vtst", ["8", "16", "32"]),
    ("vceq", ["i8", "i16", "i32"]),
    ("vmla", ["i8", "i16", "i32"]),
    ("vmls", ["i8", "i16", "i32"]),
    ("vmul", ["i8", "i16", "i32", "p8"]),
    ("vqdmulh", ["s16", "s32"]),
    ("vqrdmulh", ["s16", "s32"]),
]
NEON_3SAME_F = [
    "vadd",
    "vsub",
    "vmul",
    "vabd",
    "vmla",
    "vmls",
    "vfma",
    "vfms",
    "vceq",
    "vcge",
    "vcgt",
    "vacge",
    "vacgt",
    "vmax",
    "vmin",
    "vrecps",
    "vrsqrts",
    "vmaxnm",
    "vminnm",
]


def neon_3same(r):
    out = []
    for op, types in NEON_3SAME:
        for _ in range(2):
            t = r.choice(types)
            out.append(
                f"{op}.{t} {_d(r)}, {_d(r)}, {_d(r)}"
                if r.random() < 0.5
                else f"{op}.{t} {_q(r)}, {_q(r)}, {_q(r)}"
            )
    for op in ("vand", "vbic", "vorr", "vorn", "veor", "vbsl", "vbit", "vbif"):
        out += [f"{op} {_d(r)}, {_d(r)}, {_d(r)}", f"{op} {_q(r)}, {_q(r)}, {_q(r)}"]
    for op, types in (("vpadd", ["i8", "i16", "i32"]), ("vpmax", NEON_T), ("vpmin", NEON_T)):
        out += [f"{op}.{t} {_d(r)}, {_d(r)}, {_d(r)}" for t in types]
    return out


def neon_float(r):
    out = []
    for op in NEON_3SAME_F:
        out += [f"{op}.f32 {_d(r)}, {_d(r)}, {_d(r)}", f"{op}.f32 {_q(r)}, {_q(r)}, {_q(r)}"]
    out += [
        f"vpadd.f32 {_d(r)}, {_d(r)}, {_d(r)}",
        f"vpmax.f32 {_d(r)}, {_d(r)}, {_d(r)}",
        f"vpmin.f32 {_d(r)}, {_d(r)}, {_d(r)}",
        f"vcvt.s32.f32 {_q(r)}, {_q(r)}, #{r.randrange(1, 33)}",
        f"vcvt.f32.u32 {_d(r)}, {_d(r)}, #{r.randrange(1, 33)}",
        f"vcvt.f32.s32 {_q(r)}, {_q(r)}",
        f"vcvt.u32.f32 {_d(r)}, {_d(r)}",
        f"vcvt.s32.f32 {_d(r)}, {_d(r)}",
        f"vrecpe.f32 {_d(r)}, {_d(r)}",
        f"vrsqrte.f32 {_q(r)}, {_q(r)}",
        f"vabs.f32 {_q(r)}, {_q(r)}",
        f"vneg.f32 {_d(r)}, {_d(r)}",
        f"vcgt.f32 {_d(r)}, {_d(r)}, #0",
        f"vcle.f32 {_q(r)}, {_q(r)}, #0",
        f"vclt.f32 {_d(r)}, {_d(r)}, #0",
        f"vceq.f32 {_d(r)}, {_d(r)}, #0",
        f"vcge.f32 {_d(r)}, {_d(r)}, #0",
        f"vmla.f32 {_q(r)}, {_q(r)}, d{r.randrange(16)}[0]",
        f"vmls.f32 {_d(r)}, {_d(r)}, d{r.randrange(16)}[1]",
        f"vmul.f32 {_q(r)}, {_q(r)}, d{r.randrange(16)}[1]",
        f"vcvt.f16.f32 {_d(r)}, {_q(r)}",
        f"vcvt.f32.f16 {_q(r)}, {_d(r)}",
        f"vrecpe.u32 {_d(r)}, {_d(r)}",
        f"vrsqrte.u32 {_q(r)}, {_q(r)}",
    ]
    for op in ("vrintn", "vrintx", "vrinta", "vrintz", "vrintm", "vrintp"):
        out += [f"{op}.f32 {_d(r)}, {_d(r)}", f"{op}.f32 {_q(r)}, {_q(r)}"]
    for op in ("vcvta", "vcvtn", "vcvtp", "vcvtm"):
        out += [f"{op}.s32.f32 {_d(r)}, {_d(r)}", f"{op}.u32.f32 {_q(r)}, {_q(r)}"]
    return out


def neon_imm_shift(r):
    out = [
        f"vmov.i8 {_d(r)}, #{r.randrange(256)}",
        f"vmov.i16 {_q(r)}, #{r.randrange(256) << 8}",
        f"vmov.i32 {_d(r)}, #{r.randrange(256) << 16}",
        f"vmvn.i32 {_q(r)}, #{r.randrange(256)}",
        f"vmov.i64 {_d(r)}, #0xff00ff0000ff00ff",
        f"vmov.f32 {_q(r)}, #1.5",
        f"vorr.i32 {_d(r)}, #{r.randrange(256) << 8}",
        f"vbic.i16 {_q(r)}, #{r.randrange(256)}",
        f"vmov.i32 {_d(r)}, #0x{r.randrange(256):02x}ffff",
        f"vmvn.i32 {_d(r)}, #0x{r.randrange(256):02x}ff",
    ]
    for n in (8, 16, 32, 64):
        for op in ("vshr", "vsra", "vrshr", "vrsra"):
            out += [f"{op}.{t}{n} {_d(r)}, {_d(r)}, #{r.randrange(1, n + 1)}" for t in "su"]
        out += [
            f"vsri.{n} {_q(r)}, {_q(r)}, #{r.randrange(1, n + 1)}",
            f"vshl.i{n} {_d(r)}, {_d(r)}, #{r.randrange(n)}",
            f"vsli.{n} {_q(r)}, {_q(r)}, #{r.randrange(n)}",
            f"vqshl.s{n} {_d(r)}, {_d(r)}, #{r.randrange(n)}",
            f"vqshl.u{n} {_q(r)}, {_q(r)}, #{r.randrange(n)}",
            f"vqshlu.s{n} {_d(r)}, {_d(r)}, #{r.randrange(n)}",
        ]
    for n in (16, 32, 64):
        h = n // 2
        out += [
            f"vshrn.i{n} {_d(r)}, {_q(r)}, #{r.randrange(1, h + 1)}",
            f"vrshrn.i{n} {_d(r)}, {_q(r)}, #{r.randrange(1, h + 1)}",
            f"vqshrn.s{n} {_d(r)}, {_q(r)}, #{r.randrange(1, h + 1)}",
            f"vqrshrn.u{n} {_d(r)}, {_q(r)}, #{r.randrange(1, h + 1)}",
            f"vqshrun.s{n} {_d(r)}, {_q(r)}, #{r.randrange(1, h + 1)}",
            f"vqrshrun.s{n} {_d(r)}, {_q(r)}, #{r.randrange(1, h + 1)}",
            f"vmovl.s{h} {_q(r)}, {_d(r)}",
            f"vmovl.u{h} {_q(r)}, {_d(r)}",
            f"vshll.s{h} {_q(r)}, {_d(r)}, #{r.randrange(1, h)}",
            f"vshll.i{h} {_q(r)}, {_d(r)}, #{h}",
            f"vmovn.i{n} {_d(r)}, {_q(r)}",
            f"vqmovn.s{n} {_d(r)}, {_q(r)}",
            f"vqmovn.u{n} {_d(r)}, {_q(r)}",
            f"vqmovun.s{n} {_d(r)}, {_q(r)}",
        ]
    return out


def neon_misc(r):
    out = []
    for t in ("8", "16", "32"):
        lanes = 64 // int(t)
        out += [
            f"vrev64.{t} {_d(r)}, {_d(r)}",
            f"vpaddl.s{t} {_q(r)}, {_q(r)}",
            f"vpadal.u{t} {_d(r)}, {_d(r)}",
            f"vcls.s{t} {_d(r)}, {_d(r)}",
            f"vclz.i{t} {_q(r)}, {_q(r)}",
            f"vqabs.s{t} {_d(r)}, {_d(r)}",
            f"vqneg.s{t} {_q(r)}, {_q(r)}",
            f"vabs.s{t} {_d(r)}, {_d(r)}",
            f"vneg.s{t} {_q(r)}, {_q(r)}",
            f"vcgt.s{t} {_d(r)}, {_d(r)}, #0",
            f"vcge.s{t} {_d(r)}, {_d(r)}, #0",
            f"vceq.i{t} {_q(r)}, {_q(r)}, #0",
            f"vcle.s{t} {_d(r)}, {_d(r)}, #0",
            f"vclt.s{t} {_d(r)}, {_d(r)}, #0",
            f"vtrn.{t} d3, d4",
            f"vtrn.{t} q1, q6",
            f"vuzp.{t} q1, q2",
            f"vzip.{t} q3, q4",
            f"vdup.{t} {_d(r)}, {_d(r)}[{r.randrange(lanes)}]",
            f"vdup.{t} {_q(r)}, {_d(r)}[{r.randrange(lanes)}]",
        ]
    k = r.randrange(29)
    out += [
        f"vrev32.8 {_q(r)}, {_q(r)}",
        f"vrev32.16 {_d(r)}, {_d(r)}",
        f"vrev16.8 {_d(r)}, {_d(r)}",
        "vuzp.8 d1, d2",
        "vzip.16 d5, d9",
        f"vcnt.8 {_d(r)}, {_d(r)}",
        f"vmvn {_q(r)}, {_q(r)}",
        f"vswp {_d(r)}, {_d(r)}",
        f"vswp {_q(r)}, {_q(r)}",
        f"vext.8 {_d(r)}, {_d(r)}, {_d(r)}, #{r.randrange(8)}",
        f"vext.8 {_q(r)}, {_q(r)}, {_q(r)}, #{r.randrange(16)}",
        f"vext.32 {_q(r)}, {_q(r)}, {_q(r)}, #3",
        f"vtbl.8 {_d(r)}, {{d{k}-d{k + 2}}}, {_d(r)}",
        f"vtbx.8 {_d(r)}, {{{_dlist(r, 2)}}}, {_d(r)}",
        f"vtbl.8 {_d(r)}, {{{_d(r)}}}, {_d(r)}",
        f"vtbx.8 {_d(r)}, {{{_dlist(r, 4)}}}, {_d(r)}",
        "vtbl.8 d0, {d0-d1}, d0",
        f"vdup.8 {_q(r)}, {_core(r)}",
        f"vmov.32 {_core(r)}, {_d(r)}[1]",
        f"vmov {_q(r)}, {_q(r)}",
    ]
    return out


def neon_long(r):
    out = []
    for t in ("s8", "u16", "s32", "u8"):
        out += [
            f"vaddl.{t} {_q(r)}, {_d(r)}, {_d(r)}",
            f"vsubl.{t} {_q(r)}, {_d(r)}, {_d(r)}",
            f"vaddw.{t} {_q(r)}, {_q(r)}, {_d(r)}",
            f"vsubw.{t} {_q(r)}, {_q(r)}, {_d(r)}",
            f"vabal.{t} {_q(r)}, {_d(r)}, {_d(r)}",
            f"vabdl.{t} {_q(r)}, {_d(r)}, {_d(r)}",
            f"vmlal.{t} {_q(r)}, {_d(r)}, {_d(r)}",
            f"vmlsl.{t} {_q(r)}, {_d(r)}, {_d(r)}",
            f"vmull.{t} {_q(r)}, {_d(r)}, {_d(r)}",
        ]
    for t in ("i16", "i32", "i64"):
        out += [f"{op}.{t} {_d(r)}, {_q(r)}, {_q(r)}" for op in ("vaddhn", "vraddhn", "vsubhn", "vrsubhn")]
    for t in ("s16", "s32"):
        out += [
            f"vqdmlal.{t} {_q(r)}, {_d(r)}, {_d(r)}",
            f"vqdmlsl.{t} {_q(r)}, {_d(r)}, {_d(r)}",
            f"vqdmull.{t} {_q(r)}, {_d(r)}, {_d(r)}",
            f"vqdmulh.{t} {_q(r)}, {_q(r)}, d{r.randrange(8)}[{r.randrange(2)}]",
            f"vqrdmulh.{t} {_d(r)}, {_d(r)}, d{r.randrange(8)}[1]",
            f"vqdmull.{t} {_q(r)}, {_d(r)}, d{r.randrange(8)}[0]",
            f"vqdmlal.{t} {_q(r)}, {_d(r)}, d{r.randrange(8)}[1]",
        ]
    out += [
        "vmull.p8 q1, d2, d3",
        f"vmla.i16 {_q(r)}, {_q(r)}, d3[2]",
        f"vmls.i32 {_d(r)}, {_d(r)}, d{r.randrange(16)}[1]",
        f"vmul.i16 {_d(r)}, {_d(r)}, d7[3]",
        f"vmlal.s16 {_q(r)}, {_d(r)}, d5[3]",
        f"vmlsl.u32 {_q(r)}, {_d(r)}, d12[1]",
        f"vmull.u16 {_q(r)}, {_d(r)}, d1[0]",
        f"vqrdmlah.s16 {_d(r)}, {_d(r)}, {_d(r)}",  # ARMv8.1
        f"vqrdmlsh.s32 {_q(r)}, {_q(r)}, {_q(r)}",
        f"vqrdmlah.s16 {_q(r)}, {_q(r)}, d3[2]",
        f"vqrdmlsh.s32 {_d(r)}, {_d(r)}, d{r.randrange(16)}[1]",
    ]
    return out


def neon_ldst(r):
    out = []
    for t in ("8", "16", "32", "64"):
        out += [
            f"vld1.{t} {{{_dlist(r, 4)}}}, [r0]!",
            f"vld1.{t} {{{_d(r)}}}, [r1]",
            f"vst1.{t} {{{_dlist(r, 3)}}}, [r2]!",
            f"vst1.{t} {{{_dlist(r, 2)}}}, [r3]",
        ]
    for t in ("8", "16", "32"):
        lanes = 64 // int(t)
        out += [
            f"vld2.{t} {{{_dlist(r, 2)}}}, [r0]!",
            f"vld2.{t} {{{_dlist(r, 2, 2)}}}, [r1]",
            f"vld2.{t} {{{_dlist(r, 4)}}}, [r2]",
            f"vst2.{t} {{{_dlist(r, 2)}}}, [r3]!",
            f"vld3.{t} {{{_dlist(r, 3)}}}, [r0]",
            f"vst3.{t} {{{_dlist(r, 3, 2)}}}, [r1]!",
            f"vld4.{t} {{{_dlist(r, 4)}}}, [r2]!",
            f"vst4.{t} {{{_dlist(r, 4, 2)}}}, [r3]",
            f"vld1.{t} {{{_d(r)}[{r.randrange(lanes)}]}}, [r0]!",
            f"vst1.{t} {{{_d(r)}[{r.randrange(lanes)}]}}, [r1]",
            f"vld2.{t} {{{_dlist(r, 2).replace(',', '[1],')}[1]}}, [r2]",
            f"vst2.{t} {{{_dlist(r, 2).replace(',', '[0],')}[0]}}, [r3]!",
            f"vld3.{t} {{{_dlist(r, 3).replace(',', '[1],')}[1]}}, [r0]",
            f"vld4.{t} {{{_dlist(r, 4).replace(',', '[0],')}[0]}}, [r1]",
            f"vst4.{t} {{{_dlist(r, 4).replace(',', '[1],')}[1]}}, [r2]",
            f"vld1.{t} {{{_d(r)}[]}}, [r3]",
            f"vld1.{t} {{{_dlist(r, 2).replace(',', '[],')}[]}}, [r0]!",
            f"vld2.{t} {{{_dlist(r, 2, 2).replace(',', '[],')}[]}}, [r1]",
            f"vld3.{t} {{{_dlist(r, 3).replace(',', '[],')}[]}}, [r2]",
            f"vld4.{t} {{{_dlist(r, 4).replace(',', '[],')}[]}}, [r3]!",
        ]
    out += [
        "vld1.8 {d0-d3}, [r0:256]!",
        "vld1.32 {d4-d5}, [r1], r5",
        "vst1.8 {d16-d19}, [r2], r6",
        "vst1.16 {d0[2]}, [r0], r7",
        "vld1.32 {d20[1]}, [r1:32]",
        "vld4.32 {d0[],d1[],d2[],d3[]}, [r2]",
        "vld1.8 {d2-d3}, [r1:128]; vceq.i8 q1, q1, q0",
    ]
    return out


GROUPS = {
    "vfp_arith": vfp_arith,
    "vfp_convert": vfp_convert,
    "vfp_move": vfp_move,
    "vfp_ldst": vfp_ldst,
    "vfp_cond": vfp_cond,
    "neon_3same": neon_3same,
    "neon_float": neon_float,
    "neon_imm_shift": neon_imm_shift,
    "neon_misc": neon_misc,
    "neon_long": neon_long,
    "neon_ldst": neon_ldst,
}


@pytest.mark.parametrize("thumb", [0, 1], ids=["a32", "t32"])
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_against_unicorn(group: str, thumb: int) -> None:
    r = random.Random(f"{SEED}/{group}/{thumb}")
    cases = GROUPS[group](r)
    if group == "vfp_cond" and not thumb:
        cases = [";".join(i for i in c.split(";") if not i.strip().startswith("it")) for c in cases]
    codes = assemble(cases, bool(thumb))
    failures = []
    for asm, code in zip(cases, codes, strict=True):
        for _ in range(2):
            diffs = differences(code, bool(thumb), st := rand_state(r))
            if diffs:
                failures.append(f"{asm} (FPSCR {st['fpscr']:#x}): " + "; ".join(diffs[:4]))
                break
    assert not failures, "\n".join(failures)


# --- UNDEFINED encodings raise SIGILL -------------------------------------------------------------


@pytest.mark.parametrize(
    "thumb,insn",
    [
        (0, "vmrs r0, fpexc"),  # only FPSCR is accessible at PL0
        (0, "vmsr fpsid, r0"),
        (1, "vmrs r0, mvfr0"),
        (0, ".inst 0xf2010842"),  # vadd.i8 q0, q0.5, q1: an odd Q register number
        (1, ".inst 0xef010842"),
        (0, ".inst 0xf4200f0f"),  # VLD1 multiple, reserved type 1111
        (0, ".inst 0xf3b00180"),  # 2-reg misc, A=00 B=0011x: unallocated
    ],
)
def test_undefined_is_sigill(thumb: int, insn: str) -> None:
    if insn.startswith(".inst") and thumb:
        insn = insn.replace(".inst", ".inst.w")
    code = assemble([insn], bool(thumb))[0]
    p = Process(target="arm")
    p.mem.map(CODE, 0x1000, PROT_READ | PROT_EXEC, code)
    cpu = p.new_cpu()
    cpu.pc = CODE | thumb
    with pytest.raises(GuestException) as e:
        cpu_exec(cpu, p.tbs, 10)
    assert e.value.kind == "ill"
    assert cpu.addr == CODE


# --- whole programs: pyqemu-arm against qemu-arm --------------------------------------------------

PROGS = Path(__file__).parent / "vfp_progs"
BUILDS = {
    "a32-neon-O3": ["-O3", "-marm", "-mfpu=neon"],
    "t32-neon-fastmath": ["-O2", "-mthumb", "-mfpu=neon", "-ffast-math"],
    "t32-vfpv3d16": ["-O2", "-mthumb", "-mfpu=vfpv3-d16"],
}


def _run_pyqemu_arm(binary: Path) -> str:
    code = (
        "import sys; from pyqemu.linux_user.main import main_arm; "
        "sys.argv = ['pyqemu-arm', sys.argv[1]]; main_arm()"
    )
    env = dict(os.environ, PYQEMU_CACHE="0")
    r = subprocess.run(
        [sys.executable, "-c", code, str(binary)], capture_output=True, text=True, timeout=600, env=env
    )
    return r.stdout


# the alignment program uses NEON: only the NEON builds run it
PROGRAM_BUILDS = [(prog, build) for prog in ("fpmix", "align") for build in sorted(BUILDS)
                  if prog != "align" or "neon" in build]


@pytest.mark.parametrize(("prog", "build"), PROGRAM_BUILDS)
def test_program_matches_qemu_arm(tmp_path: Path, prog: str, build: str) -> None:
    gcc = _tool("arm-linux-gnueabihf-gcc")
    qemu = _tool("qemu-arm")
    binary = tmp_path / prog
    subprocess.run(
        [gcc, *BUILDS[build], "-static", "-o", str(binary), str(PROGS / f"{prog}.c"), "-lm"], check=True
    )
    want = subprocess.run([qemu, str(binary)], capture_output=True, text=True, timeout=120).stdout
    assert want
    assert _run_pyqemu_arm(binary) == want
