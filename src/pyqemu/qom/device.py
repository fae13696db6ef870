"""qdev: devices with typed properties, realize/reset, GPIO lines, and the buses they plug into.

A device class declares its properties as class attributes::

    class PL011(SysBusDevice):
        TYPE = "pl011"
        chardev = Prop("chr")                  # QOM name "chardev"
        migrate_clk = Prop("bool", True, name="migrate-clk")

        def realize(self) -> None: ...          # connect backends; raise QOMError to fail
        def reset(self) -> None: ...            # registers to their reset values

A property reads as a plain attribute; it can be set until the device is
realized (``qdev_realize``), as in QEMU. ``info qtree`` prints them in
declaration order, most derived class first.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pyqemu.hw.core.irq import IRQ, IRQOut
from pyqemu.qom.object import Object, QOMError

# qdev property kinds: (QOM type string, converter)
_INT_KINDS = {"uint8": (0, 0xFF), "uint16": (0, 0xFFFF), "uint32": (0, 0xFFFFFFFF),
              "uint64": (0, (1 << 64) - 1), "int32": (-(1 << 31), (1 << 31) - 1),
              "int64": (-(1 << 63), (1 << 63) - 1), "size": (0, (1 << 64) - 1)}
_QOM_TYPE = {"chr": "str", "drive": "str", "bool": "bool", "str": "str", **{k: k for k in _INT_KINDS}}


def _parse_bool(value: Any, name: str = "") -> bool:
    if isinstance(value, bool):
        return value
    if value in ("on", "yes", "true", "y"):
        return True
    if value in ("off", "no", "false", "n"):
        return False
    raise QOMError(f"Parameter '{name}' expects 'on' or 'off'")


# -global driver.property=value defaults: (driver, property, value, used), applied to every device
# of that type (or a subtype) when it is created, as QEMU's object_apply_global_props.
_GLOBAL_PROPS: list[list[Any]] = []


def set_global_props(props: list[tuple[str, str, str]]) -> None:
    """Install the ``-global`` list (replacing any previous one)."""
    _GLOBAL_PROPS[:] = [[d, p, v, False] for d, p, v in props]


def unused_global_warnings() -> list[str]:
    """QEMU's qdev_prop_check_globals warnings for ``-global`` entries no device type matches."""
    from pyqemu.qom.object import type_lookup
    out = []
    for driver, prop, _value, used in _GLOBAL_PROPS:
        if used:
            continue
        cls = type_lookup(driver)
        if cls is None:
            out.append(f"global {driver}.{prop} has invalid class name")
        elif not issubclass(cls, Device):
            out.append(f"global {driver}.{prop} is for a non-device")
    return out


class Prop:
    """A typed qdev property (a descriptor): kind is bool, str, chr (a chardev id), drive (a block
    backend's name), uint8/16/32/64,
    int32/64 or size; ``name`` defaults to the attribute name with '_' as '-'."""

    def __init__(self, kind: str, default: Any = None, *, name: str | None = None,
                 description: str | None = None) -> None:
        if kind not in _QOM_TYPE:
            raise ValueError(f"unknown qdev property kind {kind!r}")
        self.kind = kind
        self.default = default
        self.name = name or ""
        self.attr = ""
        self.description = description

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = "_prop_" + attr
        self.name = self.name or attr.replace("_", "-")

    @property
    def qom_type(self) -> str:
        return _QOM_TYPE[self.kind]

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__.get(self.attr, self.default)

    def __set__(self, obj: Device, value: Any) -> None:
        if obj.realized:
            raise QOMError(f"Attempt to set property '{self.name}' on device '{obj.id or ''}' "
                           f"(type '{obj.type_name}') after it was realized")
        obj.__dict__[self.attr] = self.convert(value)

    def convert(self, value: Any) -> Any:
        """Check and convert a value (a Python value, or a command-line string)."""
        if value is None or self.kind in ("str", "chr", "drive"):
            return None if value is None else str(value)
        if self.kind == "bool":
            return _parse_bool(value, self.name)
        lo, hi = _INT_KINDS[self.kind]
        try:
            n = int(value, 0) if isinstance(value, str) else int(value)
        except ValueError:
            raise QOMError(f"Parameter '{self.name}' expects an integer") from None
        if not lo <= n <= hi:
            raise QOMError(f"Parameter '{self.name}' expects {self.kind}")
        return n

    def print(self, obj: Device) -> str:
        """The value as ``info qtree`` prints it (QEMU's human string-output visitor)."""
        v = self.__get__(obj)
        if self.kind == "bool":
            return "true" if v else "false"
        if self.kind in ("str", "chr", "drive"):
            return "<null>" if v is None else f'"{v}"'
        if v is None:
            return "<null>"
        if self.kind == "size":
            return f"{v} ({_size_to_str(v)})"
        return f"{v} (0x{v & 0xFFFFFFFFFFFFFFFF:x})"


def _size_to_str(v: int) -> str:
    """QEMU's size_to_str: 1 KiB, 1.5 MiB, ..."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    i = 0
    x = float(v)
    while x >= 1024 and i < len(units) - 1:
        x /= 1024
        i += 1
    return f"{x:.3g} {units[i]}" if i else f"{v} B"


class Device(Object):
    """QEMU TYPE_DEVICE. Subclasses override ``realize`` and ``reset``."""

    TYPE = "device"
    ABSTRACT = True
    BUS_TYPE: ClassVar[str | None] = None   # the bus type it plugs into
    USER_CREATABLE: ClassVar[bool] = True   # may -device / device_add create it
    DESC: ClassVar[str | None] = None
    CATEGORY: ClassVar[str] = "Uncategorized"
    _qdev_props: ClassVar[tuple[Prop, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = tuple(v for v in cls.__dict__.values() if isinstance(v, Prop))
        cls._qdev_props = own
        for p in own:
            cls.class_property_add(p.name, p.qom_type, lambda o, p=p: p.__get__(o),
                                   lambda o, v, p=p: p.__set__(o, v), p.description)

    @classmethod
    def class_init(cls) -> None:
        cls.class_property_add("realized", "bool", lambda o: o.realized)
        cls.class_property_add("hotpluggable", "bool", lambda o: False)
        cls.class_property_add("hotplugged", "bool", lambda o: False)
        cls.class_link_add("parent_bus", "bus", lambda o: o.parent_bus)

    @classmethod
    def qdev_props(cls) -> list[Prop]:
        """Every qdev property, most derived class first (the order ``info qtree`` prints)."""
        out: list[Prop] = []
        for c in cls.__mro__:
            if c is Device:
                break
            out += c.__dict__.get("_qdev_props", ())
        return out

    def __init__(self) -> None:
        super().__init__()
        self.id: str | None = None
        self.realized = False
        self.parent_bus: Bus | None = None
        self.child_buses: list[Bus] = []
        # named GPIO lists, newest first (QEMU prepends them): name -> (inputs, outputs)
        self.gpios: dict[str | None, tuple[list[IRQ], list[IRQOut]]] = {}
        if _GLOBAL_PROPS:
            self._apply_global_props()

    def _apply_global_props(self) -> None:
        props = {p.name: p for p in self.qdev_props()}
        for entry in _GLOBAL_PROPS:
            driver, name, value, _used = entry
            if not type(self).is_type(driver):
                continue
            entry[3] = True
            prop = props.get(name)
            try:
                if prop is None:
                    raise QOMError(f"Property '{driver}.{name}' not found")
                prop.__set__(self, value)
            except QOMError as e:
                raise QOMError(f"can't apply global {driver}.{name}={value}: {e}") from None

    # -- lifecycle --------------------------------------------------------------------------------
    def realize(self) -> None:
        """Connect backends and check properties; raise QOMError to refuse."""

    def reset(self) -> None:
        """Put the device's state to its reset values (registers, IRQ levels via update())."""

    def qdev_realize(self, bus: Bus | None = None, unattached: Object | None = None) -> None:
        """Plug into ``bus`` and realize (QEMU qdev_realize). A device outside the QOM tree
        becomes ``device[N]`` under ``unattached`` (the machine's /machine/unattached)."""
        if self.realized:
            return
        if bus is not None:
            bus.attach(self)
        elif self.BUS_TYPE is not None and self.parent_bus is None:
            raise QOMError(f"Device '{self.type_name}' needs a bus of type '{self.BUS_TYPE}'")
        adopted = self.parent is None and unattached is not None
        if adopted:
            unattached.add_child("device[*]", self)
        try:
            self.realize()
        except QOMError:
            if bus is not None:
                bus.detach(self)
            if adopted:
                self.unparent()
            raise
        self.realized = True
        self.reset()

    def cold_reset(self) -> None:
        """Reset this device, then the devices on its buses."""
        self.reset()
        for bus in self.child_buses:
            bus.reset_all()

    # -- GPIO lines ---------------------------------------------------------------------------------
    def _gpio(self, name: str | None) -> tuple[list[IRQ], list[IRQOut]]:
        if name not in self.gpios:
            self.gpios = {name: ([], []), **self.gpios}
        return self.gpios[name]

    def init_gpio_in(self, handler: Callable[[int, int], None], n: int,
                     name: str | None = None) -> list[IRQ]:
        """``n`` input lines; ``handler(line, level)`` runs when one is set."""
        ins = self._gpio(name)[0]
        new = [IRQ(handler, len(ins) + i) for i in range(n)]
        ins += new
        return new

    def init_gpio_out(self, n: int, name: str | None = None) -> list[IRQOut]:
        outs = self._gpio(name)[1]
        new = [IRQOut() for _ in range(n)]
        outs += new
        return new

    def gpio_in(self, n: int, name: str | None = None) -> IRQ:
        return self.gpios[name][0][n]

    def connect_gpio_out(self, n: int, irq: IRQ | None, name: str | None = None) -> None:
        self.gpios[name][1][n].connect(irq)

    def qtree_lines(self, indent: int) -> list[str]:
        """``info qtree``'s lines for this device and what hangs below it."""
        pad = " " * indent
        out = [f'{pad}dev: {self.type_name}, id "{self.id or ""}"']
        pad2 = " " * (indent + 2)
        for name, (ins, outs) in self.gpios.items():
            if ins:
                out.append(f'{pad2}gpio-in "{name or ""}" {len(ins)}')
            if outs:
                out.append(f'{pad2}gpio-out "{name or ""}" {len(outs)}')
        for p in self.qdev_props():
            out.append(f"{pad2}{p.name} = {p.print(self)}")
        out += self.bus_print_lines(indent + 2)
        for bus in self.child_buses:
            out += bus.qtree_lines(indent + 2)
        return out

    def bus_print_lines(self, indent: int) -> list[str]:
        """Bus-specific lines (sysbus prints its MMIO regions)."""
        return []


class Bus(Object):
    """QEMU TYPE_BUS: devices plugged into it, newest first as QEMU lists them."""

    TYPE = "bus"
    ABSTRACT = True

    @classmethod
    def class_init(cls) -> None:
        cls.class_property_add("realized", "bool", lambda o: o.realized)

    def __init__(self, name: str, parent_dev: Device | None = None) -> None:
        super().__init__()
        self.bus_name = name
        self.realized = False
        self.devices: list[Device] = []
        self.parent_dev = parent_dev
        self.add_link("hotplug-handler", "hotplug-handler", lambda o: None)
        if parent_dev is not None:
            parent_dev.child_buses.append(self)
            parent_dev.add_child(name, self)

    def attach(self, dev: Device) -> None:
        if self.BUS_ACCEPTS is not None and not type(dev).is_type(self.BUS_ACCEPTS):
            raise QOMError(f"Bus '{self.bus_name}' does not accept device '{dev.type_name}'")
        dev.parent_bus = self
        self.devices.insert(0, dev)

    def detach(self, dev: Device) -> None:
        self.devices.remove(dev)
        dev.parent_bus = None

    BUS_ACCEPTS: ClassVar[str | None] = None

    def reset_all(self) -> None:
        for dev in reversed(self.devices):  # in creation order
            dev.cold_reset()

    def qtree_lines(self, indent: int = 0) -> list[str]:
        pad = " " * indent
        out = [f"{pad}bus: {self.bus_name}", f"{pad}  type {self.type_name}"]
        for dev in self.devices:
            out += dev.qtree_lines(indent + 2)
        return out
