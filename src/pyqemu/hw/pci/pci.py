"""PCI buses and devices: configuration space (QEMU ``hw/pci/pci.c``, ``pci_host.c``).

A ``PCIDevice`` owns its configuration space (256 bytes, or 4 KiB for PCI Express
functions) with QEMU's write mask (bits software may change) and write-1-to-clear mask;
a subclass sets the identity (``VENDOR_ID``, ``DEVICE_ID``, ``CLASS_ID``, ...) and
extends ``init_config``. A ``PCIBus`` holds devices by devfn and the memory and I/O
regions that BARs map into. ``config_read``/``config_write`` are what host bridges
(ECAM, 0xcf8/0xcfc) call; an absent function reads as all-ones.
"""
from __future__ import annotations

from pyqemu.memory import MemoryRegion
from pyqemu.qom.device import Bus, Device, Prop
from pyqemu.qom.object import QOMError

PCI_CONFIG_SPACE_SIZE = 0x100
PCIE_CONFIG_SPACE_SIZE = 0x1000
PCI_CONFIG_HEADER_SIZE = 0x40

# header offsets
PCI_VENDOR_ID, PCI_DEVICE_ID, PCI_COMMAND, PCI_STATUS = 0x00, 0x02, 0x04, 0x06
PCI_REVISION_ID, PCI_CLASS_PROG, PCI_CLASS_DEVICE = 0x08, 0x09, 0x0A
PCI_CACHE_LINE_SIZE, PCI_LATENCY_TIMER, PCI_HEADER_TYPE = 0x0C, 0x0D, 0x0E
PCI_SUBSYSTEM_VENDOR_ID, PCI_SUBSYSTEM_ID = 0x2C, 0x2E
PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN = 0x3C, 0x3D
# command bits software may set on a plain device (QEMU pci_init_wmask)
PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER = 0x1, 0x2, 0x4
PCI_COMMAND_SERR, PCI_COMMAND_INTX_DISABLE = 0x100, 0x400
# status bits that a write of 1 clears (QEMU pci_init_w1cmask)
PCI_STATUS_W1C = 0x0100 | 0x0800 | 0x1000 | 0x2000 | 0x4000 | 0x8000

PCI_VENDOR_ID_REDHAT_QUMRANET = 0x1AF4   # QEMU's default subsystem IDs
PCI_SUBDEVICE_ID_QEMU = 0x1100

HEADER_NAMES = {0x00: "VENDOR_ID", 0x02: "DEVICE_ID", 0x04: "COMMAND", 0x06: "STATUS",
                0x08: "REVISION_ID", 0x09: "CLASS_PROG", 0x0A: "CLASS_DEVICE",
                0x0C: "CACHE_LINE_SIZE", 0x0D: "LATENCY_TIMER", 0x0E: "HEADER_TYPE", 0x0F: "BIST",
                **{0x10 + 4 * i: f"BASE_ADDRESS_{i}" for i in range(6)},
                0x28: "CARDBUS_CIS", 0x2C: "SUBSYSTEM_VENDOR_ID", 0x2E: "SUBSYSTEM_ID",
                0x30: "ROM_ADDRESS", 0x34: "CAPABILITY_LIST", 0x3C: "INTERRUPT_LINE",
                0x3D: "INTERRUPT_PIN", 0x3E: "MIN_GNT", 0x3F: "MAX_LAT"}


def pci_devfn(slot: int, func: int) -> int:
    return ((slot & 0x1F) << 3) | (func & 7)


class PCIBus(Bus):
    """A PCI bus (QEMU TYPE_PCI_BUS); ``mem`` and ``io`` are where BARs are mapped."""

    TYPE = "PCI"
    BUS_ACCEPTS = "pci-device"

    def __init__(self, name: str, parent_dev: Device | None, mem: MemoryRegion, io: MemoryRegion,
                 bus_num: int = 0) -> None:
        super().__init__(name, parent_dev)
        self.mem = mem
        self.io = io
        self.bus_num = bus_num
        self.by_devfn: dict[int, PCIDevice] = {}

    def attach(self, dev: Device) -> None:
        assert isinstance(dev, PCIDevice)
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
                           f"{dev.type_name}, in use by {other.type_name},id={other.id or ''}")
        super().attach(dev)
        dev.devfn = devfn
        self.by_devfn[devfn] = dev

    def detach(self, dev: Device) -> None:
        super().detach(dev)
        assert isinstance(dev, PCIDevice)
        self.by_devfn.pop(dev.devfn, None)

    def find(self, bus_num: int, devfn: int) -> PCIDevice | None:
        if bus_num != self.bus_num:
            return None   # no bridges yet: only the root bus
        return self.by_devfn.get(devfn)


class PCIExpressBus(PCIBus):
    """A PCI Express root bus (QEMU TYPE_PCIE_BUS, ``type PCIE`` in ``info qtree``)."""
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
    IS_EXPRESS = False
    addr = Prop("str", None, description="Slot and optional function number, example: 06.0 or 06")

    def __init__(self) -> None:
        super().__init__()
        self._devfn = -1
        size = PCIE_CONFIG_SPACE_SIZE if self.IS_EXPRESS else PCI_CONFIG_SPACE_SIZE
        self.config = bytearray(size)
        self.wmask = bytearray(size)
        self.w1cmask = bytearray(size)
        self.init_config()

    @property
    def devfn(self) -> int:
        if self._devfn < 0 and self.addr is not None:
            self._devfn = parse_pci_addr(self.addr)
        return self._devfn

    @devfn.setter
    def devfn(self, value: int) -> None:
        self._devfn = value

    @property
    def config_size(self) -> int:
        return len(self.config)

    def _set_w(self, buf: bytearray, off: int, value: int, n: int = 2) -> None:
        buf[off:off + n] = value.to_bytes(n, "little")

    def init_config(self) -> None:
        """The header's identity and QEMU's default write masks (pci_init_wmask/w1cmask)."""
        c = self.config
        self._set_w(c, PCI_VENDOR_ID, self.VENDOR_ID)
        self._set_w(c, PCI_DEVICE_ID, self.DEVICE_ID)
        c[PCI_REVISION_ID] = self.REVISION
        c[PCI_CLASS_PROG] = self.PROG_IF
        self._set_w(c, PCI_CLASS_DEVICE, self.CLASS_ID)
        self._set_w(c, PCI_SUBSYSTEM_VENDOR_ID, self.SUBSYSTEM_VENDOR_ID)
        self._set_w(c, PCI_SUBSYSTEM_ID, self.SUBSYSTEM_ID)
        self.wmask[PCI_CACHE_LINE_SIZE] = 0xFF
        self.wmask[PCI_INTERRUPT_LINE] = 0xFF
        self._set_w(self.wmask, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
                    | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
        self._set_w(self.w1cmask, PCI_STATUS, PCI_STATUS_W1C)
        size = len(c)
        self.wmask[PCI_CONFIG_HEADER_SIZE:size] = b"\xff" * (size - PCI_CONFIG_HEADER_SIZE)
        self._reset_config = bytes(c)

    def reset(self) -> None:
        self.config[:] = self._reset_config

    def config_read(self, addr: int, size: int) -> int:
        """A read of ``size`` bytes at ``addr`` (QEMU pci_default_read_config)."""
        return int.from_bytes(self.config[addr:addr + size], "little")

    def config_write(self, addr: int, value: int, size: int) -> None:
        """A write through the write masks (QEMU pci_default_write_config)."""
        for i in range(size):
            b = (value >> (8 * i)) & 0xFF
            a = addr + i
            wm, w1c = self.wmask[a], self.w1cmask[a]
            self.config[a] = ((self.config[a] & ~wm) | (b & wm)) & ~(b & w1c) & 0xFF

    def qtree_lines(self, indent: int) -> list[str]:
        """QEMU's ``info qtree`` for a PCI function: the common PCI properties, then its class."""
        lines = super().qtree_lines(indent)
        pad = " " * (indent + 2)
        devfn = self.devfn if self.devfn >= 0 else 0
        lines = [ln for ln in lines if not ln.startswith(f"{pad}addr = ")]
        lines[1:1] = [f"{pad}addr = {devfn >> 3:02x}.{devfn & 7:x}", f'{pad}romfile = ""',
                      f"{pad}romsize = 4294967295 (0xffffffff)", f"{pad}rombar = 1 (0x1)",
                      f"{pad}multifunction = false", f"{pad}x-pcie-lnksta-dllla = true",
                      f"{pad}x-pcie-extcap-init = true", f'{pad}failover_pair_id = ""',
                      f"{pad}acpi-index = 0 (0x0)"]
        sub_v = int.from_bytes(self.config[PCI_SUBSYSTEM_VENDOR_ID:PCI_SUBSYSTEM_VENDOR_ID + 2], "little")
        sub_d = int.from_bytes(self.config[PCI_SUBSYSTEM_ID:PCI_SUBSYSTEM_ID + 2], "little")
        bus = self.parent_bus.bus_num if isinstance(self.parent_bus, PCIBus) else 0
        lines.append(f"{pad}class {self.class_desc()}, addr {bus:02x}:{devfn >> 3:02x}.{devfn & 7:x}, "
                     f"pci id {self.VENDOR_ID:04x}:{self.DEVICE_ID:04x} (sub {sub_v:04x}:{sub_d:04x})")
        return lines

    def class_desc(self) -> str:
        return {0x0600: "Host bridge", 0x0100: "SCSI controller", 0x0200: "Ethernet controller",
                0x0108: "Class 0108"}.get(self.CLASS_ID, f"Class {self.CLASS_ID:04x}")


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
