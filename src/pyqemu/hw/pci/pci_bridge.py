"""PCI-to-PCI bridges: the type 1 header and forwarding (QEMU ``hw/pci/pci_bridge.c``), and
``pci-bridge`` (QEMU ``hw/pci-bridge/pci_bridge_dev.c``).

Interface:
  ``PCIBridge`` (abstract) is a function with a type 1 header and a secondary bus (named after
  the device's id, else ``pci.N``/``pcie.N`` as QEMU's automatic bus names):
  Config  PRIMARY/SECONDARY/SUBORDINATE bus numbers (ECAM reaches the secondary bus and the
          buses below by them), I/O (16-bit), memory and prefetchable (64-bit) base/limit
          windows, BRIDGE_CONTROL (a 0->1 write of SECONDARY BUS RESET resets the secondary bus).
  Forwarding: the secondary bus's memory and I/O spaces are aliased into the parent bus's
          spaces at each window while COMMAND.MEMORY/IO is set (QEMU pci_bridge_update_mappings).
  IRQs    INTx from the secondary bus is swizzled (pin + slot) % 4 on to the parent bus.
  ``pci-bridge`` (1b36:0001): props ``chassis_nr`` (required, > 0), ``msi`` (on/off/auto),
          ``shpc``; slot ID capability, 64-bit MSI with per-vector mask, and (with ``shpc``)
          the standard hot-plug controller (shpc.py) in its 256-byte BAR 0; with it, devices
          go in slots 1..31 (QEMU's refusal of slot 0).
Spec: PCI-to-PCI Bridge Architecture 1.2 ch. 3.
"""
from __future__ import annotations

from typing import ClassVar

from pyqemu.hw.pci.msi import msi_init
from pyqemu.hw.pci.pci import (
    PCI_BASE_ADDRESS_MEM_PREFETCH,
    PCI_BASE_ADDRESS_MEM_TYPE_64,
    PCI_BASE_ADDRESS_SPACE_IO,
    PCI_BASE_ADDRESS_SPACE_MEMORY,
    PCI_CAP_ID_SLOTID,
    PCI_CAP_ID_SSVID,
    PCI_COMMAND,
    PCI_COMMAND_IO,
    PCI_COMMAND_MEMORY,
    PCI_HEADER_TYPE_BRIDGE,
    PCI_STATUS,
    PCI_STATUS_66MHZ,
    PCI_STATUS_FAST_BACK,
    PCI_VENDOR_ID_REDHAT,
    PCIBus,
    PCIDevice,
    QEMUProp,
)
from pyqemu.hw.pci.shpc import SHPC
from pyqemu.memory import ADDR_SPACE_END, MemoryRegion, transaction
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError

PCI_PRIMARY_BUS, PCI_SECONDARY_BUS, PCI_SUBORDINATE_BUS, PCI_SEC_LATENCY_TIMER = 0x18, 0x19, 0x1A, 0x1B
PCI_IO_BASE, PCI_IO_LIMIT, PCI_SEC_STATUS = 0x1C, 0x1D, 0x1E
PCI_MEMORY_BASE, PCI_MEMORY_LIMIT = 0x20, 0x22
PCI_PREF_MEMORY_BASE, PCI_PREF_MEMORY_LIMIT = 0x24, 0x26
PCI_PREF_BASE_UPPER32, PCI_PREF_LIMIT_UPPER32 = 0x28, 0x2C
PCI_IO_BASE_UPPER16, PCI_IO_LIMIT_UPPER16 = 0x30, 0x32
PCI_BRIDGE_CONTROL = 0x3E
PCI_IO_RANGE_TYPE_32 = 0x01
PCI_IO_RANGE_MASK = 0xF0
PCI_MEMORY_RANGE_MASK = 0xFFF0
PCI_PREF_RANGE_TYPE_64 = 0x01
PCI_PREF_RANGE_MASK = 0xFFF0
PCI_BRIDGE_CTL_PARITY, PCI_BRIDGE_CTL_SERR, PCI_BRIDGE_CTL_ISA = 0x01, 0x02, 0x04
PCI_BRIDGE_CTL_VGA, PCI_BRIDGE_CTL_VGA_16BIT, PCI_BRIDGE_CTL_MASTER_ABORT = 0x08, 0x10, 0x20
PCI_BRIDGE_CTL_BUS_RESET, PCI_BRIDGE_CTL_FAST_BACK = 0x40, 0x80
PCI_BRIDGE_CTL_DISCARD, PCI_BRIDGE_CTL_SEC_DISCARD = 0x100, 0x200
PCI_BRIDGE_CTL_DISCARD_STATUS, PCI_BRIDGE_CTL_DISCARD_SERR = 0x400, 0x800
PCI_DEVICE_ID_REDHAT_BRIDGE = 0x0001
PCI_SID_ESR_FIC = 0x20                    # slot ID: first in chassis
SHPC_BAR_SIZE = 0x100                     # pow2ceil(SHPC_SIZEOF) for 32 slots


class PCIBridge(PCIDevice):
    """QEMU TYPE_PCI_BRIDGE: a function with a type 1 header and a secondary bus."""

    TYPE = "base-pci-bridge"
    ABSTRACT = True
    CATEGORY = "Controller/Bridge/Hub"
    HEADER_TYPE = PCI_HEADER_TYPE_BRIDGE
    CLASS_ID = 0x0604
    SEC_BUS_CLASS: ClassVar[type[PCIBus]] = PCIBus

    def __init__(self) -> None:
        super().__init__()
        # the secondary side's address spaces (QEMU br->address_space_mem/io)
        self.address_space_mem = MemoryRegion.container_region("pci_bridge_pci", ADDR_SPACE_END,
                                                                 owner=self)
        self.address_space_io = MemoryRegion.container_region("pci_bridge_io", 1 << 32, owner=self)
        self._windows: list[MemoryRegion] = []

    def init_config(self) -> None:
        """The type 1 header's defaults and write masks (QEMU pci_init_mask_bridge,
        pci_bridge_initfn)."""
        super().init_config()
        c, wm = self.config, self.wmask
        wm[PCI_PRIMARY_BUS:PCI_PRIMARY_BUS + 4] = b"\xff" * 4
        wm[PCI_IO_BASE] = wm[PCI_IO_LIMIT] = PCI_IO_RANGE_MASK
        for off, mask in ((PCI_MEMORY_BASE, PCI_MEMORY_RANGE_MASK), (PCI_MEMORY_LIMIT, PCI_MEMORY_RANGE_MASK),
                          (PCI_PREF_MEMORY_BASE, PCI_PREF_RANGE_MASK),
                          (PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_MASK)):
            self._set_w(wm, off, mask)
        wm[PCI_PREF_BASE_UPPER32:PCI_PREF_BASE_UPPER32 + 8] = b"\xff" * 8
        c[PCI_PREF_MEMORY_BASE] |= PCI_PREF_RANGE_TYPE_64
        c[PCI_PREF_MEMORY_LIMIT] |= PCI_PREF_RANGE_TYPE_64
        self._set_w(wm, PCI_BRIDGE_CONTROL, self.bridge_control_wmask())
        self._set_w(self.w1cmask, PCI_BRIDGE_CONTROL, PCI_BRIDGE_CTL_DISCARD_STATUS)
        # the type 1 header has no subsystem IDs or cardbus pointer; 0x28..0x33 are windows
        self._set_w(c, PCI_STATUS, self.get_word(PCI_STATUS) | PCI_STATUS_66MHZ | PCI_STATUS_FAST_BACK)
        self._set_w(c, PCI_SEC_STATUS, PCI_STATUS_66MHZ | PCI_STATUS_FAST_BACK)

    def bridge_control_wmask(self) -> int:
        return (PCI_BRIDGE_CTL_PARITY | PCI_BRIDGE_CTL_SERR | PCI_BRIDGE_CTL_ISA | PCI_BRIDGE_CTL_VGA
                | PCI_BRIDGE_CTL_VGA_16BIT | PCI_BRIDGE_CTL_MASTER_ABORT | PCI_BRIDGE_CTL_BUS_RESET
                | PCI_BRIDGE_CTL_FAST_BACK | PCI_BRIDGE_CTL_DISCARD | PCI_BRIDGE_CTL_SEC_DISCARD
                | PCI_BRIDGE_CTL_DISCARD_SERR)

    # -- the secondary bus --------------------------------------------------------------------------
    def sec_bus_name(self) -> str:
        """The device's id, else QEMU's automatic name: the bus type lower-cased and a per-type
        counter (``pci.0``, ``pcie.0``...)."""
        if self.id:
            return self.id
        t = self.SEC_BUS_CLASS.TYPE
        root = self.root_bus()
        ids = root.__dict__.setdefault("auto_bus_ids", {}) if root is not None else {}
        n = ids.get(t, 0)
        ids[t] = n + 1
        return f"{t.lower()}.{n}"

    def bridge_initfn(self) -> None:
        """QEMU pci_bridge_initfn: the secondary bus and the forwarding windows."""
        if not isinstance(self.parent_bus, PCIBus):
            raise QOMError(f"{self.type_name} must sit on a PCI bus")
        self.sec_bus = self.SEC_BUS_CLASS(self.sec_bus_name(), self, self.address_space_mem,
                                          self.address_space_io)
        self.update_windows()

    # -- windows ------------------------------------------------------------------------------------
    def _io_base(self, base_reg: int, upper_reg: int) -> int:
        v = self.config[base_reg]
        val = (v & PCI_IO_RANGE_MASK) << 8
        if v & PCI_IO_RANGE_TYPE_32:
            val |= self.get_word(upper_reg) << 16
        return val

    def _pref_base(self, reg: int, upper_reg: int) -> int:
        tmp = self.get_word(reg)
        val = (tmp & PCI_PREF_RANGE_MASK) << 16
        if tmp & PCI_PREF_RANGE_TYPE_64:
            val |= self.get_long(upper_reg) << 32
        return val

    def window_base(self, type_: int) -> int:
        """QEMU pci_bridge_get_base for an I/O, memory or prefetchable window."""
        if type_ & PCI_BASE_ADDRESS_SPACE_IO:
            return self._io_base(PCI_IO_BASE, PCI_IO_BASE_UPPER16)
        if type_ & PCI_BASE_ADDRESS_MEM_PREFETCH:
            return self._pref_base(PCI_PREF_MEMORY_BASE, PCI_PREF_BASE_UPPER32)
        return (self.get_word(PCI_MEMORY_BASE) & PCI_MEMORY_RANGE_MASK) << 16

    def window_limit(self, type_: int) -> int:
        """QEMU pci_bridge_get_limit: the last address the window forwards."""
        if type_ & PCI_BASE_ADDRESS_SPACE_IO:
            return self._io_base(PCI_IO_LIMIT, PCI_IO_LIMIT_UPPER16) | 0xFFF
        if type_ & PCI_BASE_ADDRESS_MEM_PREFETCH:
            return self._pref_base(PCI_PREF_MEMORY_LIMIT, PCI_PREF_LIMIT_UPPER32) | 0xFFFFF
        return ((self.get_word(PCI_MEMORY_LIMIT) & PCI_MEMORY_RANGE_MASK) << 16) | 0xFFFFF

    def update_windows(self) -> None:
        """Re-create the three window aliases in the parent bus's spaces (QEMU
        pci_bridge_update_mappings); a disabled or empty window is a zero-sized alias."""
        parent = self.parent_bus
        if not isinstance(parent, PCIBus) or self.sec_bus is None:
            return
        cmd = self.get_word(PCI_COMMAND)
        with transaction():
            for alias in self._windows:
                if alias.container is not None:
                    alias.container.del_subregion(alias)
            self._windows = []
            for type_, name, space, pspace, on in (
                    (PCI_BASE_ADDRESS_MEM_PREFETCH, "pci_bridge_pref_mem", self.address_space_mem,
                     parent.mem, cmd & PCI_COMMAND_MEMORY),
                    (PCI_BASE_ADDRESS_SPACE_MEMORY, "pci_bridge_mem", self.address_space_mem,
                     parent.mem, cmd & PCI_COMMAND_MEMORY),
                    (PCI_BASE_ADDRESS_SPACE_IO, "pci_bridge_io", self.address_space_io,
                     parent.io, cmd & PCI_COMMAND_IO)):
                base, limit = self.window_base(type_), self.window_limit(type_)
                size = limit + 1 - base if on and limit >= base else 0
                size = min(size, space.size - base) if base < space.size else 0
                alias = MemoryRegion.alias_region(name, space, base, size, owner=self)
                if base < pspace.size:
                    pspace.add_subregion(base, alias, priority=1)
                self._windows.append(alias)

    def window_ranges(self) -> dict[str, tuple[int, int]]:
        """The forwarded (base, limit) of each window, for ``info pci``."""
        return {"io": (self.window_base(PCI_BASE_ADDRESS_SPACE_IO),
                       self.window_limit(PCI_BASE_ADDRESS_SPACE_IO)),
                "mem": (self.window_base(0), self.window_limit(0)),
                "pref": (self.window_base(PCI_BASE_ADDRESS_MEM_PREFETCH),
                         self.window_limit(PCI_BASE_ADDRESS_MEM_PREFETCH))}

    # -- config space and reset ---------------------------------------------------------------------
    def config_write(self, addr: int, value: int, size: int) -> None:
        """QEMU pci_bridge_write_config: windows follow COMMAND and base/limit writes; a 0->1
        SECONDARY BUS RESET resets the devices behind the bridge."""
        old_ctl = self.get_word(PCI_BRIDGE_CONTROL)
        super().config_write(addr, value, size)

        def hit(start: int, length: int) -> bool:
            return addr < start + length and start < addr + size

        if hit(PCI_COMMAND, 2) or hit(PCI_IO_BASE, 2) or hit(PCI_MEMORY_BASE, 20) \
                or hit(PCI_BRIDGE_CONTROL, 2):
            self.update_windows()
        new_ctl = self.get_word(PCI_BRIDGE_CONTROL)
        if (old_ctl ^ new_ctl) & new_ctl & PCI_BRIDGE_CTL_BUS_RESET and self.sec_bus is not None:
            self.sec_bus.reset_all()

    def reset(self) -> None:
        """QEMU pci_bridge_reset: bus numbers, windows and bridge control cleared."""
        super().reset()
        self.update_windows()


def pci_bridge_ssvid_init(dev: PCIDevice, offset: int, svid: int, ssid: int) -> int:
    """The bridge subsystem vendor ID capability (a type 1 header has no subsystem IDs)."""
    pos = dev.add_capability(PCI_CAP_ID_SSVID, offset, 8)
    dev._set_w(dev.config, pos + 4, svid)
    dev._set_w(dev.config, pos + 6, ssid)
    return pos


def slotid_cap_init(dev: PCIDevice, nslots: int, chassis: int, offset: int) -> int:
    """The slot numbering capability (QEMU slotid_cap_init); chassis stays writable."""
    if not chassis:
        raise QOMError("Bridge chassis not specified. Each bridge is required to be assigned "
                       "a unique chassis id > 0.")
    pos = dev.add_capability(PCI_CAP_ID_SLOTID, offset, 4)
    dev.config[pos + 2] = nslots | PCI_SID_ESR_FIC
    dev.config[pos + 3] = chassis
    dev.wmask[pos + 3] = 0xFF
    return pos


class PCIBridgeDev(PCIBridge):
    """``-device pci-bridge``: QEMU's standard PCI-PCI bridge (1b36:0001)."""

    TYPE = "pci-bridge"
    DESC = "Standard PCI Bridge"
    VENDOR_ID = PCI_VENDOR_ID_REDHAT
    DEVICE_ID = PCI_DEVICE_ID_REDHAT_BRIDGE
    chassis_nr = Prop("uint8", 0, name="chassis_nr")
    msi = QEMUProp("str", "auto", qom_type="OnOffAuto", description="on/off/auto")
    shpc = QEMUProp("bool", True, description="on/off")
    bus_reserve = Prop("uint32", 0xFFFFFFFF)
    io_reserve = Prop("size", (1 << 64) - 1)
    mem_reserve = Prop("size", (1 << 64) - 1)
    pref32_reserve = Prop("size", (1 << 64) - 1)
    pref64_reserve = Prop("size", (1 << 64) - 1)

    def realize(self) -> None:
        if self.msi not in ("on", "off", "auto"):
            raise QOMError(f"Parameter 'msi' does not accept value '{self.msi}'")
        if self.msi == "on" and not self.shpc:
            raise QOMError("MSI support for pci-bridge requires SHPC (set shpc=on)")
        self.bridge_initfn()
        self.shpc_ctrl: SHPC | None = None
        if self.shpc:
            self.config[0x3D] = 1    # INTA, the SHPC's interrupt
            self.shpc_bar = MemoryRegion.container_region("shpc-bar", SHPC_BAR_SIZE, owner=self)
            assert self.sec_bus is not None
            self.shpc_ctrl = SHPC(self, self.sec_bus, self.shpc_bar, 0)
        slotid_cap_init(self, 0, self.chassis_nr, 0)
        if self.shpc and self.msi != "off":
            msi_init(self, 0, 1, True, True)
        if self.shpc:
            self.register_bar(0, self.shpc_bar,
                              PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_TYPE_64)

    def check_child_plug(self, dev: PCIDevice, devfn: int) -> None:
        if getattr(self, "shpc_ctrl", None) is not None:
            self.shpc_ctrl.check_plug(devfn)

    def config_write(self, addr: int, value: int, size: int) -> None:
        super().config_write(addr, value, size)
        if getattr(self, "shpc_ctrl", None) is not None:
            self.shpc_ctrl.cap_write_config(addr, size)

    def reset(self) -> None:
        super().reset()
        if getattr(self, "shpc_ctrl", None) is not None:
            self.shpc_ctrl.reset()
