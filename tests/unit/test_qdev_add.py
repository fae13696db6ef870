"""-device plumbing (system/qdev_add.py) and drive attachment (system/drives.py blk_attach).

Uses small test-only device and bus types on a ``-M none`` machine, so it checks the rules
themselves: QEMU's default-bus search (depth-first, newest child bus first, full buses
skipped), ``bus=`` paths, ids and /machine/peripheral placement, properties, and the
messages of qdev_device_add / blk_attach_dev.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyqemu.block.block_backend import BlockBackend
from pyqemu.block.registry import create_image, open_image
from pyqemu.hw.core.machine import create_machine
from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.qom import object as qom_object
from pyqemu.qom.device import Bus, Device, Prop
from pyqemu.qom.object import QOMError
from pyqemu.system import drives, machines
from pyqemu.system.qdev_add import device_add, find_bus


class QATestBus(Bus):
    TYPE = "qa-test-bus"
    BUS_ACCEPTS = "qa-test-leaf-base"


class QATestOneBus(QATestBus):
    """A bus that holds one device (as virtio buses do)."""
    TYPE = "qa-test-one-bus"
    max_devices = 1


class QATestLeafBase(Device):
    TYPE = "qa-test-leaf-base"
    ABSTRACT = True
    BUS_TYPE = "qa-test-bus"


class QATestLeaf(QATestLeafBase):
    """A leaf device with a drive and typed properties."""
    TYPE = "qa-test-leaf"
    drive = Prop("drive", None)
    count = Prop("uint8", 3)
    flag = Prop("bool", False)

    def realize(self) -> None:
        if self.drive is not None or self.count == 99:
            self.blk = drives.blk_attach(self, self.drive)


class QATestHidden(QATestLeafBase):
    TYPE = "qa-test-hidden"
    USER_CREATABLE = False


class QATestBridge(SysBusDevice):
    """A user-creatable sysbus bridge: a child bus named after its id, or two buses."""
    TYPE = "qa-test-bridge"
    USER_CREATABLE = True
    one = Prop("bool", False)
    two = Prop("bool", False)

    def realize(self) -> None:
        cls = QATestOneBus if self.one else QATestBus
        cls(self.id or "qa-bus", self)
        if self.two:
            QATestBus(f"{self.id}.b", self)


# Registered only while a test of this module runs, so -device help elsewhere never lists them.
_QA_TYPES = {c.TYPE: c for c in (QATestBus, QATestOneBus, QATestLeafBase, QATestLeaf, QATestHidden,
                                 QATestBridge)}
for _name in _QA_TYPES:
    qom_object._TYPES.pop(_name)


@pytest.fixture(autouse=True)
def _qa_types() -> Any:
    qom_object._TYPES.update(_QA_TYPES)
    yield
    for name in _QA_TYPES:
        qom_object._TYPES.pop(name, None)


@pytest.fixture()
def machine() -> Any:
    drives.clear()
    mc = machines.find_machine("none", "aarch64")
    _root, m = create_machine(mc)
    return m


def _leaf_bus(dev: Device) -> str:
    assert dev.parent_bus is not None
    return dev.parent_bus.bus_name


def test_default_bus_is_the_newest_free_one_depth_first(machine: Any) -> None:
    device_add({"driver": "qa-test-bridge", "id": "a", "one": "on"}, machine)
    device_add({"driver": "qa-test-bridge", "id": "b", "one": "on"}, machine)
    # QEMU searches the newest device's buses first: b, then a, and skips them once full
    assert _leaf_bus(device_add({"driver": "qa-test-leaf"}, machine)) == "b"
    assert _leaf_bus(device_add({"driver": "qa-test-leaf"}, machine)) == "a"
    with pytest.raises(QOMError, match="^No 'qa-test-bus' bus found for device 'qa-test-leaf'$"):
        device_add({"driver": "qa-test-leaf"}, machine)


def test_bus_paths_and_their_errors(machine: Any) -> None:
    device_add({"driver": "qa-test-bridge", "id": "br", "two": "on"}, machine)
    dev = device_add({"driver": "qa-test-leaf", "bus": "br.b"}, machine)
    assert _leaf_bus(dev) == "br.b"
    assert find_bus(machine.sysbus, "/br/br").bus_name == "br"
    with pytest.raises(QOMError, match="^Bus 'nobus' not found$"):
        device_add({"driver": "qa-test-leaf", "bus": "nobus"}, machine)
    with pytest.raises(QOMError, match="^Device 'qa-test-leaf' can't go on System bus$"):
        device_add({"driver": "qa-test-leaf", "bus": "main-system-bus"}, machine)
    with pytest.raises(QOMError) as e:
        find_bus(machine.sysbus, "/nodev")
    assert str(e.value) == ('Device \'nodev\' not found\n'
                            'devices at "main-system-bus": "qa-test-bridge"/"br"')
    with pytest.raises(QOMError, match="^Device 'br' has multiple child buses"):
        find_bus(machine.sysbus, "/br")


def test_full_bus_given_by_name(machine: Any) -> None:
    device_add({"driver": "qa-test-bridge", "id": "p", "one": "on"}, machine)
    device_add({"driver": "qa-test-leaf", "bus": "p"}, machine)
    with pytest.raises(QOMError, match="^Bus 'p' is full$"):
        device_add({"driver": "qa-test-leaf", "bus": "p"}, machine)


def test_ids_and_qom_placement(machine: Any) -> None:
    device_add({"driver": "qa-test-bridge", "id": "br"}, machine)
    named = device_add({"driver": "qa-test-leaf", "id": "leaf0"}, machine)
    anon = device_add({"driver": "qa-test-leaf"}, machine)
    assert named.canonical_path() == "/machine/peripheral/leaf0"
    assert anon.canonical_path() == "/machine/peripheral-anon/device[0]"
    with pytest.raises(QOMError, match="^Duplicate ID 'leaf0' for device$"):
        device_add({"driver": "qa-test-leaf", "id": "leaf0"}, machine)
    with pytest.raises(QOMError) as e:
        device_add({"driver": "qa-test-leaf", "id": "1x"}, machine)
    assert str(e.value) == ("Parameter 'id' expects an identifier\nIdentifiers consist of letters, "
                            "digits, '-', '.', '_', starting with a letter.")
    # a failed device gives its anonymous number back to nobody: QEMU's counter only counts up
    with pytest.raises(QOMError):
        device_add({"driver": "qa-test-leaf", "nope": "1"}, machine)
    assert device_add({"driver": "qa-test-leaf"}, machine).canonical_path() == \
        "/machine/peripheral-anon/device[2]"


@pytest.mark.parametrize(("opts", "message"), [
    ({"id": "x"}, "Parameter 'driver' is missing"),
    ({"driver": "no-such-thing"}, "'no-such-thing' is not a valid device model name"),
    ({"driver": ""}, "'' is not a valid device model name"),
    ({"driver": "qa-test-leaf-base"}, "Parameter 'driver' expects a non-abstract device type"),
    ({"driver": "device"}, "Parameter 'driver' expects a non-abstract device type"),
    ({"driver": "qa-test-hidden"}, "Parameter 'driver' expects a pluggable device type"),
    ({"driver": "qa-test-leaf", "foo": "1"}, "Property 'qa-test-leaf.foo' not found"),
    ({"driver": "qa-test-leaf", "flag": "maybe"}, "Parameter 'flag' expects 'on' or 'off'"),
    ({"driver": "qa-test-leaf", "count": "x"}, "Parameter 'count' expects integer"),
    ({"driver": "qa-test-leaf", "count": "300"}, "Parameter 'count' expects uint8_t"),
])
def test_device_add_errors(machine: Any, opts: dict[str, str], message: str) -> None:
    device_add({"driver": "qa-test-bridge", "id": "br"}, machine)
    with pytest.raises(QOMError) as e:
        device_add(opts, machine)
    assert str(e.value) == message
    assert machine.child("peripheral-anon").property_find("device[0]") is None   # nothing left behind


def test_properties_reach_the_device(machine: Any) -> None:
    device_add({"driver": "qa-test-bridge", "id": "br"}, machine)
    dev = device_add({"driver": "qa-test-leaf", "count": "0x10", "flag": "on"}, machine)
    assert (dev.count, dev.flag, dev.realized) == (16, True, True)
    # the JSON form of -device gives typed values
    dev = device_add({"driver": "qa-test-leaf", "count": 7, "flag": False}, machine)
    assert (dev.count, dev.flag) == (7, False)


def _backend(tmp_path: Path, name: str) -> BlockBackend:
    path = tmp_path / f"{name}.img"
    create_image(str(path), "raw", 1 << 20)
    return drives.register_backend(BlockBackend(open_image(str(path), "raw", read_only=False)), name)


def test_drive_attachment_and_its_errors(machine: Any, tmp_path: Path) -> None:
    device_add({"driver": "qa-test-bridge", "id": "br"}, machine)
    blk = _backend(tmp_path, "d0")
    dev = device_add({"driver": "qa-test-leaf", "drive": "d0", "id": "disk"}, machine)
    assert blk.attached_dev is dev and drives.blk_by_name("d0") is blk
    assert drives.attached_qdev_path(blk) == "disk"
    with pytest.raises(QOMError, match="^Drive 'd0' is already in use by another device$"):
        device_add({"driver": "qa-test-leaf", "drive": "d0"}, machine)
    with pytest.raises(QOMError, match="^Property 'qa-test-leaf.drive' can't find value 'nope'$"):
        device_add({"driver": "qa-test-leaf", "drive": "nope"}, machine)
    with pytest.raises(QOMError, match="^drive property not set$"):
        device_add({"driver": "qa-test-leaf", "count": "99"}, machine)
    drives.blk_detach(blk)
    assert blk.attached_dev is None
    assert drives.all_backends() == [blk]


def test_failed_realize_releases_the_drive(machine: Any, tmp_path: Path) -> None:
    blk = _backend(tmp_path, "d1")
    # no bus for the leaf yet: the device never realizes, the drive stays free
    with pytest.raises(QOMError, match="^No 'qa-test-bus' bus found"):
        device_add({"driver": "qa-test-leaf", "drive": "d1"}, machine)
    assert blk.attached_dev is None
    device_add({"driver": "qa-test-bridge", "id": "br"}, machine)
    device_add({"driver": "qa-test-leaf", "drive": "d1"}, machine)
    assert blk.attached_dev is not None


def test_blockdev_node_gets_an_anonymous_backend(machine: Any, tmp_path: Path) -> None:
    path = tmp_path / "n.img"
    create_image(str(path), "raw", 1 << 20)
    drives.blockdev_add({"driver": "raw", "node-name": "n0",
                         "file": {"driver": "file", "filename": str(path)}})
    device_add({"driver": "qa-test-bridge", "id": "br"}, machine)
    dev = device_add({"driver": "qa-test-leaf", "drive": "n0"}, machine)
    blk = dev.blk
    assert blk.name == "" and blk.attached_dev is dev
    assert drives.backend_node(blk).name == "n0"
    with pytest.raises(QOMError, match="^Permission conflict on node 'n0': permissions 'write' are both"):
        device_add({"driver": "qa-test-leaf", "drive": "n0"}, machine)
