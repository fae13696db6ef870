"""The null chardev: output is discarded, no input."""
from __future__ import annotations

from typing import Any

from pyqemu.chardev.char import CHR_EVENT_OPENED, Chardev, register_backend


@register_backend("null", "msmouse", "braille", "testdev")
class NullChardev(Chardev):
    backend = "null"

    def __init__(self, id: str, opts: dict[str, Any]):
        super().__init__(id, opts)
        self.be_event(CHR_EVENT_OPENED)
