"""The AArch64 system-mode CPU on bare metal: exception levels, syndromes, ERET, the MMU.

A bare-metal program (assembled with binutils) runs on ARMSysCPU over the
minimal board of test_softmmu.py; its exception handler logs ESR/ELR/FAR
into RAM, which the test reads back.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pyqemu.accel.tcg import cpu_exec as cpu_exec_mod
from pyqemu.target.arm import cpu_sys

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import baremetal  # noqa: E402
from conftest import unavailable  # noqa: E402
from test_softmmu import RAM_BASE, Board  # noqa: E402


def load(source: str, **cpu_args) -> tuple[Board, bytes, cpu_sys.ARMSysCPU]:
    """A board with ``source`` assembled at RAM_BASE and one CPU about to run it."""
    if baremetal.missing_tools():
        unavailable(f"binutils for aarch64 missing: {baremetal.missing_tools()}")
    board = Board()
    image = baremetal.assemble(source, RAM_BASE)
    board.view[:len(image)] = image
    cpu = cpu_sys.ARMSysCPU(board, cpu_sys.make_tb_cache(board), **cpu_args)
    cpu.pc = RAM_BASE
    return board, image, cpu


def run_until_exit(cpu: cpu_sys.ARMSysCPU, board: Board, slices: int = 100, blocks: int = 50) -> None:
    for _ in range(slices):
        cpu_exec_mod.cpu_exec_sys(cpu, blocks)
        if board.exit_value is not None:
            return
    raise AssertionError(f"guest did not finish; stuck at {cpu.pc:#x}")


PROGRAM = r"""
    .global _start
_start:
    ldr x0, =vectors
    msr vbar_el1, x0
    ldr x25, =log                  // x25: where the handler appends ESR, ELR, FAR
    mrs x1, CurrentEL
    str x1, [x25], #8
    svc #0x42                       // EC 0x15 from the current EL
    udf #0                          // EC 0x00
    mrs x2, midr_el1
    str x2, [x25], #8
    // MMU on: VA 0-1 GiB device (PA 0), 1-2 GiB RAM (EL1 only), 2-3 GiB the same RAM read-only for all
    ldr x0, =tables
    msr ttbr0_el1, x0
    ldr x0, =0xff00                 // MAIR: attr0 device-nGnRnE, attr1 normal write-back
    msr mair_el1, x0
    ldr x0, =(25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32))
    msr tcr_el1, x0
    isb
    mrs x0, sctlr_el1
    orr x0, x0, #1
    msr sctlr_el1, x0
    isb
    ldr x3, =0x40001000
    ldr x4, [x3]                    // mapped: no fault
    ldr x5, =0xc0000010
    ldr x6, [x5]                    // unmapped: translation fault, level 1
    ldr x5, =0x80001000
    str x4, [x5]                    // read-only alias: permission fault on a write
    // drop to EL0 on the read-only alias of this code
    ldr x0, =user
    ldr x1, =0x40000000
    sub x0, x0, x1
    ldr x1, =0x80000000
    add x0, x0, x1
    msr elr_el1, x0
    msr spsr_el1, xzr
    eret

user:
    mrs x0, midr_el1                // EL0: UNDEFINED (EC 0) so an OS can emulate it
    svc #7                          // EC 0x15 from EL0: the handler ends the test
1:  b 1b

    .balign 0x800
vectors:
    .skip 0x200
    b handler                       // current EL with SP_ELx, synchronous
    .skip 0x200 - 4
    b handler_lower                 // lower EL (AArch64), synchronous
    .skip 0x400 - 4

handler:
    mrs x20, esr_el1
    mrs x21, elr_el1
    mrs x22, far_el1
    stp x20, x21, [x25], #16
    str x22, [x25], #8
    lsr x23, x20, #26
    cmp x23, #0x15
    b.eq 2f
    add x21, x21, #4                // skip the faulting instruction
    msr elr_el1, x21
2:  eret

handler_lower:
    mrs x20, esr_el1
    mrs x21, elr_el1
    stp x20, x21, [x25], #16
    mrs x1, CurrentEL
    str x1, [x25], #8
    lsr x23, x20, #26
    cmp x23, #0x15
    b.eq done
    add x21, x21, #4
    msr elr_el1, x21
    eret
done:
    ldr x9, =0x09000100
    str x25, [x9]
3:  b 3b
    .ltorg

    .balign 4096
tables:
    .quad 0x401
    .quad 0x40000705
    .quad 0x400007c5
    .fill 509, 8, 0
log:
    .fill 64, 8, 0
"""


def test_exceptions_syndromes_mmu_and_el0() -> None:
    board, image, cpu = load(PROGRAM, model="cortex-a57")
    run_until_exit(cpu, board)
    log_at = image.index(b"\x01\x04\x00\x00\x00\x00\x00\x00\x05\x07\x00\x40") + 4096
    words = [int.from_bytes(board.ram[log_at + 8 * i: log_at + 8 * i + 8], "little")
             for i in range((board.exit_value - RAM_BASE - log_at) // 8)]
    code = RAM_BASE
    svc_pc = code + image.index((0xD4000841).to_bytes(4, "little"))   # svc #0x42
    udf_pc = code + image.index((0x00000000).to_bytes(4, "little"), svc_pc - code)
    assert words[0] == 4                                   # CurrentEL: EL1
    assert words[1:4] == [0x56000042, svc_pc + 4, words[3]]  # SVC: EC 0x15, IL, imm; ELR after it
    assert words[4:6] == [0x02000000, udf_pc]              # UDF: EC 0, IL
    assert words[7] == 0x411FD070                          # MIDR of the Cortex-A57 r1p0
    # translation fault (level 1) on a read: EC 0x25, DFSC 0x05; FAR = the address
    assert words[8] == 0x96000005 and words[10] == 0xC0000010
    # permission fault (level 1) on a write: WnR set, DFSC 0x0d
    assert words[11] == 0x9600004D and words[13] == 0x80001000
    # EL0: MRS MIDR_EL1 is UNDEFINED (EC 0), then SVC #7 from EL0 arrives at EL1
    assert words[14] == 0x02000000 and words[16] == 4
    assert words[17] == 0x56000007 and words[19] == 4
    assert cpu.el == 1


@pytest.mark.parametrize("fpen,traps", [(0, True), (3, False)])
def test_fp_access_trap_follows_cpacr(fpen: int, traps: bool) -> None:
    board, _, cpu = load(f"""
    .global _start
_start:
    ldr x0, =vectors
    msr vbar_el1, x0
    mov x0, #({fpen} << 20)
    msr cpacr_el1, x0
    isb
    fmov d0, #1.0
    mov x1, #1
    ldr x9, =0x09000100
    str x1, [x9]
1:  b 1b
    .ltorg
    .balign 0x800
vectors:
    .skip 0x200
    mrs x2, esr_el1
    ldr x9, =0x09000100
    str x2, [x9]
2:  b 2b
    .ltorg
""")
    run_until_exit(cpu, board, 20, 20)
    assert board.exit_value == (0x1FE00000 if traps else 1)  # EC 0x07, IL, CV=1, COND=0xE (as QEMU)


def test_psci_over_hvc_brings_up_a_second_cpu_and_powers_off() -> None:
    """PSCI_VERSION, FEATURES, CPU_ON of CPU 1 (which runs and reports), AFFINITY_INFO, SYSTEM_OFF."""
    if baremetal.missing_tools():
        unavailable(f"binutils for aarch64 missing: {baremetal.missing_tools()}")
    from pyqemu.accel.tcg.rr_runner import RoundRobinRunner
    from pyqemu.target.arm import psci

    board = Board()
    image = baremetal.assemble(r"""
    .global _start
_start:
    ldr x25, =results
    ldr x0, =0x84000000          // PSCI_VERSION
    hvc #0
    str x0, [x25, #0]
    ldr x0, =0x8400000a          // PSCI_FEATURES(CPU_ON_64)
    ldr x1, =0xc4000003
    hvc #0
    str x0, [x25, #8]
    ldr x0, =0xc4000003          // CPU_ON_64(mpidr 1, entry, context 0x77)
    mov x1, #1
    ldr x2, =secondary
    mov x3, #0x77
    hvc #0
    str x0, [x25, #16]
1:  ldr x4, [x25, #32]           // wait for the secondary's report
    cbz x4, 1b
    ldr x0, =0xc4000004          // AFFINITY_INFO_64(mpidr 1, level 0)
    mov x1, #1
    mov x2, #0
    hvc #0
    str x0, [x25, #24]
    ldr x0, =0x84000008          // SYSTEM_OFF
    hvc #0
2:  b 2b
secondary:
    ldr x25, =results
    mrs x1, mpidr_el1
    add x1, x1, x0                // x0 = context id
    str x1, [x25, #32]
3:  b 3b
    .ltorg
    .balign 64
results:
    .fill 8, 8, 0
""", RAM_BASE)
    board.view[:len(image)] = image
    tbs = cpu_sys.make_tb_cache(board)
    off = []

    class Host:
        def system_off(self) -> None:
            off.append(True)

        def system_reset(self) -> None:
            raise AssertionError("no reset expected")

        def cpus(self):
            return cpus

    host = Host()
    cpus = [cpu_sys.ARMSysCPU(board, tbs, cpu_index=i, num_cpus=2, psci=lambda c: psci.call(host, c))
            for i in range(2)]
    for c in cpus:
        c.peers = cpus
    cpus[1].power_off()
    cpus[0].pc = RAM_BASE
    runner = RoundRobinRunner(cpus)
    for _ in range(200):
        runner(400)
        if off:
            break
    assert off, f"no SYSTEM_OFF; pcs {[hex(c.pc) for c in cpus]}"
    res_at = image.index(b"\0" * 64, len(image) - 64)
    words = [int.from_bytes(board.ram[res_at + 8 * i:res_at + 8 * i + 8], "little") for i in range(5)]
    assert words == [0x10001, 0, 0, 0, 0x80000001 + 0x77]


def test_eret_to_a_faulting_address_keeps_the_user_stack_pointer() -> None:
    """ERET switches the SP bank, then the first fetch at EL0 faults: the block that ran ERET
    must not write its stale EL1 stack pointer over SP_EL0 (Linux's first /init instruction)."""
    board, _, cpu = load(r"""
    .global _start
_start:
    ldr x0, =vectors
    msr vbar_el1, x0
    ldr x0, =0x40080000
    mov sp, x0
    ldr x0, =0x1234000
    msr sp_el0, x0
    ldr x0, =0x7f000000              // no memory there: the instruction fetch at EL0 aborts
    msr elr_el1, x0
    msr spsr_el1, xzr
    sub sp, sp, #32                  // this block writes SP_EL1 ...
    add sp, sp, #16
    eret                             // ... and ends with ERET
    .ltorg
    .balign 0x800
vectors:
    .skip 0x400                      // lower EL, synchronous
    mrs x1, sp_el0
    mrs x2, esr_el1
    ldr x9, =0x09000100
    str x1, [x9]
1:  b 1b
    .ltorg
""")
    run_until_exit(cpu, board, 20, 20)
    assert board.exit_value == 0x1234000
    assert cpu.regs[2] >> 26 == 0x20  # instruction abort from a lower EL
    assert cpu.sp_el[1] == 0x40080000 - 16


def force_native(cpu: cpu_sys.ARMSysCPU):
    """Run every block of ``cpu`` on the native tier (the forced test mode); its tier."""
    pytest.importorskip("llvmlite")
    from pyqemu.accel.tcg.native_sys import SysNativeTier
    from pyqemu.target.arm import native_helpers  # noqa: F401 - registers them
    from pyqemu.target.arm.cpu import NREGS
    native = cpu.tbs.native = SysNativeTier(cpu.tbs, NREGS, force=True)
    native.attach(cpu)
    return native


DAIF_PROGRAM = r"""
    .global _start
_start:
    ldr x0, =vectors
    msr vbar_el1, x0
    ldr x25, =log
    mrs x1, daif                    // 0x3c0 at reset
    str x1, [x25], #8
    msr daifclr, #1                 // unmask FIQ: no FIQ line is up
    mrs x1, daif
    str x1, [x25], #8
    mov x2, #0x180                  // MSR DAIF: unmask D and F, keep A and I masked
    msr daif, x2
    mov x3, #1
    mrs x1, daif
    str x1, [x25], #8
    msr daifclr, #2                 // unmask I: the pending IRQ is taken right here
    mov x3, #2
    b .
    .balign 2048
vectors:
    .skip 0x280
    mrs x1, elr_el1                 // current EL, SPx, IRQ
    str x1, [x25], #8
    str x3, [x25], #8
    mrs x1, daif
    str x1, [x25], #8
    ldr x9, =0x09000100
    str x9, [x9]
    b .
    .ltorg
    .balign 8
log:
    .fill 8, 8, 0
"""


@pytest.mark.parametrize("tier", ["python", "native"])
def test_daif_in_translated_code_takes_an_unmasked_interrupt_at_once(tier: str) -> None:
    """MRS/MSR DAIF and MSR DAIFSet/DAIFClr run in translated code (natively too); a write
    that unmasks a pending interrupt takes it before the next instruction."""
    board, image, cpu = load(DAIF_PROGRAM)
    if tier == "native":
        native = force_native(cpu)
    cpu.set_irq_line(cpu_sys.IRQ_LINE, True)
    run_until_exit(cpu, board)
    log_at = image.index(b"\0" * 64, len(image) - 64)
    words = [int.from_bytes(board.ram[log_at + 8 * i:log_at + 8 * i + 8], "little") for i in range(6)]
    msr_daifclr = RAM_BASE + image.index(bytes.fromhex("ff4203d5"))  # msr daifclr, #2
    assert words == [0x3C0, 0x380, 0x180, msr_daifclr + 4, 1, 0x3C0]
    if tier == "native":
        assert native.regions > 0


VECTOR_PROGRAM = r"""
    .global _start
_start:
    mrs x0, cpacr_el1               // FP/SIMD on
    orr x0, x0, #(3 << 20)
    msr cpacr_el1, x0
    isb
    ldr x0, =data
    mov x5, #100
    movi v1.4s, #0
1:  ldr q0, [x0]                    // a region that uses vector registers, entered by chaining
    add v1.4s, v1.4s, v0.4s
    subs x5, x5, #1
    b.ne 2f
    b 3f
2:  add x6, x6, #1                  // a region without them in between
    b 1b
3:  str q1, [x0, #16]
    ldr x9, =0x09000100
    str x9, [x9]
    b .
    .ltorg
    .balign 16
data:
    .word 1, 2, 3, 4
    .fill 4, 4, 0
"""


def test_native_regions_copy_vector_registers_only_when_they_use_them() -> None:
    """System mode copies the vector registers into the native state block only for regions
    that use them: a region that does, reached by a chained jump from one that does not,
    gets them through its own entry, and its results reach the register file and memory."""
    from pyqemu.target.arm.cpu import REG_V0
    board, image, cpu = load(VECTOR_PROGRAM)
    native = force_native(cpu)
    run_until_exit(cpu, board, slices=400)
    data = sum(n << (32 * i) for i, n in enumerate((1, 2, 3, 4)))
    total = 100 * data  # (no lane overflows)
    assert cpu.regs[REG_V0 + 1] == total and cpu.regs[REG_V0] == data
    data_at = image.index(bytes.fromhex("01000000020000000300000004000000"))
    assert int.from_bytes(board.ram[data_at + 16:data_at + 32], "little") == total
    assert cpu.regs[6] == 99 and native.regions >= 3
