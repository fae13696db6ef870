"""MSI-X: the extended message signalled interrupts capability (QEMU ``hw/pci/msix.c``).

Interface: ``msix_init(dev, nentries, table_bar, table_bar_nr, table_offset, pba_bar,
pba_bar_nr, pba_offset, cap_pos=0)``, ``msix_init_exclusive_bar(dev, nentries, bar_nr)``,
``msix_enabled(dev)``, ``msix_notify(dev, vector)``, ``msix_uninit(dev, table_bar, pba_bar)``.
  Capability (12 bytes): message control (table size - 1, FUNCTION MASK, ENABLE: the only
  writable bits), table BIR/offset, PBA BIR/offset.
  MMIO   ``msix-table``: 16 bytes per vector (address low/high, data, vector control bit 0 =
         mask), 32/64-bit accesses; ``msix-pba``: the pending bits, read-only.
  Delivery: a 32-bit store of the entry's data at its address through ``dev.dma_as``
  (COMMAND.MASTER required). A vector masked by its mask bit, by FUNCTION MASK or by MSI-X
  being disabled gets its pending bit set instead, and fires when it becomes unmasked.
  Vectors start masked; reset clears the table to masked, PBA and the control bits.
Spec: PCI Local Bus 3.0 section 6.8.2.
"""
from __future__ import annotations

from pyqemu.hw.pci.msi import msi_send_message
from pyqemu.hw.pci.pci import PCI_BASE_ADDRESS_SPACE_MEMORY, PCI_CAP_ID_MSIX, PCIDevice
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps
from pyqemu.qom.object import QOMError

PCI_MSIX_FLAGS = 2
PCI_MSIX_FLAGS_QSIZE = 0x07FF
PCI_MSIX_FLAGS_MASKALL = 0x4000
PCI_MSIX_FLAGS_ENABLE = 0x8000
PCI_MSIX_TABLE, PCI_MSIX_PBA = 4, 8
MSIX_CAP_LENGTH = 12
PCI_MSIX_ENTRY_SIZE = 16
PCI_MSIX_ENTRY_DATA, PCI_MSIX_ENTRY_VECTOR_CTRL = 8, 12
PCI_MSIX_ENTRY_CTRL_MASKBIT = 1
MSIX_CONTROL_OFFSET = 3           # the byte holding ENABLE and MASKALL
MSIX_ENABLE_MASK, MSIX_MASKALL_MASK = 0x80, 0x40


class MSIXState:
    """The MSI-X table, PBA and capability of one function."""

    def __init__(self, dev: PCIDevice, nentries: int, cap: int) -> None:
        self.dev = dev
        self.nentries = nentries
        self.cap = cap
        self.table = bytearray(nentries * PCI_MSIX_ENTRY_SIZE)
        self.pba = bytearray(((nentries + 63) // 64) * 8)
        self.function_masked = True
        ops = AccessConstraints(4, 8)
        self.table_mmio = MemoryRegion.mmio_region("msix-table", len(self.table), MemoryRegionOps(
            self._table_read, self._table_write, ops, AccessConstraints(4, 4)), owner=dev)
        self.pba_mmio = MemoryRegion.mmio_region("msix-pba", len(self.pba), MemoryRegionOps(
            self._pba_read, lambda _o, _v, _s: None, ops, AccessConstraints(4, 4)), owner=dev)
        self.table_bar: MemoryRegion | None = None
        self.pba_bar: MemoryRegion | None = None
        self._mask_all()

    # -- state --------------------------------------------------------------------------------------
    @property
    def control(self) -> int:
        return self.dev.config[self.cap + MSIX_CONTROL_OFFSET]

    @property
    def enabled(self) -> bool:
        return bool(self.control & MSIX_ENABLE_MASK)

    def _mask_all(self) -> None:
        for v in range(self.nentries):
            self.table[v * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL] |= PCI_MSIX_ENTRY_CTRL_MASKBIT

    def _update_function_masked(self) -> None:
        c = self.control
        self.function_masked = not c & MSIX_ENABLE_MASK or bool(c & MSIX_MASKALL_MASK)

    def vector_masked(self, vector: int, fmask: bool) -> bool:
        return fmask or bool(self.table[vector * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL]
                             & PCI_MSIX_ENTRY_CTRL_MASKBIT)

    def is_masked(self, vector: int) -> bool:
        return self.vector_masked(vector, self.function_masked)

    def is_pending(self, vector: int) -> bool:
        return bool(self.pba[vector // 8] & (1 << (vector % 8)))

    def set_pending(self, vector: int) -> None:
        self.pba[vector // 8] |= 1 << (vector % 8)

    def clr_pending(self, vector: int) -> None:
        self.pba[vector // 8] &= ~(1 << (vector % 8)) & 0xFF

    def message(self, vector: int) -> tuple[int, int]:
        e = vector * 16
        address = int.from_bytes(self.table[e:e + 8], "little")
        data = int.from_bytes(self.table[e + 8:e + 12], "little")
        return address, data

    def notify(self, vector: int) -> None:
        if not 0 <= vector < self.nentries:
            return
        if self.is_masked(vector):
            self.set_pending(vector)
            return
        msi_send_message(self.dev, *self.message(vector))

    def _handle_mask_update(self, vector: int, was_masked: bool) -> None:
        if was_masked and not self.is_masked(vector) and self.is_pending(vector):
            self.clr_pending(vector)
            self.notify(vector)

    # -- config space and MMIO ----------------------------------------------------------------------
    def write_config(self, addr: int, value: int, size: int) -> None:
        """QEMU msix_write_config: ENABLE/MASKALL changes (un)mask every vector."""
        pos = self.cap + MSIX_CONTROL_OFFSET
        if not addr <= pos < addr + size:
            return
        was_masked = self.function_masked
        self._update_function_masked()
        if not self.enabled:
            return
        self.dev.deassert_intx()
        if self.function_masked == was_masked:
            return
        for v in range(self.nentries):
            self._handle_mask_update(v, self.vector_masked(v, was_masked))

    def _table_read(self, offset: int, size: int) -> int:
        return int.from_bytes(self.table[offset & ~3:(offset & ~3) + 4], "little")

    def _table_write(self, offset: int, value: int, size: int) -> None:
        vector = offset // PCI_MSIX_ENTRY_SIZE
        was_masked = self.is_masked(vector)
        self.table[offset & ~3:(offset & ~3) + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")
        self._handle_mask_update(vector, was_masked)

    def _pba_read(self, offset: int, size: int) -> int:
        return int.from_bytes(self.pba[offset:offset + 4].ljust(4, b"\0"), "little")

    def reset(self) -> None:
        """QEMU msix_reset: control bits cleared, all vectors masked, nothing pending."""
        d = self.dev
        pos = self.cap + MSIX_CONTROL_OFFSET
        d.config[pos] &= ~d.wmask[pos] & 0xFF
        self.table[:] = bytes(len(self.table))
        self.pba[:] = bytes(len(self.pba))
        self._mask_all()
        self._update_function_masked()


def msix_init(dev: PCIDevice, nentries: int, table_bar: MemoryRegion, table_bar_nr: int,
              table_offset: int, pba_bar: MemoryRegion, pba_bar_nr: int, pba_offset: int,
              cap_pos: int = 0) -> None:
    """Add the MSI-X capability and map the table and PBA into the given BAR containers."""
    if not 1 <= nentries <= 2048:
        raise QOMError(f"{dev.type_name}: MSI-X vector count {nentries} out of range 1..2048")
    table_size = nentries * PCI_MSIX_ENTRY_SIZE
    pba_size = ((nentries + 63) // 64) * 8
    if (table_bar_nr == pba_bar_nr
            and table_offset < pba_offset + pba_size and pba_offset < table_offset + table_size) \
            or table_offset + table_size > table_bar.size or pba_offset + pba_size > pba_bar.size \
            or (table_offset | pba_offset) & 7:
        raise QOMError("table & pba overlap, or they don't fit in BARs, or don't align")
    cap = dev.add_capability(PCI_CAP_ID_MSIX, cap_pos, MSIX_CAP_LENGTH)
    st = MSIXState(dev, nentries, cap)
    dev._set_w(dev.config, cap + PCI_MSIX_FLAGS, nentries - 1)
    dev._set_w(dev.config, cap + PCI_MSIX_TABLE, table_offset | table_bar_nr, 4)
    dev._set_w(dev.config, cap + PCI_MSIX_PBA, pba_offset | pba_bar_nr, 4)
    dev.wmask[cap + MSIX_CONTROL_OFFSET] |= MSIX_ENABLE_MASK | MSIX_MASKALL_MASK
    table_bar.add_subregion(table_offset, st.table_mmio)
    pba_bar.add_subregion(pba_offset, st.pba_mmio)
    st.table_bar, st.pba_bar = table_bar, pba_bar
    dev.msix_state = st


def msix_init_exclusive_bar(dev: PCIDevice, nentries: int, bar_nr: int) -> None:
    """MSI-X in a BAR of its own: the table at 0, the PBA in the upper half of a 4 KiB BAR
    (larger for > 128 vectors), registered as 32-bit memory BAR ``bar_nr``."""
    bar_size = 4096
    pba_offset = bar_size // 2
    pba_size = ((nentries + 63) // 64) * 8
    if nentries * PCI_MSIX_ENTRY_SIZE > pba_offset:
        pba_offset = nentries * PCI_MSIX_ENTRY_SIZE
    if pba_offset + pba_size > 4096:
        bar_size = pba_offset + pba_size
    bar_size = 1 << (bar_size - 1).bit_length()
    bar = MemoryRegion.container_region(f"{dev.type_name}-msix", bar_size, owner=dev)
    msix_init(dev, nentries, bar, bar_nr, 0, bar, bar_nr, pba_offset)
    dev.msix_exclusive_bar = bar
    dev.register_bar(bar_nr, bar, PCI_BASE_ADDRESS_SPACE_MEMORY)


def msix_present(dev: PCIDevice) -> bool:
    return dev.msix_state is not None


def msix_enabled(dev: PCIDevice) -> bool:
    return dev.msix_state is not None and dev.msix_state.enabled


def msix_notify(dev: PCIDevice, vector: int) -> None:
    """Send ``vector``'s message, or set its pending bit while it is masked."""
    if dev.msix_state is not None:
        dev.msix_state.notify(vector)


def msix_is_masked(dev: PCIDevice, vector: int) -> bool:
    return dev.msix_state is None or dev.msix_state.is_masked(vector)


def msix_vector_use(dev: PCIDevice, vector: int) -> None:
    """Accepted for QEMU API parity: every vector counts as in use here."""


def msix_vector_unuse(dev: PCIDevice, vector: int) -> None:
    """Accepted for QEMU API parity (see msix_vector_use)."""


def msix_reset(dev: PCIDevice) -> None:
    if dev.msix_state is not None:
        dev.msix_state.reset()


def msix_uninit(dev: PCIDevice, table_bar: MemoryRegion | None = None,
                pba_bar: MemoryRegion | None = None) -> None:
    """Remove the table and PBA regions (the capability stays in config space)."""
    st = dev.msix_state
    if st is None:
        return
    for bar, mr in ((st.table_bar, st.table_mmio), (st.pba_bar, st.pba_mmio)):
        if bar is not None and mr.container is bar:
            bar.del_subregion(mr)
    dev.msix_state = None
