"""Guest signals: dispositions, masks, queues, delivery (minimal version)."""
from __future__ import annotations

import os
import resource
import signal as host_signal
import sys

SIGNAL_NAMES = {1: "Hangup", 2: "Interrupt", 3: "Quit", 4: "Illegal instruction",
                5: "Trace/breakpoint trap", 6: "Aborted", 7: "Bus error",
                8: "Floating point exception", 9: "Killed", 11: "Segmentation fault",
                13: "Broken pipe", 14: "Alarm clock", 15: "Terminated"}
CORE_SIGNALS = {3, 4, 5, 6, 7, 8, 11, 24, 25, 31}


def die_by_signal(sig: int) -> None:
    """End the emulator the way the guest would have died (QEMU's message)."""
    core = sig in CORE_SIGNALS
    name = SIGNAL_NAMES.get(sig, f"Unknown signal {sig}")
    sys.stdout.flush()
    sys.stderr.write(f"qemu: uncaught target signal {sig} ({name})"
                     f"{' - core dumped' if core else ''}\n")
    sys.stderr.flush()
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    host_signal.signal(sig, host_signal.SIG_DFL)
    host_signal.pthread_sigmask(host_signal.SIG_UNBLOCK, [sig])
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)


class SignalState:
    """Per-process signal dispositions and pending signals."""

    def __init__(self, proc) -> None:
        self.proc = proc
        self.actions: dict[int, tuple[int, int, int, int]] = {}  # handler, flags, restorer, mask

    def force_sync(self, cpu, sig: int, code: int, addr: int) -> None:
        die_by_signal(sig)

    def deliver_pending(self, cpu) -> None:
        return
