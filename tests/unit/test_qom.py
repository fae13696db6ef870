"""QOM: types, properties, paths; qdev devices, sysbus, IRQs; the -M none tree as QEMU 7.2 has it."""
from __future__ import annotations

import pytest

from pyqemu.hw.core.irq import IRQ, irq_split
from pyqemu.hw.core.machine import create_machine
from pyqemu.hw.core.register import Reg, RegisterFile
from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps, MemTxError
from pyqemu.monitor.commands.qom import QOMTreeView
from pyqemu.monitor.registry import QMPError
from pyqemu.qom import AmbiguousPathError, Container, Object, QOMError, object_new, resolve_path
from pyqemu.qom.device import Prop
from pyqemu.qom.ghash import GHashOrder
from pyqemu.system.machines import find_machine


class Animal(Object):
    TYPE = "test-animal"
    ABSTRACT = True


class Dog(Animal):
    TYPE = "test-dog"
    INTERFACES = ("test-barker",)

    @classmethod
    def class_init(cls) -> None:
        cls.class_property_add("legs", "uint32", lambda o: 4)


class Timer(SysBusDevice):
    """A tiny sysbus device: one 32-bit register bank, one IRQ raised while COUNT != 0."""
    TYPE = "test-timer"
    freq = Prop("uint32", 1000)
    label = Prop("str")
    enabled = Prop("bool", True)

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.resets = 0
        self.init_mmio(MemoryRegion.mmio_region("test-timer", 0x10, MemoryRegionOps(
            self.read, self.write, AccessConstraints(4, 4), AccessConstraints(4, 4))))
        self.irq = self.init_irq()

    def realize(self) -> None:
        if self.freq == 0:
            raise QOMError("freq must not be 0")

    def reset(self) -> None:
        self.count = 0
        self.resets += 1
        self.update()

    def update(self) -> None:
        self.irq.set(int(self.count != 0))

    def read(self, off: int, size: int) -> int:
        return self.count if off == 0 else 0

    def write(self, off: int, value: int, size: int) -> None:
        if off == 0:
            self.count = value
            self.update()


def none_machine(ram: int = 64 << 20):
    mc = find_machine("none", "aarch64")
    assert mc is not None
    return create_machine(mc, ram)


def test_types_and_interfaces() -> None:
    dog = object_new("test-dog")
    assert isinstance(dog, Dog) and dog.type_name == "test-dog"
    assert Dog.is_type("test-animal") and Dog.is_type("test-barker") and not Dog.is_type("container")
    with pytest.raises(QOMError, match="abstract"):
        object_new("test-animal")
    with pytest.raises(QOMError, match="unknown type"):
        object_new("no-such-type")
    # class properties come after instance ones in iteration order; qom-list reverses it
    dog.property_add("name", "string", lambda o: "rex")
    assert [p.name for p in dog.properties()] == ["name", "legs", "type"]
    assert dog.property_get("legs") == 4
    with pytest.raises(QOMError, match="Property 'test-dog.tail' not found"):
        dog.property_get("tail")
    with pytest.raises(QOMError, match="duplicate property 'legs'"):
        dog.property_add("legs", "uint32")


def test_children_links_paths() -> None:
    root = Container()
    a = root.add_child("a", Container())
    b = a.add_child("b", Container())
    dog = b.add_child("dog[*]", Dog())
    dog2 = b.add_child("dog[*]", Dog())
    assert (dog.canonical_path(), dog2.canonical_path()) == ("/a/b/dog[0]", "/a/b/dog[1]")
    a.add_link("pet", "test-dog", lambda o: dog2)
    assert a.property_get("b") == "/a/b" and a.property_get("pet") == "/a/b/dog[1]"
    assert resolve_path(root, "/a/pet") is dog2          # absolute paths follow links
    assert resolve_path(root, "b/dog[0]") is dog          # partial path
    assert resolve_path(root, "/a/nope") is None
    assert resolve_path(root, "dog[0]", "test-dog") is dog
    root.add_child("c", Container()).add_child("b", Container())
    with pytest.raises(AmbiguousPathError, match="Path 'b' is ambiguous"):
        resolve_path(root, "b")
    dog2.unparent()
    assert b.child("dog[1]") is None and dog2.parent is None


def test_ghash_order_is_qemus() -> None:
    """Listings QEMU 7.2 printed (qom-list reverses GLib's iteration order)."""
    def qom_list_order(*tables: list[str]) -> list[str]:
        out: list[str] = []
        for keys in tables:
            g = GHashOrder()
            for k in keys:
                g.insert(k)
            out += g.keys()
        return out[::-1]
    assert qom_list_order(["sysbus", "system[0]", "io[0]"], ["type"]) == [
        "type", "io[0]", "system[0]", "sysbus"]
    many = [f"prop{i}" for i in range(40)]  # several resizes
    g = GHashOrder()
    for k in many:
        g.insert(k)
    for k in many[::3]:
        g.remove(k)
    assert sorted(g.keys()) == sorted(set(many) - set(many[::3]))
    assert "prop1" in g and "prop0" not in g


def test_qdev_properties_realize_reset() -> None:
    t = Timer()
    assert (t.freq, t.label, t.enabled) == (1000, None, True)
    t.freq = "0x10"
    t.enabled = "off"
    assert (t.freq, t.enabled) == (16, False)
    with pytest.raises(QOMError, match="expects"):
        t.freq = 1 << 40
    with pytest.raises(QOMError):
        t.enabled = "maybe"
    assert t.property_get("freq") == 16
    t.property_set("label", "x")
    assert [p.name for p in Timer.qdev_props()] == ["freq", "label", "enabled"]
    root, m = none_machine()
    bad = Timer()
    bad.freq = 0
    with pytest.raises(QOMError, match="freq must not be 0"):
        m.realize_device(bad)
    assert bad.parent is None and bad.parent_bus is None and m.sysbus.devices == []
    m.realize_device(t)
    assert t.realized and t.resets == 1 and t.parent_bus is m.sysbus
    assert t.canonical_path().startswith("/machine/unattached/device[")
    with pytest.raises(QOMError, match="after it was realized"):
        t.freq = 5
    m.reset()
    assert t.resets == 2


def test_sysbus_mmio_irq_and_qtree() -> None:
    root, m = none_machine()
    levels: list[tuple[int, int]] = []
    sink = IRQ(lambda n, level: levels.append((n, level)), 7)
    t = Timer()
    m.realize_device(t)
    t.connect_irq(0, sink)
    t.mmio_map(0, 0x0900_0000)
    asp = m.address_space_memory
    asp.store(0x0900_0000, 3, 4)
    assert asp.load(0x0900_0000, 4) == 3 and levels == [(7, 1)]
    with pytest.raises(MemTxError):
        asp.load(0x0900_0000, 2)  # the device only takes 32-bit accesses
    m.reset()
    assert levels[-1] == (7, 0)
    fan: list[int] = []
    t.connect_irq(0, irq_split(IRQ(lambda n, lv: fan.append(lv)), IRQ(lambda n, lv: fan.append(-lv))))
    asp.store(0x0900_0000, 1, 4)
    assert fan == [1, -1]
    t2 = Timer()
    t2.id = "t2"
    m.realize_device(t2)
    assert m.qtree_info() == (
        "bus: main-system-bus\n"
        "  type System\n"
        '  dev: test-timer, id "t2"\n'
        '    gpio-out "sysbus-irq" 1\n'
        "    freq = 1000 (0x3e8)\n"
        "    label = <null>\n"
        "    enabled = true\n"
        "    mmio ffffffffffffffff/0000000000000010\n"
        '  dev: test-timer, id ""\n'
        '    gpio-out "sysbus-irq" 1\n'
        "    freq = 1000 (0x3e8)\n"
        "    label = <null>\n"
        "    enabled = true\n"
        "    mmio 0000000009000000/0000000000000010\n")
    assert "test-timer @" not in m.mtree_info()
    assert "0000000009000000-000000000900000f (prio 0, i/o): test-timer" in m.mtree_info()
    assert "owner:{dev id=t2}" not in m.mtree_info(owner=True)  # t2 is not mapped
    assert f"test-timer owner:{{dev path={t.canonical_path()}}}" in m.mtree_info(owner=True)


# What real qemu-system-aarch64 7.2 -M none -m 64M answers to qom-list (checked by hand, and
# live in tests/functional/test_hmp_info.py).
QEMU_QOM_LIST = {
    "/": ["type", "objects", "machine", "chardevs"],
    "/objects/ram": ["type", "share", "size", "dump", "prealloc-threads",
                     "x-use-canonical-path-for-ramblock-id", "policy", "prealloc-context", "prealloc",
                     "reserve", "host-nodes", "merge", "ram[0]"],
    "/machine": ["type", "kernel", "dt-compatible", "boot", "memory", "initrd",
                 "confidential-guest-support", "graphics", "usb", "firmware", "memory-encryption", "smp",
                 "dump-guest-core", "phandle-start", "dumpdtb", "memory-backend", "dtb", "mem-merge",
                 "append", "suppress-vmdesc", "peripheral-anon", "peripheral", "unattached"],
    "/machine/unattached": ["type", "io[0]", "system[0]", "sysbus"],
    "/machine/unattached/sysbus": ["type", "realized", "hotplug-handler"],
    "/objects/ram/ram[0]": ["type", "container", "addr", "size", "priority"],
}


def test_none_machine_tree_matches_qemu() -> None:
    root, m = none_machine()
    view = QOMTreeView(root)
    for path, names in QEMU_QOM_LIST.items():
        obj = view.resolve(path)
        assert obj is not None
        assert [n for n, _, _ in obj.properties()] == names, path
    ram = view.resolve("/objects/ram/ram[0]")
    assert ram is not None and ram.get_property("container") == "/machine/unattached/system[0]"
    assert view.resolve("/machine/unattached/system[0]").get_property("size") == (1 << 64) - 1
    assert view.resolve("machine").get_property("memory") == {"size": 64 << 20}
    assert view.resolve("sysbus").type_name == "System"
    # partial paths follow links too: /machine's memory-backend link is the one "memory-backend"
    assert view.resolve("memory-backend").type_name == "memory-backend-ram"
    assert view.resolve("container").type_name == "memory-region"  # ram[0]'s link to system[0]
    with pytest.raises(QMPError, match="Path '' is ambiguous"):
        view.resolve("")


class Uart(SysBusDevice):
    """A register-table device: data register with a hook, a read-only flag register."""
    TYPE = "test-uart"
    REGS = (
        Reg("DR", 0x00, write="write_dr"),
        Reg("FR", 0x18, 0x90, access="ro"),
        Reg("CR", 0x30, 0x300, wmask=0xff87),
        Reg("ILPR", 0x20, unimp=True),
        Reg("ICR", 0x44, access="wo"),
    )

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.regs = RegisterFile("test-uart", self.REGS, self)
        self.init_mmio(MemoryRegion.mmio_region("test-uart", 0x1000, self.regs.ops()))

    def reset(self) -> None:
        self.regs.reset()

    def write_dr(self, reg: Reg, value: int) -> None:
        self.out.append(value & 0xff)


def test_register_table_device(capsys: pytest.CaptureFixture[str]) -> None:
    from pyqemu.util import log
    root, m = none_machine()
    u = Uart()
    m.realize_device(u)
    u.mmio_map(0, 0x0900_0000)
    asp = m.address_space_memory
    for ch in b"hi":
        asp.store(0x0900_0000, ch, 1)  # a byte store widened to the 32-bit register
    assert u.out == b"hi"
    assert asp.load(0x0900_0018, 4) == 0x90
    asp.store(0x0900_0030, 0xffffffff, 4)
    assert u.regs["CR"] == 0xff87
    saved = log._out
    log._out = __import__("io").StringIO()
    log.set_mask("guest_errors,unimp")
    try:
        asp.store(0x0900_0018, 1, 4)
        assert asp.load(0x0900_0ffc, 4) == 0
        asp.load(0x0900_0044, 4)
        asp.load(0x0900_0020, 4)
        lines = log._out.getvalue().splitlines()
    finally:
        log.set_mask("")
        log._out = saved
    assert lines == ["test-uart: write to read-only register FR (value 0x1)",
                     "test-uart: read from bad offset 0xffc",
                     "test-uart: read from write-only register ICR",
                     "test-uart: unimplemented register ILPR read"]
    assert u.regs["FR"] == 0x90
    m.reset()
    assert u.regs["CR"] == 0x300


def test_rom_blobs_are_restored_at_reset() -> None:
    root, m = none_machine(1 << 20)
    m.roms.add_blob("kernel", b"\x01\x02\x03\x04", 0x1000, romsize=8)
    m.roms.add_blob("dtb", b"\xd0\x0d", 0x100)
    m.reset()
    asp = m.address_space_memory
    assert asp.read(0x1000, 8) == b"\x01\x02\x03\x04" + bytes(4)
    asp.write(0x1000, b"\xff" * 8)
    m.reset()
    assert asp.read(0x1000, 4) == b"\x01\x02\x03\x04"
    assert m.roms.info_roms() == ('addr=0000000000000100 size=0x000002 mem=ram name="dtb"\n'
                                  'addr=0000000000001000 size=0x000008 mem=ram name="kernel"\n')
