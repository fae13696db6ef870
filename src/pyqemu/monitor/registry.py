"""The QMP command registry: each subsystem registers its commands with a QAPI-style schema.

A command's arguments are declared the way QAPI declares them::

    @registry.command("human-monitor-command",
                      data={"command-line": "str", "*cpu-index": "int"})
    def hmc(ctx, command_line: str, cpu_index: int | None = None) -> str: ...

Types: ``str``, ``int`` (int64), ``int8``..``int32``, ``uint8``..``uint64``,
``size``, ``number``, ``bool``, ``any``, ``null``, ``[T]`` (a list), or the
name of an enum or struct registered with :meth:`CommandRegistry.enum` /
:meth:`CommandRegistry.struct`. A leading ``*`` marks a member optional.
Handlers get the members as keyword arguments (``-`` becomes ``_``); absent
optional members are not passed.

Argument checking reproduces QEMU 7.2's input visitor, messages included
("Parameter 'x' is missing", "Invalid parameter type for 'x', expected:
integer", "Parameter 'y' is unexpected", ...), and happens before the
handler runs, so a rejected command has no side effect.
"""
from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyqemu.monitor.qjson import qdict_order

GENERIC_ERROR = "GenericError"
COMMAND_NOT_FOUND = "CommandNotFound"
DEVICE_NOT_ACTIVE = "DeviceNotActive"
DEVICE_NOT_FOUND = "DeviceNotFound"
KVM_MISSING_CAP = "KVMMissingCap"
ERROR_CLASSES = (GENERIC_ERROR, COMMAND_NOT_FOUND, DEVICE_NOT_ACTIVE, DEVICE_NOT_FOUND, KVM_MISSING_CAP)


class QMPError(Exception):
    """A command failure as QMP reports it: ``{"error": {"class": cls, "desc": desc}}``."""

    def __init__(self, desc: str, cls: str = GENERIC_ERROR) -> None:
        super().__init__(desc)
        self.desc = desc
        self.cls = cls


Handler = Callable[..., Any]

_INT_RANGES = {
    "int8": (-(1 << 7), (1 << 7) - 1, "int8_t"), "int16": (-(1 << 15), (1 << 15) - 1, "int16_t"),
    "int32": (-(1 << 31), (1 << 31) - 1, "int32_t"),
    "uint8": (0, 0xFF, "uint8_t"), "uint16": (0, 0xFFFF, "uint16_t"), "uint32": (0, 0xFFFFFFFF, "uint32_t"),
}
_INT64 = (-(1 << 63), (1 << 63) - 1)
BUILTIN_TYPES = frozenset(["str", "int", "int64", "uint64", "size", "number", "bool", "any", "null",
                           *_INT_RANGES])


@dataclass
class Command:
    name: str
    handler: Handler
    data: dict[str, str]
    returns: str | None = None
    allow_oob: bool = False
    allow_preconfig: bool = False
    enabled: bool = True
    disable_reason: str | None = None
    features: tuple[str, ...] = ()


@dataclass
class Event:
    name: str
    data: dict[str, str] = field(default_factory=dict)


def py_name(member: str) -> str:
    """QAPI member name as a Python keyword argument (``command-line`` -> ``command_line``)."""
    n = member.replace("-", "_").replace(".", "_")
    return n + "_" if keyword.iskeyword(n) else n


class CommandRegistry:
    """Commands, events and the named types their schemas use."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._enums: dict[str, tuple[str, ...]] = {}
        self._structs: dict[str, dict[str, str]] = {}
        self._events: dict[str, Event] = {}

    # -- registration ---------------------------------------------------------------------------

    def enum(self, name: str, values: list[str] | tuple[str, ...]) -> None:
        self._check_new_type(name)
        self._enums[name] = tuple(values)

    def struct(self, name: str, members: dict[str, str]) -> None:
        self._check_new_type(name)
        self._structs[name] = dict(members)

    def _check_new_type(self, name: str) -> None:
        if name in BUILTIN_TYPES or name in self._enums or name in self._structs:
            raise ValueError(f"QAPI type {name} defined twice")

    def command(self, name: str, data: dict[str, str] | None = None, *, returns: str | None = None,
                allow_oob: bool = False, allow_preconfig: bool = False,
                features: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
        """Decorator registering ``fn(ctx, **members)`` as command ``name``."""
        def deco(fn: Handler) -> Handler:
            self.add(Command(name, fn, dict(data or {}), returns, allow_oob, allow_preconfig,
                             features=features))
            return fn
        return deco

    def add(self, cmd: Command) -> None:
        if cmd.name in self._commands:
            raise ValueError(f"QMP command {cmd.name} registered twice")
        self._commands[cmd.name] = cmd

    def event(self, name: str, data: dict[str, str] | None = None) -> None:
        if name in self._events:
            raise ValueError(f"QMP event {name} registered twice")
        self._events[name] = Event(name, dict(data or {}))

    def disable(self, name: str, reason: str | None = None) -> None:
        cmd = self._commands[name]
        cmd.enabled, cmd.disable_reason = False, reason

    # -- lookup ---------------------------------------------------------------------------------

    def find(self, name: str) -> Command | None:
        return self._commands.get(name)

    def commands(self) -> list[Command]:
        return list(self._commands.values())

    def has_event(self, name: str) -> bool:
        return name in self._events

    def events(self) -> list[Event]:
        return list(self._events.values())

    # -- argument checking ----------------------------------------------------------------------

    def parse_args(self, cmd: Command, args: dict[str, Any]) -> dict[str, Any]:
        """Check ``args`` against the command's schema; keyword arguments for its handler."""
        return {py_name(k): v for k, v in self._struct(cmd.data, args, []).items()}

    def _struct(self, members: dict[str, str], obj: dict[str, Any], path: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec, typ in members.items():
            optional = spec.startswith("*")
            name = spec[1:] if optional else spec
            if name not in obj:
                if optional:
                    continue
                raise QMPError(f"Parameter '{_full(path, name)}' is missing")
            out[name] = self._value(typ, obj[name], path, name)
        extra = [k for k in obj if k not in out]
        if extra:
            raise QMPError(f"Parameter '{_full(path, first_unvisited(obj, extra))}' is unexpected")
        return out

    def _value(self, typ: str, v: Any, path: list[str], name: str | None) -> Any:
        """Convert one value; ``name`` None means a list element (QEMU then says 'null')."""
        full = _full(path, name)
        bare = name if name is not None else "null"
        if typ.startswith("["):
            if not isinstance(v, list):
                raise QMPError(f"Invalid parameter type for '{full}', expected: array")
            sub = path + [name] if name is not None else path
            return [self._value(typ[1:-1], e, sub + [f"[{i}]"], None) for i, e in enumerate(v)]
        if typ == "str":
            if not isinstance(v, str):
                raise QMPError(f"Invalid parameter type for '{full}', expected: string")
            return v
        if typ in ("int", "int64") or typ in _INT_RANGES:
            if not _is_int(v) or not _INT64[0] <= v <= _INT64[1]:
                raise QMPError(f"Invalid parameter type for '{full}', expected: integer")
            rng = _INT_RANGES.get(typ)
            if rng is not None:
                if typ.startswith("u"):
                    v &= (1 << 64) - 1  # QEMU reads through uint64, which accepts negative numbers
                if not rng[0] <= v <= rng[1]:
                    raise QMPError(f"Parameter '{bare}' expects {rng[2]}")
            return v
        if typ in ("uint64", "size"):
            if not _is_int(v) or not _INT64[0] <= v < (1 << 64):
                raise QMPError(f"Parameter '{full}' expects uint64")
            return v & ((1 << 64) - 1)
        if typ == "number":
            if not (_is_int(v) or isinstance(v, float)):
                raise QMPError(f"Invalid parameter type for '{full}', expected: number")
            return float(v)
        if typ == "bool":
            if not isinstance(v, bool):
                raise QMPError(f"Invalid parameter type for '{full}', expected: boolean")
            return v
        if typ == "null":
            if v is not None:
                raise QMPError(f"Invalid parameter type for '{full}', expected: null")
            return None
        if typ == "any":
            return v
        if typ in self._enums:
            if not isinstance(v, str):
                raise QMPError(f"Invalid parameter type for '{full}', expected: string")
            if v not in self._enums[typ]:
                raise QMPError(f"Parameter '{bare}' does not accept value '{v}'")
            return v
        if typ in self._structs:
            if not isinstance(v, dict):
                raise QMPError(f"Invalid parameter type for '{full}', expected: object")
            sub = path + [name] if name is not None else path
            return self._struct(self._structs[typ], v, sub)
        raise ValueError(f"unknown QAPI type {typ!r}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _full(path: list[str], name: str | None) -> str:
    """QEMU's full member name: ``a.b``, ``a[0].b``."""
    parts = path + ([name] if name is not None else [])
    out = ""
    for p in parts:
        if p.startswith("["):
            out += p
        else:
            out = f"{out}.{p}" if out else p
    return out


def _g_str_hash(key: str) -> int:
    h = 5381
    for c in key.encode("utf-8", errors="surrogatepass"):
        if c >= 0x80:
            c -= 0x100  # glib hashes signed chars
        h = (h * 33 + c) & 0xFFFFFFFF
    return h


def first_unvisited(obj: dict[str, Any], left: list[str]) -> str:
    """Which leftover member QEMU names first in "Parameter 'x' is unexpected".

    QEMU puts all members in a GHashTable (in QDict order), removes the ones it
    visits and reports the first left in table order. Emulated exactly for up
    to 7 members (glib's initial 8-slot table, hash * 11 mod 7, quadratic
    probing); bigger tables resize, and QDict order is used instead.
    """
    keys = qdict_order(obj)
    if len(keys) > 7:
        return next(k for k in keys if k in left)
    slots: dict[int, str] = {}
    for k in keys:
        h = _g_str_hash(k)
        if h < 2:
            h = 2
        idx, step = (h * 11 & 0xFFFFFFFF) % 7, 0
        while idx in slots:
            step += 1
            idx = (idx + step) & 7
        slots[idx] = k
    return next(slots[i] for i in sorted(slots) if slots[i] in left)
