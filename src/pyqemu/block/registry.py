"""Format drivers by name, format probing, and opening an image with its backing chain.

``open_image`` is QEMU's ``bdrv_open`` for our drivers: it probes the format
when none is given (like QEMU, with the same risk for raw images that look
like something else), resolves a relative backing name against the overlay's
directory, opens the backing file read-only with its recorded format (or a
probed one), and refuses chains that loop.
"""
from __future__ import annotations

import errno
import os
from typing import Any

from .driver import BlockDriver, BlockError

PROBE_BYTES = 2048


def _drivers() -> dict[str, type[BlockDriver]]:
    from .qcow2.driver import Qcow2Driver
    from .raw import RawDriver
    return {"raw": RawDriver, "qcow2": Qcow2Driver}


def driver_names() -> list[str]:
    """Formats this build supports, for ``qemu-img --help`` style listings."""
    return sorted(_drivers())


def get_driver(name: str) -> type[BlockDriver]:
    """The driver class for format ``name``; ``Unknown driver 'x'`` otherwise."""
    drv = _drivers().get(name)
    if drv is None:
        raise BlockError(f"Unknown driver '{name}'", errno.EINVAL)
    return drv


def probe_format(filename: str) -> str:
    """Guess the format from the file's first bytes (raw when nothing else matches)."""
    try:
        with open(filename, "rb") as f:
            header = f.read(PROBE_BYTES)
    except OSError as exc:
        raise BlockError(f"Could not open '{filename}': {exc.strerror}", exc.errno or errno.EIO) from None
    best, score = "raw", 0
    for name, drv in _drivers().items():
        s = drv.probe(header, filename)
        if s > score:
            best, score = name, s
    return best


def resolve_backing(overlay: str, backing: str) -> str:
    """A backing name as QEMU resolves it: relative names are relative to the overlay's directory."""
    if backing.startswith("json:") or os.path.isabs(backing):
        return backing
    return os.path.join(os.path.dirname(overlay), backing)


def open_image(filename: str, fmt: str | None = None, read_only: bool = True, backing: bool = True,
               backing_fmt: str | None = None, options: dict[str, Any] | None = None,
               _chain: tuple[str, ...] = ()) -> BlockDriver:
    """Open ``filename`` (and, with ``backing``, its whole backing chain, read-only).

    ``backing_fmt`` overrides the format the image records for its backing file.
    """
    if fmt is None:
        fmt = probe_format(filename)
    drv_cls = get_driver(fmt)
    drv = drv_cls(filename, read_only=read_only, options=options)  # type: ignore[call-arg]
    try:
        if backing and drv.supports_backing and drv.backing_filename:
            if filename.startswith("json:"):
                raise BlockError("json: pseudo-protocol file names are not supported", errno.ENOTSUP)
            name = drv.backing_filename
            path = resolve_backing(filename, name)
            if name.startswith("json:"):
                raise BlockError("Could not open backing file: json: backing file names are not supported",
                                 errno.ENOTSUP)
            seen = _chain + (os.path.realpath(filename),)
            if os.path.realpath(path) in seen:
                raise BlockError(f"Backing file '{name}' creates an infinite loop.", errno.ELOOP)
            bfmt = backing_fmt or drv.backing_format
            try:
                drv.backing = open_image(path, bfmt, read_only=True, backing=True, _chain=seen)
            except BlockError as exc:
                if exc.errno == errno.ELOOP:
                    raise
                raise BlockError(f"Could not open backing file: {exc}", exc.errno) from None
    except BaseException:
        drv.close()
        raise
    return drv


def create_image(filename: str, fmt: str, size: int | None, options: dict[str, Any] | None = None) -> None:
    """``qemu-img create``: ``options`` are the typed ``-o`` values (backing_file, cluster_size, ...).

    ``size`` may be None when a backing file gives it.
    """
    opts = dict(options or {})
    drv_cls = get_driver(fmt)
    if size is None:
        bfile = opts.get("backing_file")
        if not bfile:
            raise BlockError("Image creation needs a size parameter", errno.EINVAL)
        with open_image(resolve_backing(filename, bfile), opts.get("backing_fmt"), read_only=True) as b:
            size = b.size
    drv_cls.create(filename, size, opts)
