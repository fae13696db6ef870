"""The device tree the ``virt`` board hands to firmware and kernels (QEMU 7.2 ``hw/arm/virt.c``
create_fdt/fdt_add_*/create_*, and ``hw/arm/boot.c`` arm_load_dtb).

libfdt inserts a new property or subnode *before* the existing ones, so QEMU's tree lists
nodes and properties in the reverse of the order it creates them. We write the final order
directly: the root's children below run from the last created (psci) to the first
(/chosen), which is what specs/virt-aarch64.dts shows. Phandles are allocated in QEMU's
order (clock, CPUs from the highest, GIC, MSI frame, GPIO) by ``VirtBoard``.

The blob is padded to 1 MiB (totalsize 0x100000), as QEMU's.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import fdt

if TYPE_CHECKING:
    from pyqemu.hw.arm.virt import VirtBoard

FDT_MAX_SIZE = 0x100000
GIC_FDT_IRQ_TYPE_SPI, GIC_FDT_IRQ_TYPE_PPI = 0, 1
GIC_FDT_IRQ_FLAGS_EDGE_LO_HI, GIC_FDT_IRQ_FLAGS_LEVEL_HI = 1, 4
GIC_FDT_IRQ_PPI_CPU_SHIFT = 8
# PSCI 0.2+ function IDs (SMC64 where there is a 64-bit variant)
PSCI_CPU_SUSPEND, PSCI_CPU_OFF, PSCI_CPU_ON, PSCI_MIGRATE = 0xC4000001, 0x84000002, 0xC4000003, 0xC4000005


def _cells(value: int, n: int = 2) -> list[int]:
    return [(value >> (32 * (n - 1 - i))) & 0xFFFFFFFF for i in range(n)]


def _reg(*pairs: tuple[int, int]) -> list[int]:
    out: list[int] = []
    for base, size in pairs:
        out += _cells(base) + _cells(size)
    return out


def _node(name: str, *props: Any) -> fdt.Node:
    node = fdt.Node(name)
    for p in props:
        node.append(p)
    return node


def _words(name: str, *values: int) -> fdt.PropWords:
    return fdt.PropWords(name, *values)


def _strings(name: str, *values: str) -> fdt.PropStrings:
    return fdt.PropStrings(name, *values)


def build_fdt(b: VirtBoard) -> bytes:
    """The DTB of board ``b`` (with /chosen filled from its boot info), padded to 1 MiB."""
    tree = fdt.FDT()
    root = tree.root
    for p in (_words("interrupt-parent", b.gic_phandle), _strings("model", "linux,dummy-virt"),
              _words("#size-cells", 2), _words("#address-cells", 2),
              _strings("compatible", "linux,dummy-virt")):
        root.append(p)
    add = tree.add_item
    mm = b.memmap
    add(_psci_node())
    ram_size = b.machine.ram_size
    add(_node(f"memory@{mm['VIRT_MEM'].base:x}",
              _words("reg", *_reg((mm["VIRT_MEM"].base, ram_size))), _strings("device_type", "memory")))
    pb = mm["VIRT_PLATFORM_BUS"]
    add(_node(f"platform-bus@{pb.base:x}", _words("interrupt-parent", b.gic_phandle),
              _words("ranges", 0, 0, pb.base, pb.size), _words("#address-cells", 1),
              _words("#size-cells", 1), _strings("compatible", "qemu,platform", "simple-bus")))
    if "fw_cfg" in b.devices:
        from pyqemu.hw.nvram.fw_cfg import fdt_add_fw_cfg
        fdt_add_fw_cfg(tree, mm["VIRT_FW_CFG"].base, mm["VIRT_FW_CFG"].size)
    for i, _dev in enumerate(b.virtio):
        base = mm["VIRT_MMIO"].base + i * mm["VIRT_MMIO"].size
        add(_node(f"virtio_mmio@{base:x}", fdt.Property("dma-coherent"),
                  _words("interrupts", GIC_FDT_IRQ_TYPE_SPI, b.irqmap["VIRT_MMIO"] + i,
                         GIC_FDT_IRQ_FLAGS_EDGE_LO_HI),
                  _words("reg", *_reg((base, mm["VIRT_MMIO"].size))), _strings("compatible", "virtio,mmio")))
    if "gpio-key" in b.devices:
        from pyqemu.hw.gpio.gpio_key import fdt_add_gpio_keys
        fdt_add_gpio_keys(tree, gpio_phandle=b.gpio_phandle)
    if "gpio" in b.devices:
        from pyqemu.hw.gpio.pl061 import fdt_add_pl061
        fdt_add_pl061(tree, mm["VIRT_GPIO"].base, mm["VIRT_GPIO"].size, spi=b.irqmap["VIRT_GPIO"],
                      clock_phandle=b.clock_phandle, phandle=b.gpio_phandle)
    add(_pcie_node(b))
    if "rtc" in b.devices:
        from pyqemu.hw.rtc.pl031 import fdt_add_pl031
        fdt_add_pl031(tree, mm["VIRT_RTC"].base, mm["VIRT_RTC"].size, spi=b.irqmap["VIRT_RTC"],
                      clock_phandle=b.clock_phandle)
    if "uart" in b.devices:
        from pyqemu.hw.char.pl011 import fdt_add_pl011
        fdt_add_pl011(tree, mm["VIRT_UART"].base, mm["VIRT_UART"].size, spi=b.irqmap["VIRT_UART"],
                      clock_phandle=b.clock_phandle)
    ppi_flags = GIC_FDT_IRQ_FLAGS_LEVEL_HI
    if b.gic_version == 2:   # the GICv2 binding names the CPUs a PPI goes to
        ppi_flags |= ((1 << b.smp_cpus) - 1) << GIC_FDT_IRQ_PPI_CPU_SHIFT
    from pyqemu.hw.arm.virt import (
        ARCH_TIMER_NS_EL1_IRQ,
        ARCH_TIMER_NS_EL2_IRQ,
        ARCH_TIMER_S_EL1_IRQ,
        ARCH_TIMER_VIRT_IRQ,
        CPU_DT_COMPATIBLE,
        VIRTUAL_PMU_IRQ,
        virt_cpu_mp_affinity,
    )
    add(_node("pmu", _words("interrupts", GIC_FDT_IRQ_TYPE_PPI, VIRTUAL_PMU_IRQ, ppi_flags),
              _strings("compatible", "arm,armv8-pmuv3")))
    add(_gic_node(b))
    if "flash0" in b.devices:
        from pyqemu.hw.block.pflash_cfi01 import fdt_add_flash
        fdt_add_flash(tree, mm["VIRT_FLASH"].base, mm["VIRT_FLASH"].size // 2)
    # /cpus: cpu-map (added after the CPU nodes, so first), then cpu@0..n-1
    cpus = _node("cpus", _words("#size-cells", 0), _words("#address-cells", 1))
    cpu_map = fdt.Node("cpu-map")
    socket = fdt.Node("socket0")
    cluster = fdt.Node("cluster0")
    for i in range(b.smp_cpus):
        cluster.append(_node(f"core{i}", _words("cpu", b.cpu_phandles[i])))
    socket.append(cluster)
    cpu_map.append(socket)
    cpus.append(cpu_map)
    compat = CPU_DT_COMPATIBLE[b.cpu_type]
    for i in range(b.smp_cpus):
        props = [_words("phandle", b.cpu_phandles[i]), _words("reg", virt_cpu_mp_affinity(i, b.gic_version))]
        if b.smp_cpus > 1:
            props.append(_strings("enable-method", "psci"))
        props += [_strings("compatible", compat), _strings("device_type", "cpu")]
        cpus.append(_node(f"cpu@{i}", *props))
    add(cpus)
    add(_node("timer", _words("interrupts",
                               GIC_FDT_IRQ_TYPE_PPI, ARCH_TIMER_S_EL1_IRQ, ppi_flags,
                               GIC_FDT_IRQ_TYPE_PPI, ARCH_TIMER_NS_EL1_IRQ, ppi_flags,
                               GIC_FDT_IRQ_TYPE_PPI, ARCH_TIMER_VIRT_IRQ, ppi_flags,
                               GIC_FDT_IRQ_TYPE_PPI, ARCH_TIMER_NS_EL2_IRQ, ppi_flags),
              fdt.Property("always-on"), _strings("compatible", "arm,armv8-timer", "arm,armv7-timer")))
    add(_node("apb-pclk", _words("phandle", b.clock_phandle), _strings("clock-output-names", "clk24mhz"),
              _words("clock-frequency", 24000000), _words("#clock-cells", 0),
              _strings("compatible", "fixed-clock")))
    add(_chosen_node(b))
    blob = bytearray(tree.to_dtb(version=17))
    if len(blob) > FDT_MAX_SIZE:
        raise ValueError("device tree larger than 1 MiB")
    blob[4:8] = FDT_MAX_SIZE.to_bytes(4, "big")   # totalsize: the unused room stays at the end
    blob += bytes(FDT_MAX_SIZE - len(blob))
    return bytes(blob)


def _psci_node() -> fdt.Node:
    return _node("psci", _words("migrate", PSCI_MIGRATE), _words("cpu_on", PSCI_CPU_ON),
                 _words("cpu_off", PSCI_CPU_OFF), _words("cpu_suspend", PSCI_CPU_SUSPEND),
                 _strings("method", "hvc"),
                 _strings("compatible", "arm,psci-1.0", "arm,psci-0.2", "arm,psci"))


def _pcie_node(b: VirtBoard) -> fdt.Node:
    mm = b.memmap
    ecam, pio = mm["VIRT_HIGH_PCIE_ECAM"], mm["VIRT_PCIE_PIO"]
    mmio, high = mm["VIRT_PCIE_MMIO"], mm["VIRT_HIGH_PCIE_MMIO"]
    irq_map: list[int] = []
    for slot in range(4):
        for pin in range(4):
            irq_map += [slot << 11, 0, 0, pin + 1, b.gic_phandle, 0, 0, GIC_FDT_IRQ_TYPE_SPI,
                        b.irqmap["VIRT_PCIE"] + (pin + slot) % 4, GIC_FDT_IRQ_FLAGS_LEVEL_HI]
    ranges = ([0x1000000, 0, 0] + _cells(pio.base) + _cells(pio.size)
              + [0x2000000] + _cells(mmio.base) + _cells(mmio.base) + _cells(mmio.size)
              + [0x3000000] + _cells(high.base) + _cells(high.base) + _cells(high.size))
    nr_pcie_buses = ecam.size // (1 << 20)
    return _node(f"pcie@{mmio.base:x}",
                 _words("interrupt-map-mask", 0x1800, 0, 0, 7), _words("interrupt-map", *irq_map),
                 _words("#interrupt-cells", 1), _words("ranges", *ranges),
                 _words("reg", *_reg((ecam.base, ecam.size))),
                 *([_words("msi-map", 0, b.msi_phandle, 0, 0x10000)] if b.msi_phandle else []),
                 fdt.Property("dma-coherent"),
                 _words("bus-range", 0, nr_pcie_buses - 1), _words("linux,pci-domain", 0),
                 _words("#size-cells", 2), _words("#address-cells", 3), _strings("device_type", "pci"),
                 _strings("compatible", "pci-host-ecam-generic"))


def _gicv3_node(b: VirtBoard) -> fdt.Node:
    """QEMU's GICv3 node: the distributor and one redistributor region (no ITS child: none is
    emulated; no maintenance interrupt: no virtualization)."""
    mm = b.memmap
    dist, redist = mm["VIRT_GIC_DIST"], mm["VIRT_GIC_REDIST"]
    return _node(f"intc@{dist.base:x}", _words("phandle", b.gic_phandle),
                 _words("reg", *_reg((dist.base, dist.size), (redist.base, redist.size))),
                 _words("#redistributor-regions", 1),
                 _strings("compatible", "arm,gic-v3"), fdt.Property("ranges"),
                 _words("#size-cells", 2), _words("#address-cells", 2),
                 fdt.Property("interrupt-controller"), _words("#interrupt-cells", 3))


def _gic_node(b: VirtBoard) -> fdt.Node:
    if b.gic_version == 3:
        return _gicv3_node(b)
    mm = b.memmap
    dist, cpu, v2m = mm["VIRT_GIC_DIST"], mm["VIRT_GIC_CPU"], mm["VIRT_GIC_V2M"]
    node = _node(f"intc@{dist.base:x}", _words("phandle", b.gic_phandle),
                 _words("reg", *_reg((dist.base, dist.size), (cpu.base, cpu.size))),
                 _strings("compatible", "arm,cortex-a15-gic"), fdt.Property("ranges"),
                 _words("#size-cells", 2), _words("#address-cells", 2),
                 fdt.Property("interrupt-controller"), _words("#interrupt-cells", 3))
    node.append(_node(f"v2m@{v2m.base:x}", _words("phandle", b.msi_phandle),
                      _words("reg", *_reg((v2m.base, v2m.size))), fdt.Property("msi-controller"),
                      _strings("compatible", "arm,gic-v2m-frame")))
    return node


def _chosen_node(b: VirtBoard) -> fdt.Node:
    chosen = fdt.Node("chosen")
    boot = b.boot
    if boot is not None and boot.is_linux and boot.initrd_size:
        # one cell each (qemu_fdt_setprop_cell), whatever the root's #address-cells
        chosen.append(_words("linux,initrd-end", (boot.initrd_start + boot.initrd_size) & 0xFFFFFFFF))
        chosen.append(_words("linux,initrd-start", boot.initrd_start & 0xFFFFFFFF))
    if boot is not None and boot.cmdline:
        chosen.append(_strings("bootargs", boot.cmdline))
    if "uart" in b.devices:
        chosen.append(_strings("stdout-path", f"/pl011@{b.memmap['VIRT_UART'].base:x}"))
    if b.dtb_randomness:
        chosen.append(fdt.PropBytes("rng-seed", data=bytes(b.rng.getrandbits(8) for _ in range(32))))
        chosen.append(_words("kaslr-seed", *_cells(b.rng.getrandbits(64))))
    return chosen
