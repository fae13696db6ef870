"""Versioned state descriptions (QEMU's ``VMStateDescription``), declared by devices.

A device names the fields that make up its migratable state, with a kind per
field; ``save`` reads exactly those fields into a plain dict (no host
pointers), and ``load`` checks the name, the version range, every value and
the cross-field rules before it assigns anything, so a stream it cannot read
leaves the device untouched::

    VMSTATE = StateDescription("pl011", 2, (
        Field("flags", "uint32"), Field("read_fifo", "uint32", 16), ...),
        minimum_version=2, validate=check_fifo_positions)
    state = VMSTATE.save(dev); VMSTATE.load(other_dev, state)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class StateLoadError(ValueError):
    """A saved state that this description cannot read."""


_INT_BITS = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64, "int32": 32, "int64": 64}


@dataclass(frozen=True)
class Field:
    """A state field: ``kind`` is bool, uint8/16/32/64, int32/64 or bytes; ``length`` makes
    an integer kind a fixed-size list, or fixes the size of bytes."""
    name: str
    kind: str
    length: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in _INT_BITS and self.kind not in ("bool", "bytes"):
            raise ValueError(f"field '{self.name}': unknown kind {self.kind!r}")

    def check(self, value: Any) -> Any:
        """The value as it will be assigned; StateLoadError if it does not fit."""
        if self.kind == "bytes":
            if not isinstance(value, (bytes, bytearray)) or (
                    self.length is not None and len(value) != self.length):
                raise StateLoadError(f"field '{self.name}': expected {self.length} bytes")
            return bytes(value)
        if self.length is not None:
            if not isinstance(value, (list, tuple)) or len(value) != self.length:
                raise StateLoadError(f"field '{self.name}': expected a list of {self.length}")
            one = Field(self.name, self.kind)
            return [one.check(v) for v in value]
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise StateLoadError(f"field '{self.name}': expected a bool")
            return value
        bits = _INT_BITS[self.kind]
        if not isinstance(value, int) or isinstance(value, bool):
            raise StateLoadError(f"field '{self.name}': expected an integer")
        lo, hi = ((0, (1 << bits) - 1) if self.kind.startswith("u")
                  else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1))
        if not lo <= value <= hi:
            raise StateLoadError(f"field '{self.name}': {value} out of range for {self.kind}")
        return value


@dataclass(frozen=True)
class StateDescription:
    """A named, versioned list of fields; ``load`` accepts ``minimum_version..version``."""
    name: str
    version: int
    fields: tuple[Field, ...]
    minimum_version: int | None = None
    # cross-field checks on the loaded values (QEMU's post_load returning -EINVAL)
    validate: Callable[[dict[str, Any]], None] | None = None

    def save(self, obj: object) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for f in self.fields:
            v = getattr(obj, f.name)
            if f.kind == "bytes":
                v = bytes(v)
            elif f.length is not None:
                v = list(v)
            values[f.name] = v
        return {"name": self.name, "version": self.version, "fields": values}

    def load(self, obj: object, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("name") != self.name:
            got = state.get("name") if isinstance(state, dict) else None
            raise StateLoadError(f"state is for '{got}', not '{self.name}'")
        version = state.get("version")
        lo = self.minimum_version if self.minimum_version is not None else self.version
        if not isinstance(version, int) or not lo <= version <= self.version:
            raise StateLoadError(f"{self.name}: unsupported version {version} "
                                 f"(accepts {lo}..{self.version})")
        values = state.get("fields")
        if not isinstance(values, dict):
            raise StateLoadError(f"{self.name}: no fields")
        checked: dict[str, Any] = {}
        for f in self.fields:
            if f.name not in values:
                raise StateLoadError(f"{self.name}: field '{f.name}' missing")
            checked[f.name] = f.check(values[f.name])
        unknown = set(values) - set(checked)
        if unknown:
            raise StateLoadError(f"{self.name}: unknown fields {sorted(unknown)}")
        if self.validate is not None:
            self.validate(checked)
        for name, v in checked.items():
            setattr(obj, name, v)
