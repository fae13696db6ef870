"""Keep Python's cyclic garbage collector off the emulator's long-lived objects.

A Linux boot builds tens of thousands of translation blocks, each with its function, globals
and IR: millions of objects that live as long as the code does. CPython's full collections
walk all of them, again each time the live set grows by a quarter; in one measured boot that
came to 17 full collections and 6 s of a 55 s boot. After each middle or full collection the
survivors are moved out of the collector's sight (``gc.freeze()``), so the next one walks only
what is new. Frozen objects that later become cyclic garbage (an invalidated block) would stay, so
the frozen set is handed back (``gc.unfreeze()``, and the next full collection walks all)
every ``RESCAN_SECONDS``.
"""
from __future__ import annotations

import gc
import os
import time

RESCAN_SECONDS = 120.0
# Survivors of collections of this generation and older are frozen: of the middle one
# (gen 1), not only of full ones, since with everything older frozen the full collections'
# "a quarter more than last time" rule held after every tenth middle one (58 full
# collections, 0.7-1.2 s of a 12 s Linux boot; 0.7 s for all collections together now).
FREEZE_GENERATION = 1

_state = {"installed": False, "since": 0.0, "rescan": False}


def _after_collection(phase: str, info: dict) -> None:
    if phase != "stop":
        return
    generation = info.get("generation", 0)
    now = time.monotonic()  # (not gc.get_freeze_count(): it walks the frozen objects)
    if _state["rescan"]:  # frozen objects were handed back: freeze again after a full walk
        if generation == 2:
            _state["rescan"] = False
            _state["since"] = now
            gc.freeze()
        return
    if generation < FREEZE_GENERATION:
        return
    if now - _state["since"] > RESCAN_SECONDS:
        gc.unfreeze()  # the next full collection looks at everything again
        _state["rescan"] = True
        return
    gc.freeze()


def install() -> None:
    """Freeze the survivors of every full collection (idempotent; PYQEMU_GC_FREEZE=0: don't)."""
    if _state["installed"] or os.environ.get("PYQEMU_GC_FREEZE", "1") == "0":
        return
    _state["installed"] = True
    _state["since"] = time.monotonic()
    gc.callbacks.append(_after_collection)
