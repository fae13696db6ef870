"""CFI flash read-array (romd) mode changes: the memory map changes only when the mode does.

Each map change makes every vCPU drop its TLB, so a command that leaves and
re-enters read-array mode within one write (a read-array reset, as U-Boot's
flash probe issues again and again) must not cost two.
"""
from __future__ import annotations

from pyqemu.hw.block.pflash_cfi01 import PFlashCFI01
from pyqemu.memory import AddressSpace, MemoryRegion


def test_read_array_reset_in_read_array_mode_leaves_the_map_alone() -> None:
    flash = PFlashCFI01()
    flash.num_blocks, flash.sector_length, flash.width, flash.device_width = 16, 0x1000, 4, 2
    flash.name_prop = "test"
    flash.realize()
    flash.storage[0:4] = b"\x11\x22\x33\x44"
    root = MemoryRegion.container_region("root", 1 << 32)
    root.add_subregion(0, flash.mem)
    space = AddressSpace(root, "test")
    try:
        changes: list[bool] = []
        space.listeners.append(lambda _space: changes.append(flash.mem.romd_mode))
        rendered = space.flatview
        space.store(0, 0xFF, 4)                          # read array while reading the array
        assert changes == [] and space.load(0, 4) == 0x44332211
        space.store(0, 0x98, 4)                          # CFI query: the device answers reads
        assert changes == [False]
        assert space.load(0x10 * 4, 4) == 0x00510051     # 'Q' from both 16-bit chips
        space.store(0, 0xFF, 4)                          # back to the array
        assert changes == [False, True] and space.load(0, 4) == 0x44332211
        assert space.flatview is rendered                # (the ranges are the same: no re-render)
    finally:
        space.destroy()
