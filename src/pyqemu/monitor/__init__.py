"""The QEMU monitors: QMP (machine protocol) and the command/event registration API.

Subsystems register their own commands on ``Monitor.registry`` (see
``registry.py``) and emit events with ``Monitor.events.emit(name, data)``.
"""
from pyqemu.monitor.events import EventBus
from pyqemu.monitor.providers import FakeRunState, MachineInfo, StubQOMTree, VMIdentity
from pyqemu.monitor.qmp import CommandContext, Monitor, Providers, QMPServer, QMPSession
from pyqemu.monitor.registry import CommandRegistry, QMPError

__all__ = ["CommandContext", "CommandRegistry", "EventBus", "FakeRunState", "MachineInfo", "Monitor",
           "Providers", "QMPError", "QMPServer", "QMPSession", "StubQOMTree", "VMIdentity"]
