"""``pcie-root-port``: QEMU's generic PCI Express root port (``hw/pci-bridge/pcie_root_port.c``,
``gen_pcie_root_port.c``), 1b36:000c, class PCI bridge.

Interface: a PCI bridge (see pci_bridge.py) whose secondary bus is a PCIe bus named after the
device's id (``-device pcie-root-port,id=rp1,chassis=1,slot=1`` then ``-device nvme,bus=rp1``).
  Config  type 1 header; capabilities: bridge subsystem ID (0x40), MSI-X with 1 vector in its own
          4 KiB BAR 0 (0x48), PCI Express v2 root port with a slot (0x54, link x-width/x-speed,
          ``port`` number, physical ``slot`` number); extended: AER (0x100), ACS (0x148).
  IRQs    INTA (pin 1); hot-plug events are not implemented.
  Props   ``chassis``/``slot`` (unique pair, as QEMU's chassis registry), ``port``, and QEMU's
          others (accepted, shown by ``info qtree``).
"""
from __future__ import annotations

from pyqemu.hw.pci.msix import msix_init_exclusive_bar
from pyqemu.hw.pci.pci import PCI_STATUS, PCI_VENDOR_ID_REDHAT, PCIExpressBus, QEMUProp
from pyqemu.hw.pci.pci_bridge import (
    PCI_BRIDGE_CTL_DISCARD,
    PCI_BRIDGE_CTL_DISCARD_SERR,
    PCI_BRIDGE_CTL_DISCARD_STATUS,
    PCI_BRIDGE_CTL_FAST_BACK,
    PCI_BRIDGE_CTL_MASTER_ABORT,
    PCI_BRIDGE_CTL_SEC_DISCARD,
    PCI_IO_BASE,
    PCI_IO_LIMIT,
    PCI_MEMORY_BASE,
    PCI_PREF_MEMORY_BASE,
    PCI_SEC_STATUS,
    PCIBridge,
    pci_bridge_ssvid_init,
)
from pyqemu.hw.pci.pcie import (
    LNK_2_5GT,
    LNK_X1,
    PCI_EXP_LNKSTA,
    PCI_EXP_LNKSTA_DLLLA,
    PCI_EXP_SLTCTL,
    PCI_EXP_SLTCTL_PCC,
    PCI_EXP_SLTCTL_PIC_OFF,
    PCI_EXP_SLTCTL_PIC_ON,
    PCI_EXP_SLTSTA,
    PCI_EXP_SLTSTA_PDS,
    PCI_EXP_TYPE_ROOT_PORT,
    pcie_acs_init,
    pcie_aer_init,
    pcie_aer_root_init,
    pcie_cap_arifwd_init,
    pcie_cap_deverr_init,
    pcie_cap_init,
    pcie_cap_root_init,
    pcie_cap_slot_init,
    pcie_cap_slot_write_config,
)
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError

PCI_DEVICE_ID_REDHAT_PCIE_RP = 0x000C
GEN_PCIE_ROOT_PORT_AER_OFFSET = 0x100
GEN_PCIE_ROOT_PORT_ACS_OFFSET = 0x148
_SPEEDS = {"2_5": 1, "5": 2, "8": 3, "16": 4}
_WIDTHS = {"1": 1, "2": 2, "4": 4, "8": 8, "12": 12, "16": 16, "32": 32}


class PCIERootPort(PCIBridge):
    """See the module docstring."""

    TYPE = "pcie-root-port"
    DESC = "PCI Express Root Port"
    VENDOR_ID = PCI_VENDOR_ID_REDHAT
    DEVICE_ID = PCI_DEVICE_ID_REDHAT_PCIE_RP
    IS_EXPRESS = True
    INTX_PIN = 1
    SEC_BUS_CLASS = PCIExpressBus
    x_migrate_msix = Prop("bool", True, name="x-migrate-msix")
    bus_reserve = Prop("uint32", 0xFFFFFFFF)
    io_reserve = Prop("size", (1 << 64) - 1)
    mem_reserve = Prop("size", (1 << 64) - 1)
    pref32_reserve = Prop("size", (1 << 64) - 1)
    pref64_reserve = Prop("size", (1 << 64) - 1)
    x_speed = QEMUProp("str", "16", name="x-speed", qom_type="PCIELinkSpeed", description="2_5/5/8/16")
    x_width = QEMUProp("str", "32", name="x-width", qom_type="PCIELinkWidth",
                       description="1/2/4/8/12/16/32")
    power_controller_present = QEMUProp("bool", True, name="power_controller_present",
                                        description="on/off")
    disable_acs = Prop("bool", False, name="disable-acs")
    chassis = Prop("uint8", 0)
    slot = Prop("uint16", 0)
    hotplug = Prop("bool", True)
    x_native_hotplug = Prop("bool", True, name="x-native-hotplug")
    port = Prop("uint8", 0)
    aer_log_max = Prop("uint16", 8, name="aer_log_max")

    def init_config(self) -> None:
        """pcie_port_init_reg: no 66 MHz/fast back-to-back, and bridge control bits that do not
        apply to PCI Express are hard-wired to 0; windows start disabled (base > limit)."""
        super().init_config()
        c = self.config
        self._set_w(c, PCI_STATUS, 0)
        self._set_w(c, PCI_SEC_STATUS, 0)
        self._set_w(self.wmask, 0x3E, self.bridge_control_wmask() & ~(
            PCI_BRIDGE_CTL_MASTER_ABORT | PCI_BRIDGE_CTL_FAST_BACK | PCI_BRIDGE_CTL_DISCARD
            | PCI_BRIDGE_CTL_SEC_DISCARD | PCI_BRIDGE_CTL_DISCARD_STATUS | PCI_BRIDGE_CTL_DISCARD_SERR))
        # pci_bridge_disable_base_limit
        c[PCI_IO_BASE] |= 0xF0
        c[PCI_IO_LIMIT] &= 0x0F
        self._set_w(c, PCI_MEMORY_BASE, 0x0000FFF0, 4)
        self._set_w(c, PCI_PREF_MEMORY_BASE, (self.get_long(PCI_PREF_MEMORY_BASE) | 0xFFF0) & ~0xFFF00000, 4)

    def realize(self) -> None:
        speed = _SPEEDS.get(self.x_speed or "")
        width = _WIDTHS.get(self.x_width or "")
        if speed is None:
            raise QOMError(f"Parameter 'x-speed' does not accept value '{self.x_speed}'")
        if width is None:
            raise QOMError(f"Parameter 'x-width' does not accept value '{self.x_width}'")
        # QEMU's chassis registry: one (chassis, slot) pair per port in the machine
        registry = self.root_bus().__dict__.setdefault("chassis_slots", {})
        key = (self.chassis, self.slot)
        if key in registry and registry[key] is not self:
            raise QOMError("Can't add chassis slot, error -16")
        self.bridge_initfn()
        pci_bridge_ssvid_init(self, 0x40, PCI_VENDOR_ID_REDHAT, 0)
        msix_init_exclusive_bar(self, 1, 0)
        pcie_cap_init(self, 0, PCI_EXP_TYPE_ROOT_PORT, self.port)
        pcie_cap_arifwd_init(self)
        pcie_cap_deverr_init(self)
        pcie_cap_slot_init(self, self.slot, speed, width)
        if self.power_controller_present:
            pass   # PCC stays in the slot control register, as QEMU's default
        pcie_cap_root_init(self)
        pcie_aer_init(self, GEN_PCIE_ROOT_PORT_AER_OFFSET)
        pcie_aer_root_init(self, GEN_PCIE_ROOT_PORT_AER_OFFSET)
        if not self.disable_acs:
            pcie_acs_init(self, GEN_PCIE_ROOT_PORT_ACS_OFFSET)
        registry[key] = self
        self._link = (speed, width)

    def config_write(self, addr: int, value: int, size: int) -> None:
        pos = self.exp_cap
        old_ctl = self.get_word(pos + PCI_EXP_SLTCTL)
        old_sta = self.get_word(pos + PCI_EXP_SLTSTA)
        super().config_write(addr, value, size)
        pcie_cap_slot_write_config(self, old_ctl, old_sta, addr, value, size)

    def child_realized(self, dev: object) -> None:
        self.update_slot_state()

    def reset(self) -> None:
        """QEMU rp_reset_hold plus the cold-plug state: a populated slot shows presence
        detect, power on, and its link up at the downstream device's width and speed."""
        super().reset()
        self.hpev_notified = False
        self.update_slot_state()

    def update_slot_state(self) -> None:
        """Presence and link state from what sits on the secondary bus (QEMU
        pcie_cap_slot_plug_cb for cold-plugged devices, pcie_cap_update_lnksta)."""
        pos = self.exp_cap
        if not pos or self.sec_bus is None:
            return
        child = self.sec_bus.by_devfn.get(0)
        sta = self.get_word(pos + PCI_EXP_SLTSTA) & ~PCI_EXP_SLTSTA_PDS
        ctl = self.get_word(pos + PCI_EXP_SLTCTL)
        speed, width = self._link
        lnksta = width << 4 | speed
        if self.sec_bus.devices:
            sta |= PCI_EXP_SLTSTA_PDS
            ctl = (ctl & ~(PCI_EXP_SLTCTL_PIC_OFF | PCI_EXP_SLTCTL_PCC)) | PCI_EXP_SLTCTL_PIC_ON
            if child is not None and child.exp_cap:   # pcie_sync_bridge_lnk: the child's link
                c_sta = child.get_word(child.exp_cap + PCI_EXP_LNKSTA)
                c_speed, c_width = c_sta & 0xF, (c_sta >> 4) & 0x3F
                c_speed = speed if c_speed > speed else (c_speed or LNK_2_5GT)
                c_width = width if c_width > width else (c_width or LNK_X1)
            else:
                c_speed, c_width = speed, width
            lnksta = c_width << 4 | c_speed
            if self.x_pcie_lnksta_dllla:
                lnksta |= PCI_EXP_LNKSTA_DLLLA
        self._set_w(self.config, pos + PCI_EXP_SLTSTA, sta)
        self._set_w(self.config, pos + PCI_EXP_SLTCTL, ctl)
        self._set_w(self.config, pos + PCI_EXP_LNKSTA, lnksta)
