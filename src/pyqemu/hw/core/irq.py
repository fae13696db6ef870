"""IRQ lines (QEMU's ``qemu_irq``): a device's input is an ``IRQ``, its output an ``IRQOut``.

An output is wired to at most one input; setting an unconnected output does
nothing, as in QEMU. ``handler(n, level)`` runs synchronously in the setter.
"""
from __future__ import annotations

from collections.abc import Callable


class IRQ:
    """An input line: line ``n`` of the device whose ``handler`` receives the level."""

    __slots__ = ("handler", "n")

    def __init__(self, handler: Callable[[int, int], None], n: int = 0) -> None:
        self.handler = handler
        self.n = n

    def set(self, level: int) -> None:
        self.handler(self.n, level)

    def raise_(self) -> None:
        self.handler(self.n, 1)

    def lower(self) -> None:
        self.handler(self.n, 0)

    def pulse(self) -> None:
        self.handler(self.n, 1)
        self.handler(self.n, 0)


class IRQOut:
    """An output pin; ``connect`` wires it to an input (or None to cut it)."""

    __slots__ = ("target", "level")

    def __init__(self) -> None:
        self.target: IRQ | None = None
        self.level = 0

    def connect(self, irq: IRQ | None) -> None:
        self.target = irq

    def set(self, level: int) -> None:
        self.level = level
        t = self.target
        if t is not None:
            t.handler(t.n, level)

    def raise_(self) -> None:
        self.set(1)

    def lower(self) -> None:
        self.set(0)

    def pulse(self) -> None:
        self.set(1)
        self.set(0)


def irq_split(*targets: IRQ) -> IRQ:
    """One input that drives several (QEMU's TYPE_SPLIT_IRQ)."""
    def fan(_n: int, level: int) -> None:
        for t in targets:
            t.handler(t.n, level)
    return IRQ(fan)
