"""Character devices (QEMU's chardev/): see char.py."""
from pyqemu.chardev.char import (  # noqa: F401
    CHR_EVENT_BREAK,
    CHR_EVENT_CLOSED,
    CHR_EVENT_MUX_IN,
    CHR_EVENT_MUX_OUT,
    CHR_EVENT_OPENED,
    CharBackend,
    Chardev,
    ChardevError,
    chardev_find,
    chardev_new,
    chardev_remove,
    parse_compat,
    query_chardev,
)
