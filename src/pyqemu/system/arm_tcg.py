"""AArch64 vCPUs under TCG for ARM boards: the glue between target/arm and hw/arm.

``install()`` registers the CPU factory the ``virt`` board calls; each
machine gets one :class:`MachineTCG` (its physical-memory view, its shared
block cache and its vCPUs). ``start()`` hands the vCPUs to the main loop as a
round-robin runner. PSCI's machine-level actions (SYSTEM_OFF, SYSTEM_RESET)
become run-state requests, as QEMU's ``qemu_system_shutdown_request``.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from pyqemu.accel.tcg.cputlb import AddressSpacePhys
from pyqemu.accel.tcg.rr_runner import RoundRobinRunner
from pyqemu.hw.core.irq import IRQ
from pyqemu.qom.object import QOMError
from pyqemu.system import runstate as rs_mod
from pyqemu.target.arm import cpu_models, psci
from pyqemu.target.arm.cpu_sys import FIQ_LINE, IRQ_LINE, ARMSysCPU, make_tb_cache

SUPPORTED_MODELS = ("cortex-a57", "cortex-a53", "max")


class MachineTCG:
    """The TCG state of one machine, shared by its vCPUs."""

    def __init__(self, machine: Any) -> None:
        self.machine = machine
        self.phys = AddressSpacePhys(machine.address_space_memory)
        # PYQEMU_COUNT_INSNS=1 (benchmarks): blocks count executed instructions in cpu.icount.
        # The virtual clock stays on the host clock; only -icount would tie it to the count.
        self.count_insns = bool(os.environ.get("PYQEMU_COUNT_INSNS"))
        self.tbs = make_tb_cache(self.phys, self.count_insns)
        self.tbs.native = _native_tier(self.tbs)
        self.cpus: list[BoardCPU] = []
        self.phys.on_map_change.append(self.flush_tlbs)

    def flush_tlbs(self) -> None:
        for cpu in self.cpus:
            cpu.tlb.flush()

    # PSCI host
    def system_off(self) -> None:
        rs_mod.current().shutdown_request(rs_mod.ShutdownCause.GUEST_SHUTDOWN)

    def system_reset(self) -> None:
        rs_mod.current().reset_request(rs_mod.ShutdownCause.GUEST_RESET)

    def cpus_list(self) -> list[Any]:
        return list(self.cpus)


class _PSCIHost:
    def __init__(self, ctx: MachineTCG) -> None:
        self.ctx = ctx

    def system_off(self) -> None:
        self.ctx.system_off()

    def system_reset(self) -> None:
        self.ctx.system_reset()

    def cpus(self) -> list[Any]:
        return self.ctx.cpus_list()


class BoardCPU(ARMSysCPU):
    """An ARMSysCPU with what a board needs (``hw/arm/virt.py``'s VirtCPU protocol) and what
    the monitor shows (query-cpus-fast, info registers, x)."""

    def __init__(self, ctx: MachineTCG, model: str, index: int, affinity: int, num_cpus: int,
                 gicv3: bool = False) -> None:
        host = _PSCIHost(ctx)
        super().__init__(ctx.phys, ctx.tbs, model=model, cpu_index=index, mpidr=0x80000000 | affinity,
                         num_cpus=num_cpus, psci=lambda cpu: psci.call(host, cpu), gicv3=gicv3)
        self.ctx = ctx
        self.mp_affinity = affinity
        self.model_name = model
        self._inputs = [IRQ(self._input, n) for n in range(4)]

    def irq_input(self, n: int) -> IRQ:
        return self._inputs[n]

    def _input(self, n: int, level: int) -> None:
        if n < 2:  # VIRQ/VFIQ need EL2
            self.set_irq_line(IRQ_LINE if n == 0 else FIQ_LINE, bool(level))

    def attach_generic_timer(self, timer: Any, index: int) -> None:
        self.sr.timer = timer.cpu_view(index)

    def attach_gicv3_cpuif(self, cpuif: Any) -> None:
        """The GICv3 CPU interface the ICC_* system registers talk to."""
        self.sr.gic = cpuif

    def boot_reset(self, pc: int, regs: Mapping[int, int], powered_off: bool) -> None:
        if self.cpu_index == 0:  # a system reset reloads the images into RAM behind the TLB
            self.tbs.flush()
        self.reset_state()
        for k, v in regs.items():
            self.regs[k] = v
        self.pc = pc
        self.powered_off = powered_off
        self.halted = powered_off

    # monitor
    def cpu_info_fast(self) -> dict[str, Any]:
        return {"thread-id": os.getpid(), "props": {"core-id": 0, "thread-id": 0, "socket-id": 0},
                "qom-path": f"/machine/unattached/device[{self.cpu_index}]", "cpu-index": self.cpu_index,
                "target": "aarch64"}

    def dump_registers(self) -> str:
        return self.dump_state(fpu=True)

    def debug_read_virtual(self, addr: int, length: int) -> bytes | None:
        """Guest-virtual bytes through the current translation regime, without faulting (``x``)."""
        from pyqemu.target.arm import mmu
        out = bytearray()
        regs = self.mmu_regs()
        while length > 0:
            res = mmu.translate(addr, mmu.Access(mmu.AccessType.READ, at=True), regs, self._read_desc)
            if isinstance(res, mmu.Fault):
                return None
            n = min(length, 4096 - (addr & 0xFFF))
            data = self.ctx.machine.physical_read(res.pa, n)
            if data is None:
                return None
            out += data
            addr += n
            length -= n
        return bytes(out)


def _factory(machine: Any, cpu_type: str, index: int, affinity: int) -> BoardCPU:
    if cpu_type not in SUPPORTED_MODELS:
        raise QOMError(f"mach-virt: CPU type {cpu_type}-arm-cpu not supported by pyqemu yet "
                       f"(AArch64 models: {', '.join(SUPPORTED_MODELS)})")
    cpu_models.get_model(cpu_type)
    ctx = getattr(machine, "tcg", None)
    if ctx is None:
        ctx = machine.tcg = MachineTCG(machine)
    num = int(machine.smp.get("cpus", 1))
    cpu = BoardCPU(ctx, cpu_type, index, affinity, num, gicv3=getattr(machine, "gic_version", 2) == 3)
    ctx.cpus.append(cpu)
    for c in ctx.cpus:
        c.peers = ctx.cpus
    return cpu


_JIT: str | None = None  # -accel tcg,jit=on|off (None: PYQEMU_JIT, else on when llvmlite is there)


def install(jit: str | None = None) -> None:
    """Let ARM boards create TCG vCPUs (``jit``: the native tier, ``on`` or ``off``)."""
    global _JIT
    from pyqemu.hw.arm import virt
    _JIT = jit
    virt.set_cpu_factory(_factory)


def _native_tier(tbs: Any) -> Any:
    """The native tier for a machine's block cache (accel/tcg/native_sys.py), or None."""
    from pyqemu.accel.tcg import native
    if _JIT == "off":
        return None
    try:
        mode = native.jit_mode(_JIT)
    except (ValueError, ImportError) as e:
        sys.stderr.write(f"pyqemu: {e}\n")
        return None
    if mode == "off":
        if _JIT == "on":
            sys.stderr.write("pyqemu: -accel tcg,jit=on: the native tier needs llvmlite "
                             "(pip install pyqemu[jit]); running on the Python tier\n")
        return None
    import pyqemu.target.arm.native_helpers  # noqa: F401 - registers them
    from pyqemu.accel.tcg.native_sys import SysNativeTier
    from pyqemu.target.arm.cpu import NREGS
    return SysNativeTier(tbs, NREGS, mode == "force")


def connect_serials(machine: Any, chardevs: list[Any]) -> None:
    """Give the board's UART its chardev (QEMU's serial_hd(0)), after the monitors took theirs."""
    board = getattr(machine, "board", None)
    uart = getattr(board, "devices", {}).get("uart") if board is not None else None
    if uart is not None and chardevs and chardevs[0] is not None and getattr(uart, "chr", None) is None:
        uart.connect_chardev(chardevs[0])


def save_code_cache(machine: Any) -> None:
    """At exit: keep the blocks compiled in this run for the next (accel/tcg/code_cache.py)."""
    ctx: MachineTCG | None = getattr(machine, "tcg", None)
    if ctx is not None:
        ctx.tbs.save_code_cache()


def report_counts(machine: Any) -> None:
    """With PYQEMU_COUNT_INSNS=1: ``insns: N`` (all vCPUs) and the translation cost on stderr."""
    ctx: MachineTCG | None = getattr(machine, "tcg", None)
    if ctx is None or not ctx.count_insns:
        return
    total = sum(cpu.icount for cpu in ctx.cpus)
    secs = getattr(ctx.tbs, "translate_seconds", 0.0)
    sys.stderr.write(f"insns: {total}\ntranslate: {secs:.3f} s, {ctx.tbs.count} blocks\n")
    nat = ctx.tbs.native
    if nat is not None:
        sys.stderr.write(f"native: {nat.regions} regions, compile {nat.compile_seconds:.3f} s, "
                         f"{nat.failed} failed, {nat.disk_hits} from disk, {nat.pic_regions} "
                         f"position-independent, {nat.remembered} remembered ({nat.warm_started} at once), "
                         f"{nat.demoted} demoted, {nat.native_fills} TLB fills and {nat.native_mmio} device "
                         f"accesses from native code, {nat.chain_fills} chains found from native code"
                         f"{nat.retired_note()}\n")
    sys.stderr.flush()


def start(machine: Any, loop: Any) -> RoundRobinRunner | None:
    """Run the machine's vCPUs from the main loop (QEMU's round-robin TCG thread)."""
    ctx: MachineTCG | None = getattr(machine, "tcg", None)
    if ctx is None or not ctx.cpus:
        return None
    board = getattr(machine, "board", None)

    def switch(cpu: Any) -> None:  # the GIC banks its per-CPU registers on the running vCPU
        board.current_cpu = cpu.cpu_index

    # -icount: blocks count their instructions (translated from now on, nothing ran yet) and
    # the runner hands the count to the virtual clock.
    icount = getattr(getattr(loop, "clocks", None), "icount_shift", None) is not None
    if icount:
        ctx.tbs.count_insns = True
        ctx.tbs.native = None  # slices end at exact instruction counts: the Python tier's job
    runner = RoundRobinRunner(ctx.cpus, icount_account=loop.icount_account if icount else None,
                              on_switch=switch if board is not None else None)
    for cpu in ctx.cpus:
        cpu.on_wakeup = loop.kick
    loop.set_vcpu_runner(runner)
    return runner
