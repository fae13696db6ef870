"""virtio-pci register layouts (Virtio 1.1 section 4.1.4, QEMU ``include/standard-headers/linux/
virtio_pci.h``): capability types, the common configuration structure, the legacy I/O header."""
from __future__ import annotations

from dataclasses import dataclass

from pyqemu.memory import MemoryRegion

PCI_CAP_ID_PM = 0x01
PCI_CAP_ID_VNDR = 0x09
PCI_CAP_ID_EXP = 0x10
PCI_CAP_ID_MSIX = 0x11

# struct virtio_pci_cap.cfg_type
VIRTIO_PCI_CAP_COMMON_CFG = 1
VIRTIO_PCI_CAP_NOTIFY_CFG = 2
VIRTIO_PCI_CAP_ISR_CFG = 3
VIRTIO_PCI_CAP_DEVICE_CFG = 4
VIRTIO_PCI_CAP_PCI_CFG = 5

# struct virtio_pci_common_cfg (BAR 4, offset 0)
COMMON_NAMES = {
    0x00: "device_feature_select", 0x04: "device_feature", 0x08: "driver_feature_select",
    0x0C: "driver_feature", 0x10: "msix_config", 0x12: "num_queues", 0x14: "device_status",
    0x15: "config_generation", 0x16: "queue_select", 0x18: "queue_size",
    0x1A: "queue_msix_vector", 0x1C: "queue_enable", 0x1E: "queue_notify_off",
    0x20: "queue_desc_lo", 0x24: "queue_desc_hi", 0x28: "queue_avail_lo", 0x2C: "queue_avail_hi",
    0x30: "queue_used_lo", 0x34: "queue_used_hi", 0x3A: "queue_reset",
}

# the legacy header (BAR 0); the MSI-X vectors exist only while MSI-X is enabled
LEGACY_NAMES = {
    0x00: "HOST_FEATURES", 0x04: "GUEST_FEATURES", 0x08: "QUEUE_PFN", 0x0C: "QUEUE_NUM",
    0x0E: "QUEUE_SEL", 0x10: "QUEUE_NOTIFY", 0x12: "STATUS", 0x13: "ISR",
    0x14: "MSI_CONFIG_VECTOR", 0x16: "MSI_QUEUE_VECTOR",
}


def legacy_config_offset(msix: bool) -> int:
    """VIRTIO_PCI_CONFIG_OFF: where the device config starts in the legacy BAR."""
    return 24 if msix else 20


def pow2ceil(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


@dataclass
class VirtioPCIRegion:
    """One modern region in the modern BAR (QEMU VirtIOPCIRegion)."""
    offset: int
    size: int
    cfg_type: int
    mr: MemoryRegion | None = None
