"""QMP events: subsystems emit, every negotiated QMP session receives.

``emit`` is safe from any thread (KVM vCPU threads, block workers): off the
loop thread it hands the event to the loop, keeping the timestamp of the
moment it happened. Events are delivered in emission order, and an event
emitted while a command runs goes out before that command's reply (``stop``
sends STOP, then ``{"return": {}}``, as QEMU does).
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

Listener = Callable[[dict[str, Any]], None]


def timestamp() -> dict[str, int]:
    """QEMU's event timestamp: wall clock, seconds and microseconds."""
    us = time.time_ns() // 1000
    return {"seconds": us // 1_000_000, "microseconds": us % 1_000_000}


def make_event(name: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"event": name, "timestamp": timestamp()}
    if data is not None:
        msg["data"] = data
    return msg


class EventBus:
    """Fan-out of events to listeners (QMP sessions, tests, HMP)."""

    def __init__(self, known: Callable[[str], bool] | None = None) -> None:
        self._listeners: list[Listener] = []
        self._known = known
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver from this loop's thread (call from that thread)."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns the function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
        return remove

    def emit(self, name: str, data: dict[str, Any] | None = None) -> None:
        """Send event ``name`` (with optional ``data``) to every listener."""
        if self._known is not None and not self._known(name):
            raise ValueError(f"QMP event {name} is not registered")
        msg = make_event(name, data)
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread and not loop.is_closed():
            loop.call_soon_threadsafe(self._deliver, msg)
        else:
            self._deliver(msg)

    def _deliver(self, msg: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            listener(msg)
