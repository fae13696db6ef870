"""Image creation options: sizes with suffixes, ``-o k=v,...`` strings, typing, help.

Each driver declares ``create_options`` as (name, type, help, default) with
type "size", "bool", "number" or "string". This module turns user text into
typed values with QEMU's error messages, prints ``-o help`` the way qemu-img
does, and renders the ``Formatting '...', fmt=...`` line in QEMU's option order.
"""
from __future__ import annotations

import errno
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pyqemu.block.driver import BlockError

_SUFFIX = {"b": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
_NUM_RE = re.compile(r"\s*(0[xX][0-9a-fA-F]+|[0-9]+)(\.[0-9]+)?\s*([bBkKmMgGtTpPeE]?)\Z")
INT64_MAX = (1 << 63) - 1

# QEMU's create-option order per format (the QemuOptsList desc order, format
# options then protocol options), which is the order of the Formatting line.
_PRINT_ORDER: dict[str, tuple[str, ...]] = {
    "qcow2": ("encryption", "cluster_size", "extended_l2", "preallocation", "compression_type", "size",
              "compat", "backing_file", "backing_fmt", "data_file", "data_file_raw", "lazy_refcounts",
              "refcount_bits", "nocow", "extent_size_hint"),
    "raw": ("size", "nocow", "preallocation", "extent_size_hint"),
}
# Options whose QEMU default is printed even when the user did not set them.
_PRINT_DEFAULTS: dict[str, dict[str, str]] = {
    "qcow2": {"cluster_size": "65536", "extended_l2": "off", "compression_type": "zlib",
              "lazy_refcounts": "off", "refcount_bits": "16"},
}
_TYPE_NAMES = {"size": "size", "bool": "bool (on/off)", "number": "num", "string": "str"}
_TRUE = ("on", "yes", "true", "y")
_FALSE = ("off", "no", "false", "n")


class OptionError(BlockError):
    """A bad option value; ``str()`` is QEMU's message (it may span lines)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errno.EINVAL)


def parse_size(text: str) -> int:
    """QEMU's qemu_strtosz: ``1024``, ``0x400``, ``64k``, ``1.5G`` (1024-based); ValueError if bad.

    A fraction needs a suffix; the result must fit in 64 bits.
    """
    m = _NUM_RE.match(text)
    if not m or text[-1:].isspace():   # leading blanks are fine (strtoull), trailing ones are not
        raise ValueError(text)
    whole, frac, suffix = m.groups()
    shift = _SUFFIX[suffix.lower()] if suffix else 0
    if whole.lower().startswith("0x"):
        if frac:
            raise ValueError(text)
        value = int(whole, 16) << shift
    elif frac:
        if not suffix or suffix in "bB":
            raise ValueError(text)
        num, den = int(whole + frac[1:]), 10 ** (len(frac) - 1)
        value = (num << shift) // den
    else:
        value = int(whole) << shift
    if value >= 1 << 64:
        raise OverflowError(text)
    return value


def parse_size_arg(what: str, text: str, lo: int = 0, hi: int = INT64_MAX) -> int:
    """qemu-img's cvtnum(): a size argument with its two-line error messages."""
    try:
        value = parse_size(text)
    except OverflowError:
        value = 1 << 64
    except ValueError:
        raise OptionError(f"Invalid {what} specified. You may use k, M, G, T, P or E suffixes for\n"
                          "kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.") from None
    if not lo <= value <= hi:
        raise OptionError(f"Invalid {what} specified. Must be between {lo} and {hi}.")
    return value


def split_options(text: str) -> list[tuple[str, str | None]]:
    """``a=1,b=x,,y,c`` -> [("a","1"), ("b","x,y"), ("c", None)] (``,,`` escapes a comma)."""
    items: list[tuple[str, str | None]] = []
    for part in text.replace(",,", "\0").split(","):
        part = part.replace("\0", ",")
        if not part:
            continue
        key, eq, value = part.partition("=")
        items.append((key, value if eq else None))
    return items


def valid_option_list(text: str) -> bool:
    """qemu-img's is_valid_option_list(): not empty, no leading comma, no dangling trailing comma."""
    if not text or text[0] == ",":
        return False
    return (len(text) - len(text.rstrip(","))) % 2 == 0


def is_help(text: str | None) -> bool:
    return text is not None and any(k in ("help", "?") and v is None for k, v in split_options(text))


def option_table(driver: Any) -> dict[str, tuple[str, str, Any]]:
    """name -> (type, help, default) for a driver class (or instance)."""
    return {name: (typ, help_, default) for name, typ, help_, default in driver.create_options}


def typed_value(name: str, typ: str, raw: str | None) -> Any:
    """One option value typed as QEMU's QemuOpts does, with its messages."""
    if typ == "size":
        try:
            if raw is None:
                raise ValueError(name)
            return parse_size(raw)
        except OverflowError:
            raise OptionError(f"Value '{raw}' is out of range for parameter '{name}'") from None
        except ValueError:
            raise OptionError(f"Parameter '{name}' expects a non-negative number below 2^64\n"
                              "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                              "and exabytes, respectively.") from None
    if typ == "bool":
        if raw is None or raw.lower() in _TRUE:   # a bare "name" means on
            return True
        if raw.lower() in _FALSE:
            return False
        raise OptionError(f"Parameter '{name}' expects 'on' or 'off'")
    if typ == "number":
        try:
            return int(raw or "", 0)
        except ValueError:
            raise OptionError(f"Parameter '{name}' expects a number") from None
    return raw if raw is not None else ""


def parse_create_options(driver: Any, texts: Iterable[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Type ``-o`` strings against a driver's create_options.

    Returns (typed values, printable strings) for the options the user gave;
    an unknown option is "Invalid parameter 'x'" as in QEMU.
    """
    table = option_table(driver)
    typed: dict[str, Any] = {}
    shown: dict[str, str] = {}
    for text in texts:
        for key, raw in split_options(text):
            if key not in table:
                raise OptionError(f"Invalid parameter '{key}'")
            typ = table[key][0]
            typed[key] = typed_value(key, typ, raw)
            shown[key] = str(typed[key]) if typ == "size" else (raw if raw is not None else "on")
    return typed, shown


def help_text(driver: Any, title: str | None = None) -> str:
    """``-o help``: options sorted by name, each ``name=<type>`` padded as QEMU pads it."""
    lines = [title or f"Supported {driver.format_name} options:"]
    for name, typ, help_, _default in sorted(driver.create_options, key=lambda o: o[0]):
        head = f"{name}=<{_TYPE_NAMES.get(typ, typ)}>"
        lines.append(f"  {head:<22} - {help_}" if help_ else f"  {head}")
    return "\n".join(lines) + "\n"


def formatting_line(filename: str, fmt: str, size: int, shown: dict[str, str],
                    known: Sequence[str] = ()) -> str:
    """``Formatting 'f', fmt=qcow2 cluster_size=65536 ... size=N ...`` in QEMU's option order."""
    values = dict(_PRINT_DEFAULTS.get(fmt, {}))
    values.update(shown)
    values["size"] = str(size)
    order = list(_PRINT_ORDER.get(fmt, ()))
    order += [k for k in known if k not in order]
    order += [k for k in values if k not in order]
    parts = [f"{k}={values[k]}" for k in order if k in values]
    return f"Formatting '{filename}', fmt={fmt} " + " ".join(parts)
