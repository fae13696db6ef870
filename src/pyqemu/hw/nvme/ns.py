"""NVMe namespaces: the ``nvme-ns`` device and the namespace a controller's own ``drive=``
makes (QEMU ``hw/nvme/ns.c``).

Interface:
  ``Namespace``: one namespace over a BlockBackend: its id, logical block size, size in
  blocks and its Identify Namespace data (CNS 0) and NVM command set data (CNS 5).
  ``NvmeNamespaceDevice`` (``-device nvme-ns,drive=D[,nsid=N][,logical_block_size=4096]``)
  plugs into a controller's ``nvme-bus`` (the bus is named after the controller's id) and
  attaches its namespace to that controller when realized.
Props: drive, logical_block_size (512, a power of two), physical_block_size,
  discard_granularity, nsid (0 = the first free id), eui64.
Spec: NVM Express Base 1.4 section 5.15.2.1 (Identify Namespace data structure).
"""
from __future__ import annotations

import struct

from pyqemu.block.block_backend import REQUEST_MAX_BYTES, BlockBackend
from pyqemu.hw.nvme.defs import MAX_NAMESPACES
from pyqemu.qom.device import Bus, Device, Prop
from pyqemu.qom.object import QOMError
from pyqemu.system import drives

IDENTIFY_DATA_SIZE = 4096
MIN_DISCARD_GRANULARITY = 4096
# the LBA formats QEMU offers: (metadata size, log2 of the block size)
LBA_FORMATS = ((0, 9), (8, 9), (16, 9), (64, 9), (0, 12), (8, 12), (16, 12), (64, 12))
NSFEAT_DULBE, NSFEAT_OPTPERF = 1 << 2, 1 << 4


def apply_backend_options(dev: Device, blk: BlockBackend) -> None:
    """The block properties' OnOffAuto values; ``write-cache`` on/off overrides the drive's
    cache mode (QEMU blkconf_apply_backend_options)."""
    for name in ("backend_defaults", "write-cache", "account-invalid", "account-failed"):
        value = dev.property_get(name)
        if value not in ("on", "off", "auto"):
            raise QOMError(f"Parameter '{name}' does not accept value '{value}'")
    wce = dev.property_get("write-cache")
    if wce != "auto":
        blk.enable_write_cache = wce == "on"


def check_block_size(prop: str, value: int) -> None:
    """QEMU's blkconf_blocksizes checks, with its messages."""
    if value & (value - 1):
        raise QOMError(f"Property .{prop} doesn't take value '{value}', it's not a power of 2")
    if not 512 <= value <= 2 * 1024 * 1024:
        raise QOMError(f"Property .{prop} doesn't take value {value} (minimum: 512, maximum: 2097152)")


class Namespace:
    """One namespace: ``blk`` seen as ``nsze`` blocks of ``lbasz`` bytes."""

    def __init__(self, blk: BlockBackend, nsid: int, lbasz: int = 512,
                 discard_granularity: int | None = None, eui64: int = 0) -> None:
        self.blk = blk
        self.nsid = nsid
        self.lbasz = lbasz
        self.lbads = lbasz.bit_length() - 1
        self.nsze = blk.size // lbasz
        self.discard_granularity = max(lbasz, discard_granularity or MIN_DISCARD_GRANULARITY)
        # the preferred deallocate granularity: an image's cluster when larger (QEMU nvme_ns_init)
        try:
            cluster = int(blk.driver.info().get("cluster-size", 0))
        except Exception:   # a driver without format information
            cluster = 0
        self.npdg = max(self.discard_granularity, cluster) // lbasz
        self.eui64 = eui64
        self.err_rec = 0                  # Error Recovery feature (DULBE bit 16)
        self.dmrsl = REQUEST_MAX_BYTES // lbasz   # largest DSM range, in blocks

    def identify(self) -> bytes:
        """Identify Namespace (CNS 0) as QEMU 7.2 builds it for a plain namespace."""
        d = bytearray(IDENTIFY_DATA_SIZE)
        formats = list(LBA_FORMATS)
        if (0, self.lbads) in formats:
            flbas = formats.index((0, self.lbads))
        else:   # a block size QEMU's table lacks gets an extra format
            flbas = len(formats)
            formats.append((0, self.lbads))
        struct.pack_into("<QQQ", d, 0, self.nsze, self.nsze, self.nsze)
        d[24] = NSFEAT_DULBE | NSFEAT_OPTPERF
        d[25] = len(formats) - 1          # nlbaf, 0's based
        d[26] = flbas
        d[27] = 0x3                       # mc: extended and separate metadata
        d[28] = 0x1F                      # dpc: protection types 1-3, first/last 8 bytes
        d[33] = 0x1                       # dlfeat: deallocated blocks read as zeroes
        struct.pack_into("<HH", d, 68, self.npdg - 1, self.npdg - 1)
        struct.pack_into(">Q", d, 120, self.eui64)
        for i, (ms, lbads) in enumerate(formats):
            struct.pack_into("<HBB", d, 128 + 4 * i, ms, lbads, 0)
        return bytes(d)

    def identify_nvm(self) -> bytes:
        """I/O command set specific Identify Namespace for NVM (CNS 5): all zero here."""
        return bytes(IDENTIFY_DATA_SIZE)


class NvmeBus(Bus):
    """A controller's bus for ``nvme-ns`` devices (QEMU TYPE_NVME_BUS)."""

    TYPE = "nvme-bus"
    BUS_ACCEPTS = "nvme-ns"


class NvmeNamespaceDevice(Device):
    """``nvme-ns``: a namespace of the controller whose nvme-bus it sits on."""

    TYPE = "nvme-ns"
    DESC = "Virtual NVMe namespace"
    CATEGORY = "storage"
    BUS_TYPE = "nvme-bus"
    drive = Prop("drive", "", description="Node name or ID of a block device to use as a backend")
    backend_defaults = Prop("str", "auto", name="backend_defaults")
    logical_block_size = Prop("size", 0, name="logical_block_size",
                              description="A power of two between 512 B and 2 MiB")
    physical_block_size = Prop("size", 0, name="physical_block_size",
                               description="A power of two between 512 B and 2 MiB")
    min_io_size = Prop("size", 0, name="min_io_size")
    opt_io_size = Prop("size", 0, name="opt_io_size")
    discard_granularity = Prop("size", 0xFFFFFFFF, name="discard_granularity")
    write_cache = Prop("str", "auto", name="write-cache")
    share_rw = Prop("bool", False, name="share-rw")
    account_invalid = Prop("str", "auto", name="account-invalid")
    account_failed = Prop("str", "auto", name="account-failed")
    detached = Prop("bool", False)
    shared = Prop("bool", False)
    nsid = Prop("uint32", 0)
    uuid = Prop("str", "00000000-0000-0000-0000-000000000000")
    eui64 = Prop("uint64", 0)
    ms = Prop("uint16", 0)
    mset = Prop("uint8", 0)
    pi = Prop("uint8", 0)
    pil = Prop("uint8", 0)
    pif = Prop("uint8", 0)
    mssrl = Prop("uint16", 128)
    mcl = Prop("uint32", 128)
    msrc = Prop("uint8", 127)
    zoned = Prop("bool", False)
    zoned_zone_size = Prop("size", 128 << 20, name="zoned.zone_size")
    zoned_zone_capacity = Prop("size", 0, name="zoned.zone_capacity")
    zoned_cross_read = Prop("bool", False, name="zoned.cross_read")
    zoned_max_active = Prop("uint32", 0, name="zoned.max_active")
    zoned_max_open = Prop("uint32", 0, name="zoned.max_open")
    zoned_descr_ext_size = Prop("uint32", 0, name="zoned.descr_ext_size")
    zoned_numzrwa = Prop("uint32", 0, name="zoned.numzrwa")
    zoned_zrwas = Prop("size", 0, name="zoned.zrwas")
    zoned_zrwafg = Prop("size", (1 << 64) - 1, name="zoned.zrwafg")
    eui64_default = Prop("bool", False, name="eui64-default")
    # features pyqemu does not model: refused when asked for, never silently ignored
    UNSUPPORTED = (("detached", "detached namespaces (nvme-subsys)"),
                   ("shared", "shared namespaces (nvme-subsys)"), ("ms", "metadata"),
                   ("pi", "protection information"), ("zoned", "zoned namespaces"),
                   ("uuid", "namespace UUIDs"), ("eui64_default", "default EUI-64s"))

    def __init__(self) -> None:
        super().__init__()
        self.ns: Namespace | None = None

    def realize(self) -> None:
        from pyqemu.hw.nvme.ctrl import NvmeCtrl

        ctrl = self.parent_bus.parent_dev if self.parent_bus is not None else None
        if not isinstance(ctrl, NvmeCtrl):
            raise QOMError("nvme-ns must sit on a controller's nvme-bus")
        if not self.drive:
            raise QOMError("block backend not configured")
        for attr, what in self.UNSUPPORTED:
            prop = type(self).__dict__[attr]
            if getattr(self, attr) != prop.default:
                raise QOMError(f"nvme-ns: {prop.name}: {what} not supported by pyqemu")
        if self.nsid > MAX_NAMESPACES:
            raise QOMError(f"invalid namespace id (must be between 0 and {MAX_NAMESPACES})")
        self.logical_block_size = self.logical_block_size or 512
        self.physical_block_size = self.physical_block_size or 512
        check_block_size("logical_block_size", self.logical_block_size)
        check_block_size("physical_block_size", self.physical_block_size)
        if self.logical_block_size > self.physical_block_size:
            raise QOMError("logical_block_size > physical_block_size not supported")
        nsid = self.nsid
        if nsid == 0:
            nsid = next((i for i in range(1, MAX_NAMESPACES + 1) if ctrl.ns(i) is None), 0)
            if not nsid:
                raise QOMError("no free namespace id")
        elif ctrl.ns(nsid) is not None:
            raise QOMError(f"namespace id '{nsid}' already allocated")
        blk = drives.blk_attach(self, self.drive)
        apply_backend_options(self, blk)
        if self.discard_granularity == 0xFFFFFFFF:   # QEMU's default: a block, at least 4 KiB
            self.discard_granularity = max(self.logical_block_size, MIN_DISCARD_GRANULARITY)
        gran = self.discard_granularity
        self.ns = Namespace(blk, nsid, self.logical_block_size, gran, self.eui64)
        self.nsid = nsid
        ctrl.attach_ns(self.ns)
