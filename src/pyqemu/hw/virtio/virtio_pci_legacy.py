"""The legacy I/O BAR of a transitional virtio-pci device (Virtio 1.1 section 4.1.4.8, QEMU
``virtio_ioport_read``/``virtio_ioport_write``): a mixin of ``VirtIOPCIProxy``.

Layout: HOST_FEATURES 0x00, GUEST_FEATURES 0x04, QUEUE_PFN 0x08 (4 KiB pages, used ring 4 KiB
aligned; 0 resets the device), QUEUE_NUM 0x0C, QUEUE_SEL 0x0E, QUEUE_NOTIFY 0x10, STATUS 0x12,
ISR 0x13 (read clears), then MSI_CONFIG_VECTOR 0x14 and MSI_QUEUE_VECTOR 0x16 only while MSI-X is
enabled, then the device config. Registers are decoded by exact offset; other reads are all-ones.
"""
from __future__ import annotations

from typing import Any

from pyqemu.hw.pci import msix
from pyqemu.hw.pci import pci as pcimod
from pyqemu.hw.virtio.virtio import (
    VIRTIO_CONFIG_S_ACKNOWLEDGE,
    VIRTIO_CONFIG_S_DRIVER,
    VIRTIO_F_BAD_FEATURE,
    VIRTIO_NO_VECTOR,
    VIRTIO_QUEUE_MAX,
)
from pyqemu.hw.virtio.virtio_pci_regs import LEGACY_NAMES, legacy_config_offset
from pyqemu.util import log


class VirtioPCILegacy:
    """The legacy header's handlers; the proxy supplies ``vdev``, ``nvectors``, ``isr_read``,
    ``_set_status``, ``_msix_vector_ok`` and ``virtio_pci_reset``."""

    vdev: Any
    nvectors: int
    config: bytearray

    def _msix_on(self) -> bool:
        return self.nvectors > 0 and msix.msix_enabled(self)

    def legacy_read(self, offset: int, size: int) -> int:
        """virtio_pci_config_read: the header (its offset decoded exactly), then config."""
        vdev = self.vdev
        cfg = legacy_config_offset(self._msix_on())
        if offset >= cfg:
            return vdev.config_read(offset - cfg, size)
        vq = vdev.get_queue(vdev.queue_sel)
        if offset == 0x00:
            return vdev.get_features() & 0xFFFFFFFF
        if offset == 0x04:
            return vdev.guest_features & 0xFFFFFFFF
        if offset == 0x08:
            return vq.legacy_pfn() if vq is not None else 0
        if offset == 0x0C:
            return vq.num if vq is not None else 0
        if offset == 0x0E:
            return vdev.queue_sel
        if offset == 0x12:
            return vdev.status
        if offset == 0x13:
            return self.isr_read(0, 1)  # type: ignore[attr-defined]
        if offset == 0x14:
            return vdev.config_vector
        if offset == 0x16:
            return vq.vector if vq is not None else VIRTIO_NO_VECTOR
        return (1 << (8 * size)) - 1   # QEMU's virtio_ioport_read default

    def legacy_write(self, offset: int, value: int, size: int) -> None:
        vdev = self.vdev
        cfg = legacy_config_offset(self._msix_on())
        if offset >= cfg:
            vdev.config_write(offset - cfg, value, size)
            return
        vq = vdev.get_queue(vdev.queue_sel)
        if offset == 0x04:
            if value & 1 << VIRTIO_F_BAD_FEATURE:
                value = 0   # the driver does not negotiate: assume nothing (bad features)
            vdev.set_features(value)
        elif offset == 0x08:
            if value == 0:
                self.virtio_pci_reset()
            elif vq is not None:
                vq.set_legacy_pfn(value, 4096, 4096)
        elif offset == 0x0E:
            if value < VIRTIO_QUEUE_MAX:
                vdev.queue_sel = value
        elif offset == 0x10:
            if value < VIRTIO_QUEUE_MAX:
                vdev.queue_notify(value)
        elif offset == 0x12:
            self._set_status(value)
            # Old Linux drove the device without enabling bus mastering; QEMU enables it.
            if value == (VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_ACKNOWLEDGE):
                pcimod.PCIDevice.config_write(self, pcimod.PCI_COMMAND, self.config[pcimod.PCI_COMMAND]
                                              | pcimod.PCI_COMMAND_MASTER, 1)
        elif offset == 0x14:
            vdev.config_vector = value if self._msix_vector_ok(value) else VIRTIO_NO_VECTOR
        elif offset == 0x16:
            if vq is not None:
                vq.vector = value if self._msix_vector_ok(value) else VIRTIO_NO_VECTOR
        else:
            log.guest_error(f"virtio_ioport_write: unexpected address 0x{offset:x} value 0x{value:x}"
                            f" ({LEGACY_NAMES.get(offset, 'reserved')})")
