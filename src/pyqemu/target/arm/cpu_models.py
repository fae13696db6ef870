"""AArch64 CPU models accepted by ``-cpu``: identification registers and reset values.

``cortex-a57`` (and ``cortex-a53``) reproduce what QEMU 7.2 reports on ``-M virt`` without EL2/EL3
(``virtualization=off,secure=off``: the EL2/EL3 fields of ID_AA64PFR0 and
ID_PFR1 are cleared, as QEMU's realize does). tests/unit/test_cpregs.py reads
the same registers from a real qemu-system-aarch64 through its gdbstub.

``max`` is pyqemu's own "everything we implement": a v8.0 base plus the
features the translator executes (CRC32, LSE atomics, LRCPC, FlagM/FlagM2, SB,
PAN, the three granules). It never advertises a feature QEMU's ``max`` lacks,
but it deliberately leaves out what pyqemu does not execute (SVE, SME, MTE,
pointer authentication, FP16, crypto, ...), so that guests do not use them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

Key = tuple[int, int, int, int, int]


def _id(crm: int, op2: int) -> Key:
    """Encoding of an ID-space register: op0=3, op1=0, CRn=0."""
    return (3, 0, 0, crm, op2)


# Names of the allocated ID-space registers (Arm ARM D17.2, "op0=3, op1=0, CRn=0").
ID_REG_NAMES: Mapping[Key, str] = MappingProxyType({
    _id(1, 0): "ID_PFR0_EL1", _id(1, 1): "ID_PFR1_EL1", _id(1, 2): "ID_DFR0_EL1",
    _id(1, 3): "ID_AFR0_EL1", _id(1, 4): "ID_MMFR0_EL1", _id(1, 5): "ID_MMFR1_EL1",
    _id(1, 6): "ID_MMFR2_EL1", _id(1, 7): "ID_MMFR3_EL1",
    _id(2, 0): "ID_ISAR0_EL1", _id(2, 1): "ID_ISAR1_EL1", _id(2, 2): "ID_ISAR2_EL1",
    _id(2, 3): "ID_ISAR3_EL1", _id(2, 4): "ID_ISAR4_EL1", _id(2, 5): "ID_ISAR5_EL1",
    _id(2, 6): "ID_MMFR4_EL1", _id(2, 7): "ID_ISAR6_EL1",
    _id(3, 0): "MVFR0_EL1", _id(3, 1): "MVFR1_EL1", _id(3, 2): "MVFR2_EL1",
    _id(3, 4): "ID_PFR2_EL1", _id(3, 5): "ID_DFR1_EL1", _id(3, 6): "ID_MMFR5_EL1",
    _id(4, 0): "ID_AA64PFR0_EL1", _id(4, 1): "ID_AA64PFR1_EL1", _id(4, 4): "ID_AA64ZFR0_EL1",
    _id(4, 5): "ID_AA64SMFR0_EL1",
    _id(5, 0): "ID_AA64DFR0_EL1", _id(5, 1): "ID_AA64DFR1_EL1", _id(5, 4): "ID_AA64AFR0_EL1",
    _id(5, 5): "ID_AA64AFR1_EL1",
    _id(6, 0): "ID_AA64ISAR0_EL1", _id(6, 1): "ID_AA64ISAR1_EL1", _id(6, 2): "ID_AA64ISAR2_EL1",
    _id(7, 0): "ID_AA64MMFR0_EL1", _id(7, 1): "ID_AA64MMFR1_EL1", _id(7, 2): "ID_AA64MMFR2_EL1",
})
ID_REG_KEYS: Mapping[str, Key] = MappingProxyType({n: k for k, n in ID_REG_NAMES.items()})


@dataclass(frozen=True)
class CpuModel:
    """Identification and reset values of one CPU type."""
    name: str
    midr: int
    revidr: int
    ctr: int
    dczid: int          # DCZID_EL0.BS: log2(words) of the DC ZVA block (4 = 64 bytes)
    clidr: int
    ccsidr: tuple[int, ...]  # indexed by CSSELR_EL1 (Level << 1 | InD)
    id_regs: Mapping[str, int]  # allocated ID-space registers; missing names read as 0
    reset_sctlr: int
    pmcr: int           # PMCR_EL0 reset: IMP, IDCODE and N (number of event counters)
    pmceid0: int
    pmceid1: int
    # IMPLEMENTATION DEFINED registers: name -> ((op0, op1, CRn, CRm, op2), reset value)
    impdef: Mapping[str, tuple[Key, int]] = field(default_factory=dict)

    def id_reg(self, name: str) -> int:
        return self.id_regs.get(name, 0)

    def id_field(self, name: str, shift: int, width: int = 4) -> int:
        return (self.id_reg(name) >> shift) & ((1 << width) - 1)

    @property
    def pa_bits(self) -> int:
        """Physical address size from ID_AA64MMFR0_EL1.PARange."""
        return (32, 36, 40, 42, 44, 48, 52)[min(self.id_field("ID_AA64MMFR0_EL1", 0), 6)]

    @property
    def pmu_counters(self) -> int:
        return (self.pmcr >> 11) & 0x1F

    @property
    def has_pan(self) -> bool:
        return self.id_field("ID_AA64MMFR1_EL1", 20) >= 1

    @property
    def has_uao(self) -> bool:
        return self.id_field("ID_AA64MMFR2_EL1", 4) >= 1

    @property
    def aarch32_el0(self) -> bool:
        return self.id_field("ID_AA64PFR0_EL1", 0) == 2

    def id_space(self) -> dict[Key, int]:
        """Every allocated ID-space encoding with this model's value (0 when unset)."""
        return {k: self.id_regs.get(n, 0) for k, n in ID_REG_NAMES.items()}


_A57_CCSIDR = (0x701FE00A, 0x201FE012, 0x70FFE07A)  # 32KB L1 D, 48KB L1 I, 2MB L2

# QEMU 7.2 target/arm/cpu64.c aarch64_a57_initfn, after realize on virt without EL2/EL3.
CORTEX_A57 = CpuModel(
    name="cortex-a57", midr=0x411FD070, revidr=0, ctr=0x8444C004, dczid=4, clidr=0x0A200023,
    ccsidr=_A57_CCSIDR, reset_sctlr=0x00C50838, pmcr=0x41013000, pmceid0=0x00020001, pmceid1=0,
    id_regs=MappingProxyType({
        "ID_PFR0_EL1": 0x00000131, "ID_PFR1_EL1": 0x00010001, "ID_DFR0_EL1": 0x03010006,
        "ID_MMFR0_EL1": 0x10101105, "ID_MMFR1_EL1": 0x40000000, "ID_MMFR2_EL1": 0x01260000,
        "ID_MMFR3_EL1": 0x02102211,
        "ID_ISAR0_EL1": 0x02101110, "ID_ISAR1_EL1": 0x13112111, "ID_ISAR2_EL1": 0x21232042,
        "ID_ISAR3_EL1": 0x01112131, "ID_ISAR4_EL1": 0x00011142, "ID_ISAR5_EL1": 0x00011121,
        "MVFR0_EL1": 0x10110222, "MVFR1_EL1": 0x12111111, "MVFR2_EL1": 0x00000043,
        "ID_AA64PFR0_EL1": 0x00000022,   # EL0/EL1 AArch64+AArch32, FP, AdvSIMD; no EL2/EL3
        "ID_AA64DFR0_EL1": 0x10305106,   # debug v8, PMUv3, 6 breakpoints, 4 watchpoints
        # QEMU: 0x00011120 (AES+PMULL, SHA1, SHA2, CRC32). The translator has no crypto
        # instructions yet, so pyqemu advertises CRC32 only: software falls back to generic code.
        "ID_AA64ISAR0_EL1": 0x00010000,
        "ID_AA64MMFR0_EL1": 0x00001124,  # 44-bit PA, 16-bit ASID, 4K/64K granules
    }),
    impdef=MappingProxyType({
        "L2CTLR_EL1": ((3, 1, 11, 0, 2), 0),   # number of CPUs - 1 in [25:24], set per board
        "L2ECTLR_EL1": ((3, 1, 11, 0, 3), 0),
        "L2ACTLR": ((3, 1, 15, 0, 0), 0),
        "CPUACTLR_EL1": ((3, 1, 15, 2, 0), 0),
        "CPUECTLR_EL1": ((3, 1, 15, 2, 1), 0),
        "CPUMERRSR_EL1": ((3, 1, 15, 2, 2), 0),
        "L2MERRSR_EL1": ((3, 1, 15, 2, 3), 0),
        "CBAR_EL1": ((3, 1, 15, 3, 0), 0),     # GIC base, set by the board (virt: 0x08000000)
    }),
)

# QEMU 7.2 aarch64_a53_initfn, sanitised the same way.
CORTEX_A53 = replace(
    CORTEX_A57, name="cortex-a53", midr=0x410FD034, revidr=0, ctr=0x84448004,
    ccsidr=(0x700FE01A, 0x201FE00A, 0x707FE07A),  # 32KB L1 D, 32KB L1 I, 1MB L2
    pmcr=0x41033000,
    id_regs=MappingProxyType({**CORTEX_A57.id_regs, "ID_AA64MMFR0_EL1": 0x00001122}),  # 40-bit PA
)

MAX = CpuModel(
    name="max", midr=0x000F0510, revidr=0, ctr=0x8444C004, dczid=4, clidr=0x02000023,
    ccsidr=_A57_CCSIDR, reset_sctlr=0x00C50838, pmcr=0x41013000, pmceid0=0x00020001, pmceid1=0,
    id_regs=MappingProxyType({
        "ID_AA64PFR0_EL1": 0x00000011,   # EL0/EL1 AArch64 only, FP and AdvSIMD (no FP16)
        "ID_AA64DFR0_EL1": 0x10305106,
        "ID_AA64ISAR0_EL1": 0x0020000000210000,  # CRC32, Atomic (LSE), TS=2 (FlagM, FlagM2)
        "ID_AA64ISAR1_EL1": 0x0000001000200000,  # LRCPC=2 (LDAPR, LDAPUR), SB
        "ID_AA64MMFR0_EL1": 0x0000000000100025,  # 48-bit PA, 16-bit ASID, 4K/16K/64K granules
        "ID_AA64MMFR1_EL1": 0x0000000000100000,  # PAN
    }),
)

MODELS: Mapping[str, CpuModel] = MappingProxyType({m.name: m for m in (CORTEX_A53, CORTEX_A57, MAX)})

# name -> MIDR_EL1 for every model ``-cpu`` accepts (user mode uses the MIDR only).
CPU_MODELS: dict[str, int] = {
    "cortex-a35": 0x411FD040,
    "cortex-a53": 0x410FD034,
    "cortex-a57": 0x411FD070,
    "cortex-a72": 0x410FD083,
    "max": 0x000F0510,
}


def get_model(name: str) -> CpuModel:
    """The full model for system emulation; ValueError names the ones that exist."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unable to find CPU model '{name}'") from None
