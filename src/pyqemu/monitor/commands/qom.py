"""qom-list and qom-get over whatever QOM tree the providers hold (``QOMTreeView`` for the real one)."""
from __future__ import annotations

from typing import Any

from pyqemu.monitor.registry import DEVICE_NOT_FOUND, CommandRegistry, QMPError
from pyqemu.qom.object import AmbiguousPathError, Object, QOMError, resolve_path

_INT_TYPES = ("int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "size")
_QAPI_TYPES = {"bool": "boolean", "string": "string", "str": "string", **{t: "integer" for t in _INT_TYPES}}


def _is(value: Any, qom_type: str) -> bool:
    """Whether a QMP value fits a scalar QOM property type (QEMU's input visitor check)."""
    if qom_type == "bool":
        return isinstance(value, bool)
    if qom_type in ("string", "str"):
        return isinstance(value, str)
    return isinstance(value, int) and not isinstance(value, bool)


class _ObjectView:
    """A QOM object as the monitor's ``QOMObject`` protocol sees it."""

    def __init__(self, obj: Object) -> None:
        self.obj = obj
        self.type_name = obj.type_name

    def properties(self) -> list[tuple[str, str, str | None]]:
        # qom-list prepends while it iterates, so QEMU prints the iteration order reversed;
        # it leaves descriptions out (qom-list-properties has them)
        return [(p.name, p.type, None) for p in reversed(list(self.obj.properties()))]

    def set_property(self, name: str, value: Any) -> None:
        prop = self.obj.property_find(name)
        if prop is None:
            raise QMPError(f"Property '{self.type_name}.{name}' not found")
        expected = _QAPI_TYPES.get(prop.type)
        if prop.set is not None and expected is not None and not _is(value, prop.type):
            raise QMPError(f"Invalid parameter type for '{name}', expected: {expected}")
        try:
            self.obj.property_set(name, value)
        except QOMError as e:
            raise QMPError(str(e)) from None

    def get_property(self, name: str) -> Any:
        if self.obj.property_find(name) is None:
            raise KeyError(name)
        try:
            return self.obj.property_get(name)
        except QOMError as e:
            raise QMPError(str(e)) from None


class QOMTreeView:
    """The monitor's ``QOMProvider`` over a real QOM tree rooted at ``root``."""

    def __init__(self, root: Object) -> None:
        self.root = root

    def resolve(self, path: str) -> _ObjectView | None:
        try:
            obj = resolve_path(self.root, path)
        except AmbiguousPathError as e:
            raise QMPError(str(e)) from None
        return _ObjectView(obj) if obj is not None else None


def _resolve(ctx: Any, path: str, ambiguity_is_error: bool = True) -> Any:
    tree = ctx.providers.qom
    try:
        obj = tree.resolve(path) if tree is not None else None
    except QMPError:
        if ambiguity_is_error:
            raise
        obj = None  # qom-get does not ask QOM about ambiguity: it just finds nothing
    if obj is None:
        raise QMPError(f"Device '{path}' not found", DEVICE_NOT_FOUND)
    return obj


def register(reg: CommandRegistry) -> None:
    @reg.command("qom-list", {"path": "str"}, returns="[ObjectPropertyInfo]", allow_preconfig=True)
    def qom_list(ctx: Any, path: str) -> list[dict[str, Any]]:
        out = []
        for name, typ, desc in _resolve(ctx, path).properties():
            info: dict[str, Any] = {"name": name, "type": typ}
            if desc is not None:
                info["description"] = desc
            out.append(info)
        return out

    @reg.command("qom-set", {"path": "str", "property": "str", "value": "any"}, allow_preconfig=True)
    def qom_set(ctx: Any, path: str, property: str, value: Any) -> None:  # noqa: A002
        obj = _resolve(ctx, path, ambiguity_is_error=False)
        setter = getattr(obj, "set_property", None)
        if setter is None:
            raise QMPError(f"Property '{obj.type_name}.{property}' is not writable")
        setter(property, value)

    @reg.command("qom-get", {"path": "str", "property": "str"}, returns="any", allow_preconfig=True)
    def qom_get(ctx: Any, path: str, property: str) -> Any:  # noqa: A002 - the QAPI member name
        obj = _resolve(ctx, path, ambiguity_is_error=False)
        try:
            return obj.get_property(property)
        except KeyError:
            raise QMPError(f"Property '{obj.type_name}.{property}' not found") from None
