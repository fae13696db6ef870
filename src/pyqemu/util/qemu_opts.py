"""QEMU's ``key=value,...`` option syntax: QemuOpts (util/qemu-option.c) and keyval (util/keyval.c).

Two parsers, as in QEMU:

* ``QemuOpts``: flat lists of ``name=value`` with an optional implied first
  name (``-m 512M`` means ``size=512M``), bare ``key`` meaning ``key=on`` and
  ``nokey`` meaning ``key=off`` (deprecated forms QEMU still accepts, with a
  warning), ``id=`` kept apart, last duplicate wins on lookup.
* ``keyval``: dotted keys building nested dicts (``cache.direct=on``), no
  bare flags, ``help``/``?`` anywhere asks for help.

Both escape a comma in a value by doubling it. Errors are ``OptsError`` whose
text is QEMU's message; ``hint`` holds QEMU's extra lines, if any.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

UINT64_MAX = (1 << 64) - 1


class OptsError(Exception):
    """A parse error; ``str(e)`` is QEMU's message, ``hint`` its follow-up lines ('' if none)."""

    def __init__(self, msg: str, hint: str = "") -> None:
        super().__init__(msg)
        self.hint = hint


class HelpRequested(Exception):  # noqa: N818 - a signal, not an error
    """``help`` or ``?`` was given where the option list offers help."""


def is_help_option(s: str | None) -> bool:
    return s in ("help", "?")


# --- scalar parsers ----------------------------------------------------------------------------

_SUFFIX_SHIFT = {"B": 0, "K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}
_SIZE_HINT = ("Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
              "and exabytes, respectively.")
_SIZE_RE = re.compile(r"\s*\+?(\d+)(\.\d*(?:[eE][-+]?\d+)?)?([A-Za-z]?)\Z")
_HEX_RE = re.compile(r"\s*\+?0[xX]([0-9a-fA-F]+)([A-Za-z]?)\Z")


def strtosz(text: str, default_suffix: str = "B") -> int:
    """qemu_strtosz: a byte count with an optional binary suffix (k/K=KiB ... E=EiB).

    A fraction needs a suffix ("1.5G"); hex takes no fraction ("0x1000"); no
    exponents. ``default_suffix`` scales a bare number ('M' for legacy ``-m 512``).
    Raises ValueError (bad syntax) or OverflowError (does not fit in 64 bits).
    """
    m = _HEX_RE.match(text)
    if m:
        val, frac, suffix = int(m.group(1), 16), "", m.group(2)
    else:
        m = _SIZE_RE.match(text)
        if not m:
            raise ValueError(text)
        val, frac, suffix = int(m.group(1)), m.group(2) or "", m.group(3)
    if "e" in frac.lower():
        raise ValueError(text)  # QEMU refuses exponents
    if val > UINT64_MAX:
        raise OverflowError(text)
    if suffix and suffix.upper() not in _SUFFIX_SHIFT:
        raise ValueError(text)
    shift = _SUFFIX_SHIFT[(suffix or default_suffix).upper()]
    valf = int(float(frac) * 2.0**64) if len(frac) > 1 else 0  # 64-bit fixed point, like QEMU
    if shift == 0:
        if valf:
            raise ValueError(text)  # a fraction needs a scale
        return val
    total = (val << shift) + ((valf << shift) >> 64) + (((valf << shift) >> 63) & 1)
    if total > UINT64_MAX:
        raise OverflowError(text)
    return total


def parse_size(name: str, value: str) -> int:
    """A QEMU_OPT_SIZE value, with QEMU's error text for parameter ``name``."""
    try:
        return strtosz(value)
    except OverflowError:
        raise OptsError(f"Value '{value}' is out of range for parameter '{name}'") from None
    except ValueError:
        raise OptsError(f"Parameter '{name}' expects a non-negative number below 2^64",
                        _SIZE_HINT) from None


def parse_number(name: str, value: str) -> int:
    """A QEMU_OPT_NUMBER value: unsigned 64-bit, C base prefixes (0x, 0)."""
    v = value.strip()
    neg = v.startswith("-")
    body = v[1:] if neg or v.startswith("+") else v
    try:
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", body):
            n = int(body, 16)
        elif re.fullmatch(r"0[0-7]*", body):
            n = int(body, 8)
        elif re.fullmatch(r"[1-9]\d*", body):
            n = int(body)
        else:
            raise ValueError
    except ValueError:
        raise OptsError(f"Parameter '{name}' expects a number") from None
    if n > UINT64_MAX:
        raise OptsError(f"Value '{value}' is too large for parameter '{name}'")
    return (-n) & UINT64_MAX if neg else n  # strtoull wraps negatives


_TRUE = ("on", "yes", "true", "y")
_FALSE = ("off", "no", "false", "n")


def parse_bool(name: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise OptsError(f"Parameter '{name}' expects 'on' or 'off'")


def id_wellformed(ident: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", ident))


def check_id(ident: str) -> None:
    if not id_wellformed(ident):
        raise OptsError("Parameter 'id' expects an identifier",
                        "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.")


def _value_until_comma(s: str, i: int) -> tuple[str, int]:
    """Read a value from s[i:] up to an unescaped comma; return it and the index after the comma."""
    out = []
    while i < len(s):
        c = s[i]
        if c == ",":
            if s.startswith(",,", i):
                out.append(",")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), i


# --- QemuOpts ----------------------------------------------------------------------------------

_TYPE_NAMES = {"string": "str", "bool": "bool (on/off)", "number": "num", "size": "size"}


@dataclass(frozen=True)
class OptDesc:
    name: str
    type: str = "string"  # string | bool | number | size
    help: str = ""


@dataclass
class OptsList:
    """A QemuOptsList: the option group's name, implied first key, and known keys (None: any)."""
    name: str
    implied: str | None = None
    descs: tuple[OptDesc, ...] | None = None
    merge_lists: bool = False

    def desc(self, key: str) -> OptDesc | None:
        for d in self.descs or ():
            if d.name == key:
                return d
        return None

    def help_text(self) -> str:
        """qemu_opts_print_help: '<list> options:' and one line per key, sorted."""
        lines = []
        for d in self.descs or ():
            s = f"  {d.name}=<{_TYPE_NAMES.get(d.type, d.type)}>"
            if d.help:
                s = f"{s:<24} - {d.help}"
            lines.append(s)
        return "\n".join([f"{self.name} options:"] + sorted(lines))  # QEMU sorts the printed lines


@dataclass
class QemuOpts:
    """One parsed option: its group, ``id`` and ``(name, value)`` pairs in command-line order."""
    group: OptsList
    id: str | None = None
    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        for k, v in reversed(self.items):  # last one wins, as qemu_opt_find does
            if k == name:
                return v
        return default

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self.items)

    def get_bool(self, name: str, default: bool = False) -> bool:
        v = self.get(name)
        return default if v is None else parse_bool(name, v)

    def get_number(self, name: str, default: int = 0) -> int:
        v = self.get(name)
        return default if v is None else parse_number(name, v)

    def get_size(self, name: str, default: int = 0) -> int:
        v = self.get(name)
        return default if v is None else parse_size(name, v)

    def to_dict(self) -> dict[str, str]:
        """Name -> value, last duplicate winning (``id`` included when set)."""
        d = dict(self.items)
        if self.id is not None:
            d["id"] = self.id
        return d


Warn = Callable[[str], None]


def _split_params(params: str, firstname: str | None, help_ok: bool,
                  warn: Warn | None) -> list[tuple[str, str]]:
    """opts_do_parse's tokenizer: (name, value) pairs; raises HelpRequested for a bare help/?."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(params):
        m = re.compile(r"[^=,]*").match(params, i)
        end = m.end()
        if end < len(params) and params[end] == "=":
            name = params[i:end]
            value, i = _value_until_comma(params, end + 1)
        elif firstname is not None:
            name = firstname
            value, i = _value_until_comma(params, i)
        else:
            name = params[i:end]
            i = end + 1 if end < len(params) else end
            if name.startswith("no"):
                name, value, prefix = name[2:], "off", "no"
            else:
                value, prefix = "on", ""
            if help_ok and is_help_option(name):
                raise HelpRequested
            if warn is not None and not is_help_option(name):
                warn(f"short-form boolean option '{prefix}{name}' deprecated\n"
                     f"Please use {name}={value} instead")
        firstname = None
        out.append((name, value))
    return out


def _validate(group: OptsList, name: str, value: str) -> None:
    if group.descs is None:
        return
    d = group.desc(name)
    if d is None:
        raise OptsError(f"Invalid parameter '{name}'")
    if d.type == "bool":
        parse_bool(name, value)
    elif d.type == "number":
        parse_number(name, value)
    elif d.type == "size":
        parse_size(name, value)


def parse_opts(group: OptsList, params: str, permit_abbrev: bool = True,
               warn: Warn | None = None) -> QemuOpts:
    """Parse one option argument of ``group`` (qemu_opts_parse_noisily, without storing it).

    Raises OptsError, or HelpRequested when a bare ``help``/``?`` is given to a
    group with known keys (print ``group.help_text()`` then).
    """
    firstname = group.implied if permit_abbrev else None
    pairs = _split_params(params, firstname, group.descs is not None, warn)
    opts = QemuOpts(group)
    ids = [v for k, v in pairs if k == "id"]
    if ids:
        opts.id = ids[0]  # opts_parse_id takes the first id=
        check_id(opts.id)
    for name, value in pairs:
        if name == "id":
            continue
        _validate(group, name, value)
        opts.items.append((name, value))
    return opts


class OptsStore:
    """The QemuOpts instances of one group, as QEMU keeps them: unique ids, optional merging."""

    def __init__(self, group: OptsList) -> None:
        self.group = group
        self.all: list[QemuOpts] = []

    def add(self, params: str, permit_abbrev: bool = True, warn: Warn | None = None) -> QemuOpts:
        opts = parse_opts(self.group, params, permit_abbrev, warn)
        if self.group.merge_lists:
            # One instance per id; a later option adds to it (e.g. "-m 1G -m maxmem=4G").
            for old in self.all:
                if old.id == opts.id:
                    old.items.extend(opts.items)
                    return old
        elif opts.id is not None and any(o.id == opts.id for o in self.all):
            raise OptsError(f"Duplicate ID '{opts.id}' for {self.group.name}")
        self.all.append(opts)
        return opts

    def find(self, ident: str | None) -> QemuOpts | None:
        for o in self.all:
            if o.id == ident:
                return o
        return None


# --- keyval ------------------------------------------------------------------------------------

_KEY_FRAGMENT = re.compile(r"[A-Za-z0-9_+-]+|\d+")


def keyval_parse(params: str, implied_key: str | None = None,
                 into: dict | None = None) -> tuple[dict, bool]:
    """keyval_parse_into: nested dict from ``a=1,b.c=2``; returns (dict, help_wanted).

    Values stay strings; the last duplicate wins; ``help``/``?`` as a bare
    parameter sets help_wanted; an implied key applies to a bare first value.
    """
    root: dict = {} if into is None else into
    want_help = False
    i = 0
    while i < len(params):
        end = re.compile(r"[^=,]*").match(params, i).end()
        key = params[i:end]
        if key and (end == len(params) or params[end] != "="):
            if is_help_option(key):
                want_help = True
                i = end + 1
                implied_key = None
                continue
            if implied_key:
                value, i = _value_until_comma(params, i)
                _keyval_put(root, [implied_key], implied_key, value)
                implied_key = None
                continue
        frags = key.split(".")
        for n, f in enumerate(frags):
            if not _KEY_FRAGMENT.fullmatch(f) or (n == 0 and not re.match(r"[A-Za-z_]", f)):
                raise OptsError(f"Invalid parameter '{key}'")
            if len(f) >= 128:
                raise OptsError(f"Parameter{' fragment' if len(frags) > 1 else ''} '{f}' is too long")
        if end >= len(params) or params[end] != "=":
            raise OptsError(f"Expected '=' after parameter '{key}'")
        value, i = _value_until_comma(params, end + 1)
        _keyval_put(root, frags, key, value)
        implied_key = None
    return root, want_help


def _keyval_put(root: dict, frags: list[str], key: str, value: str) -> None:
    cur = root
    for n, f in enumerate(frags[:-1]):
        nxt = cur.setdefault(f, {})
        if not isinstance(nxt, dict):
            raise OptsError(f"Parameters '{'.'.join(frags[:n + 1])}.*' used inconsistently")
        cur = nxt
    if isinstance(cur.get(frags[-1]), dict):
        raise OptsError(f"Parameter '{key}' used inconsistently")
    cur[frags[-1]] = value
