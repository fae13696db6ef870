"""Exceptions raised out of translated code."""
from __future__ import annotations


class GuestException(Exception):
    """A synchronous guest exception at a known guest pc.

    `kind` is one of ``segv`` (translation/permission fault), ``bus``
    (alignment), ``ill`` (undefined instruction), ``trap`` (breakpoint),
    ``fpe``. In user mode the CPU loop turns it into a signal; in system mode
    into an architectural exception.
    """

    def __init__(self, kind: str, addr: int = 0, write: bool = False, code: int = 0,
                 pc: int | None = None) -> None:
        super().__init__(kind, addr)
        self.kind = kind
        self.addr = addr
        self.write = write
        self.code = code  # si_code (user mode) or syndrome detail
        self.pc = pc

    def __str__(self) -> str:
        pc = f" at pc {self.pc:#x}" if self.pc is not None else ""
        return f"guest {self.kind} (addr {self.addr:#x}){pc}"


class GuestExit(Exception):
    """The guest asked to end the process (exit_group) with `status`."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class InternalError(Exception):
    """A bug in pyqemu while running guest code at `pc`."""
