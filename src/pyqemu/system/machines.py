"""Machine types and device types known to the command line (``-M help``, ``-device help``).

A board module registers its ``MachineClass`` here; the registry only
describes machines (name, description, limits, properties), it does not build
them (``init`` does, importing the board lazily). ``none`` (an empty machine: no CPU
unless ``-cpu`` asks, no RAM unless ``-m`` asks) and ``virt`` (hw/arm/virt.py) exist.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MachineProp:
    name: str
    type: str  # QOM type name as QEMU prints it: string, bool, int, link<...>, ...
    desc: str


# Properties every QEMU 7.2 machine has (hw/core/machine.c), as `-M none,help` prints them.
COMMON_PROPS: tuple[MachineProp, ...] = (
    MachineProp("append", "string", "Linux kernel command line"),
    MachineProp("boot", "BootConfiguration", "Boot configuration"),
    MachineProp("confidential-guest-support", "link<confidential-guest-support>",
                "Set confidential guest scheme to support"),
    MachineProp("dt-compatible", "string", "Overrides the \"compatible\" property of the dt root node"),
    MachineProp("dtb", "string", "Linux kernel device tree file"),
    MachineProp("dump-guest-core", "bool", "Include guest memory in a core dump"),
    MachineProp("dumpdtb", "string", "Dump current dtb to a file and quit"),
    MachineProp("firmware", "string", "Firmware image"),
    MachineProp("graphics", "bool", "Set on/off to enable/disable graphics emulation"),
    MachineProp("initrd", "string", "Linux initial ramdisk file"),
    MachineProp("kernel", "string", "Linux kernel image file"),
    MachineProp("mem-merge", "bool", "Enable/disable memory merge support"),
    MachineProp("memory-backend", "link<memory-backend>",
                "Set RAM backendValid value is ID of hostmem based backend"),
    MachineProp("memory-encryption", "string", "Set memory encryption object to use"),
    MachineProp("memory", "MemorySizeConfiguration", "Memory size configuration"),
    MachineProp("phandle-start", "int", "The first phandle ID we may generate dynamically"),
    MachineProp("smp", "SMPConfiguration", "CPU topology"),
    MachineProp("suppress-vmdesc", "bool", "Set on to disable self-describing migration"),
    MachineProp("usb", "bool", "Set on/off to enable/disable usb"),
)


@dataclass(frozen=True)
class MachineClass:
    name: str
    desc: str
    arches: tuple[str, ...]  # targets whose binary offers it ("aarch64", "x86_64")
    is_default: bool = False
    alias: str | None = None
    deprecated: bool = False
    min_cpus: int = 1
    max_cpus: int = 1
    default_ram_size: int = 128 << 20
    dies_supported: bool = False
    clusters_supported: bool = False
    props: tuple[MachineProp, ...] = COMMON_PROPS
    default_ram_id: str | None = None  # the RAM backend's id under /objects (QEMU default_ram_id)
    no_serial: bool = False  # no default serial port (QEMU mc->no_serial: -nographic adds none)
    block_default_type: str = "none"  # -drive's default if= (QEMU mc->block_default_type)
    default_drives: tuple[str, ...] = ()  # empty default drives (floppy0, sd0) unless -nodefaults
    # init(machine): builds the board on a pyqemu.hw.core.machine.Machine (CPUs, devices, map)
    init: Callable[[Any], None] | None = None

    @property
    def type_name(self) -> str:
        return f"{self.name}-machine"

    def prop(self, name: str) -> MachineProp | None:
        for p in self.props:
            if p.name == name:
                return p
        return None


_MACHINES: dict[str, MachineClass] = {}


def register_machine(mc: MachineClass) -> None:
    _MACHINES[mc.name] = mc


def machines(arch: str) -> list[MachineClass]:
    """The machines of `arch`'s binary, sorted by name as ``-M help`` lists them."""
    return sorted((m for m in _MACHINES.values() if arch in m.arches), key=lambda m: m.name)


def find_machine(name: str, arch: str) -> MachineClass | None:
    for m in machines(arch):
        if name in (m.name, m.alias):
            return m
    return None


def default_machine(arch: str) -> MachineClass | None:
    return next((m for m in machines(arch) if m.is_default), None)


def machine_help(arch: str) -> str:
    """``-M help``: QEMU's 'Supported machines are:' list."""
    lines = ["Supported machines are:"]
    for m in machines(arch):
        if m.alias:
            lines.append(f"{m.alias:<20} {m.desc} (alias of {m.name})")
        lines.append(f"{m.name:<20} {m.desc}{' (default)' if m.is_default else ''}"
                     f"{' (deprecated)' if m.deprecated else ''}")
    return "\n".join(lines)


def machine_props_help(mc: MachineClass) -> str:
    """``-M NAME,help``: the machine's properties, QEMU's type_print_class_properties format."""
    return "\n".join([f"{mc.type_name} options:"] + _prop_lines(mc.props))


def _prop_lines(props: tuple[MachineProp, ...]) -> list[str]:
    lines = []
    for p in props:
        s = f"  {p.name}=<{p.type}>"
        lines.append(f"{s:<24} - {p.desc}" if p.desc else s)
    return sorted(lines)  # QEMU sorts the printed lines: "memory-backend=" before "memory="


# `none`: hw/core/null-machine.c. RAM only when -m is given; at most one CPU.
def _none_init(machine: Any) -> None:
    from pyqemu.hw.core.machine import none_machine_init  # boards load lazily: -help stays fast
    none_machine_init(machine)


register_machine(MachineClass("none", "empty machine", ("aarch64", "x86_64"), no_serial=True,
                              max_cpus=1, default_ram_size=0, default_ram_id="ram", init=_none_init))


def create_from_config(cfg: Any) -> tuple[Any, Any]:
    """Build the configured machine (a ``system.config.Config`` after ``vl.resolve``):
    its QOM tree and memory map, then the board's own init. Returns (QOM root, machine)."""
    from pyqemu.hw.core.machine import create_machine
    mc = cfg.machine_class
    opts = {k: v for k, v in cfg.machine.props.items() if k != "accel"}
    for key, attr in (("kernel", "kernel"), ("initrd", "initrd"), ("append", "append"), ("dtb", "dtb"),
                      ("firmware", "bios")):
        value = getattr(cfg, attr, None)
        if isinstance(value, str) and key not in opts:
            opts[key] = value
    if isinstance(getattr(cfg, "cpu", None), str):
        opts.setdefault("cpu-type", cfg.cpu)   # boards read the -cpu model from here (virt: DT, CPUs)
    smp = cfg.smp
    topology = {"cpus": smp.cpus, "maxcpus": smp.max_cpus, "threads": smp.threads, "cores": smp.cores,
                "dies": smp.dies, "sockets": smp.sockets, "clusters": smp.clusters}
    if getattr(cfg, "nographic", False):
        opts.setdefault("graphics", "off")  # as vl.c does for -nographic
    b = cfg.boot
    boot: dict[str, Any] = {"order": b.order or ""}
    for key, value in (("once", b.once), ("menu", b.menu), ("splash", b.splash),
                       ("splash-time", b.splash_time), ("reboot-timeout", b.reboot_timeout)):
        if value is not None:
            boot[key] = value
    if b.strict:
        boot["strict"] = True
    return create_machine(mc, cfg.memory.size or 0, opts, topology, chardevs=_chardevs_in_qom, boot=boot)


def _chardevs_in_qom() -> list[tuple[str, str]]:
    """The chardevs as /chardevs lists them: id and QOM type (chardev-socket, ...)."""
    from pyqemu.chardev import char
    out = []
    for info in char.query_chardev():
        dev = char.chardev_find(info["label"])
        if dev is not None:
            out.append((info["label"], f"chardev-{dev.backend}"))
    return out


# `virt`: hw/arm/virt.py (QEMU 7.2's virt-7.2, alias virt). Board-specific properties as
# `-M virt,help` lists them.
VIRT_PROPS: tuple[MachineProp, ...] = COMMON_PROPS + (
    MachineProp("acpi", "OnOffAuto", "Enable ACPI"),
    MachineProp("default-bus-bypass-iommu", "bool",
                "Set on/off to enable/disable bypass_iommu for default root bus"),
    MachineProp("dtb-kaslr-seed", "bool", "Deprecated synonym of dtb-randomness"),
    MachineProp("dtb-randomness", "bool",
                "Set off to disable passing random or non-deterministic dtb nodes to guest"),
    MachineProp("gic-version", "string", "Set GIC version. Valid values are 2, 3, 4, host and max"),
    MachineProp("highmem", "bool", "Set on/off to enable/disable using physical address space above 32 bits"),
    MachineProp("iommu", "string", "Set the IOMMU type. Valid values are none and smmuv3"),
    MachineProp("its", "bool", "Set on/off to enable/disable ITS instantiation"),
    MachineProp("mte", "bool", "Set on/off to enable/disable emulating a guest CPU which implements the "
                "ARM Memory Tagging Extension"),
    MachineProp("ras", "bool", "Set on/off to enable/disable reporting host memory errors to a KVM guest "
                "using ACPI and guest external abort exceptions"),
    MachineProp("secure", "bool", "Set on/off to enable/disable the ARM Security Extensions (TrustZone)"),
    MachineProp("virtualization", "bool", "Set on/off to enable/disable emulating a guest CPU which "
                "implements the ARM Virtualization Extensions"),
    MachineProp("x-oem-id", "string", "Override the default value of field OEMID in ACPI table header."
                "The string may be up to 6 bytes in size"),
    MachineProp("x-oem-table-id", "string", "Override the default value of field OEM Table ID in ACPI "
                "table header.The string may be up to 8 bytes in size"),
)


def _virt_init(machine: Any) -> None:
    from pyqemu.hw.arm.virt import virt_init
    virt_init(machine)


register_machine(MachineClass("virt-7.2", "QEMU 7.2 ARM Virtual Machine", ("aarch64",), alias="virt",
                              max_cpus=512, default_ram_size=128 << 20, props=VIRT_PROPS,
                              default_ram_id="mach-virt.ram", init=_virt_init,
                              block_default_type="virtio", default_drives=("floppy", "sd")))


# --- device types (-device help) ---------------------------------------------------------------

CATEGORIES = ("Controller/Bridge/Hub", "USB", "Storage", "Network", "Input", "Display", "Sound",
              "Misc", "CPU", "Watchdog", "Uncategorized")


@dataclass(frozen=True)
class DeviceInfo:
    """What ``-device help`` needs to know of a user-creatable device type."""
    name: str
    category: str = "Uncategorized"
    bus: str | None = None
    desc: str | None = None
    alias: str | None = None
    props: tuple[MachineProp, ...] = field(default_factory=tuple)
    arches: tuple[str, ...] = ("aarch64", "x86_64")


_DEVICES: dict[str, DeviceInfo] = {}


def register_device(info: DeviceInfo) -> None:
    if info.category not in CATEGORIES:
        raise ValueError(f"unknown device category {info.category!r}")
    _DEVICES[info.name] = info


def find_device(name: str, arch: str) -> DeviceInfo | None:
    for d in _all_devices():
        if arch in d.arches and name in (d.name, d.alias):
            return d
    return None


def _category(text: str) -> str:
    # device classes may spell QEMU's heading ("Storage devices") or the category ("storage")
    text = text.lower().removesuffix(" devices")
    return next((c for c in CATEGORIES if c.lower() == text), "Uncategorized")


def _all_devices() -> list[DeviceInfo]:
    """The static table plus every user-creatable QOM device class (system.qdev_add)."""
    from pyqemu.system import qdev_add
    out = dict(_DEVICES)
    for cls in qdev_add.user_creatable_classes():
        if cls.TYPE in out:
            continue
        props = tuple(MachineProp(n, t, (desc or "") + (f" (default: {d})" if d is not None else ""))
                      for n, t, desc, d in qdev_add.device_props(cls))
        out[cls.TYPE] = DeviceInfo(cls.TYPE, _category(cls.CATEGORY), cls.BUS_TYPE, cls.DESC,
                                   qdev_add.alias_of(cls.TYPE), props)
    return list(out.values())


def device_list_help(arch: str) -> str:
    """``-device help``: devices grouped under QEMU's category headings (empty groups omitted)."""
    out: list[str] = []
    for cat in CATEGORIES:
        devs = sorted((d for d in _all_devices() if d.category == cat and arch in d.arches),
                      key=lambda d: d.name)
        if not devs:
            continue
        out.append(f"{chr(10) if out else ''}{cat} devices:")
        for d in devs:
            s = f'name "{d.name}"'
            if d.bus:
                s += f", bus {d.bus}"
            if d.alias:
                s += f', alias "{d.alias}"'
            if d.desc:
                s += f', desc "{d.desc}"'
            out.append(s)
    return "\n".join(out)


def device_props_help(d: DeviceInfo) -> str:
    """``-device NAME,help``: QEMU prints 'NAME options:' and the properties, or that there are none."""
    if not d.props:
        return "There are no options for " + d.name + "."
    return "\n".join([f"{d.name} options:"] + _prop_lines(d.props))
