"""The ARM architectural generic timer, as a device the CPU's CNT* system registers call
(QEMU keeps it inside the CPU: ``target/arm/helper.c`` gt_*; here it is device-side so that
``hw/`` never imports ``target/``).

Interface:
  Counter  CNTPCT = virtual clock (ns) / 16: a 62.5 MHz count (QEMU 7.2's GTIMER_SCALE), so
           CNTFRQ_EL0 reads ``FREQUENCY_HZ``. The clock stops while the VM is stopped.
  Timers   per CPU, ``PHYS`` (EL1 physical, CNTP_*), ``VIRT`` (CNTV_*, counts CNTVCT =
           CNTPCT - CNTVOFF), ``HYP`` (CNTHP_*) and ``SEC`` (CNTPS_*), each with CTL
           (ENABLE bit 0, IMASK bit 1, ISTATUS bit 2 read-only), CVAL (64-bit compare value)
           and TVAL (signed 32-bit view: CVAL - count).
  IRQs     gpio-out ``timer`` lines: ``4 * cpu + idx`` for idx PHYS=0, VIRT=1, HYP=2, SEC=3, as
           QEMU's gt_timer_outputs; ``virt`` wires them to PPIs 30, 27, 26 and 29. A line is high
           while the timer is enabled, its condition (count >= CVAL) holds and IMASK is clear.
  Props    ``num-cpu``; realize with ``qdev_realize()`` (no bus); the board resets it with the CPUs.

The CPU side (target/arm's CNT* cpregs) calls, with ``cpu`` its index:
  ``cntpct()`` / ``cntvct(cpu)``                           CNTPCT_EL0 / CNTVCT_EL0
  ``read_ctl(cpu, idx)`` / ``write_ctl(cpu, idx, v)``       CNTx_CTL_EL0
  ``read_cval(cpu, idx)`` / ``write_cval(cpu, idx, v)``     CNTx_CVAL_EL0
  ``read_tval(cpu, idx)`` / ``write_tval(cpu, idx, v)``     CNTx_TVAL_EL0
  ``read_cntvoff(cpu)`` / ``write_cntvoff(cpu, v)``         CNTVOFF_EL2
  ``next_deadline_ns()``  the nearest virtual-clock expiry (for a WFI sleep), or -1
``cpu_view(cpu)`` gives the same per CPU by register name, ``read(reg)`` / ``write(reg, v)``
with ``reg`` one of CNTPCT, CNTVCT, CNTVOFF, CNT{P,V,HP,PS}_{CTL,CVAL,TVAL} (the shape
target/arm's ``SysRegFile(timer=...)`` takes, docs/aarch64-system.md).
Expiries are main-loop timers on the VIRTUAL clock, so they fire between vCPU slices, as
QEMU's QEMUTimers do, and with -icount they follow the instruction count.
"""
from __future__ import annotations

from pyqemu.migration.vmstate import Field, StateDescription
from pyqemu.qom.device import Device, Prop
from pyqemu.qom.object import QOMError
from pyqemu.system import main_loop as main_loop_mod
from pyqemu.system.main_loop import ClockType, MainLoop, Timer

GTIMER_SCALE = 16                       # ns per counter tick
FREQUENCY_HZ = 1_000_000_000 // GTIMER_SCALE   # 62.5 MHz
PHYS, VIRT, HYP, SEC = 0, 1, 2, 3
NUM_TIMERS = 4
TIMER_NAMES = ("phys", "virt", "hyp", "sec")
CTL_ENABLE, CTL_IMASK, CTL_ISTATUS = 1, 2, 4
MAX_CPUS = 8
U64 = (1 << 64) - 1
INT64_MAX = (1 << 63) - 1

VMSTATE = StateDescription("arm-generic-timer", 1, (
    Field("ctl", "uint32", MAX_CPUS * NUM_TIMERS),
    Field("cval", "uint64", MAX_CPUS * NUM_TIMERS),
    Field("cntvoff", "uint64", MAX_CPUS),
))


class ARMGenericTimer(Device):
    """The per-CPU generic timers of a machine; see the module docstring. Not on a bus (QEMU
    keeps the timers inside the CPUs, so ``info qtree`` does not list them)."""

    TYPE = "arm-generic-timer"
    USER_CREATABLE = False
    num_cpu = Prop("uint32", 1, name="num-cpu")

    def __init__(self, loop: MainLoop | None = None) -> None:
        super().__init__()
        self._loop = loop
        self.ctl = [0] * (MAX_CPUS * NUM_TIMERS)
        self.cval = [0] * (MAX_CPUS * NUM_TIMERS)
        self.cntvoff = [0] * MAX_CPUS
        self._timers: list[Timer] = []

    def realize(self) -> None:
        if not 1 <= self.num_cpu <= MAX_CPUS:
            raise QOMError(f"arm-generic-timer: num-cpu must be 1..{MAX_CPUS}")
        loop = self._loop or main_loop_mod.get()
        self._loop = loop
        self.outputs = self.init_gpio_out(NUM_TIMERS * self.num_cpu, "timer")
        self._timers = [loop.new_timer(ClockType.VIRTUAL, lambda k=k: self._expired(k))
                        for k in range(NUM_TIMERS * self.num_cpu)]

    def reset(self) -> None:
        for k in range(len(self.ctl)):
            self.ctl[k] = 0
            self.cval[k] = 0
        for c in range(MAX_CPUS):
            self.cntvoff[c] = 0
        for t in self._timers:
            t.del_()
        for line in getattr(self, "outputs", ()):
            line.set(0)

    # -- the counter ----------------------------------------------------------------------------
    def cntpct(self) -> int:
        assert self._loop is not None
        return (self._loop.clock_get_ns(ClockType.VIRTUAL) // GTIMER_SCALE) & U64

    def cntvct(self, cpu: int) -> int:
        return (self.cntpct() - self.cntvoff[cpu]) & U64

    def _offset(self, cpu: int, idx: int) -> int:
        return self.cntvoff[cpu] if idx == VIRT else 0

    # -- the outputs ----------------------------------------------------------------------------
    def update(self, cpu: int, idx: int) -> None:
        """QEMU gt_recalc_timer: ISTATUS, the IRQ line, and the next expiry of one timer."""
        k = cpu * NUM_TIMERS + idx
        ctl = self.ctl[k]
        timer = self._timers[k]
        if not ctl & CTL_ENABLE:
            self.ctl[k] = ctl & ~CTL_ISTATUS
            self.outputs[k].set(0)
            timer.del_()
            return
        offset = self._offset(cpu, idx)
        istatus = ((self.cntpct() - offset) & U64) >= self.cval[k]
        ctl = (ctl & ~CTL_ISTATUS) | (CTL_ISTATUS if istatus else 0)
        self.ctl[k] = ctl
        self.outputs[k].set(1 if istatus and not ctl & CTL_IMASK else 0)
        # The condition next changes when the count reaches CVAL (or wraps: never, in practice).
        nexttick = U64 if istatus else (self.cval[k] + offset) & U64
        if nexttick > INT64_MAX // GTIMER_SCALE:
            timer.mod_ns(INT64_MAX)
        else:
            timer.mod_ns(nexttick * GTIMER_SCALE)

    def _expired(self, k: int) -> None:
        self.update(k // NUM_TIMERS, k % NUM_TIMERS)

    # -- the CPU's CNT* registers ---------------------------------------------------------------------
    def read_ctl(self, cpu: int, idx: int) -> int:
        return self.ctl[cpu * NUM_TIMERS + idx]

    def write_ctl(self, cpu: int, idx: int, value: int) -> None:
        k = cpu * NUM_TIMERS + idx
        old = self.ctl[k]
        new = (old & ~(CTL_ENABLE | CTL_IMASK)) | (value & (CTL_ENABLE | CTL_IMASK))
        self.ctl[k] = new
        if (old ^ new) & CTL_ENABLE:
            self.update(cpu, idx)
        elif (old ^ new) & CTL_IMASK:
            self.outputs[k].set(1 if new & CTL_ISTATUS and not new & CTL_IMASK else 0)

    def read_cval(self, cpu: int, idx: int) -> int:
        return self.cval[cpu * NUM_TIMERS + idx]

    def write_cval(self, cpu: int, idx: int, value: int) -> None:
        self.cval[cpu * NUM_TIMERS + idx] = value & U64
        self.update(cpu, idx)

    def read_tval(self, cpu: int, idx: int) -> int:
        count = (self.cntpct() - self._offset(cpu, idx)) & U64
        return (self.cval[cpu * NUM_TIMERS + idx] - count) & 0xFFFFFFFF

    def write_tval(self, cpu: int, idx: int, value: int) -> None:
        tval = value & 0xFFFFFFFF
        if tval & 0x80000000:
            tval -= 1 << 32
        count = (self.cntpct() - self._offset(cpu, idx)) & U64
        self.cval[cpu * NUM_TIMERS + idx] = (count + tval) & U64
        self.update(cpu, idx)

    def read_cntvoff(self, cpu: int) -> int:
        return self.cntvoff[cpu]

    def write_cntvoff(self, cpu: int, value: int) -> None:
        self.cntvoff[cpu] = value & U64
        self.update(cpu, VIRT)

    def next_deadline_ns(self) -> int:
        """The earliest pending expiry on the virtual clock, in ns; -1 when none is armed."""
        pending = [t.expire_ns for t in self._timers if t.pending()]
        return min(pending) if pending else -1

    def cpu_view(self, cpu: int) -> GenericTimerCPUView:
        """CPU ``cpu``'s timers, addressed by register name."""
        return GenericTimerCPUView(self, cpu)

    # -- snapshots ------------------------------------------------------------------------------------
    def vmstate_save(self) -> dict:
        return VMSTATE.save(self)

    def vmstate_load(self, state: dict) -> None:
        VMSTATE.load(self, state)
        for cpu in range(self.num_cpu):
            for idx in range(NUM_TIMERS):
                self.update(cpu, idx)


_TIMER_OF = {"P": PHYS, "V": VIRT, "HP": HYP, "PS": SEC}


class GenericTimerCPUView:
    """One CPU's CNT* registers by name: ``read("CNTV_CTL")``, ``write("CNTV_TVAL", v)``."""

    __slots__ = ("timer", "cpu")

    def __init__(self, timer: ARMGenericTimer, cpu: int) -> None:
        self.timer = timer
        self.cpu = cpu

    def _split(self, reg: str) -> tuple[int, str]:
        which, _, field = reg.removeprefix("CNT").partition("_")
        if which not in _TIMER_OF or field not in ("CTL", "CVAL", "TVAL"):
            raise KeyError(reg)
        return _TIMER_OF[which], field

    def read(self, reg: str) -> int:
        t, cpu = self.timer, self.cpu
        if reg == "CNTPCT":
            return t.cntpct()
        if reg == "CNTVCT":
            return t.cntvct(cpu)
        if reg == "CNTVOFF":
            return t.read_cntvoff(cpu)
        idx, field = self._split(reg)
        if field == "CTL":
            return t.read_ctl(cpu, idx)
        if field == "CVAL":
            return t.read_cval(cpu, idx)
        return t.read_tval(cpu, idx)

    def write(self, reg: str, value: int) -> None:
        t, cpu = self.timer, self.cpu
        if reg == "CNTVOFF":
            t.write_cntvoff(cpu, value)
            return
        idx, field = self._split(reg)
        if field == "CTL":
            t.write_ctl(cpu, idx, value)
        elif field == "CVAL":
            t.write_cval(cpu, idx, value)
        else:
            t.write_tval(cpu, idx, value)
