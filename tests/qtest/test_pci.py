"""PCI core through the virt board's ECAM: BAR sizing and mapping (32/64-bit memory, I/O),
COMMAND decode enables, reset, the capability list, INTx (pin, INTX_DISABLE, STATUS.INTERRUPT,
swizzle to the GIC's SPIs), bus-master DMA, MSI and MSI-X delivered to GICv2m (an SPI pends in
the GIC), masking and the PBA. A test function stands in for a real device."""
from __future__ import annotations

import pytest

from pyqemu.hw.pci.msi import msi_init, msi_notify
from pyqemu.hw.pci.msix import msix_enabled, msix_init_exclusive_bar, msix_notify
from pyqemu.hw.pci.pci import (
    PCI_BAR_UNMAPPED,
    PCI_BASE_ADDRESS_MEM_PREFETCH,
    PCI_BASE_ADDRESS_MEM_TYPE_64,
    PCI_BASE_ADDRESS_SPACE_IO,
    PCI_BASE_ADDRESS_SPACE_MEMORY,
    PCI_CAP_ID_EXP,
    PCI_CAP_ID_MSI,
    PCI_CAP_ID_MSIX,
    PCI_CAP_ID_PM,
    PCIDevice,
    pci_pm_init,
)
from pyqemu.hw.pci.pcie import pcie_cap_flr_init, pcie_endpoint_cap_init
from pyqemu.memory import MemoryRegion, MemTxError
from pyqemu.qom.object import QOMError

ECAM = 0x4010000000
PIO = 0x3EFF0000
GICD = 0x08000000
V2M_SETSPI = 0x08020040
SPI_INTX_BASE = 3          # virt: PCIe INTA..D are SPIs 3..6
RAM = 0x40000000


def ecam(bus: int, dev: int, fn: int = 0, reg: int = 0) -> int:
    return ECAM + (bus << 20 | dev << 15 | fn << 12 | reg)


class PCITestFunction(PCIDevice):
    """A PCI Express endpoint with every kind of BAR and interrupt, for these tests."""

    TYPE = "pyqemu-test-pci-function"
    USER_CREATABLE = False
    VENDOR_ID = 0x1B36
    DEVICE_ID = 0x00FE
    CLASS_ID = 0x00FF
    IS_EXPRESS = True
    INTX_PIN = 1

    def realize(self) -> None:
        self.bar0 = MemoryRegion.ram_region("test-bar0", 0x1000, owner=self)
        self.bar1 = MemoryRegion.ram_region("test-bar1", 0x100, owner=self)
        self.bar2 = MemoryRegion.ram_region("test-bar2", 0x4000, owner=self)
        self.register_bar(0, self.bar0, PCI_BASE_ADDRESS_SPACE_MEMORY)
        self.register_bar(1, self.bar1, PCI_BASE_ADDRESS_SPACE_IO)
        self.register_bar(2, self.bar2, PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH)
        msix_init_exclusive_bar(self, 4, 4)
        pci_pm_init(self, 0)
        msi_init(self, 0, 4, True, True)
        pcie_endpoint_cap_init(self, 0)
        pcie_cap_flr_init(self)


@pytest.fixture
def virt():  # noqa: ANN201
    from pyqemu.hw.core.machine import create_machine
    from pyqemu.system.machines import find_machine

    _, machine = create_machine(find_machine("virt", "aarch64"), 128 << 20, {})
    return machine


def plug(machine, bus_name: str = "pcie.0", addr: str | None = None) -> PCITestFunction:  # noqa: ANN001
    """Cold-plug a test function (as -device does) and reset the machine."""
    from pyqemu.system.qdev_add import find_bus

    dev = PCITestFunction()
    if addr is not None:
        dev.addr = addr
    dev.qdev_realize(find_bus(machine.sysbus, bus_name))
    return dev


def add(machine, **opts: str):  # noqa: ANN001, ANN201
    from pyqemu.system.qdev_add import device_add
    return device_add(dict(opts), machine)


def spi_pending(s, spi: int) -> bool:  # noqa: ANN001
    intid = spi + 32
    return bool(s.load(GICD + 0x200 + 4 * (intid // 32), 4) & (1 << (intid % 32)))


def enable_spi(s, spi: int) -> None:  # noqa: ANN001
    intid = spi + 32
    s.store(GICD + 0x100 + 4 * (intid // 32), 1 << (intid % 32), 4)


def clear_spi(s, spi: int) -> None:  # noqa: ANN001
    intid = spi + 32
    s.store(GICD + 0x280 + 4 * (intid // 32), 1 << (intid % 32), 4)


def caps(s, bus: int, dev: int) -> list[tuple[int, int]]:  # noqa: ANN001
    out = []
    pos = s.load(ecam(bus, dev, 0, 0x34), 1)
    while pos:
        out.append((pos, s.load(ecam(bus, dev, 0, pos), 1)))
        pos = s.load(ecam(bus, dev, 0, pos + 1), 1)
    return out


# -- BARs -----------------------------------------------------------------------------------------
def test_bar_sizing_reads_size_mask_and_type_bits(virt) -> None:  # noqa: ANN001
    plug(virt, addr="2")
    virt.reset()
    s = virt.address_space_memory
    assert s.load(ecam(0, 2, 0, 0), 4) == 0x00FE1B36
    assert [s.load(ecam(0, 2, 0, 0x10 + 4 * i), 4) for i in range(6)] == [0, 1, 0xC, 0, 0, 0]
    for i in range(6):
        s.store(ecam(0, 2, 0, 0x10 + 4 * i), 0xFFFFFFFF, 4)
    sizes = [s.load(ecam(0, 2, 0, 0x10 + 4 * i), 4) for i in range(6)]
    assert sizes == [0xFFFFF000, 0xFFFFFF01, 0xFFFFC00C, 0xFFFFFFFF, 0xFFFFF000, 0]
    # all-ones with decoding off maps nothing
    assert s.load(0x10000000, 4) == 0xFFFFFFFF


def test_memory_bar_maps_with_command_memory_and_moves(virt) -> None:  # noqa: ANN001
    dev = plug(virt, addr="2")
    virt.reset()
    s = virt.address_space_memory
    s.store(ecam(0, 2, 0, 0x10), 0x10040000, 4)
    assert dev.bar_address(0) == PCI_BAR_UNMAPPED          # COMMAND.MEMORY still clear
    assert s.load(0x10040000, 4) == 0xFFFFFFFF
    s.store(ecam(0, 2, 0, 4), 0x2, 2)
    assert dev.bar_address(0) == 0x10040000
    s.store(0x10040010, 0xCAFEF00D, 4)
    assert dev.bar0.ram[0x10:0x14] == (0xCAFEF00D).to_bytes(4, "little")
    s.store(ecam(0, 2, 0, 0x10), 0x10050000, 4)            # move it
    assert s.load(0x10040010, 4) == 0xFFFFFFFF
    assert s.load(0x10050010, 4) == 0xCAFEF00D
    s.store(ecam(0, 2, 0, 4), 0x0, 2)                      # decode off: unmapped
    assert s.load(0x10050010, 4) == 0xFFFFFFFF
    assert dev.bar_address(0) == PCI_BAR_UNMAPPED


def test_64bit_bar_in_the_high_window(virt) -> None:  # noqa: ANN001
    dev = plug(virt, addr="2")
    virt.reset()
    s = virt.address_space_memory
    s.store(ecam(0, 2, 0, 0x18), 0x0000400C, 4)
    s.store(ecam(0, 2, 0, 0x1C), 0x80, 4)
    s.store(ecam(0, 2, 0, 4), 0x2, 2)
    assert dev.bar_address(2) == 0x8000004000
    s.store(0x8000004008, 0x1122334455667788, 8)
    assert s.load(0x8000004008, 8) == 0x1122334455667788
    assert dev.bar2.ram[8:16] == (0x1122334455667788).to_bytes(8, "little")
    # BAR3 holds the upper half: writing it moves the BAR
    s.store(ecam(0, 2, 0, 0x1C), 0x81, 4)
    assert dev.bar_address(2) == 0x8100004000
    assert s.load(0x8000004008, 8) == (1 << 64) - 1


def test_io_bar_maps_into_the_pio_window(virt) -> None:  # noqa: ANN001
    dev = plug(virt, addr="2")
    virt.reset()
    s = virt.address_space_memory
    s.store(ecam(0, 2, 0, 0x14), 0x1000, 4)
    s.store(ecam(0, 2, 0, 4), 0x2, 2)                      # MEMORY is not IO
    assert s.load(PIO + 0x1000, 4) == 0xFFFFFFFF
    s.store(ecam(0, 2, 0, 4), 0x1, 2)
    assert dev.bar_address(1) == 0x1000
    s.store(PIO + 0x1004, 0xAB, 1)
    assert dev.bar1.ram[4] == 0xAB
    assert s.load(ecam(0, 2, 0, 0x14), 4) == 0x1001


def test_reset_clears_command_and_bars_and_unmaps(virt) -> None:  # noqa: ANN001
    dev = plug(virt, addr="2")
    virt.reset()
    s = virt.address_space_memory
    s.store(ecam(0, 2, 0, 0x10), 0x10040000, 4)
    s.store(ecam(0, 2, 0, 4), 0x0406, 2)
    s.store(ecam(0, 2, 0, 0x3C), 0x0B, 1)
    virt.reset()
    assert s.load(ecam(0, 2, 0, 4), 4) & 0xFFFF == 0
    assert s.load(ecam(0, 2, 0, 0x10), 4) == 0
    assert s.load(ecam(0, 2, 0, 0x3C), 2) == 0x0100       # line cleared, pin A
    assert dev.bar_address(0) == PCI_BAR_UNMAPPED
    assert s.load(0x10040000, 4) == 0xFFFFFFFF


def test_function_level_reset(virt) -> None:  # noqa: ANN001
    dev = plug(virt, addr="2")
    virt.reset()
    s = virt.address_space_memory
    devctl = 0x6C + 8
    assert s.load(ecam(0, 2, 0, 0x6C + 4), 4) & 0x10000000    # DEVCAP.FLR
    s.store(ecam(0, 2, 0, 0x10), 0x10040000, 4)
    s.store(ecam(0, 2, 0, 4), 0x6, 2)
    s.store(ecam(0, 2, 0, 0x42), 0x8000, 2)
    s.store(ecam(0, 2, 0, devctl), 0x8000, 2)
    assert s.load(ecam(0, 2, 0, devctl), 2) == 0             # the bit reads 0
    assert s.load(ecam(0, 2, 0, 4), 2) == 0
    assert dev.bar_address(0) == PCI_BAR_UNMAPPED
    assert not msix_enabled(dev)


def test_register_bar_rejects_non_power_of_two(virt) -> None:  # noqa: ANN001
    dev = PCITestFunction()
    with pytest.raises(QOMError, match="pow2"):
        dev.register_bar(0, MemoryRegion.ram_region("odd", 0x3000), 0)


# -- capabilities ---------------------------------------------------------------------------------
def test_capability_list(virt) -> None:  # noqa: ANN001
    plug(virt, addr="2")
    virt.reset()
    s = virt.address_space_memory
    assert s.load(ecam(0, 2, 0, 6), 2) & 0x10                # STATUS.CAP_LIST
    # each capability goes to the head of the list, in the first free space after 0x40
    assert caps(s, 0, 2) == [(0x6C, PCI_CAP_ID_EXP), (0x54, PCI_CAP_ID_MSI), (0x4C, PCI_CAP_ID_PM),
                             (0x40, PCI_CAP_ID_MSIX)]
    assert s.load(ecam(0, 2, 0, 0x4E), 2) == 0x0003          # PM 1.2
    assert s.load(ecam(0, 2, 0, 0x6E), 2) == 0x0092          # PCIe v2, RC integrated endpoint
    assert s.load(ecam(0, 2, 0, 0x100), 4) == 0              # null extended capability header
    assert s.load(ecam(0, 2, 0, 0x42), 2) == 3               # MSI-X table size 4
    assert s.load(ecam(0, 2, 0, 0x44), 4) == 0x4             # table: BAR4 + 0
    assert s.load(ecam(0, 2, 0, 0x48), 4) == 0x804           # PBA: BAR4 + 0x800
    s.store(ecam(0, 2, 0, 0x4C), 0xFFFFFFFF, 4)              # capabilities are read-only
    assert s.load(ecam(0, 2, 0, 0x4C), 4) == 0x00034001
    s.store(ecam(0, 2, 0, 0x50), 0xFFFF, 2)                  # but PMCSR's power state is not
    assert s.load(ecam(0, 2, 0, 0x50), 2) == 0x000B


def test_overlapping_capability_is_refused(virt) -> None:  # noqa: ANN001
    dev = plug(virt, addr="2")
    with pytest.raises(QOMError, match="overlaps existing capability"):
        dev.add_capability(0x09, 0x50, 8)


# -- INTx -----------------------------------------------------------------------------------------
def test_intx_swizzle_disable_and_status(virt) -> None:  # noqa: ANN001
    dev = plug(virt, addr="2")
    virt.reset()
    s = virt.address_space_memory
    line = SPI_INTX_BASE + (0 + 2) % 4                        # INTA of slot 2
    dev.set_irq(1)
    assert spi_pending(s, line)
    assert s.load(ecam(0, 2, 0, 6), 2) & 0x08                # STATUS.INTERRUPT
    s.store(ecam(0, 2, 0, 4), 0x0400, 2)                     # INTX_DISABLE: line drops, status stays
    assert not spi_pending(s, line)
    assert s.load(ecam(0, 2, 0, 6), 2) & 0x08
    s.store(ecam(0, 2, 0, 4), 0x0000, 2)
    assert spi_pending(s, line)
    dev.set_irq(0)
    assert not spi_pending(s, line)
    assert not s.load(ecam(0, 2, 0, 6), 2) & 0x08


def test_intx_lines_are_shared_and_counted(virt) -> None:  # noqa: ANN001
    a = plug(virt, addr="2")
    b = PCITestFunction()
    b.addr = "6"                                             # (0 + 6) % 4 == (0 + 2) % 4
    from pyqemu.system.qdev_add import find_bus
    b.qdev_realize(find_bus(virt.sysbus, "pcie.0"))
    virt.reset()
    s = virt.address_space_memory
    line = SPI_INTX_BASE + 2
    a.set_irq(1)
    b.set_irq(1)
    a.set_irq(0)
    assert spi_pending(s, line)
    b.set_irq(0)
    assert not spi_pending(s, line)


# -- DMA ------------------------------------------------------------------------------------------
def test_dma_needs_bus_master(virt) -> None:  # noqa: ANN001
    dev = plug(virt, addr="2")
    virt.reset()
    s = virt.address_space_memory
    s.write(RAM + 0x1000, b"hello")
    with pytest.raises(MemTxError):
        dev.dma_read(RAM + 0x1000, 5)
    with pytest.raises(MemTxError):
        dev.dma_as.read(RAM + 0x1000, 5)
    s.store(ecam(0, 2, 0, 4), 0x4, 2)
    assert dev.dma_read(RAM + 0x1000, 5) == b"hello"
    dev.dma_write(RAM + 0x2000, b"world")
    assert s.read(RAM + 0x2000, 5) == b"world"
    with pytest.raises(MemTxError):
        dev.dma_read(0x7000000000, 4)                        # nothing there
    s.store(ecam(0, 2, 0, 4), 0x0, 2)
    with pytest.raises(MemTxError):
        dev.dma_write(RAM + 0x2000, b"x")


# -- MSI-X ----------------------------------------------------------------------------------------
def _msix_setup(virt):  # noqa: ANN001, ANN202
    dev = plug(virt, addr="2")
    virt.reset()
    s = virt.address_space_memory
    s.store(ecam(0, 2, 0, 0x20), 0x10100000, 4)              # BAR4: the MSI-X table and PBA
    s.store(ecam(0, 2, 0, 4), 0x6, 2)                        # MEMORY | MASTER
    for v in range(4):
        s.store(0x10100000 + 16 * v, V2M_SETSPI, 4)
        s.store(0x10100000 + 16 * v + 4, 0, 4)
        s.store(0x10100000 + 16 * v + 8, 80 + v, 4)          # INTID 80+v = SPI 48+v
    for v in range(4):
        enable_spi(s, 48 + v)
    return dev, s


def test_msix_delivers_to_gicv2m(virt) -> None:  # noqa: ANN001
    dev, s = _msix_setup(virt)
    assert s.load(0x10100000 + 12, 4) == 1                   # vectors start masked
    s.store(ecam(0, 2, 0, 0x42), 0x8000, 2)                  # MSI-X enable
    assert msix_enabled(dev)
    s.store(0x10100000 + 16 * 1 + 12, 0, 4)                  # unmask vector 1
    msix_notify(dev, 1)
    assert spi_pending(s, 49)
    assert not spi_pending(s, 48)


def test_msix_masked_vector_sets_pba_and_fires_on_unmask(virt) -> None:  # noqa: ANN001
    dev, s = _msix_setup(virt)
    s.store(ecam(0, 2, 0, 0x42), 0x8000, 2)
    msix_notify(dev, 2)                                       # masked: pending, no message
    assert not spi_pending(s, 50)
    assert s.load(0x10100800, 4) == 0b100
    s.store(0x10100000 + 16 * 2 + 12, 0, 4)                  # unmask: sent, pending cleared
    assert spi_pending(s, 50)
    assert s.load(0x10100800, 4) == 0


def test_msix_function_mask(virt) -> None:  # noqa: ANN001
    dev, s = _msix_setup(virt)
    s.store(0x10100000 + 12, 0, 4)                           # vector 0 unmasked
    s.store(ecam(0, 2, 0, 0x42), 0xC000, 2)                  # enable + function mask
    msix_notify(dev, 0)
    assert not spi_pending(s, 48)
    assert s.load(0x10100800, 4) == 1
    s.store(ecam(0, 2, 0, 0x42), 0x8000, 2)                  # function unmask fires it
    assert spi_pending(s, 48)
    assert s.load(0x10100800, 4) == 0


def test_msix_disabled_or_no_bus_master_sends_nothing(virt) -> None:  # noqa: ANN001
    dev, s = _msix_setup(virt)
    s.store(0x10100000 + 12, 0, 4)
    msix_notify(dev, 0)                                      # MSI-X not enabled: held pending
    assert not spi_pending(s, 48)
    s.store(ecam(0, 2, 0, 4), 0x2, 2)                        # MASTER off
    s.store(ecam(0, 2, 0, 0x42), 0x8000, 2)                  # enable: the pending vector is dropped
    assert not spi_pending(s, 48)
    assert s.load(0x10100800, 4) == 0


def test_msix_reset_masks_everything(virt) -> None:  # noqa: ANN001
    dev, s = _msix_setup(virt)
    s.store(ecam(0, 2, 0, 0x42), 0x8000, 2)
    s.store(0x10100000 + 12, 0, 4)
    virt.reset()
    assert not msix_enabled(dev)
    assert dev.msix_state.table[12] == 1
    assert dev.msix_state.message(0) == (0, 0)


# -- MSI ------------------------------------------------------------------------------------------
def test_msi_multiple_vectors_and_masking(virt) -> None:  # noqa: ANN001
    dev = plug(virt, addr="2")
    virt.reset()
    s = virt.address_space_memory
    cap = 0x54
    assert s.load(ecam(0, 2, 0, cap + 2), 2) == 0x0184      # 64-bit, per-vector mask, 4 vectors
    s.store(ecam(0, 2, 0, 4), 0x4, 2)
    s.store(ecam(0, 2, 0, cap + 4), V2M_SETSPI, 4)
    s.store(ecam(0, 2, 0, cap + 8), 0, 4)
    s.store(ecam(0, 2, 0, cap + 12), 80, 2)                  # base INTID 80, low 2 bits = vector
    s.store(ecam(0, 2, 0, cap + 2), 0x0021, 2)               # enable 4 vectors
    for v in range(4):
        enable_spi(s, 48 + v)
    msi_notify(dev, 3)
    assert spi_pending(s, 51)
    s.store(ecam(0, 2, 0, cap + 16), 0b0010, 4)              # mask vector 1
    msi_notify(dev, 1)
    assert not spi_pending(s, 49)
    assert s.load(ecam(0, 2, 0, cap + 20), 4) == 0b0010      # pending bit
    s.store(ecam(0, 2, 0, cap + 16), 0, 4)                   # unmask: delivered
    assert spi_pending(s, 49)
    assert s.load(ecam(0, 2, 0, cap + 20), 4) == 0
    s.store(ecam(0, 2, 0, cap + 2), 0x0071, 2)               # 128 vectors asked: clamped to 4
    assert s.load(ecam(0, 2, 0, cap + 2), 2) & 0x70 == 0x20
