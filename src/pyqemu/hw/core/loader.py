"""ROM blobs: images that loaders place in guest memory and copy back at every reset
(QEMU ``hw/core/loader.c``: rom_add_blob, rom_reset, ``info roms``).

Loaders (kernel, initrd, DTB, firmware) register a blob here instead of
writing memory themselves, so ``system_reset`` restores them and ``info
roms`` lists them.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyqemu.memory import AddressSpace, MemoryRegion


@dataclass
class Rom:
    name: str
    data: bytes
    addr: int = 0
    romsize: int = 0                 # may exceed len(data): the rest is zero-filled
    mr: MemoryRegion | None = None   # a blob that backs a region of its own (fw_cfg files)
    fw_dir: str | None = None
    fw_file: str | None = None
    isrom: bool = False

    def info_line(self) -> str:
        """QEMU's ``info roms`` line for this blob."""
        if self.mr is not None:
            return f'{self.mr.name} size=0x{self.romsize:06x} name="{self.name}"'
        if self.fw_file is None:
            return (f"addr={self.addr:016x} size=0x{self.romsize:06x} "
                    f'mem={"rom" if self.isrom else "ram"} name="{self.name}"')
        return f'fw={self.fw_dir}/{self.fw_file} size=0x{self.romsize:06x} name="{self.name}"'


class RomRegistry:
    """The machine's ROM blobs, in address order as QEMU keeps them."""

    def __init__(self, address_space: AddressSpace) -> None:
        self.address_space = address_space
        self.roms: list[Rom] = []

    def add_blob(self, name: str, data: bytes, addr: int, romsize: int | None = None) -> Rom:
        """Register ``data`` to be loaded at guest-physical ``addr`` on every reset."""
        rom = Rom(name, bytes(data), addr, max(romsize or 0, len(data)))
        r = self.address_space.translate(addr)
        rom.isrom = r is not None and r.mr.is_rom
        i = 0
        while i < len(self.roms) and self.roms[i].addr <= addr:
            i += 1
        self.roms.insert(i, rom)
        return rom

    def overlaps(self) -> list[tuple[Rom, Rom]]:
        """Blobs that overlap each other (QEMU refuses to start with these)."""
        out = []
        placed = [r for r in self.roms if r.mr is None and r.fw_file is None]
        for a, b in zip(placed, placed[1:], strict=False):
            if a.addr + a.romsize > b.addr:
                out.append((a, b))
        return out

    def reset(self) -> None:
        """Copy every blob into guest memory (ROM regions too: loaders write through RAM views)."""
        for rom in self.roms:
            if rom.mr is not None or rom.fw_file is not None:
                continue
            data = rom.data + bytes(rom.romsize - len(rom.data))
            self.write_rom(rom.addr, data)

    def write_rom(self, addr: int, data: bytes) -> None:
        """Write into RAM or ROM (a ROM region's contents are the loader's to set)."""
        pos = 0
        while pos < len(data):
            r = self.address_space.translate(addr + pos)
            if r is None or r.mr.ram is None:
                self.address_space.write(addr + pos, data[pos:])  # MMIO or unassigned: as a store
                return
            n = min(len(data) - pos, r.end - (addr + pos))
            off = r.offset + addr + pos - r.start
            r.mr.ram[off:off + n] = data[pos:pos + n]
            pos += n

    def info_roms(self) -> str:
        return "".join(rom.info_line() + "\n" for rom in self.roms)
