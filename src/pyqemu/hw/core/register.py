"""Device registers as a table (STYLE.md "A device is small and complete").

A device lists its registers once: name, offset, reset value, access, and
optional hooks. ``RegisterFile`` gives the ``MemoryRegionOps`` that dispatch
by offset, keeps the values (``regs["UARTCR"]``), resets them, and logs a bad
offset or a wrong-direction access as a guest error and an unimplemented
register as unimp, by name, never raising. ``RegisterTable`` alone is the map (names,
offsets, reset values) for devices that decode offsets themselves::

    REGS = (
        Reg("UARTDR", 0x00, read="read_dr", write="write_dr"),
        Reg("UARTFR", 0x18, 0x90, access="ro"),
        Reg("UARTILPR", 0x20, unimp=True),
    )
    self.regs = RegisterFile("pl011", REGS, self)
    self.init_mmio(MemoryRegion.mmio_region("pl011", 0x1000, self.regs.ops()))

A read hook ``fn(reg) -> int`` replaces the stored value; a write hook
``fn(reg, value)`` runs instead of storing it (it may call ``regs.set``).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pyqemu.memory import AccessConstraints, MemoryRegionOps
from pyqemu.util import log


@dataclass(frozen=True)
class Reg:
    name: str
    offset: int
    reset: int = 0
    access: str = "rw"          # rw, ro, wo
    read: str | None = None     # name of the owner's method called on reads
    write: str | None = None    # name of the owner's method called on writes
    wmask: int = 0xFFFFFFFF     # bits a plain write may change
    unimp: bool = False         # log accesses under -d unimp
    span: int = 4               # bytes of the bank it covers (a data window may span many)

    def covers(self, offset: int) -> bool:
        return self.offset <= offset < self.offset + self.span


class RegisterTable:
    """A device's register map: ``table["UARTCR"]`` is the Reg, ``table.find(off)`` the one
    covering an offset, ``table.name(off)`` its name for log messages."""

    def __init__(self, device: str, regs: Sequence[Reg]) -> None:
        self.device = device
        self.regs = tuple(sorted(regs, key=lambda r: r.offset))
        self._by_name = {r.name: r for r in self.regs}
        self._by_offset = {r.offset: r for r in self.regs}
        if len(self._by_name) != len(self.regs) or len(self._by_offset) != len(self.regs):
            raise ValueError(f"{device}: register names and offsets must be unique")
        for a, b in zip(self.regs, self.regs[1:], strict=False):
            if a.offset + a.span > b.offset:
                raise ValueError(f"{device}: registers {a.name} and {b.name} overlap")

    def __getitem__(self, name: str) -> Reg:
        return self._by_name[name]

    def __iter__(self) -> Iterator[Reg]:
        return iter(self.regs)

    def __len__(self) -> int:
        return len(self.regs)

    def find(self, offset: int) -> Reg | None:
        r = self._by_offset.get(offset)
        if r is not None:
            return r
        for r in self.regs:  # a register wider than one word (rare): a scan is fine
            if r.covers(offset):
                return r
        return None

    def name(self, offset: int) -> str:
        r = self.find(offset)
        return r.name if r is not None else "reserved"


class RegisterFile:
    """The registers of one device; ``name`` prefixes its log messages."""

    def __init__(self, name: str, regs: Sequence[Reg] | RegisterTable, owner: Any, width: int = 4) -> None:
        self.name = name
        self.owner = owner
        self.width = width
        self.table = regs if isinstance(regs, RegisterTable) else RegisterTable(name, regs)
        self.regs = self.table.regs
        self.by_offset = {r.offset: r for r in self.regs}
        self.values = {r.name: r.reset for r in self.regs}
        self._read_hooks = {r.offset: getattr(owner, r.read) for r in self.regs if r.read}
        self._write_hooks = {r.offset: getattr(owner, r.write) for r in self.regs if r.write}

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def __setitem__(self, name: str, value: int) -> None:
        self.values[name] = value

    def set(self, name: str, value: int) -> None:
        self.values[name] = value

    def reset(self) -> None:
        for r in self.regs:
            self.values[r.name] = r.reset

    def ops(self, valid: AccessConstraints | None = None) -> MemoryRegionOps:
        """MMIO ops of the register width (the core splits and widens other accesses)."""
        w = self.width
        return MemoryRegionOps(self.read, self.write, valid or AccessConstraints(1, w),
                               AccessConstraints(w, w))

    def read(self, offset: int, size: int) -> int:
        r = self.by_offset.get(offset) or self.table.find(offset)
        if r is None:
            log.guest_error(f"{self.name}: read from bad offset 0x{offset:x}")
            return 0
        if r.access == "wo":
            log.guest_error(f"{self.name}: read from write-only register {r.name}")
            return 0
        if r.unimp:
            log.unimp(f"{self.name}: unimplemented register {r.name} read")
        hook = self._read_hooks.get(r.offset)
        return hook(r) if hook is not None else self.values[r.name]

    def write(self, offset: int, value: int, size: int) -> None:
        r = self.by_offset.get(offset) or self.table.find(offset)
        if r is None:
            log.guest_error(f"{self.name}: write to bad offset 0x{offset:x} (value 0x{value:x})")
            return
        if r.access == "ro":
            log.guest_error(f"{self.name}: write to read-only register {r.name} (value 0x{value:x})")
            return
        if r.unimp:
            log.unimp(f"{self.name}: unimplemented register {r.name} written (value 0x{value:x})")
        hook = self._write_hooks.get(r.offset)
        if hook is not None:
            hook(r, value)
        else:
            old = self.values[r.name]
            self.values[r.name] = (old & ~r.wmask) | (value & r.wmask)
