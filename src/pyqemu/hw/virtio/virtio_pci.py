"""The virtio-pci transport (QEMU ``hw/virtio/virtio-pci.c``, abstract type ``virtio-pci``).

Interface:
  BARs   0: legacy I/O (transitional devices): the legacy header, MSI-X vectors when MSI-X
            is enabled, then the device's config space; size the next power of two.
         1: MSI-X table (offset 0) and PBA (offset 0x800), 4 KiB, when ``vectors`` > 0.
         2: modern PIO notify, 4 bytes (``modern-pio-notify=on`` only).
         4: modern, 64-bit prefetchable, 16 KiB: common config 0x0000, ISR 0x1000, device
            config 0x2000, notify 0x3000 (queue N at N * 4, or N * 4 KiB with page-per-vq).
  Caps   vendor capabilities (common, ISR, device, notify with notify_off_multiplier, PCI
         config access window), then MSI-X; behind a PCI Express port a PCIe endpoint
         capability and PM come first, and the device is modern-only by default.
  IRQs   MSI-X vector of the queue / config when MSI-X is enabled, else INTA from ISR bit 0.
  Props  ``disable-legacy`` (on/off/auto: auto means on behind a PCIe port), ``disable-modern``,
         ``vectors``, ``modern-pio-notify``, ``page-per-vq``, ``x-disable-pcie``, ``ats``, ...
  Bus    ``virtio-bus`` (type ``virtio-pci-bus``), one virtio device.
  Spec   Virtio 1.1 section 4.1 (and 4.1.4.8, the legacy interface).

The device type that a user creates (``virtio-blk-pci``) lives in ``virtio_pci_blk``.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from pyqemu.hw.pci import msix, pcie
from pyqemu.hw.pci import pci as pcimod
from pyqemu.hw.pci.pci import PCIDevice
from pyqemu.hw.virtio.virtio import (
    VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_F_ANY_LAYOUT,
    VIRTIO_F_BAD_FEATURE,
    VIRTIO_F_NOTIFY_ON_EMPTY,
    VIRTIO_F_VERSION_1,
    VIRTIO_LEGACY_FEATURES,
    VIRTIO_NO_VECTOR,
    VIRTIO_QUEUE_MAX,
    VirtioBus,
)
from pyqemu.hw.virtio.virtio_pci_legacy import VirtioPCILegacy
from pyqemu.hw.virtio.virtio_pci_regs import (
    COMMON_NAMES,
    PCI_CAP_ID_PM,
    PCI_CAP_ID_VNDR,
    VIRTIO_PCI_CAP_COMMON_CFG,
    VIRTIO_PCI_CAP_DEVICE_CFG,
    VIRTIO_PCI_CAP_ISR_CFG,
    VIRTIO_PCI_CAP_NOTIFY_CFG,
    VIRTIO_PCI_CAP_PCI_CFG,
    VirtioPCIRegion,
    legacy_config_offset,
    pow2ceil,
)
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps, MemTxError
from pyqemu.migration.vmstate import Field, StateDescription, StateLoadError
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError
from pyqemu.util import log

# what a modern driver does not see of the offered features (QEMU's vdc->legacy_features)
MODERN_HIDDEN = (VIRTIO_LEGACY_FEATURES | 1 << VIRTIO_F_BAD_FEATURE | 1 << VIRTIO_F_NOTIFY_ON_EMPTY
                 | 1 << VIRTIO_F_ANY_LAYOUT)
PCI_DEVICE_ID_VIRTIO_10_BASE = 0x1040
LEGACY_IO_BAR, MSIX_BAR, MODERN_IO_BAR, MODERN_MEM_BAR = 0, 1, 2, 4
PCI_PM_SIZEOF, PCI_PM_PMC, PCI_PM_CTRL = 8, 2, 4
PCI_EXP_LNKCTL, PCI_EXP_LNKCTL_CCC, PCI_EXP_LNKCTL_ES = 0x10, 0x40, 0x80
PCI_ERR_CAP = 0x18
CFG_CAP_DATA = 16       # offset of pci_cfg_data in struct virtio_pci_cfg_cap


VMSTATE = StateDescription("virtio_pci", 1, (
    Field("dfselect", "uint32"), Field("gfselect", "uint32"),
    Field("guest_features", "uint32", length=2),
))


class _QueueShadow:
    """What the modern interface holds per queue until QueueEnable (QEMU VirtIOPCIQueue)."""

    __slots__ = ("num", "desc", "avail", "used", "enabled", "reset")

    def __init__(self) -> None:
        self.num = 0
        self.desc = [0, 0]
        self.avail = [0, 0]
        self.used = [0, 0]
        self.enabled = 0
        self.reset = 0


def _ops(read: Any, write: Any) -> MemoryRegionOps:
    return MemoryRegionOps(read, write, AccessConstraints(1, 4), AccessConstraints(1, 4))


class VirtioPCIBus(VirtioBus):
    """The virtio bus of a virtio-pci proxy (QEMU TYPE_VIRTIO_PCI_BUS); plugging a device
    gives it the transport."""

    TYPE = "virtio-pci-bus"
    max_devices = 1

    def __init__(self, name: str, proxy: VirtIOPCIProxy) -> None:
        super().__init__(name, proxy)
        self.proxy = proxy

    def attach(self, dev: Any) -> None:
        if self.devices:
            raise QOMError(f"Bus '{self.bus_name}' is full")
        super().attach(dev)
        dev.transport = self.proxy
        dev.dma = self.proxy.dma_as


class VirtIOPCIProxy(VirtioPCILegacy, PCIDevice):
    """The transport half of every virtio PCI device; see the module docstring. Subclasses
    create ``self.vdev`` (the QOM child ``virtio-backend``) and realize it on ``self.bus``
    through ``realize_vdev()``."""

    TYPE = "virtio-pci"
    ABSTRACT = True
    INTERFACES = ("pci-express-device", "conventional-pci-device")
    IS_EXPRESS = True
    VENDOR_ID = pcimod.PCI_VENDOR_ID_REDHAT_QUMRANET
    INTX_PIN = 1
    # what a non-transitional / transitional type forces (None: the generic type's props)
    FORCE_DISABLE_LEGACY: str | None = None

    virtio_pci_bus_master_bug_migration = Prop("bool", False)
    migrate_extra = Prop("bool", True)
    modern_pio_notify = Prop("bool", False)
    x_disable_pcie = Prop("bool", False)
    page_per_vq = Prop("bool", False)
    x_ignore_backend_features = Prop("bool", False)
    ats = Prop("bool", False)
    x_ats_page_aligned = Prop("bool", True)
    x_pcie_deverr_init = Prop("bool", True)
    x_pcie_lnkctl_init = Prop("bool", True)
    x_pcie_pm_init = Prop("bool", True)
    x_pcie_flr_init = Prop("bool", True)
    aer = Prop("bool", False)

    def __init__(self) -> None:
        super().__init__()
        self.vdev: Any = None
        self.bus: VirtioPCIBus | None = None
        self.nvectors = 0
        self.is_legacy = False
        self.is_modern = False
        self.config_cap = 0
        self.dfselect = 0
        self.gfselect = 0
        self.guest_features = [0, 0]
        self.vq_shadow: dict[int, _QueueShadow] = {}
        self.legacy_bar: MemoryRegion | None = None
        self.regions = {
            "common": VirtioPCIRegion(0x0000, 0x1000, VIRTIO_PCI_CAP_COMMON_CFG),
            "isr": VirtioPCIRegion(0x1000, 0x1000, VIRTIO_PCI_CAP_ISR_CFG),
            "device": VirtioPCIRegion(0x2000, 0x1000, VIRTIO_PCI_CAP_DEVICE_CFG),
            "notify": VirtioPCIRegion(0x3000, 4 * VIRTIO_QUEUE_MAX, VIRTIO_PCI_CAP_NOTIFY_CFG),
            "notify_pio": VirtioPCIRegion(0x0, 0x4, VIRTIO_PCI_CAP_NOTIFY_CFG),
        }

    # -- properties that differ per generic / transitional type ---------------------------------------
    @property
    def queue_mem_mult(self) -> int:
        return 0x1000 if self.page_per_vq else 4

    def _disable_legacy_value(self) -> str:
        forced = self.FORCE_DISABLE_LEGACY
        return forced if forced is not None else str(getattr(self, "disable_legacy", "auto"))

    def _disable_modern_value(self) -> bool:
        if self.FORCE_DISABLE_LEGACY is not None:
            return False
        return bool(getattr(self, "disable_modern", False))

    # -- the transport protocol (pyqemu.hw.virtio.virtio) ------------------------------------------------
    @property
    def legacy(self) -> bool:
        """Whether the driver uses the legacy interface: it has one and did not negotiate
        VERSION_1 (what virtio_is_big_endian and friends look at in QEMU)."""
        if not self.is_legacy:
            return False
        vdev = self.vdev
        return vdev is None or not vdev.guest_features >> VIRTIO_F_VERSION_1 & 1

    def transport_features(self) -> int:
        """virtio_pci_pre_plugged: VERSION_1 for modern, BAD_FEATURE always."""
        f = 1 << VIRTIO_F_BAD_FEATURE
        if self.is_modern:
            f |= 1 << VIRTIO_F_VERSION_1
        return f

    def update_irq(self, vector: int) -> None:
        """virtio_pci_notify: MSI-X when enabled (no vector, no message), else INTx = ISR bit 0."""
        if msix.msix_enabled(self):
            if vector != VIRTIO_NO_VECTOR and vector < self.nvectors:
                msix.msix_notify(self, vector)
        else:
            self.set_irq(self.vdev.isr & 1 if self.vdev is not None else 0)

    # -- realize -----------------------------------------------------------------------------------
    def _pcie_port(self) -> bool:
        """On a PCI Express bus that is not a root bus (QEMU's pcie_port)."""
        bus = self.parent_bus
        if bus is None or not bus.type_name.startswith("PCIE"):
            return False
        is_root = getattr(bus, "is_root", None)
        if is_root is None:
            is_root = not isinstance(getattr(bus, "parent_dev", None), PCIDevice)
        return not (is_root() if callable(is_root) else is_root)

    def realize(self) -> None:
        """virtio_pci_realize: pick legacy/modern, the PCIe capabilities, then the virtio bus
        (a subclass realizes its device on it with ``realize_vdev``)."""
        pcie_port = self._pcie_port()
        self.regions["notify"].size = self.queue_mem_mult * VIRTIO_QUEUE_MAX
        dl = self._disable_legacy_value()
        if dl not in ("on", "off", "auto"):
            raise QOMError(f"Parameter 'disable-legacy' does not accept value '{dl}'")
        if dl == "auto":
            dl = "on" if pcie_port else "off"
            if self.FORCE_DISABLE_LEGACY is None:
                self.disable_legacy = dl     # what info qtree shows afterwards, as QEMU
        self.is_legacy = dl == "off"
        self.is_modern = not self._disable_modern_value()
        if not self.is_legacy and not self.is_modern:
            raise QOMError("device cannot work as neither modern nor legacy mode is enabled\n"
                           "Set either disable-modern or disable-legacy to off")
        if pcie_port and not self.x_disable_pcie:
            self._init_pcie_caps()
        else:
            self._shrink_config()
        self.bus = VirtioPCIBus("virtio-bus", self)

    def _shrink_config(self) -> None:
        """A conventional function: 256 bytes of config space (QEMU clears CAP_EXPRESS)."""
        self.set_express(False)

    def _init_pcie_caps(self) -> None:
        """The PCI Express endpoint capability, PM, and their init flags (virtio_pci_realize)."""
        exp = pcie.pcie_endpoint_cap_init(self, 0)
        pm = self.add_capability(PCI_CAP_ID_PM, 0, PCI_PM_SIZEOF)
        self.pm_cap = pm
        # PCI PM 1.2 compliant
        self.config[pm + PCI_PM_PMC:pm + PCI_PM_PMC + 2] = (0x3).to_bytes(2, "little")
        if self.aer:
            aer = pcimod.PCI_CONFIG_SPACE_SIZE
            pcie.pcie_aer_init(self, aer)
            # an endpoint has no header log (QEMU aer_log.log_max = 0): no MHRC, no MHRE
            self.config[aer + PCI_ERR_CAP + 1] &= ~0x02 & 0xFF
            self.wmask[aer + PCI_ERR_CAP + 1] &= ~0x04 & 0xFF
        if self.x_pcie_deverr_init:
            pcie.pcie_cap_deverr_init(self)
        if self.x_pcie_lnkctl_init:
            # QEMU pcie_cap_lnkctl_init: common clock configuration and extended synch
            self.wmask[exp + PCI_EXP_LNKCTL] |= PCI_EXP_LNKCTL_CCC | PCI_EXP_LNKCTL_ES
        if self.x_pcie_pm_init:
            self.wmask[pm + PCI_PM_CTRL] |= 0x3     # PCI_PM_CTRL_STATE_MASK
        if self.ats:
            log.unimp(f"{self.type_name}: the ATS capability is not implemented")
        if self.x_pcie_flr_init:
            pcie.pcie_cap_flr_init(self)

    def realize_vdev(self) -> None:
        """Realize ``self.vdev`` on the virtio bus, then lay out the PCI side for it
        (virtio_pci_pre_plugged + virtio_pci_device_plugged)."""
        assert self.bus is not None
        self.vdev.qdev_realize(self.bus)
        plugged = getattr(self.vdev, "plugged", None)
        if plugged is not None:
            plugged()
        self._device_plugged()

    def _device_plugged(self) -> None:
        vdev = self.vdev
        if not self.x_ignore_backend_features and not vdev.host_features >> VIRTIO_F_VERSION_1 & 1:
            self.is_modern = False
            if not self.is_legacy:
                raise QOMError("Device doesn't support modern mode, and legacy mode is disabled\n"
                               "Set disable-legacy to off")
        c = self.config
        class_code = getattr(self, "class_", 0) or 0
        if class_code:
            at = pcimod.PCI_CLASS_DEVICE
            c[at:at + 2] = (class_code & 0xFFFF).to_bytes(2, "little")
            self.CLASS_ID = class_code & 0xFFFF   # this instance's identity (info pci/qtree)
        if self.is_legacy:
            # transitional: subsystem ID = virtio device ID, the class's transitional device ID
            c[pcimod.PCI_SUBSYSTEM_ID:pcimod.PCI_SUBSYSTEM_ID + 2] = vdev.VIRTIO_ID.to_bytes(2, "little")
        else:
            dev_id = PCI_DEVICE_ID_VIRTIO_10_BASE + vdev.VIRTIO_ID
            c[pcimod.PCI_DEVICE_ID:pcimod.PCI_DEVICE_ID + 2] = dev_id.to_bytes(2, "little")
            c[pcimod.PCI_REVISION_ID] = 1
            self.DEVICE_ID, self.REVISION = dev_id, 1
        c[pcimod.PCI_INTERRUPT_PIN] = 1
        if self.is_modern:
            self._init_modern()
        if self.nvectors:
            try:
                msix.msix_init_exclusive_bar(self, self.nvectors, MSIX_BAR)
            except QOMError:
                # as QEMU: no MSI-X (INTx only) rather than no device
                prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "pyqemu"
                sys.stderr.write(f"{prog}: warning: unable to init msix vectors to {self.nvectors}\n")
                self.nvectors = 0
        if self.is_legacy:
            size = pow2ceil(legacy_config_offset(self.nvectors > 0) + vdev.config_len())
            self.legacy_bar = MemoryRegion.mmio_region("virtio-pci", size, _ops(
                self.legacy_read, self.legacy_write), owner=self)
            self.register_bar(LEGACY_IO_BAR, self.legacy_bar, pcimod.PCI_BASE_ADDRESS_SPACE_IO)

    def _init_modern(self) -> None:
        name = self.vdev.NAME
        handlers = {"common": (self.common_read, self.common_write),
                    "isr": (self.isr_read, self._ignore_write),
                    "device": (self.device_read, self.device_write),
                    "notify": (self._zero_read, self.notify_write)}
        notify = self.regions["notify"]
        self.modern_bar = MemoryRegion.container_region(
            "virtio-pci", pow2ceil(notify.offset + notify.size), owner=self)
        for key, (rd, wr) in handlers.items():
            reg = self.regions[key]
            reg.mr = MemoryRegion.mmio_region(f"virtio-pci-{key}-{name}", reg.size, _ops(rd, wr),
                                              owner=self)
            self.modern_bar.add_subregion(reg.offset, reg.mr)
            mult = self.queue_mem_mult if key == "notify" else None
            self._add_vendor_cap(reg.cfg_type, MODERN_MEM_BAR, reg.offset, reg.size, mult)
        if self.modern_pio_notify:
            reg = self.regions["notify_pio"]
            reg.mr = MemoryRegion.mmio_region(f"virtio-pci-notify-pio-{name}", reg.size,
                                              _ops(self._zero_read, self.notify_pio_write), owner=self)
            self.io_bar = MemoryRegion.container_region("virtio-pci-io", 4, owner=self)
            self.io_bar.add_subregion(0, reg.mr)
            self.register_bar(MODERN_IO_BAR, self.io_bar, pcimod.PCI_BASE_ADDRESS_SPACE_IO)
            self._add_vendor_cap(reg.cfg_type, MODERN_IO_BAR, 0, reg.size, 0)
        self.register_bar(MODERN_MEM_BAR, self.modern_bar,
                          pcimod.PCI_BASE_ADDRESS_SPACE_MEMORY | pcimod.PCI_BASE_ADDRESS_MEM_PREFETCH
                          | pcimod.PCI_BASE_ADDRESS_MEM_TYPE_64)
        pos = self._add_vendor_cap(VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, None, length=0x14)
        self.config_cap = pos
        # the window's bar, offset, length and data are the driver's to write
        self.wmask[pos + 4] = 0xFF
        self.wmask[pos + 8:pos + 20] = b"\xff" * 12

    def _add_vendor_cap(self, cfg_type: int, bar: int, offset: int, size: int,
                        notify_mult: int | None, length: int | None = None) -> int:
        """virtio_pci_add_mem_cap: struct virtio_pci_cap (+ notify_off_multiplier)."""
        cap_len = length or (0x14 if notify_mult is not None else 0x10)
        pos = self.add_capability(PCI_CAP_ID_VNDR, 0, cap_len)
        c = self.config
        c[pos + 2] = cap_len
        c[pos + 3] = cfg_type
        c[pos + 4] = bar
        c[pos + 8:pos + 12] = offset.to_bytes(4, "little")
        c[pos + 12:pos + 16] = size.to_bytes(4, "little")
        if notify_mult is not None:
            c[pos + 16:pos + 20] = notify_mult.to_bytes(4, "little")
        return pos

    # -- reset -------------------------------------------------------------------------------------
    def reset(self) -> None:
        """A bus/system reset: the PCI function, then the transport and its device."""
        super().reset()
        self.virtio_pci_reset()

    def virtio_pci_reset(self) -> None:
        """virtio_pci_reset: the device and the queue state the transport keeps."""
        if self.vdev is not None and self.vdev.realized:
            self.vdev.reset()
        self.vq_shadow.clear()
        if self.IS_EXPRESS and getattr(self, "pm_cap", 0) and len(self.config) > 0x100:
            pm = self.pm_cap
            self.config[pm + PCI_PM_CTRL:pm + PCI_PM_CTRL + 2] = b"\0\0"

    # -- config space (the VIRTIO_PCI_CAP_PCI_CFG window) ---------------------------------------------
    def _cfg_window(self) -> tuple[int, int]:
        c, pos = self.config, self.config_cap
        return (int.from_bytes(c[pos + 8:pos + 12], "little"),
                int.from_bytes(c[pos + 12:pos + 16], "little"))

    def _touches_cfg_data(self, addr: int, size: int) -> bool:
        data = self.config_cap + CFG_CAP_DATA
        return bool(self.config_cap) and addr < data + 4 and data < addr + size

    def config_read(self, addr: int, size: int) -> int:
        if self._touches_cfg_data(addr, size):
            off, length = self._cfg_window()
            if length in (1, 2, 4):
                val = self._window_access(off, length, None)
                if val is not None:
                    data = self.config_cap + CFG_CAP_DATA
                    self.config[data:data + length] = val.to_bytes(length, "little")
        return super().config_read(addr, size)

    def config_write(self, addr: int, value: int, size: int) -> None:
        super().config_write(addr, value, size)
        if self._touches_cfg_data(addr, size):
            off, length = self._cfg_window()
            if length in (1, 2, 4):
                data = self.config_cap + CFG_CAP_DATA
                self._window_access(off, length, int.from_bytes(self.config[data:data + length],
                                                                "little"))
        if addr <= pcimod.PCI_COMMAND < addr + size and self.vdev is not None:
            status = self.vdev.status
            if not self.config[pcimod.PCI_COMMAND] & pcimod.PCI_COMMAND_MASTER \
                    and status & VIRTIO_CONFIG_S_DRIVER_OK:
                # bus mastering off: the device must stop (virtio_write_config)
                self.vdev.set_status(status & ~VIRTIO_CONFIG_S_DRIVER_OK)

    def _window_access(self, off: int, length: int, value: int | None) -> int | None:
        """virtio_address_space_read/write: the first modern region that holds the access."""
        off &= ~(length - 1)   # the guest picks the offset: aligned down, as QEMU
        for reg in self.regions.values():
            if reg.mr is not None and reg.offset <= off and off + length <= reg.offset + reg.size:
                try:
                    if value is None:
                        return reg.mr.dispatch_read(off - reg.offset, length)
                    reg.mr.dispatch_write(off - reg.offset, value, length)
                except MemTxError:
                    return 0   # an invalid access: logged, reads as 0 as in QEMU
                return None
        return None

    # -- common configuration ---------------------------------------------------------------------------
    def _shadow(self, n: int) -> _QueueShadow:
        q = self.vq_shadow.get(n)
        if q is None:
            q = self.vq_shadow[n] = _QueueShadow()
        return q

    def _msix_vector_ok(self, vector: int) -> bool:
        return vector < self.nvectors   # msix_vector_use fails past the table (and NO_VECTOR)

    def common_read(self, offset: int, size: int) -> int:
        vdev = self.vdev
        sel = vdev.queue_sel
        vq = vdev.get_queue(sel)
        q = self._shadow(sel)
        if offset == 0x00:
            return self.dfselect
        if offset == 0x04:
            if self.dfselect <= 1:
                return (vdev.get_features() & ~MODERN_HIDDEN) >> (32 * self.dfselect) & 0xFFFFFFFF
            return 0
        if offset == 0x08:
            return self.gfselect
        if offset == 0x0C:
            return self.guest_features[self.gfselect] if self.gfselect < 2 else 0
        if offset == 0x10:
            return vdev.config_vector
        if offset == 0x12:
            return max((vq.index + 1 for vq in vdev.vqs if vq.num), default=0)
        if offset == 0x14:
            return vdev.status
        if offset == 0x15:
            return vdev.config_generation & 0xFF
        if offset == 0x16:
            return sel
        if offset == 0x18:
            return vq.num if vq is not None else 0
        if offset == 0x1A:
            return vq.vector if vq is not None else VIRTIO_NO_VECTOR
        if offset == 0x1C:
            return q.enabled
        if offset == 0x1E:
            return sel   # queue_notify_off: queue N notifies at N * multiplier
        if 0x20 <= offset < 0x38 and not offset & 3:
            pair = (q.desc, q.avail, q.used)[(offset - 0x20) // 8]
            return pair[(offset >> 2) & 1]
        if offset == 0x3A:
            return q.reset
        return 0

    def common_write(self, offset: int, value: int, size: int) -> None:
        vdev = self.vdev
        sel = vdev.queue_sel
        vq = vdev.get_queue(sel)
        q = self._shadow(sel)
        if offset == 0x00:
            self.dfselect = value
        elif offset == 0x08:
            self.gfselect = value
        elif offset == 0x0C:
            if self.gfselect <= 1:
                self.guest_features[self.gfselect] = value
                vdev.set_features(self.guest_features[0] | self.guest_features[1] << 32)
        elif offset == 0x10:
            vdev.config_vector = value if self._msix_vector_ok(value) else VIRTIO_NO_VECTOR
        elif offset == 0x14:
            self._set_status(value)
        elif offset == 0x16:
            if value < VIRTIO_QUEUE_MAX:
                vdev.queue_sel = value
        elif offset == 0x18:
            q.num = value
            if vq is not None:
                vq.set_num(value)
        elif offset == 0x1A:
            if vq is not None:
                vq.vector = value if self._msix_vector_ok(value) else VIRTIO_NO_VECTOR
        elif offset == 0x1C:
            self._queue_enable(sel, vq, q, value)
        elif 0x20 <= offset < 0x38 and not offset & 3:
            pair = (q.desc, q.avail, q.used)[(offset - 0x20) // 8]
            pair[(offset >> 2) & 1] = value
        elif offset == 0x3A:
            if value == 1 and vq is not None:
                vq.reset()
                q.enabled = 0
        else:
            log.guest_error(f"virtio_pci_common_write: {COMMON_NAMES.get(offset, 'reserved')} "
                            f"(0x{offset:x}) is read-only or unknown")

    def _queue_enable(self, sel: int, vq: Any, q: _QueueShadow, value: int) -> None:
        if value != 1:
            self.vdev.virtio_error(f"wrong value for queue_enable {value:x}")
            return
        if vq is None:
            return
        vq.set_num(q.num)
        if vq.num:
            vq.set_rings(q.desc[0] | q.desc[1] << 32, q.avail[0] | q.avail[1] << 32,
                         q.used[0] | q.used[1] << 32)
        vq.ready = True
        q.enabled = 1
        q.reset = 0

    def _set_status(self, value: int) -> None:
        self.vdev.set_status(value & 0xFF)
        if self.vdev.status == 0:
            self.virtio_pci_reset()

    # -- ISR, device config, notify ---------------------------------------------------------------------
    def isr_read(self, offset: int, size: int) -> int:
        """Reading the ISR clears it and lowers INTx."""
        vdev = self.vdev
        val = vdev.isr
        vdev.isr = 0
        self.set_irq(0)
        return val   # at any offset of the region, as QEMU

    def device_read(self, offset: int, size: int) -> int:
        return self.vdev.config_read(offset, size)

    def device_write(self, offset: int, value: int, size: int) -> None:
        self.vdev.config_write(offset, value, size)

    def notify_write(self, offset: int, value: int, size: int) -> None:
        queue = offset // self.queue_mem_mult
        if queue < VIRTIO_QUEUE_MAX:
            self.vdev.queue_notify(queue)

    def notify_pio_write(self, offset: int, value: int, size: int) -> None:
        if value < VIRTIO_QUEUE_MAX:
            self.vdev.queue_notify(value)

    def _zero_read(self, offset: int, size: int) -> int:
        return 0

    def _ignore_write(self, offset: int, value: int, size: int) -> None:
        pass

    # -- snapshots ----------------------------------------------------------------------------------
    def vmstate_save(self) -> dict:
        """The transport's own state (the PCI function and the virtio device save theirs)."""
        state = VMSTATE.save(self)
        state["queues"] = {n: {"num": q.num, "desc": list(q.desc), "avail": list(q.avail),
                               "used": list(q.used), "enabled": q.enabled}
                           for n, q in self.vq_shadow.items()}
        return state

    def vmstate_load(self, state: dict) -> None:
        queues = state.get("queues", {})
        VMSTATE.load(self, {k: v for k, v in state.items() if k != "queues"})
        shadows: dict[int, _QueueShadow] = {}
        try:
            for n, s in queues.items():
                if not 0 <= int(n) < VIRTIO_QUEUE_MAX:
                    raise StateLoadError(f"virtio_pci: bad queue index {n}")
                q = shadows[int(n)] = _QueueShadow()
                q.num = int(s["num"]) & 0xFFFF
                q.desc, q.avail, q.used = ([int(x) & 0xFFFFFFFF for x in s[k]][:2]
                                           for k in ("desc", "avail", "used"))
                q.enabled = int(bool(s["enabled"]))
        except (KeyError, TypeError, ValueError) as e:
            raise StateLoadError(f"virtio_pci: bad queue state ({e})") from None
        self.vq_shadow = shadows
