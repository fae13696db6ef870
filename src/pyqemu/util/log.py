"""QEMU-style logging: ``-d item,item`` masks and ``-D logfile``."""
from __future__ import annotations

import sys
from typing import TextIO

ITEMS: dict[str, str] = {
    "out_asm": "show generated host (Python) code for each compiled TB",
    "in_asm": "show target assembly code for each compiled TB",
    "op": "show micro ops for each compiled TB",
    "op_opt": "show micro ops after optimization",
    "int": "show interrupts/exceptions in short format",
    "exec": "show trace before each executed TB (lots of logs)",
    "cpu": "show CPU registers before entering a TB (lots of logs)",
    "mmu": "log MMU-related activities",
    "nochain": "do not chain compiled TBs so that \"exec\" and \"cpu\" show complete traces",
    "unimp": "log unimplemented functionality",
    "guest_errors": "log when the guest OS does something invalid (eg accessing a non-existent register)",
    "page": "dump pages at beginning of user mode emulation",
    "strace": "log every user-mode syscall, its input, and its result",
}

_enabled: set[str] = set()
_out: TextIO = sys.stderr


def enabled(item: str) -> bool:
    return item in _enabled


def set_mask(spec: str) -> None:
    """Enable the comma-separated items of `spec`; ValueError on a bad item."""
    items = set()
    for it in spec.split(","):
        it = it.strip()
        if not it:
            continue
        if it == "all":
            items |= set(ITEMS)
            continue
        if it not in ITEMS:
            raise ValueError(it)
        items.add(it)
    _enabled.clear()
    _enabled.update(items)


def set_file(path: str) -> None:
    global _out
    _out = open(path, "a", buffering=1)  # noqa: SIM115 - lives for the process


def help_text() -> str:
    lines = ["Log items (comma separated):"]
    for k, v in ITEMS.items():
        lines.append(f"{k:<15} {v}")
    return "\n".join(lines)


def log(msg: str) -> None:
    _out.write(msg if msg.endswith("\n") else msg + "\n")


def write(text: str) -> None:
    """Write `text` as is (no newline added) and flush: for lines built in pieces (-strace)."""
    _out.write(text)
    _out.flush()


def unimp(msg: str) -> None:
    if "unimp" in _enabled:
        log(msg)


def guest_error(msg: str) -> None:
    if "guest_errors" in _enabled:
        log(msg)
