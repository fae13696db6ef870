"""AArch64 registers as gdb numbers them: the org.gnu.gdb.aarch64.core feature (x0-x30, sp,
pc, cpsr) and org.gnu.gdb.aarch64.fpu (v0-v31, fpsr, fpcr), as in QEMU's target.xml."""
from __future__ import annotations

import struct

from pyqemu.target.arm import cpu as C

REG_PC, REG_CPSR, REG_V0, REG_FPSR, REG_FPCR = 32, 33, 34, 66, 67
M32, M64, M128 = (1 << 32) - 1, (1 << 64) - 1, (1 << 128) - 1
_VECTORS = (("d", "ieee_double", "uint64", "int64", 2), ("s", "ieee_single", "uint32", "int32", 4),
            ("h", None, "uint16", "int16", 8), ("b", None, "uint8", "int8", 16),
            ("q", None, "uint128", "int128", 1))


def _fpu_types() -> str:
    out = []
    for name, flt, uns, sig, count in _VECTORS:
        fields = []
        for kind, ty in (("f", flt), ("u", uns), ("s", sig)):
            if ty is not None:
                out.append(f'<vector id="v{count}{kind}{name}" type="{ty}" count="{count}"/>')
                fields.append(f'<field name="{kind}" type="v{count}{kind}{name}"/>')
        out.append(f'<union id="vn{name}">{"".join(fields)}</union>')
    out.append('<union id="aarch64v">' + "".join(f'<field name="{n}" type="vn{n}"/>' for n, *_ in _VECTORS)
               + "</union>")
    return "\n".join(out)


TARGET_XML = "\n".join([
    '<?xml version="1.0"?>',
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
    "<target><architecture>aarch64</architecture>",
    '<feature name="org.gnu.gdb.aarch64.core">',
    *(f'<reg name="x{i}" bitsize="64"/>' for i in range(31)),
    '<reg name="sp" bitsize="64" type="data_ptr"/>',
    '<reg name="pc" bitsize="64" type="code_ptr"/>',
    '<reg name="cpsr" bitsize="32"/>',
    "</feature>",
    '<feature name="org.gnu.gdb.aarch64.fpu">',
    _fpu_types(),
    *(f'<reg name="v{i}" bitsize="128" type="aarch64v"/>' for i in range(32)),
    '<reg name="fpsr" bitsize="32"/>',
    '<reg name="fpcr" bitsize="32"/>',
    "</feature></target>",
])


def read_register(cpu, n: int) -> bytes | None:
    """Register ``n`` of ``cpu`` in target byte order (little-endian), None if no such."""
    r = cpu.regs
    if n < 32:
        return struct.pack("<Q", r[n] & M64)
    if n == REG_PC:
        return struct.pack("<Q", cpu.pc & M64)
    if n == REG_CPSR:
        return struct.pack("<I", cpu.nzcv & M32)
    if REG_V0 <= n < REG_V0 + 32:
        return (r[C.REG_V0 + n - REG_V0] & M128).to_bytes(16, "little")
    if n == REG_FPSR:
        return struct.pack("<I", r[C.REG_FPSR] & M32)
    if n == REG_FPCR:
        return struct.pack("<I", r[C.REG_FPCR] & M32)
    return None


def read_registers(cpu) -> bytes:
    return b"".join(read_register(cpu, n) or b"" for n in range(REG_FPCR + 1))


def write_register(cpu, n: int, data: bytes) -> bool:
    value = int.from_bytes(data, "little")
    r = cpu.regs
    if n < 32:
        r[n] = value & M64
    elif n == REG_PC:
        cpu.pc = value & M64
    elif n == REG_CPSR:
        cpu.nzcv = value
    elif REG_V0 <= n < REG_V0 + 32:
        r[C.REG_V0 + n - REG_V0] = value & M128
    elif n == REG_FPSR:
        r[C.REG_FPSR] = value & M32
    elif n == REG_FPCR:
        r[C.REG_FPCR] = value & M32
    else:
        return False
    return True
