"""QEMU's AArch64 ``virt`` board (``hw/arm/virt.c`` of QEMU 7.2), machine types ``virt`` and
``virt-7.2``.

The board is data: ``BASE_MEMMAP``/``EXTENDED_MEMMAP`` (where each device lives) and
``A15_IRQMAP`` (its GIC SPI), in QEMU's names; ``VirtBoard.build`` runs one ``create_*``
method per device that makes it, maps it and wires its interrupts. The device tree is made
by ``virt_fdt.build_fdt`` from the same tables, node for node what QEMU generates
(specs/virt-aarch64.dts); ``virt_boot`` loads -bios/-kernel/-initrd/-dtb as QEMU's
``hw/arm/boot.c`` does.

CPUs come from a factory the CPU layer registers with ``set_cpu_factory`` (``hw/`` never
imports ``target/``); without one the board is built without CPUs, which is how the device
tests drive it. What the board needs from a CPU is the ``VirtCPU`` protocol below. The
vCPU scheduler tells the board which CPU runs by setting ``VirtBoard.current_cpu`` (the GIC
banks its per-CPU registers on it).

Machine options read from ``machine.opts``: ``kernel``, ``initrd``, ``append``, ``dtb``,
``dumpdtb``, ``firmware`` (-bios), ``gic-version`` (2, 3, max = 3 under TCG; host is
refused: it needs KVM), ``its`` (on; no ITS is emulated, see ``create_gic``), ``dtb-randomness`` (on),
``cpu-type`` (default cortex-a15, as QEMU), ``seed`` (the rng-seed/kaslr-seed source; random
when absent). Board hooks set on the machine before init, when present: ``serial_chardevs``
(chardevs for the UART), ``pflash_backings`` (two flash backings).
"""
from __future__ import annotations

import importlib
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from pyqemu.hw.core.irq import IRQ
from pyqemu.hw.core.machine import Machine
from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.hw.intc.arm_gic import ARMGIC
from pyqemu.hw.intc.arm_gicv2m import ARMGICv2m
from pyqemu.hw.intc.arm_gicv3 import GICV3_MAX_CPUS, ARMGICv3
from pyqemu.hw.pci.gpex import GPEXHost
from pyqemu.hw.timer.arm_generic_timer import MAX_CPUS as TIMER_MAX_CPUS
from pyqemu.hw.timer.arm_generic_timer import ARMGenericTimer
from pyqemu.hw.virtio.virtio_mmio import VirtioMMIO
from pyqemu.memory import MemoryRegion
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError

GiB = 1 << 30
MiB = 1 << 20


@dataclass(frozen=True)
class MemMapEntry:
    base: int
    size: int


# hw/arm/virt.c base_memmap[] (the first 1 GiB of the map, then RAM)
BASE_MEMMAP: dict[str, MemMapEntry] = {
    "VIRT_FLASH": MemMapEntry(0x00000000, 0x08000000),
    "VIRT_CPUPERIPHS": MemMapEntry(0x08000000, 0x00020000),
    "VIRT_GIC_DIST": MemMapEntry(0x08000000, 0x00010000),
    "VIRT_GIC_CPU": MemMapEntry(0x08010000, 0x00010000),
    "VIRT_GIC_V2M": MemMapEntry(0x08020000, 0x00001000),
    "VIRT_GIC_HYP": MemMapEntry(0x08030000, 0x00010000),
    "VIRT_GIC_VCPU": MemMapEntry(0x08040000, 0x00010000),
    "VIRT_GIC_ITS": MemMapEntry(0x08080000, 0x00020000),
    "VIRT_GIC_REDIST": MemMapEntry(0x080A0000, 0x00F60000),
    "VIRT_UART": MemMapEntry(0x09000000, 0x00001000),
    "VIRT_RTC": MemMapEntry(0x09010000, 0x00001000),
    "VIRT_FW_CFG": MemMapEntry(0x09020000, 0x00000018),
    "VIRT_GPIO": MemMapEntry(0x09030000, 0x00001000),
    "VIRT_SECURE_UART": MemMapEntry(0x09040000, 0x00001000),
    "VIRT_SMMU": MemMapEntry(0x09050000, 0x00020000),
    "VIRT_PCDIMM_ACPI": MemMapEntry(0x09070000, 0x00000018),
    "VIRT_ACPI_GED": MemMapEntry(0x09080000, 0x00000004),
    "VIRT_NVDIMM_ACPI": MemMapEntry(0x09090000, 0x00000004),
    "VIRT_PVTIME": MemMapEntry(0x090A0000, 0x00010000),
    "VIRT_SECURE_GPIO": MemMapEntry(0x090B0000, 0x00001000),
    "VIRT_MMIO": MemMapEntry(0x0A000000, 0x00000200),
    # ...repeating for a total of NUM_VIRTIO_TRANSPORTS, each of that size
    "VIRT_PLATFORM_BUS": MemMapEntry(0x0C000000, 0x02000000),
    "VIRT_SECURE_MEM": MemMapEntry(0x0E000000, 0x01000000),
    "VIRT_PCIE_MMIO": MemMapEntry(0x10000000, 0x2EFF0000),
    "VIRT_PCIE_PIO": MemMapEntry(0x3EFF0000, 0x00010000),
    "VIRT_PCIE_ECAM": MemMapEntry(0x3F000000, 0x01000000),
    "VIRT_MEM": MemMapEntry(0x40000000, 255 * GiB),   # up to LEGACY_RAMLIMIT_BYTES
}

# extended_memmap[]: placed above RAM; with RAM under 255 GiB they start at 256 GiB.
EXTENDED_MEMMAP: dict[str, MemMapEntry] = {
    "VIRT_HIGH_GIC_REDIST2": MemMapEntry(0x4000000000, 64 * MiB),
    "VIRT_HIGH_PCIE_ECAM": MemMapEntry(0x4010000000, 256 * MiB),
    "VIRT_HIGH_PCIE_MMIO": MemMapEntry(0x8000000000, 512 * GiB),
}

# a15irqmap[]: GIC SPI numbers (INTID = SPI + 32)
A15_IRQMAP: dict[str, int] = {
    "VIRT_UART": 1,
    "VIRT_RTC": 2,
    "VIRT_PCIE": 3,          # ... to 6
    "VIRT_GPIO": 7,
    "VIRT_SECURE_UART": 8,
    "VIRT_ACPI_GED": 9,
    "VIRT_MMIO": 16,         # ...to 16 + NUM_VIRTIO_TRANSPORTS - 1
    "VIRT_GIC_V2M": 48,      # ...to 48 + NUM_GICV2M_SPIS - 1
    "VIRT_SMMU": 74,         # ...to 74 + NUM_SMMU_IRQS - 1
    "VIRT_PLATFORM_BUS": 112,  # ...to 112 + PLATFORM_BUS_NUM_IRQS -1
}

NUM_VIRTIO_TRANSPORTS = 32
NUM_GICV2M_SPIS = 64
NUM_IRQS = 256               # SPIs; the GIC has NUM_IRQS + 32 interrupts
GIC_NR_PRIVATE = 32
PLATFORM_BUS_NUM_IRQS = 64
GPEX_NUM_IRQS = 4
# PPIs (INTID - 16) of the timers and the PMU, as the DT numbers them
ARCH_TIMER_VIRT_IRQ, ARCH_TIMER_S_EL1_IRQ, ARCH_TIMER_NS_EL1_IRQ, ARCH_TIMER_NS_EL2_IRQ = 11, 13, 14, 10
VIRTUAL_PMU_IRQ = 7
# generic-timer output index -> INTID (PPI + 16)
TIMER_INTIDS = (16 + ARCH_TIMER_NS_EL1_IRQ, 16 + ARCH_TIMER_VIRT_IRQ, 16 + ARCH_TIMER_NS_EL2_IRQ,
                16 + ARCH_TIMER_S_EL1_IRQ)
ARM_CPU_IRQ, ARM_CPU_FIQ, ARM_CPU_VIRQ, ARM_CPU_VFIQ = 0, 1, 2, 3
ARM_DEFAULT_CPUS_PER_CLUSTER = 8
GIC_MAX_CPUS = 8             # GICv2

# -cpu types the virt board accepts (valid_cpus[] of QEMU 7.2) and their DT compatible
CPU_DT_COMPATIBLE: dict[str, str] = {
    "cortex-a7": "arm,cortex-a7", "cortex-a15": "arm,cortex-a15", "cortex-a35": "arm,cortex-a35",
    "cortex-a53": "arm,cortex-a53", "cortex-a55": "arm,cortex-a55", "cortex-a57": "arm,cortex-a57",
    "cortex-a72": "arm,cortex-a72", "cortex-a76": "arm,cortex-a76", "a64fx": "arm,a64fx",
    "neoverse-n1": "arm,neoverse-n1", "host": "arm,arm-v8", "max": "arm,cortex-a57",
}
DEFAULT_CPU_TYPE = "cortex-a15"


class VirtCPU(Protocol):
    """What the board needs from a CPU; target/arm's CPU provides it through the factory.

    ``irq_input(n)`` is the CPU's input line n (ARM_CPU_IRQ/FIQ/VIRQ/VFIQ) the GIC drives;
    ``attach_generic_timer(timer, index)`` hands it the timer device whose methods its CNT*
    system registers call, with its index there; ``pmu_interrupt`` is its PMU overflow
    output (may stay unconnected); ``boot_reset(pc, regs, powered_off)`` puts it to reset
    state with PC and the given X registers (index -> value), powered off (secondaries wait
    for PSCI CPU_ON) or running; ``mp_affinity`` is its MPIDR affinity value.
    """

    mp_affinity: int

    def irq_input(self, n: int) -> IRQ: ...

    def attach_generic_timer(self, timer: ARMGenericTimer, index: int) -> None: ...

    def boot_reset(self, pc: int, regs: Mapping[int, int], powered_off: bool) -> None: ...


CPUFactory = Callable[[Machine, str, int, int], VirtCPU]   # (machine, cpu type, index, mp_affinity)
_cpu_factory: CPUFactory | None = None


# The -drive if=pflash images by unit (QEMU's drive_get(IF_PFLASH, 0, unit)): a global drive table
# as in QEMU's blockdev.c, filled by the system layer before it builds the board.
_pflash_drives: list[Any] = []


def set_pflash_drives(backings: list[Any]) -> None:
    """The images (BlockBackend-like, or None) behind flash banks 0 and 1 of boards built from now."""
    _pflash_drives[:] = backings


def set_cpu_factory(factory: CPUFactory | None) -> None:
    """The CPU layer registers how to make a CPU of a -cpu type (None: boards have no CPUs)."""
    global _cpu_factory
    _cpu_factory = factory


GICV3_TARGETLIST_BITS = 16


def virt_cpu_mp_affinity(idx: int, gic_version: int = 2) -> int:
    """QEMU virt_cpu_mp_affinity: 8 CPUs per cluster with a GICv2 (Aff1 = idx / 8, Aff0 = idx % 8),
    16 with a GICv3 (what an SGI target list reaches)."""
    per = ARM_DEFAULT_CPUS_PER_CLUSTER if gic_version == 2 else GICV3_TARGETLIST_BITS
    return ((idx // per) << 8) | (idx % per)


def parse_gic_version(value: str | None) -> int:
    """The GIC version ``gic-version`` asks for, as QEMU's TCG resolves it (max -> 3)."""
    if value in (None, "", "2"):
        return 2
    if value in ("3", "max"):
        return 3
    if value == "host":
        raise QOMError("gic-version=host requires KVM")
    if value == "4":
        raise QOMError("gic-version=4 requires virtualization enabled")
    raise QOMError(f"Invalid gic-version value: {value}\nValid values are 3, 2, host, max.")


def _optional(module: str) -> ModuleType | None:
    """A device module of another part of the tree, or None while it does not exist yet."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _on(value: str | bool | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if value in ("on", "yes", "true", "y"):
        return True
    if value in ("off", "no", "false", "n"):
        return False
    raise QOMError(f"Parameter expects 'on' or 'off'; got '{value}'")


class PlatformBusDevice(SysBusDevice):
    """The container for dynamically created sysbus devices (QEMU ``platform-bus-device``):
    ``num_irqs`` outputs to GIC SPIs 112.., an ``mmio_size`` region the board maps itself."""

    TYPE = "platform-bus-device"
    num_irqs = Prop("uint32", 0, name="num_irqs")
    mmio_size = Prop("uint32", 0, name="mmio_size")

    def realize(self) -> None:
        self.region = MemoryRegion.container_region("platform bus", self.mmio_size, owner=self)
        self.init_mmio(self.region)
        for _ in range(self.num_irqs):
            self.init_irq()


class VirtBoard:
    """One virt machine: its devices, phandles and boot information."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.memmap = dict(BASE_MEMMAP, **EXTENDED_MEMMAP)
        self.irqmap = dict(A15_IRQMAP)
        self.opts = machine.opts
        self.smp_cpus = int(machine.smp.get("cpus", 1))
        self.cpu_type = self.opts.get("cpu-type") or getattr(machine, "cpu_type", None) or DEFAULT_CPU_TYPE
        self.dtb_randomness = _on(self.opts.get("dtb-randomness", self.opts.get("dtb-kaslr-seed")), True)
        self.current_cpu = 0          # set by the vCPU scheduler; the GIC banks on it
        self.cpus: list[VirtCPU] = []
        self.virtio: list[VirtioMMIO] = []
        self.devices: dict[str, Any] = {}
        seed = self.opts.get("seed")
        self.rng = random.Random(int(seed, 0)) if seed not in (None, "") else random.Random(os.urandom(16))
        self.fdt_blob: bytes | None = None
        self.boot: Any = None
        # phandles in QEMU's allocation order (create_fdt, cpu-map, GIC, v2m, GPIO)
        self.clock_phandle = 0x8000
        self.cpu_phandles = {cpu: 0x8001 + (self.smp_cpus - 1 - cpu) for cpu in range(self.smp_cpus)}
        self.gic_phandle = 0x8001 + self.smp_cpus
        self.msi_phandle = self.gic_phandle + 1
        self.gpio_phandle = self.gic_phandle + 2
        self.gic_version = 2

    # -- the board ------------------------------------------------------------------------------
    def check(self) -> None:
        m = self.machine
        self.gic_version = parse_gic_version(self.opts.get("gic-version"))
        self.its = _on(self.opts.get("its"), True)
        if self.gic_version == 3:
            # no v2m frame; the MSI phandle would be the ITS's, and no ITS is emulated
            self.msi_phandle = 0
            self.gpio_phandle = self.gic_phandle + 1
        m.gic_version = self.gic_version   # type: ignore[attr-defined]  # the CPU factory reads it
        for name, default in (("secure", False), ("virtualization", False), ("mte", False),
                              ("highmem", True)):
            if _on(self.opts.get(name), default) != default:
                raise QOMError(f"mach-virt: {name}={'on' if not default else 'off'} is not supported yet")
        if self.opts.get("iommu", "none") not in ("none", ""):
            raise QOMError(f"mach-virt: iommu={self.opts['iommu']} is not supported yet")
        if self.cpu_type not in CPU_DT_COMPATIBLE:
            raise QOMError("mach-virt: CPU type " + self.cpu_type + "-arm-cpu not supported")
        # QEMU allows 512 CPUs with a GICv3; pyqemu's generic timer models 8 (and the GICv3 one
        # redistributor region, 123)
        max_cpus = GIC_MAX_CPUS if self.gic_version == 2 else min(GICV3_MAX_CPUS, TIMER_MAX_CPUS)
        if self.smp_cpus > max_cpus:
            raise QOMError(f"Number of SMP CPUs requested ({self.smp_cpus}) exceeds max CPUs "
                           f"supported by machine 'mach-virt' ({max_cpus})"
                           + (" (pyqemu: the generic timer models 8 CPUs)" if self.gic_version == 3 else ""))
        if m.ram_size > 255 * GiB:
            raise QOMError("cannot model more than 255GB RAM")

    def build(self) -> None:
        """machvirt_init: devices in QEMU's creation order."""
        self.check()
        self.create_cpus()
        self.create_flash()
        self.create_ram()
        self.create_gic()
        self.create_timer()
        self.create_uart()
        self.create_rtc()
        self.create_pcie()
        self.create_gpio_devices()
        self.create_virtio_devices()
        self.create_fw_cfg()
        self.create_platform_bus()

    def sysbus_add(self, dev: Any) -> Any:
        return self.machine.realize_device(dev)

    def map_region(self, dev: SysBusDevice, base: int) -> None:
        """Map a device's first region straight into system memory, as QEMU's virt does for the
        UART, GPIO and flash (so ``info qtree`` shows them unmapped, like QEMU)."""
        self.machine.system_memory.add_subregion(base, dev.mmio_region(0))

    def spi(self, n: int) -> IRQ:
        return self.gic.gpio_in(n)

    def create_cpus(self) -> None:
        if _cpu_factory is None:
            return
        from pyqemu.qom.object import ForeignObject
        for i in range(self.smp_cpus):
            self.cpus.append(_cpu_factory(self.machine, self.cpu_type, i,
                                          virt_cpu_mp_affinity(i, self.gic_version)))
            # The vCPU lives outside QOM; its place in the tree keeps /machine/unattached/device[N]
            # numbered as QEMU's (CPUs first, then the GIC at device[smp]).
            self.machine.unattached.add_child("device[*]", ForeignObject(f"{self.cpu_type}-arm-cpu"))
        self.machine.cpus = list(self.cpus)

    def create_ram(self) -> None:
        ram = self.machine.ram
        if ram is not None:
            self.machine.system_memory.add_subregion(self.memmap["VIRT_MEM"].base, ram)

    def create_flash(self) -> None:
        mod = _optional("pyqemu.hw.block.pflash_cfi01")
        if mod is None:
            return
        backings = list(getattr(self.machine, "pflash_backings", None) or _pflash_drives or [None, None])
        flash = self.memmap["VIRT_FLASH"]
        bank = flash.size // 2
        for i, name in enumerate(("virt.flash0", "virt.flash1")):
            backing = backings[i] if i < len(backings) else None
            dev = mod.create_virt_flash(name, backing)
            if backing is not None and getattr(backing, "name", None):
                dev.drive = backing.name   # info qtree's drive = "pflash0"
            self.machine.add_child(name, dev)   # /machine/virt.flash0, as QEMU's virt_flash_create1
            self.sysbus_add(dev)
            self.map_region(dev, flash.base + i * bank)
            self.devices[f"flash{i}"] = dev
        if self.machine.opts.get("firmware") and backings and backings[0] is not None:
            raise QOMError("The contents of the first flash device may be specified with -bios or with "
                           "-drive if=pflash... but you cannot use both options at once")

    def create_gic(self) -> None:
        if self.gic_version == 3:
            self.create_gicv3()
            return
        gic = ARMGIC()
        gic.revision = 2
        gic.num_cpu = self.smp_cpus
        gic.num_irq = NUM_IRQS + GIC_NR_PRIVATE
        gic.current_cpu = lambda: self.current_cpu
        self.sysbus_add(gic)
        gic.mmio_map(0, self.memmap["VIRT_GIC_DIST"].base)
        gic.mmio_map(1, self.memmap["VIRT_GIC_CPU"].base)
        self.gic = gic
        n = self.smp_cpus
        for i, cpu in enumerate(self.cpus):
            for k, line in enumerate((ARM_CPU_IRQ, ARM_CPU_FIQ, ARM_CPU_VIRQ, ARM_CPU_VFIQ)):
                gic.connect_irq(i + k * n, cpu.irq_input(line))
        v2m = ARMGICv2m()
        v2m.base_spi = self.irqmap["VIRT_GIC_V2M"]
        v2m.num_spi = NUM_GICV2M_SPIS
        self.sysbus_add(v2m)
        v2m.mmio_map(0, self.memmap["VIRT_GIC_V2M"].base)
        for i in range(NUM_GICV2M_SPIS):
            v2m.connect_irq(i, self.spi(v2m.base_spi + i))
        self.v2m = v2m

    def create_gicv3(self) -> None:
        """The GICv3 (QEMU's ``arm-gicv3`` under TCG): distributor and one redistributor region.

        QEMU 7.2 also creates an ITS unless ``its=off`` and gives the GIC LPI support either way
        (``has-lpi``: GICD_TYPER.LPIS, GICR_TYPER.PLPIS, GICR_PROPBASER/PENDBASER). pyqemu has
        no ITS: the LPI registers hold values, no ITS node or PCIe ``msi-map`` is generated
        whatever ``its`` says (Linux then runs PCI devices on INTx)."""
        gic = ARMGICv3()
        gic.revision = 3
        gic.num_cpu = self.smp_cpus
        gic.num_irq = NUM_IRQS + GIC_NR_PRIVATE
        gic.has_lpi = True
        gic.cpu_affinity = [virt_cpu_mp_affinity(i, 3) for i in range(self.smp_cpus)]
        self.sysbus_add(gic)
        gic.mmio_map(0, self.memmap["VIRT_GIC_DIST"].base)
        gic.mmio_map(1, self.memmap["VIRT_GIC_REDIST"].base)
        self.gic = gic
        n = self.smp_cpus
        for i, cpu in enumerate(self.cpus):
            for k, line in enumerate((ARM_CPU_IRQ, ARM_CPU_FIQ, ARM_CPU_VIRQ, ARM_CPU_VFIQ)):
                gic.connect_irq(i + k * n, cpu.irq_input(line))
            attach = getattr(cpu, "attach_gicv3_cpuif", None)
            if attach is not None:
                attach(gic.cpuif(i))

    def ppi(self, cpu: int, intid: int) -> IRQ:
        """The GIC input of CPU ``cpu``'s private interrupt ``intid``."""
        return self.gic.gpio_in(NUM_IRQS + cpu * GIC_NR_PRIVATE + intid)

    def create_timer(self) -> None:
        """The generic timers of every CPU, wired to their PPIs (QEMU wires the CPU's outputs)."""
        timer = ARMGenericTimer()
        timer.num_cpu = self.smp_cpus
        self.machine.unattached.add_child("generic-timer", timer)
        timer.qdev_realize()
        for cpu in range(self.smp_cpus):
            for idx, intid in enumerate(TIMER_INTIDS):
                timer.connect_gpio_out(4 * cpu + idx, self.ppi(cpu, intid), "timer")
        for i, cpu_obj in enumerate(self.cpus):
            cpu_obj.attach_generic_timer(timer, i)
            pmu = getattr(cpu_obj, "pmu_interrupt", None)
            if pmu is not None:
                pmu.connect(self.ppi(i, 16 + VIRTUAL_PMU_IRQ))
        self.timer = timer

    def create_uart(self) -> None:
        mod = _optional("pyqemu.hw.char.pl011")
        if mod is None:
            return
        dev = mod.PL011()
        chardevs = getattr(self.machine, "serial_chardevs", None) or []
        if chardevs and chardevs[0] is not None:
            dev.attach_chardev(chardevs[0])
        self.sysbus_add(dev)
        self.map_region(dev, self.memmap["VIRT_UART"].base)
        dev.connect_irq(0, self.spi(self.irqmap["VIRT_UART"]))
        self.devices["uart"] = dev

    def create_rtc(self) -> None:
        mod = _optional("pyqemu.hw.rtc.pl031")
        if mod is None:
            return
        dev = mod.PL031()
        self.sysbus_add(dev)
        dev.mmio_map(0, self.memmap["VIRT_RTC"].base)
        dev.connect_irq(0, self.spi(self.irqmap["VIRT_RTC"]))
        self.devices["rtc"] = dev

    def create_pcie(self) -> None:
        gpex = GPEXHost()
        gpex.dma_as = self.machine.address_space_memory   # where PCI bus masters reach
        self.sysbus_add(gpex)
        ecam = self.memmap["VIRT_HIGH_PCIE_ECAM"]
        mmio = self.memmap["VIRT_PCIE_MMIO"]
        high = self.memmap["VIRT_HIGH_PCIE_MMIO"]
        sysmem = self.machine.system_memory
        # the board maps windows of the bridge's regions, as QEMU's aliases do
        sysmem.add_subregion(ecam.base, MemoryRegion.alias_region(
            "pcie-ecam", gpex.mmio_region(0), 0, ecam.size, owner=gpex))
        sysmem.add_subregion(mmio.base, MemoryRegion.alias_region(
            "pcie-mmio", gpex.mmio_region(1), mmio.base, mmio.size, owner=gpex))
        sysmem.add_subregion(high.base, MemoryRegion.alias_region(
            "pcie-mmio-high", gpex.mmio_region(1), high.base, high.size, owner=gpex))
        gpex.mmio_map(2, self.memmap["VIRT_PCIE_PIO"].base)
        for i in range(GPEX_NUM_IRQS):
            gpex.connect_irq(i, self.spi(self.irqmap["VIRT_PCIE"] + i))
        self.gpex = gpex

    def create_gpio_devices(self) -> None:
        mod = _optional("pyqemu.hw.gpio.pl061")
        if mod is None:
            return
        dev = mod.PL061()
        dev.pullups = 0
        dev.pulldowns = 0xFF
        self.sysbus_add(dev)
        self.map_region(dev, self.memmap["VIRT_GPIO"].base)
        dev.connect_irq(0, self.spi(self.irqmap["VIRT_GPIO"]))
        self.devices["gpio"] = dev
        keys = _optional("pyqemu.hw.gpio.gpio_key")
        if keys is not None:
            from pyqemu.system import runstate
            rs = runstate.current()
            add = getattr(rs, "add_powerdown_notifier", None)
            self.devices["gpio-key"] = keys.wire_power_button(dev, add or (lambda _cb: None))

    def create_virtio_devices(self) -> None:
        base = self.memmap["VIRT_MMIO"]
        for i in range(NUM_VIRTIO_TRANSPORTS):
            dev = VirtioMMIO()
            dev.dma_as = self.machine.address_space_memory
            self.sysbus_add(dev)
            dev.mmio_map(0, base.base + i * base.size)
            dev.connect_irq(0, self.spi(self.irqmap["VIRT_MMIO"] + i))
            self.virtio.append(dev)

    def create_fw_cfg(self) -> None:
        mod = _optional("pyqemu.hw.nvram.fw_cfg")
        if mod is None:
            return
        base = self.memmap["VIRT_FW_CFG"].base
        m = self.machine
        dev = mod.fw_cfg_init_mem_wide(m.sysbus, base + 8, base, 8, base + 16, m.address_space_memory)
        m.add_child("fw_cfg", dev)   # /machine/fw_cfg, as QEMU's fw_cfg_init_mem_wide
        dev.add_i16(mod.FW_CFG_NB_CPUS, self.smp_cpus)
        self.devices["fw_cfg"] = dev

    def create_platform_bus(self) -> None:
        """The (empty) platform bus for dynamic sysbus devices; QEMU maps its region directly."""
        pb = self.memmap["VIRT_PLATFORM_BUS"]
        dev = PlatformBusDevice()
        dev.id = "platform-bus-device"
        dev.num_irqs = PLATFORM_BUS_NUM_IRQS
        dev.mmio_size = pb.size
        self.sysbus_add(dev)
        for i in range(PLATFORM_BUS_NUM_IRQS):
            dev.connect_irq(i, self.spi(self.irqmap["VIRT_PLATFORM_BUS"] + i))
        self.machine.system_memory.add_subregion(pb.base, dev.region)
        self.platform_bus = dev

    # -- reset -----------------------------------------------------------------------------------
    def reset(self) -> None:
        """CPU and timer reset after the devices' (QEMU resets CPUs through the board)."""
        self.timer.reset()
        if self.boot is not None:
            self.boot.reset_cpus(self)


def virt_init(machine: Machine) -> VirtBoard:
    """The ``virt`` machine's init hook: build the board, its DT, and load the boot images."""
    from pyqemu.hw.arm import virt_boot, virt_fdt

    board = VirtBoard(machine)
    board.build()
    board.boot = virt_boot.BootInfo.from_machine(machine, board)
    board.boot.plan(board)
    board.fdt_blob = virt_fdt.build_fdt(board)
    board.boot.load(board)
    machine.board = board   # type: ignore[attr-defined]
    orig_reset = machine.reset

    def reset() -> None:
        orig_reset()
        board.reset()

    machine.reset = reset   # type: ignore[method-assign]
    return board
