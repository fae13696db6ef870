"""ARM Generic Interrupt Controller v2: distributor and CPU interfaces (QEMU ``hw/intc/arm_gic.c``,
type ``arm_gic``).

Interface:
  MMIO   0: the distributor, 4 KiB (GICD_*); 1: the CPU interface, 8 KiB (GICC_*, GICC_DIR at
         0x1000), banked on the accessing CPU; 2..: one 0x100 view per CPU of its interface.
         All take 8/16/32-bit accesses; the distributor is decoded byte by byte as QEMU does,
         the CPU interface by exact offset (a byte read returns the low byte).
  Inputs gpio-in lines ``0 .. num_irq-33`` are SPIs (INTID 32..); then 32 lines per CPU for its
         private interrupts (line ``num_irq - 32 + 32 * cpu + n`` is INTID n of that CPU; lines
         for SGIs 0-15 are ignored, SGIs come from GICD_SGIR).
  IRQs   ``4 * num_cpu`` sysbus outputs as QEMU: IRQ of each CPU, then FIQ, then virtual IRQ and
         virtual FIQ (these two stay low: no virtualization extensions).
  Props  ``num-cpu`` (1..8), ``num-irq`` (32..1020, multiple of 32; default 288 as ``virt``),
         ``revision`` (2), ``has-security-extensions`` and ``has-virtualization-extensions``
         (both off; on is refused), ``num-priority-bits`` (8).
  CPU    the accessing CPU is ``current_cpu()``: the board points it at its vCPU scheduler, so
         banked registers (SGIs/PPIs, GICC_*) answer for the CPU that runs.
  Spec   ARM IHI 0048B (GICv2), behaviour of QEMU 7.2 without security extensions: interrupt
         groups exist (GICD_IGROUPR), group 0 signals FIQ only with GICC_CTLR.FIQEn, priorities
         have 8 bits, GICD_ITARGETSR is RAZ/WI on a uniprocessor GIC, level-triggered interrupts
         are pending while their line is high.
"""
from __future__ import annotations

from collections.abc import Callable

from pyqemu.hw.core.irq import IRQOut
from pyqemu.hw.core.register import Reg, RegisterTable
from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps
from pyqemu.migration.vmstate import Field, StateDescription
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError
from pyqemu.util import log

GIC_NCPU = 8            # state arrays are sized for the architectural maximum, as QEMU's
GIC_MAXIRQ = 1020
GIC_INTERNAL = 32
GIC_NR_SGIS = 16
GIC_NR_APRS = 4
ALL_CPU_MASK = (1 << GIC_NCPU) - 1
SPURIOUS = 1023

GICD_CTLR_EN_GRP0, GICD_CTLR_EN_GRP1 = 1, 2
GICC_CTLR_EN_GRP0, GICC_CTLR_EN_GRP1, GICC_CTLR_ACK_CTL = 1 << 0, 1 << 1, 1 << 2
GICC_CTLR_FIQ_EN, GICC_CTLR_CBPR, GICC_CTLR_EOIMODE = 1 << 3, 1 << 4, 1 << 9
# GICC_CTLR bits a GICv2 without security extensions lets software write (measured on QEMU 7.2)
GICC_CTLR_MASK = (GICC_CTLR_EN_GRP0 | GICC_CTLR_EN_GRP1 | GICC_CTLR_ACK_CTL | GICC_CTLR_FIQ_EN
                  | GICC_CTLR_CBPR | GICC_CTLR_EOIMODE)
GIC_MIN_BPR, GIC_MIN_ABPR = 0, 1
DIST_IIDR = 0x43B                    # implementer ARM
CPU_IIDR = (2 << 16) | 0x43B         # architecture version 2, implementer ARM
GIC_ID_V2 = (0x04, 0x00, 0x00, 0x00, 0x90, 0xB4, 0x2B, 0x00, 0x0D, 0xF0, 0x05, 0xB1)  # 0xfd0..0xffc

DIST_SIZE = 0x1000
CPU_SIZE = 0x2000

DIST_REGS = RegisterTable("gic_dist", (
    Reg("GICD_CTLR", 0x000),
    Reg("GICD_TYPER", 0x004, access="ro"),
    Reg("GICD_IIDR", 0x008, DIST_IIDR, access="ro"),
    Reg("GICD_IGROUPR", 0x080, span=0x80),
    Reg("GICD_ISENABLER", 0x100, span=0x80),
    Reg("GICD_ICENABLER", 0x180, span=0x80),
    Reg("GICD_ISPENDR", 0x200, span=0x80),
    Reg("GICD_ICPENDR", 0x280, span=0x80),
    Reg("GICD_ISACTIVER", 0x300, span=0x80),
    Reg("GICD_ICACTIVER", 0x380, span=0x80),
    Reg("GICD_IPRIORITYR", 0x400, span=0x400),
    Reg("GICD_ITARGETSR", 0x800, span=0x400),
    Reg("GICD_ICFGR", 0xC00, span=0x100),
    Reg("GICD_SGIR", 0xF00, access="wo"),
    Reg("GICD_CPENDSGIR", 0xF10, span=0x10),
    Reg("GICD_SPENDSGIR", 0xF20, span=0x10),
    Reg("GICD_PIDR4-7,PIDR0-3,CIDR0-3", 0xFD0, access="ro", span=0x30),
))

CPU_REGS = RegisterTable("gic_cpu", (
    Reg("GICC_CTLR", 0x00),
    Reg("GICC_PMR", 0x04),
    Reg("GICC_BPR", 0x08),
    Reg("GICC_IAR", 0x0C, SPURIOUS, access="ro"),
    Reg("GICC_EOIR", 0x10, access="wo"),
    Reg("GICC_RPR", 0x14, 0xFF, access="ro"),
    Reg("GICC_HPPIR", 0x18, SPURIOUS, access="ro"),
    Reg("GICC_ABPR", 0x1C, GIC_MIN_ABPR),
    Reg("GICC_AIAR", 0x20, access="ro", unimp=True),
    Reg("GICC_AEOIR", 0x24, access="wo", unimp=True),
    Reg("GICC_AHPPIR", 0x28, access="ro", unimp=True),
    *(Reg(f"GICC_APR{n}", 0xD0 + 4 * n) for n in range(4)),
    *(Reg(f"GICC_NSAPR{n}", 0xE0 + 4 * n) for n in range(4)),
    Reg("GICC_IIDR", 0xFC, CPU_IIDR, access="ro"),
    Reg("GICC_DIR", 0x1000, access="wo"),
))

VMSTATE = StateDescription("arm_gic", 12, (
    Field("ctlr", "uint32"),
    Field("cpu_ctlr", "uint32", GIC_NCPU),
    Field("enabled", "uint8", GIC_MAXIRQ), Field("pending", "uint8", GIC_MAXIRQ),
    Field("active", "uint8", GIC_MAXIRQ), Field("level", "uint8", GIC_MAXIRQ),
    Field("model", "uint8", GIC_MAXIRQ), Field("edge_trigger", "uint8", GIC_MAXIRQ),
    Field("group", "uint8", GIC_MAXIRQ),
    Field("irq_target", "uint8", GIC_MAXIRQ),
    Field("priority1", "uint8", GIC_INTERNAL * GIC_NCPU),     # [irq * GIC_NCPU + cpu]
    Field("priority2", "uint8", GIC_MAXIRQ - GIC_INTERNAL),
    Field("sgi_pending", "uint8", GIC_NR_SGIS * GIC_NCPU),    # [sgi * GIC_NCPU + cpu]
    Field("priority_mask", "uint16", GIC_NCPU),
    Field("running_priority", "uint16", GIC_NCPU),
    Field("current_pending", "uint16", GIC_NCPU),
    Field("bpr", "uint8", GIC_NCPU), Field("abpr", "uint8", GIC_NCPU),
    Field("apr", "uint32", GIC_NR_APRS * GIC_NCPU),           # [n * GIC_NCPU + cpu]
    Field("nsapr", "uint32", GIC_NR_APRS * GIC_NCPU),
), minimum_version=12)


def _ctz(x: int) -> int:
    return (x & -x).bit_length() - 1


class ARMGIC(SysBusDevice):
    """The GICv2; see the module docstring."""

    TYPE = "arm_gic"
    DESC = "ARM Generic Interrupt Controller"
    num_cpu = Prop("uint32", 1, name="num-cpu")
    num_irq = Prop("uint32", 32, name="num-irq")
    revision = Prop("uint32", 1)
    has_security_extensions = Prop("bool", False, name="has-security-extensions")
    has_virtualization_extensions = Prop("bool", False, name="has-virtualization-extensions")
    num_priority_bits = Prop("uint32", 8, name="num-priority-bits")

    def __init__(self) -> None:
        super().__init__()
        self.current_cpu: Callable[[], int] = lambda: 0
        self.dist_mr = MemoryRegion.mmio_region("gic_dist", DIST_SIZE, MemoryRegionOps(
            self.dist_read, self.dist_write, AccessConstraints(1, 4), AccessConstraints(1, 4)),
            owner=self)
        self.cpu_mr = MemoryRegion.mmio_region("gic_cpu", CPU_SIZE, MemoryRegionOps(
            self.cpu_read, self.cpu_write, AccessConstraints(1, 4), AccessConstraints(1, 4)),
            owner=self)
        self._clear_state()

    # -- lifecycle --------------------------------------------------------------------------------
    def realize(self) -> None:
        n = self.num_irq
        if not 1 <= self.num_cpu <= GIC_NCPU:
            raise QOMError(f"requested {self.num_cpu} CPUs exceeds GIC maximum {GIC_NCPU}")
        if n > GIC_MAXIRQ or n < GIC_INTERNAL or n % 32:
            raise QOMError(f"requested {n} interrupt lines exceeds GIC maximum {GIC_MAXIRQ}"
                           if n > GIC_MAXIRQ else
                           f"{n} interrupt lines unsupported: not divisible by 32")
        if self.revision != 2:
            raise QOMError(f"unsupported GIC revision {self.revision}")
        if self.has_security_extensions or self.has_virtualization_extensions:
            raise QOMError("GIC security/virtualization extensions are not supported")
        if self.num_priority_bits != 8:
            raise QOMError("num-priority-bits other than 8 is not supported")
        self.init_gpio_in(self.set_irq, n - GIC_INTERNAL + GIC_INTERNAL * self.num_cpu)
        outs = [self.init_irq() for _ in range(4 * self.num_cpu)]
        nc = self.num_cpu
        self.irq_lines: list[IRQOut] = outs[:nc]
        self.fiq_lines: list[IRQOut] = outs[nc:2 * nc]
        self.init_mmio(self.dist_mr)
        self.init_mmio(self.cpu_mr)
        # per-CPU views of the CPU interfaces (QEMU's "franken-GIC" regions; virt leaves them unmapped)
        for cpu in range(self.num_cpu):
            self.init_mmio(MemoryRegion.mmio_region("gic_cpu", 0x100, MemoryRegionOps(
                lambda off, size, cpu=cpu: self.cpu_read(off, size, cpu),
                lambda off, val, size, cpu=cpu: self.cpu_write(off, val, size, cpu),
                AccessConstraints(1, 4), AccessConstraints(1, 4)), owner=self))

    def _clear_state(self) -> None:
        self.ctlr = 0
        self.cpu_ctlr = [0] * GIC_NCPU
        self.enabled = [0] * GIC_MAXIRQ
        self.pending = [0] * GIC_MAXIRQ
        self.active = [0] * GIC_MAXIRQ
        self.level = [0] * GIC_MAXIRQ
        self.model = [0] * GIC_MAXIRQ
        self.edge_trigger = [0] * GIC_MAXIRQ
        self.group = [0] * GIC_MAXIRQ
        self.irq_target = [0] * GIC_MAXIRQ
        self.priority1 = [0] * (GIC_INTERNAL * GIC_NCPU)
        self.priority2 = [0] * (GIC_MAXIRQ - GIC_INTERNAL)
        self.sgi_pending = [0] * (GIC_NR_SGIS * GIC_NCPU)
        self.priority_mask = [0] * GIC_NCPU
        self.running_priority = [0x100] * GIC_NCPU
        self.current_pending = [SPURIOUS] * GIC_NCPU
        self.bpr = [GIC_MIN_BPR] * GIC_NCPU
        self.abpr = [GIC_MIN_ABPR] * GIC_NCPU
        self.apr = [0] * (GIC_NR_APRS * GIC_NCPU)
        self.nsapr = [0] * (GIC_NR_APRS * GIC_NCPU)
        self._hot: set[int] = set()   # IRQs with a pending bit or a raised line: update() scans these

    def reset(self) -> None:
        self._clear_state()
        for i in range(GIC_NR_SGIS):
            self.enabled[i] = ALL_CPU_MASK
            self.edge_trigger[i] = 1
        if self.num_cpu == 1:   # a uniprocessor GIC sends everything to its only CPU
            for i in range(GIC_MAXIRQ):
                self.irq_target[i] = 1
        if self.realized:
            self.update()

    # -- helpers ----------------------------------------------------------------------------------
    def get_priority(self, irq: int, cpu: int) -> int:
        return self.priority1[irq * GIC_NCPU + cpu] if irq < GIC_INTERNAL else \
            self.priority2[irq - GIC_INTERNAL]

    def _set_pending(self, irq: int, mask: int) -> None:
        self.pending[irq] |= mask
        self._hot.add(irq)

    def _test_pending(self, irq: int, cm: int) -> bool:
        # a level-triggered interrupt is pending while its line is high (GICv2)
        return bool(self.pending[irq] & cm) or (not self.edge_trigger[irq] and bool(self.level[irq] & cm))

    # -- the outputs --------------------------------------------------------------------------------
    def update(self) -> None:
        """Pick each CPU's highest-priority pending interrupt and drive its IRQ/FIQ lines."""
        hot = self._hot
        cand = []
        for irq in sorted(hot):
            if self.pending[irq] or self.level[irq]:
                cand.append(irq)
            else:
                hot.discard(irq)
        for cpu in range(self.num_cpu):
            cm = 1 << cpu
            self.current_pending[cpu] = SPURIOUS
            cpu_ctlr = self.cpu_ctlr[cpu]
            if not (self.ctlr & 3) or not (cpu_ctlr & 3):
                self._drive(cpu, 0, 0)
                continue
            best_prio, best_irq = 0x100, SPURIOUS
            for irq in cand:
                if (self.enabled[irq] & cm and self._test_pending(irq, cm) and not self.active[irq] & cm
                        and (irq < GIC_INTERNAL or self.irq_target[irq] & cm)):
                    prio = self.get_priority(irq, cpu)
                    if prio < best_prio:
                        best_prio, best_irq = prio, irq
            irq_level = fiq_level = 0
            if best_prio < self.priority_mask[cpu]:
                self.current_pending[cpu] = best_irq
                if best_prio < self.running_priority[cpu]:
                    group = 1 if self.group[best_irq] & cm else 0
                    if (self.ctlr >> group) & 1 and (cpu_ctlr >> group) & 1:
                        if group == 0 and cpu_ctlr & GICC_CTLR_FIQ_EN:
                            fiq_level = 1
                        else:
                            irq_level = 1
            self._drive(cpu, irq_level, fiq_level)

    def _drive(self, cpu: int, irq_level: int, fiq_level: int) -> None:
        line = self.irq_lines[cpu]
        if line.level != irq_level:
            line.set(irq_level)
        line = self.fiq_lines[cpu]
        if line.level != fiq_level:
            line.set(fiq_level)

    # -- input lines ---------------------------------------------------------------------------------
    def set_irq(self, n: int, level: int) -> None:
        """gpio-in handler: an SPI line, or a CPU's private line (see the module docstring)."""
        level = 1 if level else 0
        nspi = self.num_irq - GIC_INTERNAL
        if n < nspi:
            irq, cm = n + GIC_INTERNAL, ALL_CPU_MASK
            target = self.irq_target[irq]
        else:
            n -= nspi
            irq, cm = n % GIC_INTERNAL, 1 << (n // GIC_INTERNAL)
            target = cm
            if irq < GIC_NR_SGIS:
                return
        if level == (1 if self.level[irq] & cm else 0):
            return
        if level:
            self.level[irq] |= cm
            self._hot.add(irq)
            if self.edge_trigger[irq] or self.enabled[irq] & cm:
                self._set_pending(irq, target)
        else:
            self.level[irq] &= ~cm
        self.update()

    # -- distributor -----------------------------------------------------------------------------------
    def dist_read(self, offset: int, size: int) -> int:
        cpu = self.current_cpu()
        value = 0
        for i in range(size):
            value |= self._dist_readb(offset + i, cpu) << (8 * i)
        return value

    def dist_write(self, offset: int, value: int, size: int) -> None:
        cpu = self.current_cpu()
        if offset == 0xF00 and size == 4:
            self._write_sgir(value, cpu)
        else:
            for i in range(size):
                self._dist_writeb(offset + i, (value >> (8 * i)) & 0xFF, cpu)
        self.update()

    def _bad(self, what: str, offset: int) -> int:
        log.guest_error(f"{what}: Bad offset {offset:x} ({DIST_REGS.name(offset & ~3)})")
        return 0

    def _dist_readb(self, offset: int, cpu: int) -> int:
        cm = 1 << cpu
        num_irq = self.num_irq
        if offset < 0x100:
            if offset == 0:
                return self.ctlr
            if offset == 4:
                return (num_irq // 32 - 1) | ((self.num_cpu - 1) << 5)
            if offset < 8:
                return 0
            if offset < 0x0C:
                return (DIST_IIDR >> (8 * (offset - 8))) & 0xFF
            if offset < 0x80:
                return self._bad("gic_dist_readb", offset)
            irq = (offset - 0x80) * 8
            if irq >= num_irq:
                return self._bad("gic_dist_readb", offset)
            return self._bits(self.group, irq, cm)
        if offset < 0x200:      # set/clear enable
            irq = (offset - (0x100 if offset < 0x180 else 0x180)) * 8
            if irq >= num_irq:
                return self._bad("gic_dist_readb", offset)
            return self._bits(self.enabled, irq, cm)
        if offset < 0x300:      # set/clear pending
            irq = (offset - (0x200 if offset < 0x280 else 0x280)) * 8
            if irq >= num_irq:
                return self._bad("gic_dist_readb", offset)
            mask = cm if irq < GIC_INTERNAL else ALL_CPU_MASK
            return sum(1 << i for i in range(8) if self._test_pending(irq + i, mask))
        if offset < 0x400:      # set/clear active
            irq = (offset - (0x300 if offset < 0x380 else 0x380)) * 8
            if irq >= num_irq:
                return self._bad("gic_dist_readb", offset)
            return self._bits(self.active, irq, cm if irq < GIC_INTERNAL else ALL_CPU_MASK)
        if offset < 0x800:      # priority
            irq = offset - 0x400
            if irq >= num_irq:
                return self._bad("gic_dist_readb", offset)
            return self.get_priority(irq, cpu)
        if offset < 0xC00:      # CPU targets: RAZ/WI on a uniprocessor GIC
            if self.num_cpu == 1:
                return 0
            irq = offset - 0x800
            if irq >= num_irq:
                return self._bad("gic_dist_readb", offset)
            return cm if irq < GIC_INTERNAL else self.irq_target[irq]
        if offset < 0xF00:      # configuration
            irq = (offset - 0xC00) * 4
            if irq >= num_irq:
                return self._bad("gic_dist_readb", offset)
            return sum(2 << (2 * i) for i in range(4) if self.edge_trigger[irq + i])
        if offset < 0xF10:
            return self._bad("gic_dist_readb", offset)
        if offset < 0xF30:      # GICD_CPENDSGIR / GICD_SPENDSGIR
            sgi = offset - (0xF10 if offset < 0xF20 else 0xF20)
            return self.sgi_pending[sgi * GIC_NCPU + cpu]
        if offset < 0xFD0:
            return self._bad("gic_dist_readb", offset)
        return 0 if offset & 3 else GIC_ID_V2[(offset - 0xFD0) >> 2]

    @staticmethod
    def _bits(arr: list[int], irq: int, mask: int) -> int:
        return sum(1 << i for i in range(8) if arr[irq + i] & mask)

    def _dist_writeb(self, offset: int, value: int, cpu: int) -> None:
        cm = 1 << cpu
        num_irq = self.num_irq
        if offset < 0x100:
            if offset == 0:
                self.ctlr = value & (GICD_CTLR_EN_GRP0 | GICD_CTLR_EN_GRP1)
            elif offset < 4:
                pass
            elif offset >= 0x80:
                irq = (offset - 0x80) * 8
                if irq >= num_irq:
                    self._bad("gic_dist_writeb", offset)
                    return
                for i in range(8):
                    mask = cm if irq < GIC_INTERNAL else ALL_CPU_MASK
                    if value & (1 << i):
                        self.group[irq + i] |= mask
                    else:
                        self.group[irq + i] &= ~mask
            else:
                self._bad("gic_dist_writeb", offset)
        elif offset < 0x200:
            setting = offset < 0x180
            irq = (offset - (0x100 if setting else 0x180)) * 8
            if irq >= num_irq:
                self._bad("gic_dist_writeb", offset)
                return
            if irq < GIC_NR_SGIS:
                value = 0xFF if setting else 0   # SGIs are always enabled
            for i in range(8):
                if not value & (1 << i):
                    continue
                n = irq + i
                mask = cm if n < GIC_INTERNAL else ALL_CPU_MASK
                if setting:
                    self.enabled[n] |= mask
                    target = cm if n < GIC_INTERNAL else self.irq_target[n]
                    if self.level[n] & target and not self.edge_trigger[n]:
                        self._set_pending(n, target)
                else:
                    self.enabled[n] &= ~mask
        elif offset < 0x300:
            setting = offset < 0x280
            irq = (offset - (0x200 if setting else 0x280)) * 8
            if irq >= num_irq:
                self._bad("gic_dist_writeb", offset)
                return
            if irq < GIC_NR_SGIS:
                value = 0   # SGIs are made pending through GICD_SGIR/SPENDSGIR only
            for i in range(8):
                if value & (1 << i):
                    n = irq + i
                    if setting:
                        self._set_pending(n, cm if n < GIC_INTERNAL else self.irq_target[n])
                    else:
                        self.pending[n] = 0   # as QEMU: for every CPU, even for private IRQs
        elif offset < 0x400:
            setting = offset < 0x380
            irq = (offset - (0x300 if setting else 0x380)) * 8
            if irq >= num_irq:
                self._bad("gic_dist_writeb", offset)
                return
            for i in range(8):
                if value & (1 << i):
                    n = irq + i
                    mask = cm if n < GIC_INTERNAL else ALL_CPU_MASK
                    if setting:
                        self.active[n] |= mask
                    else:
                        self.active[n] &= ~mask
        elif offset < 0x800:
            irq = offset - 0x400
            if irq >= num_irq:
                self._bad("gic_dist_writeb", offset)
            elif irq < GIC_INTERNAL:
                self.priority1[irq * GIC_NCPU + cpu] = value
            else:
                self.priority2[irq - GIC_INTERNAL] = value
        elif offset < 0xC00:
            if self.num_cpu == 1:
                return
            irq = offset - 0x800
            if irq >= num_irq:
                self._bad("gic_dist_writeb", offset)
            elif irq >= GIC_INTERNAL:
                self.irq_target[irq] = value & ALL_CPU_MASK
        elif offset < 0xF00:
            irq = (offset - 0xC00) * 4
            if irq >= num_irq:
                self._bad("gic_dist_writeb", offset)
                return
            if irq < GIC_NR_SGIS:
                value |= 0xAA   # SGIs are edge-triggered
            for i in range(4):
                self.edge_trigger[irq + i] = 1 if value & (2 << (2 * i)) else 0
        elif offset < 0xF10:
            self._bad("gic_dist_writeb", offset)   # GICD_SGIR takes 32-bit writes only
        elif offset < 0xF20:
            sgi = offset - 0xF10
            k = sgi * GIC_NCPU + cpu
            self.sgi_pending[k] &= ~value
            if not self.sgi_pending[k]:
                self.pending[sgi] &= ~cm
        elif offset < 0xF30:
            sgi = offset - 0xF20
            self._set_pending(sgi, cm)
            self.sgi_pending[sgi * GIC_NCPU + cpu] |= value
        else:
            self._bad("gic_dist_writeb", offset)

    def _write_sgir(self, value: int, cpu: int) -> None:
        sgi = value & 0xF
        filt = (value >> 24) & 3
        if filt == 0:
            mask = (value >> 16) & ALL_CPU_MASK
        elif filt == 1:
            mask = ALL_CPU_MASK ^ (1 << cpu)
        elif filt == 2:
            mask = 1 << cpu
        else:
            log.guest_error("gic_dist_writel: Bad Soft Int target filter (GICD_SGIR)")
            mask = ALL_CPU_MASK
        self._set_pending(sgi, mask)
        while mask:
            target = _ctz(mask)
            self.sgi_pending[sgi * GIC_NCPU + target] |= 1 << cpu
            mask &= mask - 1

    # -- CPU interface -----------------------------------------------------------------------------------
    def cpu_read(self, offset: int, size: int, cpu: int | None = None) -> int:
        if cpu is None:
            cpu = self.current_cpu()
        if offset == 0x00:
            return self.cpu_ctlr[cpu]
        if offset == 0x04:
            return self.priority_mask[cpu]
        if offset == 0x08:
            return self.bpr[cpu]
        if offset == 0x0C:
            return self.acknowledge_irq(cpu)
        if offset == 0x14:
            rp = self.running_priority[cpu]
            return 0xFF if rp == 0x100 else rp
        if offset == 0x18:
            return self._current_pending_irq(cpu)
        if offset == 0x1C:
            return self.abpr[cpu]
        if 0xD0 <= offset < 0xF0 and not offset & 3:
            regs = self.apr if offset < 0xE0 else self.nsapr
            return regs[((offset & 0xF) >> 2) * GIC_NCPU + cpu]
        if offset == 0xFC:
            return CPU_IIDR
        log.guest_error(f"gic_cpu_read: Bad offset {offset:x} ({CPU_REGS.name(offset & ~3)})")
        return 0

    def cpu_write(self, offset: int, value: int, size: int, cpu: int | None = None) -> None:
        if cpu is None:
            cpu = self.current_cpu()
        if offset == 0x00:
            self.cpu_ctlr[cpu] = value & GICC_CTLR_MASK
        elif offset == 0x04:
            self.priority_mask[cpu] = value & 0xFF
        elif offset == 0x08:
            self.bpr[cpu] = max(value & 7, GIC_MIN_BPR)
        elif offset == 0x10:
            self.complete_irq(cpu, value & 0x3FF)
            return
        elif offset == 0x1C:
            self.abpr[cpu] = max(value & 7, GIC_MIN_ABPR)
        elif 0xD0 <= offset < 0xF0 and not offset & 3:
            regs = self.apr if offset < 0xE0 else self.nsapr
            regs[((offset & 0xF) >> 2) * GIC_NCPU + cpu] = value & 0xFFFFFFFF
        elif offset == 0x1000:
            self.deactivate_irq(cpu, value & 0x3FF)
        else:
            log.guest_error(f"gic_cpu_write: Bad offset {offset:x} ({CPU_REGS.name(offset & ~3)})")
            return
        self.update()

    def _current_pending_irq(self, cpu: int) -> int:
        irq = self.current_pending[cpu]
        if irq < GIC_MAXIRQ and self.group[irq] & (1 << cpu) and not self.cpu_ctlr[cpu] & GICC_CTLR_ACK_CTL:
            return 1022   # a group 1 interrupt, seen by a (secure) access without AckCtl
        return irq

    def _group_priority(self, cpu: int, irq: int) -> int:
        if not self.cpu_ctlr[cpu] & GICC_CTLR_CBPR and self.group[irq] & (1 << cpu):
            bpr = self.abpr[cpu] - 1
        else:
            bpr = self.bpr[cpu]
        return self.get_priority(irq, cpu) & (~0 << ((bpr & 7) + 1)) & 0xFF

    def acknowledge_irq(self, cpu: int) -> int:
        """GICC_IAR: activate the highest pending interrupt; its ID (with the SGI source) or 1023."""
        irq = self._current_pending_irq(cpu)
        if irq >= 1022 or self.get_priority(irq, cpu) >= self.running_priority[cpu]:
            return irq if irq == 1022 else SPURIOUS
        cm = 1 << cpu
        prio = self._group_priority(cpu, irq)
        level = prio >> (GIC_MIN_BPR + 1)
        regs = self.nsapr if self.group[irq] & cm else self.apr
        regs[(level // 32) * GIC_NCPU + cpu] |= 1 << (level % 32)
        self.running_priority[cpu] = prio
        self.active[irq] |= cm
        if irq < GIC_NR_SGIS:
            k = irq * GIC_NCPU + cpu
            src = _ctz(self.sgi_pending[k]) if self.sgi_pending[k] else 0
            self.sgi_pending[k] &= ~(1 << src)
            if not self.sgi_pending[k]:
                self.pending[irq] &= ~cm
            ret = irq | ((src & 7) << 10)
        else:
            self.pending[irq] &= ~cm
            ret = irq
        self.update()
        return ret

    def _prio_from_apr(self, cpu: int) -> int:
        for i in range(GIC_NR_APRS):
            bits = self.apr[i * GIC_NCPU + cpu] | self.nsapr[i * GIC_NCPU + cpu]
            if bits:
                return (i * 32 + _ctz(bits)) << (GIC_MIN_BPR + 1)
        return 0x100

    def complete_irq(self, cpu: int, irq: int) -> None:
        """GICC_EOIR: drop the running priority, and deactivate unless EOImode splits it."""
        if irq >= self.num_irq or self.running_priority[cpu] == 0x100:
            return   # spurious or nonexistent ID, or nothing active: ignored as QEMU does
        group = 1 if self.group[irq] & (1 << cpu) else 0
        regs = self.nsapr if group else self.apr
        for i in range(GIC_NR_APRS):
            k = i * GIC_NCPU + cpu
            if regs[k]:
                regs[k] &= regs[k] - 1   # the highest active priority
                break
        self.running_priority[cpu] = self._prio_from_apr(cpu)
        if not self.cpu_ctlr[cpu] & GICC_CTLR_EOIMODE:
            self.active[irq] &= ~(1 << cpu)
        self.update()

    def deactivate_irq(self, cpu: int, irq: int) -> None:
        """GICC_DIR: deactivate (only meaningful with GICC_CTLR.EOImode set)."""
        if irq >= self.num_irq:
            return
        if not self.cpu_ctlr[cpu] & GICC_CTLR_EOIMODE:
            log.guest_error("gic_deactivate_irq: GICC_DIR write when EOIMode clear")
            return
        self.active[irq] &= ~(1 << cpu)

    # -- snapshots -----------------------------------------------------------------------------------------
    def vmstate_save(self) -> dict:
        return VMSTATE.save(self)

    def vmstate_load(self, state: dict) -> None:
        VMSTATE.load(self, state)
        self._hot = {i for i in range(GIC_MAXIRQ) if self.pending[i] or self.level[i]}
        self.update()
