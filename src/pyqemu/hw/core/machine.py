"""The machine as a QOM object, and the tree every machine starts from (QEMU
``hw/core/machine.c`` and ``vl.c``'s qemu_create_machine).

``create_machine`` builds ``/`` with ``/machine`` (and its ``unattached``,
``peripheral``, ``peripheral-anon`` containers), the main system bus, the
``system`` (64-bit) and ``io`` (64 KiB) memory regions with their address
spaces ``memory`` and ``I/O``, and, with ``-m``, the RAM backend
``/objects/<default_ram_id>`` whose region the board maps. A board's init
hook then adds CPUs and devices.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyqemu.hw.core.loader import RomRegistry
from pyqemu.hw.core.sysbus import SystemBus
from pyqemu.memory import (
    ADDR_SPACE_END,
    AddressSpace,
    MemoryRegion,
    MemoryRegionOps,
    MemTxError,
    mtree_text,
    transaction,
)
from pyqemu.qom.device import Device
from pyqemu.qom.memory_region import attach_region
from pyqemu.qom.object import Container, MirrorContainer, Object, QOMError, type_lookup


class Machine(Object):
    """QEMU TYPE_MACHINE: machine-wide settings, the memory map and the devices' root."""

    TYPE = "machine"
    ABSTRACT = True

    @classmethod
    def class_init(cls) -> None:
        # machine_class_init's order (it decides qom-list's order).
        def s(name: str) -> Callable[[Any], Any]:
            return lambda o: o.opts.get(name, "")

        def b(name: str, default: bool) -> Callable[[Any], Any]:
            return lambda o: _opt_bool(o.opts.get(name), default)

        def put(name: str) -> Callable[[Any, Any], None]:
            def setter(o: Any, value: Any) -> None:
                o.opts[name] = ("on" if value else "off") if isinstance(value, bool) else str(value)
            return setter

        def add(name: str, type_: str, get: Callable[[Any], Any], *, description: str,
                settable: bool = True) -> None:
            cls.class_property_add(name, type_, get, put(name) if settable else None, description)

        add("kernel", "string", s("kernel"), description="Linux kernel image file")
        add("initrd", "string", s("initrd"), description="Linux initial ramdisk file")
        add("append", "string", s("append"), description="Linux kernel command line")
        add("dtb", "string", s("dtb"), description="Linux kernel device tree file")
        add("dumpdtb", "string", s("dumpdtb"), description="Dump current dtb to a file and quit")
        add("phandle-start", "int", lambda o: int(o.opts.get("phandle-start", "0"), 0),
            description="The first phandle ID we may generate dynamically")
        add("dt-compatible", "string", s("dt-compatible"),
            description='Overrides the "compatible" property of the dt root node')
        add("dump-guest-core", "bool", b("dump-guest-core", True),
            description="Include guest memory in a core dump")
        add("mem-merge", "bool", b("mem-merge", True), description="Enable/disable memory merge support")
        add("usb", "bool", b("usb", False), description="Set on/off to enable/disable usb")
        add("graphics", "bool", b("graphics", True),
            description="Set on/off to enable/disable graphics emulation")
        add("firmware", "string", s("firmware"), description="Firmware image")
        add("suppress-vmdesc", "bool", b("suppress-vmdesc", False),
            description="Set on to disable self-describing migration")
        add("boot", "BootConfiguration", lambda o: dict(o.boot),
            description="Boot configuration", settable=False)
        add("smp", "SMPConfiguration", lambda o: dict(o.smp), description="CPU topology", settable=False)
        add("memory", "MemorySizeConfiguration", lambda o: {"size": o.ram_size},
            description="Memory size configuration", settable=False)
        cls.class_link_add("confidential-guest-support", "confidential-guest-support", lambda o: None,
                           description="Set confidential guest scheme to support")
        add("memory-encryption", "string", s("memory-encryption"),
            description="Set memory encryption object to use")
        cls.class_link_add("memory-backend", "memory-backend", lambda o: o.memory_backend,
                           description="Set RAM backendValid value is ID of hostmem based backend")

    def __init__(self, mc: Any = None, ram_size: int = 0, opts: dict[str, str] | None = None,
                 smp: dict[str, int] | None = None, boot: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.mc = mc
        self.boot = boot or {"order": ""}  # BootConfiguration as QOM shows it
        self.ram_size = ram_size
        self.opts = dict(opts or {})
        self.smp = smp or {"cpus": 1, "maxcpus": 1, "threads": 1, "cores": 1, "dies": 1,
                           "sockets": 1, "clusters": 1}
        self.system_memory = MemoryRegion.container_region("system", ADDR_SPACE_END)
        # the I/O port space answers all-ones where nothing is mapped (QEMU unassigned_io_ops)
        self.io_memory = MemoryRegion.mmio_region("io", 0x10000, MemoryRegionOps(
            lambda _off, size: (1 << (8 * size)) - 1, lambda _off, _val, _size: None))
        self.address_space_memory = AddressSpace(self.system_memory, "memory")
        self.address_space_io = AddressSpace(self.io_memory, "I/O")
        self.roms = RomRegistry(self.address_space_memory)
        self.sysbus = SystemBus(self.system_memory)
        self.ram: MemoryRegion | None = None
        self.memory_backend: Object | None = None
        self.cpus: list[Any] = []  # a board's CPUs (query-cpus-fast, info registers)

    @property
    def unattached(self) -> Container:
        c = self.child("unattached")
        assert isinstance(c, Container)
        return c

    def address_spaces(self) -> list[AddressSpace]:
        return [self.address_space_memory, self.address_space_io]

    def realize_device(self, dev: Device) -> Device:
        """Plug ``dev`` into its bus (the system bus for sysbus devices) and realize it."""
        bus = self.sysbus if dev.BUS_TYPE == "System" else None
        dev.qdev_realize(bus, self.unattached)
        return dev

    def query_cpus_fast(self) -> list[dict[str, Any]]:
        """QMP query-cpus-fast (CpuInfoFast): each CPU supplies its own entry."""
        return [cpu.cpu_info_fast() for cpu in self.cpus]

    # -- what the monitor shows ----------------------------------------------------------------------
    def mtree_info(self, flat: bool = False, owner: bool = False, disabled: bool = False) -> str:
        """``info mtree``."""
        return mtree_text(self.address_spaces(), flat=flat, owner=owner, disabled=disabled,
                          describe_owner=describe_owner)

    def qtree_info(self) -> str:
        """``info qtree``: the bus tree from the main system bus."""
        return "".join(line + "\n" for line in self.sysbus.qtree_lines())

    def physical_read(self, addr: int, length: int) -> bytes | None:
        """Bytes of guest-physical memory, or None if any of them cannot be read (``xp``)."""
        try:
            return self.address_space_memory.read(addr, length)
        except MemTxError:
            return None

    def reset(self) -> None:
        """System reset: devices (the bus tree), then ROM blobs back into memory."""
        self.sysbus.reset_all()
        self.roms.reset()


def _opt_bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value in ("on", "yes", "true", "y", "")


class NoneMachine(Machine):
    """``-M none`` (hw/core/null-machine.c): RAM at 0 when ``-m`` is given, nothing else."""
    TYPE = "none-machine"


class MemoryBackend(Object):
    """QEMU TYPE_MEMORY_BACKEND (hostmem.c): RAM a machine or device uses."""

    TYPE = "memory-backend"
    ABSTRACT = True
    INTERFACES = ("user-creatable",)

    @classmethod
    def class_init(cls) -> None:
        add = cls.class_property_add
        add("merge", "bool", lambda o: True, description="Mark memory as mergeable")
        add("dump", "bool", lambda o: True, description="Set to 'off' to exclude from core dump")
        add("prealloc", "bool", lambda o: False, description="Preallocate memory")
        add("prealloc-threads", "int", lambda o: 1,
            description="Number of CPU threads to use for prealloc")
        cls.class_link_add("prealloc-context", "thread-context", lambda o: None,
                           description="Context to use for creating CPU threads for preallocation")
        add("size", "int", lambda o: o.size, description="Size of the memory region (ex: 500M)")
        add("host-nodes", "int", lambda o: [], description="Binds memory to the list of NUMA host nodes")
        add("policy", "HostMemPolicy", lambda o: "default", description="Set the NUMA policy")
        add("share", "bool", lambda o: False, description="Mark the memory as private to QEMU or shared")
        add("reserve", "bool", lambda o: True,
            description="Reserve swap space (or huge pages) if applicable")
        add("x-use-canonical-path-for-ramblock-id", "bool", lambda o: False)

    def __init__(self, size: int = 0) -> None:
        super().__init__()
        self.size = size
        self.region: MemoryRegion | None = None


class MemoryBackendRam(MemoryBackend):
    TYPE = "memory-backend-ram"

    def complete(self, name: str) -> MemoryRegion:
        """Allocate the RAM (QEMU names the region after the backend's id)."""
        self.region = MemoryRegion.ram_region(name, self.size, owner=self)
        attach_region(self.region, self)
        return self.region


def describe_owner(mr: MemoryRegion) -> str:
    """``info mtree -o``'s owner and parent of a region (QEMU mtree_print_mr_owner)."""
    owner = mr.owner if isinstance(mr.owner, Object) else None
    parent = mr.qom.parent if isinstance(mr.qom, Object) else None
    if owner is None and parent is None:
        return " orphan"
    out = ""
    for label, obj in (("owner", owner), ("parent", parent if parent is not owner else None)):
        if obj is None:
            continue
        is_dev = isinstance(obj, Device)
        if is_dev and obj.id:
            what = f" id={obj.id}"
        elif obj.parent is not None:
            what = f" path={obj.canonical_path()}"
        else:
            what = f" type={obj.type_name}"
        out += f" {label}:{{{'dev' if is_dev else 'obj'}{what}}}"
    return out


def machine_type(mc: Any) -> type[Machine]:
    """The QOM class of machine description ``mc`` (``NAME-machine``), made on first use."""
    cls = type_lookup(mc.type_name)
    if cls is None:
        cls = type(f"Machine_{mc.name}", (Machine,), {"TYPE": mc.type_name})
    assert issubclass(cls, Machine)
    return cls


def create_machine(mc: Any, ram_size: int = 0, opts: dict[str, str] | None = None,
                   smp: dict[str, int] | None = None,
                   chardevs: Callable[[], list[tuple[str, str]]] | None = None,
                   boot: dict[str, Any] | None = None) -> tuple[Container, Machine]:
    """Build the QOM tree and memory map of machine ``mc``; returns (root, machine).
    ``chardevs()`` lists the chardevs (id, QOM type) that ``/chardevs`` shows."""
    root = Container()
    machine = machine_type(mc)(mc, ram_size, opts, smp, boot)
    root.add_child("machine", machine)
    unattached = machine.add_child("unattached", Container())
    unattached.add_child("sysbus", machine.sysbus)
    attach_region(machine.system_memory, unattached)
    attach_region(machine.io_memory, unattached)
    machine.add_child("peripheral", Container())
    machine.add_child("peripheral-anon", Container())
    root.add_child("chardevs", MirrorContainer(chardevs) if chardevs is not None else Container())
    if ram_size:
        ram_id = getattr(mc, "default_ram_id", None) or "ram"
        objects = root.add_child("objects", Container())
        backend = MemoryBackendRam(ram_size)
        objects.add_child(ram_id, backend)
        machine.ram = backend.complete(ram_id)
        machine.memory_backend = backend
    init = getattr(mc, "init", None)
    if init is not None:
        with transaction():  # one FlatView rebuild for the whole board
            init(machine)
    return root, machine


def none_machine_init(machine: Machine) -> None:
    """null-machine.c: map the RAM (if any) at address 0; there is nothing to load a kernel."""
    if machine.opts.get("kernel"):
        raise QOMError("The -kernel parameter is not supported (use the generic 'loader' device instead).")
    if machine.ram is not None:
        machine.system_memory.add_subregion(0, machine.ram)
