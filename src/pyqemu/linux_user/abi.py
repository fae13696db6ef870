"""What differs between the user-mode targets (AArch64, 32-bit ARM EABI): one object each.

:class:`Process` picks the object of its target (``proc.abi``); the loader, the
system-call entry and the signal code ask it rather than testing the target
name. AArch64 keeps the constants its modules always had.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TargetABI:
    name: str  # "aarch64" / "arm"
    prog: str  # the command's name in messages
    elf_class: int  # e_ident[EI_CLASS]: 2 = ELF64, 1 = ELF32
    elf_machine: int  # e_machine
    word: int  # bytes in a long / pointer
    nr_reg: int  # register holding the system call number
    reg_mask: int  # a general register's width
    platform: bytes  # AT_PLATFORM string
    uname_machine: bytes
    hwcap: int
    hwcap2: int
    pie_base: int  # load bias of an ET_DYN main program
    va_limit: int  # guest mappings stay below this
    mmap_top: int | None = None  # kernel-chosen mappings: top-down search below this (None: default)
    mmap_bottom: int = 0
    reserved_va: int = 0  # guest space that QEMU reserves on the host: counts as mapped for msync
    auxv_minsigstksz: int | None = None
    extra: dict = field(default_factory=dict)


EM_AARCH64 = 183
EM_ARM = 40

# AArch64 HWCAP bits (arch/arm64/include/uapi/asm/hwcap.h) for what pyqemu implements.
_A64_HWCAP = ((1 << 0) | (1 << 1) | (1 << 7) | (1 << 8) | (1 << 11) | (1 << 15) | (1 << 26)
              | (1 << 27) | (1 << 29))
_A64_HWCAP2 = 1 << 7

# 32-bit ARM HWCAP bits (arch/arm/include/uapi/asm/hwcap.h).
HWCAP_ARM_SWP, HWCAP_ARM_HALF, HWCAP_ARM_THUMB, HWCAP_ARM_FAST_MULT = 1 << 0, 1 << 1, 1 << 2, 1 << 4
HWCAP_ARM_VFP, HWCAP_ARM_EDSP, HWCAP_ARM_NEON, HWCAP_ARM_VFPv3 = 1 << 6, 1 << 7, 1 << 12, 1 << 13
HWCAP_ARM_TLS, HWCAP_ARM_VFPv4, HWCAP_ARM_IDIVA, HWCAP_ARM_IDIVT = 1 << 15, 1 << 16, 1 << 17, 1 << 18
HWCAP_ARM_VFPD32, HWCAP_ARM_LPAE = 1 << 19, 1 << 20
# What qemu-arm 7.2 reports for its default CPU ("max"), minus nothing: 0x1fb0d7.
ARM_HWCAP = (HWCAP_ARM_SWP | HWCAP_ARM_HALF | HWCAP_ARM_THUMB | HWCAP_ARM_FAST_MULT | HWCAP_ARM_VFP
             | HWCAP_ARM_EDSP | HWCAP_ARM_NEON | HWCAP_ARM_VFPv3 | HWCAP_ARM_TLS | HWCAP_ARM_VFPv4
             | HWCAP_ARM_IDIVA | HWCAP_ARM_IDIVT | HWCAP_ARM_VFPD32 | HWCAP_ARM_LPAE)
# HWCAP2 (AES, PMULL, SHA1, SHA2, CRC32 on qemu-arm "max"): none of the crypto extensions
# are implemented for AArch32, so none is advertised.
ARM_HWCAP2 = 0

AARCH64 = TargetABI(
    name="aarch64", prog="pyqemu-aarch64", elf_class=2, elf_machine=EM_AARCH64, word=8,
    nr_reg=8, reg_mask=(1 << 64) - 1, platform=b"aarch64", uname_machine=b"aarch64",
    hwcap=_A64_HWCAP, hwcap2=_A64_HWCAP2, pie_base=0x55_0000_0000, va_limit=1 << 39,
    auxv_minsigstksz=5120)

# qemu-arm 7.2 on a 64-bit host: 32-bit guest addresses, the vector page at 0xffff0000,
# mappings (and the stack) found top down below 0x40000000, a PIE program at 0x40000000;
# the host reservation of the guest space, [0, 0xffff0000), plus the vector page.
ARM = TargetABI(
    name="arm", prog="pyqemu-arm", elf_class=1, elf_machine=EM_ARM, word=4,
    nr_reg=7, reg_mask=0xFFFFFFFF, platform=b"v8l", uname_machine=b"armv7l",
    hwcap=ARM_HWCAP, hwcap2=ARM_HWCAP2, pie_base=0x4000_0000, va_limit=0xFFFF_0000,
    mmap_top=0x4000_0000, mmap_bottom=0x1_0000, reserved_va=0xFFFF_0000)

ABIS = {"aarch64": AARCH64, "arm": ARM}
