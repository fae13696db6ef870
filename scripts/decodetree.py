#!/usr/bin/env python3
"""Generate a Python instruction decoder from `.decode` tables.

A subset of QEMU's decodetree syntax (docs/devel/decodetree.rst):

    %name   pos:len[s] ...  [!function=fn]   field made of bit segments
    &name   arg arg ...                      argument set
    @name   BITS...                          format (bits, fields, &set, k=v)
    NAME    BITS...                          pattern; calls trans_NAME(ctx, a)
    {  ... }                                 group whose members may overlap:
                                             first match whose trans_ returns
                                             True wins

BITS tokens: runs of ``0 1 . -`` (``-`` = ignored), inline fields
``name:len`` / ``name:slen``, ``%field``, ``&argset``, ``@format``, ``k=v``.
Every pattern covers exactly the instruction width (32 bits, or 16 with
``--insnwidth 16`` for Thumb's 16-bit encodings). Patterns outside a group must not
overlap; an overlap is a build error.

Usage: decodetree.py [--insnwidth 16|32] OUTPUT INPUT.decode [INPUT.decode ...]
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field


class DecodeError(Exception):
    pass


@dataclass
class Field:
    name: str
    segments: list[tuple[int, int, bool]]  # (pos, len, signed) msb first
    function: str | None = None

    def expr(self) -> str:
        parts = []
        shift = 0
        for pos, length, signed in reversed(self.segments):
            m = (1 << length) - 1
            e = f"((insn >> {pos}) & {m:#x})" if pos else f"(insn & {m:#x})"
            if signed:
                e = f"({e} - (({e} & {1 << (length - 1):#x}) << 1))"
            parts.append(f"({e} << {shift})" if shift else e)
            shift += length
        e = " | ".join(parts) if len(parts) > 1 else parts[0]
        if self.function:
            e = f"T.{self.function}(ctx, {e})"
        return e


@dataclass
class Pattern:
    name: str
    mask: int
    value: int
    fields: dict[str, str]  # arg -> python expression
    argset: str
    line: int
    ignored: int = 0


@dataclass
class Group:
    items: list = field(default_factory=list)
    line: int = 0

    @property
    def mask(self) -> int:
        m = 0xFFFFFFFF
        for it in self.items:
            m &= it.mask
        # only bits on which all members agree
        v0 = self.items[0].value
        for it in self.items[1:]:
            m &= ~(it.value ^ v0)
        return m & 0xFFFFFFFF

    @property
    def value(self) -> int:
        return self.items[0].value & self.mask


class Parser:
    def __init__(self, width: int = 32) -> None:
        self.width = width
        self.fields: dict[str, Field] = {}
        self.argsets: dict[str, list[str]] = {}
        self.formats: dict[str, list[str]] = {}
        self.root = Group()
        self.stack = [self.root]

    def parse(self, text: str, fname: str) -> None:
        lines = text.split("\n")
        i = 0
        while i < len(lines):
            raw = lines[i]
            lineno = i + 1
            i += 1
            line = raw.split("#", 1)[0].strip()
            while line.endswith("\\") and i < len(lines):
                line = line[:-1] + " " + lines[i].split("#", 1)[0].strip()
                i += 1
            if not line:
                continue
            try:
                self.parse_line(line, lineno)
            except DecodeError as e:
                raise DecodeError(f"{fname}:{lineno}: {e}") from None
        if len(self.stack) != 1:
            raise DecodeError(f"{fname}: unclosed group")

    def parse_line(self, line: str, lineno: int) -> None:
        toks = line.split()
        head = toks[0]
        if head in ("{", "["):
            g = Group(line=lineno)
            self.stack[-1].items.append(g)
            self.stack.append(g)
            return
        if head in ("}", "]"):
            self.stack.pop()
            return
        if head.startswith("%"):
            segs = []
            fn = None
            for t in toks[1:]:
                if t.startswith("!function="):
                    fn = t.split("=", 1)[1]
                    continue
                m = re.fullmatch(r"(\d+):(s?)(\d+)", t)
                if not m:
                    raise DecodeError(f"bad field segment {t!r}")
                segs.append((int(m[1]), int(m[3]), bool(m[2])))
            self._define(self.fields, head[1:], Field(head[1:], segs, fn))
            return
        if head.startswith("&"):
            self._define(self.argsets, head[1:], toks[1:])
            return
        if head.startswith("@"):
            self._define(self.formats, head[1:], toks[1:])
            return
        self.stack[-1].items.append(self.pattern(head, toks[1:], lineno))

    @staticmethod
    def _define(table: dict, name: str, value) -> None:
        """Names are global across all .decode files: a redefinition is an error."""
        if name in table:
            raise DecodeError(f"{name} defined twice")
        table[name] = value

    def parse_tokens(self, toks: list[str]) -> tuple[list[str], dict, dict, str | None]:
        """Parse one token list: (bits, inline fields, assignments, argset)."""
        bits: list[str] = []
        inline: dict[str, str] = {}
        args: dict[str, str] = {}
        argset = None
        for t in toks:
            if re.fullmatch(r"[01.\-]+", t):
                bits.extend(t)
            elif t.startswith("&"):
                argset = t[1:]
                if argset not in self.argsets:
                    raise DecodeError(f"unknown argset {t}")
            elif t.startswith("%"):
                f = self.fields.get(t[1:])
                if f is None:
                    raise DecodeError(f"unknown field {t}")
                args[f.name] = f.expr()
            elif "=" in t:
                k, v = t.split("=", 1)
                if v.startswith("%"):
                    f = self.fields.get(v[1:])
                    if f is None:
                        raise DecodeError(f"unknown field {v}")
                    args[k] = f.expr()
                else:
                    args[k] = str(int(v, 0))
            else:
                m = re.fullmatch(r"([a-zA-Z_][a-zA-Z0-9_]*):(s?)(\d+)", t)
                if not m:
                    raise DecodeError(f"bad token {t!r}")
                n = int(m[3])
                pos = self.width - len(bits) - n
                inline[m[1]] = Field(m[1], [(pos, n, bool(m[2]))]).expr()
                bits.extend("x" * n)
        return bits, inline, args, argset

    def pattern(self, name: str, toks: list[str], lineno: int) -> Pattern:
        own = [t for t in toks if not t.startswith("@")]
        fmts = [t for t in toks if t.startswith("@")]
        parts = [self.parse_tokens(own)]
        for f in fmts:
            if f[1:] not in self.formats:
                raise DecodeError(f"unknown format {f}")
            parts.append(self.parse_tokens(self.formats[f[1:]]))
        merged = ["."] * self.width
        fields: dict[str, str] = {}
        argset = None
        for bits, inline, args, aset in reversed(parts):
            if bits and len(bits) != self.width:
                raise DecodeError(f"pattern {name}: {len(bits)} bits, not {self.width}")
            for i, b in enumerate(bits):
                if b in "01x-":
                    if merged[i] in "01" and b in "01" and merged[i] != b:
                        raise DecodeError(f"pattern {name}: conflicting bit {self.width - 1 - i}")
                    if merged[i] == "." or b in "01":
                        merged[i] = b
            fields.update(inline)
            fields.update(args)
            argset = aset or argset
        if not any(p[0] for p in parts):
            raise DecodeError(f"pattern {name} has no bits")
        mask = value = ignored = 0
        for i, b in enumerate(merged):
            bit = 1 << (self.width - 1 - i)
            if b in "01":
                mask |= bit
                if b == "1":
                    value |= bit
            elif b == "-":
                ignored |= bit
        if argset is None:
            argset = "_" + name
            self.argsets[argset] = sorted(fields)
        else:
            missing = set(self.argsets[argset]) - set(fields)
            if missing:
                raise DecodeError(f"pattern {name} lacks {sorted(missing)}")
            extra = set(fields) - set(self.argsets[argset])
            if extra:
                raise DecodeError(f"pattern {name}: {sorted(extra)} not in &{argset}")
        return Pattern(name, mask, value, fields, argset, lineno, ignored)


def overlaps(a, b) -> bool:
    common = a.mask & b.mask
    return (a.value & common) == (b.value & common)


def check_overlaps(group: Group, in_group: bool) -> None:
    items = group.items
    for it in items:
        if isinstance(it, Group):
            check_overlaps(it, True)
    if in_group:
        return
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            if overlaps(a, b):
                na = getattr(a, "name", f"group@{a.line}")
                nb = getattr(b, "name", f"group@{b.line}")
                raise DecodeError(f"patterns overlap: {na} (line {a.line}) and {nb} (line {b.line})")


class Emitter:
    def __init__(self, parser: Parser) -> None:
        self.p = parser
        self.out: list[str] = []

    def emit(self, s: str, ind: int) -> None:
        self.out.append("    " * ind + s)

    def leaf(self, it, ind: int, decided: int) -> None:
        if isinstance(it, Group):
            rest = it.mask & ~decided
            if rest:
                self.emit(f"if insn & {rest:#010x} == {it.value & rest:#010x}:", ind)
                ind += 1
            for sub in it.items:
                self.leaf(sub, ind, decided | it.mask)
            if rest:
                self.emit("pass", ind)
            return
        rest = it.mask & ~decided
        cond = f"insn & {rest:#010x} == {it.value & rest:#010x}" if rest else "True"
        args = ", ".join(f"{k}={v}" for k, v in it.fields.items())
        call = f"T.trans_{it.name}(ctx, A_{it.argset}({args}))"
        if rest:
            self.emit(f"if {cond} and {call}:", ind)
        else:
            self.emit(f"if {call}:", ind)
        self.emit("return True", ind + 1)

    def tree(self, items: list, ind: int, decided: int) -> None:
        if len(items) <= 2:
            for it in items:
                self.leaf(it, ind, decided)
            return
        common = 0xFFFFFFFF
        for it in items:
            common &= it.mask
        common &= ~decided
        buckets: dict[int, list] = {}
        for it in items:
            buckets.setdefault(it.value & common, []).append(it)
        if common == 0 or len(buckets) == 1:
            for it in items:
                self.leaf(it, ind, decided)
            return
        self.emit(f"k = insn & {common:#010x}", ind)
        first = True
        for val, sub in sorted(buckets.items()):
            self.emit(f"{'if' if first else 'elif'} k == {val:#010x}:", ind)
            first = False
            self.tree(sub, ind + 1, decided | common)
        return

    def generate(self, sources: list[str]) -> str:
        self.out = [
            "# Generated by scripts/decodetree.py from "
            + ", ".join(sources) + ". Do not edit.",
            '"""Instruction decoder generated from .decode tables."""',
            "# ruff: noqa",
            "",
            "T = None  # namespace with trans_* functions, set by install()",
            "",
            "",
            "def install(ns):",
            "    global T",
            "    T = ns",
            "",
        ]
        for name, args in sorted(self.p.argsets.items()):
            self.out.append("")
            self.out.append(f"class A_{name}:")
            self.out.append(f"    __slots__ = {tuple(args)!r}")
            self.out.append("")
            sig = ", ".join(["self"] + list(args))
            self.out.append(f"    def __init__({sig}):")
            if args:
                for a in args:
                    self.out.append(f"        self.{a} = {a}")
            else:
                self.out.append("        pass")
            self.out.append("")
            self.out.append("    def __repr__(self):")
            inner = ", ".join(f"{a}={{self.{a}!r}}" for a in args)
            self.out.append(f"        return f\"{name}({inner})\"")
            self.out.append("")
        self.out.append("")
        self.out.append("def decode(ctx, insn):")
        self.out.append('    """Call the matching trans_* function; False if none accepted."""')
        self.tree(self.p.root.items, 1, 0)
        self.out.append("    return False")
        self.out.append("")
        return "\n".join(self.out)


def generate(paths: list[str], width: int = 32) -> str:
    p = Parser(width)
    for path in paths:
        with open(path) as f:
            p.parse(f.read(), path)
    check_overlaps(p.root, False)
    import os
    return Emitter(p).generate([os.path.basename(x) for x in paths])


def main(argv: list[str]) -> int:
    width = 32
    if len(argv) > 2 and argv[1] == "--insnwidth":
        width = int(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) < 3 or width not in (16, 32):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        src = generate(argv[2:], width)
    except DecodeError as e:
        print(f"decodetree: {e}", file=sys.stderr)
        return 1
    with open(argv[1], "w") as f:
        f.write(src)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
