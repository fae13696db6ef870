"""qom-list and qom-get over whatever QOM tree the providers hold."""
from __future__ import annotations

from typing import Any

from pyqemu.monitor.registry import DEVICE_NOT_FOUND, CommandRegistry, QMPError


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

    @reg.command("qom-get", {"path": "str", "property": "str"}, returns="any", allow_preconfig=True)
    def qom_get(ctx: Any, path: str, property: str) -> Any:  # noqa: A002 - the QAPI member name
        obj = _resolve(ctx, path, ambiguity_is_error=False)
        try:
            return obj.get_property(property)
        except KeyError:
            raise QMPError(f"Property '{obj.type_name}.{property}' not found") from None
