"""The memory API: RAM/ROM/MMIO/alias/container regions, priorities, FlatView, access sizes."""
from __future__ import annotations

import ctypes
import io
import random

import pytest

from pyqemu.memory import (
    AccessConstraints,
    AddressSpace,
    FlatView,
    MemoryRegion,
    MemoryRegionOps,
    MemTxError,
    flatview_root,
    mtree_text,
    transaction,
)
from pyqemu.util import log

MR = MemoryRegion


class Regs:
    """A device with 32-bit registers that records every access it sees."""

    def __init__(self, impl: AccessConstraints | None = None, valid: AccessConstraints | None = None) -> None:
        self.calls: list[tuple] = []
        self.mem = bytearray(range(0x10, 0x50))
        self.ops = MemoryRegionOps(self.read, self.write, valid or AccessConstraints(1, 8),
                                   impl or AccessConstraints(4, 4))

    def read(self, off: int, size: int) -> int:
        self.calls.append(("r", off, size))
        return int.from_bytes(self.mem[off:off + size], "little")

    def write(self, off: int, value: int, size: int) -> None:
        self.calls.append(("w", off, value, size))
        self.mem[off:off + size] = value.to_bytes(size, "little")


def space(*subs: tuple[int, MemoryRegion, int]) -> tuple[MemoryRegion, AddressSpace]:
    root = MR.container_region("system", 1 << 64)
    for addr, mr, prio in subs:
        root.add_subregion(addr, mr, prio)
    return root, AddressSpace(root, "memory")


@pytest.fixture
def guest_errors():
    out = io.StringIO()
    saved = log._out
    log._out = out
    log.set_mask("guest_errors")
    yield out
    log.set_mask("")
    log._out = saved


def test_ram_loads_stores_and_host_memory() -> None:
    ram = MR.ram_region("ram", 0x10000)
    _, asp = space((0x4000_0000, ram, 0))
    asp.store(0x4000_0010, 0x1122334455667788, 8)
    assert asp.load(0x4000_0010, 4) == 0x55667788
    assert asp.load(0x4000_0016, 2) == 0x1122
    assert asp.read(0x4000_0010, 3) == bytes.fromhex("887766")
    asp.write(0x4000_fffe, b"\xaa\xbb")
    assert ram.ram is not None and bytes(ram.ram[0xfffe:]) == b"\xaa\xbb"
    assert ctypes.string_at(ram.host_address + 0x10, 2) == b"\x88\x77"  # the same host bytes
    with pytest.raises(MemTxError):
        asp.load(0x4001_0000, 4)
    with pytest.raises(MemTxError):  # straddles the end of RAM
        asp.read(0x4000_fffe, 4)


def test_priorities_and_gaps() -> None:
    low = MR.ram_region("low", 0x1000)
    high = MR.ram_region("high", 0x100)
    root, asp = space((0, low, 0), (0x800, high, 1))
    names = [(r.start, r.end, r.mr.name, r.offset) for r in asp.flatview]
    assert names == [(0, 0x800, "low", 0), (0x800, 0x900, "high", 0), (0x900, 0x1000, "low", 0x900)]
    # equal priorities: the newest mapping wins, as in QEMU
    newer = MR.ram_region("newer", 0x1000)
    root.add_subregion(0, newer, 0)
    assert asp.translate(0x10).mr is newer and asp.translate(0x850).mr is high
    root.del_subregion(newer)
    high.set_enabled(False)
    assert [r.mr.name for r in asp.flatview] == ["low"]
    high.set_enabled(True)
    high.set_address(0xf00)
    assert asp.translate(0x850).mr is low and asp.translate(0xf80).mr is high


def test_container_holes_show_lower_priority_regions() -> None:
    bg = MR.ram_region("bg", 0x2000)
    box = MR.container_region("box", 0x2000)
    box.add_subregion(0x1000, MR.ram_region("inner", 0x100))
    _, asp = space((0, bg, 0), (0, box, 5))
    assert [(r.mr.name, r.start, r.end) for r in asp.flatview] == [
        ("bg", 0, 0x1000), ("inner", 0x1000, 0x1100), ("bg", 0x1100, 0x2000)]


def test_alias_and_changes_seen_through_it() -> None:
    ram = MR.ram_region("ram", 0x4000)
    win = MR.alias_region("win", ram, 0x1000, 0x800)
    _, asp = space((0, ram, 0), (0x10000, win, 0))
    asp.store(0x10004, 0xdeadbeef, 4)
    assert asp.load(0x1004, 4) == 0xdeadbeef
    r = asp.translate(0x10000)
    assert (r.mr, r.offset, r.end) == (ram, 0x1000, 0x10800)
    win.set_alias_offset(0x2000)
    assert asp.translate(0x10000).offset == 0x2000
    # a region mapped inside the alias target appears through the alias
    mmio = MR.mmio_region("dev", 0x100, Regs().ops)
    ram.add_subregion(0x2010, mmio, 1)
    assert asp.translate(0x10010).mr is mmio and asp.translate(0x10010).offset == 0


def test_rom_ignores_writes_and_flatview_marks_readonly() -> None:
    rom = MR.rom_region("rom", 0x1000)
    assert rom.ram is not None
    rom.ram[0:4] = b"\x01\x02\x03\x04"
    _, asp = space((0, rom, 0))
    asp.store(0, 0xffffffff, 4)
    asp.write(2, b"\xff")
    assert asp.load(0, 4) == 0x04030201
    assert asp.translate(0).readonly
    ram = MR.ram_region("ram", 0x1000)
    ram.set_readonly(True)
    _, asp2 = space((0, ram, 0))
    asp2.store(0, 5, 1)
    assert asp2.load(0, 1) == 0
    assert "rom" in mtree_text([asp2], flat=True)


def test_mmio_split_and_widen_to_the_implemented_size() -> None:
    dev = Regs()
    _, asp = space((0x9000, MR.mmio_region("regs", 0x40, dev.ops), 0))
    assert asp.load(0x9000, 8) == int.from_bytes(bytes(range(0x10, 0x18)), "little")
    assert dev.calls == [("r", 0, 4), ("r", 4, 4)]
    dev.calls.clear()
    assert asp.load(0x9005, 1) == 0x15
    assert asp.load(0x9006, 2) == 0x1716
    assert dev.calls == [("r", 4, 4), ("r", 4, 4)]
    dev.calls.clear()
    asp.store(0x9008, 0xaabbccdd11223344, 8)
    assert dev.calls == [("w", 8, 0x11223344, 4), ("w", 12, 0xaabbccdd, 4)]
    dev.calls.clear()
    asp.store(0x9011, 0x5a, 1)  # widened: QEMU writes the unit with the other bytes zero
    assert dev.calls == [("w", 0x10, 0x5a00, 4)]
    dev.calls.clear()
    assert asp.read(0x9020, 12) == bytes(range(0x30, 0x3c))  # a byte string in valid-size pieces
    assert all(c[2] == 4 for c in dev.calls)


def test_mmio_invalid_accesses_are_decode_errors(guest_errors: io.StringIO) -> None:
    dev = Regs(valid=AccessConstraints(4, 4))
    _, asp = space((0x9000, MR.mmio_region("uart", 0x40, dev.ops), 0))
    with pytest.raises(MemTxError):
        asp.load(0x9000, 1)
    with pytest.raises(MemTxError):
        asp.load(0x9002, 4)
    with pytest.raises(MemTxError) as exc:
        asp.store(0x100, 1, 4)
    assert exc.value.addr == 0x100
    assert dev.calls == []
    assert guest_errors.getvalue().splitlines() == [
        "Invalid access at addr 0x0, size 1, region 'uart', reason: invalid size (min:4 max:4)",
        "Invalid access at addr 0x2, size 4, region 'uart', reason: unaligned",
        "Invalid access at addr 0x100, size 4, region '(null)', reason: rejected"]


def test_unassigned_is_silent_without_d_guest_errors() -> None:
    out = io.StringIO()
    saved, log._out = log._out, out
    try:
        _, asp = space()
        with pytest.raises(MemTxError):
            asp.load(0, 4)
    finally:
        log._out = saved
    assert out.getvalue() == ""


def test_listeners_hear_map_changes() -> None:
    root, asp = space()
    seen: list[int] = []
    asp.listeners.append(lambda a: seen.append(len(a.flatview.ranges)))
    sub = MR.ram_region("r", 0x1000)
    root.add_subregion(0, sub)
    sub.set_enabled(False)
    assert seen == [1, 0]


def test_transaction_rebuilds_once() -> None:
    root, asp = space()
    seen: list[int] = []
    asp.listeners.append(lambda a: seen.append(len(a.flatview.ranges)))
    with transaction():
        for i in range(10):
            root.add_subregion(i * 0x1000, MR.ram_region(f"r{i}", 0x800))
        assert asp.translate(0) is None  # not yet visible
    assert seen == [10] and asp.translate(0x9000) is not None


def test_flatview_root_and_mtree_format() -> None:
    ram = MR.ram_region("ram", 0x1000)
    root, asp = space((0, ram, 0))
    assert flatview_root(root) is ram
    alias = MR.alias_region("ram-hi", ram, 0x800, 0x800)
    off = MR.ram_region("off", 0x100)
    off.enabled = False
    root.add_subregion(0x10000, alias, 2)
    root.add_subregion(0x20000, off)
    assert flatview_root(root) is root
    assert mtree_text([asp]) == (
        "address-space: memory\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
        "    0000000000000000-0000000000000fff (prio 0, ram): ram\n"
        "    0000000000010000-00000000000107ff (prio 2, ram): alias ram-hi @ram "
        "0000000000000800-0000000000000fff\n"
        "\n"
        "memory-region: ram\n"
        "  0000000000000000-0000000000000fff (prio 0, ram): ram\n"
        "\n")
    assert "[disabled]" in mtree_text([asp], disabled=True)
    assert mtree_text([asp], flat=True) == (
        "FlatView #0\n"
        ' AS "memory", root: system\n'
        " Root memory region: system\n"
        "  0000000000000000-0000000000000fff (prio 0, ram): ram\n"
        "  0000000000010000-00000000000107ff (prio 0, ram): ram @0000000000000800\n"
        "\n")


# -- FlatView against a brute-force model ------------------------------------------------------------

def brute(mr: MemoryRegion, a: int, readonly: bool = False) -> tuple[MemoryRegion, int, bool] | None:
    """What ``a`` (relative to ``mr``) reaches, by walking the tree: QEMU's rendering rules."""
    if not mr.enabled or not 0 <= a < mr.size:
        return None
    readonly = readonly or mr.readonly
    if mr.alias is not None:
        return brute(mr.alias, a + mr.alias_offset, readonly)
    for sub in mr.subregions:  # priority order, newest first among equals
        hit = brute(sub, a - sub.addr, readonly)
        if hit is not None:
            return hit
    return (mr, a, readonly) if mr.terminates else None


def random_tree(rng: random.Random) -> MemoryRegion:
    root = MR.container_region("root", 0x10000)
    leaves: list[MemoryRegion] = []
    containers = [root]
    for i in range(rng.randint(3, 14)):
        kind = rng.choice(["ram", "ram", "mmio", "box", "alias", "rom"])
        size = rng.choice([0x100, 0x400, 0x1000, 0x3000])
        if kind == "box":
            mr = MR.container_region(f"box{i}", size)
            containers.append(mr)
        elif kind == "alias" and leaves:
            target = rng.choice(leaves)
            off = rng.randrange(0, target.size, 0x80)
            mr = MR.alias_region(f"alias{i}", target, off, rng.choice([0x80, 0x200, target.size]))
        elif kind == "mmio":
            mr = MR.mmio_region(f"mmio{i}", size, Regs().ops)
        elif kind == "rom":
            mr = MR.rom_region(f"rom{i}", size)
        else:
            mr = MR.ram_region(f"ram{i}", size)
        mr.enabled = rng.random() > 0.1
        mr.readonly = mr.readonly or rng.random() < 0.1
        if mr.alias is None and mr.terminates:
            leaves.append(mr)
        parent = rng.choice(containers[:-1] if mr in containers else containers)
        parent.add_subregion(rng.randrange(0, parent.size, 0x80), mr, rng.randint(-1, 2))
    return root


@pytest.mark.parametrize("seed", range(40))
def test_flatview_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    root = random_tree(rng)
    fv = FlatView(root)
    assert all(a.end <= b.start for a, b in zip(fv.ranges, fv.ranges[1:], strict=False))
    for a in list(range(0, 0x10000, 0x40)) + [rng.randrange(0x10000) for _ in range(300)]:
        want = brute(root, a)
        r = fv.lookup(a)
        got = None if r is None else (r.mr, r.offset + a - r.start, r.readonly)
        assert got == want, hex(a)
