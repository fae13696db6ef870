"""CPU models ``pyqemu-arm -cpu`` accepts: name -> MIDR (the value MRC p15 c0 reads),
and what the loader tells the program about each (AT_HWCAP, AT_PLATFORM).

A subset of qemu-arm's list (the ARMv7-A/ARMv8-A cores whose instruction sets pyqemu
implements for AArch32); "max" is qemu-arm's default. The HWCAP values are qemu-arm
7.2's without HWCAP_THUMBEE (bit 11), which qemu-arm reports for the v7 cores but
pyqemu does not implement.
"""
from __future__ import annotations

from pyqemu.linux_user.abi import ARM_HWCAP

_V7_VFPV3 = 0x8B0D7  # a8, a9: SWP HALF THUMB FAST_MULT VFP EDSP NEON VFPv3 TLS VFPD32
_V7_VFPV4 = 0x1FB0D7  # a7, a15: + VFPv4 IDIVA IDIVT LPAE
ARM_CPU_FEATURES = {  # name -> (AT_HWCAP, AT_PLATFORM)
    "cortex-a7": (_V7_VFPV4, b"v7l"),
    "cortex-a8": (_V7_VFPV3, b"v7l"),
    "cortex-a9": (_V7_VFPV3, b"v7l"),
    "cortex-a15": (_V7_VFPV4, b"v7l"),
    "max": (ARM_HWCAP, b"v8l"),
}

ARM_CPU_MODELS = {
    "cortex-a7": 0x410FC075,
    "cortex-a8": 0x410FC080,
    "cortex-a9": 0x410FC090,
    "cortex-a15": 0x412FC0F1,
    "max": 0x411FD070,  # qemu-arm's "max" reports a Cortex-A57 MIDR
}
