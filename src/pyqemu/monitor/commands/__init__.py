"""Core QMP commands. Other subsystems register theirs the same way, from their own packages."""
from pyqemu.monitor.commands import block, core, machine, qom
from pyqemu.monitor.registry import CommandRegistry


def register_core(reg: CommandRegistry) -> None:
    core.register(reg)
    machine.register(reg)
    qom.register(reg)
    block.register(reg)
    from pyqemu.hw.pci import pci_info  # query-pci, info pci
    pci_info.register(reg)
