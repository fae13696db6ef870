"""The native tier's background compiler stops before the process exits.

A process that exits while that thread is inside LLVM crashes in LLVM's static destructors
(U-Boot's ``poweroff`` ended in SIGSEGV about once in ten fresh-cache boots). ``stop()``
drops the queued compilations and waits for the one running.
"""
from __future__ import annotations

import sys
import threading

from pyqemu.accel.tcg.native import _Worker


class SlowTier:
    """Stands in for a NativeTier: each compilation blocks until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.compiled: list[int] = []

    def _compile(self, head: int, code: object, logging: bool) -> None:
        self.started.set()
        self.release.wait(10)
        self.compiled.append(head)


def test_stop_waits_for_the_running_compilation_and_drops_the_queue() -> None:
    before = sys.getswitchinterval()
    tier = SlowTier()
    worker = _Worker()
    for head in (1, 2, 3):
        worker.submit(tier, head, None, False, lambda *a: True)
    assert tier.started.wait(10)
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive()  # the compilation in LLVM is not cut short
    tier.release.set()
    stopper.join(10)
    assert not stopper.is_alive() and not worker.thread.is_alive()
    assert tier.compiled == [1]  # the queued ones were dropped
    assert sys.getswitchinterval() == before  # (shortened while compilations were pending)
