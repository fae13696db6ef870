"""The Standard Hot-Plug Controller of ``pci-bridge`` (QEMU ``hw/pci/shpc.c``).

Interface: ``SHPC(dev, sec_bus, bar, offset=0)`` adds the SHPC capability to ``dev`` (the
bridge) and maps the working register set at ``offset`` of ``bar``; ``reset()``,
``cap_write_config(addr, size)`` (the bridge's config_write calls it), ``check_plug(devfn)``.
  MMIO   ``shpc-mmio`` (0xa0 bytes, 1..4-byte accesses): slot counts, physical slot numbering,
         command code/target (commands complete at once), command status, interrupt locator,
         SERR/interrupt enables, and per slot its status (state, power/attention indicators,
         MRL, presence), event latch and event mask. 31 slots, PCI slots 1..31.
  Config capability 0x0c: DWORD SELECT and DWORD DATA read the same registers (a DWORD DATA
         write stores what QEMU 7.2 stores: see cap_write_config).
  IRQs   the bridge's MSI vector 0 when MSI is enabled, else its INTA; raised for the command
         completion (and slot events) unless masked.
  Hot-plug and unplug themselves are not implemented (cold-plugged devices show present).
Spec: PCI Standard Hot-Plug Controller and Subsystem 1.0.
"""
from __future__ import annotations

from pyqemu.hw.pci.msi import msi_enabled, msi_notify
from pyqemu.hw.pci.pci import PCI_CAP_ID_SHPC, PCIBus, PCIDevice
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps
from pyqemu.qom.object import QOMError

SHPC_BASE_OFFSET, SHPC_SLOTS_33, SHPC_SLOTS_66 = 0x00, 0x04, 0x08
SHPC_NSLOTS, SHPC_FIRST_DEV, SHPC_PHYS_SLOT = 0x0C, 0x0D, 0x0E
SHPC_PHYS_NUM_UP, SHPC_PHYS_MRL, SHPC_PHYS_BUTTON = 0x2000, 0x4000, 0x8000
SHPC_SEC_BUS, SHPC_SEC_BUS_33, SHPC_SEC_BUS_MASK = 0x10, 0x0, 0x7
SHPC_PROG_IFC, SHPC_PROG_IFC_1_0 = 0x13, 0x1
SHPC_CMD_CODE, SHPC_CMD_TRGT, SHPC_CMD_STATUS = 0x14, 0x15, 0x16
SHPC_CMD_TRGT_MIN, SHPC_CMD_TRGT_MAX = 0x1, 0x1F
SHPC_CMD_STATUS_BUSY, SHPC_CMD_STATUS_MRL_OPEN = 0x1, 0x2
SHPC_CMD_STATUS_INVALID_CMD, SHPC_CMD_STATUS_INVALID_MODE = 0x4, 0x8
SHPC_INT_LOCATOR, SHPC_INT_COMMAND = 0x18, 0x1
SHPC_SERR_INT = 0x20
SHPC_INT_DIS, SHPC_SERR_DIS, SHPC_CMD_INT_DIS, SHPC_ARB_SERR_DIS = 0x1, 0x2, 0x4, 0x8
SHPC_CMD_DETECTED, SHPC_ARB_DETECTED = 0x10000, 0x20000
SHPC_STATE_NO, SHPC_STATE_PWRONLY, SHPC_STATE_ENABLED, SHPC_STATE_DISABLED = 0, 1, 2, 3
SHPC_SLOT_STATE_MASK, SHPC_SLOT_PWR_LED_MASK, SHPC_SLOT_ATTN_LED_MASK = 0x03, 0x0C, 0x30
SHPC_LED_NO, SHPC_LED_ON, SHPC_LED_BLINK, SHPC_LED_OFF = 0, 1, 2, 3
SHPC_SLOT_STATUS_MRL_OPEN, SHPC_SLOT_STATUS_66 = 0x100, 0x200
SHPC_SLOT_STATUS_PRSNT_MASK = 0xC00
SHPC_SLOT_STATUS_PRSNT_EMPTY, SHPC_SLOT_STATUS_PRSNT_7_5W = 0x3, 0x0
SHPC_SLOT_EVENTS = 0x1F              # presence, isolated fault, button, MRL, connected fault
SHPC_SLOT_EVENT_MASKS = 0x7F         # ... and the MRL / connected-fault SERR disables
SHPC_MAX_SLOTS = 31
SHPC_CAP_LENGTH, SHPC_CAP_DWORD_SELECT, SHPC_CAP_DWORD_DATA = 8, 2, 4


def _slot_reg(slot: int) -> int:
    return 0x24 + slot * 4


SHPC_SIZEOF = _slot_reg(SHPC_MAX_SLOTS)


class SHPC:
    """The controller of one bridge; see the module docstring."""

    def __init__(self, dev: PCIDevice, sec_bus: PCIBus, bar: MemoryRegion, offset: int = 0) -> None:
        self.dev = dev
        self.sec_bus = sec_bus
        self.nslots = SHPC_MAX_SLOTS
        self.offset = offset
        self.config = bytearray(SHPC_SIZEOF)
        self.wmask = bytearray(SHPC_SIZEOF)
        self.w1cmask = bytearray(SHPC_SIZEOF)
        self.msi_requested = 0
        self.cap = dev.add_capability(PCI_CAP_ID_SHPC, 0, SHPC_CAP_LENGTH)
        dev.wmask[self.cap + SHPC_CAP_DWORD_SELECT] = 0xFF
        dev._set_w(dev.wmask, self.cap + SHPC_CAP_DWORD_DATA, 0xFFFFFFFF, 4)
        self.wmask[SHPC_CMD_CODE] = 0xFF
        self.wmask[SHPC_CMD_TRGT] = SHPC_CMD_TRGT_MAX
        self._set(self.wmask, SHPC_SERR_INT, SHPC_INT_DIS | SHPC_SERR_DIS | SHPC_CMD_INT_DIS
                  | SHPC_ARB_SERR_DIS, 4)
        self._set(self.w1cmask, SHPC_SERR_INT, SHPC_CMD_DETECTED | SHPC_ARB_DETECTED, 4)
        for i in range(self.nslots):
            self.wmask[_slot_reg(i) + 3] = SHPC_SLOT_EVENT_MASKS
            self.w1cmask[_slot_reg(i) + 2] = SHPC_SLOT_EVENTS
        self.mmio = MemoryRegion.mmio_region("shpc-mmio", SHPC_SIZEOF, MemoryRegionOps(
            lambda o, s: self.read(o, s), lambda o, v, s: self.write(o, v, s),
            AccessConstraints(1, 4), AccessConstraints(1, 4)), owner=dev)
        bar.add_subregion(offset, self.mmio)
        self.reset()

    # -- registers ----------------------------------------------------------------------------------
    @staticmethod
    def _set(buf: bytearray, off: int, value: int, n: int = 2) -> None:
        buf[off:off + n] = value.to_bytes(n, "little")

    def _get(self, off: int, n: int = 2) -> int:
        return int.from_bytes(self.config[off:off + n], "little")

    def get_status(self, slot: int, mask: int) -> int:
        return (self._get(_slot_reg(slot)) & mask) >> ((mask & -mask).bit_length() - 1)

    def set_status(self, slot: int, value: int, mask: int) -> None:
        shift = (mask & -mask).bit_length() - 1
        reg = _slot_reg(slot)
        self._set(self.config, reg, (self._get(reg) & ~mask) | ((value << shift) & mask))

    def reset(self) -> None:
        """QEMU shpc_reset: slots with a device enabled, power indicator on, the rest empty."""
        c = self.config
        c[:] = bytes(SHPC_SIZEOF)
        self._set(c, SHPC_BASE_OFFSET, self.offset, 4)
        c[SHPC_NSLOTS] = self.nslots
        self._set(c, SHPC_SLOTS_33, self.nslots, 4)
        c[SHPC_FIRST_DEV] = 1
        self._set(c, SHPC_PHYS_SLOT, 1 | SHPC_PHYS_NUM_UP | SHPC_PHYS_MRL | SHPC_PHYS_BUTTON)
        self._set(c, SHPC_SERR_INT, SHPC_INT_DIS | SHPC_SERR_DIS | SHPC_CMD_INT_DIS
                  | SHPC_ARB_SERR_DIS, 4)
        c[SHPC_PROG_IFC] = SHPC_PROG_IFC_1_0
        for i in range(self.nslots):
            c[_slot_reg(i) + 3] = SHPC_SLOT_EVENT_MASKS
            if (i + 1) << 3 in self.sec_bus.by_devfn:
                self.set_status(i, SHPC_STATE_ENABLED, SHPC_SLOT_STATE_MASK)
                self.set_status(i, 0, SHPC_SLOT_STATUS_MRL_OPEN)
                self.set_status(i, SHPC_SLOT_STATUS_PRSNT_7_5W, SHPC_SLOT_STATUS_PRSNT_MASK)
                self.set_status(i, SHPC_LED_ON, SHPC_SLOT_PWR_LED_MASK)
            else:
                self.set_status(i, SHPC_STATE_DISABLED, SHPC_SLOT_STATE_MASK)
                self.set_status(i, 1, SHPC_SLOT_STATUS_MRL_OPEN)
                self.set_status(i, SHPC_SLOT_STATUS_PRSNT_EMPTY, SHPC_SLOT_STATUS_PRSNT_MASK)
                self.set_status(i, SHPC_LED_OFF, SHPC_SLOT_PWR_LED_MASK)
        self.msi_requested = 0
        self.interrupt_update()
        self._cap_update_dword()

    def check_plug(self, devfn: int) -> None:
        """QEMU shpc_device_plug_common: only PCI slots 1..31 are hot-plug slots."""
        slot = devfn >> 3
        if slot < 1 or slot - 1 >= self.nslots:
            raise QOMError(f"Unsupported PCI slot {slot} for standard hotplug controller. Valid "
                           f"slots are between 1 and {self.nslots}.")

    def interrupt_update(self) -> None:
        locator = 0
        for i in range(self.nslots):
            reg = _slot_reg(i)
            if self.config[reg + 2] & ~self.config[reg + 3]:
                locator |= 1 << (i + 1)
        serr_int = self._get(SHPC_SERR_INT, 4)
        if serr_int & SHPC_CMD_DETECTED and not serr_int & SHPC_CMD_INT_DIS:
            locator |= SHPC_INT_COMMAND
        self._set(self.config, SHPC_INT_LOCATOR, locator, 4)
        level = 1 if not serr_int & SHPC_INT_DIS and locator else 0
        if msi_enabled(self.dev) and self.msi_requested != level:
            msi_notify(self.dev, 0)
        else:
            self.dev.set_irq(level)
        self.msi_requested = level

    def _invalid(self) -> None:
        self._set(self.config, SHPC_CMD_STATUS, self._get(SHPC_CMD_STATUS) | SHPC_CMD_STATUS_INVALID_CMD)

    def _slot_command(self, target: int, state: int, power: int, attn: int) -> None:
        slot = target - 1
        if target < SHPC_CMD_TRGT_MIN or slot >= self.nslots:
            self._invalid()
            return
        current = self.get_status(slot, SHPC_SLOT_STATE_MASK)
        if current == SHPC_STATE_ENABLED and state == SHPC_STATE_PWRONLY:
            self._invalid()
            return
        if power != SHPC_LED_NO:
            self.set_status(slot, power, SHPC_SLOT_PWR_LED_MASK)
        if attn != SHPC_LED_NO:
            self.set_status(slot, attn, SHPC_SLOT_ATTN_LED_MASK)
        if state != SHPC_STATE_NO:
            self.set_status(slot, state, SHPC_SLOT_STATE_MASK)
        # unplug on disable (QEMU frees the devices) is not implemented: they stay

    def _command(self) -> None:
        code = self.config[SHPC_CMD_CODE]
        self._set(self.config, SHPC_CMD_STATUS, self._get(SHPC_CMD_STATUS) & ~0xF)
        if code <= 0x3F:
            self._slot_command(self.config[SHPC_CMD_TRGT] & SHPC_CMD_TRGT_MAX, code & 3,
                               (code >> 2) & 3, (code >> 4) & 3)
        elif code <= 0x47:
            if code & SHPC_SEC_BUS_MASK == SHPC_SEC_BUS_33:
                self.config[SHPC_SEC_BUS] &= ~SHPC_SEC_BUS_MASK & 0xFF
            else:
                self._set(self.config, SHPC_CMD_STATUS,
                          self._get(SHPC_CMD_STATUS) | SHPC_CMD_STATUS_INVALID_MODE)
        elif code in (0x48, 0x49):         # power-only / enable all slots
            target_state = SHPC_STATE_PWRONLY if code == 0x48 else SHPC_STATE_ENABLED
            if any(self.get_status(i, SHPC_SLOT_STATE_MASK) == SHPC_STATE_ENABLED
                   for i in range(self.nslots)):
                self._invalid()
            else:
                for i in range(self.nslots):
                    if not self.get_status(i, SHPC_SLOT_STATUS_MRL_OPEN):
                        self._slot_command(i + 1, target_state, SHPC_LED_ON, SHPC_LED_NO)
                    else:
                        self._slot_command(i + 1, SHPC_STATE_NO, SHPC_LED_OFF, SHPC_LED_NO)
        else:
            self._invalid()
        self._set(self.config, SHPC_SERR_INT, self._get(SHPC_SERR_INT, 4) | SHPC_CMD_DETECTED, 4)

    def read(self, addr: int, size: int) -> int:
        if addr >= SHPC_SIZEOF:
            return 0
        return int.from_bytes(self.config[addr:min(addr + size, SHPC_SIZEOF)], "little")

    def write(self, addr: int, value: int, size: int) -> None:
        if addr >= SHPC_SIZEOF:
            return
        size = min(size, SHPC_SIZEOF - addr)
        for i in range(size):
            b = (value >> (8 * i)) & 0xFF
            a = addr + i
            wm = self.wmask[a]
            self.config[a] = ((self.config[a] & ~wm) | (b & wm)) & ~(b & self.w1cmask[a]) & 0xFF
        if addr < SHPC_CMD_CODE + 2 and SHPC_CMD_CODE < addr + size:
            self._command()
        self.interrupt_update()
        self._cap_update_dword()

    # -- the configuration-space window -------------------------------------------------------------
    def _cap_update_dword(self) -> None:
        d = self.dev
        d._set_w(d.config, self.cap + SHPC_CAP_DWORD_DATA,
                 self.read(d.config[self.cap + SHPC_CAP_DWORD_SELECT] * 4, 4), 4)

    def cap_write_config(self, addr: int, size: int) -> None:
        """QEMU shpc_cap_write_config: DWORD DATA writes reach the selected register."""
        cap = self.cap
        if not (addr < cap + SHPC_CAP_LENGTH and cap < addr + size):
            return
        if addr < cap + 8 and cap + 4 < addr + size:
            # QEMU 7.2 takes the value from its SHPC register file at the capability's config
            # offset, not from the config space the guest wrote: do the same, it is what a
            # guest sees there (Linux writes the registers through BAR 0).
            self.write(self.dev.config[cap + SHPC_CAP_DWORD_SELECT] * 4,
                       self.read(cap + SHPC_CAP_DWORD_DATA, 4), 4)
        self._cap_update_dword()
