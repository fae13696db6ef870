"""A GPIO push button (QEMU ``hw/gpio/gpio_key.c``, type ``gpio-key``), and the ``virt``
board's power button built from it.

Interface:
  GPIO   one input: any level set on it presses the key.
  IRQs   one sysbus output: high while the key is pressed; it is released 100 ms of
         virtual time later (GPIO_KEY_LATENCY), as QEMU does.
  Spec   QEMU 7.2 gpio_key.c; Linux's gpio-keys binding for the device-tree node.

``wire_power_button`` is QEMU virt's ACPI-less power-down path: the key drives
PL061 line 3, the device tree describes it as KEY_POWER, and a
``system_powerdown`` request presses it so that Linux powers off.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyqemu.hw.core.sysbus import SysBusDevice
from pyqemu.hw.gpio.pl061 import PL061
from pyqemu.migration.vmstate import Field, StateDescription
from pyqemu.system import main_loop
from pyqemu.system.main_loop import SCALE_MS, ClockType, MainLoop

GPIO_KEY_LATENCY_MS = 100
KEY_POWER = 116          # linux,code of the power key
POWER_KEY_LINE = 3       # the PL061 line virt uses

# QEMU's "gpio-key" vmstate: the release timer (-1: the key is up)
VMSTATE = StateDescription("gpio-key", 1, (Field("release_ns", "int64"),), minimum_version=1)


class GpioKey(SysBusDevice):
    """A key that pulses its output high for 100 ms each time its input is set."""

    TYPE = "gpio-key"

    def __init__(self, loop: MainLoop | None = None) -> None:
        super().__init__()
        self.loop = loop
        self.irq = self.init_irq()
        self.init_gpio_in(self._press, 1)
        self.timer: main_loop.Timer | None = None

    def realize(self) -> None:
        self.loop = self.loop or main_loop.get()
        self.timer = self.loop.new_timer(ClockType.VIRTUAL, self._release, SCALE_MS)

    def reset(self) -> None:
        if self.timer is not None:
            self.timer.del_()

    def _press(self, _line: int, _level: int) -> None:
        assert self.loop is not None and self.timer is not None
        self.irq.set(1)
        self.timer.mod(self.loop.clock_get_ns(ClockType.VIRTUAL) // SCALE_MS + GPIO_KEY_LATENCY_MS)

    def _release(self) -> None:
        self.irq.set(0)

    def press(self) -> None:
        """Press the key (what the power-down notifier does)."""
        self.gpio_in(0).raise_()

    # -- state ------------------------------------------------------------------------------------
    @property
    def release_ns(self) -> int:
        return self.timer.expire_ns if self.timer is not None and self.timer.pending() else -1

    @release_ns.setter
    def release_ns(self, ns: int) -> None:
        assert self.timer is not None
        if ns < 0:
            self.timer.del_()
            self.irq.set(0)
        else:
            self.timer.mod_ns(ns)
            self.irq.set(1)

    def save_state(self) -> dict[str, Any]:
        return VMSTATE.save(self)

    def load_state(self, state: dict[str, Any]) -> None:
        VMSTATE.load(self, state)


def wire_power_button(pl061: PL061, add_powerdown_notifier: Callable[[Callable[[], None]], Any],
                      *, loop: MainLoop | None = None) -> GpioKey:
    """Create the power key on ``pl061``'s bus, wire it to line 3, and press it on
    every power-down request (pass ``runstate.add_powerdown_notifier``)."""
    key = GpioKey(loop)
    if pl061.parent_bus is None:
        raise ValueError("realize the PL061 before wiring its power button")
    unattached = pl061.parent
    key.qdev_realize(pl061.parent_bus, unattached)   # type: ignore[arg-type]
    key.connect_irq(0, pl061.gpio_in(POWER_KEY_LINE))
    add_powerdown_notifier(key.press)
    return key


def fdt_add_gpio_keys(tree: Any, *, gpio_phandle: int = 0x8004) -> Any:
    """Write ``/gpio-keys`` with its ``poweroff`` child as QEMU 7.2's virt does."""
    import fdt

    node = fdt.Node("gpio-keys")
    node.append(fdt.PropStrings("compatible", "gpio-keys"))
    key = fdt.Node("poweroff")
    key.append(fdt.PropWords("gpios", gpio_phandle, POWER_KEY_LINE, 0))
    key.append(fdt.PropWords("linux,code", KEY_POWER))
    key.append(fdt.PropStrings("label", "GPIO Key Poweroff"))
    node.append(key)
    tree.add_item(node)
    return node
