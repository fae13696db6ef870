"""QEMU's firmware configuration device, MMIO variant (QEMU ``hw/nvram/fw_cfg.c``,
type ``fw_cfg_mem``), as ``virt`` maps it at 0x09020000.

Interface:
  MMIO   bank 0 ``fwcfg.ctl``  2 bytes: the selector, big-endian, 16-bit writes only
                               (any other access is rejected: a bus error);
         bank 1 ``fwcfg.data`` ``data_width`` bytes (8 on virt): reads of 1..8 bytes at
                               offset 0 return the next item bytes in memory order,
                               zero past the end; writes are ignored (as since QEMU 2.4);
         bank 2 ``fwcfg.dma``  8 bytes: reads give "QEMU CFG"; a big-endian 64-bit write
                               (or two 32-bit halves, high first) of the guest-physical
                               address of an FWCfgDmaAccess starts a DMA transfer.
         virt maps data at base, ctl at base + 8, DMA at base + 16.
  IRQs   none.
  Props  ``data_width`` (uint32), ``dma_enabled`` (bool, default on), ``x-file-slots``
         (uint16, 0x20), ``acpi-mr-restore`` (bool; accepted for compatibility).
  Spec   QEMU's docs/specs/fw_cfg.txt; QEMU 7.2 behaviour.

The device holds the entries every machine has: the signature "QEMU", the
interface id (1, plus 2 when DMA is on), the UUID, no-graphic and boot-menu
flags, the file directory and the ``etc/boot-fail-wait`` file; at every
system reset it refreshes the ``bootorder`` and ``bios-geometry`` files. The
board adds its own items (``add_i16(FW_CFG_NB_CPUS, n)``, kernel, ACPI and
SMBIOS tables) through ``add_bytes``/``add_file``. DMA reads and writes guest
memory through the AddressSpace given at creation.
"""
from __future__ import annotations

import bisect
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyqemu.hw.core.register import Reg, RegisterTable
from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.memory import AccessConstraints, AddressSpace, MemoryRegion, MemoryRegionOps, MemTxError
from pyqemu.migration.vmstate import Field, StateDescription
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError
from pyqemu.util import log

FW_CFG_SIGNATURE = 0x00
FW_CFG_ID = 0x01
FW_CFG_UUID = 0x02
FW_CFG_RAM_SIZE = 0x03
FW_CFG_NOGRAPHIC = 0x04
FW_CFG_NB_CPUS = 0x05
FW_CFG_MACHINE_ID = 0x06
FW_CFG_KERNEL_ADDR = 0x07
FW_CFG_KERNEL_SIZE = 0x08
FW_CFG_KERNEL_CMDLINE = 0x09
FW_CFG_INITRD_ADDR = 0x0A
FW_CFG_INITRD_SIZE = 0x0B
FW_CFG_BOOT_DEVICE = 0x0C
FW_CFG_NUMA = 0x0D
FW_CFG_BOOT_MENU = 0x0E
FW_CFG_MAX_CPUS = 0x0F
FW_CFG_KERNEL_ENTRY = 0x10
FW_CFG_KERNEL_DATA = 0x11
FW_CFG_INITRD_DATA = 0x12
FW_CFG_CMDLINE_ADDR = 0x13
FW_CFG_CMDLINE_SIZE = 0x14
FW_CFG_CMDLINE_DATA = 0x15
FW_CFG_SETUP_ADDR = 0x16
FW_CFG_SETUP_SIZE = 0x17
FW_CFG_SETUP_DATA = 0x18
FW_CFG_FILE_DIR = 0x19
FW_CFG_FILE_FIRST = 0x20
FW_CFG_FILE_SLOTS_MIN = 0x10
FW_CFG_WRITE_CHANNEL = 0x4000
FW_CFG_ARCH_LOCAL = 0x8000
FW_CFG_ENTRY_MASK = ~(FW_CFG_WRITE_CHANNEL | FW_CFG_ARCH_LOCAL) & 0xFFFF
FW_CFG_INVALID = 0xFFFF

FW_CFG_VERSION = 0x01
FW_CFG_VERSION_DMA = 0x02

FW_CFG_DMA_CTL_ERROR = 0x01
FW_CFG_DMA_CTL_READ = 0x02
FW_CFG_DMA_CTL_SKIP = 0x04
FW_CFG_DMA_CTL_SELECT = 0x08
FW_CFG_DMA_CTL_WRITE = 0x10
FW_CFG_DMA_SIGNATURE = b"QEMU CFG"

FW_CFG_MAX_FILE_PATH = 56
_FILE = struct.Struct(">IHH56s")      # FWCfgFile: size, select, reserved, name
_DMA_ACCESS = struct.Struct(">IIQ")   # FWCfgDmaAccess: control, length, address

# registers as offsets in the virt layout (data at +0, selector at +8, DMA at +0x10)
REGS = RegisterTable("fw_cfg_mem", [
    Reg("FW_CFG_DATA", 0x00, 0, "rw", span=8),
    Reg("FW_CFG_SELECTOR", 0x08, 0, "wo"),
    Reg("FW_CFG_DMA", 0x10, 0, "rw", span=8),
])

VMSTATE = StateDescription("fw_cfg", 2, (
    Field("cur_entry", "uint16"), Field("cur_offset", "uint32"), Field("dma_addr", "uint64"),
), minimum_version=1)


@dataclass
class FWCfgEntry:
    data: bytearray
    select_cb: Callable[[], None] | None = None
    write_cb: Callable[[int, int], None] | None = None   # (offset, length) after a DMA write
    allow_write: bool = False


class FWCfgMem(SysBusDevice):
    """fw_cfg with MMIO registers; see the module docstring."""

    TYPE = "fw_cfg_mem"
    data_width = Prop("uint32", 8, name="data_width")
    dma_enabled = Prop("bool", True, name="dma_enabled")
    file_slots = Prop("uint16", 0x20, name="x-file-slots")
    acpi_mr_restore = Prop("bool", True, name="acpi-mr-restore")

    def __init__(self, dma_as: AddressSpace | None = None, *, uuid: bytes = bytes(16),
                 nographic: bool = False, boot_menu: bool = False, reboot_timeout: int = -1,
                 boot_devices: Callable[[], bytes] | None = None,
                 boot_lchs: Callable[[], bytes] | None = None) -> None:
        super().__init__()
        self.dma_as = dma_as
        self.uuid = uuid
        self.nographic = nographic
        self.boot_menu = boot_menu
        self.reboot_timeout = reboot_timeout
        self.boot_devices = boot_devices or (lambda: b"")
        self.boot_lchs = boot_lchs or (lambda: b"")
        self.entries: list[dict[int, FWCfgEntry]] = [{}, {}]   # generic, arch-local
        self.files: list[tuple[str, int]] = []                  # (name, size), sorted by name
        self.cur_entry = FW_CFG_INVALID
        self.cur_offset = 0
        self.dma_addr = 0
        self.ctl = MemoryRegion.mmio_region("fwcfg.ctl", 2, MemoryRegionOps(
            self._ctl_read, self._ctl_write, valid=AccessConstraints(1, 8),
            impl=AccessConstraints(1, 8)), owner=self)
        self.data_mr: MemoryRegion | None = None
        self.dma_mr: MemoryRegion | None = None
        self.init_mmio(self.ctl)

    # -- lifecycle ------------------------------------------------------------------------------
    def realize(self) -> None:
        width = self.data_width
        if width not in (1, 2, 4, 8):
            raise QOMError(f"fw_cfg: data_width {width} must be 1, 2, 4 or 8")
        if self.file_slots < FW_CFG_FILE_SLOTS_MIN:
            raise QOMError(f"\"file_slots\" must be at least 0x{FW_CFG_FILE_SLOTS_MIN:x}")
        if self.dma_enabled and self.dma_as is None:
            raise QOMError("fw_cfg: DMA needs an address space")
        self.data_mr = MemoryRegion.mmio_region("fwcfg.data", width, MemoryRegionOps(
            self._data_read, self._data_write, valid=AccessConstraints(1, width),
            impl=AccessConstraints(1, width)), owner=self)
        self.init_mmio(self.data_mr)
        if self.dma_enabled:
            self.dma_mr = MemoryRegion.mmio_region("fwcfg.dma", 8, MemoryRegionOps(
                self._dma_read, self._dma_write, valid=AccessConstraints(1, 8),
                impl=AccessConstraints(1, 8)), owner=self)
            self.init_mmio(self.dma_mr)
        # fw_cfg_init1 / fw_cfg_common_init: the entries every machine has
        self.add_bytes(FW_CFG_SIGNATURE, b"QEMU")
        self.add_bytes(FW_CFG_UUID, self.uuid)
        self.add_i16(FW_CFG_NOGRAPHIC, int(self.nographic))
        self.add_i16(FW_CFG_BOOT_MENU, int(self.boot_menu))
        self.add_file("etc/boot-fail-wait", struct.pack("<i", self.reboot_timeout))
        self.add_i32(FW_CFG_ID, FW_CFG_VERSION | (FW_CFG_VERSION_DMA if self.dma_enabled else 0))
        self._update_dir()

    def reset(self) -> None:
        self.select(0)
        if self.realized:
            # fw_cfg_machine_reset: the boot order as it stands at this reset
            self.modify_file("bootorder", self.boot_devices())
            self.modify_file("bios-geometry", self.boot_lchs())

    def max_entry(self) -> int:
        return FW_CFG_FILE_FIRST + self.file_slots

    # -- items ----------------------------------------------------------------------------------
    def add_bytes(self, key: int, data: bytes, *, select_cb: Callable[[], None] | None = None,
                  write_cb: Callable[[int, int], None] | None = None, read_only: bool = True) -> None:
        """Set item ``key`` (QEMU fw_cfg_add_bytes_callback); a key may be set once."""
        arch = 1 if key & FW_CFG_ARCH_LOCAL else 0
        idx = key & FW_CFG_ENTRY_MASK
        if idx >= self.max_entry():
            raise ValueError(f"fw_cfg: key 0x{key:x} out of range")
        if idx in self.entries[arch]:
            raise ValueError(f"fw_cfg: key 0x{key:x} already set")
        self.entries[arch][idx] = FWCfgEntry(bytearray(data), select_cb, write_cb, not read_only)

    def modify_bytes(self, key: int, data: bytes) -> bytes:
        """Replace item ``key``'s data; returns the old data."""
        arch = 1 if key & FW_CFG_ARCH_LOCAL else 0
        e = self.entries[arch][key & FW_CFG_ENTRY_MASK]
        old = bytes(e.data)
        e.data = bytearray(data)
        return old

    def add_string(self, key: int, value: str) -> None:
        self.add_bytes(key, value.encode() + b"\0")

    def add_i16(self, key: int, value: int) -> None:
        self.add_bytes(key, struct.pack("<H", value & 0xFFFF))

    def add_i32(self, key: int, value: int) -> None:
        self.add_bytes(key, struct.pack("<I", value & 0xFFFFFFFF))

    def add_i64(self, key: int, value: int) -> None:
        self.add_bytes(key, struct.pack("<Q", value & (1 << 64) - 1))

    def modify_i16(self, key: int, value: int) -> None:
        self.modify_bytes(key, struct.pack("<H", value & 0xFFFF))

    def modify_i32(self, key: int, value: int) -> None:
        self.modify_bytes(key, struct.pack("<I", value & 0xFFFFFFFF))

    def add_file(self, name: str, data: bytes, *, select_cb: Callable[[], None] | None = None,
                 write_cb: Callable[[int, int], None] | None = None, read_only: bool = True) -> int:
        """Add a named file, kept sorted by name in the directory; returns its key."""
        if len(name.encode()) >= FW_CFG_MAX_FILE_PATH:
            raise ValueError(f"fw_cfg: file name too long: {name}")
        if any(n == name for n, _ in self.files):
            raise ValueError(f"duplicate fw_cfg file name: {name}")
        if len(self.files) >= self.file_slots:
            raise ValueError("fw_cfg: out of file slots")
        index = bisect.bisect_right([n.encode() for n, _ in self.files], name.encode())
        # entries after the insertion point move up one key, as QEMU moves them
        for i in range(len(self.files), index, -1):
            self.entries[0][FW_CFG_FILE_FIRST + i] = self.entries[0][FW_CFG_FILE_FIRST + i - 1]
        self.entries[0].pop(FW_CFG_FILE_FIRST + index, None)
        self.files.insert(index, (name, len(data)))
        key = FW_CFG_FILE_FIRST + index
        self.add_bytes(key, data, select_cb=select_cb, write_cb=write_cb, read_only=read_only)
        self._update_dir()
        return key

    def modify_file(self, name: str, data: bytes) -> bytes | None:
        """Replace a file's contents (adding it if absent); returns the old data or None."""
        for i, (n, _) in enumerate(self.files):
            if n == name:
                old = self.modify_bytes(FW_CFG_FILE_FIRST + i, data)
                self.files[i] = (n, len(data))
                self._update_dir()
                return old
        self.add_file(name, data)
        return None

    def add_kernel_items(self, kernel: bytes | None, initrd: bytes | None = None,
                         cmdline: str | None = None) -> None:
        """What firmware (U-Boot's qfw, EDK2) loads for ``-bios`` with ``-kernel``: size and
        data items of the kernel (already gunzipped) and initrd, and the command line with
        its NUL (QEMU hw/arm/boot.c arm_setup_firmware_boot)."""
        if kernel is None:
            return
        self.add_i32(FW_CFG_KERNEL_SIZE, len(kernel))
        self.add_bytes(FW_CFG_KERNEL_DATA, kernel)
        if initrd is not None:
            self.add_i32(FW_CFG_INITRD_SIZE, len(initrd))
            self.add_bytes(FW_CFG_INITRD_DATA, initrd)
        if cmdline is not None:
            self.add_i32(FW_CFG_CMDLINE_SIZE, len(cmdline.encode()) + 1)
            self.add_string(FW_CFG_CMDLINE_DATA, cmdline)

    def file_key(self, name: str) -> int | None:
        for i, (n, _) in enumerate(self.files):
            if n == name:
                return FW_CFG_FILE_FIRST + i
        return None

    def _update_dir(self) -> None:
        out = bytearray(struct.pack(">I", len(self.files)))
        for i, (name, size) in enumerate(self.files):
            out += _FILE.pack(size, FW_CFG_FILE_FIRST + i, 0, name.encode())
        d = self.entries[0].get(FW_CFG_FILE_DIR)
        if d is None:
            self.entries[0][FW_CFG_FILE_DIR] = FWCfgEntry(out)
        else:
            d.data = out

    # -- selection and reads --------------------------------------------------------------------
    def _entry(self) -> FWCfgEntry | None:
        if self.cur_entry == FW_CFG_INVALID:
            return None
        arch = 1 if self.cur_entry & FW_CFG_ARCH_LOCAL else 0
        return self.entries[arch].get(self.cur_entry & FW_CFG_ENTRY_MASK)

    def select(self, key: int) -> bool:
        self.cur_offset = 0
        if (key & FW_CFG_ENTRY_MASK) >= self.max_entry():
            self.cur_entry = FW_CFG_INVALID
            return False
        self.cur_entry = key
        e = self._entry()
        if e is not None and e.select_cb is not None:
            e.select_cb()
        return True

    def read_data(self, size: int) -> bytes:
        """The next ``size`` bytes of the selected item, zero-padded past its end."""
        e = self._entry()
        if e is None or self.cur_offset >= len(e.data):
            return bytes(size)
        chunk = bytes(e.data[self.cur_offset:self.cur_offset + size])
        self.cur_offset += len(chunk)
        return chunk + bytes(size - len(chunk))

    # -- MMIO -----------------------------------------------------------------------------------
    def _reject(self, region: str, offset: int, size: int) -> None:
        log.guest_error(f"Invalid access at addr 0x{offset:X}, size {size}, region '{region}', "
                        "reason: rejected")
        raise MemTxError(offset)

    def _ctl_read(self, offset: int, size: int) -> int:
        self._reject("fwcfg.ctl", offset, size)
        return 0

    def _ctl_write(self, offset: int, value: int, size: int) -> None:
        if size != 2:
            self._reject("fwcfg.ctl", offset, size)
        self.select(((value & 0xFF) << 8) | (value >> 8))    # big-endian register

    def _data_read(self, offset: int, size: int) -> int:
        if offset:
            self._reject("fwcfg.data", offset, size)
        return int.from_bytes(self.read_data(size), "little")   # item bytes in memory order

    def _data_write(self, offset: int, value: int, size: int) -> None:
        if offset:
            self._reject("fwcfg.data", offset, size)
        # writes through the data register were removed in QEMU 2.4: ignored

    def _dma_read(self, offset: int, size: int) -> int:
        return int.from_bytes(FW_CFG_DMA_SIGNATURE[offset:offset + size], "little")

    def _dma_write(self, offset: int, value: int, size: int) -> None:
        value = int.from_bytes(value.to_bytes(size, "little"), "big")   # big-endian register
        if size == 4 and offset == 0:
            self.dma_addr = value << 32
        elif size == 4 and offset == 4:
            self.dma_addr |= value
            self.dma_transfer()
        elif size == 8 and offset == 0:
            self.dma_addr = value
            self.dma_transfer()
        else:
            self._reject("fwcfg.dma", offset, size)

    # -- DMA ------------------------------------------------------------------------------------
    def dma_transfer(self) -> None:
        """Run the FWCfgDmaAccess at ``dma_addr`` and write its control word back."""
        assert self.dma_as is not None
        space = self.dma_as
        desc_addr, self.dma_addr = self.dma_addr, 0
        try:
            control, length, address = _DMA_ACCESS.unpack(space.read(desc_addr, _DMA_ACCESS.size))
        except MemTxError:
            self._dma_status(desc_addr, FW_CFG_DMA_CTL_ERROR)
            return
        if control & FW_CFG_DMA_CTL_SELECT:
            self.select(control >> 16)
        e = self._entry()
        read = write = False
        if control & FW_CFG_DMA_CTL_READ:
            read = True
        elif control & FW_CFG_DMA_CTL_WRITE:
            write = True
        elif not control & FW_CFG_DMA_CTL_SKIP:
            length = 0
        status = 0
        while length > 0 and not status & FW_CFG_DMA_CTL_ERROR:
            try:
                if e is None or self.cur_offset >= len(e.data):
                    n = length
                    if read:
                        space.write(address, bytes(n))
                    if write:
                        status |= FW_CFG_DMA_CTL_ERROR
                else:
                    n = min(length, len(e.data) - self.cur_offset)
                    if read:
                        space.write(address, e.data[self.cur_offset:self.cur_offset + n])
                    if write:
                        if not e.allow_write or n != length:
                            status |= FW_CFG_DMA_CTL_ERROR
                        else:
                            e.data[self.cur_offset:self.cur_offset + n] = space.read(address, n)
                            if e.write_cb is not None:
                                e.write_cb(self.cur_offset, n)
                    self.cur_offset += n
            except MemTxError:
                status |= FW_CFG_DMA_CTL_ERROR
                n = length
            address += n
            length -= n
        self._dma_status(desc_addr, status)

    def _dma_status(self, desc_addr: int, control: int) -> None:
        assert self.dma_as is not None
        try:
            self.dma_as.write(desc_addr, struct.pack(">I", control))
        except MemTxError:
            log.guest_error(f"fw_cfg: cannot write the DMA status at 0x{desc_addr:x}")

    # -- state ----------------------------------------------------------------------------------
    def save_state(self) -> dict[str, Any]:
        return VMSTATE.save(self)

    def load_state(self, state: dict[str, Any]) -> None:
        VMSTATE.load(self, state)


def fw_cfg_init_mem_wide(bus: Any, ctl_addr: int, data_addr: int, data_width: int,
                         dma_addr: int, dma_as: AddressSpace | None, *,
                         unattached: Any = None, **kwargs: Any) -> FWCfgMem:
    """Create, realize and map an fw_cfg_mem (QEMU fw_cfg_init_mem_wide); DMA is on when
    ``dma_addr`` is non-zero. ``kwargs`` go to FWCfgMem (uuid, nographic, ...)."""
    dev = FWCfgMem(dma_as, **kwargs)
    dev.data_width = data_width
    dev.dma_enabled = bool(dma_addr)
    dev.qdev_realize(bus, unattached)
    dev.mmio_map(0, ctl_addr)
    dev.mmio_map(1, data_addr)
    if dma_addr:
        dev.mmio_map(2, dma_addr)
    return dev


def fdt_add_fw_cfg(tree: Any, base: int, size: int = 0x18) -> Any:
    """Write the ``fw-cfg@BASE`` node as QEMU 7.2's virt does (create_fw_cfg)."""
    import fdt

    node = fdt.Node(f"fw-cfg@{base:x}")
    node.append(fdt.Property("dma-coherent"))
    node.append(fdt.PropWords("reg", base >> 32, base & 0xFFFFFFFF, size >> 32, size & 0xFFFFFFFF))
    node.append(fdt.PropStrings("compatible", "qemu,fw-cfg-mmio"))
    tree.add_item(node)
    return node
