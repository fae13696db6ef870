"""What every pyqemu-img subcommand shares: errors, option parsing, opening images, progress.

Messages follow qemu-img's text with the program name swapped, so scripts
that match on them keep working.
"""
from __future__ import annotations

import getopt
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyqemu.block.driver import BlockDriver, BlockError

PROG = "pyqemu-img"
IO_BUF_SIZE = 2 << 20        # qemu-img's IO_BUF_SIZE: the unit of convert/compare/rebase
SECTOR = 512


class ImgError(Exception):
    """Stop the command: print ``pyqemu-img: <message>`` and exit with ``status``.

    ``usage`` adds qemu-img's "Try ... --help" line; ``each_line`` prefixes every
    line of a multi-line message (qemu-img printed them with separate error_report calls).
    """

    def __init__(self, message: str, status: int = 1, usage: bool = False, each_line: bool = False,
                 silent: bool = False) -> None:
        super().__init__(message)
        self.status, self.usage, self.each_line = status, usage, each_line
        self.silent = silent   # the message was already printed


def error_exit(message: str) -> ImgError:
    """qemu-img's error_exit(): the message plus the pointer to --help."""
    return ImgError(message, usage=True)


def report(message: str, each_line: bool = False) -> None:
    lines = message.split("\n") if each_line else [message]
    for line in lines:
        sys.stderr.write(f"{PROG}: {line}\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    sys.stderr.write(f"{PROG}: warning: {message}\n")


def qprint(quiet: bool, text: str) -> None:
    if not quiet:
        sys.stdout.write(text)
        sys.stdout.flush()


def parse_args(argv: Sequence[str], shortopts: str, longopts: Sequence[str] = ()
               ) -> tuple[list[tuple[str, str]], list[str]]:
    """GNU getopt (options may follow file names) with qemu-img's error messages."""
    try:
        opts, args = getopt.gnu_getopt(list(argv), shortopts, list(longopts))
    except getopt.GetoptError as exc:
        opt = exc.opt or ""
        name = ("--" if len(opt) > 1 else "-") + opt
        if "requires argument" in exc.msg:
            raise error_exit(f"missing argument for option '{name}'") from None
        raise error_exit(f"unrecognized option '{name}'") from None
    for o, _ in opts:
        if o in ("--image-opts", "--target-image-opts", "--object"):
            # file names stay plain file names here; say so instead of misreading option strings
            raise ImgError(f"{o} is not supported by {PROG}")
    return opts, args


def option_list(text: str) -> str:
    """An ``-o`` argument, checked as qemu-img checks it before anything else."""
    from pyqemu.block.options import valid_option_list
    if not valid_option_list(text):
        raise ImgError(f"Invalid option list: {text}")
    return text


CACHE_MODES = ("none", "writeback", "writethrough", "directsync", "unsafe")


def cache_mode(text: str, what: str = "cache") -> str:
    """A ``-t``/``-T`` cache mode (qemu-img's bdrv_parse_cache_mode names)."""
    if text not in CACHE_MODES:
        raise ImgError(f"Invalid {what} option: {text}")
    return text


def cache_options(mode: str) -> dict[str, Any] | None:
    """Driver open options for a cache mode: only "unsafe" changes anything (no fdatasync)."""
    return {"cache": "unsafe"} if mode == "unsafe" else None


def size_to_str(value: int) -> str:
    """QEMU's size_to_str(): ``1 GiB``, ``396 KiB``, ``1.5 MiB`` (three significant digits)."""
    suffixes = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
    if value <= 0:
        return "0 B"
    _, exp = math.frexp(value / (1000.0 / 1024.0))
    i = max(0, (exp - 1) // 10)
    return f"{value / (1 << (i * 10)):.3g} {suffixes[i]}B"


# --- drivers and opening -------------------------------------------------------
def registry() -> Any:
    from pyqemu.block import registry as reg
    return reg


def driver_class(fmt: str, *, message: str | None = None) -> type[BlockDriver]:
    """The driver for ``fmt`` or ImgError with qemu-img's "Unknown file format" text."""
    try:
        return registry().get_driver(fmt)  # type: ignore[no-any-return]
    except BlockError:
        raise ImgError(message or f"Unknown file format '{fmt}'") from None


def open_image(filename: str, fmt: str | None = None, *, read_only: bool = True, backing: bool = True,
               options: dict[str, Any] | None = None) -> BlockDriver:
    """Open for a command, with qemu-img's ``Could not open 'f': ...`` wrapper on errors."""
    if not filename:
        raise ImgError("Could not open '': The 'file' block driver requires a file name")
    if fmt is not None:
        driver_class(fmt, message=f"Could not open '{filename}': Unknown driver '{fmt}'")
    try:
        probed = None
        if fmt is None:
            probed = registry().probe_format(filename)
        drv = registry().open_image(filename, fmt or probed, read_only=read_only, backing=backing,
                                    options=options)
    except BlockError as exc:
        msg = str(exc)
        raise ImgError(f"Could not open '{filename}': {msg}") from None
    if probed == "raw" and not read_only:   # qemu-img prints this even with -q
        sys.stderr.write(
            f"WARNING: Image format was not specified for '{filename}' and probing guessed raw.\n"
            "         Automatically detecting the format is dangerous for raw images, write operations"
            " on block 0 will be restricted.\n"
            "         Specify the 'raw' format explicitly to remove the restrictions.\n")
    return drv


def close_quietly(*drivers: BlockDriver | None) -> None:
    """Close images (and their backing chains), keeping the first error for the caller."""
    first: BlockError | None = None
    for drv in drivers:
        while drv is not None:
            nxt = drv.backing
            try:
                drv.close()
            except BlockError as exc:
                first = first or exc
            drv = nxt
    if first is not None:
        raise first


def backing_chain(drv: BlockDriver) -> list[BlockDriver]:
    out = []
    cur: BlockDriver | None = drv
    while cur is not None:
        out.append(cur)
        cur = cur.backing
    return out


@dataclass
class ChainStatus:
    """bdrv_block_status_above() for a whole chain: who provides [start, start+length)."""
    start: int
    length: int
    data: bool
    zero: bool
    present: bool            # some layer allocates it (BDRV_BLOCK_ALLOCATED)
    depth: int
    offset: int | None
    filename: str | None
    compressed: bool = False


def chain_status(drv: BlockDriver, offset: int, length: int, top_only: bool = False) -> ChainStatus:
    """The first extent at ``offset`` with uniform status, walking down the backing chain.

    As QEMU: a layer that does not allocate the range defers to its backing
    file; with no backing file, or past the backing file's end, it reads as zeros.
    """
    depth = 0
    layer = drv
    while True:
        st = layer.block_status(offset, length)
        n = max(1, min(st.length, length)) if length > 0 else 0
        if st.present:
            return ChainStatus(offset, n, st.data, st.zero, True, depth, st.offset,
                               st.filename or layer.filename, st.compressed)
        nxt = layer.backing
        if nxt is None or top_only:
            return ChainStatus(offset, n, False, nxt is None, False, depth, None, None)
        bsize = nxt.size
        if offset >= bsize:
            return ChainStatus(offset, n, False, True, False, depth, None, None)
        length = min(n, bsize - offset)
        layer = nxt
        depth += 1


class Progress:
    """qemu-img's progress line, ``    (P.PP/100%)\\r`` on stdout, reprinted per 1% step."""

    def __init__(self, enabled: bool, min_skip: float = 1.0) -> None:
        self.enabled = enabled
        self.min_skip = min_skip
        self.current = 0.0
        self.last_print = 0.0

    def _print(self) -> None:
        sys.stdout.write(f"    ({self.current:3.2f}/100%)\r")
        sys.stdout.flush()

    def set(self, current: float) -> None:
        """Absolute progress in percent."""
        if not self.enabled:
            return
        current = self.current = min(current, 100.0)
        if (current > self.last_print + self.min_skip or current < self.last_print - self.min_skip
                or current == 0 or current == 100):
            self.last_print = current
            self._print()

    def add(self, delta: float) -> None:
        """Relative progress in percent (qemu_progress_print(delta, 100))."""
        self.set(self.current + delta)

    def end(self) -> None:
        if self.enabled:
            sys.stdout.write("\n")
            sys.stdout.flush()


_ZEROS: dict[int, bytes] = {}


def zeros(n: int) -> bytes:
    """A cached all-zero bytes of length ``n`` (for memcmp-speed comparisons)."""
    z = _ZEROS.get(n)
    if z is None:
        if len(_ZEROS) > 64:
            _ZEROS.clear()
        z = _ZEROS[n] = bytes(n)
    return z


def is_zero(buf: bytes | bytearray | memoryview, start: int = 0, length: int | None = None) -> bool:
    """All-zero test at memcmp speed (``startswith`` compares without copying)."""
    if isinstance(buf, memoryview):
        buf = bytes(buf)
    if length is None:
        length = len(buf) - start
    return buf.startswith(zeros(length), start)


def errno_text(exc: BlockError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)
