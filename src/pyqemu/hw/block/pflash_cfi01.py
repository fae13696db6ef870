"""CFI parallel NOR flash with the Intel/Sharp command set (QEMU ``hw/block/pflash_cfi01.c``,
type ``cfi.pflash01``), as ``virt`` uses it for its two 64 MiB banks.

Interface:
  MMIO   one region of ``num-blocks * sector-length`` bytes, a ROM device: in read-array
         ("romd") mode reads come straight from the storage, so the CPU executes from it;
         the first command write switches to I/O mode, where reads return status, IDs or
         CFI query data, until a read-array command (0xff, 0x00, 0xf0, 0x50) returns.
  IRQs   none.
  Props  ``drive``, ``num-blocks``, ``sector-length``, ``width`` (bank width in bytes),
         ``device-width`` (width of one chip; width / device-width chips side by side),
         ``max-device-width``, ``big-endian``, ``secure``, ``id0``..``id3``, ``name``,
         ``old-multiple-chip-handling``; the backing (``-drive if=pflash``) is given with
         ``attach_backing`` (a BlockBackend, a ``FileBacking`` or a ``BytesBacking``).
  Spec   JEDEC JESD68 (CFI), Intel 3 Volt Synchronous StrataFlash command set (P30);
         QEMU 7.2's behaviour and CFI table, so firmware prints what it prints on QEMU.

virt creates each bank with 256 blocks of 256 KiB, width 4, device-width 2
(two x16 chips), id 0x89/0x18: the CFI answers then describe one 32 MiB chip
with 256 blocks of 128 KiB and a 2 KiB write buffer, replicated on both halves
of the 32-bit bus.

Programming writes go to the storage at once and are written back to the
backing (rounded out to 512-byte sectors, as QEMU's pflash_update), through
the BlockBackend's asynchronous requests when it has them, so a vCPU never
waits for the host. Like QEMU 7.2, program and write-to-buffer store the new
data (they do not AND it with the old), and write-to-buffer data reaches the
storage before the confirm command.
"""
from __future__ import annotations

import errno
import os
from typing import Any, Protocol

from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.memory import AccessConstraints, MemoryRegion, MemoryRegionOps
from pyqemu.migration.vmstate import Field, StateDescription
from pyqemu.qom.device import Prop
from pyqemu.qom.object import QOMError
from pyqemu.util import log

SECTOR_SIZE = 512          # BDRV_SECTOR_SIZE: write-back granularity
CFI_TABLE_SIZE = 0x52

# command codes (first bus cycle); 0x00 is QEMU's internal "read array" state
CMD_READ_ARRAY_QEMU = 0x00
CMD_PROGRAM_10, CMD_PROGRAM_40 = 0x10, 0x40
CMD_BLOCK_ERASE = 0x20
CMD_CLEAR_STATUS = 0x50
CMD_LOCK = 0x60
CMD_READ_STATUS = 0x70
CMD_READ_ID = 0x90
CMD_CFI_QUERY = 0x98
CMD_WRITE_BUFFER = 0xE8
CMD_AMD_PROBE = 0xF0
CMD_READ_ARRAY = 0xFF
CMD_CONFIRM = 0xD0

STATUS_READY = 0x80
STATUS_ERASE_ERROR = 0x20
STATUS_PROGRAM_ERROR = 0x10

# the commands whose reads return the status register
_STATUS_CMDS = frozenset((0x10, 0x20, 0x28, 0x40, 0x50, 0x60, 0x70, 0xE8))

VMSTATE = StateDescription("pflash_cfi01", 1, (
    Field("wcycle", "uint8"), Field("cmd", "uint8"), Field("status", "uint8"),
    Field("counter", "uint64"), Field("romd", "bool"),
), minimum_version=1)


# -- backings: what -drive if=pflash gives the device -----------------------------------------------
class Backing(Protocol):
    """What the flash needs from its image (a subset of BlockBackend)."""
    read_only: bool

    @property
    def size(self) -> int: ...

    def pread(self, offset: int, length: int) -> bytes: ...

    def pwrite(self, offset: int, data: bytes | bytearray | memoryview) -> None: ...


class FileBacking:
    """A raw image file (until -drive hands over a BlockBackend)."""

    def __init__(self, path: str, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        try:
            self.fd = os.open(path, os.O_RDONLY if read_only else os.O_RDWR)
        except OSError as e:
            raise QOMError(f"Could not open '{path}': {e.strerror}") from None

    @property
    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def pread(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, length, offset)

    def pwrite(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        if self.read_only:
            raise OSError(errno.EPERM, "Block node is read-only")
        os.pwrite(self.fd, data, offset)

    def close(self) -> None:
        os.close(self.fd)


class BytesBacking:
    """An in-memory image; ``save(offset, data)`` is called for every write-back."""

    def __init__(self, data: bytes | bytearray, save: Any = None, read_only: bool = False) -> None:
        self.data = bytearray(data)
        self.save = save
        self.read_only = read_only

    @property
    def size(self) -> int:
        return len(self.data)

    def pread(self, offset: int, length: int) -> bytes:
        return bytes(self.data[offset:offset + length])

    def pwrite(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        self.data[offset:offset + len(data)] = data
        if self.save is not None:
            self.save(offset, bytes(data))


def _ctz(x: int) -> int:
    return (x & -x).bit_length() - 1


def _replicate(value: int, unit: int, total: int) -> int:
    """``value`` (``unit`` bytes) copied into every ``unit``-byte lane of ``total`` bytes."""
    out = 0
    for shift in range(0, total * 8, unit * 8):
        out |= (value & ((1 << unit * 8) - 1)) << shift
    return out


class PFlashCFI01(SysBusDevice):
    """CFI flash, Intel command set; see the module docstring."""

    TYPE = "cfi.pflash01"
    drive = Prop("str", "")     # the -drive id, shown by info qtree; the image is attach_backing's
    num_blocks = Prop("uint32", 0, name="num-blocks")
    sector_length = Prop("uint64", 0, name="sector-length")
    width = Prop("uint8", 0)
    device_width = Prop("uint8", 0, name="device-width")
    max_device_width = Prop("uint8", 0, name="max-device-width")
    big_endian = Prop("bool", False, name="big-endian")
    secure = Prop("bool", False)
    id0 = Prop("uint16", 0)
    id1 = Prop("uint16", 0)
    id2 = Prop("uint16", 0)
    id3 = Prop("uint16", 0)
    name_prop = Prop("str", None, name="name")
    old_multiple_chip_handling = Prop("bool", False, name="old-multiple-chip-handling")

    def __init__(self) -> None:
        super().__init__()
        self.backing: Backing | None = None
        self.ro = False
        self.mem: MemoryRegion | None = None
        self.storage: memoryview = memoryview(bytearray())
        self.cfi_table = bytearray(CFI_TABLE_SIZE)
        self.wcycle = 0
        self.cmd = CMD_READ_ARRAY_QEMU
        self.status = STATUS_READY
        self.counter = 0
        self.romd = True
        self.writeblock_size = 0
        self.bank_width = 0

    def attach_backing(self, backing: Backing | str | None) -> None:
        """The image behind the flash (``-drive if=pflash``): a BlockBackend, a backing
        object, or the path of a raw image file; set before realize."""
        self.backing = FileBacking(backing) if isinstance(backing, str) else backing

    # -- realize: geometry, storage and the CFI table ---------------------------------------------
    def realize(self) -> None:
        if not self.sector_length:
            raise QOMError("attribute \"sector-length\" not specified or zero.")
        if not self.num_blocks:
            raise QOMError("attribute \"num-blocks\" not specified or zero.")
        if not self.name_prop:
            raise QOMError("attribute \"name\" not specified.")
        if self.width not in (1, 2, 4):
            raise QOMError(f"attribute \"width\" must be 1, 2 or 4, not {self.width}")
        total = self.num_blocks * self.sector_length
        if total > 1 << 32:
            raise QOMError("flash larger than 4 GiB")
        self.bank_width = self.width
        if not self.max_device_width:
            self.max_device_width = self.device_width
        num_devices = self.width // self.device_width if self.device_width else 1
        if self.old_multiple_chip_handling:
            blocks_per_device = self.num_blocks // num_devices
            sector_len_per_device = self.sector_length
        else:
            blocks_per_device = self.num_blocks
            sector_len_per_device = self.sector_length // num_devices
        device_len = sector_len_per_device * blocks_per_device

        self.mem = self._make_region(self.name_prop, total)
        self.init_mmio(self.mem)
        if self.backing is not None:
            self.ro = bool(self.backing.read_only)
            size = self.backing.size
            if size != total:
                raise QOMError(f"device requires {total} bytes, block backend provides {size} bytes")
            self.storage[:] = self.backing.pread(0, total)
        self._build_cfi_table(device_len, blocks_per_device, sector_len_per_device, num_devices)
        self.wcycle = 0
        self.cmd = CMD_READ_ARRAY_QEMU
        self.status = STATUS_READY

    def _make_region(self, name: str, size: int) -> MemoryRegion:
        ops = MemoryRegionOps(self.read, self.write, valid=AccessConstraints(1, 8),
                              impl=AccessConstraints(1, 4))
        mr = MemoryRegion.rom_device_region(name, size, ops, owner=self)
        assert mr.storage is not None
        self.storage = mr.storage
        return mr

    def _build_cfi_table(self, device_len: int, blocks: int, sector_len: int, num_devices: int) -> None:
        t = self.cfi_table
        t[0x10:0x13] = b"QRY"
        t[0x13], t[0x14] = 0x01, 0x00          # primary command set: Intel
        t[0x15], t[0x16] = 0x31, 0x00          # primary extended table at 0x31
        t[0x17:0x1B] = bytes(4)                # no alternate command set / table
        t[0x1B], t[0x1C] = 0x45, 0x55          # Vcc min / max
        t[0x1D], t[0x1E] = 0x00, 0x00          # no Vpp
        t[0x1F], t[0x20] = 0x07, 0x07          # typical single / buffer write timeouts
        t[0x21], t[0x22] = 0x0A, 0x00          # typical block / chip erase timeouts
        t[0x23], t[0x24], t[0x25], t[0x26] = 0x04, 0x04, 0x04, 0x00   # max timeouts
        t[0x27] = _ctz(device_len)             # device size, 2^n bytes
        t[0x28], t[0x29] = 0x02, 0x00          # interface: x8/x16
        t[0x2A] = 0x08 if self.bank_width == 1 else 0x0B   # write buffer, 2^n bytes
        self.writeblock_size = 1 << t[0x2A]
        if not self.old_multiple_chip_handling and num_devices > 1:
            self.writeblock_size *= num_devices
        t[0x2B] = 0x00
        t[0x2C] = 0x01                         # one erase block region
        t[0x2D] = (blocks - 1) & 0xFF
        t[0x2E] = ((blocks - 1) >> 8) & 0xFF
        t[0x2F] = (sector_len >> 8) & 0xFF
        t[0x30] = (sector_len >> 16) & 0xFF
        t[0x31:0x36] = b"PRI10"                # extended query table, version 1.0
        t[0x36:0x3D] = bytes(7)
        t[0x3F] = 0x01                         # one protection field

    def reset(self) -> None:
        self.cmd = CMD_READ_ARRAY_QEMU
        self.wcycle = 0
        self._set_romd(True)
        self.status = STATUS_READY

    def load_image(self, data: bytes, offset: int = 0) -> None:
        """Put a firmware image into the storage (``-bios``), without a write-back."""
        if offset + len(data) > len(self.storage):
            raise ValueError(f"image of {len(data)} bytes does not fit the {len(self.storage)}-byte flash")
        self.storage[offset:offset + len(data)] = data

    def _set_romd(self, romd: bool) -> None:
        self.romd = romd
        if self.mem is not None and not self._in_write:
            self.mem.set_romd(romd)   # the memory map changes: CPUs drop their cached pages

    # -- reads ------------------------------------------------------------------------------------
    def _data_read(self, offset: int, size: int) -> int:
        return int.from_bytes(self.storage[offset:offset + size], "big" if self.big_endian else "little")

    def _chip_offset(self, offset: int) -> int:
        """The query address one chip sees (CFI addresses are in max-device-width units)."""
        return offset >> (_ctz(self.bank_width) + _ctz(self.max_device_width) - _ctz(self.device_width))

    def _cfi_query(self, offset: int) -> int:
        boff = self._chip_offset(offset)
        if boff >= CFI_TABLE_SIZE:
            return 0
        resp = self.cfi_table[boff]
        if self.device_width != self.max_device_width:
            if self.device_width != 1 or self.bank_width > 4:
                return 0   # only x8 mode of a wider part is supported, as in QEMU
            resp = _replicate(resp, 1, self.max_device_width)   # x8 mode repeats the byte
        if self.device_width < self.bank_width:
            resp = _replicate(resp, self.device_width, self.bank_width)
        return resp

    def _devid_query(self, offset: int) -> int:
        boff = self._chip_offset(offset) & 0xFF
        if boff == 0:
            resp = self.id0
        elif boff == 1:
            resp = self.id1
        else:
            return 0   # 2/3: block lock status, not emulated
        if self.device_width < self.bank_width:
            resp = _replicate(resp, self.device_width, self.bank_width)
        return resp

    def _legacy_boff(self, offset: int) -> int:
        boff = offset & 0xFF
        return boff >> {2: 1, 4: 2}.get(self.bank_width, 0)

    def read(self, offset: int, size: int) -> int:
        cmd = self.cmd
        if cmd == CMD_READ_ARRAY_QEMU:
            return self._data_read(offset, size)
        if cmd in _STATUS_CMDS:
            ret = self.status
            if self.device_width and size > self.device_width:
                ret = _replicate(self.status, self.device_width, size)
            elif not self.device_width and size > 2:
                ret |= self.status << 16
            return ret
        if cmd == CMD_READ_ID:
            if not self.device_width:
                boff = self._legacy_boff(offset)
                return {0: self.id0 << 8 | self.id1, 1: self.id2 << 8 | self.id3}.get(boff, 0)
            return self._combine(offset, size, self._devid_query)
        if cmd == CMD_CFI_QUERY:
            if not self.device_width:
                boff = self._legacy_boff(offset)
                return self.cfi_table[boff] if boff < CFI_TABLE_SIZE else 0
            return self._combine(offset, size, self._cfi_query)
        # unknown state: back to read array, as QEMU does
        self.wcycle = 0
        self.cmd = CMD_READ_ARRAY_QEMU
        return self._data_read(offset, size)

    def _combine(self, offset: int, size: int, query: Any) -> int:
        """A read wider than the bank returns one answer per bank-width lane (QEMU deposit32)."""
        ret = 0xFFFFFFFF
        w = self.bank_width
        for i in range(0, size, w):
            lane = ((1 << (w * 8)) - 1) << (i * 8)
            ret = (ret & ~lane) | ((query(offset + i * w) << (i * 8)) & lane)
        return ret & ((1 << (size * 8)) - 1)

    # -- writes: the command state machine ---------------------------------------------------------
    _in_write = False

    def write(self, offset: int, value: int, size: int) -> None:
        # A command that leaves read-array mode and returns to it (a reset, a write to an
        # erased page, ...) is one map change at most, or none: nothing can read in between.
        self._in_write = True
        try:
            self._write(offset, value, size)
        finally:
            self._in_write = False
            if self.mem is not None:
                self.mem.set_romd(self.romd)

    def _write(self, offset: int, value: int, size: int) -> None:
        cmd = value & 0xFF
        if not self.wcycle:
            self._set_romd(False)   # the first command cycle leaves read-array mode
        if self.wcycle == 0:
            self._cycle0(offset, value, size, cmd)
        elif self.wcycle == 1:
            self._cycle1(offset, value, size, cmd)
        elif self.wcycle == 2:
            self._cycle2(offset, value, size)
        elif self.wcycle == 3:
            if self.cmd == CMD_WRITE_BUFFER and cmd == CMD_CONFIRM:
                self.wcycle = 0
                self.status |= STATUS_READY
            elif self.cmd == CMD_WRITE_BUFFER:
                log.unimp("pflash_write: Aborting write to buffer not implemented, the data is "
                          "already written to storage! Flash device reset into READ mode.")
                self._read_array()
            else:
                self._error(offset, value)
        else:
            self._read_array()

    def _cycle0(self, offset: int, value: int, size: int, cmd: int) -> None:
        if cmd in (CMD_READ_ARRAY_QEMU, CMD_AMD_PROBE, CMD_READ_ARRAY):
            self._read_array()
            return
        if cmd == CMD_CLEAR_STATUS:
            self.status = 0
            self._read_array()
            return
        if cmd in (CMD_READ_STATUS, CMD_READ_ID):
            self.cmd = cmd    # stays in cycle 0: the next write is a new command
            return
        if cmd == CMD_BLOCK_ERASE:
            start = offset & ~(self.sector_length - 1)
            if not self.ro:
                self.storage[start:start + self.sector_length] = b"\xff" * self.sector_length
                self._update(start, self.sector_length)
            else:
                self.status |= STATUS_ERASE_ERROR
            self.status |= STATUS_READY
        elif cmd == CMD_WRITE_BUFFER:
            log.unimp("pflash_write: Write to buffer emulation is flawed")
            self.status |= STATUS_READY
        elif cmd not in (CMD_PROGRAM_10, CMD_PROGRAM_40, CMD_LOCK, CMD_CFI_QUERY):
            self._error(offset, value)
            return
        self.wcycle += 1
        self.cmd = cmd

    def _cycle1(self, offset: int, value: int, size: int, cmd: int) -> None:
        c = self.cmd
        if c in (CMD_PROGRAM_10, CMD_PROGRAM_40):
            if not self.ro:
                self._data_write(offset, value, size)
                self._update(offset, size)
            else:
                self.status |= STATUS_PROGRAM_ERROR
            self.status |= STATUS_READY
            self.wcycle = 0
        elif c in (CMD_BLOCK_ERASE, 0x28):
            if cmd == CMD_CONFIRM:
                self.wcycle = 0
                self.status |= STATUS_READY
            elif cmd == CMD_READ_ARRAY:
                self._read_array()
            else:
                self._error(offset, value)
        elif c == CMD_WRITE_BUFFER:
            bits = (self.device_width or self.bank_width) * 8
            self.counter = value & ((1 << bits) - 1)   # word count - 1
            self.wcycle += 1
        elif c == CMD_LOCK:
            if cmd in (CMD_CONFIRM, 0x01):   # unlock / lock: accepted, not emulated
                self.wcycle = 0
                self.status |= STATUS_READY
            else:
                self._read_array()
        elif c == CMD_CFI_QUERY:
            if cmd == CMD_READ_ARRAY:
                self._read_array()
            # anything else: stay in query mode (QEMU "leaving query mode" keeps the state)
        else:
            self._error(offset, value)

    def _cycle2(self, offset: int, value: int, size: int) -> None:
        if self.cmd != CMD_WRITE_BUFFER:
            self._error(offset, value)
            return
        if not self.ro:
            self._data_write(offset, value, size)
        else:
            self.status |= STATUS_PROGRAM_ERROR
        self.status |= STATUS_READY
        if not self.counter:
            self.wcycle += 1
            if not self.ro:
                start = offset & ~(self.writeblock_size - 1)
                self._update(start, self.writeblock_size)
            else:
                self.status |= STATUS_PROGRAM_ERROR
        self.counter = (self.counter - 1) & ((1 << 64) - 1)

    def _error(self, offset: int, value: int) -> None:
        log.unimp(f"pflash_write: Unimplemented flash cmd sequence (offset 0x{offset:x}, "
                  f"wcycle 0x{self.wcycle:x} cmd 0x{self.cmd:x} value 0x{value:x})")
        self._read_array()

    def _read_array(self) -> None:
        self._set_romd(True)
        self.wcycle = 0
        self.cmd = CMD_READ_ARRAY_QEMU

    def _data_write(self, offset: int, value: int, size: int) -> None:
        if offset + size > len(self.storage):
            return
        self.storage[offset:offset + size] = value.to_bytes(size, "big" if self.big_endian else "little")

    # -- write-back -------------------------------------------------------------------------------
    def _update(self, offset: int, size: int) -> None:
        """Write ``[offset, offset + size)`` back to the image, widened to whole sectors."""
        if self.backing is None:
            return
        start = offset - offset % SECTOR_SIZE
        end = min(-(-(offset + size) // SECTOR_SIZE) * SECTOR_SIZE, len(self.storage))
        data = bytes(self.storage[start:end])
        aio_write = getattr(self.backing, "aio_write", None)
        if aio_write is not None:
            aio_write(start, data, self._update_done)
            return
        try:
            self.backing.pwrite(start, data)
        except OSError as e:
            log.log(f"Could not update PFLASH: {e.strerror}")

    def _update_done(self, _result: Any, exc: BaseException | None) -> None:
        if exc is not None:
            log.log(f"Could not update PFLASH: {exc}")

    # -- state ------------------------------------------------------------------------------------
    def save_state(self) -> dict[str, Any]:
        return VMSTATE.save(self)

    def load_state(self, state: dict[str, Any]) -> None:
        VMSTATE.load(self, state)
        self._set_romd(self.romd)


def fdt_add_flash(tree: Any, base: int, bank_size: int, *, banks: int = 2, bank_width: int = 4) -> Any:
    """Write the ``flash@BASE`` node covering both banks, as QEMU 7.2's virt does."""
    import fdt

    reg: list[int] = []
    for i in range(banks):
        a = base + i * bank_size
        reg += [a >> 32, a & 0xFFFFFFFF, bank_size >> 32, bank_size & 0xFFFFFFFF]
    node = fdt.Node(f"flash@{base:x}")
    node.append(fdt.PropWords("bank-width", bank_width))
    node.append(fdt.PropWords("reg", *reg))
    node.append(fdt.PropStrings("compatible", "cfi-flash"))
    tree.add_item(node)
    return node


def create_virt_flash(name: str, backing: Backing | str | None = None) -> PFlashCFI01:
    """One unrealized virt flash bank (QEMU virt_flash_create1): 256 x 256 KiB, width 4,
    two x16 chips, Intel id 0x89/0x18."""
    dev = PFlashCFI01()
    dev.num_blocks = 256
    dev.sector_length = 256 * 1024
    dev.width = 4
    dev.device_width = 2
    dev.big_endian = False
    dev.id0, dev.id1, dev.id2, dev.id3 = 0x89, 0x18, 0x00, 0x00
    dev.name_prop = name
    dev.attach_backing(backing)
    return dev
