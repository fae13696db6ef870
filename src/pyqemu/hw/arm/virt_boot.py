"""Loading firmware, kernels, initrds and the DTB where QEMU 7.2 puts them (``hw/arm/boot.c``).

- ``-bios FILE``: into flash bank 0 (the CPU starts at 0); the DTB goes to the start of RAM.
- ``-kernel Image`` (raw or gzip; arm64 header: text_offset, image_size): at RAM + text_offset,
  plus 2 MiB when text_offset < 4 KiB, with QEMU's 0x28-byte boot stub at RAM base (``ldr x0,
  dtb; mov x1..x3, xzr; ldr x4, entry; br x4``); the initrd at RAM + min(RAM / 2, 128 MiB),
  page-aligned; the DTB after the initrd, 2 MiB-aligned. The first CPU starts in the stub.
- ``-kernel ELF``: a bare-metal program, its PT_LOAD segments at their physical addresses,
  entered at its entry point; the DTB at RAM base when the program leaves room for it.
- Without either, the CPU runs the (empty) flash.
Every image is a ROM blob (``info roms``, restored at each system reset).
"""
from __future__ import annotations

import gzip
import io
import struct
import sys
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyqemu.hw.core.loader import Rom
from pyqemu.hw.core.machine import Machine
from pyqemu.qom.object import QOMError

if TYPE_CHECKING:
    from pyqemu.hw.arm.virt import VirtBoard

MiB = 1 << 20
KERNEL64_LOAD_ADDR = 0x00080000
BOOTLOADER_MAX_SIZE = 4096
ARM64_TEXT_OFFSET_OFFSET = 8
ARM64_MAGIC_OFFSET = 56
ARM64_MAGIC = b"ARM\x64"
LOAD_IMAGE_MAX_GUNZIP_BYTES = 256 * MiB
TARGET_PAGE_SIZE = 4096
DTB_ALIGN = 2 * MiB

# QEMU's bootloader_aarch64[]: the DTB address and the entry point follow as 64-bit literals
BOOTLOADER_AARCH64 = (
    0x580000C0,   # ldr x0, arg ; the DTB
    0xAA1F03E1,   # mov x1, xzr
    0xAA1F03E2,   # mov x2, xzr
    0xAA1F03E3,   # mov x3, xzr
    0x58000084,   # ldr x4, entry
    0xD61F0080,   # br x4
)


class BootError(QOMError):
    """An image cannot be loaded; the message is QEMU's."""


def boot_stub(dtb: int, entry: int) -> bytes:
    """The 0x28-byte stub QEMU writes at the start of RAM for a Linux kernel."""
    return struct.pack("<6I2Q", *BOOTLOADER_AARCH64, dtb, entry)


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        raise BootError(f"could not load {what} '{path}'") from None


def _gunzip(data: bytes) -> bytes | None:
    """load_image_gzipped_buffer: the gunzipped image, or None when it is not gzip."""
    if data[:2] != b"\x1f\x8b":
        return None
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as g:
            out = g.read(LOAD_IMAGE_MAX_GUNZIP_BYTES + 1)
    except (OSError, EOFError, zlib.error):
        return None
    return out if len(out) <= LOAD_IMAGE_MAX_GUNZIP_BYTES else None


def arm64_image_layout(image: bytes) -> tuple[int, int]:
    """(load offset from RAM base, size it occupies) of an arm64 Image, as load_aarch64_image."""
    offset = KERNEL64_LOAD_ADDR
    size = len(image)
    magic = image[ARM64_MAGIC_OFFSET:ARM64_MAGIC_OFFSET + 4]
    if len(image) > ARM64_MAGIC_OFFSET + 4 and magic == ARM64_MAGIC:
        text_offset, image_size = struct.unpack_from("<QQ", image, ARM64_TEXT_OFFSET_OFFSET)
        if image_size:
            offset = text_offset
            size = max(size, image_size)
            if offset < BOOTLOADER_MAX_SIZE:   # keep the bottom of RAM for the stub
                offset += 2 * MiB
    return offset, size


@dataclass
class BootInfo:
    """What was loaded where, and how the CPUs start."""
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str = ""
    dtb_file: str | None = None
    dumpdtb: str | None = None
    firmware: str | None = None
    loader_start: int = 0x40000000
    ram_size: int = 0
    is_linux: bool = False
    entry: int = 0
    initrd_start: int = 0
    initrd_size: int = 0
    dtb_start: int | None = None
    dtb_limit: int = 0
    start_pc: int = 0
    roms: list[Rom] = field(default_factory=list)

    @classmethod
    def from_machine(cls, machine: Machine, board: VirtBoard) -> BootInfo:
        o = machine.opts
        return cls(kernel=o.get("kernel") or None, initrd=o.get("initrd") or None,
                   cmdline=o.get("append") or "", dtb_file=o.get("dtb") or None,
                   dumpdtb=o.get("dumpdtb") or None, firmware=o.get("firmware") or None,
                   loader_start=board.memmap["VIRT_MEM"].base, ram_size=machine.ram_size)

    # -- placing images --------------------------------------------------------------------------
    def plan(self, board: VirtBoard) -> None:
        """Read the kernel and initrd and decide every address (before the DTB is built: /chosen
        needs the initrd's place)."""
        self._image = self._plan()

    def _plan(self) -> bytes | None:
        if self.initrd and not self.kernel:
            raise BootError("-initrd only allowed with -kernel option")
        if self.cmdline and not self.kernel:
            raise BootError("-append only allowed with -kernel option")
        if not self.kernel:
            self.dtb_start = self.loader_start   # firmware, or nothing: DTB at the base of RAM
            return None
        data = _read(self.kernel, "kernel")
        if data[:4] == b"\x7fELF":
            self._plan_elf(data)
            return None
        image = _gunzip(data) or data
        offset, size = arm64_image_layout(image)
        self.is_linux = True
        self.entry = self.loader_start + offset
        if offset + size > self.ram_size:
            raise BootError(f"could not load kernel '{self.kernel}'")
        self.initrd_start = self.loader_start + min(self.ram_size // 2, 128 * MiB)
        self.initrd_start = -(-self.initrd_start // TARGET_PAGE_SIZE) * TARGET_PAGE_SIZE
        if self.initrd:
            self.initrd_data = _read(self.initrd, "initrd")
            self.initrd_size = len(self.initrd_data)
            if self.initrd_start + self.initrd_size > self.loader_start + self.ram_size:
                raise BootError(f"could not load initrd '{self.initrd}': too big to fit into RAM "
                                "after the kernel")
        self.dtb_start = -(-(self.initrd_start + self.initrd_size) // DTB_ALIGN) * DTB_ALIGN
        if self.dtb_start >= self.loader_start + self.ram_size:
            raise BootError("Not enough space for DTB after kernel/initrd")
        self.start_pc = self.loader_start
        return image

    def _plan_elf(self, data: bytes) -> None:
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile

        try:
            elf = ELFFile(io.BytesIO(data))
            if elf["e_machine"] != "EM_AARCH64":
                raise BootError(f"could not load kernel '{self.kernel}'")
            self.elf_segments = [(seg["p_paddr"], seg.data(), seg["p_memsz"])
                                 for seg in elf.iter_segments(type="PT_LOAD") if seg["p_memsz"]]
            self.entry = elf["e_entry"]
        except (ELFError, struct.error) as e:
            raise BootError(f"could not load kernel '{self.kernel}': {e}") from None
        if not self.elf_segments:
            raise BootError(f"could not load kernel '{self.kernel}'")
        low = min(a for a, _d, _s in self.elf_segments)
        high = max(a + s for a, _d, s in self.elf_segments)
        self.start_pc = self.entry
        # room at the base of RAM: the DTB goes there, as for -bios
        if low > self.loader_start or high < self.loader_start:
            self.dtb_start = self.loader_start
            self.dtb_limit = low if low > self.loader_start else 0

    def load(self, board: VirtBoard) -> None:
        """Register every image as a ROM blob; the system reset (``machine.reset()``, which
        startup runs once, as QEMU) copies them into memory and puts the CPUs at their entry."""
        machine = board.machine
        roms = machine.roms
        image = getattr(self, "_image", None)
        if self.firmware:
            self._load_firmware(board)
        if image is not None:
            roms.add_blob(self.kernel or "kernel", image, self.entry)
            roms.add_blob("bootloader", boot_stub(self.dtb_start or 0, self.entry), self.loader_start)
            if self.initrd:
                roms.add_blob(self.initrd, self.initrd_data, self.initrd_start)
        for addr, data, memsz in getattr(self, "elf_segments", []):
            roms.add_blob(self.kernel or "kernel", data, addr, memsz)
        blob = board.fdt_blob
        if self.dtb_file:
            blob = self._user_dtb()
        if self.dumpdtb:
            try:
                with open(self.dumpdtb, "wb") as f:
                    f.write(blob or b"")
            except OSError as e:
                raise BootError(f"Failed to dump dtb to {self.dumpdtb}: {e.strerror}") from None
            sys.stderr.write(f"pyqemu-system-aarch64: info: dtb dumped to {self.dumpdtb}. Exiting.\n")
            raise SystemExit(0)   # QEMU exits once the DTB is dumped
        # Below a bare-metal program the DTB only goes where it fits; else there is none (QEMU).
        fits = (not self.dtb_limit or self.dtb_start is None
                or self.dtb_start + len(blob or b"") <= self.dtb_limit)
        if blob is not None and self.dtb_start is not None and fits:
            roms.add_blob("dtb", blob, self.dtb_start)
        bad = roms.overlaps()
        if bad:
            a, b = bad[0]
            raise BootError(f"rom: requested regions overlap (rom {b.name}. "
                            f"free=0x{a.addr + a.romsize:016x}, addr=0x{b.addr:016x})")

    def _user_dtb(self) -> bytes:
        """-dtb FILE: the user's tree, with /chosen's bootargs and initrd set as QEMU does."""
        import fdt

        data = _read(self.dtb_file or "", "dtb")
        try:
            tree = fdt.parse_dtb(data)
        except Exception:   # the fdt package raises several kinds on a damaged blob
            raise BootError(f"Couldn't open dtb file {self.dtb_file}") from None
        if not tree.exist_node("/chosen"):
            tree.add_item(fdt.Node("chosen"))
        chosen = tree.get_node("/chosen")
        if self.cmdline:
            chosen.set_property("bootargs", self.cmdline)
        if self.is_linux and self.initrd_size:
            chosen.set_property("linux,initrd-start", self.initrd_start & 0xFFFFFFFF)
            chosen.set_property("linux,initrd-end", (self.initrd_start + self.initrd_size) & 0xFFFFFFFF)
        return bytes(tree.to_dtb(version=17))

    def _load_firmware(self, board: VirtBoard) -> None:
        flash = board.devices.get("flash0")
        try:
            with open(self.firmware or "", "rb") as f:
                data = f.read()
        except OSError:
            raise BootError(f"Could not find ROM image '{self.firmware}'") from None
        if flash is None or len(data) > len(flash.storage):
            raise BootError(f"Could not load ROM image '{self.firmware}'")
        flash.load_image(data)
        board.machine.roms.roms.insert(0, Rom(self.firmware or "", data, 0, len(data), mr=flash.mem))

    def reset_cpus(self, board: VirtBoard) -> None:
        """Boot state of every CPU: the first runs from ``start_pc``, the others wait for PSCI."""
        for i, cpu in enumerate(board.cpus):
            cpu.boot_reset(self.start_pc, {}, i > 0)
