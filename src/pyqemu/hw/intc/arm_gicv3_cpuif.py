"""The GICv3 CPU interface of one CPU: the ICC_*_EL1 system registers (QEMU
``hw/intc/arm_gicv3_cpuif.c``), for a GIC with one security state accessed from EL1.

target/arm's system-register table calls ``read(name)`` / ``write(name, value)`` with the
register's name (``ICC_IAR1_EL1`` ...; see ``cpregs.gicv3_regs``). ICC_SRE_EL1 reads 7 (SRE,
DFB, DIB) and ignores writes: system-register access only, as QEMU with no GICv2
compatibility. Priorities have ``pribits`` bits (5 on QEMU 7.2's Cortex-A57): ICC_PMR_EL1
keeps the top 5, ICC_BPR0_EL1/ICC_BPR1_EL1 have minimum values 2/3, one AP0R/AP1R register.
Group 1 interrupts are taken as IRQ, group 0 as FIQ.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyqemu.hw.intc.arm_gicv3 import ARMGICv3

SPURIOUS = 1023
ICC_CTLR_CBPR, ICC_CTLR_EOIMODE = 1 << 0, 1 << 1
ICC_CTLR_PRIBITS_SHIFT, ICC_CTLR_IDBITS_SHIFT, ICC_CTLR_A3V = 8, 11, 1 << 15
ICC_SRE_VALUE = 0x7        # SRE | DFB | DIB
G0, G1 = 0, 1


def _ctz(x: int) -> int:
    return (x & -x).bit_length() - 1


class GICv3CPUInterface:
    """ICC_* state and behaviour of CPU ``cpu`` of GIC ``gic``."""

    def __init__(self, gic: ARMGICv3, cpu: int) -> None:
        self.gic = gic
        self.cpu = cpu
        self.pribits = int(gic.pribits)
        self.prebits = min(self.pribits, 7)
        self.min_bpr = 7 - self.prebits
        self.num_aprs = 1 << (self.prebits - 5) if self.prebits >= 5 else 1
        self.prio_mask = (0xFF << (8 - self.pribits)) & 0xFF
        self.reset()

    def reset(self) -> None:
        self.pmr = 0
        self.bpr = [self.min_bpr, self.min_bpr + 1]
        self.ctlr = 0
        self.igrpen = [0, 0]
        self.apr = [[0] * 4, [0] * 4]
        self.hppi = (0xFF, SPURIOUS, G0)

    # -- state ------------------------------------------------------------------------------------
    def update(self) -> None:
        """Recompute the highest-priority pending interrupt and this CPU's IRQ/FIQ lines."""
        prio, irq = self.gic.best_pending(self.cpu)
        grp = self.gic.irq_group(self.cpu, irq) if irq != SPURIOUS else G0
        self.hppi = (prio, irq, grp)
        irq_level = fiq_level = 0
        if self.can_preempt():
            if grp == G1:
                irq_level = 1
            else:
                fiq_level = 1
        self.gic.drive(self.cpu, irq_level, fiq_level)

    def _no_enabled_hppi(self) -> bool:
        prio, _irq, grp = self.hppi
        return prio == 0xFF or not self.igrpen[grp]

    def gprio_mask(self, grp: int) -> int:
        """The group-priority part of a priority, by the binary point of ``grp``."""
        if grp == G1 and self.ctlr & ICC_CTLR_CBPR:
            grp = G0
        bpr = self.bpr[grp] & 7
        if grp == G1:
            bpr -= 1
        return (0xFF << (bpr + 1)) & 0xFF

    def highest_active_prio(self) -> int:
        for i in range(self.num_aprs):
            bits = self.apr[G0][i] | self.apr[G1][i]
            if bits:
                return (i * 32 + _ctz(bits)) << (self.min_bpr + 1)
        return 0xFF

    def highest_active_group(self) -> int:
        for i in range(self.num_aprs):
            a0, a1 = self.apr[G0][i], self.apr[G1][i]
            if not (a0 | a1):
                continue
            c0 = _ctz(a0) if a0 else 32
            c1 = _ctz(a1) if a1 else 32
            return G1 if c1 < c0 else G0
        return -1

    def can_preempt(self) -> bool:
        if self._no_enabled_hppi():
            return False
        prio, _irq, grp = self.hppi
        if prio >= self.pmr:
            return False
        rprio = self.highest_active_prio()
        if rprio == 0xFF:
            return True
        mask = self.gprio_mask(grp)
        return (prio & mask) < (rprio & mask)

    # -- operations -----------------------------------------------------------------------------
    def acknowledge(self, grp: int) -> int:
        """ICC_IAR0/1_EL1: activate the highest-priority pending interrupt of group ``grp``."""
        if not self.can_preempt() or self.hppi[2] != grp:
            return SPURIOUS
        prio, irq, _ = self.hppi
        gp = prio & self.gprio_mask(grp)
        bit = gp >> (8 - self.prebits)
        self.apr[grp][bit // 32] |= 1 << (bit % 32)
        self.gic.activate(self.cpu, irq)
        self.gic.update()
        return irq

    def end_of_interrupt(self, grp: int, value: int) -> None:
        """ICC_EOIR0/1_EL1: drop the running priority; deactivate unless EOImode splits it."""
        irq = value & 0xFFFFFF
        if irq >= 1020 or self.highest_active_group() != grp:
            return
        for i in range(self.num_aprs):
            if self.apr[grp][i]:
                self.apr[grp][i] &= self.apr[grp][i] - 1
                break
        if self.ctlr & ICC_CTLR_EOIMODE:
            self.gic.update()
        else:
            self.gic.deactivate(self.cpu, irq)

    def deactivate(self, value: int) -> None:
        """ICC_DIR_EL1: deactivate (only with ICC_CTLR_EL1.EOImode set)."""
        irq = value & 0xFFFFFF
        if irq < 1020 and self.ctlr & ICC_CTLR_EOIMODE:
            self.gic.deactivate(self.cpu, irq)

    def generate_sgi(self, value: int, grp: int) -> None:
        """ICC_SGI1R_EL1 / ICC_SGI0R_EL1 / ICC_ASGI1R_EL1: SGI INTID [27:24] to the CPUs of
        Aff3.Aff2.Aff1 [55:48].[39:32].[23:16] listed in TargetList [15:0], or (IRM, bit 40)
        to every other CPU. An SGI reaches a CPU only if its group there is ``grp``."""
        gic = self.gic
        sgi = (value >> 24) & 0xF
        irm = (value >> 40) & 1
        aff = ((value >> 48) & 0xFF) << 16 | ((value >> 32) & 0xFF) << 8 | ((value >> 16) & 0xFF)
        targets = value & 0xFFFF
        for cpu in range(gic.num_cpu):
            if irm:
                if cpu == self.cpu:
                    continue
            else:
                a = gic.affinity(cpu)
                if a >> 8 != aff or (a & 0xFF) > 15 or not targets >> (a & 0xFF) & 1:
                    continue
            if gic.irq_group(cpu, sgi) == grp:
                gic.send_sgi(cpu, sgi)
        gic.update()

    # -- the registers ----------------------------------------------------------------------------
    def read(self, name: str) -> int:
        if name == "ICC_IAR1_EL1":
            return self.acknowledge(G1)
        if name == "ICC_IAR0_EL1":
            return self.acknowledge(G0)
        if name in ("ICC_HPPIR1_EL1", "ICC_HPPIR0_EL1"):
            grp = G1 if name == "ICC_HPPIR1_EL1" else G0
            return SPURIOUS if self._no_enabled_hppi() or self.hppi[2] != grp else self.hppi[1]
        if name == "ICC_PMR_EL1":
            return self.pmr
        if name == "ICC_RPR_EL1":
            return self.highest_active_prio()
        if name == "ICC_BPR0_EL1":
            return self.bpr[G0]
        if name == "ICC_BPR1_EL1":
            if self.ctlr & ICC_CTLR_CBPR:
                return min(self.bpr[G0] + 1, 7)
            return self.bpr[G1]
        if name == "ICC_CTLR_EL1":
            return (self.ctlr | ICC_CTLR_A3V | (1 << ICC_CTLR_IDBITS_SHIFT)
                    | ((self.pribits - 1) << ICC_CTLR_PRIBITS_SHIFT))
        if name == "ICC_SRE_EL1":
            return ICC_SRE_VALUE
        if name == "ICC_IGRPEN0_EL1":
            return self.igrpen[G0]
        if name == "ICC_IGRPEN1_EL1":
            return self.igrpen[G1]
        if name.startswith(("ICC_AP0R", "ICC_AP1R")):
            return self.apr[int(name[6])][int(name[8])]
        return 0

    def write(self, name: str, value: int) -> None:
        if name == "ICC_EOIR1_EL1":
            self.end_of_interrupt(G1, value)
            return
        if name == "ICC_EOIR0_EL1":
            self.end_of_interrupt(G0, value)
            return
        if name == "ICC_DIR_EL1":
            self.deactivate(value)
            return
        if name in ("ICC_SGI1R_EL1", "ICC_ASGI1R_EL1"):
            self.generate_sgi(value, G1)
            return
        if name == "ICC_SGI0R_EL1":
            self.generate_sgi(value, G0)
            return
        if name == "ICC_PMR_EL1":
            self.pmr = value & self.prio_mask
        elif name == "ICC_BPR0_EL1":
            self.bpr[G0] = max(value & 7, self.min_bpr)
        elif name == "ICC_BPR1_EL1":
            if self.ctlr & ICC_CTLR_CBPR:
                return       # BPR1 is an alias of BPR0 + 1: writes ignored
            self.bpr[G1] = max(value & 7, self.min_bpr + 1)
        elif name == "ICC_CTLR_EL1":
            self.ctlr = value & (ICC_CTLR_CBPR | ICC_CTLR_EOIMODE)
        elif name == "ICC_SRE_EL1":
            return
        elif name == "ICC_IGRPEN0_EL1":
            self.igrpen[G0] = value & 1
        elif name == "ICC_IGRPEN1_EL1":
            self.igrpen[G1] = value & 1
        elif name.startswith(("ICC_AP0R", "ICC_AP1R")):
            self.apr[int(name[6])][int(name[8])] = value & 0xFFFFFFFF
        else:
            return
        self.gic.update()
