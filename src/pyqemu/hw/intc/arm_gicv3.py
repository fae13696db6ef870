"""ARM Generic Interrupt Controller v3 (QEMU ``hw/intc/arm_gicv3*.c``, type ``arm-gicv3``), as the
``virt`` board builds it under TCG: one security state (GICD_CTLR.DS = 1), affinity routing
always on, no virtualization; the CPU interface is system registers (``arm_gicv3_cpuif.py``).

Interface:
  MMIO   0: the distributor, 64 KiB (GICD_*); 1: the redistributors, 128 KiB per CPU (an RD_base
         frame with GICR_CTLR/TYPER/WAKER..., then an SGI_base frame with the private interrupt
         registers). 32-bit accesses everywhere, byte accesses to the priority (and GICD target)
         registers, 64-bit accesses to GICD_IROUTER<n>, GICR_TYPER, GICR_PROPBASER/PENDBASER;
         other sizes and unknown offsets are RAZ/WI (logged as guest errors), as QEMU.
  Inputs gpio-in ``0 .. num_irq-33`` are SPIs (INTID 32..); then 32 per CPU for its private
         interrupts (line ``num_irq - 32 + 32 * cpu + n`` is INTID n; SGI lines are ignored).
  IRQs   ``4 * num_cpu`` outputs as QEMU: IRQ of each CPU, then FIQ, VIRQ, VFIQ (the last two
         stay low). Group 1 interrupts signal IRQ, group 0 FIQ.
  Props  ``num-cpu``, ``num-irq`` (default 288 as ``virt``), ``revision`` (3),
         ``has-security-extensions`` (off; on is refused), ``has-lpi`` (LPI registers exist and
         hold values, as QEMU's with an ITS; LPIs are never delivered: there is no ITS),
         ``force-8-bit-prio`` (off: the CPU interface has 5 priority bits as QEMU 7.2's
         Cortex-A57/A53/max; on: 8), ``len-redist-region-count`` (1; one region only).
  CPUs   ``cpu_affinity[i]`` (the MPIDR affinity of CPU i, set by the board) feeds GICR_TYPER and
         SGI/SPI routing; ``cpuif(i)`` is CPU i's interface object its ICC_* registers call.
  Spec   ARM IHI 0069 (GICv3); reset values and register masks measured on QEMU 7.2 -M virt,
         gic-version=3 through qtest (tests/qtest/test_gicv3.py).
"""
from __future__ import annotations

from pyqemu.hw.core.irq import IRQOut
from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.hw.intc.arm_gicv3_cpuif import GICv3CPUInterface
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError
from pyqemu.util import log

GIC_INTERNAL = 32
GIC_MAXIRQ = 1020
GICV3_MAX_CPUS = 123            # what the first redistributor region of virt holds
REDIST_FRAME = 0x20000          # RD_base + SGI_base
SGI_BASE = 0x10000
DIST_SIZE = 0x10000

GICD_CTLR_EN_GRP0, GICD_CTLR_EN_GRP1 = 1 << 0, 1 << 1
GICD_CTLR_ARE, GICD_CTLR_DS = 1 << 4, 1 << 6
GICD_IIDR = 0x43B
GICR_CTLR_ENABLE_LPIS, GICR_CTLR_CES = 1 << 0, 1 << 1
GICR_WAKER_PROCESSOR_SLEEP, GICR_WAKER_CHILDREN_ASLEEP = 1 << 1, 1 << 2
GICR_TYPER_PLPIS, GICR_TYPER_LAST = 1 << 0, 1 << 4
GICR_TYPER_COMMON_LPI_AFF = 1 << 24     # all redistributors share one LPI configuration
# ID registers 0xFFD0..0xFFFC (PIDR4-7, PIDR0-3, CIDR0-3); PIDR0 is 0x92 (GICD) / 0x93 (GICR)
GICV3_IDREGS = (0x44, 0, 0, 0, 0x92, 0xB4, 0x3B, 0, 0x0D, 0xF0, 0x05, 0xB1)
M32 = 0xFFFFFFFF


def _ctz(x: int) -> int:
    return (x & -x).bit_length() - 1


class Redistributor:
    """One CPU's redistributor: its SGIs/PPIs as 32-bit masks, and the RD_base registers."""

    def __init__(self, cpu: int) -> None:
        self.cpu = cpu
        self.reset()

    def reset(self) -> None:
        self.ctlr = 0
        self.waker = GICR_WAKER_PROCESSOR_SLEEP | GICR_WAKER_CHILDREN_ASLEEP
        self.propbaser = 0
        self.pendbaser = 0
        self.group = 0
        self.enabled = 0
        self.pending = 0          # the pending latch (edge events, ISPENDR, SGIs)
        self.active = 0
        self.level = 0            # the input lines
        self.edge = 0xFFFF        # ICFGR: SGIs are always edge-triggered
        self.priority = [0] * GIC_INTERNAL

    def pending_view(self) -> int:
        """Pending as GICR_ISPENDR0 shows it: the latch, or a level-triggered line held high."""
        return self.pending | (self.level & ~self.edge)


class ARMGICv3(SysBusDevice):
    """The GICv3 distributor and redistributors; see the module docstring."""

    TYPE = "arm-gicv3"
    DESC = "ARM Generic Interrupt Controller v3"
    num_cpu = Prop("uint32", 1, name="num-cpu")
    num_irq = Prop("uint32", 32, name="num-irq")
    revision = Prop("uint32", 3)
    has_lpi = Prop("bool", False, name="has-lpi")
    has_security_extensions = Prop("bool", False, name="has-security-extensions")
    force_8bit_prio = Prop("bool", False, name="force-8-bit-prio")
    len_redist_region_count = Prop("uint32", 1, name="len-redist-region-count")
    pribits = 5     # the CPU's (QEMU 7.2: 5 for Cortex-A53/A57/max); force-8-bit-prio makes it 8

    def __init__(self) -> None:
        super().__init__()
        self.cpu_affinity: list[int] = []
        ops = AccessConstraints(1, 8)
        self.dist_mr = MemoryRegion.mmio_region("gicv3_dist", DIST_SIZE, MemoryRegionOps(
            self.dist_read, self.dist_write, ops, ops), owner=self)
        self.redists: list[Redistributor] = []
        self.cpuifs: list[GICv3CPUInterface] = []
        self._clear_spis(GIC_INTERNAL)

    # -- lifecycle --------------------------------------------------------------------------------
    def realize(self) -> None:
        n, nc = self.num_irq, self.num_cpu
        if not 1 <= nc <= GICV3_MAX_CPUS:
            raise QOMError(f"requested {nc} CPUs exceeds the GICv3 redistributor region ({GICV3_MAX_CPUS})")
        if n > GIC_MAXIRQ or n < GIC_INTERNAL or n % 32:
            raise QOMError(f"{n} interrupt lines unsupported (32..{GIC_MAXIRQ}, a multiple of 32)")
        if self.revision != 3:
            raise QOMError(f"unsupported GICv3 revision {self.revision}")
        if self.has_security_extensions:
            raise QOMError("GICv3 security extensions are not supported")
        if self.len_redist_region_count != 1:
            raise QOMError("only one redistributor region is supported")
        if self.force_8bit_prio:
            self.pribits = 8
        if len(self.cpu_affinity) < nc:
            self.cpu_affinity = self.cpu_affinity + [i for i in range(len(self.cpu_affinity), nc)]
        self.redists = [Redistributor(i) for i in range(nc)]
        self.cpuifs = [GICv3CPUInterface(self, i) for i in range(nc)]
        self._clear_spis(n)
        self.init_gpio_in(self.set_irq, n - GIC_INTERNAL + GIC_INTERNAL * nc)
        outs = [self.init_irq() for _ in range(4 * nc)]
        self.irq_lines: list[IRQOut] = outs[:nc]
        self.fiq_lines: list[IRQOut] = outs[nc:2 * nc]
        self.redist_mr = MemoryRegion.mmio_region("gicv3_redist_region[0]", REDIST_FRAME * nc,
                                                  MemoryRegionOps(self.redist_read, self.redist_write,
                                                                  AccessConstraints(1, 8),
                                                                  AccessConstraints(1, 8)), owner=self)
        self.init_mmio(self.dist_mr)
        self.init_mmio(self.redist_mr)

    def _clear_spis(self, n: int) -> None:
        self.ctlr = GICD_CTLR_ARE | GICD_CTLR_DS
        self.group = [0] * n
        self.enabled = [0] * n
        self.pending = [0] * n
        self.active = [0] * n
        self.level = [0] * n
        self.edge = [0] * n
        self.priority = [0] * n
        self.irouter = [0] * n
        self.target = [0] * n       # the CPU an SPI routes to (-1: none), from GICD_IROUTER
        self._hot: set[int] = set()  # SPIs pending or with a raised line: update() scans these

    def reset(self) -> None:
        levels = list(self.level)
        self._clear_spis(self.num_irq)
        for irq in range(GIC_INTERNAL, self.num_irq):
            self.target[irq] = self._route(0)
        for r in self.redists:
            rl = r.level
            r.reset()
            r.level = rl
        for c in self.cpuifs:
            c.reset()
        # input lines keep their levels across a reset (the devices drive them)
        for irq in range(GIC_INTERNAL, self.num_irq):
            if levels[irq] if irq < len(levels) else 0:
                self.level[irq] = 1
                self._hot.add(irq)
        if self.realized:
            self.update()

    # -- routing ---------------------------------------------------------------------------------
    def affinity(self, cpu: int) -> int:
        """CPU ``cpu``'s affinity as GICR_TYPER[63:32] shows it (Aff3.Aff2.Aff1.Aff0)."""
        mp = self.cpu_affinity[cpu]
        return (mp & 0xFFFFFF) | ((mp >> 32) & 0xFF) << 24

    def _route(self, irouter: int) -> int:
        aff = (irouter & 0xFFFFFF) | ((irouter >> 32) & 0xFF) << 24
        for cpu in range(self.num_cpu):   # IRM (1 of N) is ignored, as QEMU does
            if self.affinity(cpu) == aff:
                return cpu
        return -1

    # -- the outputs --------------------------------------------------------------------------------
    def best_pending(self, cpu: int) -> tuple[int, int]:
        """(priority, INTID) of CPU ``cpu``'s highest-priority pending, enabled, inactive interrupt
        in a group the distributor enables; (0xFF, 1023) when none (as QEMU, priority 0xFF never
        signals; equal priorities go to the lower INTID)."""
        dctlr = self.ctlr
        grp_en = (M32 if dctlr & GICD_CTLR_EN_GRP1 else 0, M32 if dctlr & GICD_CTLR_EN_GRP0 else 0)
        best_prio, best_irq = 0xFF, 1023
        r = self.redists[cpu]
        cand = r.pending_view() & r.enabled & ~r.active & ((r.group & grp_en[0]) | (~r.group & grp_en[1]))
        while cand:
            irq = _ctz(cand)
            cand &= cand - 1
            prio = r.priority[irq]
            if prio < best_prio:
                best_prio, best_irq = prio, irq
        if not dctlr & (GICD_CTLR_EN_GRP0 | GICD_CTLR_EN_GRP1):
            return best_prio, best_irq
        for irq in self._hot_list:
            if self.target[irq] != cpu or not self.enabled[irq] or self.active[irq]:
                continue
            if not (self.pending[irq] or (self.level[irq] and not self.edge[irq])):
                continue
            if not (dctlr & (GICD_CTLR_EN_GRP1 if self.group[irq] else GICD_CTLR_EN_GRP0)):
                continue
            prio = self.priority[irq]
            if prio < best_prio or (prio == best_prio and irq < best_irq):
                best_prio, best_irq = prio, irq
        return best_prio, best_irq

    def irq_group(self, cpu: int, irq: int) -> int:
        if irq < GIC_INTERNAL:
            return (self.redists[cpu].group >> irq) & 1
        return self.group[irq] if irq < self.num_irq else 0

    def update(self) -> None:
        """Recompute every CPU's highest-priority pending interrupt and drive its IRQ/FIQ lines."""
        hot = self._hot
        for irq in list(hot):
            if not (self.pending[irq] or self.level[irq]):
                hot.discard(irq)
        self._hot_list = sorted(hot)
        for c in self.cpuifs:
            c.update()

    _hot_list: list[int] = []

    def drive(self, cpu: int, irq_level: int, fiq_level: int) -> None:
        line = self.irq_lines[cpu]
        if line.level != irq_level:
            line.set(irq_level)
        line = self.fiq_lines[cpu]
        if line.level != fiq_level:
            line.set(fiq_level)

    # -- state changes the CPU interface makes --------------------------------------------------------
    def activate(self, cpu: int, irq: int) -> None:
        """Acknowledge: make ``irq`` active and clear its pending latch."""
        if irq < GIC_INTERNAL:
            r = self.redists[cpu]
            r.active |= 1 << irq
            r.pending &= ~(1 << irq)
        elif irq < self.num_irq:
            self.active[irq] = 1
            self.pending[irq] = 0

    def deactivate(self, cpu: int, irq: int) -> None:
        if irq < GIC_INTERNAL:
            self.redists[cpu].active &= ~(1 << irq)
        elif irq < self.num_irq:
            self.active[irq] = 0
        self.update()

    def send_sgi(self, cpu: int, sgi: int) -> None:
        self.redists[cpu].pending |= 1 << sgi

    # -- input lines --------------------------------------------------------------------------------
    def set_irq(self, n: int, level: int) -> None:
        """gpio-in handler: an SPI line, or a CPU's private line (see the module docstring)."""
        level = 1 if level else 0
        nspi = self.num_irq - GIC_INTERNAL
        if n < nspi:
            irq = n + GIC_INTERNAL
            if level == self.level[irq]:
                return
            self.level[irq] = level
            if level:
                self._hot.add(irq)
                if self.edge[irq]:
                    self.pending[irq] = 1
        else:
            n -= nspi
            cpu, irq = divmod(n, GIC_INTERNAL)
            if irq < 16 or cpu >= self.num_cpu:
                return
            r = self.redists[cpu]
            bit = 1 << irq
            if bool(r.level & bit) == bool(level):
                return
            if level:
                r.level |= bit
                if r.edge & bit:
                    r.pending |= bit
            else:
                r.level &= ~bit
        self.update()

    # -- distributor -----------------------------------------------------------------------------------
    def _bad(self, what: str, offset: int, size: int) -> int:
        log.guest_error(f"{what}: invalid guest {'read' if what.endswith('read') else 'write'} at "
                        f"offset 0x{offset:x} size {size}")
        return 0

    def dist_read(self, offset: int, size: int) -> int:
        if size == 8:
            if 0x6100 <= offset < 0x6000 + 8 * self.num_irq and not offset & 7:
                return self.irouter[(offset - 0x6000) >> 3]
            return self._bad("gicv3_dist_read", offset, size)
        if size == 4 and not offset & 3:
            v = self._dist_readl(offset)
            if v is not None:
                return v
        elif size == 1 and (0x400 <= offset < 0x800 or 0x800 <= offset < 0xC00):
            return self._dist_readb(offset)
        return self._bad("gicv3_dist_read", offset, size)

    def _dist_readb(self, offset: int) -> int:
        if offset >= 0x800:
            return 0     # GICD_ITARGETSR: RAZ/WI with affinity routing
        irq = offset - 0x400
        return self.priority[irq] if GIC_INTERNAL <= irq < self.num_irq else 0

    def _spi_bits(self, arr: list[int], irq: int) -> int:
        if irq < GIC_INTERNAL or irq >= self.num_irq:
            return 0     # private interrupts live in the redistributors (RAZ/WI here)
        return sum(1 << i for i in range(32) if irq + i < self.num_irq and arr[irq + i])

    def _dist_readl(self, offset: int) -> int | None:
        if offset == 0x0:
            return self.ctlr
        if offset == 0x4:
            lpis = ((1 << 17) if self.has_lpi else 0) | (15 << 19)   # LPIS, IDbits: 16-bit INTIDs
            return ((self.num_irq - GIC_INTERNAL) // 32 - 1) | lpis | (1 << 24) | (1 << 25)
        if offset == 0x8:
            return GICD_IIDR
        if offset in (0xC, 0x10):
            return 0
        if 0x40 <= offset < 0x60:
            return 0     # message-based SPIs are not implemented (TYPER.MBIS = 0)
        if 0x80 <= offset < 0x100:
            return self._spi_bits(self.group, (offset - 0x80) * 8)
        if 0x100 <= offset < 0x200:
            return self._spi_bits(self.enabled, (offset & 0x7F) * 8)
        if 0x200 <= offset < 0x300:
            irq = (offset & 0x7F) * 8
            if irq < GIC_INTERNAL:
                return 0
            return sum(1 << i for i in range(32) if irq + i < self.num_irq and (
                self.pending[irq + i] or (self.level[irq + i] and not self.edge[irq + i])))
        if 0x300 <= offset < 0x400:
            return self._spi_bits(self.active, (offset & 0x7F) * 8)
        if 0x400 <= offset < 0xC00:
            return sum(self._dist_readb(offset + i) << (8 * i) for i in range(4))
        if 0xC00 <= offset < 0xD00:
            irq = (offset - 0xC00) * 4
            if irq < GIC_INTERNAL or irq >= self.num_irq:
                return 0
            return sum(2 << (2 * i) for i in range(16) if irq + i < self.num_irq and self.edge[irq + i])
        if 0xD00 <= offset < 0xF30:
            return 0     # GICD_IGRPMODR, NSACR (one security state), SGIR/C/SPENDSGIR (ARE): RAZ/WI
        if 0x6000 <= offset < 0x8000:
            irq = (offset - 0x6000) >> 3
            if irq < GIC_INTERNAL or irq >= self.num_irq:
                return 0
            return (self.irouter[irq] >> (32 if offset & 4 else 0)) & M32
        if 0xFFD0 <= offset < 0x10000:
            return GICV3_IDREGS[(offset - 0xFFD0) >> 2]
        return None

    def dist_write(self, offset: int, value: int, size: int) -> None:
        if size == 8:
            if 0x6000 <= offset < 0x6000 + 8 * self.num_irq and not offset & 7:
                irq = (offset - 0x6000) >> 3
                if irq >= GIC_INTERNAL:
                    self.irouter[irq] = value
                    self.target[irq] = self._route(value)
                    self.update()
                return
            self._bad("gicv3_dist_write", offset, size)
        elif size == 4 and not offset & 3:
            if not self._dist_writel(offset, value & M32):
                self._bad("gicv3_dist_write", offset, size)
                return
            self.update()
        elif size == 1 and 0x400 <= offset < 0xC00:
            self._dist_writeb(offset, value & 0xFF)
            self.update()
        else:
            self._bad("gicv3_dist_write", offset, size)

    def _dist_writeb(self, offset: int, value: int) -> None:
        irq = offset - 0x400
        if offset < 0x800 and GIC_INTERNAL <= irq < self.num_irq:
            self.priority[irq] = value

    def _set_spi_bits(self, arr: list[int], irq: int, value: int, setting: bool | None) -> None:
        """Write 32 SPI bits from ``irq``: setting True = set-1s, False = clear-1s, None = store."""
        if irq < GIC_INTERNAL:
            return
        for i in range(32):
            n = irq + i
            if n >= self.num_irq:
                break
            bit = (value >> i) & 1
            if setting is None:
                arr[n] = bit
            elif bit:
                arr[n] = 1 if setting else 0

    def _dist_writel(self, offset: int, value: int) -> bool:
        if offset == 0x0:
            self.ctlr = (self.ctlr & ~3) | (value & (GICD_CTLR_EN_GRP0 | GICD_CTLR_EN_GRP1))
        elif offset in (0x4, 0x8, 0xC, 0x10):
            pass
        elif 0x40 <= offset < 0x60:
            pass
        elif 0x80 <= offset < 0x100:
            self._set_spi_bits(self.group, (offset - 0x80) * 8, value, None)
        elif 0x100 <= offset < 0x200:
            self._set_spi_bits(self.enabled, (offset & 0x7F) * 8, value, offset < 0x180)
        elif 0x200 <= offset < 0x300:
            irq = (offset & 0x7F) * 8
            self._set_spi_bits(self.pending, irq, value, offset < 0x280)
            for i in range(32):
                if value >> i & 1 and GIC_INTERNAL <= irq + i < self.num_irq:
                    self._hot.add(irq + i)
        elif 0x300 <= offset < 0x400:
            self._set_spi_bits(self.active, (offset & 0x7F) * 8, value, offset < 0x380)
        elif 0x400 <= offset < 0xC00:
            for i in range(4):
                self._dist_writeb(offset + i, (value >> (8 * i)) & 0xFF)
        elif 0xC00 <= offset < 0xD00:
            irq = (offset - 0xC00) * 4
            if GIC_INTERNAL <= irq < self.num_irq:
                for i in range(16):
                    if irq + i < self.num_irq:
                        self.edge[irq + i] = (value >> (2 * i + 1)) & 1
        elif 0xD00 <= offset < 0xF30:
            pass
        elif 0x6000 <= offset < 0x8000:
            irq = (offset - 0x6000) >> 3
            if GIC_INTERNAL <= irq < self.num_irq:
                shift = 32 if offset & 4 else 0
                self.irouter[irq] = (self.irouter[irq] & ~(M32 << shift)) | (value << shift)
                self.target[irq] = self._route(self.irouter[irq])
        elif 0xFFD0 <= offset < 0x10000:
            pass
        else:
            return False
        return True

    # -- redistributors --------------------------------------------------------------------------------
    def redist_read(self, offset: int, size: int) -> int:
        cpu, off = divmod(offset, REDIST_FRAME)
        r = self.redists[cpu]
        if size == 8 and not off & 7:
            if off == 0x8:
                return self._gicr_typer(cpu)
            if off == 0x70:
                return r.propbaser
            if off == 0x78:
                return r.pendbaser
        elif size == 4 and not off & 3:
            v = self._redist_readl(r, off)
            if v is not None:
                return v
        elif size == 1 and SGI_BASE + 0x400 <= off < SGI_BASE + 0x420:
            return r.priority[off - SGI_BASE - 0x400]
        return self._bad("gicv3_redist_read", offset, size)

    def _gicr_typer(self, cpu: int) -> int:
        v = self.affinity(cpu) << 32 | (cpu << 8)
        if self.has_lpi:
            v |= GICR_TYPER_PLPIS | GICR_TYPER_COMMON_LPI_AFF
        if cpu == self.num_cpu - 1:
            v |= GICR_TYPER_LAST
        return v

    def _redist_readl(self, r: Redistributor, off: int) -> int | None:
        if off == 0x0:
            return r.ctlr | (GICR_CTLR_CES if self.has_lpi else 0)
        if off == 0x4:
            return GICD_IIDR
        if off in (0x8, 0xC):
            return (self._gicr_typer(r.cpu) >> (32 if off == 0xC else 0)) & M32
        if off == 0x10:
            return 0
        if off == 0x14:
            return r.waker
        if off in (0x70, 0x74):
            return (r.propbaser >> (32 if off & 4 else 0)) & M32
        if off in (0x78, 0x7C):
            return (r.pendbaser >> (32 if off & 4 else 0)) & M32
        if 0xFFD0 <= off < 0x10000:
            idx = (off - 0xFFD0) >> 2
            return 0x93 if idx == 4 else GICV3_IDREGS[idx]
        if off < SGI_BASE:
            return None
        off -= SGI_BASE
        if off == 0x80:
            return r.group
        if off in (0x100, 0x180):
            return r.enabled
        if off in (0x200, 0x280):
            return r.pending_view()
        if off in (0x300, 0x380):
            return r.active
        if 0x400 <= off < 0x420:
            i = off - 0x400
            return r.priority[i] | r.priority[i + 1] << 8 | r.priority[i + 2] << 16 | r.priority[i + 3] << 24
        if off == 0xC00:
            return 0xAAAAAAAA
        if off == 0xC04:
            return sum(2 << (2 * i) for i in range(16) if r.edge >> (16 + i) & 1)
        if off in (0xD00, 0xE00):
            return 0
        return None

    def redist_write(self, offset: int, value: int, size: int) -> None:
        cpu, off = divmod(offset, REDIST_FRAME)
        r = self.redists[cpu]
        if size == 8 and not off & 7 and off in (0x8, 0x70, 0x78):
            if off == 0x70:
                r.propbaser = value
            elif off == 0x78:
                r.pendbaser = value
            return
        if size == 1 and SGI_BASE + 0x400 <= off < SGI_BASE + 0x420:
            r.priority[off - SGI_BASE - 0x400] = value & 0xFF
            self.update()
            return
        if size != 4 or off & 3 or not self._redist_writel(r, off, value & M32):
            self._bad("gicv3_redist_write", offset, size)
            return
        self.update()

    def _redist_writel(self, r: Redistributor, off: int, value: int) -> bool:
        if off == 0x0:
            if self.has_lpi:
                r.ctlr = value & GICR_CTLR_ENABLE_LPIS
        elif off in (0x4, 0x8, 0xC, 0x10):
            pass
        elif off == 0x14:
            # ChildrenAsleep follows ProcessorSleep at once (there is nothing to quiesce)
            r.waker = GICR_WAKER_PROCESSOR_SLEEP | GICR_WAKER_CHILDREN_ASLEEP \
                if value & GICR_WAKER_PROCESSOR_SLEEP else 0
        elif off in (0x70, 0x74, 0x78, 0x7C):
            shift = 32 if off & 4 else 0
            name = "propbaser" if off < 0x78 else "pendbaser"
            old = getattr(r, name)
            setattr(r, name, (old & ~(M32 << shift)) | (value << shift))
        elif 0xFFD0 <= off < 0x10000:
            pass
        elif off < SGI_BASE:
            return False
        else:
            off -= SGI_BASE
            if off == 0x80:
                r.group = value
            elif off == 0x100:
                r.enabled |= value
            elif off == 0x180:
                r.enabled &= ~value
            elif off == 0x200:
                r.pending |= value
            elif off == 0x280:
                r.pending &= ~value
            elif off == 0x300:
                r.active |= value
            elif off == 0x380:
                r.active &= ~value
            elif 0x400 <= off < 0x420:
                for i in range(4):
                    r.priority[off - 0x400 + i] = (value >> (8 * i)) & 0xFF
            elif off == 0xC00:
                pass      # SGIs are edge-triggered, fixed
            elif off == 0xC04:
                edge = sum(1 << (16 + i) for i in range(16) if value >> (2 * i + 1) & 1)
                r.edge = 0xFFFF | edge
            elif off in (0xD00, 0xE00):
                pass
            else:
                return False
        return True

    def cpuif(self, cpu: int) -> GICv3CPUInterface:
        """CPU ``cpu``'s interface (what its ICC_* system registers call)."""
        return self.cpuifs[cpu]
