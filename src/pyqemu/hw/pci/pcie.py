"""PCI Express capability and extended capabilities (QEMU ``hw/pci/pcie.c``, ``pcie_aer.c``).

Interface: ``pcie_cap_init(dev, offset, type, port) -> int`` (capability version 2),
``pcie_endpoint_cap_init(dev, offset) -> int`` (an endpoint; on a root bus a root complex
integrated endpoint, as QEMU), ``pcie_add_capability(dev, cap_id, ver, offset, size)`` for the
extended space (0x100..0xfff, 4 KiB config space of ``IS_EXPRESS`` functions), and the helpers
root ports use: ``pcie_cap_deverr_init``, ``pcie_cap_slot_init``, ``pcie_cap_root_init``,
``pcie_cap_arifwd_init``, ``pcie_cap_flr_init``, ``pcie_cap_lnkctl_init``, ``pcie_aer_init``,
``pcie_acs_init``. Values are QEMU 7.2's (checked against its config space dumps).
Spec: PCI Express Base 4.0 section 7.5.3.
"""
from __future__ import annotations

from pyqemu.hw.pci.pci import (
    PCI_CAP_ID_EXP,
    PCI_CONFIG_SPACE_SIZE,
    PCIBus,
    PCIDevice,
    pci_pm_init,  # noqa: F401  (contract B offers it here too)
)
from pyqemu.qom.object import QOMError

PCI_EXP_VER2_SIZEOF = 0x3C
PCI_EXP_FLAGS, PCI_EXP_DEVCAP, PCI_EXP_DEVCTL, PCI_EXP_DEVSTA = 0x02, 0x04, 0x08, 0x0A
PCI_EXP_LNKCAP, PCI_EXP_LNKCTL, PCI_EXP_LNKSTA = 0x0C, 0x10, 0x12
PCI_EXP_SLTCAP, PCI_EXP_SLTCTL, PCI_EXP_SLTSTA = 0x14, 0x18, 0x1A
PCI_EXP_RTCTL, PCI_EXP_RTCAP, PCI_EXP_RTSTA = 0x1C, 0x1E, 0x20
PCI_EXP_DEVCAP2, PCI_EXP_DEVCTL2, PCI_EXP_LNKCAP2, PCI_EXP_LNKCTL2 = 0x24, 0x28, 0x2C, 0x30
PCI_EXP_FLAGS_VER2 = 0x0002
PCI_EXP_FLAGS_SLOT = 0x0100
PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_RC_END = 0x0, 0x4, 0x9
PCI_EXP_DEVCAP_RBER = 0x8000
PCI_EXP_DEVCAP_FLR = 0x10000000
PCI_EXP_DEVCTL_ERRORS = 0x000F          # CERE | NFERE | FERE | URRE
PCI_EXP_DEVCTL_BCR_FLR = 0x8000
PCI_EXP_DEVSTA_ERRORS = 0x000F          # CED | NFED | FED | URD
PCI_EXP_LNKCAP_ASPMS_0S = 0x0400
PCI_EXP_LNKCAP_DLLLARC = 0x00100000
PCI_EXP_LNKCAP_LBNC = 0x00200000
PCI_EXP_LNKSTA_DLLLA = 0x2000
PCI_EXP_DEVCAP2_ARI = 0x20
PCI_EXP_DEVCAP2_EFF = 0x100000
PCI_EXP_DEVCAP2_EETLPP = 0x200000
PCI_EXP_DEVCTL2_ARI = 0x20
PCI_EXP_DEVCTL2_EETLPPB = 0x8000
PCI_EXP_LNKCTL_ASPMC_CCC = 0x0043       # ASPM control | common clock
PCI_EXP_SLTCAP_HOTPLUG = 0x0002007B     # ABP PCP AIP PIP HPS HPC, EIP
PCI_EXP_SLTCTL_WMASK = 0x0FF9           # ABPE PDCE CCIE HPIE AIC PIC PCC EIC (EIC reads 0)
PCI_EXP_SLTCTL_EIC = 0x0800
PCI_EXP_SLTCTL_AIC_OFF, PCI_EXP_SLTCTL_PIC_ON, PCI_EXP_SLTCTL_PIC_OFF = 0x00C0, 0x0100, 0x0300
PCI_EXP_SLTCTL_PCC = 0x0400
PCI_EXP_SLTSTA_W1C = 0x0019             # the supported events: ABP PDC CC
PCI_EXP_SLTSTA_CC, PCI_EXP_SLTSTA_PDS, PCI_EXP_SLTSTA_EIS = 0x10, 0x40, 0x80
PCIE_SLOT_EVENTS = 0x001F               # ABP PFD MRLSC PDC CC
PCI_EXP_HP_EV_SUPPORTED = 0x0019        # ABP PDC CC events (enabled by ABPE PDCE CCIE)
PCI_EXP_SLTCTL_HPIE = 0x0020
PCI_EXP_RTCTL_ERRORS = 0x0007
PCI_EXP_RTSTA_PME = 0x00010000
# link speeds (LNKCAP.SLS encoding) and widths QEMU's pcie-root-port defaults to (x-speed/x-width)
LNK_2_5GT, LNK_16GT = 1, 4
LNK_X1, LNK_X32 = 1, 32

# extended capabilities
PCI_EXT_CAP_ID_ERR, PCI_EXT_CAP_ID_ACS = 0x01, 0x0D
PCI_ERR_VER, PCI_ERR_SIZEOF = 2, 0x48
PCI_ERR_UNCOR_STATUS, PCI_ERR_UNCOR_SEVER = 0x04, 0x0C
PCI_ERR_COR_STATUS, PCI_ERR_COR_MASK, PCI_ERR_CAP = 0x10, 0x14, 0x18
PCI_ERR_ROOT_COMMAND, PCI_ERR_ROOT_STATUS = 0x2C, 0x30
PCI_ERR_UNC_SUPPORTED = 0x03FFF030
PCI_ERR_UNC_SEVERITY_DEFAULT = 0x00462030
PCI_ERR_COR_SUPPORTED = 0xF1C1
PCI_ERR_COR_MASK_DEFAULT = 0xE000
PCI_ERR_CAP_DEFAULT, PCI_ERR_CAP_WMASK = 0x2A0, 0x540   # ECRC gen/check capable, MHRC
PCI_ERR_ROOT_CMD_EN_MASK = 0x7
PCI_ERR_ROOT_STATUS_W1C = 0x7F
PCI_ACS_VER, PCI_ACS_SIZEOF = 1, 8
PCI_ACS_CAP_DEFAULT = 0x5F                               # SV TB RR CR UF DT


def pcie_cap_init(dev: PCIDevice, offset: int, type_: int, port: int) -> int:
    """The PCI Express capability, version 2 (QEMU pcie_cap_init); returns its offset."""
    if not dev.is_express:
        raise QOMError(f"{dev.type_name}: a PCI Express capability needs a 4 KiB config space")
    pos = dev.add_capability(PCI_CAP_ID_EXP, offset, PCI_EXP_VER2_SIZEOF)
    dev.exp_cap = pos
    w = dev._set_w
    w(dev.config, pos + PCI_EXP_FLAGS, (type_ << 4) & 0xF0 | PCI_EXP_FLAGS_VER2)
    w(dev.config, pos + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_RBER, 4)
    w(dev.config, pos + PCI_EXP_LNKCAP, port << 24 | PCI_EXP_LNKCAP_ASPMS_0S | LNK_X1 << 4 | LNK_2_5GT, 4)
    w(dev.config, pos + PCI_EXP_LNKSTA, LNK_X1 << 4 | LNK_2_5GT)
    w(dev.config, pos + PCI_EXP_DEVCAP2, PCI_EXP_DEVCAP2_EFF | PCI_EXP_DEVCAP2_EETLPP, 4)
    w(dev.wmask, pos + PCI_EXP_DEVCTL2, PCI_EXP_DEVCTL2_EETLPPB)
    if getattr(dev, "x_pcie_extcap_init", True):   # a read-only 'NULL' extended cap header
        w(dev.wmask, PCI_CONFIG_SPACE_SIZE, 0, 4)
    return pos


def pcie_endpoint_cap_init(dev: PCIDevice, offset: int) -> int:
    """An endpoint's PCI Express capability v2; a root complex integrated endpoint when the
    function sits on a root bus (QEMU pcie_endpoint_cap_common_init)."""
    bus = dev.parent_bus
    type_ = PCI_EXP_TYPE_ENDPOINT
    if isinstance(bus, PCIBus) and bus.is_root and bus.TYPE == "PCIE":
        type_ = PCI_EXP_TYPE_RC_END
    return pcie_cap_init(dev, offset, type_, 0)


def pcie_cap_deverr_init(dev: PCIDevice) -> None:
    """Device error reporting control/status bits (QEMU pcie_cap_deverr_init)."""
    pos = dev.exp_cap
    dev._set_w(dev.config, pos + PCI_EXP_DEVCAP,
               dev.get_long(pos + PCI_EXP_DEVCAP) | PCI_EXP_DEVCAP_RBER, 4)
    dev._set_w(dev.wmask, pos + PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_ERRORS)
    dev._set_w(dev.w1cmask, pos + PCI_EXP_DEVSTA, PCI_EXP_DEVSTA_ERRORS)


def pcie_cap_flr_init(dev: PCIDevice) -> None:
    """Function level reset capable; a write of DEVCTL.BCR_FLR resets the function."""
    pos = dev.exp_cap
    dev._set_w(dev.config, pos + PCI_EXP_DEVCAP,
               dev.get_long(pos + PCI_EXP_DEVCAP) | PCI_EXP_DEVCAP_FLR, 4)
    dev._set_w(dev.wmask, pos + PCI_EXP_DEVCTL,
               dev.get_word(PCI_EXP_DEVCTL + pos) | PCI_EXP_DEVCTL_BCR_FLR)


def pcie_cap_lnkctl_init(dev: PCIDevice) -> None:
    pos = dev.exp_cap
    dev._set_w(dev.wmask, pos + PCI_EXP_LNKCTL, PCI_EXP_LNKCTL_ASPMC_CCC)


def pcie_cap_arifwd_init(dev: PCIDevice) -> None:
    pos = dev.exp_cap
    dev._set_w(dev.config, pos + PCI_EXP_DEVCAP2,
               dev.get_long(pos + PCI_EXP_DEVCAP2) | PCI_EXP_DEVCAP2_ARI, 4)
    dev._set_w(dev.wmask, pos + PCI_EXP_DEVCTL2,
               int.from_bytes(dev.wmask[pos + PCI_EXP_DEVCTL2:pos + PCI_EXP_DEVCTL2 + 2], "little")
               | PCI_EXP_DEVCTL2_ARI)


def pcie_cap_root_init(dev: PCIDevice) -> None:
    pos = dev.exp_cap
    dev._set_w(dev.wmask, pos + PCI_EXP_RTCTL, PCI_EXP_RTCTL_ERRORS)
    dev._set_w(dev.w1cmask, pos + PCI_EXP_RTSTA, PCI_EXP_RTSTA_PME, 4)


def pcie_cap_slot_init(dev: PCIDevice, slot: int, speed: int = LNK_16GT, width: int = LNK_X32) -> None:
    """A hot-plug capable slot (QEMU pcie_cap_slot_init + pcie_cap_fill_slot_lnk): link
    capabilities from x-speed/x-width, power and attention indicators off, power off."""
    pos = dev.exp_cap
    c = dev.config
    dev._set_w(c, pos + PCI_EXP_FLAGS, dev.get_word(pos + PCI_EXP_FLAGS) | PCI_EXP_FLAGS_SLOT)
    lnkcap = dev.get_long(pos + PCI_EXP_LNKCAP) & ~0x3FF | width << 4 | speed
    if width > LNK_X1 or speed > LNK_2_5GT:
        lnkcap |= PCI_EXP_LNKCAP_LBNC
    if speed > LNK_2_5GT:
        lnkcap |= PCI_EXP_LNKCAP_DLLLARC
        dev._set_w(c, pos + PCI_EXP_LNKCTL2, speed)
    if speed > 2:
        dev._set_w(c, pos + PCI_EXP_LNKCAP2, sum(2 << i for i in range(speed)), 4)
    dev._set_w(c, pos + PCI_EXP_LNKCAP, lnkcap, 4)
    dev._set_w(c, pos + PCI_EXP_LNKSTA, width << 4 | speed)
    dev._set_w(c, pos + PCI_EXP_SLTCAP, (slot << 19) | PCI_EXP_SLTCAP_HOTPLUG, 4)
    dev._set_w(c, pos + PCI_EXP_SLTCTL, PCI_EXP_SLTCTL_PIC_OFF | PCI_EXP_SLTCTL_AIC_OFF
               | PCI_EXP_SLTCTL_PCC)
    dev._set_w(dev.wmask, pos + PCI_EXP_SLTCTL, PCI_EXP_SLTCTL_WMASK)
    dev._set_w(dev.w1cmask, pos + PCI_EXP_SLTSTA, PCI_EXP_SLTSTA_W1C)


def _hpev_pending(dev: PCIDevice) -> bool:
    pos = dev.exp_cap
    ctl = dev.get_word(pos + PCI_EXP_SLTCTL)
    sta = dev.get_word(pos + PCI_EXP_SLTSTA)
    return bool(ctl & PCI_EXP_SLTCTL_HPIE) and bool(sta & ctl & PCI_EXP_HP_EV_SUPPORTED)


def hotplug_event_notify(dev: PCIDevice) -> None:
    """Signal a change of the slot's enabled-event state: MSI-X/MSI with the capability's
    interrupt message number, else INTx follows it (QEMU hotplug_event_notify)."""
    prev = getattr(dev, "hpev_notified", False)
    dev.hpev_notified = _hpev_pending(dev)   # type: ignore[attr-defined]
    if prev == dev.hpev_notified:            # type: ignore[attr-defined]
        return
    vector = (dev.get_word(dev.exp_cap + PCI_EXP_FLAGS) >> 9) & 0x1F
    from pyqemu.hw.pci import msi, msix
    if msix.msix_enabled(dev):
        msix.msix_notify(dev, vector)
    elif msi.msi_enabled(dev):
        msi.msi_notify(dev, vector)
    else:
        dev.set_irq(1 if dev.hpev_notified else 0)   # type: ignore[attr-defined]


def hotplug_event_clear(dev: PCIDevice) -> None:
    from pyqemu.hw.pci import msi, msix
    dev.hpev_notified = _hpev_pending(dev)   # type: ignore[attr-defined]
    if not msix.msix_enabled(dev) and not msi.msi_enabled(dev) and not dev.hpev_notified:  # type: ignore[attr-defined]
        dev.set_irq(0)


def pcie_cap_slot_write_config(dev: PCIDevice, old_ctl: int, old_sta: int, addr: int, value: int,
                               size: int) -> None:
    """After a config write (QEMU pcie_cap_slot_write_config): clearing events that were not
    set keeps the ones that were; a slot control write toggles the electromechanical
    interlock on EIC and completes at once: STA.CC, with an interrupt when CCIE and HPIE are
    set (Linux's pciehp waits for it). Hot-plug itself is not implemented."""
    pos = dev.exp_cap
    sta_off, ctl_off = pos + PCI_EXP_SLTSTA, pos + PCI_EXP_SLTCTL
    if addr < sta_off + 2 and sta_off < addr + size:
        val = value >> (8 * (sta_off - addr)) if sta_off >= addr else value << (8 * (addr - sta_off))
        if val & ~old_sta & PCIE_SLOT_EVENTS:
            sta = dev.get_word(sta_off)
            dev._set_w(dev.config, sta_off, (sta & ~PCIE_SLOT_EVENTS) | (old_sta & PCIE_SLOT_EVENTS))
        hotplug_event_clear(dev)
    if not (addr < ctl_off + 2 and ctl_off < addr + size):
        return
    ctl = dev.get_word(ctl_off)
    if ctl & PCI_EXP_SLTCTL_EIC:
        dev._set_w(dev.config, ctl_off, ctl & ~PCI_EXP_SLTCTL_EIC)
        dev._set_w(dev.config, sta_off, dev.get_word(sta_off) ^ PCI_EXP_SLTSTA_EIS)
    hotplug_event_notify(dev)
    sta = dev.get_word(sta_off)
    if not sta & PCI_EXP_SLTSTA_CC:      # the command completed event (pcie_cap_slot_event)
        dev._set_w(dev.config, sta_off, sta | PCI_EXP_SLTSTA_CC)
        hotplug_event_notify(dev)


def pcie_add_capability(dev: PCIDevice, cap_id: int, ver: int, offset: int, size: int) -> int:
    """Add an extended capability at ``offset`` (>= 0x100) to the end of the extended list
    (QEMU pcie_add_capability); read-only by default."""
    if not dev.is_express or offset < PCI_CONFIG_SPACE_SIZE or offset + size > len(dev.config):
        raise QOMError(f"{dev.type_name}: bad extended capability offset 0x{offset:x}")
    header = cap_id | ver << 16
    if offset != PCI_CONFIG_SPACE_SIZE:
        # link from the last capability of the list
        pos = PCI_CONFIG_SPACE_SIZE
        while True:
            h = dev.get_long(pos)
            nxt = h >> 20
            if not nxt:
                break
            pos = nxt
        dev._set_w(dev.config, pos, (h & 0xFFFFF) | offset << 20, 4)
    dev._set_w(dev.config, offset, header, 4)
    dev.wmask[offset:offset + size] = bytes(size)
    dev.w1cmask[offset:offset + size] = bytes(size)
    return offset


def pcie_aer_init(dev: PCIDevice, offset: int) -> None:
    """Advanced Error Reporting registers (no error injection: nothing is ever logged)."""
    pcie_add_capability(dev, PCI_EXT_CAP_ID_ERR, PCI_ERR_VER, offset, PCI_ERR_SIZEOF)
    w = dev._set_w
    w(dev.w1cmask, offset + PCI_ERR_UNCOR_STATUS, PCI_ERR_UNC_SUPPORTED, 4)
    w(dev.config, offset + PCI_ERR_UNCOR_SEVER, PCI_ERR_UNC_SEVERITY_DEFAULT, 4)
    w(dev.wmask, offset + PCI_ERR_UNCOR_SEVER, PCI_ERR_UNC_SUPPORTED, 4)
    w(dev.w1cmask, offset + PCI_ERR_COR_STATUS, PCI_ERR_COR_SUPPORTED, 4)
    w(dev.config, offset + PCI_ERR_COR_MASK, PCI_ERR_COR_MASK_DEFAULT, 4)
    w(dev.wmask, offset + PCI_ERR_COR_MASK, PCI_ERR_COR_SUPPORTED, 4)
    w(dev.config, offset + PCI_ERR_CAP, PCI_ERR_CAP_DEFAULT, 4)
    w(dev.wmask, offset + PCI_ERR_CAP, PCI_ERR_CAP_WMASK, 4)


def pcie_aer_root_init(dev: PCIDevice, offset: int) -> None:
    dev._set_w(dev.wmask, offset + PCI_ERR_ROOT_COMMAND, PCI_ERR_ROOT_CMD_EN_MASK, 4)
    dev._set_w(dev.w1cmask, offset + PCI_ERR_ROOT_STATUS, PCI_ERR_ROOT_STATUS_W1C, 4)


def pcie_acs_init(dev: PCIDevice, offset: int) -> None:
    """Access Control Services: the capability QEMU's ports advertise, control writable."""
    pcie_add_capability(dev, PCI_EXT_CAP_ID_ACS, PCI_ACS_VER, offset, PCI_ACS_SIZEOF)
    dev._set_w(dev.config, offset + 4, PCI_ACS_CAP_DEFAULT)
    dev._set_w(dev.wmask, offset + 6, PCI_ACS_CAP_DEFAULT)
