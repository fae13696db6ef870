"""JSON output as QEMU prints it (``qobject_to_json_pretty``), byte for byte.

QEMU's QDict is a hash table of 512 buckets keyed by ``tdb_hash``; iteration
walks the buckets in order and, inside a bucket, newest entry first. Printing
a dict in that order makes ``--output=json`` match real qemu-img exactly, so a
user diffing the two outputs sees no difference.
"""
from __future__ import annotations

import json
from typing import Any

_BUCKETS = 512


def _tdb_hash(name: str) -> int:
    raw = name.encode()
    value = (0x238F13AF * len(raw)) & 0xFFFFFFFF
    for i, c in enumerate(raw):
        value = (value + (c << (i * 5 % 24))) & 0xFFFFFFFF
    return (1103515243 * value + 12345) & 0xFFFFFFFF


def qdict_order(keys: list[str]) -> list[str]:
    """Keys (in insertion order) in the order QEMU's qdict iteration yields them."""
    indexed = list(enumerate(keys))
    # Same bucket: later insertions come first (QLIST_INSERT_HEAD).
    indexed.sort(key=lambda ik: (_tdb_hash(ik[1]) % _BUCKETS, -ik[0]))
    return [k for _, k in indexed]


def _emit(obj: Any, indent: int, out: list[str]) -> None:
    pad = "    " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        out.append("{\n")
        keys = qdict_order(list(obj))
        for n, k in enumerate(keys):
            out.append(pad + json.dumps(k) + ": ")
            _emit(obj[k], indent + 1, out)
            out.append(",\n" if n + 1 < len(keys) else "\n")
        out.append("    " * indent + "}")
    elif isinstance(obj, (list, tuple)):
        if not obj:
            out.append("[]")
            return
        out.append("[\n")
        for n, v in enumerate(obj):
            out.append(pad)
            _emit(v, indent + 1, out)
            out.append(",\n" if n + 1 < len(obj) else "\n")
        out.append("    " * indent + "]")
    else:
        out.append(json.dumps(obj))


def dumps_pretty(obj: Any) -> str:
    """``obj`` as QEMU's pretty JSON (4-space indent, qdict key order), without a final newline."""
    out: list[str] = []
    _emit(obj, 0, out)
    return "".join(out)


def dumps_compact_fields(fields: list[tuple[str, Any]]) -> str:
    """One ``map --output=json`` style object: ``{ "a": 1, "b": true}`` in the given order."""
    return "{ " + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in fields) + "}"
