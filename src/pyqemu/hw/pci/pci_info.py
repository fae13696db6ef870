"""``query-pci`` (QMP) and ``info pci`` (HMP): every function on every root bus, walking bridges
by their programmed secondary bus numbers, as QEMU 7.2's hw/pci/pci.c and hmp_info_pci print.

Interface: ``query_pci(machine) -> list[PciInfo dict]``, ``hmp_info_pci(machine) -> str``,
``register(reg)`` (the QMP command and the HMP ``info pci`` entry).
"""
from __future__ import annotations

from typing import Any

from pyqemu.hw.pci.pci import (
    PCI_BAR_UNMAPPED,
    PCI_BASE_ADDRESS_MEM_PREFETCH,
    PCI_HEADER_TYPE_NORMAL,
    PCI_INTERRUPT_LINE,
    PCI_INTERRUPT_PIN,
    PCIBus,
    PCIDevice,
)

# QEMU's pci_class_descriptions (the entries a query shows as "desc")
CLASS_DESC = {
    0x0001: "VGA", 0x0100: "SCSI controller", 0x0101: "IDE controller", 0x0102: "Floppy controller",
    0x0103: "IPI controller", 0x0104: "RAID controller", 0x0106: "SATA controller",
    0x0107: "SAS controller", 0x0180: "Storage controller", 0x0200: "Ethernet controller",
    0x0201: "Token Ring controller", 0x0202: "FDDI controller", 0x0203: "ATM controller",
    0x0280: "Network controller", 0x0300: "VGA controller", 0x0301: "XGA controller",
    0x0302: "3D controller", 0x0380: "Display controller", 0x0400: "Video controller",
    0x0401: "Audio controller", 0x0402: "Phone", 0x0403: "Audio controller",
    0x0480: "Multimedia controller", 0x0500: "RAM controller", 0x0501: "Flash controller",
    0x0580: "Memory controller", 0x0600: "Host bridge", 0x0601: "ISA bridge", 0x0602: "EISA bridge",
    0x0603: "MC bridge", 0x0604: "PCI bridge", 0x0605: "PCMCIA bridge", 0x0606: "NUBUS bridge",
    0x0607: "CARDBUS bridge", 0x0608: "RACEWAY bridge", 0x0680: "Bridge", 0x0700: "Serial port",
    0x0701: "Parallel port", 0x0800: "Interrupt controller", 0x0801: "DMA controller",
    0x0802: "Timer", 0x0803: "RTC", 0x0900: "Keyboard", 0x0901: "Pen", 0x0902: "Mouse",
    0x0A00: "Dock station", 0x0B00: "i386 cpu", 0x0B01: "i486 cpu", 0x0B02: "pentium cpu",
    0x0B10: "alpha cpu", 0x0B20: "powerpc cpu", 0x0B30: "mips cpu", 0x0B40: "co-processor",
    0x0C00: "Fireware controller", 0x0C01: "Access bus controller", 0x0C02: "SSA controller",
    0x0C03: "USB controller", 0x0C04: "Fibre channel controller", 0x0C05: "SMBus",
    0x0D00: "IRDA controller", 0x0D01: "IR controller", 0x0D10: "RF controller",
    0x0D11: "Bluetooth controller", 0x0D12: "Broadband controller", 0x0D80: "Network controller",
    0x0E00: "I2O controller", 0x0F00: "Satellite controller", 0x0F01: "Satellite controller",
    0x0F02: "Satellite controller", 0x0F03: "Satellite controller",
    0x0F10: "Encryption controller", 0x0F80: "Encryption controller",
    0x1000: "Encryption controller", 0x1010: "Encryption controller",
    0x1080: "Encryption controller", 0x1100: "Signal processing controller",
    0x1101: "Signal processing controller", 0x1110: "Signal processing controller",
    0x1180: "Signal processing controller",
}


def _root_buses(machine: Any) -> list[PCIBus]:
    buses = []
    sysbus = getattr(machine, "sysbus", None)
    for dev in reversed(getattr(sysbus, "devices", [])):   # creation order
        bus = getattr(dev, "bus", None)
        if isinstance(bus, PCIBus) and bus.is_root:
            buses.append(bus)
    return buses


def _regions(dev: PCIDevice) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, r in enumerate(dev.io_regions):
        if r is None:
            continue
        reg: dict[str, Any] = {"bar": n, "type": "io" if r.is_io else "memory",
                               "address": r.addr if r.addr != PCI_BAR_UNMAPPED else -1,
                               "size": r.size}
        if not r.is_io:
            reg["prefetch"] = bool(r.type & PCI_BASE_ADDRESS_MEM_PREFETCH)
            reg["mem_type_64"] = r.is_64
        out.append(reg)
    return out


def _device_info(dev: PCIDevice, bus: PCIBus, bus_num: int) -> dict[str, Any]:
    c = dev.config
    class_id = dev.get_word(0x0A)
    class_info: dict[str, Any] = {"class": class_id}
    if class_id in CLASS_DESC:
        class_info["desc"] = CLASS_DESC[class_id]
    ident: dict[str, Any] = {"device": dev.get_word(2), "vendor": dev.get_word(0)}
    if c[0x0E] & 0x7F == PCI_HEADER_TYPE_NORMAL:
        ident["subsystem"] = dev.get_word(0x2E)
        ident["subsystem-vendor"] = dev.get_word(0x2C)
    info: dict[str, Any] = {"bus": bus_num, "slot": dev.devfn >> 3, "function": dev.devfn & 7,
                            "class_info": class_info, "id": ident}
    if c[PCI_INTERRUPT_PIN]:
        info["irq"] = c[PCI_INTERRUPT_LINE]
    info["irq_pin"] = c[PCI_INTERRUPT_PIN]
    info["qdev_id"] = dev.id or ""
    if dev.is_bridge and hasattr(dev, "window_ranges"):
        w = dev.window_ranges()
        rng = {"number": c[0x18], "secondary": c[0x19], "subordinate": c[0x1A],
               "io_range": {"base": w["io"][0], "limit": w["io"][1]},
               "memory_range": {"base": w["mem"][0], "limit": w["mem"][1]},
               "prefetchable_range": {"base": w["pref"][0], "limit": w["pref"][1]}}
        bridge: dict[str, Any] = {"bus": rng}
        if c[0x19]:
            child = bus.find_bus(c[0x19])
            if child is not None:
                bridge["devices"] = _devices(child, c[0x19])
        info["pci_bridge"] = bridge
    info["regions"] = _regions(dev)
    return info


def _devices(bus: PCIBus, bus_num: int) -> list[dict[str, Any]]:
    return [_device_info(d, bus, bus_num) for _, d in sorted(bus.by_devfn.items())]


def query_pci(machine: Any) -> list[dict[str, Any]]:
    """QMP ``query-pci``: a PciInfo per root bus."""
    return [{"bus": b.bus_num, "devices": _devices(b, b.bus_num)} for b in _root_buses(machine)]


def _hmp_device(info: dict[str, Any]) -> str:
    out = [f"  Bus {info['bus']:2d}, device {info['slot']:3d}, function {info['function']}:\n    "]
    ci = info["class_info"]
    out.append(ci["desc"] if "desc" in ci else f"Class {ci['class']:04d}")   # sic: decimal
    ident = info["id"]
    out.append(f": PCI device {ident['vendor']:04x}:{ident['device']:04x}\n")
    if "subsystem" in ident:
        out.append(f"      PCI subsystem {ident['subsystem-vendor']:04x}:{ident['subsystem']:04x}\n")
    if "irq" in info:
        out.append(f"      IRQ {info['irq']}, pin {chr(ord('A') + info['irq_pin'] - 1)}\n")
    br = info.get("pci_bridge")
    if br is not None:
        r = br["bus"]
        out.append(f"      BUS {r['number']}.\n      secondary bus {r['secondary']}.\n"
                   f"      subordinate bus {r['subordinate']}.\n")
        out.append(f"      IO range [0x{r['io_range']['base']:04x}, 0x{r['io_range']['limit']:04x}]\n")
        out.append(f"      memory range [0x{r['memory_range']['base']:08x}, "
                   f"0x{r['memory_range']['limit']:08x}]\n")
        out.append(f"      prefetchable memory range [0x{r['prefetchable_range']['base']:08x}, "
                   f"0x{r['prefetchable_range']['limit']:08x}]\n")
    m64 = (1 << 64) - 1
    for reg in info["regions"]:
        addr = reg["address"] & m64
        end = (addr + reg["size"] - 1) & m64
        if reg["type"] == "io":
            out.append(f"      BAR{reg['bar']}: I/O at 0x{addr:04x} [0x{end:04x}].\n")
        else:
            out.append(f"      BAR{reg['bar']}: {64 if reg['mem_type_64'] else 32} bit"
                       f"{' prefetchable' if reg['prefetch'] else ''} memory at 0x{addr:08x} "
                       f"[0x{end:08x}].\n")
    out.append(f"      id \"{info['qdev_id']}\"\n")
    if br is not None:
        for child in br.get("devices", []):
            out.append(_hmp_device(child))
    return "".join(out)


def hmp_info_pci(machine: Any) -> str:
    """HMP ``info pci``."""
    return "".join(_hmp_device(d) for b in query_pci(machine) for d in b["devices"])


def register_hmp() -> None:
    from pyqemu.monitor import hmp
    if any(c.matches("pci") for c in hmp.INFO_COMMANDS):
        return
    hmp.INFO_COMMANDS.append(hmp.HMPCommand("pci", "", "show PCI info",
                                            lambda h, _args: hmp_info_pci(h.machine)))
    hmp.INFO_COMMANDS.sort(key=lambda c: c.name)


def register(reg: Any) -> None:
    """Add QMP ``query-pci`` and HMP ``info pci``."""
    @reg.command("query-pci", returns="[PciInfo]")
    def _query_pci(ctx: Any) -> list[dict[str, Any]]:
        tree = ctx.providers.qom
        root = getattr(tree, "root", None)    # QOMTreeView over the real QOM tree
        machine = root.child("machine") if root is not None else None
        return query_pci(machine) if machine is not None else []

    register_hmp()
