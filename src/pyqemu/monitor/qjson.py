"""QEMU's JSON dialect: the streaming reader QMP reads with and the writer it answers with.

The reader follows QEMU 7.2 (``qobject/json-lexer.c``, ``json-streamer.c``,
``json-parser.c``) closely enough that errors read the same:

- input is a byte stream with no delimiters; a message ends when its braces
  and brackets balance (a top-level scalar ends at its first token);
- single-quoted strings are accepted, strings are modified UTF-8
  (``\\xC0\\x80`` is U+0000);
- a lexical error reports ``stray '<token>'`` and then skips input until a
  structural character or a control character (the resynchronisation QMP
  clients rely on);
- limits: 64 MiB of token text per message, 2 Mi tokens, nesting 1024.

The writer reproduces QEMU's output byte for byte: ASCII only with upper-case
``\\uXXXX`` escapes, ``%.17g`` floats, ``", "``/``": "`` separators, and
object members in QDict order (QEMU prints a dict in hash-bucket order, not
insertion order; clients must not care, but byte-exact comparisons with real
QEMU do).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MAX_TOKEN_SIZE = 64 << 20
MAX_TOKEN_COUNT = 2 << 20
MAX_NESTING = 1 << 10

# Token types.
LCURLY, RCURLY, LSQUARE, RSQUARE, COLON, COMMA, STRING, INTEGER, FLOAT, KEYWORD, OVERSIZE = range(11)
_STRUCT = {ord("{"): LCURLY, ord("}"): RCURLY, ord("["): LSQUARE, ord("]"): RSQUARE,
           ord(":"): COLON, ord(","): COMMA}

# Lexer states.
(_START, _DQ, _DQ_ESC, _SQ, _SQ_ESC, _ZERO, _DIGITS, _SIGN, _MANT, _MANT_DIGITS, _EXP_E, _EXP_SIGN,
 _EXP_DIGITS, _KEYWORD, _RECOVERY) = range(15)

_WS = re.compile(rb"[ \t\r\n]*")
_DQ_RUN = re.compile(rb'[^"\\\x00-\x1f\xfe\xff]*')
_SQ_RUN = re.compile(rb"[^'\\\x00-\x1f\xfe\xff]*")
_DIGIT_RUN = re.compile(rb"[0-9]*")
_KW_RUN = re.compile(rb"[a-z]*")
# Recovery skips everything but structural characters, control characters other than tab, 0xFE and 0xFF.
_RECOVERY_RUN = re.compile(rb"[^\x00-\x08\x0a-\x1f\xfe\xff\[\]{}:,]*")


class JSONParseError(Exception):
    """The description QEMU gives, e.g. ``JSON parse error, expecting value``."""


Token = tuple[int, bytes]
Emit = Callable[[Any, "JSONParseError | None"], None]


class JSONStreamParser:
    """Feed bytes, get ``emit(value, None)`` per message or ``emit(None, error)`` per bad one."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._state = _START
        self._tok = bytearray()
        self._tokens: list[Token] = []
        self._braces = 0
        self._brackets = 0
        self._size = 0
        self.stopped = False  # set by the owner to drop the rest of the current feed

    # -- lexer ---------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        st, tok = self._state, self._tok
        while i < n and not self.stopped:
            if st == _START:
                i = _WS.match(data, i).end()
                if i >= n:
                    break
                c = data[i]
                i += 1
                t = _STRUCT.get(c)
                if t is not None:
                    self._token(t, bytes((c,)))
                    continue
                tok.append(c)
                if c == 0x22:
                    st = _DQ
                elif c == 0x27:
                    st = _SQ
                elif c == 0x30:
                    st = _ZERO
                elif 0x31 <= c <= 0x39:
                    st = _DIGITS
                elif c == 0x2D:
                    st = _SIGN
                elif 0x61 <= c <= 0x7A:
                    st = _KEYWORD
                else:
                    st = self._lex_error()
            elif st in (_DQ, _SQ):
                run = _DQ_RUN if st == _DQ else _SQ_RUN
                m = run.match(data, i, min(n, i + MAX_TOKEN_SIZE + 1 - len(tok)))
                tok += data[i:m.end()]
                i = m.end()
                if len(tok) > MAX_TOKEN_SIZE:
                    st = self._oversize()
                    continue
                if i >= n:
                    break
                c = data[i]
                i += 1
                tok.append(c)
                if c == (0x22 if st == _DQ else 0x27):
                    self._token(STRING, bytes(tok))
                    tok.clear()
                    st = _START
                elif c == 0x5C:
                    st = _DQ_ESC if st == _DQ else _SQ_ESC
                else:
                    st = self._lex_error()
            elif st in (_DQ_ESC, _SQ_ESC):
                c = data[i]
                i += 1
                tok.append(c)
                st = (_DQ if st == _DQ_ESC else _SQ) if 0x20 <= c <= 0xFD else self._lex_error()
            elif st == _RECOVERY:
                i = _RECOVERY_RUN.match(data, i).end()
                if i < n:
                    st = _START  # the character is looked at again from the start state
            elif st == _KEYWORD:
                m = _KW_RUN.match(data, i)
                tok += data[i:m.end()]
                i = m.end()
                if i < n:
                    self._token(KEYWORD, bytes(tok))
                    tok.clear()
                    st = _START
            else:
                st, i = self._number(st, data, i)
            if len(tok) > MAX_TOKEN_SIZE:
                st = self._oversize()
        self._state = st

    def _number(self, st: int, data: bytes, i: int) -> tuple[int, int]:
        tok = self._tok
        if st in (_DIGITS, _MANT_DIGITS, _EXP_DIGITS):
            m = _DIGIT_RUN.match(data, i)
            tok += data[i:m.end()]
            i = m.end()
            if i >= len(data):
                return st, i
        c = data[i]
        digit = 0x30 <= c <= 0x39
        nxt = None
        if st == _ZERO:
            nxt = _LEX_ERR if digit else _MANT if c == 0x2E else None
            kind = INTEGER
        elif st == _DIGITS:
            nxt = _EXP_E if c in (0x65, 0x45) else _MANT if c == 0x2E else None
            kind = INTEGER
        elif st == _MANT_DIGITS:
            nxt = _EXP_E if c in (0x65, 0x45) else None
            kind = FLOAT
        elif st == _EXP_DIGITS:
            kind = FLOAT
        else:  # states that must see more: sign, mantissa, exponent
            kind = -1
            if st == _SIGN:
                nxt = _ZERO if c == 0x30 else _DIGITS if digit else _LEX_ERR
            elif st == _MANT:
                nxt = _MANT_DIGITS if digit else _LEX_ERR
            elif st == _EXP_E:
                nxt = _EXP_SIGN if c in (0x2B, 0x2D) else _EXP_DIGITS if digit else _LEX_ERR
            else:  # _EXP_SIGN
                nxt = _EXP_DIGITS if digit else _LEX_ERR
        if nxt is None:
            # Terminal: the token ends before this character, which is looked at again.
            self._token(kind, bytes(tok))
            tok.clear()
            return _START, i
        tok.append(c)
        if nxt == _LEX_ERR:
            return self._lex_error(), i + 1
        return nxt, i + 1

    def _lex_error(self) -> int:
        text = bytes(self._tok)
        self._tok.clear()
        self._fail(JSONParseError(f"JSON parse error, stray '{c_string(text)}'"))
        return _RECOVERY

    def _oversize(self) -> int:
        # QEMU hands the oversized token on; the streamer then refuses it for its size.
        self._tok.clear()
        self._fail(JSONParseError("JSON token size limit exceeded"))
        return _START

    # -- streamer ------------------------------------------------------------------------------

    def _fail(self, err: JSONParseError) -> None:
        self._reset()
        self._emit(None, err)

    def _reset(self) -> None:
        self._tokens = []
        self._braces = self._brackets = self._size = 0

    def _token(self, kind: int, text: bytes) -> None:
        if kind == LCURLY:
            self._braces += 1
        elif kind == RCURLY:
            self._braces -= 1
        elif kind == LSQUARE:
            self._brackets += 1
        elif kind == RSQUARE:
            self._brackets -= 1
        if self._size + len(text) + 1 > MAX_TOKEN_SIZE:
            return self._fail(JSONParseError("JSON token size limit exceeded"))
        if len(self._tokens) + 1 > MAX_TOKEN_COUNT:
            return self._fail(JSONParseError("JSON token count limit exceeded"))
        if self._braces + self._brackets > MAX_NESTING:
            return self._fail(JSONParseError("JSON nesting depth limit exceeded"))
        self._tokens.append((kind, text))
        self._size += len(text)
        if (self._braces > 0 or self._brackets > 0) and self._braces >= 0 and self._brackets >= 0:
            return None
        tokens = self._tokens
        self._reset()
        try:
            value = parse_tokens(tokens)
        except JSONParseError as e:
            self._emit(None, e)
        else:
            self._emit(value, None)
        return None


_LEX_ERR = -1


def c_string(raw: bytes) -> str:
    """Raw bytes as QEMU prints them inside a message: cut at NUL, bad UTF-8 as U+FFFD."""
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    return raw.decode("utf-8", errors="replace")


# -- parser ------------------------------------------------------------------------------------

_NONCHAR = re.compile("[\ufdd0-\ufdef" + "".join(
    f"{chr((p << 16) | 0xFFFE)}{chr((p << 16) | 0xFFFF)}" for p in range(17)) + "]")


def _decode_utf8(raw: bytes) -> str:
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        # \xC0\x80 is modified UTF-8's NUL; \xC0 is never valid otherwise, so the swap is safe.
        try:
            s = raw.replace(b"\xc0\x80", b"\0").decode("utf-8")
        except UnicodeDecodeError:
            raise JSONParseError("JSON parse error, invalid UTF-8 sequence in string") from None
    if not s.isascii() and _NONCHAR.search(s):
        raise JSONParseError("JSON parse error, invalid UTF-8 sequence in string")
    return s


def _hex4(raw: bytes, i: int) -> int:
    h = raw[i:i + 4]
    if len(h) < 4 or not all(c in b"0123456789abcdefABCDEF" for c in h):
        return -1
    return int(h, 16)


def _valid_cp(cp: int) -> bool:
    return (0 <= cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF and not 0xFDD0 <= cp <= 0xFDEF
            and (cp & 0xFFFE) != 0xFFFE)


_ESCAPES = {ord('"'): '"', ord("'"): "'", ord("\\"): "\\", ord("/"): "/", ord("b"): "\b",
            ord("f"): "\f", ord("n"): "\n", ord("r"): "\r", ord("t"): "\t"}


def parse_string(raw: bytes) -> str:
    """Decode a string token (quotes included), with QEMU's error messages."""
    body = raw[1:-1]
    if b"\\" not in body:
        return _decode_utf8(body)
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        j = body.find(b"\\", i)
        if j < 0:
            out.append(_decode_utf8(body[i:]))
            break
        out.append(_decode_utf8(body[i:j]))
        c = body[j + 1]
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
            i = j + 2
            continue
        if c != ord("u"):
            raise JSONParseError("JSON parse error, invalid escape sequence in string")
        cp = _hex4(body, j + 2)
        i = j + 6
        if 0xD800 <= cp <= 0xDBFF and body[i:i + 2] == b"\\u":
            trail = _hex4(body, i + 2)
            if 0xDC00 <= trail <= 0xDFFF:
                cp = 0x10000 + ((cp & 0x3FF) << 10) + (trail & 0x3FF)
                i += 6
            else:
                cp = -1
        if not _valid_cp(cp):
            text = raw[1 + j:1 + j + 6].decode("utf-8", errors="replace")
            raise JSONParseError(f"JSON parse error, {text} is not a valid Unicode character")
        out.append(chr(cp))
    return "".join(out)


def _literal(kind: int, text: bytes) -> Any:
    if kind == STRING:
        return parse_string(text)
    if kind == INTEGER:
        v = int(text)
        if -(1 << 63) <= v < (1 << 64):
            return v
    return float(text)


_KEYWORDS = {b"true": True, b"false": False, b"null": None}


def parse_tokens(tokens: list[Token]) -> Any:
    """One JSON value from a complete message's tokens (iterative: nesting reaches 1024)."""
    stack: list[list[Any]] = []  # [container, key-or-None, expecting_key]
    i, n = 0, len(tokens)

    def fail(msg: str) -> JSONParseError:
        return JSONParseError("JSON parse error, " + msg)

    while True:
        # Want a value.
        if i >= n:
            raise fail("premature EOI")
        kind, text = tokens[i]
        i += 1
        if kind == LCURLY or kind == LSQUARE:
            close = RCURLY if kind == LCURLY else RSQUARE
            if i >= n:
                raise fail("premature EOI")
            if tokens[i][0] == close:
                i += 1
                value: Any = {} if kind == LCURLY else []
            else:
                stack.append([{}, None, True] if kind == LCURLY else [[], None, False])
                continue
        elif kind in (STRING, INTEGER, FLOAT):
            value = _literal(kind, text)
        elif kind == KEYWORD:
            if text not in _KEYWORDS:
                raise fail(f"invalid keyword '{c_string(text)}'")
            value = _KEYWORDS[text]
        else:
            raise fail("expecting value")
        # Got a value: hand it to the enclosing containers.
        while True:
            if not stack:
                return value
            frame = stack[-1]
            box = frame[0]
            if isinstance(box, list):
                box.append(value)
                if i >= n:
                    raise fail("premature EOI")
                kind = tokens[i][0]
                i += 1
                if kind == RSQUARE:
                    stack.pop()
                    value = box
                    continue
                if kind != COMMA:
                    raise fail("expected separator in list")
                break
            if frame[2]:
                if not isinstance(value, str):
                    raise fail("key is not a string in object")
                if i >= n:
                    raise fail("premature EOI")
                kind = tokens[i][0]
                i += 1
                if kind != COLON:
                    raise fail("missing : in object pair")
                frame[1], frame[2] = value, False
                break
            if frame[1] in box:
                raise fail("duplicate key")
            box[frame[1]] = value
            if i >= n:
                raise fail("premature EOI")
            kind = tokens[i][0]
            i += 1
            if kind == RCURLY:
                stack.pop()
                value = box
                continue
            if kind != COMMA:
                raise fail("expected separator in dict")
            frame[2] = True
            break


def loads(text: str | bytes) -> Any:
    """Parse exactly one message (tests and tools); raises JSONParseError."""
    out: list[tuple[Any, JSONParseError | None]] = []
    p = JSONStreamParser(lambda v, e: out.append((v, e)))
    p.feed(text.encode() if isinstance(text, str) else text)
    p.feed(b" ")  # terminate a trailing number or keyword
    if not out:
        raise JSONParseError("JSON parse error, premature EOI")
    value, err = out[0]
    if err is not None:
        raise err
    return value


# -- writer ------------------------------------------------------------------------------------

def _tdb_hash(key: str) -> int:
    b = key.encode("utf-8", errors="surrogatepass")
    v = (0x238F13AF * len(b)) & 0xFFFFFFFF
    for i, c in enumerate(b):
        v = (v + (c << (i * 5 % 24))) & 0xFFFFFFFF
    return (1103515243 * v + 12345) & 0xFFFFFFFF


_bucket_cache: dict[str, int] = {}


def qdict_bucket(key: str) -> int:
    b = _bucket_cache.get(key)
    if b is None:
        b = _tdb_hash(key) % 512
        if len(_bucket_cache) < 4096:
            _bucket_cache[key] = b
    return b


def qdict_order(d: dict[str, Any]) -> list[str]:
    """Keys in the order QEMU iterates a QDict built by inserting ``d``'s keys in order.

    512 hash buckets visited in turn; within a bucket the newest key comes first.
    """
    keys = list(d)
    return [k for _, _, k in sorted((qdict_bucket(k), -pos, k) for pos, k in enumerate(keys))]


def _quote(s: str) -> str:
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif 0x20 <= cp < 0x7F:
            out.append(ch)
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif cp > 0xFFFF:
            cp -= 0x10000
            out.append(f"\\u{0xD800 + (cp >> 10):04X}\\u{0xDC00 + (cp & 0x3FF):04X}")
        else:
            out.append(f"\\u{cp:04X}")
    out.append('"')
    return "".join(out)


_PLAIN = re.compile(r'[\x20-\x21\x23-\x5b\x5d-\x7e]*\Z')


def quote(s: str) -> str:
    return '"' + s + '"' if _PLAIN.match(s) else _quote(s)


def dumps(obj: Any, pretty: bool = False) -> str:
    """Serialise like QEMU's ``qobject_to_json`` (``pretty``: QMP's ``pretty=on``)."""
    parts: list[str] = []
    _write(obj, parts, 0, pretty)
    return "".join(parts)


def _write(obj: Any, out: list[str], depth: int, pretty: bool) -> None:
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        out.append(str(int(obj)))
    elif isinstance(obj, float):
        out.append(f"{obj:.17g}")
    elif isinstance(obj, str):
        out.append(quote(obj))
    elif isinstance(obj, dict):
        items = [(k, obj[k]) for k in qdict_order(obj)]
        _container(items, "{", "}", out, depth, pretty)
    elif isinstance(obj, (list, tuple)):
        _container([(None, v) for v in obj], "[", "]", out, depth, pretty)
    else:
        raise TypeError(f"cannot serialise {type(obj).__name__} as QMP JSON")


def _container(items: list[tuple[str | None, Any]], opening: str, closing: str, out: list[str],
               depth: int, pretty: bool) -> None:
    out.append(opening)
    inner = "\n" + " " * (4 * (depth + 1)) if pretty else ""
    for n, (k, v) in enumerate(items):
        if n:
            out.append("," + inner if pretty else ", ")
        elif pretty:
            out.append(inner)
        if k is not None:
            out.append(quote(k))
            out.append(": ")
        _write(v, out, depth + 1, pretty)
    if pretty:
        out.append("\n" + " " * (4 * depth))
    out.append(closing)
