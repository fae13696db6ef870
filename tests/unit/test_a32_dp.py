"""AArch32 data processing (A32, T32, T16): pyqemu against Unicorn.

Each case is a short assembled snippet (GNU as, unified syntax) run from the same
pseudo-random, edge-biased register and flag state in Unicorn and in pyqemu's
AArch32 translator (user mode); R0-R14, NZCV, Q, GE and the end PC must agree.
The snippets cover every data-processing instruction group: DP immediate /
register / register-shifted register, MOVW/MOVT, multiplies, divide, CLZ/REV*/RBIT,
extends, bitfields, saturation, parallel add/sub, SEL, USAD8, pack, MRS/MSR,
hints and Thumb IT blocks.
"""
from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest

unicorn = pytest.importorskip("unicorn")
from unicorn import arm_const as UA  # noqa: E402

AS = "arm-linux-gnueabihf-as"
LD = "arm-linux-gnueabihf-ld"
NM = "arm-linux-gnueabihf-nm"
OBJCOPY = "arm-linux-gnueabihf-objcopy"
pytestmark = pytest.mark.skipif(shutil.which(AS) is None or shutil.which(LD) is None,
                                reason="needs the arm-linux-gnueabihf binutils")

BASE = 0x20000
M32 = 0xFFFFFFFF

# --- the snippets -------------------------------------------------------------------------

DP3 = ["and", "eor", "sub", "rsb", "add", "adc", "sbc", "rsc", "orr", "bic"]
SHIFTS = ["", ", lsl #0", ", lsl #1", ", lsl #31", ", lsr #1", ", lsr #32", ", asr #5",
          ", asr #32", ", ror #7", ", rrx"]
RSHIFTS = ["lsl", "lsr", "asr", "ror"]
IMMS = ["#0", "#255", "#0xff000000", "#0x3fc", "#0x80000000", "#1", "#0xf000000f"]


# crc32b/h/w r0, r1, r2; crc32cb/ch/cw r0, r1, r2; crc32w r5, r5, r5 / crc32cw r8, r9, sl
CRC_A32 = [0xE1010042, 0xE1210042, 0xE1410042, 0xE1010242, 0xE1210242, 0xE1410242, 0xE1455045]
CRC_T32 = [0xFAC1F082, 0xFAC1F092, 0xFAC1F0A2, 0xFAD1F082, 0xFAD1F092, 0xFAD1F0A2, 0xFAD9F8AA]


def _arm_cases(rng: random.Random) -> list[str]:
    c: list[str] = []
    for op in DP3:
        for s in ("", "s"):
            c.append(f"{op}{s} r0, r1, r2{rng.choice(SHIFTS)}")
            c.append(f"{op}{s} r0, r1, r2{rng.choice(SHIFTS)}")
            c.append(f"{op}{s} r3, r1, r2, {rng.choice(RSHIFTS)} r4")
            c.append(f"{op}{s} r5, r6, {rng.choice(IMMS)}")
            c.append(f"{op}{s} r1, r1, r1{rng.choice(SHIFTS)}")
    for op in ("mov", "mvn"):
        for s in ("", "s"):
            for sh in SHIFTS:
                c.append(f"{op}{s} r0, r2{sh}")
            for r in RSHIFTS:
                c.append(f"{op}{s} r3, r2, {r} r4")
            for imm in IMMS:
                c.append(f"{op}{s} r5, {imm}")
    for op in ("tst", "teq", "cmp", "cmn"):
        for sh in ("", ", lsl #4", ", lsr #32", ", ror #9", ", rrx", ", asr #31"):
            c.append(f"{op} r1, r2{sh}")
        for r in RSHIFTS:
            c.append(f"{op} r1, r2, {r} r4")
        for imm in IMMS:
            c.append(f"{op} r6, {imm}")
    c += [
        "add r0, pc, #8", "sub r0, pc, #4", "mov r1, pc", "add r2, r1, pc",
        "add pc, pc, #0\nmov r0, #1\nmov r1, #2",
        "adr r0, 1f\nadd r0, r0, #1\nbx r0\n.thumb\n1: movs r1, #7\nadds r2, r1, #1\n"
        "adr r3, 2f\nbx r3\n.balign 4\n.arm\n2: mov r4, #3",
        "adr r0, 1f\nmov pc, r0\nmov r1, #1\n1: mov r2, #2",
        "adr r0, 1f\nadd r0, r0, #1\nmov pc, r0\n.thumb\n1: movs r1, #7\nadr r3, 2f\nbx r3\n"
        ".balign 4\n.arm\n2: mov r4, #3",
        "movw r0, #0x1234\nmovt r0, #0xabcd", "movt r1, #0xffff", "movw r2, #0xffff",
        "movs r0, #0\nmovs r1, r2", "cmp r1, r2\naddgt r0, r1, r2\nsublt r0, r1, r2\nmoveq r0, #1",
        "cmp r1, r2\nmovhi r3, #1\nmovls r3, #2\nmovge r4, #3\nmovlt r4, #4\nmovvs r5, #5",
        "adds r0, r1, r2\nadcs r3, r4, r5\nsbcs r6, r7, r8\nrscs r9, r10, r11",
        # multiplies
        "mul r0, r1, r2", "muls r0, r1, r2", "mla r0, r1, r2, r3", "mlas r0, r1, r2, r3",
        "mls r0, r1, r2, r3", "umull r0, r1, r2, r3", "umulls r0, r1, r2, r3",
        "smull r0, r1, r2, r3", "smulls r0, r1, r2, r3", "umlal r0, r1, r2, r3",
        "umlals r0, r1, r2, r3", "smlal r0, r1, r2, r3", "smlals r0, r1, r2, r3",
        "umaal r0, r1, r2, r3", "smull r2, r3, r2, r3", "umull r0, r1, r0, r0",
        "smulbb r0, r1, r2", "smulbt r0, r1, r2", "smultb r0, r1, r2", "smultt r0, r1, r2",
        "smlabb r0, r1, r2, r3", "smlatt r0, r1, r2, r3", "smlabt r0, r5, r5, r6",
        "smulwb r0, r1, r2", "smulwt r0, r1, r2", "smlawb r0, r1, r2, r3", "smlawt r0, r1, r2, r3",
        "smlalbb r0, r1, r2, r3", "smlaltb r0, r1, r2, r3", "smlalbt r0, r1, r2, r3",
        "smlaltt r0, r1, r2, r3",
        "smuad r0, r1, r2", "smuadx r0, r1, r2", "smusd r0, r1, r2", "smusdx r0, r1, r2",
        "smlad r0, r1, r2, r3", "smladx r0, r1, r2, r3", "smlsd r0, r1, r2, r3",
        "smlsdx r0, r1, r2, r3", "smlald r0, r1, r2, r3", "smlaldx r0, r1, r2, r3",
        "smlsld r0, r1, r2, r3", "smlsldx r0, r1, r2, r3",
        "smmul r0, r1, r2", "smmulr r0, r1, r2", "smmla r0, r1, r2, r3", "smmlar r0, r1, r2, r3",
        "smmls r0, r1, r2, r3", "smmlsr r0, r1, r2, r3",
        "sdiv r0, r1, r2", "udiv r0, r1, r2", "sdiv r0, r1, r3", "udiv r0, r1, r3",
        "usad8 r0, r1, r2", "usada8 r0, r1, r2, r3",
        # bit operations, extends, bitfields
        "clz r0, r1", "clz r0, r2", "rev r0, r1", "rev16 r0, r1", "revsh r0, r1", "rbit r0, r1",
        "sxtb r0, r1", "sxth r0, r1, ror #8", "uxtb r0, r1, ror #16", "uxth r0, r1, ror #24",
        "sxtab r0, r1, r2", "sxtah r0, r1, r2, ror #8", "uxtab r0, r1, r2, ror #16",
        "uxtah r0, r1, r2", "sxtb16 r0, r1", "uxtb16 r0, r1, ror #8", "sxtab16 r0, r1, r2",
        "uxtab16 r0, r1, r2, ror #24",
        "ubfx r0, r1, #0, #32", "ubfx r0, r1, #4, #8", "ubfx r0, r1, #31, #1",
        "sbfx r0, r1, #0, #32", "sbfx r0, r1, #3, #13", "sbfx r0, r1, #16, #16",
        "bfi r0, r1, #0, #32", "bfi r0, r1, #8, #4", "bfi r0, r1, #31, #1", "bfc r0, #5, #20",
        # saturation, parallel, SEL, pack
        "qadd r0, r1, r2", "qsub r0, r1, r2", "qdadd r0, r1, r2", "qdsub r0, r1, r2",
        "ssat r0, #8, r1", "ssat r0, #1, r1, lsl #3", "ssat r0, #32, r1, asr #32",
        "ssat r0, #16, r1, asr #4", "usat r0, #8, r1", "usat r0, #0, r1", "usat r0, #31, r1",
        "usat r0, #16, r1, lsl #7", "ssat16 r0, #8, r1", "ssat16 r0, #16, r1",
        "usat16 r0, #0, r1", "usat16 r0, #7, r1",
        "sel r0, r1, r2", "pkhbt r0, r1, r2", "pkhbt r0, r1, r2, lsl #16",
        "pkhtb r0, r1, r2, asr #32", "pkhtb r0, r1, r2, asr #7",
        # status registers, hints
        "mrs r0, apsr\nlsr r0, r0, #16", "msr apsr_nzcvq, r1", "msr apsr_g, r2",
        "msr apsr_nzcvqg, r1\nmrs r3, apsr\nlsr r3, r3, #16", "msr apsr_nzcvq, #0xa8000000",
        "msr apsr_g, #0x000f0000", "nop", "sev", ".inst 0xe320f005",
    ]
    for pfx in ("s", "q", "sh", "u", "uq", "uh"):
        for op in ("add16", "asx", "sax", "sub16", "add8", "sub8"):
            c.append(f"{pfx}{op} r0, r1, r2")
    c.append("sadd8 r0, r1, r2\nsel r3, r4, r5")
    c.append("usub16 r0, r1, r2\nsel r3, r4, r5")
    # CRC32{C}B/H/W (ARMv8 FEAT_CRC32; the assembler runs with -march=armv7ve)
    c += [f".inst {w:#010x}" for w in CRC_A32]
    return c


T32_DP = ["and", "bic", "orr", "orn", "eor", "add", "adc", "sbc", "sub", "rsb"]
T_IMMS = ["#0", "#255", "#0x00ab00ab", "#0xab00ab00", "#0xabababab", "#0x80000000",
          "#0x3fc00", "#0xff000000"]


def _thumb_cases(rng: random.Random) -> list[str]:
    c: list[str] = []
    for op in T32_DP:
        for s in ("", "s"):
            c.append(f"{op}{s}.w r8, r9, r10{rng.choice(SHIFTS)}")
            c.append(f"{op}{s}.w r0, r1, r2{rng.choice(SHIFTS)}")
            c.append(f"{op}{s}.w r5, r6, {rng.choice(T_IMMS)}")
            c.append(f"{op}{s}.w r5, r6, {rng.choice(T_IMMS)}")
    for op in ("mov", "mvn"):
        for s in ("", "s"):
            c.append(f"{op}{s}.w r8, r2{rng.choice(SHIFTS)}")
            c.append(f"{op}{s}.w r8, {rng.choice(T_IMMS)}")
            c.append(f"{op}{s}.w r9, {rng.choice(T_IMMS)}")
    for op in ("tst", "teq", "cmp", "cmn"):
        c.append(f"{op}.w r1, r2{rng.choice(SHIFTS)}")
        c.append(f"{op}.w r9, {rng.choice(T_IMMS)}")
        c.append(f"{op}.w r9, {rng.choice(T_IMMS)}")
    for r in RSHIFTS:
        c.append(f"{r}.w r0, r1, r4")
        c.append(f"{r}s.w r0, r1, r4")
        c.append(f"{r}s.w r9, r9, r4")
    c += [
        "addw r0, r1, #4095", "subw r0, r1, #1234", "addw r0, pc, #10", "subw r0, pc, #3",
        "adr.w r0, 1f\nnop\nnop\n1: nop", "movw r0, #0xbeef\nmovt r0, #0xdead", "movt r11, #7",
        "ssat r0, #8, r1", "ssat r0, #32, r1, asr #3", "usat r0, #5, r1, lsl #2",
        "ssat16 r0, #4, r1", "usat16 r0, #15, r1",
        "sbfx r0, r1, #8, #8", "ubfx r0, r1, #30, #2", "bfi r0, r1, #4, #24", "bfc r0, #0, #31",
        "sxtah r0, r1, r2, ror #8", "uxtah r0, r1, r2", "sxtab16 r0, r1, r2",
        "uxtab16 r0, r1, r2, ror #16", "sxtab r0, r1, r2", "uxtab r0, r1, r2, ror #24",
        "sxth.w r0, r1", "uxtb.w r0, r1, ror #8", "sxtb16 r0, r1", "uxtb16 r0, r1",
        "qadd r0, r1, r2", "qdadd r0, r1, r2", "qsub r0, r1, r2", "qdsub r0, r1, r2",
        "rev.w r0, r1", "rev16.w r0, r1", "rbit r0, r1", "revsh.w r0, r1", "sel r0, r1, r2",
        "clz r0, r1", "pkhbt r0, r1, r2, lsl #5", "pkhtb r0, r1, r2, asr #16",
        "mul r0, r1, r2", "mla r0, r1, r2, r3", "mls r0, r1, r2, r3",
        "smulbb r0, r1, r2", "smlatb r0, r1, r2, r3", "smuad r0, r1, r2", "smladx r0, r1, r2, r3",
        "smulwt r0, r1, r2", "smlawb r0, r1, r2, r3", "smusd r0, r1, r2", "smlsdx r0, r1, r2, r3",
        "smmul r0, r1, r2", "smmlar r0, r1, r2, r3", "smmls r0, r1, r2, r3",
        "usad8 r0, r1, r2", "usada8 r0, r1, r2, r3",
        "smull r0, r1, r2, r3", "umull r0, r1, r2, r3", "smlal r0, r1, r2, r3",
        "umlal r0, r1, r2, r3", "umaal r0, r1, r2, r3", "smlalbt r0, r1, r2, r3",
        "smlald r0, r1, r2, r3", "smlsldx r0, r1, r2, r3", "sdiv r0, r1, r2", "udiv r0, r1, r2",
        "sdiv r0, r1, r3", "udiv r0, r1, r3",
        # 16-bit encodings (flags set outside IT blocks)
        "lsls r0, r1, #5", "lsrs r0, r1, #32", "asrs r0, r1, #1", "movs r0, r1",
        "adds r0, r1, r2", "subs r0, r1, r2", "adds r0, r1, #7", "subs r0, r1, #3",
        "movs r3, #200", "cmp r3, #17", "adds r3, #255", "subs r3, #1",
        "ands r0, r1", "eors r0, r1", "lsls r0, r4", "lsrs r0, r4", "asrs r0, r4", "rors r0, r4",
        "adcs r0, r1", "sbcs r0, r1", "tst r0, r1", "rsbs r0, r1, #0", "cmp r0, r1", "cmn r0, r1",
        "orrs r0, r1", "muls r0, r1, r0", "bics r0, r1", "mvns r0, r1",
        "add r0, r9", "add r9, r1", "add r10, r10", "cmp r9, r1", "cmp r1, r10",
        "mov r8, r1", "mov r2, r12", "mov r1, sp", "add r0, sp, #8", "add sp, #16",
        "sub sp, #400", "add r2, sp", "adr r0, 1f\nnop\n.balign 4\n1: nop",
        "sxth r0, r1", "sxtb r0, r1", "uxth r0, r1", "uxtb r0, r1", "rev r0, r1",
        "rev16 r0, r1", "revsh r0, r1", "nop", "sev",
        "mov r0, pc", "add r0, pc",
        # T32 MRS/MSR/hints (the T32 patterns are with the branches; the trans_ are here)
        "mrs r0, apsr\nlsr r0, r0, #16", "msr apsr_nzcvq, r1", "msr apsr_g, r2",
        "msr apsr_nzcvqg, r1\nmrs r3, apsr\nlsr r3, r3, #16", "nop.w", "sev.w",
        "mov r0, #4\nadd pc, r0\nnop\nnop\nnop\nmovs r1, #1\nmovs r2, #2",
        "adr r0, 1f\nmov pc, r0\nmovs r1, #1\n.balign 4\n1: movs r2, #2",
        # IT blocks
        "cmp r1, r2\nit eq\nmoveq r0, #1", "cmp r1, r2\nite gt\naddgt r0, r1\nsuble r0, r1",
        "cmp r1, r2\nittt lt\naddlt r0, r1\nsublt r3, r4\nmovlt r5, r6",
        "cmp r1, r2\nitete hi\naddhi r0, r1, r2\nsubls r0, r1, r2\nlslhi r3, r4, #1\nlsrls r3, r4, #1",
        "tst r1, r2\nitt ne\naddne.w r0, r1, #7\nmulne r3, r4, r3\nadds r5, r6, r7",
        "cmp r1, r2\nit cs\nmovcs r0, #5\nmovs r9, r9",
        "movs r0, #0\nit eq\naddeq r1, r2\nit ne\naddne r3, r4",
        "adr r0, 1f\ncmp r1, r2\nit ge\nmovge pc, r0\nmovs r5, #1\n.balign 4\n1: movs r6, #2",
    ]
    for pfx in ("s", "q", "sh", "u", "uq", "uh"):
        for op in ("add16", "asx", "sax", "sub16", "add8", "sub8"):
            c.append(f"{pfx}{op} r0, r1, r2")
    c.append("uadd8 r0, r1, r2\nsel r3, r4, r5")
    c += [f".inst.w {w:#010x}" for w in CRC_T32]
    return c


def _build(cases: list[str], thumb: bool) -> list[tuple[int, int]]:
    """Assemble all cases into one image at BASE: (start, end) of each, and the bytes."""
    lines = [".syntax unified", ".thumb" if thumb else ".arm", ".text", ".global _start",
             "_start:"]
    for i, text in enumerate(cases):
        lines += [".balign 4", ".thumb" if thumb else ".arm", f"s{i}:"]
        lines += text.split("\n")
        lines += [".thumb" if thumb else ".arm", f"e{i}:", "udf #0", ".ltorg"]
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "t.S"
        src.write_text("\n".join(lines) + "\n")
        subprocess.run([AS, "-march=armv7ve", "-o", f"{d}/t.o", str(src)], check=True,
                       capture_output=True)
        subprocess.run([LD, f"-Ttext={BASE:#x}", "-o", f"{d}/t.elf", f"{d}/t.o"], check=True,
                       capture_output=True)
        subprocess.run([OBJCOPY, "-O", "binary", f"{d}/t.elf", f"{d}/t.bin"], check=True)
        syms = subprocess.run([NM, f"{d}/t.elf"], check=True, capture_output=True,
                              text=True).stdout
        blob = (Path(d) / "t.bin").read_bytes()
    addr = {}
    for ln in syms.splitlines():
        v, _, name = ln.split()
        addr[name] = int(v, 16)
    return [(addr[f"s{i}"], addr[f"e{i}"]) for i in range(len(cases))], blob


INTERESTING = [0, 1, 2, 7, 31, 32, 33, 255, 256 + 4, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
               0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFF8000,
               0x00800080, 0x7F7F7F7F, 0x80808080, 0x01FF01FF, 0x80008000, 0x7FFF7FFF]


def _state(seed: int) -> dict:
    rng = random.Random(seed)
    regs = []
    for _ in range(15):
        regs.append(rng.choice(INTERESTING) if rng.random() < 0.5 else rng.getrandbits(32))
    regs[3] = regs[3] if rng.random() < 0.7 else 0  # division by zero sometimes
    regs[4] = rng.choice([0, 1, 5, 31, 32, 33, 255, 256 + 3, 0x80000001, rng.getrandbits(32)])
    regs[13] = 0x40000000 + rng.getrandbits(12) * 4
    return {"regs": regs, "nzcv": rng.getrandbits(4) << 28, "q": rng.getrandbits(1),
            "ge": rng.getrandbits(4)}


_UC_REGS = [getattr(UA, f"UC_ARM_REG_R{i}") for i in range(13)] + [UA.UC_ARM_REG_SP, UA.UC_ARM_REG_LR]


def _run_unicorn(blob: bytes, start: int, end: int, thumb: bool, st: dict,
                 v8: bool = False) -> dict:
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB if thumb else unicorn.UC_MODE_ARM)
    if v8:  # ARMv8 AArch32 (CRC32), as pyqemu's -cpu max; not for all cases, since Unicorn's
        # max CPU runs privileged with PAN set, which shows in MRS APSR
        uc.ctl_set_cpu_model(UA.UC_CPU_ARM_MAX)
    uc.mem_map(BASE, (len(blob) + 0xFFFF) & ~0xFFFF)
    uc.mem_write(BASE, blob)
    for r, v in zip(_UC_REGS, st["regs"], strict=True):
        uc.reg_write(r, v)
    cpsr = uc.reg_read(UA.UC_ARM_REG_CPSR) & ~0xF80F0020
    cpsr |= st["nzcv"] | (st["q"] << 27) | (st["ge"] << 16) | (0x20 if thumb else 0)
    uc.reg_write(UA.UC_ARM_REG_CPSR, cpsr)
    uc.emu_start(start | int(thumb), end, count=200)
    cpsr = uc.reg_read(UA.UC_ARM_REG_CPSR)
    return {"regs": [uc.reg_read(r) for r in _UC_REGS],
            "nzcv": cpsr & 0xF0000000, "q": (cpsr >> 27) & 1, "ge": (cpsr >> 16) & 0xF,
            "pc": uc.reg_read(UA.UC_ARM_REG_PC) & ~1}


class _Py:
    def __init__(self, blob: bytes) -> None:
        from pyqemu.linux_user.mmap import PROT_EXEC, PROT_READ
        from pyqemu.linux_user.process import Process
        self.p = Process(target="arm")
        self.p.mem.map(BASE, len(blob), PROT_READ | PROT_EXEC, blob)

    def run(self, start: int, thumb: bool, st: dict) -> dict:
        from pyqemu.accel.tcg.cpu_exec import cpu_exec
        from pyqemu.accel.tcg.excp import GuestException
        from pyqemu.target.arm import cpu32 as C
        cpu = self.p.new_cpu()
        r = cpu.regs
        r[:15] = st["regs"]
        n = st["nzcv"]
        r[C.REG_NF] = n & 0x80000000
        r[C.REG_ZF] = 0 if n & 0x40000000 else 1
        r[C.REG_CF] = (n >> 29) & 1
        r[C.REG_VF] = (n << 3) & 0x80000000
        r[C.REG_QF] = st["q"]
        r[C.REG_GE] = st["ge"]
        cpu.pc = start | int(thumb)
        with pytest.raises(GuestException):
            cpu_exec(cpu, self.p.tbs, 200)
        return {"regs": [x & M32 for x in r[:15]], "nzcv": cpu.nzcv, "q": r[C.REG_QF],
                "ge": r[C.REG_GE], "pc": cpu.pc & ~1}


_ARM = _arm_cases(random.Random(1))
_THUMB = _thumb_cases(random.Random(2))
_built: dict[bool, tuple] = {}


def _image(thumb: bool):
    if thumb not in _built:
        cases = _THUMB if thumb else _ARM
        spans, blob = _build(cases, thumb)
        _built[thumb] = (spans, blob, _Py(blob))
    return _built[thumb]


def _check(thumb: bool, idx: int, text: str) -> None:
    spans, blob, py = _image(thumb)
    start, end = spans[idx]
    for k in range(3):
        st = _state(zlib.crc32(f"{text}/{k}".encode()))
        want = _run_unicorn(blob, start, end, thumb, st, v8=".inst" in text)
        got = py.run(start, thumb, st)
        assert want["pc"] == end
        assert got == want, f"{text!r} from {st}"


@pytest.mark.parametrize("idx,text", list(enumerate(_ARM)), ids=[t.replace("\n", "; ") for t in _ARM])
def test_arm(idx: int, text: str) -> None:
    _check(False, idx, text)


@pytest.mark.parametrize("idx,text", list(enumerate(_THUMB)), ids=[t.replace("\n", "; ") for t in _THUMB])
def test_thumb(idx: int, text: str) -> None:
    _check(True, idx, text)


def test_subs_pc_lr_is_undefined_in_user_mode() -> None:
    """ALUExceptionReturn (SUBS PC, LR / MOVS PC, LR) raises SIGILL as in qemu-arm."""
    from pyqemu.accel.tcg.cpu_exec import cpu_exec
    from pyqemu.accel.tcg.excp import GuestException
    code = bytes.fromhex("00f05ee2" "0ef0b0e1")  # subs pc, lr, #0 ; movs pc, lr
    py = _Py(code)
    for off in (0, 4):
        cpu = py.p.new_cpu()
        cpu.pc = BASE + off
        with pytest.raises(GuestException):
            cpu_exec(cpu, py.p.tbs, 10)
        assert cpu.pc == BASE + off


@pytest.mark.parametrize("thumb,word", [(False, 0xE1610042), (False, 0xE1010142),
                                        (True, 0xFAC1F0B2), (True, 0xFAD1F0B2)])
def test_crc32_reserved_encodings_are_undefined(thumb: bool, word: int) -> None:
    """CRC32 with sz=0b11 (and A32 with a nonzero should-be-zero bit 8) raise SIGILL in
    pyqemu at the instruction, and Unicorn (max CPU) does not execute them either."""
    from pyqemu.accel.tcg.cpu_exec import cpu_exec
    from pyqemu.accel.tcg.excp import GuestException
    code = (((word >> 16) | (word & 0xFFFF) << 16) if thumb else word).to_bytes(4, "little")
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB if thumb else unicorn.UC_MODE_ARM)
    uc.ctl_set_cpu_model(UA.UC_CPU_ARM_MAX)
    uc.mem_map(BASE, 0x1000)
    uc.mem_write(BASE, code)
    with pytest.raises(unicorn.UcError) as e:
        uc.emu_start(BASE | int(thumb), BASE + 4, count=1)
    assert e.value.errno == unicorn.UC_ERR_INSN_INVALID
    py = _Py(code)
    cpu = py.p.new_cpu()
    cpu.pc = BASE | int(thumb)
    with pytest.raises(GuestException) as g:
        cpu_exec(cpu, py.p.tbs, 10)
    assert g.value.args[0] == "ill"
    assert cpu.pc & ~1 == BASE


@pytest.mark.parametrize("thumb,hint", [(False, h) for h in
                                        (0xE320F001, 0xE320F002, 0xE320F003, 0xE320F014, 0x0320F002)]
                         + [(True, h) for h in (0xBF10, 0xBF20, 0xBF30, 0xBF50, 0xBF70)])
def test_hints_run_as_nop(thumb: bool, hint: int) -> None:
    """YIELD/WFE/WFI/SEVL and unallocated hints continue like NOP in user mode (Unicorn
    stops on YIELD/WFE/WFI, so it runs NOP there instead)."""
    if thumb:
        tail = bytes.fromhex("8818" "00de")  # adds r0, r1, r2 ; udf #0
        mine, ref = hint.to_bytes(2, "little") + tail, bytes.fromhex("00bf") + tail
        end = BASE + 4
    else:
        tail = bytes.fromhex("020091e0" "f000f0e7")  # adds r0, r1, r2 ; udf #0
        nop = (hint & 0xF0000000) | 0x0320F000
        mine, ref = hint.to_bytes(4, "little") + tail, nop.to_bytes(4, "little") + tail
        end = BASE + 8
    st = _state(hint)
    want = _run_unicorn(ref, BASE, end, thumb, st)
    assert _Py(mine).run(BASE, thumb, st) == want


_EDGE = ["smuad r0, r1, r2", "smlad r0, r1, r2, r3", "smlsd r0, r1, r2, r3",
         "smlawb r0, r1, r2, r3", "smlabb r0, r1, r2, r3", "qadd r0, r1, r2", "qdadd r0, r1, r2",
         "qdsub r0, r1, r2", "ssat r0, #8, r1", "usat16 r0, #3, r1", "qadd8 r0, r1, r2",
         "smlald r0, r1, r2, r3", "smmlsr r0, r1, r2, r3", "sdiv r0, r1, r2", "udiv r0, r1, r2",
         "smull r0, r1, r2, r3", "umaal r0, r1, r2, r3", "uqsub16 r0, r1, r2", "shsub8 r0, r1, r2"]
_EDGE_VALS = [(0x80008000, 0x80008000, 0x7FFFFFFF), (0x7FFF7FFF, 0x80008000, 0x80000000),
              (0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF), (0x80000000, 0xFFFFFFFF, 1),
              (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0, 0, 0)]


@pytest.mark.parametrize("thumb", [False, True])
def test_saturation_and_overflow_edges(thumb: bool) -> None:
    """Q flag / saturation / division corner values, both instruction sets."""
    spans, blob = _build(_EDGE, thumb)
    py = _Py(blob)
    for i, text in enumerate(_EDGE):
        for v in _EDGE_VALS:
            st = _state(i)
            st["regs"][1:4] = list(v)
            st["q"] = 0
            want = _run_unicorn(blob, *spans[i], thumb, st)
            assert py.run(spans[i][0], thumb, st) == want, (text, v)
