"""What the monitor needs from the rest of the emulator, as small interfaces.

The monitor imports no subsystem: the run-state machine, the machine
description, the QOM tree and the HMP interpreter are handed to it as
objects with these shapes. ``FakeRunState`` and ``StubQOMTree`` stand in for
the real ones in tests and in a monitor started on its own.
"""
from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pyqemu.monitor.registry import QMPError


@runtime_checkable
class RunStateProvider(Protocol):
    """The VM run state (QEMU's runstate.c). It emits STOP/RESUME/RESET/SHUTDOWN/POWERDOWN itself."""

    def status(self) -> str:
        """The RunState name: running, paused, prelaunch, shutdown, ..."""

    def is_running(self) -> bool: ...

    def stop(self) -> None: ...

    def cont(self) -> None:
        """Resume; raises QMPError (e.g. 'Resetting the Virtual Machine is required')."""

    def system_reset(self) -> None: ...

    def system_powerdown(self) -> None: ...

    def quit(self) -> None:
        """Request exit; SHUTDOWN(guest false, reason host-qmp-quit) follows."""


@runtime_checkable
class HMPInterpreter(Protocol):
    def execute(self, command_line: str, cpu_index: int | None = None) -> str:
        """Run one HMP command line; its output with ``\\n`` line ends."""


@dataclass
class MachineInfo:
    """One ``query-machines`` entry (QAPI MachineInfo)."""
    name: str
    cpu_max: int = 1
    alias: str | None = None
    is_default: bool = False
    hotpluggable_cpus: bool = False
    numa_mem_supported: bool = False
    deprecated: bool = False
    default_cpu_type: str | None = None
    default_ram_id: str | None = None

    def to_qapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.alias is not None:
            out["alias"] = self.alias
        if self.is_default:
            out["is-default"] = True
        out.update({"cpu-max": self.cpu_max, "hotpluggable-cpus": self.hotpluggable_cpus,
                    "numa-mem-supported": self.numa_mem_supported, "deprecated": self.deprecated})
        if self.default_cpu_type is not None:
            out["default-cpu-type"] = self.default_cpu_type
        if self.default_ram_id is not None:
            out["default-ram-id"] = self.default_ram_id
        return out


@dataclass
class VMIdentity:
    """Facts ``query-name``/``query-uuid``/``query-target``/``query-kvm``/``query-machines`` report."""
    name: str | None = None
    uuid: str = "00000000-0000-0000-0000-000000000000"
    target: str = "aarch64"
    kvm_present: bool = False
    kvm_enabled: bool = False
    machines: Callable[[], list[MachineInfo]] = field(default=lambda: [MachineInfo("none")])
    # query-cpus-fast's CpuInfoFast entries; a board with CPUs replaces it
    cpus: Callable[[], list[dict[str, Any]]] = field(default=lambda: [])


class QOMObject(Protocol):
    type_name: str

    def properties(self) -> list[tuple[str, str, str | None]]:
        """(name, type, description) for each property, children as ``child<T>``."""

    def get_property(self, name: str) -> Any:
        """The value; KeyError if there is no such property."""


class QOMProvider(Protocol):
    def resolve(self, path: str) -> QOMObject | None:
        """Absolute or partial path; QMPError for an ambiguous partial path."""


# -- stand-ins ------------------------------------------------------------------------------------

class StubObject:
    """A QOM object with plain properties and children."""

    def __init__(self, type_name: str, props: dict[str, tuple[str, Any]] | None = None) -> None:
        self.type_name = type_name
        self.props: dict[str, tuple[str, Any]] = {"type": ("string", type_name), **(props or {})}
        self.children: dict[str, StubObject] = {}
        self.path = "/"

    def add_child(self, name: str, child: StubObject) -> StubObject:
        self.children[name] = child
        child.path = f"{self.path.rstrip('/')}/{name}"
        return child

    def properties(self) -> list[tuple[str, str, str | None]]:
        out = [(k, t, None) for k, (t, _) in self.props.items()]
        out += [(k, f"child<{c.type_name}>", None) for k, c in self.children.items()]
        return out

    def get_property(self, name: str) -> Any:
        if name in self.props:
            return self.props[name][1]
        if name in self.children:
            return self.children[name].path  # a child<> property reads as the child's path
        raise KeyError(name)


class StubQOMTree:
    """``/`` with ``machine`` (a ``none-machine``) and the usual containers."""

    def __init__(self, machine_type: str = "none-machine") -> None:
        self.root = StubObject("container")
        machine = self.root.add_child("machine", StubObject(machine_type))
        for c in ("peripheral-anon", "peripheral", "unattached"):
            machine.add_child(c, StubObject("container"))
        self.root.add_child("chardevs", StubObject("container"))

    def resolve(self, path: str) -> StubObject | None:
        parts = [p for p in path.split("/") if p]
        if path.startswith("/"):
            return self._follow(self.root, parts)
        if not parts:
            return None
        # A partial path matches wherever it ends a path in the tree; it must match once.
        found = [n for n in self._all() if self._follow(n, parts[:1]) is not None]
        targets = [t for t in (self._follow(n, parts) for n in found) if t is not None]
        if len(targets) > 1:
            raise QMPError(f"Path '{path}' is ambiguous")
        return targets[0] if targets else None

    @staticmethod
    def _follow(node: StubObject | None, parts: list[str]) -> StubObject | None:
        for part in parts:
            if node is None:
                return None
            node = node.children.get(part)
        return node

    def _all(self) -> list[StubObject]:
        out, todo = [], [self.root]
        while todo:
            n = todo.pop()
            out.append(n)
            todo.extend(n.children.values())
        return out


class FakeRunState:
    """The run-state rules the core commands need, emitting QEMU's events through ``emit``."""

    def __init__(self, emit: Callable[[str, dict[str, Any] | None], None], status: str = "running",
                 on_quit: Callable[[], None] | None = None) -> None:
        self._emit = emit
        self._status = status
        self.on_quit = on_quit
        self.resets = 0
        self.powerdowns = 0

    def status(self) -> str:
        return self._status

    def is_running(self) -> bool:
        return self._status == "running"

    def stop(self) -> None:
        if self._status == "running":
            self._status = "paused"
            self._emit("STOP", None)

    def cont(self) -> None:
        if self._status in ("internal-error", "shutdown", "guest-panicked"):
            raise QMPError("Resetting the Virtual Machine is required")
        if self._status == "finish-migrate":
            raise QMPError("Migration is not finalized yet")
        if self._status != "running":
            self._status = "running"
            self._emit("RESUME", None)

    def system_reset(self) -> None:
        self.resets += 1
        self._emit("RESET", {"guest": False, "reason": "host-qmp-system-reset"})
        if self._status in ("internal-error", "shutdown", "guest-panicked"):
            self._status = "paused"

    def system_powerdown(self) -> None:
        self.powerdowns += 1
        self._emit("POWERDOWN", None)

    def quit(self) -> None:
        self._emit("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})
        if self.on_quit is not None:
            self.on_quit()


def random_uuid() -> str:
    return str(uuidlib.uuid4())
