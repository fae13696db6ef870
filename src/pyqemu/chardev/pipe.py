"""The pipe chardev: ``path.in``/``path.out`` FIFOs, or one ``path`` for both directions."""
from __future__ import annotations

import os
from typing import Any

from pyqemu.chardev.char import CHR_EVENT_OPENED, ChardevError, FdChardev, register_backend


@register_backend("pipe")
class PipeChardev(FdChardev):
    backend = "pipe"

    def __init__(self, id: str, opts: dict[str, Any]):
        super().__init__(id, opts)
        path = opts.get("path")
        if not path:
            raise ChardevError("chardev: pipe: no filename given")
        try:
            fin = os.open(path + ".in", os.O_RDWR | os.O_NONBLOCK)
            fout = os.open(path + ".out", os.O_RDWR | os.O_NONBLOCK)
        except OSError:
            try:
                fin = fout = os.open(path, os.O_RDWR | os.O_NONBLOCK)
            except OSError as e:
                raise ChardevError(f"Could not open '{path}': {e.strerror}") from None
        self.set_fds(fin, fout)
        self.be_event(CHR_EVENT_OPENED)
