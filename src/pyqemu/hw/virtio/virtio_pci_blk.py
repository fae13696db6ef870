"""``virtio-blk-pci`` (QEMU ``hw/virtio/virtio-blk-pci.c``): a virtio-pci proxy holding a
``virtio-blk-device`` as its QOM child ``virtio-backend``.

Interface: the virtio-pci transport (``virtio_pci``) with PCI identity 1af4:1001 (transitional,
subsystem 1af4:0002, revision 0) or 1af4:1042 (modern-only, revision 1), class 0x0100 (SCSI).
Props: every property of ``virtio-blk-device`` (``drive``, ``serial``, ``num-queues``,
``queue-size``, ``config-wce``, ``discard``, ``write-zeroes``, ...) is an alias on the proxy,
as QEMU's qdev_alias_all_properties; plus ``class``, ``ioeventfd``, ``vectors`` (default
num-queues + 1), and on the generic type ``disable-legacy`` / ``disable-modern``.
Types: ``virtio-blk-pci`` (alias ``virtio-blk``), ``virtio-blk-pci-transitional``,
``virtio-blk-pci-non-transitional``.
"""
from __future__ import annotations

from typing import Any

from pyqemu.hw.virtio.virtio_blk import VirtIOBlock
from pyqemu.hw.virtio.virtio_pci import VirtIOPCIProxy
from pyqemu.qom.device import Device, Prop

PCI_DEVICE_ID_VIRTIO_BLOCK = 0x1001
PCI_CLASS_STORAGE_SCSI = 0x0100
DEV_NVECTORS_UNSPECIFIED = 0xFFFFFFFF
VIRTIO_BLK_AUTO_NUM_QUEUES = 0xFFFF


def _smp_cpus(obj: Any) -> int:
    root = obj.root()
    machine = root.child("machine") if hasattr(root, "child") else None
    if machine is None and hasattr(root, "smp"):
        machine = root
    smp = getattr(machine, "smp", None) or {}
    return int(smp.get("cpus", 1)) if isinstance(smp, dict) else 1


def alias_all_properties(cls: type[VirtIOPCIProxy], vdev_cls: type[Device]) -> None:
    """qdev_alias_all_properties, per class: each qdev property of the inner device type is a
    property of the proxy type that reads and writes ``obj.vdev`` (so ``-device T,help`` and
    QMP list them too)."""
    for p in vdev_cls.qdev_props():
        cls.class_property_add(p.name, p.qom_type, lambda o, p=p: p.__get__(o.vdev),
                               lambda o, v, p=p: p.__set__(o.vdev, v), p.description)


class VirtIOBlkPCIBase(VirtIOPCIProxy):
    """QEMU's virtio-blk-pci-base: the proxy with its virtio-blk-device."""

    TYPE = "virtio-blk-pci-base"
    ABSTRACT = True
    DEVICE_ID = PCI_DEVICE_ID_VIRTIO_BLOCK
    CLASS_ID = PCI_CLASS_STORAGE_SCSI
    REVISION = 0
    CATEGORY = "Storage devices"

    @classmethod
    def class_init(cls) -> None:
        alias_all_properties(cls, VirtIOBlock)

    class_ = Prop("uint32", 0, name="class")
    ioeventfd = Prop("bool", True)
    vectors = Prop("uint32", DEV_NVECTORS_UNSPECIFIED)

    def __init__(self) -> None:
        super().__init__()
        self.vdev = VirtIOBlock()
        self.add_child("virtio-backend", self.vdev)

    def realize(self) -> None:
        super().realize()
        vdev = self.vdev
        # num-queues left at its default (QEMU: "auto") is one queue per vCPU here
        prop = type(vdev).num_queues
        if prop.attr not in vdev.__dict__ or vdev.num_queues == VIRTIO_BLK_AUTO_NUM_QUEUES:
            vdev.num_queues = min(_smp_cpus(self), 1024)
        if self.vectors == DEV_NVECTORS_UNSPECIFIED:
            self.vectors = vdev.num_queues + 1
        self.nvectors = self.vectors
        self.realize_vdev()


class VirtIOBlkPCI(VirtIOBlkPCIBase):
    """The generic type (``-device virtio-blk-pci``)."""

    TYPE = "virtio-blk-pci"
    ALIAS = "virtio-blk"
    disable_legacy = Prop("str", "auto", name="disable-legacy",
                          description="on/off/auto (auto: off on a root bus, on behind a PCIe port)")
    disable_modern = Prop("bool", False)


class VirtIOBlkPCITransitional(VirtIOBlkPCIBase):
    TYPE = "virtio-blk-pci-transitional"
    FORCE_DISABLE_LEGACY = "off"


class VirtIOBlkPCINonTransitional(VirtIOBlkPCIBase):
    TYPE = "virtio-blk-pci-non-transitional"
    FORCE_DISABLE_LEGACY = "on"
