"""The file chardev: output to ``path=`` (``append=on`` keeps old contents), input from ``in=``."""
from __future__ import annotations

import os
from typing import Any

from pyqemu.chardev.char import CHR_EVENT_OPENED, ChardevError, FdChardev, opt_bool, register_backend


@register_backend("file")
class FileChardev(FdChardev):
    backend = "file"

    def __init__(self, id: str, opts: dict[str, Any]):
        super().__init__(id, opts)
        path = opts.get("path")
        if not path:
            raise ChardevError("chardev: file: no filename given")
        flags = os.O_WRONLY | os.O_CREAT
        flags |= os.O_APPEND if opt_bool(opts, "append", False) else os.O_TRUNC
        try:
            out = os.open(path, flags, 0o666)
            fin = os.open(opts["in"], os.O_RDONLY) if opts.get("in") else None
        except OSError as e:
            raise ChardevError(f"Could not open '{e.filename}': {e.strerror}") from None
        self.set_fds(fin, out)
        self.be_event(CHR_EVENT_OPENED)
