"""Connect the system run state (``pyqemu.system.runstate.VMRunState``) to the monitor.

``VMRunState`` keeps QEMU's state machine and request processing; this adapter
gives it the ``RunStateProvider`` shape the QMP commands use, with the checks
QEMU's ``qmp_stop``/``qmp_cont`` make, and forwards its events to the bus.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyqemu.monitor.events import EventBus
from pyqemu.monitor.registry import QMPError


class VMRunStateProvider:
    """``RunStateProvider`` over a ``VMRunState``."""

    def __init__(self, rs: Any, events: EventBus) -> None:
        from pyqemu.system import runstate as mod  # imported late: the monitor must not need system/
        self._mod = mod
        self.rs = rs
        self._unlink: Callable[[], None] = rs.add_event_listener(self._forward)
        self._events = events

    def _forward(self, name: str, data: dict[str, Any] | None) -> None:
        # VMRunState passes {} for events without data; QMP omits "data" for those.
        self._events.emit(name, data or None)

    def detach(self) -> None:
        self._unlink()

    def status(self) -> str:
        return self.rs.get().value

    def is_running(self) -> bool:
        return self.rs.is_running()

    def stop(self) -> None:
        RunState = self._mod.RunState
        if self.rs.check(RunState.INMIGRATE):
            return  # QEMU clears autostart; the incoming migration then leaves the VM paused
        self.rs.vm_stop(RunState.PAUSED)

    def cont(self) -> None:
        RunState = self._mod.RunState
        if self.rs.needs_reset():
            raise QMPError("Resetting the Virtual Machine is required")
        if self.rs.check(RunState.SUSPENDED):
            return
        if self.rs.check(RunState.FINISH_MIGRATE):
            raise QMPError("Migration is not finalized yet")
        if self.rs.check(RunState.INMIGRATE):
            return
        self.rs.vm_start()

    def system_reset(self) -> None:
        self.rs.reset_request(self._mod.ShutdownCause.HOST_QMP_SYSTEM_RESET)

    def system_powerdown(self) -> None:
        self.rs.powerdown_request()

    def quit(self) -> None:
        self.rs.quit_request()
