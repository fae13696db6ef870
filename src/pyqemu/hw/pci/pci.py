"""PCI buses and devices: configuration space, BARs, capabilities, INTx, DMA (QEMU ``hw/pci/pci.c``).

Interface (contract B of issue 6):
  A ``PCIDevice`` owns its configuration space (256 bytes, 4 KiB for PCI Express functions)
  with QEMU's write mask (bits software may change) and write-1-to-clear mask. A subclass sets
  its identity (``VENDOR_ID``, ``DEVICE_ID``, ``CLASS_ID``, ``INTX_PIN``...), and in
  ``realize()`` calls ``register_bar`` and ``add_capability`` (or msi/msix/pcie helpers).
  ``config_read``/``config_write`` are what host bridges (ECAM) call; subclasses extend them.
  BARs: writing all-ones reads back the size mask with the type bits; a BAR is mapped into the
  bus's ``mem``/``io`` region when programmed and COMMAND.MEMORY/IO is set (QEMU
  pci_update_mappings), unmapped otherwise. ROM BARs are not implemented (read as 0).
  INTx: ``set_irq(level)`` on the pin in INTERRUPT_PIN; STATUS.INTERRUPT follows it, and
  COMMAND.INTX_DISABLE holds it off the wire; the pin is swizzled (pin + slot) % 4 at each
  bus up to the root bus's host (``PCIBus.set_irq_fn``).
  DMA: ``dma_read``/``dma_write``/``dma_as`` reach the root bus's ``dma_as`` (the machine's
  system address space) through a per-function alias enabled by COMMAND.MASTER.
Spec: PCI Local Bus 3.0 ch. 6; QEMU 7.2 hw/pci/pci.c.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyqemu.memory import ADDR_SPACE_END, AddressSpace, MemoryRegion, MemTxError, transaction
from pyqemu.qom.device import Bus, Device, Prop
from pyqemu.qom.object import QOMError
from pyqemu.util import log

PCI_CONFIG_SPACE_SIZE = 0x100
PCIE_CONFIG_SPACE_SIZE = 0x1000
PCI_CONFIG_HEADER_SIZE = 0x40

# header offsets
PCI_VENDOR_ID, PCI_DEVICE_ID, PCI_COMMAND, PCI_STATUS = 0x00, 0x02, 0x04, 0x06
PCI_REVISION_ID, PCI_CLASS_PROG, PCI_CLASS_DEVICE = 0x08, 0x09, 0x0A
PCI_CACHE_LINE_SIZE, PCI_LATENCY_TIMER, PCI_HEADER_TYPE = 0x0C, 0x0D, 0x0E
PCI_BASE_ADDRESS_0 = 0x10
PCI_SUBSYSTEM_VENDOR_ID, PCI_SUBSYSTEM_ID = 0x2C, 0x2E
PCI_ROM_ADDRESS, PCI_CAPABILITY_LIST = 0x30, 0x34
PCI_ROM_ADDRESS1 = 0x38                       # type 1 (bridge) header
PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN = 0x3C, 0x3D
PCI_HEADER_TYPE_NORMAL, PCI_HEADER_TYPE_BRIDGE = 0, 1
# command bits software may set on a plain device (QEMU pci_init_wmask)
PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER = 0x1, 0x2, 0x4
PCI_COMMAND_SERR, PCI_COMMAND_INTX_DISABLE = 0x100, 0x400
PCI_STATUS_INTERRUPT, PCI_STATUS_CAP_LIST = 0x08, 0x10
PCI_STATUS_66MHZ, PCI_STATUS_FAST_BACK = 0x20, 0x80
# status bits that a write of 1 clears (QEMU pci_init_w1cmask)
PCI_STATUS_W1C = 0x0100 | 0x0800 | 0x1000 | 0x2000 | 0x4000 | 0x8000

# BAR type bits
PCI_BASE_ADDRESS_SPACE_MEMORY = 0
PCI_BASE_ADDRESS_SPACE_IO = 0x1
PCI_BASE_ADDRESS_MEM_TYPE_32 = 0
PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4
PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8
PCI_NUM_REGIONS = 7
PCI_ROM_SLOT = 6
PCI_BAR_UNMAPPED = -1

# capability IDs
PCI_CAP_ID_PM = 0x01
PCI_CAP_ID_SLOTID = 0x04
PCI_CAP_ID_MSI = 0x05
PCI_CAP_ID_VNDR = 0x09
PCI_CAP_ID_SHPC = 0x0C
PCI_CAP_ID_SSVID = 0x0D
PCI_CAP_ID_EXP = 0x10
PCI_CAP_ID_MSIX = 0x11
PCI_CAP_LIST_ID, PCI_CAP_LIST_NEXT = 0, 1
# power management capability (QEMU devices' pm init)
PCI_PM_PMC, PCI_PM_CTRL, PCI_PM_SIZEOF = 2, 4, 8
PCI_PM_CAP_VER_1_2 = 0x0003
PCI_PM_CTRL_STATE_MASK = 0x0003
PCI_PM_CTRL_NO_SOFT_RESET = 0x0008
PCI_NUM_PINS = 4

PCI_VENDOR_ID_REDHAT = 0x1B36
PCI_VENDOR_ID_REDHAT_QUMRANET = 0x1AF4   # QEMU's default subsystem IDs
PCI_SUBDEVICE_ID_QEMU = 0x1100

HEADER_NAMES = {0x00: "VENDOR_ID", 0x02: "DEVICE_ID", 0x04: "COMMAND", 0x06: "STATUS",
                0x08: "REVISION_ID", 0x09: "CLASS_PROG", 0x0A: "CLASS_DEVICE",
                0x0C: "CACHE_LINE_SIZE", 0x0D: "LATENCY_TIMER", 0x0E: "HEADER_TYPE", 0x0F: "BIST",
                **{0x10 + 4 * i: f"BASE_ADDRESS_{i}" for i in range(6)},
                0x28: "CARDBUS_CIS", 0x2C: "SUBSYSTEM_VENDOR_ID", 0x2E: "SUBSYSTEM_ID",
                0x30: "ROM_ADDRESS", 0x34: "CAPABILITY_LIST", 0x3C: "INTERRUPT_LINE",
                0x3D: "INTERRUPT_PIN", 0x3E: "MIN_GNT", 0x3F: "MAX_LAT"}

CLASS_NAMES = {0x0100: "SCSI controller", 0x0101: "IDE controller", 0x0106: "SATA controller",
               0x0108: "Class 0108", 0x0200: "Ethernet controller", 0x0300: "VGA controller",
               0x0600: "Host bridge", 0x0604: "PCI bridge", 0x0C03: "USB controller"}


def pci_devfn(slot: int, func: int) -> int:
    return ((slot & 0x1F) << 3) | (func & 7)


def _overlaps(addr: int, size: int, start: int, length: int) -> bool:
    return addr < start + length and start < addr + size


def pci_swizzle(slot: int, pin: int) -> int:
    """The standard INTx swizzle of a bridge or host (QEMU pci_swizzle_map_irq_fn)."""
    return (pin + slot) % PCI_NUM_PINS


class QEMUProp(Prop):
    """A qdev property with QEMU's own type name and help text (``-device T,help``): bit
    properties say ``on/off``, enums list their values; a ``None`` string prints as ``""``."""

    def __init__(self, kind: str, default: Any = None, *, qom_type: str | None = None,
                 name: str | None = None, description: str | None = None) -> None:
        super().__init__(kind, default, name=name, description=description)
        self._qom_type = qom_type

    @property
    def qom_type(self) -> str:
        return self._qom_type or super().qom_type

    def print(self, obj: Device) -> str:
        if self.kind == "str" and self.__get__(obj) is None:
            return '""'
        return super().print(obj)


class PCIAddrProp(QEMUProp):
    """``addr``: QEMU's pci-devfn property (an int32 devfn, -1 = the first free slot) set as
    ``SLOT[.FN]`` in hex or as a number; kept out of the generic integer parsing."""

    def convert(self, value: Any) -> Any:
        if isinstance(value, str):
            return parse_pci_addr(value)
        if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value < 256:
            raise QOMError(f"Property 'addr' doesn't take value '{value}'")
        return value

    def __set__(self, obj: Device, value: Any) -> None:
        try:
            super().__set__(obj, value)
        except QOMError as e:   # QEMU names the type: Property 'nvme.addr' doesn't take ...
            raise QOMError(str(e).replace("Property 'addr'", f"Property '{obj.type_name}.addr'")) from None

    def print(self, obj: Device) -> str:
        devfn = obj.devfn if isinstance(obj, PCIDevice) else -1   # type: ignore[attr-defined]
        return f"{devfn >> 3:02x}.{devfn & 7:x}" if devfn >= 0 else "<unset>"


class PCIIORegion:
    """One BAR: QEMU's PCIIORegion (size, type bits, region, current address)."""

    __slots__ = ("size", "type", "region", "addr", "space")

    def __init__(self, region: MemoryRegion, flags: int) -> None:
        self.region = region
        self.size = region.size
        self.type = flags
        self.addr = PCI_BAR_UNMAPPED
        self.space: MemoryRegion | None = None

    @property
    def is_io(self) -> bool:
        return bool(self.type & PCI_BASE_ADDRESS_SPACE_IO)

    @property
    def is_64(self) -> bool:
        return not self.is_io and bool(self.type & PCI_BASE_ADDRESS_MEM_TYPE_64)


class PCIBus(Bus):
    """A PCI bus (QEMU TYPE_PCI_BUS); ``mem`` and ``io`` are where BARs are mapped.

    A root bus has a host: ``set_irq_fn(line, level)`` takes its swizzled INTx lines and
    ``dma_as`` is the address space devices master into. A secondary bus belongs to a bridge
    (``parent_dev``); its number is the bridge's SECONDARY_BUS register."""

    TYPE = "PCI"
    BUS_ACCEPTS = "pci-device"

    def __init__(self, name: str, parent_dev: Device | None, mem: MemoryRegion, io: MemoryRegion,
                 bus_num: int = 0, *, set_irq_fn: Callable[[int, int], None] | None = None,
                 dma_as: AddressSpace | None = None) -> None:
        super().__init__(name, parent_dev)
        self.mem = mem
        self.io = io
        self._root_num = bus_num
        self.by_devfn: dict[int, PCIDevice] = {}
        self.set_irq_fn = set_irq_fn
        self.irq_count = [0] * PCI_NUM_PINS
        self._dma_as = dma_as

    @property
    def is_root(self) -> bool:
        return not isinstance(self.parent_dev, PCIDevice)

    @property
    def bus_num(self) -> int:
        """QEMU pci_bus_num: the root's number, else the bridge's SECONDARY_BUS."""
        if self.is_root:
            return self._root_num
        return self.parent_dev.config[0x19]   # type: ignore[union-attr]

    @property
    def dma_as(self) -> AddressSpace | None:
        """The address space bus masters reach (the root bus's, as QEMU without an IOMMU)."""
        bus: PCIBus = self
        while not bus.is_root:
            parent = bus.parent_dev.parent_bus     # type: ignore[union-attr]
            if not isinstance(parent, PCIBus):
                return None
            bus = parent
        return bus._dma_as

    @dma_as.setter
    def dma_as(self, value: AddressSpace | None) -> None:
        self._dma_as = value

    def map_irq(self, dev: PCIDevice, pin: int) -> int:
        return pci_swizzle(dev.devfn >> 3, pin)

    def attach(self, dev: Device) -> None:
        if not isinstance(dev, PCIDevice):
            raise QOMError(f"Bus '{self.bus_name}' does not accept device '{dev.type_name}'")
        devfn = dev.devfn
        if devfn < 0:   # the first free slot
            devfn = next((pci_devfn(s, 0) for s in range(32) if pci_devfn(s, 0) not in self.by_devfn),
                         -1)
            if devfn < 0:
                raise QOMError(f"PCI: no slot/function available for {dev.type_name}, "
                               "all in use or reserved")
        elif devfn in self.by_devfn:
            other = self.by_devfn[devfn]
            raise QOMError(f"PCI: slot {devfn >> 3} function {devfn & 7} not available for "
                           f"{dev.type_name}, in use by {other.type_name},id={other.id or '(null)'}")
        self._check_multifunction(dev, devfn)
        if isinstance(self.parent_dev, PCIDevice):
            self.parent_dev.check_child_plug(dev, devfn)
        super().attach(dev)
        dev.devfn = devfn
        self.by_devfn[devfn] = dev

    def _check_multifunction(self, dev: PCIDevice, devfn: int) -> None:
        """QEMU pci_init_multifunction: HEADER_TYPE bit 7, and functions > 0 only beside a
        multifunction function 0."""
        slot, fn = devfn >> 3, devfn & 7
        if dev.multifunction:
            dev.config[PCI_HEADER_TYPE] |= 0x80
        if fn:
            f0 = self.by_devfn.get(pci_devfn(slot, 0))
            if f0 is not None and not f0.multifunction:
                raise QOMError(f"PCI: single function device can't be populated in function "
                               f"{slot:x}.{fn:x}")
            return
        if dev.multifunction:
            return
        for f in range(1, 8):
            if pci_devfn(slot, f) in self.by_devfn:
                raise QOMError(f"PCI: {slot:x}.0 indicates single function, but {slot:x}.{f:x} "
                               "is already populated.")

    def detach(self, dev: Device) -> None:
        super().detach(dev)
        assert isinstance(dev, PCIDevice)
        self.by_devfn.pop(dev.devfn, None)

    def bridges(self) -> list[PCIDevice]:
        """Devices on this bus with a secondary bus, in devfn order."""
        return [d for _, d in sorted(self.by_devfn.items()) if d.sec_bus is not None]

    def find_bus(self, bus_num: int) -> PCIBus | None:
        """The bus numbered ``bus_num`` at or below this one, walking bridges by their programmed
        secondary..subordinate range (QEMU pci_find_bus_nr)."""
        if bus_num == self.bus_num:
            return self
        for br in self.bridges():
            sec, sub = br.config[0x19], br.config[0x1A]
            if sec and sec <= bus_num <= sub:
                assert br.sec_bus is not None
                return br.sec_bus.find_bus(bus_num)
        return None

    def find(self, bus_num: int, devfn: int) -> PCIDevice | None:
        """The function at ``bus_num``:``devfn`` (QEMU pci_find_device), or None."""
        bus = self.find_bus(bus_num)
        return None if bus is None else bus.by_devfn.get(devfn)

    def config_limit(self, dev: PCIDevice) -> int:
        """How much of ``dev``'s config space the host reaches: a conventional PCI bus on the
        way up hides the extended space (QEMU pci_adjust_config_limit)."""
        bus: PCIBus = self
        while True:
            if not isinstance(bus, PCIExpressBus):
                return min(dev.config_size, PCI_CONFIG_SPACE_SIZE)
            if bus.is_root:
                return dev.config_size
            parent = bus.parent_dev.parent_bus   # type: ignore[union-attr]
            if not isinstance(parent, PCIBus):
                return dev.config_size
            bus = parent

    def all_devices(self) -> list[PCIDevice]:
        """Every function on this bus and below, depth first in devfn order."""
        out: list[PCIDevice] = []
        for _, d in sorted(self.by_devfn.items()):
            out.append(d)
            if d.sec_bus is not None:
                out += d.sec_bus.all_devices()
        return out


class PCIExpressBus(PCIBus):
    """A PCI Express bus (QEMU TYPE_PCIE_BUS, ``type PCIE`` in ``info qtree``)."""
    TYPE = "PCIE"


class PCIDevice(Device):
    """QEMU TYPE_PCI_DEVICE: a function with a configuration space."""

    TYPE = "pci-device"
    ABSTRACT = True
    BUS_TYPE = "PCI"
    VENDOR_ID = 0
    DEVICE_ID = 0
    REVISION = 0
    CLASS_ID = 0                      # base class << 8 | subclass
    PROG_IF = 0
    SUBSYSTEM_VENDOR_ID = PCI_VENDOR_ID_REDHAT_QUMRANET
    SUBSYSTEM_ID = PCI_SUBDEVICE_ID_QEMU
    HEADER_TYPE = PCI_HEADER_TYPE_NORMAL
    IS_EXPRESS = False
    INTX_PIN = 0                      # 1 = INTA ... 4 = INTD, 0 = no INTx
    # QEMU's pci_props, in its order (info qtree prints them after the device's own)
    addr = PCIAddrProp("str", -1, qom_type="int32",
                       description="Slot and optional function number, example: 06.0 or 06")
    romfile = QEMUProp("str", None)
    romsize = Prop("uint32", 0xFFFFFFFF)
    rombar = Prop("uint32", 1)
    multifunction = QEMUProp("bool", False, description="on/off")
    x_pcie_lnksta_dllla = QEMUProp("bool", True, name="x-pcie-lnksta-dllla", description="on/off")
    x_pcie_extcap_init = QEMUProp("bool", True, name="x-pcie-extcap-init", description="on/off")
    failover_pair_id = QEMUProp("str", None, name="failover_pair_id")
    acpi_index = Prop("uint32", 0)

    def __init__(self) -> None:
        super().__init__()
        self._devfn = -1
        self.io_regions: list[PCIIORegion | None] = [None] * PCI_NUM_REGIONS
        self.irq_state = 0             # asserted INTx pins, bit per pin
        self.sec_bus: PCIBus | None = None   # bridges set it
        self.msi_state: Any = None     # pyqemu.hw.pci.msi.MSIState when msi_init ran
        self.msix_state: Any = None    # pyqemu.hw.pci.msix.MSIXState when msix_init ran
        self.exp_cap = 0               # PCI Express capability offset (pcie.py)
        self.msix_exclusive_bar: MemoryRegion | None = None
        self._bm_region: MemoryRegion | None = None
        self._dma_as: AddressSpace | None = None
        self._reset_config: bytes | None = None
        self._alloc_config(PCIE_CONFIG_SPACE_SIZE if self.IS_EXPRESS else PCI_CONFIG_SPACE_SIZE)
        self.init_config()

    def _alloc_config(self, size: int) -> None:
        self.config = bytearray(size)
        self.wmask = bytearray(size)
        self.w1cmask = bytearray(size)
        self.used = bytearray(size)   # bytes taken by capabilities (QEMU pdev->used)

    @property
    def devfn(self) -> int:
        """The assigned devfn; before plugging, the ``addr`` property (-1: the first free)."""
        return self._devfn if self._devfn >= 0 else self.addr

    @devfn.setter
    def devfn(self, value: int) -> None:
        self._devfn = value

    @property
    def config_size(self) -> int:
        return len(self.config)

    @property
    def is_express(self) -> bool:
        return len(self.config) == PCIE_CONFIG_SPACE_SIZE

    @property
    def is_bridge(self) -> bool:
        return self.HEADER_TYPE == PCI_HEADER_TYPE_BRIDGE

    def _set_w(self, buf: bytearray, off: int, value: int, n: int = 2) -> None:
        buf[off:off + n] = value.to_bytes(n, "little")

    def get_word(self, off: int) -> int:
        return int.from_bytes(self.config[off:off + 2], "little")

    def get_long(self, off: int) -> int:
        return int.from_bytes(self.config[off:off + 4], "little")

    def init_config(self) -> None:
        """The header's identity and QEMU's default write masks (pci_init_wmask/w1cmask)."""
        c = self.config
        self._set_w(c, PCI_VENDOR_ID, self.VENDOR_ID)
        self._set_w(c, PCI_DEVICE_ID, self.DEVICE_ID)
        c[PCI_REVISION_ID] = self.REVISION
        c[PCI_CLASS_PROG] = self.PROG_IF
        self._set_w(c, PCI_CLASS_DEVICE, self.CLASS_ID)
        c[PCI_HEADER_TYPE] = self.HEADER_TYPE
        if self.HEADER_TYPE == PCI_HEADER_TYPE_NORMAL:
            self._set_w(c, PCI_SUBSYSTEM_VENDOR_ID, self.SUBSYSTEM_VENDOR_ID)
            self._set_w(c, PCI_SUBSYSTEM_ID, self.SUBSYSTEM_ID)
        c[PCI_INTERRUPT_PIN] = self.INTX_PIN
        self.wmask[PCI_CACHE_LINE_SIZE] = 0xFF
        self.wmask[PCI_INTERRUPT_LINE] = 0xFF
        self._set_w(self.wmask, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
                    | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
        self._set_w(self.w1cmask, PCI_STATUS, PCI_STATUS_W1C)
        size = len(c)
        self.wmask[PCI_CONFIG_HEADER_SIZE:size] = b"\xff" * (size - PCI_CONFIG_HEADER_SIZE)

    def set_express(self, express: bool) -> None:
        """Resize the configuration space for a hybrid device before ``realize`` adds
        capabilities (QEMU drops QEMU_PCI_CAP_EXPRESS on a conventional bus)."""
        size = PCIE_CONFIG_SPACE_SIZE if express else PCI_CONFIG_SPACE_SIZE
        if size == len(self.config):
            return
        old = (bytes(self.config), bytes(self.wmask), bytes(self.w1cmask), bytes(self.used))
        self._alloc_config(size)
        n = min(size, len(old[0]))
        for buf, src in zip((self.config, self.wmask, self.w1cmask, self.used), old, strict=True):
            buf[:n] = src[:n]
        self.wmask[n:size] = b"\xff" * (size - n)

    def qdev_realize(self, bus: Bus | None = None, unattached: Any = None) -> None:
        super().qdev_realize(bus, unattached)
        parent = self.parent_bus.parent_dev if self.parent_bus is not None else None
        if isinstance(parent, PCIDevice):
            parent.child_realized(self)

    def check_child_plug(self, dev: PCIDevice, devfn: int) -> None:
        """A bridge may refuse ``dev`` at ``devfn`` on its secondary bus (QOMError)."""

    def child_realized(self, dev: PCIDevice) -> None:
        """A function on this bridge's secondary bus was realized (slot presence, link)."""

    def root_bus(self) -> PCIBus | None:
        """The root bus above this function."""
        bus = self.parent_bus
        while isinstance(bus, PCIBus) and not bus.is_root:
            bus = bus.parent_dev.parent_bus   # type: ignore[union-attr]
        return bus if isinstance(bus, PCIBus) else None

    # -- reset --------------------------------------------------------------------------------------
    def reset(self) -> None:
        """QEMU pci_do_device_reset: INTx deasserted, registers to their power-on values
        (command, BARs, MSI/MSI-X cleared), mappings removed."""
        if self._reset_config is None:
            # the first reset follows realize: capabilities are in place, snapshot it
            self._reset_config = bytes(self.config)
        self.deassert_intx()
        self.config[:] = self._reset_config
        self.update_mappings()
        self._update_bus_master()
        if self.msix_state is not None:
            self.msix_state.reset()
        if self.msi_state is not None:
            self.msi_state.reset()

    # -- configuration space ------------------------------------------------------------------------
    def config_read(self, addr: int, size: int) -> int:
        """A read of ``size`` bytes at ``addr`` (QEMU pci_default_read_config)."""
        return int.from_bytes(self.config[addr:addr + size], "little")

    def config_write(self, addr: int, value: int, size: int) -> None:
        """A write through the write masks, then its effects on mappings, INTx, bus mastering,
        MSI and MSI-X (QEMU pci_default_write_config)."""
        was_irq_disabled = self.intx_disabled
        cfg, wmask, w1cmask = self.config, self.wmask, self.w1cmask
        for i in range(size):
            b = (value >> (8 * i)) & 0xFF
            a = addr + i
            wm = wmask[a]
            cfg[a] = ((cfg[a] & ~wm) | (b & wm)) & ~(b & w1cmask[a]) & 0xFF
        covers_command = addr <= PCI_COMMAND < addr + size
        if (_overlaps(addr, size, PCI_BASE_ADDRESS_0, 24) or _overlaps(addr, size, PCI_ROM_ADDRESS, 4)
                or _overlaps(addr, size, PCI_ROM_ADDRESS1, 4) or covers_command):
            self.update_mappings()
        if covers_command:
            self._update_irq_disabled(was_irq_disabled)
            self._update_bus_master()
        if self.msi_state is not None:
            self.msi_state.write_config(addr, value, size)
        if self.msix_state is not None:
            self.msix_state.write_config(addr, value, size)
        if self.exp_cap:
            self._flr_write_config(addr, size)

    def _flr_write_config(self, addr: int, size: int) -> None:
        """DEVCTL.BCR_FLR (writable when FLR capable) resets the function at once and reads 0
        (QEMU pcie_cap_flr_write_config)."""
        devctl = self.exp_cap + 8
        if addr < devctl + 2 and devctl < addr + size and self.config[devctl + 1] & 0x80:
            self.cold_reset()                  # pci_device_reset, then the bit reads 0
            self.config[devctl + 1] &= 0x7F

    @property
    def command(self) -> int:
        return self.get_word(PCI_COMMAND)

    # -- BARs ---------------------------------------------------------------------------------------
    def bar_offset(self, n: int) -> int:
        """The config offset of BAR ``n`` (QEMU pci_bar)."""
        if n == PCI_ROM_SLOT:
            return PCI_ROM_ADDRESS1 if self.is_bridge else PCI_ROM_ADDRESS
        return PCI_BASE_ADDRESS_0 + 4 * n

    def register_bar(self, n: int, region: MemoryRegion, flags: int) -> None:
        """Declare BAR ``n`` backed by ``region`` (QEMU pci_register_bar); its size is the
        region's, a power of two. A 64-bit memory BAR also takes slot ``n + 1``."""
        size = region.size
        if not 0 <= n < PCI_NUM_REGIONS or (self.is_bridge and 2 <= n < PCI_ROM_SLOT):
            raise QOMError(f"PCI: bad BAR number {n} for {self.type_name}")
        if size == 0 or size & (size - 1):
            raise QOMError(f"ERROR: PCI region size must be pow2 type=0x{flags:x}, size=0x{size:x}")
        if n == PCI_ROM_SLOT:
            log.unimp(f"{self.type_name}: PCI option ROM BARs are not implemented")
            return
        r = PCIIORegion(region, flags)
        if r.is_64 and (n == 5 or (self.is_bridge and n == 1)):
            raise QOMError(f"PCI: 64-bit BAR {n} of {self.type_name} has no room for its upper half")
        self.io_regions[n] = r
        off = self.bar_offset(n)
        width = 8 if r.is_64 else 4
        mask = (~(size - 1)) & ((1 << (8 * width)) - 1)
        self._set_w(self.config, off, flags, width)
        self._set_w(self.wmask, off, mask, width)
        if self._reset_config is not None:       # registered after the first reset: keep it
            self._reset_config = bytes(self.config)

    def bar_address(self, n: int) -> int:
        """Where BAR ``n`` is mapped in its bus's space, or PCI_BAR_UNMAPPED."""
        r = self.io_regions[n] if 0 <= n < PCI_NUM_REGIONS else None
        return PCI_BAR_UNMAPPED if r is None else r.addr

    def bar_region(self, n: int) -> MemoryRegion | None:
        r = self.io_regions[n]
        return None if r is None else r.region

    def _bar_decode(self, n: int, r: PCIIORegion) -> int:
        """QEMU pci_bar_address: the address BAR ``n`` decodes at now, or PCI_BAR_UNMAPPED.
        The virt board allows address 0 (pci_allow_0_address)."""
        cmd = self.command
        off = self.bar_offset(n)
        size = r.size
        if r.is_io:
            if not cmd & PCI_COMMAND_IO:
                return PCI_BAR_UNMAPPED
            new = self.get_long(off) & ~(size - 1) & 0xFFFFFFFF
            last = new + size - 1
            if last <= new or last >= 0xFFFFFFFF:
                return PCI_BAR_UNMAPPED
            return new
        if not cmd & PCI_COMMAND_MEMORY:
            return PCI_BAR_UNMAPPED
        raw = int.from_bytes(self.config[off:off + (8 if r.is_64 else 4)], "little")
        new = raw & ~(size - 1)
        last = new + size - 1
        if last <= new or last >= (1 << 64) - 1:
            return PCI_BAR_UNMAPPED
        if not r.is_64 and last >= 0xFFFFFFFF:
            return PCI_BAR_UNMAPPED   # QEMU's 32-bit wrap work-around
        return new

    def update_mappings(self) -> None:
        """Map, move or unmap each BAR after a BAR or COMMAND write (QEMU pci_update_mappings)."""
        bus = self.parent_bus
        if not isinstance(bus, PCIBus):
            return
        with transaction():
            for n, r in enumerate(self.io_regions):
                if r is None:
                    continue
                new = self._bar_decode(n, r)
                if new == r.addr:
                    continue
                if r.addr != PCI_BAR_UNMAPPED and r.space is not None:
                    r.space.del_subregion(r.region)
                r.addr = new
                if new != PCI_BAR_UNMAPPED:
                    r.space = bus.io if r.is_io else bus.mem
                    r.space.add_subregion(new, r.region, priority=1)

    def unmap_all(self) -> None:
        """Remove every BAR mapping (unplug)."""
        with transaction():
            for r in self.io_regions:
                if r is not None and r.addr != PCI_BAR_UNMAPPED and r.space is not None:
                    r.space.del_subregion(r.region)
                    r.addr = PCI_BAR_UNMAPPED

    # -- capabilities -------------------------------------------------------------------------------
    def _find_space(self, size: int) -> int:
        """QEMU pci_find_space: the first ``size`` free bytes after the header, or 0."""
        offset = PCI_CONFIG_HEADER_SIZE
        for i in range(PCI_CONFIG_HEADER_SIZE, PCI_CONFIG_SPACE_SIZE):
            if self.used[i]:
                offset = i + 1
            elif i - offset + 1 == size:
                return offset
        return 0

    def find_capability(self, cap_id: int) -> int:
        """The offset of the first capability ``cap_id`` in the list, or 0."""
        seen = set()
        pos = self.config[PCI_CAPABILITY_LIST] if self.config[PCI_STATUS] & PCI_STATUS_CAP_LIST else 0
        while pos and pos not in seen:
            seen.add(pos)
            if self.config[pos + PCI_CAP_LIST_ID] == cap_id:
                return pos
            pos = self.config[pos + PCI_CAP_LIST_NEXT]
        return 0

    def add_capability(self, cap_id: int, offset: int, size: int) -> int:
        """Add capability ``cap_id`` of ``size`` bytes at ``offset`` (0: the first free space
        after the header) to the head of the list; read-only by default (pci_add_capability)."""
        if offset == 0:
            offset = self._find_space(size)
            if offset == 0:
                raise QOMError(f"{self.type_name}: no room for PCI capability 0x{cap_id:x}")
        else:
            for i in range(offset, offset + size):
                if self.used[i]:
                    other = self._cap_at(i)
                    raise QOMError(f"{self.type_name}:{self._bdf()} Attempt to add PCI capability "
                                   f"{cap_id:x} at offset {offset:x} overlaps existing capability "
                                   f"{self.config[other]:x} at offset {other:x}")
        c = self.config
        c[offset + PCI_CAP_LIST_ID] = cap_id
        c[offset + PCI_CAP_LIST_NEXT] = c[PCI_CAPABILITY_LIST]
        c[PCI_CAPABILITY_LIST] = offset
        c[PCI_STATUS] |= PCI_STATUS_CAP_LIST
        self.used[offset:offset + ((size + 3) & ~3)] = b"\xff" * ((size + 3) & ~3)
        self.wmask[offset:offset + size] = bytes(size)
        self.w1cmask[offset:offset + size] = bytes(size)
        return offset

    def _cap_at(self, i: int) -> int:
        pos = self.config[PCI_CAPABILITY_LIST]
        best = 0
        while pos:
            if pos <= i and pos > best:
                best = pos
            pos = self.config[pos + PCI_CAP_LIST_NEXT]
        return best

    def _bdf(self) -> str:
        bus = self.parent_bus.bus_num if isinstance(self.parent_bus, PCIBus) else 0
        return f"{bus:02x}:{self.devfn >> 3:02x}.{self.devfn & 7:x}"

    # -- INTx ---------------------------------------------------------------------------------------
    @property
    def intx_disabled(self) -> bool:
        return bool(self.command & PCI_COMMAND_INTX_DISABLE)

    def set_irq(self, level: int) -> None:
        """Drive this function's INTx pin (INTERRUPT_PIN) to ``level`` (QEMU pci_set_irq)."""
        pin = self.config[PCI_INTERRUPT_PIN] - 1
        if not 0 <= pin < PCI_NUM_PINS:
            return
        self._irq_handler(pin, 1 if level else 0)

    def _irq_handler(self, pin: int, level: int) -> None:
        change = level - ((self.irq_state >> pin) & 1)
        if not change:
            return
        self.irq_state = (self.irq_state & ~(1 << pin)) | (level << pin)
        if self.irq_state:
            self.config[PCI_STATUS] |= PCI_STATUS_INTERRUPT
        else:
            self.config[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT
        if self.intx_disabled:
            return
        self._change_irq_level(pin, change)

    def _change_irq_level(self, pin: int, change: int) -> None:
        """Swizzle up through the bridges to the root bus and count there (QEMU
        pci_change_irq_level)."""
        dev: PCIDevice = self
        while True:
            bus = dev.parent_bus
            if not isinstance(bus, PCIBus):
                return
            pin = bus.map_irq(dev, pin)
            if bus.set_irq_fn is not None or bus.is_root:
                break
            dev = bus.parent_dev   # type: ignore[assignment]
        bus.irq_count[pin] += change
        if bus.set_irq_fn is not None:
            bus.set_irq_fn(pin, 1 if bus.irq_count[pin] else 0)

    def _update_irq_disabled(self, was_disabled: bool) -> None:
        disabled = self.intx_disabled
        if disabled == was_disabled:
            return
        for pin in range(PCI_NUM_PINS):
            state = (self.irq_state >> pin) & 1
            if state:
                self._change_irq_level(pin, -state if disabled else state)

    def deassert_intx(self) -> None:
        """QEMU pci_device_deassert_intx (MSI/MSI-X enable, reset)."""
        for pin in range(PCI_NUM_PINS):
            self._irq_handler(pin, 0)

    # -- DMA ----------------------------------------------------------------------------------------
    @property
    def dma_as(self) -> AddressSpace:
        """This function's bus-master address space: the root bus's DMA space behind an alias
        that COMMAND.MASTER enables (QEMU bus_master_as)."""
        if self._dma_as is None:
            bus = self.parent_bus
            target = bus.dma_as if isinstance(bus, PCIBus) else None
            container = MemoryRegion.container_region("bus master container", ADDR_SPACE_END,
                                                         owner=self)
            if target is not None:
                self._bm_region = MemoryRegion.alias_region("bus master", target.root, 0,
                                                            target.root.size, owner=self)
                self._bm_region.enabled = bool(self.command & PCI_COMMAND_MASTER)
                container.add_subregion(0, self._bm_region)
            self._dma_as = AddressSpace(container, self.type_name)   # QEMU names it so
        return self._dma_as

    def _update_bus_master(self) -> None:
        if self._bm_region is not None:
            self._bm_region.set_enabled(bool(self.command & PCI_COMMAND_MASTER))

    def dma_read(self, addr: int, n: int) -> bytes:
        """``n`` bytes of guest memory; MemTxError when unassigned or bus mastering is off."""
        if not self.command & PCI_COMMAND_MASTER:
            raise MemTxError(addr)
        return self.dma_as.read(addr, n)

    def dma_write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Write guest memory; MemTxError when unassigned or bus mastering is off."""
        if not self.command & PCI_COMMAND_MASTER:
            raise MemTxError(addr)
        self.dma_as.write(addr, data)

    # -- monitor ------------------------------------------------------------------------------------
    def qtree_lines(self, indent: int) -> list[str]:
        """QEMU's ``info qtree`` for a PCI function: the common PCI properties, then its class."""
        lines = super().qtree_lines(indent)
        pad = " " * (indent + 2)
        split = next((i for i, ln in enumerate(lines) if ln.startswith(f"{pad}bus: ")), len(lines))
        if self.HEADER_TYPE == PCI_HEADER_TYPE_NORMAL:
            sub_v = self.get_word(PCI_SUBSYSTEM_VENDOR_ID)
            sub_d = self.get_word(PCI_SUBSYSTEM_ID)
        else:
            sub_v = sub_d = 0
        common = [f"{pad}class {self.class_desc()}, addr {self._bdf()}, pci id "
                  f"{self.get_word(PCI_VENDOR_ID):04x}:{self.get_word(PCI_DEVICE_ID):04x} "
                  f"(sub {sub_v:04x}:{sub_d:04x})"]
        m64 = (1 << 64) - 1
        for n, r in enumerate(self.io_regions):
            if r is not None:   # an unmapped BAR prints as QEMU's: at -1, ending at size - 2
                start = r.addr & m64
                common.append(f"{pad}bar {n}: {'i/o' if r.is_io else 'mem'} at 0x{start:x} "
                              f"[0x{(start + r.size - 1) & m64:x}]")
        return lines[:split] + common + lines[split:]

    def class_desc(self) -> str:
        cls = self.get_word(PCI_CLASS_DEVICE)
        return CLASS_NAMES.get(cls, f"Class {cls:04x}")


def pci_pm_init(dev: PCIDevice, offset: int, pmc: int = PCI_PM_CAP_VER_1_2,
                ctrl: int = PCI_PM_CTRL_NO_SOFT_RESET) -> int:
    """A power management capability (version 1.2, D0..D3hot settable in PMCSR), as QEMU's
    devices add it; returns its offset."""
    pos = dev.add_capability(PCI_CAP_ID_PM, offset, PCI_PM_SIZEOF)
    dev._set_w(dev.config, pos + PCI_PM_PMC, pmc)
    dev._set_w(dev.config, pos + PCI_PM_CTRL, ctrl)
    dev._set_w(dev.wmask, pos + PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK)
    return pos


def parse_pci_addr(text: str) -> int:
    """``SLOT[.FN]`` in hex, as -device ...,addr= takes it; QOMError when malformed."""
    slot_s, _, fn_s = text.partition(".")
    try:
        slot = int(slot_s, 16)
        fn = int(fn_s, 16) if fn_s else 0
    except ValueError:
        raise QOMError(f"Property 'addr' doesn't take value '{text}'") from None
    if not 0 <= slot < 32 or not 0 <= fn < 8:
        raise QOMError(f"Property 'addr' doesn't take value '{text}'")
    return pci_devfn(slot, fn)
