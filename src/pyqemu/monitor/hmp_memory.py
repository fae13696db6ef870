"""HMP's memory dumps (``x``, ``xp``): the ``/Nfu`` format, address expressions, the output.

Byte-exact with QEMU 7.2 (monitor/hmp.c's '/' and 'l' argument parsers,
``get_expr``, and monitor/misc.c ``memory_dump``), including its odd
operator precedence: ``+ -`` bind loosest, then ``* / %``, then ``& | ^``.
"""
from __future__ import annotations

import re
from collections.abc import Callable

_U64 = (1 << 64) - 1
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


class ParseError(Exception):
    """A bad argument; the message is QEMU's."""


def parse_format(args: str, default_fmt: str, default_size: int) -> tuple[int, str, int, str]:
    """The optional ``/Nfu`` at the start of ``args``: (count, format, unit size, rest)."""
    p = args.lstrip()
    if not p.startswith("/"):
        return 1, default_fmt, (-1 if default_fmt == "i" else default_size), p
    i = 1
    count = 1
    m = re.match(r"\d+", p[i:])
    if m:
        count = int(m.group())
        i += len(m.group())
    fmt, size = None, None
    sizes = {"b": 1, "h": 2, "w": 4, "g": 8, "L": 8}
    while i < len(p):
        c = p[i]
        if c in "oduxic":
            fmt = c
        elif c in sizes:
            size = sizes[c]
        else:
            break
        i += 1
    if i < len(p) and not p[i].isspace():
        raise ParseError(f"invalid char in format: '{p[i]}'")
    fmt = fmt or default_fmt
    if fmt != "i":
        size = size or default_size
    elif size is None:
        size = -1
    return count, fmt, size, p[i:]


class _Expr:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> None:
        if self.i < len(self.s):
            self.i += 1
            self.skip()

    def skip(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def sum(self) -> int:
        v = self.prod()
        while (op := self.peek()) in ("+", "-"):
            self.next()
            w = self.prod()
            v = v + w if op == "+" else v - w
        return v

    def prod(self) -> int:
        v = self.logic()
        while (op := self.peek()) in ("*", "/", "%"):
            self.next()
            w = self.logic()
            if op == "*":
                v *= w
            elif w == 0:
                raise ParseError("division by zero")
            else:  # C division truncates toward zero
                q = abs(_s64(v)) // abs(_s64(w))
                q = q if (_s64(v) < 0) == (_s64(w) < 0) else -q
                v = q if op == "/" else _s64(v) - q * _s64(w)
        return v

    def logic(self) -> int:
        v = self.unary()
        while (op := self.peek()) in ("&", "|", "^"):
            self.next()
            w = self.unary()
            v = v & w if op == "&" else v | w if op == "|" else v ^ w
        return v

    def unary(self) -> int:
        c = self.peek()
        if c == "+":
            self.next()
            return self.unary()
        if c == "-":
            self.next()
            return -self.unary()
        if c == "~":
            self.next()
            return ~self.unary()
        if c == "(":
            self.next()
            v = self.sum()
            if self.peek() != ")":
                raise ParseError("')' expected")
            self.next()
            return v
        if c == "'":
            self.i += 1
            if not self.peek():
                raise ParseError("character constant expected")
            v = ord(self.peek())
            self.i += 1
            if self.peek() != "'":
                raise ParseError("missing terminating ' character")
            self.next()
            return v
        if c == "$":
            self.i += 1
            m = re.match(r"[A-Za-z0-9_.]*", self.s[self.i:])
            self.i += len(m.group()) if m else 0
            self.skip()
            raise ParseError("unknown register")  # registers come with CPUs
        if not c:
            raise ParseError("unexpected end of expression")
        m = _NUMBER.match(self.s, self.i)
        if m is None:
            raise ParseError(f"invalid char '{c}' in expression")
        text = m.group()
        v = int(text, 16) if text[:2].lower() == "0x" else int(text, 8) if len(text) > 1 else int(text)
        if v > _U64:
            raise ParseError("number too large")
        self.i = m.end()
        self.skip()
        return v


def _s64(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


def parse_expr(text: str) -> tuple[int, str]:
    """An address expression at the start of ``text``: (value as a 64-bit unsigned, rest)."""
    e = _Expr(text)
    e.skip()
    v = e.sum()
    return v & _U64, text[e.i:]


def _printc(c: int) -> str:
    special = {0x27: "\\'", 0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r"}
    if c in special:
        return f"'{special[c]}'"
    return f"'{chr(c)}'" if 32 <= c <= 126 else f"'\\x{c:02x}'"


def memory_dump(read: Callable[[int, int], bytes | None], count: int, fmt: str, size: int,
                addr: int, physical: bool) -> str:
    """QEMU's memory_dump: lines of up to 16 bytes (8 for byte units), each with its address;
    ``read(addr, n)`` returns None where memory cannot be read."""
    wsize = size
    length = wsize * count
    line_size = 8 if wsize == 1 else 16
    digits = {"o": -(-wsize * 8 // 3), "x": wsize * 2, "u": -(-wsize * 80 // 33),
              "d": -(-wsize * 80 // 33)}.get(fmt, 0)
    if fmt == "c":
        wsize = 1
    out: list[str] = []
    while length > 0:
        line = f"{addr & _U64:016x}:"
        n = min(length, line_size)
        data = read(addr & _U64, n)
        if data is None:
            out.append(line + " Cannot access memory\n")
            break
        for i in range(0, n, wsize):
            v = int.from_bytes(data[i:i + wsize], "little")
            if fmt == "o":
                text = ("0" + format(v, "o")) if v else "0"
                line += f" {text:>{digits}}"
            elif fmt == "x":
                line += f" 0x{v:0{digits}x}"
            elif fmt == "u":
                line += f" {v:>{digits}}"
            elif fmt == "d":
                line += f" {_s64(v) if wsize == 8 else v:>{digits}}"
            elif fmt == "c":
                line += " " + _printc(v)
        out.append(line + "\n")
        addr += n
        length -= n
    return "".join(out)
