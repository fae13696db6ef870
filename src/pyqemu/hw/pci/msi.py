"""MSI: the message signalled interrupts capability (QEMU ``hw/pci/msi.c``).

Interface: ``msi_init(dev, offset, nr_vectors, msi64bit, per_vector_mask) -> int`` adds the
capability (offset 0: first free space); ``msi_enabled(dev)``, ``msi_notify(dev, vector)``.
  Capability: flags (ENABLE, multiple message capable/enable, 64-bit, per-vector masking),
  address (low, high for 64-bit), data, mask and pending bits.
  Delivery: a 32-bit little-endian store of ``data`` (low bits replaced by the vector number
  when several vectors are enabled) at ``address``, through the function's bus-master address
  space (``dev.dma_as``: COMMAND.MASTER required); on virt that reaches GICv2m's SETSPI.
  A masked vector sets its pending bit and is sent when the guest unmasks it.
Spec: PCI Local Bus 3.0 section 6.8.1.
"""
from __future__ import annotations

from pyqemu.hw.pci.pci import PCI_CAP_ID_MSI, PCIDevice
from pyqemu.memory import MemTxError
from pyqemu.qom.object import QOMError
from pyqemu.util import log

PCI_MSI_FLAGS = 2
PCI_MSI_FLAGS_ENABLE = 0x0001
PCI_MSI_FLAGS_QMASK = 0x000E
PCI_MSI_FLAGS_QSIZE = 0x0070
PCI_MSI_FLAGS_64BIT = 0x0080
PCI_MSI_FLAGS_MASKBIT = 0x0100
PCI_MSI_ADDRESS_LO = 4
PCI_MSI_ADDRESS_LO_MASK = 0xFFFFFFFC
PCI_MSI_VECTORS_MAX = 32


def msi_send_message(dev: PCIDevice, address: int, data: int) -> None:
    """Deliver one message: a 32-bit store through the bus-master space (QEMU
    msi_send_message; a failed store is dropped, as QEMU ignores its result)."""
    if not dev.command & 0x4:
        log.guest_error(f"{dev.type_name}: MSI to 0x{address:x} dropped: bus mastering is disabled")
        return
    try:
        dev.dma_as.store(address, data & 0xFFFFFFFF, 4)
    except MemTxError:
        log.guest_error(f"{dev.type_name}: MSI write of 0x{data:x} to 0x{address:x} failed")


def _cap_sizeof(flags: int) -> int:
    size = 0x0E if flags & PCI_MSI_FLAGS_64BIT else 0x0A
    if flags & PCI_MSI_FLAGS_MASKBIT:
        size += 0x0A
    return size


class MSIState:
    """The MSI capability of one function (offsets follow the 32/64-bit layout)."""

    def __init__(self, dev: PCIDevice, cap: int) -> None:
        self.dev = dev
        self.cap = cap

    @property
    def flags(self) -> int:
        return self.dev.get_word(self.cap + PCI_MSI_FLAGS)

    @property
    def is_64(self) -> bool:
        return bool(self.flags & PCI_MSI_FLAGS_64BIT)

    @property
    def data_off(self) -> int:
        return self.cap + (12 if self.is_64 else 8)

    @property
    def mask_off(self) -> int:
        return self.cap + (16 if self.is_64 else 12)

    @property
    def pending_off(self) -> int:
        return self.cap + (20 if self.is_64 else 16)

    @property
    def enabled(self) -> bool:
        return bool(self.flags & PCI_MSI_FLAGS_ENABLE)

    @property
    def nr_vectors(self) -> int:
        """Vectors the guest enabled (multiple message enable)."""
        return 1 << ((self.flags & PCI_MSI_FLAGS_QSIZE) >> 4)

    def message(self, vector: int) -> tuple[int, int]:
        d = self.dev
        address = d.get_long(self.cap + PCI_MSI_ADDRESS_LO)
        if self.is_64:
            address |= d.get_long(self.cap + 8) << 32
        data = d.get_word(self.data_off)
        n = self.nr_vectors
        if n > 1:
            data = (data & ~(n - 1)) | vector
        return address, data

    def is_masked(self, vector: int) -> bool:
        if not self.flags & PCI_MSI_FLAGS_MASKBIT:
            return False
        return bool(self.dev.get_long(self.mask_off) & (1 << vector))

    def notify(self, vector: int) -> None:
        if not self.enabled:
            return
        if vector >= self.nr_vectors:
            log.guest_error(f"{self.dev.type_name}: MSI vector {vector} beyond the "
                            f"{self.nr_vectors} enabled")
            return
        if self.is_masked(vector):
            d = self.dev
            d._set_w(d.config, self.pending_off, d.get_long(self.pending_off) | 1 << vector, 4)
            return
        msi_send_message(self.dev, *self.message(vector))

    def write_config(self, addr: int, value: int, size: int) -> None:
        """QEMU msi_write_config: clamp the enabled vector count, send unmasked pending ones."""
        d = self.dev
        flags = self.flags
        if not (addr < self.cap + _cap_sizeof(flags) and self.cap < addr + size) or not self.enabled:
            return
        d.deassert_intx()
        log_max = (flags & PCI_MSI_FLAGS_QMASK) >> 1
        log_num = (flags & PCI_MSI_FLAGS_QSIZE) >> 4
        if log_num > log_max:
            d._set_w(d.config, self.cap + PCI_MSI_FLAGS, (flags & ~PCI_MSI_FLAGS_QSIZE) | log_max << 4)
        if not flags & PCI_MSI_FLAGS_MASKBIT:
            return
        n = self.nr_vectors
        pending = d.get_long(self.pending_off) & ~d.get_long(self.mask_off) & (0xFFFFFFFF >> (32 - n))
        for vector in range(n):
            if pending & (1 << vector):
                d._set_w(d.config, self.pending_off, d.get_long(self.pending_off) & ~(1 << vector), 4)
                self.notify(vector)

    def reset(self) -> None:
        """QEMU msi_reset: disabled, one vector, address/data/mask/pending cleared."""
        d = self.dev
        d._set_w(d.config, self.cap + PCI_MSI_FLAGS,
                 self.flags & ~(PCI_MSI_FLAGS_QSIZE | PCI_MSI_FLAGS_ENABLE))
        end = self.cap + _cap_sizeof(self.flags)
        d.config[self.cap + PCI_MSI_ADDRESS_LO:end] = bytes(end - self.cap - PCI_MSI_ADDRESS_LO)


def msi_init(dev: PCIDevice, offset: int, nr_vectors: int, msi64bit: bool,
             per_vector_mask: bool) -> int:
    """Add an MSI capability for ``nr_vectors`` (1..32, a power of two); returns its offset."""
    if nr_vectors < 1 or nr_vectors > PCI_MSI_VECTORS_MAX or nr_vectors & (nr_vectors - 1):
        raise QOMError(f"{dev.type_name}: MSI vector count {nr_vectors} must be a power of two <= 32")
    flags = (nr_vectors.bit_length() - 1) << 1
    if msi64bit:
        flags |= PCI_MSI_FLAGS_64BIT
    if per_vector_mask:
        flags |= PCI_MSI_FLAGS_MASKBIT
    cap = dev.add_capability(PCI_CAP_ID_MSI, offset, _cap_sizeof(flags))
    st = MSIState(dev, cap)
    dev.msi_state = st
    dev._set_w(dev.config, cap + PCI_MSI_FLAGS, flags)
    dev._set_w(dev.wmask, cap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_QSIZE | PCI_MSI_FLAGS_ENABLE)
    dev._set_w(dev.wmask, cap + PCI_MSI_ADDRESS_LO, PCI_MSI_ADDRESS_LO_MASK, 4)
    if msi64bit:
        dev._set_w(dev.wmask, cap + 8, 0xFFFFFFFF, 4)
    dev._set_w(dev.wmask, st.data_off, 0xFFFF)
    if per_vector_mask:
        dev._set_w(dev.wmask, st.mask_off, 0xFFFFFFFF >> (PCI_MSI_VECTORS_MAX - nr_vectors), 4)
    return cap


def msi_present(dev: PCIDevice) -> bool:
    return dev.msi_state is not None


def msi_enabled(dev: PCIDevice) -> bool:
    return dev.msi_state is not None and dev.msi_state.enabled


def msi_notify(dev: PCIDevice, vector: int) -> None:
    """Signal ``vector`` (or mark it pending while masked)."""
    if dev.msi_state is not None:
        dev.msi_state.notify(vector)


def msi_uninit(dev: PCIDevice) -> None:
    dev.msi_state = None
