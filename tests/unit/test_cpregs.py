"""The AArch64 system-register table (target/arm/cpregs.py) and CPU models.

Two references: binutils (every encoding in the table must be what
``aarch64-linux-gnu-as`` assembles for the register's name) and real
qemu-system-aarch64 7.2 (ID and reset values read through its gdbstub,
which exposes the system registers as the "system-registers" feature).
"""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from dataclasses import replace

import pytest
from conftest import unavailable

from pyqemu.target.arm import cpregs
from pyqemu.target.arm.cpregs import (
    FX_ASID,
    FX_END_TB,
    FX_IRQ,
    FX_MMU,
    FX_TLB_FLUSH,
    Check,
    Kind,
    Op,
    SysRegFile,
)
from pyqemu.target.arm.cpu_models import CORTEX_A53, CORTEX_A57, MAX, get_model
from pyqemu.target.arm.exceptions import PSTATE_DAIF, PSTATE_PAN, make_pstate
from pyqemu.target.arm.mmu import AccessType

A57 = cpregs.build_table(CORTEX_A57)
TMAX = cpregs.build_table(MAX)

MIDR = (3, 0, 0, 0, 0)
CTR = (3, 3, 0, 0, 1)


def lookup(name: str, table=A57):
    return table.by_name[name]


# ---- encodings against binutils ----

# IMPLEMENTATION DEFINED Cortex-A57 registers binutils has no names for.
IMPDEF = {"L2CTLR_EL1", "L2ECTLR_EL1", "L2ACTLR", "CPUACTLR_EL1", "CPUECTLR_EL1", "CPUMERRSR_EL1",
          "L2MERRSR_EL1", "CBAR_EL1"}


def _asm_line(d) -> str:
    name = d.name.lower()
    if d.kind == Kind.OP:
        mnem, _, what = name.partition(" ")
        if d.name.startswith(("TLBI VMALL", "IC IALLU")):
            return f"{mnem} {what}"
        if not what:  # PMSWINC_EL0 is a write-only register, not a SYS alias
            return f"msr {name}, x5"
        return f"{mnem} {what}, x5"
    if d.access & cpregs.R or d.el0 & cpregs.R:
        return f"mrs x5, {name}"
    return f"msr {name}, x5"


def _decode(word: int) -> tuple[int, int, int, int, int]:
    return ((word >> 19) & 3, (word >> 16) & 7, (word >> 12) & 15, (word >> 8) & 15, (word >> 5) & 7)


def _assemble(tmp_path, lines: list[str]) -> tuple[list[int], set[int]]:
    """Assemble `lines`; return the words of those that assembled and the failed line numbers."""
    src = tmp_path / "regs.s"
    failed: set[int] = set()
    while True:
        kept = [ln if i not in failed else "nop" for i, ln in enumerate(lines)]
        src.write_text("\n".join(kept) + "\n")
        obj, raw = tmp_path / "regs.o", tmp_path / "regs.bin"
        r = subprocess.run(["aarch64-linux-gnu-as", "-march=armv9-a+sme", str(src), "-o", str(obj)],
                           capture_output=True, text=True)
        if r.returncode == 0:
            subprocess.run(["aarch64-linux-gnu-objcopy", "-O", "binary", "-j", ".text", str(obj), str(raw)],
                           check=True)
            data = raw.read_bytes()
            return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)], failed
        new = {int(m) - 1 for m in re.findall(r"regs\.s:(\d+): Error", r.stderr)}
        assert new - failed, r.stderr
        failed |= new


@pytest.mark.parametrize("model", [CORTEX_A53, CORTEX_A57, MAX], ids=lambda m: m.name)
def test_encodings_match_binutils(tmp_path, model):
    if not shutil.which("aarch64-linux-gnu-as") or not shutil.which("aarch64-linux-gnu-objcopy"):
        unavailable("binutils-aarch64-linux-gnu not installed")
    table = cpregs.build_table(model, el2=True, el3=True)
    descs = list(table) + [table.lookup((2, 3, 0, 5, 0), is_read=False)]
    words, failed = _assemble(tmp_path, [_asm_line(d) for d in descs])
    assert {descs[i].name for i in failed} <= IMPDEF
    checked = 0
    for i, d in enumerate(descs):
        if i not in failed:
            assert _decode(words[i]) == d.key, d.name
            checked += 1
    assert checked > 150


# ---- values against real QEMU ----

def _gdb_packet(s: socket.socket, data: str) -> str:
    s.sendall(f"${data}#{sum(data.encode()) & 0xFF:02x}".encode())
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("gdbstub closed the connection")
        buf += chunk
        m = re.search(rb"\$(.*?)#[0-9a-fA-F]{2}", buf, re.S)
        if m:
            s.sendall(b"+")
            return m.group(1).decode()


def qemu_sysregs(tmp_path, cpu: str) -> dict[str, int]:
    """System registers of a freshly reset `-M virt -cpu <cpu>` as QEMU's gdbstub shows them."""
    if not shutil.which("qemu-system-aarch64"):
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    path = tmp_path / f"gdb-{cpu}.sock"
    p = subprocess.Popen(["qemu-system-aarch64", "-M", "virt", "-cpu", cpu, "-S", "-display", "none",
                          "-nodefaults", "-chardev", f"socket,id=g,path={path},server=on,wait=off",
                          "-gdb", "chardev:g"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(str(path))
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline or p.poll() is not None:
                    raise
                time.sleep(0.05)
        with s:
            s.settimeout(20)
            _gdb_packet(s, "qSupported:xmlRegisters=aarch64")
            xml, off = "", 0
            while True:
                r = _gdb_packet(s, f"qXfer:features:read:system-registers.xml:{off:x},4000")
                xml += r[1:]
                off += len(r) - 1
                if r[0] == "l":
                    break
            out = {}
            for name, num in re.findall(r'<reg name="([^"]+)" bitsize="\d+" regnum="(\d+)"', xml):
                v = _gdb_packet(s, f"p{int(num):x}")
                if v and not v.startswith("E"):
                    out[name] = int.from_bytes(bytes.fromhex(v), "little")
            return out
    finally:
        p.kill()
        p.wait()


QEMU_NAMES = {"AMAIR0": "AMAIR_EL1"}  # QEMU names some registers after their AArch32 view


def _our_name(table, qname: str) -> str | None:
    for cand in (QEMU_NAMES.get(qname, qname), qname + "_EL1", qname + "_EL0"):
        if cand in table.by_name:
            return cand
    return None


# Documented differences (cpu_models.py): no crypto instructions yet, so AES/PMULL/SHA1/SHA2
# are not advertised (QEMU value -> ours).
DELIBERATE = {"ID_AA64ISAR0_EL1": {0x11120: 0x10000}}


@pytest.mark.parametrize("model", [CORTEX_A57, CORTEX_A53], ids=lambda m: m.name)
def test_model_values_match_qemu(tmp_path, model):
    ref = qemu_sysregs(tmp_path, model.name)
    table = cpregs.build_table(model)
    f = SysRegFile(table, cbar=0x08000000)
    compared = []
    for qname, qval in ref.items():
        m = re.fullmatch(r"RES_0_C0_C(\d)_(\d)|ID_AA64\w+_EL1_RESERVED", qname)
        if m:  # unallocated ID space: RAZ for us too
            continue
        ours = _our_name(table, qname)
        if ours is None:
            continue
        d = table.by_name[ours]
        if d.kind in (Kind.CONST, Kind.STORE) or d.hook in ("pmcr", "ro", "setclr", "timer"):
            want = DELIBERATE.get(ours, {}).get(qval, qval)
            assert f.read(d) == want, f"{ours}: {f.read(d):#x} != QEMU {qval:#x}"
            compared.append(ours)
    # The ID registers and the reset state Linux and U-Boot read first.
    for name in ("ID_AA64DFR0_EL1", "ID_AA64ISAR0_EL1", "ID_AA64MMFR0_EL1", "ID_DFR0_EL1", "MVFR1_EL1",
                 "SCTLR_EL1", "CTR_EL0", "CLIDR_EL1", "PMCR_EL0", "OSLSR_EL1", "CNTFRQ_EL0", "CBAR_EL1",
                 "AMAIR_EL1", "VBAR_EL1", "CPACR_EL1"):
        assert name in compared
    assert len(compared) > 80


SIGNED_OR_NI = {  # 4-bit ID fields where 0xF means "not implemented": skip in the "<=" check
    "ID_AA64MMFR0_EL1": (20, 24, 28), "ID_AA64PFR0_EL1": (16, 20)}


def test_max_advertises_nothing_qemu_max_lacks(tmp_path):
    ref = qemu_sysregs(tmp_path, "max")
    for name, ours in MAX.id_regs.items():
        qname = name.removesuffix("_EL1") if name.startswith("ID_") and not name.startswith("ID_AA64") \
            else name
        if qname not in ref:
            continue
        for shift in range(0, 64, 4):
            if shift in SIGNED_OR_NI.get(name, ()):
                continue
            a, b = (ours >> shift) & 0xF, (ref[qname] >> shift) & 0xF
            assert a <= b, f"{name}[{shift + 3}:{shift}] = {a} > QEMU max {b}"


def test_models():
    assert get_model("cortex-a57").pa_bits == 44 and MAX.pa_bits == 48
    assert CORTEX_A57.pmu_counters == 6
    assert not CORTEX_A57.has_pan and MAX.has_pan
    with pytest.raises(ValueError, match="unable to find CPU model 'cortex-a9'"):
        get_model("cortex-a9")


# What U-Boot and Linux executed on QEMU 7.2 -M virt -cpu cortex-a57 (specs/virt-aarch64.md §6).
UBOOT_USES = ("CurrentEL CNTPCT_EL0 CNTFRQ_EL0 CTR_EL0 SCTLR_EL1 CCSIDR_EL1 CLIDR_EL1 MIDR_EL1 VBAR_EL1 "
              "CPACR_EL1 CSSELR_EL1 MAIR_EL1 TCR_EL1 TTBR0_EL1 SPSel").split() + [
    "DC ISW", "DC CIVAC", "DC IVAC", "IC IALLUIS", "TLBI VMALLE1"]
LINUX_USES = (
    "SCTLR_EL1 TCR_EL1 MAIR_EL1 TTBR0_EL1 TTBR1_EL1 VBAR_EL1 ELR_EL1 SPSR_EL1 ESR_EL1 FAR_EL1 SP_EL0 "
    "TPIDR_EL1 CONTEXTIDR_EL1 CPACR_EL1 DAIF CurrentEL TPIDR_EL0 TPIDRRO_EL0 CTR_EL0 DCZID_EL0 FPCR FPSR "
    "CNTFRQ_EL0 CNTVCT_EL0 CNTV_CTL_EL0 CNTV_CVAL_EL0 CNTKCTL_EL1 MIDR_EL1 MPIDR_EL1 REVIDR_EL1 "
    "ID_AA64PFR0_EL1 ID_AA64PFR1_EL1 ID_AA64DFR0_EL1 ID_AA64DFR1_EL1 ID_AA64ISAR0_EL1 ID_AA64ISAR1_EL1 "
    "ID_AA64MMFR0_EL1 ID_AA64MMFR1_EL1 ID_AA64MMFR2_EL1 ID_PFR0_EL1 ID_PFR1_EL1 ID_DFR0_EL1 "
    "ID_ISAR0_EL1 ID_ISAR1_EL1 ID_ISAR2_EL1 ID_ISAR3_EL1 ID_ISAR4_EL1 ID_ISAR5_EL1 ID_MMFR0_EL1 "
    "ID_MMFR1_EL1 ID_MMFR2_EL1 ID_MMFR3_EL1 ID_MMFR4_EL1 MVFR0_EL1 MVFR1_EL1 MVFR2_EL1 ID_ISAR6_EL1 "
    "ID_PFR2_EL1 ID_DFR1_EL1 ID_MMFR5_EL1 ID_AA64ZFR0_EL1 ID_AA64SMFR0_EL1 ID_AA64ISAR2_EL1 "
    "PMCR_EL0 PMCEID0_EL0 PMCEID1_EL0 PMCNTENCLR_EL0 PMINTENCLR_EL1 PMOVSCLR_EL0 PMUSERENR_EL0 "
    "MDSCR_EL1 OSLAR_EL1 OSDLR_EL1").split() + [
    f"DBG{k}{n}_EL1" for k, count in (("BCR", 6), ("BVR", 6), ("WCR", 4), ("WVR", 4))
    for n in range(count)] + [
    "DC CIVAC", "DC CVAU", "DC IVAC", "DC ZVA", "IC IALLU", "IC IALLUIS", "IC IVAU", "TLBI VMALLE1",
    "TLBI VMALLE1IS", "TLBI VALE1IS", "TLBI VAALE1IS", "TLBI VAE1IS", "TLBI ASIDE1IS"]


def test_everything_uboot_and_linux_touch_is_defined_at_el1():
    for name in UBOOT_USES + LINUX_USES:
        d = A57.by_name[name]
        is_read = bool(d.access & cpregs.R)
        assert cpregs.static_check(d, 1, is_read) in (Check.OK, None), name
    assert {"SPSel", "DAIFClr", "DAIFSet"} <= {n for n, _, _ in cpregs.MSR_IMM_FIELDS.values()}


# ---- lookup and access rules ----

def test_el0_midr_is_undefined_el1_reads_constant():
    d = A57.lookup(MIDR)
    assert d.kind == Kind.CONST and d.value == 0x411FD070
    assert cpregs.static_check(d, 0, True) == Check.UNDEF
    assert cpregs.static_check(d, 1, True) == Check.OK
    assert cpregs.static_check(d, 1, False) == Check.UNDEF  # read-only


def test_unallocated_id_space_is_raz_at_el1_only():
    for key in [(3, 0, 0, 3, 4), (3, 0, 0, 3, 5), (3, 0, 0, 3, 6), (3, 0, 0, 2, 7), (3, 0, 0, 4, 4),
                (3, 0, 0, 4, 5), (3, 0, 0, 6, 2), (3, 0, 0, 7, 7), (3, 0, 0, 3, 3)]:
        d = A57.lookup(key)
        assert d is not None and d.kind == Kind.CONST and d.value == 0, key
        assert cpregs.static_check(d, 1, True) == Check.OK
        assert cpregs.static_check(d, 0, True) == Check.UNDEF
    assert A57.lookup((3, 0, 0, 3, 4)).name == "ID_PFR2_EL1"
    # Outside the ID space an unknown encoding is UNDEFINED (None), e.g. MIDR's neighbours.
    assert A57.lookup((3, 0, 0, 0, 1)) is None
    assert A57.lookup((3, 0, 15, 15, 7)) is None


def test_pan_register_only_when_advertised():
    assert A57.lookup((3, 0, 4, 2, 3)) is None
    assert TMAX.lookup((3, 0, 4, 2, 3)).kind == Kind.PSTATE


def test_el2_el3_registers_only_behind_flags():
    assert "HCR_EL2" not in A57.by_name
    t = cpregs.build_table(CORTEX_A57, el2=True, el3=True)
    hcr = t.by_name["HCR_EL2"]
    assert cpregs.static_check(hcr, 1, True) == Check.UNDEF
    assert cpregs.static_check(hcr, 2, True) == Check.OK
    assert cpregs.static_check(t.by_name["SCR_EL3"], 2, False) == Check.UNDEF


@pytest.mark.parametrize("name,is_read,sctlr_bit", [
    ("CTR_EL0", True, cpregs.SCTLR_UCT), ("DC ZVA", False, cpregs.SCTLR_DZE),
    ("DC CIVAC", False, cpregs.SCTLR_UCI), ("IC IVAU", False, cpregs.SCTLR_UCI),
    ("DAIF", True, cpregs.SCTLR_UMA)])
def test_el0_sctlr_gates_trap_with_ec_0x18(name, is_read, sctlr_bit):
    f = SysRegFile(A57)
    d = A57.by_name[name]
    assert cpregs.static_check(d, 0, is_read) is None  # decided at run time
    assert cpregs.static_check(d, 1, is_read) == Check.OK
    f["SCTLR_EL1"] = 0
    assert f.check(d, 0, is_read) == Check.TRAP
    f["SCTLR_EL1"] = sctlr_bit
    assert f.check(d, 0, is_read) == Check.OK
    assert f.check(d, 1, is_read) == Check.OK


def test_el0_write_to_read_only_ctr_is_undefined():
    assert cpregs.static_check(A57.lookup(CTR), 0, False) == Check.UNDEF
    assert cpregs.static_check(A57.by_name["DC IVAC"], 0, False) == Check.UNDEF
    assert cpregs.static_check(A57.by_name["TLBI VMALLE1IS"], 0, False) == Check.UNDEF


@pytest.mark.parametrize("name,needed", [
    ("CNTFRQ_EL0", 1), ("CNTFRQ_EL0", 2), ("CNTPCT_EL0", 1), ("CNTVCT_EL0", 2),
    ("CNTV_CTL_EL0", 1 << 8), ("CNTV_CVAL_EL0", 1 << 8), ("CNTP_TVAL_EL0", 1 << 9)])
def test_el0_timer_access_is_controlled_by_cntkctl(name, needed):
    f = SysRegFile(A57)
    d = A57.by_name[name]
    assert f.check(d, 0, True) == Check.TRAP
    f["CNTKCTL_EL1"] = needed
    assert f.check(d, 0, True) == Check.OK
    f["CNTKCTL_EL1"] = 0x3FF & ~needed
    if name != "CNTFRQ_EL0":
        assert f.check(d, 0, True) == Check.TRAP
    assert f.check(d, 1, True) == Check.OK


def test_el0_pmu_access_follows_pmuserenr():
    f = SysRegFile(A57)
    pmccntr, pmcr, swinc = (A57.by_name[n] for n in ("PMCCNTR_EL0", "PMCR_EL0", "PMSWINC_EL0"))
    assert f.check(pmcr, 0, True) == Check.TRAP
    f["PMUSERENR_EL0"] = 4  # CR: cycle counter reads only
    assert f.check(pmccntr, 0, True) == Check.OK
    assert f.check(pmccntr, 0, False) == Check.TRAP
    assert f.check(pmcr, 0, True) == Check.TRAP
    f["PMUSERENR_EL0"] = 2  # SW
    assert f.check(swinc, 0, False) == Check.OK
    f["PMUSERENR_EL0"] = 1  # EN: everything
    assert f.check(pmcr, 0, False) == Check.OK
    # PMUSERENR itself is read-only at EL0; PMINTENSET is EL1 only.
    assert cpregs.static_check(A57.by_name["PMUSERENR_EL0"], 0, False) == Check.UNDEF
    assert cpregs.static_check(A57.by_name["PMINTENSET_EL1"], 0, True) == Check.UNDEF


def test_fp_registers_trap_by_cpacr():
    f = SysRegFile(A57)
    fpcr = A57.by_name["FPCR"]
    assert fpcr.kind == Kind.CPUREG and fpcr.cpu_reg == 36
    assert f.check(fpcr, 1, True) == Check.TRAP_FP  # CPACR_EL1 resets to 0: FP traps
    f["CPACR_EL1"] = 1 << 20
    assert f.check(fpcr, 0, True) == Check.TRAP_FP and f.check(fpcr, 1, True) == Check.OK
    f["CPACR_EL1"] = 3 << 20
    assert f.check(fpcr, 0, False) == Check.OK


def test_sp_el0_undefined_while_selected_and_debug_comms_channel():
    f = SysRegFile(A57)
    sp0 = A57.by_name["SP_EL0"]
    assert f.check(sp0, 1, True, pstate=make_pstate(1, spsel=1)) == Check.OK
    assert f.check(sp0, 1, True, pstate=make_pstate(1, spsel=0)) == Check.UNDEF
    assert cpregs.static_check(A57.by_name["SP_EL1"], 1, True) == Check.UNDEF
    mdccsr = A57.by_name["MDCCSR_EL0"]
    f["MDSCR_EL1"] = 1 << 12  # TDCC: QEMU 7.2 does not trap on it (see test_access_rules_match_qemu)
    assert f.check(mdccsr, 0, True) == Check.OK
    assert A57.lookup((2, 3, 0, 5, 0)).name == "DBGDTRRX_EL0"
    assert A57.lookup((2, 3, 0, 5, 0), is_read=False).name == "DBGDTRTX_EL0"


def test_wfx_and_fp_helpers():
    assert cpregs.wfx_trapped(0, 0, is_wfe=False) and not cpregs.wfx_trapped(0, 1, is_wfe=False)
    assert cpregs.wfx_trapped(cpregs.SCTLR_nTWE, 0, is_wfe=False)
    assert not cpregs.wfx_trapped(cpregs.SCTLR_nTWI, 0, is_wfe=False)
    assert not cpregs.wfx_trapped(0, 0, is_wfe=True)  # as QEMU 7.2: WFE never traps
    assert [cpregs.fp_trapped(v << 20, 1) for v in range(4)] == [True, False, True, False]
    assert [cpregs.fp_trapped(v << 20, 0) for v in range(4)] == [True, True, True, False]


# ---- reads, writes and their effects ----

def test_reset_values_and_write_effects():
    f = SysRegFile(A57, mpidr=0x80000001)
    assert f.read(A57.by_name["MPIDR_EL1"]) == 0x80000001
    assert f["SCTLR_EL1"] == 0x00C50838 and f["OSLSR_EL1"] == 0xA
    assert f.write(A57.by_name["SCTLR_EL1"], 0x30D0199D) == FX_END_TB | FX_TLB_FLUSH | FX_MMU
    assert f["SCTLR_EL1"] == 0x30D0199D
    assert f.write(A57.by_name["TCR_EL1"], 0x32B5193519) & FX_TLB_FLUSH
    ttbr0 = A57.by_name["TTBR0_EL1"]
    assert not ttbr0.effects & FX_END_TB  # translation flags do not depend on it
    assert f.write(ttbr0, 0x4123_0000) == FX_MMU  # ASID unchanged: no flush, but a new table base
    # a new ASID: the (ASID-tagged) TLB switches address space, no flush
    assert f.write(ttbr0, (5 << 48) | 0x4123_0000) == FX_ASID | FX_MMU
    assert f.read(ttbr0) == (5 << 48) | 0x4123_0000
    assert f.write(A57.by_name["MAIR_EL1"], 0xFF440C0400) == FX_MMU
    assert f.write(A57.by_name["CONTEXTIDR_EL1"], 5) == 0
    f.write(A57.by_name["VBAR_EL1"], 0xFFFF8000_10011FFF)
    assert f["VBAR_EL1"] == 0xFFFF8000_10011FE0  # QEMU masks bits [4:0] only
    f.write(A57.by_name["CPACR_EL1"], 0xFFFFFFFF)
    assert f["CPACR_EL1"] == 3 << 20
    with pytest.raises(ValueError):
        f.write(A57.by_name["MPIDR_EL1"], 0)


def test_cache_id_registers():
    f = SysRegFile(A57)
    ccsidr, csselr = A57.by_name["CCSIDR_EL1"], A57.by_name["CSSELR_EL1"]
    values = []
    for sel in (0, 1, 2, 4):
        f.write(csselr, sel)
        values.append(f.read(ccsidr))
    assert values == [0x701FE00A, 0x201FE012, 0x70FFE07A, 0]
    dczid = A57.by_name["DCZID_EL0"]
    assert f.read(dczid, el=1) == 4 and f.read(dczid, el=0) == 0x14  # DZP while SCTLR.DZE=0
    f["SCTLR_EL1"] = cpregs.SCTLR_DZE
    assert f.read(dczid, el=0) == 4
    assert cpregs.dc_zva_size(CORTEX_A57) == 64


class FakeTimer:
    def __init__(self):
        self.log: list[tuple] = []

    def read(self, reg: str) -> int:
        self.log.append(("r", reg))
        return 1234 if reg == "CNTVCT" else 7

    def write(self, reg: str, value: int) -> None:
        self.log.append(("w", reg, value))


def test_timer_registers_go_to_the_board_timer():
    timer = FakeTimer()
    f = SysRegFile(A57, timer=timer)
    assert f.read(A57.by_name["CNTVCT_EL0"]) == 1234
    assert f.write(A57.by_name["CNTV_CVAL_EL0"], 5000) == FX_IRQ
    assert f.write(A57.by_name["CNTV_CTL_EL0"], 1) == FX_IRQ
    assert timer.log == [("r", "CNTVCT"), ("w", "CNTV_CVAL", 5000), ("w", "CNTV_CTL", 1)]
    assert A57.by_name["CNTV_CTL_EL0"].key == (3, 3, 14, 3, 1)
    assert f["CNTFRQ_EL0"] == 62_500_000


def test_pmu_registers():
    f = SysRegFile(A57)
    pmcr = A57.by_name["PMCR_EL0"]
    assert f.read(pmcr) == 0x41013000 and (f.read(pmcr) >> 11) & 0x1F == 6
    s, c = A57.by_name["PMCNTENSET_EL0"], A57.by_name["PMCNTENCLR_EL0"]
    f.write(s, 0xFFFFFFFF)
    assert f.read(s) == f.read(c) == 0x8000003F  # cycle counter + 6 event counters
    f.write(c, 0x80000001)
    assert f.read(s) == 0x3E
    f["PMSELR_EL0"] = 3
    f.write(A57.by_name["PMXEVCNTR_EL0"], 99)
    assert f["PMEVCNTR3_EL0"] == 99
    f["PMSELR_EL0"] = 31
    f.write(A57.by_name["PMXEVTYPER_EL0"], 0xFFFFFFFF)
    assert f["PMCCFILTR_EL0"] == 0xFC000000
    f["PMCCNTR_EL0"] = 5
    f.write(pmcr, 0x47)  # E + P + C + LC
    assert f["PMEVCNTR3_EL0"] == 0 and f["PMCCNTR_EL0"] == 0
    assert f.read(pmcr) == 0x41013041
    assert "PMEVCNTR6_EL0" not in A57.by_name


def test_os_lock_and_claim_tags():
    f = SysRegFile(A57)
    f.write(A57.by_name["OSLAR_EL1"], 0)
    assert f["OSLSR_EL1"] == 0x8  # Linux unlocks the OS lock at boot
    f.write(A57.by_name["OSLAR_EL1"], 1)
    assert f["OSLSR_EL1"] == 0xA
    cs, cc = A57.by_name["DBGCLAIMSET_EL1"], A57.by_name["DBGCLAIMCLR_EL1"]
    f.write(cs, 0x5)
    assert f.read(cs) == 0xFF and f.read(cc) == 0x5
    f.write(cc, 0x1)
    assert f.read(cc) == 0x4
    assert sum(n.startswith("DBGBVR") for n in A57.by_name) == 6
    assert sum(n.startswith("DBGWCR") for n in A57.by_name) == 4


def test_state_round_trip():
    f = SysRegFile(A57)
    f["TTBR1_EL1"] = 0x1234000
    f["PMCCNTR_EL0"] = 77
    saved = f.state()
    g = SysRegFile(A57)
    g.load_state(saved)
    assert g.state() == saved and g["TTBR1_EL1"] == 0x1234000
    with pytest.raises(ValueError, match="NOPE_EL1"):
        g.load_state({"NOPE_EL1": 1})
    g.reset()
    assert g["TTBR1_EL1"] == 0 and g["SCTLR_EL1"] == 0x00C50838


# ---- PSTATE registers and SYS operations ----

def test_pstate_registers_and_msr_immediate():
    p = make_pstate(1, spsel=1, nzcv=0x6 << 28)
    assert cpregs.pstate_read(A57.by_name["CurrentEL"], p) == 4
    assert cpregs.pstate_read(A57.by_name["NZCV"], p) == 0x60000000
    assert cpregs.pstate_read(A57.by_name["DAIF"], p) == 0x3C0
    p2 = cpregs.pstate_write(A57.by_name["DAIF"], p, 0)
    assert p2 & PSTATE_DAIF == 0 and p2 & 0xF == 5
    p3 = cpregs.pstate_write(A57.by_name["SPSel"], p, 0)
    assert p3 & 0xF == 4
    assert cpregs.msr_imm("DAIFClr", 0x2, p) & PSTATE_DAIF == 0x340  # clear I
    assert cpregs.msr_imm("DAIFSet", 0xF, p2) & PSTATE_DAIF == 0x3C0
    assert cpregs.msr_imm("PAN", 1, p) & PSTATE_PAN
    assert cpregs.MSR_IMM_FIELDS[(3, 7)] == ("DAIFClr", 0, cpregs.Gate.UMA)


def test_tlbi_decoding():
    vae1is = A57.by_name["TLBI VAE1IS"]
    assert vae1is.op == Op.TLBI and vae1is.effects == FX_TLB_FLUSH
    req = cpregs.tlbi_request(vae1is, (0x1234 << 48) | (0xFFFF800010000000 >> 12) & ((1 << 44) - 1))
    assert req.asid == 0x34 and req.va == 0xFFFF800010000000 and req.scope.broadcast
    req = cpregs.tlbi_request(vae1is, 0x1234 << 48, tcr=1 << 36)
    assert req.asid == 0x1234 and req.va == 0
    req = cpregs.tlbi_request(A57.by_name["TLBI VAALE1"], 0x400)
    assert req.asid is None and req.va == 0x400000 and req.scope.last_level and not req.scope.broadcast
    req = cpregs.tlbi_request(A57.by_name["TLBI ASIDE1IS"], 7 << 48)
    assert req.asid == 7 and req.va is None
    req = cpregs.tlbi_request(A57.by_name["TLBI VMALLE1"], 0)
    assert req.asid is None and req.va is None


def test_at_and_dc_operations():
    at = cpregs.at_access(A57.by_name["AT S1E0W"])
    assert at.type == AccessType.WRITE and at.unpriv and at.at
    assert not cpregs.at_access(A57.by_name["AT S1E1R"]).pan_check
    assert "AT S1E1RP" not in A57.by_name and "AT S1E1RP" not in TMAX.by_name  # FEAT_PAN2 only
    pan2 = replace(MAX, id_regs={**MAX.id_regs, "ID_AA64MMFR1_EL1": 2 << 20})
    assert cpregs.at_access(cpregs.build_table(pan2).by_name["AT S1E1RP"]).pan_check
    assert "DC CVAP" not in A57.by_name  # FEAT_DPB only
    assert A57.by_name["DC ZVA"].op == Op.DC_ZVA
    assert A57.by_name["DC CIVAC"].op == Op.NOP and A57.by_name["IC IALLUIS"].op == Op.NOP


# ---- access rules against real QEMU: bare metal at EL1 and EL0, ESRs from `-d int` ----

# (instruction, (op0, op1, CRn, CRm, op2), is_read, rt); key None: not a system register access.
EL1_CASES = [
    ("mrs x0, s3_0_c0_c3_4", (3, 0, 0, 3, 4), True, 0),     # ID_PFR2: unallocated ID space, RAZ
    ("mrs x1, s3_0_c0_c6_2", (3, 0, 0, 6, 2), True, 1),     # ID_AA64ISAR2
    ("mrs x2, s3_0_c15_c15_7", (3, 0, 15, 15, 7), True, 2),  # nothing: UNDEFINED
    (".inst 0xd5180003", MIDR, False, 3),                   # msr midr_el1, x3: read-only
    ("mrs x4, hcr_el2", (3, 4, 1, 1, 0), True, 4),          # no EL2
    ("msr spsel, #0", None, False, 0),
    ("mrs x5, sp_el0", (3, 0, 4, 1, 0), True, 5),           # SP_EL0 while selected: UNDEFINED
    ("msr spsel, #1", None, False, 0),
    ("mrs x6, sp_el0", (3, 0, 4, 1, 0), True, 6),
    ("mrs x7, ctr_el0", CTR, True, 7),
    ("mrs x8, pmcr_el0", (3, 3, 9, 12, 0), True, 8),
    ("mrs x9, oslsr_el1", (2, 0, 1, 1, 4), True, 9),
    ("mrs x10, s3_7_c14_c2_1", (3, 7, 14, 2, 1), True, 10),      # CNTPS_CTL_EL1
    ("mrs x11, s3_3_c14_c8_6", (3, 3, 14, 8, 6), True, 11),      # PMEVCNTR6_EL0: A57 has 6
    ("mrs x12, s2_0_c0_c6_4", (2, 0, 0, 6, 4), True, 12),        # DBGBVR6_EL1: A57 has 6
    ("mrs x13, s2_0_c0_c4_6", (2, 0, 0, 4, 6), True, 13),        # DBGWVR4_EL1: A57 has 4
    ("mrs x14, s3_0_c4_c2_3", (3, 0, 4, 2, 3), True, 14),        # PAN: no FEAT_PAN on A57
    ("sys #0, c7, c9, #0, x15", (1, 0, 7, 9, 0), False, 15),     # AT S1E1RP: needs FEAT_PAN
    ("sys #3, c7, c12, #1, x16", (1, 3, 7, 12, 1), False, 16),   # DC CVAP: needs FEAT_DPB
    ("mrs x17, s3_1_c15_c2_0", (3, 1, 15, 2, 0), True, 17),      # CPUACTLR_EL1
    ("mrs x18, isr_el1", (3, 0, 12, 1, 0), True, 18),
    ("mrs x19, rvbar_el1", (3, 0, 12, 0, 1), True, 19),
    ("mrs x20, s3_0_c0_c4_4", (3, 0, 0, 4, 4), True, 20),        # ID_AA64ZFR0_EL1
    ("mrs x21, s3_3_c9_c13_2", (3, 3, 9, 13, 2), True, 21),      # PMXEVCNTR_EL0
    ("msr s2_0_c1_c0_4, x22", (2, 0, 1, 0, 4), False, 22),       # OSLAR_EL1
    ("mrs x22, s2_0_c1_c0_4", (2, 0, 1, 0, 4), True, 22),        # OSLAR_EL1 is write-only
]
EL0_CASES = [
    ("mrs x0, midr_el1", MIDR, True, 0),
    ("mrs x1, ctr_el0", CTR, True, 1),
    ("dc zva, x2", (1, 3, 7, 4, 1), False, 2),
    ("dc civac, x3", (1, 3, 7, 14, 1), False, 3),
    ("ic ivau, x4", (1, 3, 7, 5, 1), False, 4),
    ("mrs x5, daif", (3, 3, 4, 2, 1), True, 5),
    ("msr daifset, #2", "DAIFSet", False, 31),
    ("mrs x6, cntvct_el0", (3, 3, 14, 0, 2), True, 6),
    ("mrs x7, cntfrq_el0", (3, 3, 14, 0, 0), True, 7),
    ("msr cntfrq_el0, x7", (3, 3, 14, 0, 0), False, 7),
    ("mrs x8, cntv_ctl_el0", (3, 3, 14, 3, 1), True, 8),
    ("mrs x9, cntpct_el0", (3, 3, 14, 0, 1), True, 9),
    ("mrs x10, pmcr_el0", (3, 3, 9, 12, 0), True, 10),
    ("mrs x11, pmccntr_el0", (3, 3, 9, 13, 0), True, 11),
    ("msr pmswinc_el0, x11", (3, 3, 9, 12, 4), False, 11),
    ("mrs x12, pmuserenr_el0", (3, 3, 9, 14, 0), True, 12),
    ("mrs x13, id_aa64pfr0_el1", (3, 0, 0, 4, 0), True, 13),
    ("mrs x14, s3_0_c0_c3_4", (3, 0, 0, 3, 4), True, 14),
    ("msr tpidrro_el0, x14", (3, 3, 13, 0, 3), False, 14),
    ("mrs x15, tpidrro_el0", (3, 3, 13, 0, 3), True, 15),
    ("mrs x16, sctlr_el1", (3, 0, 1, 0, 0), True, 16),
    ("mrs x17, currentel", (3, 0, 4, 2, 2), True, 17),
    ("mrs x18, sp_el0", (3, 0, 4, 1, 0), True, 18),
    ("mrs x19, dczid_el0", (3, 3, 0, 0, 7), True, 19),
    ("mrs x20, mdccsr_el0", (2, 3, 0, 1, 0), True, 20),
    ("mrs x21, fpcr", (3, 3, 4, 4, 0), True, 21),
    ("tlbi vmalle1", (1, 0, 8, 7, 0), False, 31),
    ("mrs x22, nzcv", (3, 3, 4, 2, 0), True, 22),
    ("wfe", "WFE", False, 0),                                 # QEMU 7.2 never traps WFE
]


def _case_lines(cases) -> str:
    # Each case at a fixed 8-byte slot: the handler resumes at ELR + 4, on the nop.
    return "\n".join(f"    {asm}\n    nop" for asm, *_ in cases)


def _expected_esr(f: SysRegFile, case, el: int, pstate: int) -> int | None:
    from pyqemu.target.arm import exceptions as E
    _, key, is_read, rt = case
    if key is None:
        return None
    if key == "WFE":
        return E.syn_wfx(is_wfe=True) if cpregs.wfx_trapped(f["SCTLR_EL1"], el, is_wfe=True) else None
    if key == "DAIFSet":
        name, min_el, gate = cpregs.MSR_IMM_FIELDS[(3, 6)]
        res = cpregs.gate_check(gate, el, False, sctlr=f["SCTLR_EL1"])
        # Architecturally MSR DAIFSet is op1=3, op2=6; QEMU 7.2's daif_check() passes them to
        # syn_aa64_sysregtrap() swapped, so its ESR says op1=6, op2=3. We compare with QEMU.
        return None if res == Check.OK else E.syn_sysreg_trap(0, 6, 4, 2, 3, 31, False)
    desc = A57.lookup(key, is_read)
    res = Check.UNDEF if desc is None else f.check(desc, el, is_read, pstate)
    if res == Check.OK:
        return None
    if res == Check.UNDEF:
        return E.syn_uncategorized()
    if res == Check.TRAP_FP:
        return E.syn_fp_access()
    return E.syn_sysreg_trap(*key, rt, is_read)


SCTLR_OPEN = cpregs.SCTLR_UCT | cpregs.SCTLR_DZE | cpregs.SCTLR_UCI | cpregs.SCTLR_UMA


def test_access_rules_match_qemu(tmp_path):
    """Every case runs on real qemu-system-aarch64 (cortex-a57): at EL1, then at EL0 twice,
    with reset controls (SCTLR, CNTKCTL, PMUSERENR, CPACR = 0: EL0 traps) and with every
    EL0 enable set. The ESRs QEMU logs must be the ones our access checks predict."""
    from pyqemu.target.arm.exceptions import make_pstate
    for tool in ("aarch64-linux-gnu-as", "aarch64-linux-gnu-ld", "aarch64-linux-gnu-nm"):
        if not shutil.which(tool):
            unavailable(f"{tool} not installed")
    if not shutil.which("qemu-system-aarch64"):
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    src = f"""
    .equ SCTLR_OPEN, {SCTLR_OPEN:#x}
    .global _start
_start:
    ldr x0, =vectors
    msr vbar_el1, x0
    b el1_cases
    .balign 8
el1_cases:
{_case_lines(EL1_CASES)}
    ldr x0, =el0_cases
    msr elr_el1, x0
    msr spsr_el1, xzr
    eret
    .balign 8
el0_cases:
{_case_lines(EL0_CASES)}
    svc #0
    .balign 0x800
vectors:
    b handler                       // current EL with SP_EL0 (the SPSel=0 case)
    .skip 0x200 - 4
    b handler
    .skip 0x200 - 4
    b handler
    .skip 0x400 - 4
handler:
    mrs x30, esr_el1
    lsr x30, x30, #26
    cmp x30, #0x15
    b.eq svc
    mrs x30, elr_el1
    add x30, x30, #4
    msr elr_el1, x30
    eret
svc:
    cbnz x29, off
    mov x29, #1                     // second round: everything EL0 may be allowed, allowed
    mrs x0, sctlr_el1
    ldr x1, =(SCTLR_OPEN)
    orr x0, x0, x1
    bic x0, x0, #(1 << 18)          // nTWE = 0: WFE at EL0 traps
    msr sctlr_el1, x0
    mov x0, #0x303
    msr cntkctl_el1, x0
    mov x0, #0xf
    msr pmuserenr_el0, x0
    mov x0, #(1 << 12)
    msr mdscr_el1, x0               // TDCC: would trap the debug comms channel (not in QEMU 7.2)
    mov x0, #(3 << 20)
    msr cpacr_el1, x0
    ldr x0, =el0_cases
    msr elr_el1, x0
    msr spsr_el1, xzr
    isb
    eret
off:
    ldr x0, =0x84000008             // PSCI SYSTEM_OFF
    hvc #0
    .ltorg
"""
    (tmp_path / "p.S").write_text(src)
    subprocess.run(["aarch64-linux-gnu-as", "-o", str(tmp_path / "p.o"), str(tmp_path / "p.S")], check=True)
    subprocess.run(["aarch64-linux-gnu-ld", "-Ttext=0x40080000", "-o", str(tmp_path / "p.elf"),
                    str(tmp_path / "p.o")], check=True)
    log = tmp_path / "int.log"
    subprocess.run(["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-display", "none",
                    "-nodefaults", "-kernel", str(tmp_path / "p.elf"), "-d", "int", "-D", str(log)],
                   check=True, timeout=60, stdin=subprocess.DEVNULL)
    got: dict[tuple[int, int], int] = {}  # (round, ELR) -> ESR
    esr, rnd = None, 0
    for line in log.read_text().splitlines():
        m = re.match(r"\.\.\.with ESR 0x[0-9a-f]+/0x([0-9a-f]+)", line)
        if m:
            esr = int(m.group(1), 16)
        m = re.match(r"\.\.\.with ELR 0x([0-9a-f]+)", line)
        if m and esr is not None:
            got[rnd, int(m.group(1), 16)] = esr
            rnd += esr >> 26 == 0x15
            esr = None
    syms = subprocess.run(["aarch64-linux-gnu-nm", str(tmp_path / "p.elf")], capture_output=True, text=True,
                          check=True).stdout
    addr = {name: int(a, 16) for a, _, name in (ln.split() for ln in syms.splitlines())}
    el1_base, el0_base = addr["el1_cases"], addr["el0_cases"]
    f = SysRegFile(A57)
    pstate = make_pstate(1, spsel=1)
    for i, case in enumerate(EL1_CASES):
        if case[0] == "msr spsel, #0":
            pstate = make_pstate(1, spsel=0)
        elif case[0] == "msr spsel, #1":
            pstate = make_pstate(1, spsel=1)
        assert got.get((0, el1_base + 8 * i)) == _expected_esr(f, case, 1, pstate), case[0]
    for i, case in enumerate(EL0_CASES):
        assert got.get((0, el0_base + 8 * i)) == _expected_esr(f, case, 0, make_pstate(0)), case[0]
    f["SCTLR_EL1"] = (f["SCTLR_EL1"] | SCTLR_OPEN) & ~cpregs.SCTLR_nTWE
    f["CNTKCTL_EL1"], f["PMUSERENR_EL0"], f["MDSCR_EL1"], f["CPACR_EL1"] = 0x303, 0xF, 1 << 12, 3 << 20
    for i, case in enumerate(EL0_CASES):
        assert got.get((1, el0_base + 8 * i)) == _expected_esr(f, case, 0, make_pstate(0)), case[0]
    traps = [e >> 26 == 0x18 for (r, _), e in got.items()]
    assert 10 <= sum(traps) < len(traps)
