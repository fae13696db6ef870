"""Native (LLVM IR) versions of AArch64 helpers that hot code calls (see tcg/llvmgen.py)."""
from __future__ import annotations

from collections.abc import Callable

from pyqemu.target.arm import cpu as C
from pyqemu.tcg.llvmgen import (
    LAZY_GLOBALS,
    LEAVE_IF_NONZERO,
    PY_CALL_RESULTS,
    PY_CALLS,
    STORE_EXCLUSIVE,
    ZERO_BLOCK,
    CpuValue,
    NativeHelper,
)


def _flags(label: str, w: int, kind: str) -> str:
    """One case of nzcv_from: NZCV of a ``w``-bit add/sub/logic with operands %a, %b."""
    s = 1 << (w - 1)
    m = (1 << w) - 1
    p = f"%{label}_"
    if kind == "logic":
        lines = [f"{p}r = and i64 %a, {m if w == 32 else -1}", f"{p}n0 = lshr i64 %a, {w - 1}",
                 f"{p}nb = icmp ne i64 {p}n0, 0", f"{p}zb = icmp eq i64 %a, 0",
                 f"{p}cb = icmp eq i64 0, 1", f"{p}vb = icmp eq i64 0, 1"]
        r = f"{p}r"
    else:
        if kind == "add":
            lines = [f"{p}f = add i64 %a, %b"]
            if w == 32:
                lines += [f"{p}r = and i64 {p}f, {m}", f"{p}cb = icmp ugt i64 {p}f, {m}"]
            else:
                lines += [f"{p}r = or i64 {p}f, 0", f"{p}cb = icmp ult i64 {p}f, %a"]
            lines += [f"{p}x1 = xor i64 %a, {p}r", f"{p}x2 = xor i64 %b, {p}r"]
        else:
            lines = [f"{p}f = sub i64 %a, %b", f"{p}r = and i64 {p}f, {m if w == 32 else -1}",
                     f"{p}cb = icmp uge i64 %a, %b",
                     f"{p}x1 = xor i64 %a, %b", f"{p}x2 = xor i64 %a, {p}r"]
        lines += [f"{p}v0 = and i64 {p}x1, {p}x2", f"{p}v1 = and i64 {p}v0, {s}",
                  f"{p}vb = icmp ne i64 {p}v1, 0"]
        r = f"{p}r"
        lines += [f"{p}n1 = and i64 {r}, {s}", f"{p}nb = icmp ne i64 {p}n1, 0",
                  f"{p}zb = icmp eq i64 {r}, 0"]
    for bit, flag in ((31, "n"), (30, "z"), (29, "c"), (28, "v")):
        lines += [f"{p}{flag}x = zext i1 {p}{flag}b to i64", f"{p}{flag}s = shl i64 {p}{flag}x, {bit}"]
    lines += [f"{p}o1 = or i64 {p}ns, {p}zs", f"{p}o2 = or i64 {p}cs, {p}vs",
              f"{p}o = or i64 {p}o1, {p}o2", f"ret i64 {p}o"]
    return f"{label}:\n  " + "\n  ".join(lines)


_CASES = ((C.CC_ADD32, "add32", 32, "add"), (C.CC_ADD64, "add64", 64, "add"),
          (C.CC_SUB32, "sub32", 32, "sub"), (C.CC_SUB64, "sub64", 64, "sub"),
          (C.CC_LOGIC32, "log32", 32, "logic"), (C.CC_LOGIC64, "log64", 64, "logic"))

NZCV_FROM = NativeHelper("h_nzcv_from", 3, "\n".join(
    ["define internal i64 @nat_h_nzcv_from(i64 %op, i64 %a, i64 %b) alwaysinline {",
     "entry:",
     "  switch i64 %op, label %nzcv [" + " ".join(f"i64 {v}, label %{lb}" for v, lb, _w, _k in _CASES) + "]",
     "nzcv:", "  ret i64 %a"]
    + [_flags(lb, w, k) for _v, lb, w, k in _CASES] + ["}"]))


def _const_in(i: int, values: tuple[int, ...]) -> Callable[[tuple], bool]:
    """``accepts``: argument ``i`` is a constant among ``values``."""
    return lambda args: isinstance(args[i], int) and args[i] in values


def _define(name: str, params: str, body: str) -> str:
    return (f"define internal i64 @nat_{name}({params}) alwaysinline {{\nentry:\n"
            + "\n".join("  " + line if not line.endswith(":") else line for line in body.strip().splitlines())
            + "\n}")


UDIV = NativeHelper("h_udiv", 2, _define("h_udiv", "i64 %n, i64 %m", """
  %z = icmp eq i64 %m, 0
  br i1 %z, label %zero, label %div
zero:
  ret i64 0
div:
  %q = udiv i64 %n, %m
  ret i64 %q
"""))

SDIV = NativeHelper("h_sdiv", 3, _define("h_sdiv", "i64 %n, i64 %m, i64 %w", """
  %z = icmp eq i64 %m, 0
  br i1 %z, label %zero, label %nz
zero:
  ret i64 0
nz:
  %is32 = icmp eq i64 %w, 32
  br i1 %is32, label %d32, label %d64
d32:
  %n32 = trunc i64 %n to i32
  %m32 = trunc i64 %m to i32
  %ov32a = icmp eq i32 %n32, -2147483648
  %ov32b = icmp eq i32 %m32, -1
  %ov32 = and i1 %ov32a, %ov32b
  %m32s = select i1 %ov32, i32 1, i32 %m32
  %q32 = sdiv i32 %n32, %m32s
  %r32 = zext i32 %q32 to i64
  ret i64 %r32
d64:
  %ov64a = icmp eq i64 %n, -9223372036854775808
  %ov64b = icmp eq i64 %m, -1
  %ov64 = and i1 %ov64a, %ov64b
  %m64s = select i1 %ov64, i64 1, i64 %m
  %q64 = sdiv i64 %n, %m64s
  ret i64 %q64
"""), accepts=_const_in(2, (32, 64)))

CLZ = NativeHelper("h_clz", 2, _define("h_clz", "i64 %x, i64 %w", """
  %c = call i64 @llvm.ctlz.i64(i64 %x, i1 false)
  %a = add i64 %c, %w
  %r = sub i64 %a, 64
  ret i64 %r
""") + "\ndeclare i64 @llvm.ctlz.i64(i64, i1)", accepts=_const_in(1, (32, 64)))

CTZ = NativeHelper("h_ctz", 2, _define("h_ctz", "i64 %x, i64 %w", """
  %c = call i64 @llvm.cttz.i64(i64 %x, i1 false)
  %z = icmp eq i64 %x, 0
  %r = select i1 %z, i64 %w, i64 %c
  ret i64 %r
""") + "\ndeclare i64 @llvm.cttz.i64(i64, i1)", accepts=_const_in(1, (32, 64)))

CNT = NativeHelper("h_cnt", 1, _define("h_cnt", "i64 %x", """
  %c = call i64 @llvm.ctpop.i64(i64 %x)
  ret i64 %c
""") + "\ndeclare i64 @llvm.ctpop.i64(i64)")

RBIT = NativeHelper("h_rbit", 2, _define("h_rbit", "i64 %x, i64 %w", """
  %b = call i64 @llvm.bitreverse.i64(i64 %x)
  %s = sub i64 64, %w
  %r = lshr i64 %b, %s
  ret i64 %r
""") + "\ndeclare i64 @llvm.bitreverse.i64(i64)", accepts=_const_in(1, (8, 16, 32, 64)))

_BSWAP = "\ndeclare i64 @llvm.bswap.i64(i64)"

REV_BYTES = NativeHelper("h_rev_bytes", 2, _define("h_rev_bytes", "i64 %x, i64 %n", """
  %b = call i64 @llvm.bswap.i64(i64 %x)
  %n8 = mul i64 %n, 8
  %s = sub i64 64, %n8
  %r = lshr i64 %b, %s
  ret i64 %r
""") + _BSWAP, accepts=_const_in(1, (1, 2, 4, 8)))

# REV16 (bytes swapped in each halfword), REV32 of a 64-bit value, and whole-value REV.
REV = NativeHelper("h_rev", 3, _define("h_rev", "i64 %x, i64 %w, i64 %e", """
  %whole = icmp eq i64 %w, %e
  br i1 %whole, label %all, label %part
all:
  %b = call i64 @llvm.bswap.i64(i64 %x)
  %s = sub i64 64, %w
  %r = lshr i64 %b, %s
  ret i64 %r
part:
  %is16 = icmp eq i64 %e, 16
  br i1 %is16, label %h16, label %w32
h16:
  %hi = lshr i64 %x, 8
  %hi2 = and i64 %hi, 71777214294589695
  %lo = and i64 %x, 71777214294589695
  %lo2 = shl i64 %lo, 8
  %o = or i64 %hi2, %lo2
  %wm = shl i64 1, %w
  %wm1 = sub i64 %wm, 1
  %is64 = icmp eq i64 %w, 64
  %mask = select i1 %is64, i64 -1, i64 %wm1
  %r16 = and i64 %o, %mask
  ret i64 %r16
w32:
  %b32 = call i64 @llvm.bswap.i64(i64 %x)
  %r32 = call i64 @llvm.fshr.i64(i64 %b32, i64 %b32, i64 32)
  ret i64 %r32
""") + _BSWAP, accepts=lambda a: (isinstance(a[1], int) and isinstance(a[2], int)
                                  and (a[1], a[2]) in ((16, 16), (32, 32), (64, 64), (32, 16),
                                                       (64, 16), (64, 32))))


def _crc(name: str, poly: int) -> NativeHelper:
    """CRC32/CRC32C of the low ``n`` bytes of a value into an accumulator (bit-serial, reflected)."""
    return NativeHelper(name, 3, _define(name, "i64 %acc, i64 %val, i64 %n", f"""
  %bits = mul i64 %n, 8
  %is64 = icmp eq i64 %n, 8
  %sh = shl i64 1, %bits
  %m0 = sub i64 %sh, 1
  %m = select i1 %is64, i64 -1, i64 %m0
  %v = and i64 %val, %m
  %a = and i64 %acc, 4294967295
  %c0 = xor i64 %a, %v
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%i1, %loop]
  %c = phi i64 [%c0, %entry], [%c2, %loop]
  %lsb = and i64 %c, 1
  %neg = sub i64 0, %lsb
  %p = and i64 %neg, {poly}
  %cs = lshr i64 %c, 1
  %c2 = xor i64 %cs, %p
  %i1 = add i64 %i, 1
  %done = icmp eq i64 %i1, %bits
  br i1 %done, label %out, label %loop
out:
  ret i64 %c2
"""), accepts=_const_in(2, (1, 2, 4, 8)))


CRC32 = _crc("h_crc32", 0xEDB88320)
CRC32C = _crc("h_crc32c", 0x82F63B78)


# --- system mode: values of the vCPU that only helpers change (tcg/llvmgen.py CpuValue) ----------

def _sp_el0(cpu) -> int | None:
    """MRS SP_EL0 (Linux's ``current``): the Python tier raises UNDEFINED when SPSel is 0."""
    return cpu.sp_el[0] if cpu.pstate & 1 else None  # PSTATE.SP


SP_EL0 = CpuValue("h_sys_read_sp_el0", lambda consts: 0 if not consts else None, _sp_el0, may_fail=True)
# MRS of a plain stored system register (TPIDR_EL1, Linux's per-CPU offset, ...): slot 1 + index
SYSREG_STORE = CpuValue("h_sys_reg_read_store", lambda consts: 1 + consts[0] if len(consts) == 1 else None,
                        lambda cpu, slot: cpu.sr.values[slot])

# STXR/STXP (helper_a64_atomic.stxr(cpu, addr, excl_addr, excl_val, val, size)) and DC ZVA
STORE_EXCLUSIVE["h_stxr"] = (1, 2, 3, 4, 5)
ZERO_BLOCK["h_sys_dc_zva"] = (1, 64)
LEAVE_IF_NONZERO["h_sys_daif_unmasked"] = 1
# TLBI: a Python call from native code (the TLB and the walk cache are Python's); Linux's
# text patching runs one per patched instruction (43,000 at boot).
PY_CALLS["h_sys_tlbi"] = 1


def _sysreg_key(op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
    """The packed encoding sys_reg_read receives (trans_a64_system._packed)."""
    return op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2


# MRS of the generic timer's counters and timers (CNTPCT/CNTVCT, CNTP_*/CNTV_* TVAL, CTL,
# CVAL): reads with no side effect whose value native code does not hold. Linux's
# sched_clock and delay loops read the counter (a block starting with that MRS was never
# native: 8,000 exits from native code per boot).
TIMER_READS = frozenset([_sysreg_key(3, 3, 14, 0, 1), _sysreg_key(3, 3, 14, 0, 2)]
                        + [_sysreg_key(3, 3, 14, crm, op2) for crm in (2, 3) for op2 in (0, 1, 2)])
PY_CALLS["h_sys_reg_read"] = 2
PY_CALL_RESULTS["h_sys_reg_read"] = lambda args: len(args) == 2 and args[1] in TIMER_READS
LAZY_GLOBALS.update(range(C.REG_V0, C.REG_V0 + 32))  # (system mode copies them only when used)
