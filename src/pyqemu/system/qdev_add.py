"""``-device``: create a user-creatable device, set its properties, plug it into a bus, realize it.

Interface: ``device_add(opts, machine) -> Device`` (contract A of issue 6), where ``opts`` is the
parsed ``-device`` option dict (``driver``, optional ``id`` and ``bus``, then properties, as
strings from the command line or typed values from its JSON form).

The steps and messages are QEMU 7.2's qdev_device_add (softmmu/qdev-monitor.c):

* the type by name or alias (``virtio-blk`` is ``virtio-blk-pci`` on virt); it must be a
  non-abstract, user-creatable device;
* ``bus=`` is a qbus path: a bus name found anywhere (``pcie.0``, ``virtio-mmio-bus.31``, a
  bridge's secondary bus named after its id), then ``/device/bus`` steps; without it the
  default bus is the first one, depth-first from the main system bus with the newest child
  buses first (QEMU prepends them), whose type the device plugs into and that is not full
  (``Bus.max_devices``);
* the device is ``/machine/peripheral/<id>`` or ``/machine/peripheral-anon/device[N]``
  (N counts up and is never reused, as QEMU's static counter);
* properties through the QOM property table (qdev ``Prop`` descriptors), then realize.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any

from pyqemu.qom.device import Bus, Device, Prop
from pyqemu.qom.object import Object, QOMError, type_lookup, type_names

# QEMU's qdev_alias_table entries for a PCI-virtio target (QEMU_ARCH_VIRTIO_PCI: arm, x86, ...).
ALIASES = {
    "virtio-blk": "virtio-blk-pci", "virtio-net": "virtio-net-pci", "virtio-rng": "virtio-rng-pci",
    "virtio-serial": "virtio-serial-pci", "virtio-scsi": "virtio-scsi-pci",
    "virtio-balloon": "virtio-balloon-pci", "virtio-9p": "virtio-9p-pci", "virtio-gpu": "virtio-gpu-pci",
    "virtio-keyboard": "virtio-keyboard-pci", "virtio-mouse": "virtio-mouse-pci",
    "virtio-tablet": "virtio-tablet-pci", "virtio-iommu": "virtio-iommu-pci",
    "virtio-input-host": "virtio-input-host-pci", "e1000": "e1000-82540em", "ich9-ahci": "ahci",
    "lsi53c895a": "lsi",
}
# packages whose modules define -device types; imported on first use so -help stays fast
DEVICE_PACKAGES = ("pyqemu.hw.virtio", "pyqemu.hw.pci", "pyqemu.hw.nvme", "pyqemu.hw.block")
_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*\Z")
_SPECIAL_KEYS = ("driver", "id", "bus")
_loaded = False


def load_device_types() -> None:
    """Import the device modules so that their QOM types are registered (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for pkg_name in DEVICE_PACKAGES:
        try:
            pkg = importlib.import_module(pkg_name)
        except ImportError:
            continue
        for mod in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
            try:
                importlib.import_module(f"{pkg_name}.{mod.name}")
            except Exception:   # a module under construction elsewhere must not break -device
                continue


def alias_of(type_name: str) -> str | None:
    """The alias QEMU gives ``type_name`` (``virtio-blk`` for ``virtio-blk-pci``), if any."""
    cls = type_lookup(type_name)
    alias = getattr(cls, "ALIAS", None) if cls is not None else None
    if alias:
        return str(alias)
    return next((a for a, t in ALIASES.items() if t == type_name), None)


def device_class(driver: str) -> type[Device]:
    """qdev_get_device_class: the class for a type name or alias, with QEMU's refusals."""
    load_device_types()
    cls = type_lookup(driver)
    shown = f"'{driver}'"
    if cls is None:
        target = ALIASES.get(driver) or next(
            (c.TYPE for c in _device_classes() if getattr(c, "ALIAS", None) == driver), None)
        if target is not None:
            cls = type_lookup(target)
            shown = f"'{target}' (alias '{driver}')"
    if cls is None or not issubclass(cls, Device):
        raise QOMError(f"{shown} is not a valid device model name")
    if cls.__dict__.get("ABSTRACT", False):
        raise QOMError("Parameter 'driver' expects a non-abstract device type")
    if not cls.USER_CREATABLE:
        raise QOMError("Parameter 'driver' expects a pluggable device type")
    return cls


def _device_classes() -> list[type[Device]]:
    out = []
    for name in type_names("device", include_abstract=True):
        cls = type_lookup(name)
        if cls is not None and issubclass(cls, Device):
            out.append(cls)
    return out


def user_creatable_classes() -> list[type[Device]]:
    """Every registered non-abstract, user-creatable device class (``-device help``)."""
    load_device_types()
    return [c for c in _device_classes()
            if not c.__dict__.get("ABSTRACT", False) and c.USER_CREATABLE]


# --- buses ---------------------------------------------------------------------------------------

def bus_accepts(bus: Bus, cls: type[Device]) -> bool:
    """Whether devices of ``cls`` plug into ``bus`` (object_dynamic_cast(bus, dc->bus_type))."""
    if cls.BUS_TYPE is None:
        return False
    if type(bus).is_type(cls.BUS_TYPE):
        return True
    accepts = type(bus).BUS_ACCEPTS
    return accepts is not None and accepts != "sys-bus-device" and cls.is_type(accepts) \
        and _bus_family(bus, cls.BUS_TYPE)


def _bus_family(bus: Bus, bus_type: str) -> bool:
    # A transport bus that does not derive from the generic type (virtio-mmio-bus is a
    # virtio-bus in QEMU) still takes the devices it declares it accepts.
    return bus_type == "virtio-bus" and "virtio" in bus.type_name


def bus_is_full(bus: Bus) -> bool:
    limit = getattr(bus, "max_devices", None)
    return limit is not None and len(bus.devices) >= int(limit)


def _child_buses(dev: Device) -> list[Bus]:
    return list(reversed(dev.child_buses))   # newest first, as QEMU's QLIST_INSERT_HEAD


def find_bus_recursive(bus: Bus, name: str | None = None, cls: type[Device] | None = None) -> Bus | None:
    """qbus_find_recursive: by name, or the first not-full bus taking ``cls`` (else a full one)."""
    match = bus.bus_name == name if name is not None else (cls is not None and bus_accepts(bus, cls))
    if match and not bus_is_full(bus):
        return bus
    pick = bus if match else None
    for dev in bus.devices:   # newest first
        for child in _child_buses(dev):
            found = find_bus_recursive(child, name, cls)
            if found is not None and not bus_is_full(found):
                return found
            if found is not None and pick is None:
                pick = found
    return pick


def _find_dev(bus: Bus, elem: str) -> Device | None:
    """qbus_find_dev: by id first, then by type name, then by alias."""
    for dev in bus.devices:
        if dev.id == elem:
            return dev
    for dev in bus.devices:
        if dev.type_name == elem:
            return dev
    for dev in bus.devices:
        if alias_of(dev.type_name) == elem:
            return dev
    return None


def _list_devs(bus: Bus) -> str:
    names = []
    for dev in bus.devices:
        s = f'"{dev.type_name}"'
        if dev.id:
            s += f'/"{dev.id}"'
        names.append(s)
    return f'devices at "{bus.bus_name}": ' + ", ".join(names)


def _list_buses(dev: Device, elem: str) -> str:
    names = ", ".join(f'"{b.bus_name}"' for b in _child_buses(dev))
    return f'child buses at "{dev.id or dev.type_name}": {names}'


def find_bus(root: Bus, path: str) -> Bus:
    """qbus_find: ``name``, ``name/dev/bus``..., or ``/dev/bus`` from the main system bus."""
    pos = 0
    if path.startswith("/"):
        bus = root
    else:
        elem = path.split("/", 1)[0]
        found = find_bus_recursive(root, name=elem)
        if found is None:
            raise QOMError(f"Bus '{elem}' not found")
        bus, pos = found, len(elem)
    while True:
        while pos < len(path) and path[pos] == "/":
            pos += 1
        if pos >= len(path):
            return bus
        elem = path[pos:].split("/", 1)[0]
        pos += len(elem)
        dev = _find_dev(bus, elem)
        if dev is None:
            raise QOMError(f"Device '{elem}' not found\n{_list_devs(bus)}")
        while pos < len(path) and path[pos] == "/":
            pos += 1
        if pos >= len(path):
            if len(dev.child_buses) == 1:
                return dev.child_buses[0]
            if dev.child_buses:
                raise QOMError(f"Device '{elem}' has multiple child buses\n{_list_buses(dev, elem)}")
            raise QOMError(f"Device '{elem}' has no child bus")
        elem = path[pos:].split("/", 1)[0]
        pos += len(elem)
        nxt = next((b for b in dev.child_buses if b.bus_name == elem), None)
        if nxt is None:
            raise QOMError(f"Bus '{elem}' not found\n{_list_buses(dev, elem)}")
        bus = nxt


# --- device_add ----------------------------------------------------------------------------------

def _peripheral(machine: Any, anon: bool) -> Object:
    name = "peripheral-anon" if anon else "peripheral"
    c = machine.child(name)
    if c is None:
        from pyqemu.qom.object import Container
        c = machine.add_child(name, Container())
    return c


def device_add(opts: dict[str, Any], machine: Any) -> Device:
    """Create, configure, plug and realize one ``-device``; QOMError with QEMU's message."""
    driver = opts.get("driver")
    if driver is None:
        raise QOMError("Parameter 'driver' is missing")
    cls = device_class(str(driver))
    dev_id = opts.get("id")
    if dev_id is not None:
        dev_id = str(dev_id)
        if not _ID_RE.match(dev_id):
            raise QOMError("Parameter 'id' expects an identifier\n"
                           "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.")
    root_bus: Bus = machine.sysbus
    bus: Bus | None = None
    path = opts.get("bus")
    if path is not None:
        bus = find_bus(root_bus, str(path))
        if cls.BUS_TYPE is None or not bus_accepts(bus, cls):
            raise QOMError(f"Device '{cls.TYPE}' can't go on {bus.type_name} bus")
        if bus_is_full(bus):
            raise QOMError(f"Bus '{bus.bus_name}' is full")
    elif cls.BUS_TYPE is not None:
        bus = find_bus_recursive(root_bus, cls=cls)
        if bus is None or bus_is_full(bus):
            raise QOMError(f"No '{cls.BUS_TYPE}' bus found for device '{cls.TYPE}'")
    dev = cls()
    holder = _peripheral(machine, dev_id is None)
    if dev_id is not None:
        if holder.property_find(dev_id) is not None:
            raise QOMError(f"Duplicate ID '{dev_id}' for device")
        holder.add_child(dev_id, dev)
        dev.id = dev_id
    else:
        n = getattr(holder, "_anon_count", 0)
        holder._anon_count = n + 1   # type: ignore[attr-defined]
        holder.add_child(f"device[{n}]", dev)
    try:
        for key, value in opts.items():
            if key in _SPECIAL_KEYS:
                continue
            if dev.property_find(key) is None:
                raise QOMError(f"Property '{cls.TYPE}.{key}' not found")
            _check_value(cls, key, value)
            dev.property_set(key, value)
        dev.qdev_realize(bus)
    except QOMError:
        _release_drives(dev)
        dev.unparent()
        raise
    return dev


_C_INT_NAMES = {"uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "int32": "int32_t",
                "uint64": "uint64_t", "int64": "int64_t", "size": "size"}
_BOOL_WORDS = ("on", "yes", "true", "y", "off", "no", "false", "n")


def _check_value(cls: type[Device], key: str, value: Any) -> None:
    """QEMU's keyval visitor messages for a command-line value of a typed qdev property."""
    if not isinstance(value, str):
        return
    prop = next((p for p in cls.qdev_props() if p.name == key), None)
    if prop is None or type(prop).convert is not Prop.convert:   # a property with its own parser
        return
    if prop.kind == "bool" and value not in _BOOL_WORDS:
        raise QOMError(f"Parameter '{key}' expects 'on' or 'off'")
    if prop.kind in _C_INT_NAMES:
        try:
            n = int(value, 0)
        except ValueError:
            raise QOMError(f"Parameter '{key}' expects integer") from None
        try:
            prop.convert(n)
        except QOMError:
            raise QOMError(f"Parameter '{key}' expects {_C_INT_NAMES[prop.kind]}") from None


def _release_drives(dev: Device) -> None:
    """A device that failed to realize lets go of the drives it (or a child) attached."""
    from pyqemu.system import drives
    for blk in drives.all_backends():
        owner = blk.attached_dev
        while owner is not None and owner is not dev:
            owner = owner.parent
        if owner is dev:
            drives.blk_detach(blk)


_HIDDEN_PROPS = ("type", "realized", "hotpluggable", "hotplugged", "parent_bus")


def device_props(cls: type[Device]) -> list[tuple[str, str, str | None, Any]]:
    """``-device T,help`` (qmp_device_list_properties): (name, type, description, default JSON
    text or None) of the class properties, without QOM's bookkeeping ones."""
    import json
    out: list[tuple[str, str, str | None, Any]] = []
    seen: set[str] = set()
    for p in cls.qdev_props():
        if p.name in seen:
            continue
        seen.add(p.name)
        default = None if p.default is None else json.dumps(p.default)
        out.append((p.name, p.qom_type, p.description, default))
    for c in cls.__mro__:
        table = c.__dict__.get("_class_props")
        if table is None:
            continue
        for op in table.by_name.values():
            if op.name in seen or op.name in _HIDDEN_PROPS or op.name.startswith("legacy-"):
                continue
            seen.add(op.name)
            out.append((op.name, op.type, op.description, None))
    return out
