"""VM run states, start/stop, and shutdown/reset/powerdown requests (QEMU's runstate.c).

The state machine follows QEMU 7.2's ``runstate_transitions_def``. Events for the
monitor (STOP, RESUME, RESET, POWERDOWN, SHUTDOWN) go to listeners registered
with :meth:`VMRunState.add_event_listener`; the QMP layer turns them into
messages. Requests (shutdown, reset, powerdown, vmstop) may come from any
thread; they are recorded and processed in the main loop by
:meth:`VMRunState.main_loop_should_exit`, as QEMU does.
"""
from __future__ import annotations

import contextlib
import enum
import sys
import threading
from collections.abc import Callable
from typing import Any


class RunState(enum.Enum):
    DEBUG = "debug"
    INMIGRATE = "inmigrate"
    INTERNAL_ERROR = "internal-error"
    IO_ERROR = "io-error"
    PAUSED = "paused"
    POSTMIGRATE = "postmigrate"
    PRELAUNCH = "prelaunch"
    FINISH_MIGRATE = "finish-migrate"
    RESTORE_VM = "restore-vm"
    RUNNING = "running"
    SAVE_VM = "save-vm"
    SHUTDOWN = "shutdown"
    SUSPENDED = "suspended"
    WATCHDOG = "watchdog"
    GUEST_PANICKED = "guest-panicked"
    COLO = "colo"


class ShutdownCause(enum.IntEnum):
    """QAPI ShutdownCause; the order matters (guest causes come last)."""

    NONE = 0
    HOST_ERROR = 1
    HOST_QMP_QUIT = 2
    HOST_QMP_SYSTEM_RESET = 3
    HOST_SIGNAL = 4
    HOST_UI = 5
    GUEST_SHUTDOWN = 6
    GUEST_RESET = 7
    GUEST_PANIC = 8
    SUBSYSTEM_RESET = 9
    SNAPSHOT_LOAD = 10

    @property
    def qapi_name(self) -> str:
        return self.name.lower().replace("_", "-")

    @property
    def by_guest(self) -> bool:
        """QEMU's shutdown_caused_by_guest()."""
        return self >= ShutdownCause.GUEST_SHUTDOWN and self != ShutdownCause.SUBSYSTEM_RESET


def _transitions() -> frozenset[tuple[RunState, RunState]]:
    R = RunState
    table = {
        R.PRELAUNCH: (R.INMIGRATE, R.RUNNING, R.FINISH_MIGRATE),
        R.DEBUG: (R.RUNNING, R.FINISH_MIGRATE, R.PRELAUNCH, R.SUSPENDED),
        R.INMIGRATE: (R.INTERNAL_ERROR, R.IO_ERROR, R.PAUSED, R.RUNNING, R.SHUTDOWN, R.SUSPENDED,
                      R.WATCHDOG, R.GUEST_PANICKED, R.FINISH_MIGRATE, R.PRELAUNCH, R.POSTMIGRATE,
                      R.COLO),
        R.INTERNAL_ERROR: (R.PAUSED, R.FINISH_MIGRATE, R.PRELAUNCH),
        R.IO_ERROR: (R.RUNNING, R.FINISH_MIGRATE, R.PRELAUNCH),
        R.PAUSED: (R.RUNNING, R.FINISH_MIGRATE, R.POSTMIGRATE, R.PRELAUNCH, R.COLO),
        R.POSTMIGRATE: (R.RUNNING, R.FINISH_MIGRATE, R.PRELAUNCH),
        R.FINISH_MIGRATE: (R.RUNNING, R.PAUSED, R.POSTMIGRATE, R.PRELAUNCH, R.COLO),
        R.RESTORE_VM: (R.RUNNING, R.PRELAUNCH),
        R.COLO: (R.RUNNING, R.PRELAUNCH, R.SHUTDOWN),
        R.RUNNING: (R.DEBUG, R.INTERNAL_ERROR, R.IO_ERROR, R.PAUSED, R.FINISH_MIGRATE, R.RESTORE_VM,
                    R.SAVE_VM, R.SHUTDOWN, R.WATCHDOG, R.GUEST_PANICKED, R.COLO, R.SUSPENDED),
        R.SAVE_VM: (R.RUNNING,),
        R.SHUTDOWN: (R.PAUSED, R.FINISH_MIGRATE, R.PRELAUNCH, R.COLO),
        R.SUSPENDED: (R.RUNNING, R.FINISH_MIGRATE, R.PRELAUNCH, R.COLO),
        R.WATCHDOG: (R.RUNNING, R.FINISH_MIGRATE, R.PRELAUNCH, R.COLO),
        R.GUEST_PANICKED: (R.RUNNING, R.FINISH_MIGRATE, R.PRELAUNCH),
    }
    return frozenset((a, b) for a, bs in table.items() for b in bs)


TRANSITIONS = _transitions()

EventListener = Callable[[str, dict[str, Any]], None]
StateHandler = Callable[[bool, RunState], None]


class InvalidTransition(RuntimeError):
    pass


class VMRunState:
    """The VM's run state, its listeners and its pending requests."""

    def __init__(self) -> None:
        self.state = RunState.PRELAUNCH
        self.no_shutdown = False   # -no-shutdown: guest shutdown pauses instead of exiting
        self.no_reboot = False     # -no-reboot: a reset request becomes a shutdown
        self.panic_exit_failure = False
        self._events: list[EventListener] = []
        self._state_handlers: list[StateHandler] = []
        self._reset_handlers: list[Callable[[ShutdownCause], None]] = []
        self._powerdown_notifiers: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._shutdown_req = ShutdownCause.NONE
        self._reset_req = ShutdownCause.NONE
        self._powerdown_req = False
        self._vmstop_req: RunState | None = None
        self._shutdown_signal: int | None = None
        self._force_poweroff = False
        # Set by the main loop: wakes it from any thread (qemu_notify_event).
        self.notify: Callable[[], None] = lambda: None

    # --- state ---------------------------------------------------------------
    def get(self) -> RunState:
        return self.state

    def check(self, state: RunState) -> bool:
        return self.state is state

    def is_running(self) -> bool:
        return self.state is RunState.RUNNING

    def needs_reset(self) -> bool:
        """QEMU's runstate_needs_reset(): `cont` is refused in these states."""
        return self.state in (RunState.INTERNAL_ERROR, RunState.SHUTDOWN)

    def set(self, new: RunState) -> None:
        if new is self.state:
            return
        if (self.state, new) not in TRANSITIONS:
            raise InvalidTransition(f"invalid runstate transition: '{self.state.value}' -> '{new.value}'")
        self.state = new

    # --- listeners -----------------------------------------------------------
    def add_event_listener(self, cb: EventListener) -> Callable[[], None]:
        """Call cb(event_name, data) for STOP, RESUME, RESET, POWERDOWN, SHUTDOWN; returns a remover."""
        self._events.append(cb)
        return lambda: self._events.remove(cb)

    def add_vm_change_state_handler(self, cb: StateHandler) -> Callable[[], None]:
        """cb(running, state) after every start/stop (QEMU's vm_state_notify)."""
        self._state_handlers.append(cb)
        return lambda: self._state_handlers.remove(cb)

    def register_reset(self, cb: Callable[[ShutdownCause], None]) -> Callable[[], None]:
        """Machine reset hook, called by the system reset (QEMU's qemu_register_reset)."""
        self._reset_handlers.append(cb)
        return lambda: self._reset_handlers.remove(cb)

    def add_powerdown_notifier(self, cb: Callable[[], None]) -> Callable[[], None]:
        """The board's ACPI/GPIO power button (QEMU's qemu_register_powerdown_notifier)."""
        self._powerdown_notifiers.append(cb)
        return lambda: self._powerdown_notifiers.remove(cb)

    def emit(self, name: str, data: dict[str, Any] | None = None) -> None:
        for cb in list(self._events):
            cb(name, {} if data is None else data)

    def _notify_state(self, running: bool, state: RunState) -> None:
        for cb in list(self._state_handlers):
            cb(running, state)

    # --- start / stop --------------------------------------------------------
    def vm_start(self) -> None:
        """Start or resume the VM (QEMU's vm_start/vm_prepare_start)."""
        with self._lock:
            requested, self._vmstop_req = self._vmstop_req, None
        if self.is_running():
            if requested is not None:
                # A stop request raced with this start: report both halves.
                self.emit("STOP")
                self.emit("RESUME")
            return
        self.emit("RESUME")
        self.set(RunState.RUNNING)
        self._notify_state(True, RunState.RUNNING)
        self.notify()

    def vm_stop(self, state: RunState = RunState.PAUSED, send_stop: bool = True) -> None:
        """Stop the VM in `state` (QEMU's do_vm_stop); nothing happens unless it runs."""
        if self.is_running():
            self.set(state)
            self._notify_state(False, state)
            if send_stop:
                self.emit("STOP")
        self.notify()

    def vm_stop_force_state(self, state: RunState) -> None:
        """Stop if running, else just move to `state` (QEMU's vm_stop_force_state)."""
        if self.is_running():
            self.vm_stop(state)
        else:
            self.set(state)

    # --- requests (any thread) -----------------------------------------------
    def vm_stop_request(self, state: RunState) -> None:
        """Stop from a vCPU or worker thread: done by the main loop."""
        with self._lock:
            self._vmstop_req = state
        self.notify()

    def shutdown_request(self, cause: ShutdownCause) -> None:
        with self._lock:
            self._shutdown_req = cause
        self.notify()

    def reset_request(self, cause: ShutdownCause) -> None:
        with self._lock:
            if self.no_reboot and cause != ShutdownCause.SUBSYSTEM_RESET:
                self._shutdown_req = cause
            else:
                self._reset_req = cause
        self.notify()

    def powerdown_request(self) -> None:
        with self._lock:
            self._powerdown_req = True
        self.notify()

    def quit_request(self) -> None:
        """QMP `quit`: exits even with -no-shutdown."""
        self._force_poweroff = True
        self.shutdown_request(ShutdownCause.HOST_QMP_QUIT)

    def quit_request_ui(self) -> None:
        """Ctrl-A x on a mux: exits even with -no-shutdown."""
        self._force_poweroff = True
        self.shutdown_request(ShutdownCause.HOST_UI)

    def killed(self, signum: int) -> None:
        """A terminating signal (QEMU's qemu_system_killed): always exits."""
        self._shutdown_signal = signum
        self._force_poweroff = True
        self.shutdown_request(ShutdownCause.HOST_SIGNAL)

    def guest_panicked(self) -> None:
        """Guest panic: GUEST_PANICKED, then pause (-no-shutdown) or shut down."""
        self.emit("GUEST_PANICKED", {"action": "pause" if self.no_shutdown else "poweroff"})
        self.vm_stop(RunState.GUEST_PANICKED)
        if not self.no_shutdown:
            self.shutdown_request(ShutdownCause.GUEST_PANIC)

    def has_pending_requests(self) -> bool:
        return bool(self._shutdown_req or self._reset_req or self._powerdown_req
                    or self._vmstop_req is not None)

    # --- processing (main loop) ----------------------------------------------
    def system_reset(self, cause: ShutdownCause) -> None:
        """Reset the machine now (QEMU's qemu_system_reset)."""
        for cb in list(self._reset_handlers):
            cb(cause)
        if cause != ShutdownCause.SUBSYSTEM_RESET:
            self.emit("RESET", {"guest": cause.by_guest, "reason": cause.qapi_name})

    def main_loop_should_exit(self) -> tuple[bool, int]:
        """Process pending requests; returns (exit, status) like QEMU's main_loop_should_exit()."""
        with self._lock:
            stop_req, self._vmstop_req = self._vmstop_req, None
            shutdown, self._shutdown_req = self._shutdown_req, ShutdownCause.NONE
        if stop_req is not None:
            self.vm_stop(stop_req)
        if shutdown:
            if self._shutdown_signal is not None:
                prog = _progname()
                with contextlib.suppress(OSError, ValueError):  # stderr may be a closed pipe
                    sys.stderr.write(f"{prog}: terminating on signal {self._shutdown_signal}\n")
                    sys.stderr.flush()
                self._shutdown_signal = None
            self.emit("SHUTDOWN", {"guest": shutdown.by_guest, "reason": shutdown.qapi_name})
            if self.no_shutdown and not self._force_poweroff:
                self.vm_stop(RunState.SHUTDOWN)
            else:
                failed = shutdown == ShutdownCause.GUEST_PANIC and self.panic_exit_failure
                return True, 1 if failed else 0
        with self._lock:
            reset, self._reset_req = self._reset_req, ShutdownCause.NONE
        if reset:
            self.system_reset(reset)
            if self.state not in (RunState.RUNNING, RunState.INMIGRATE, RunState.FINISH_MIGRATE):
                self.set(RunState.PRELAUNCH)
        with self._lock:
            powerdown, self._powerdown_req = self._powerdown_req, False
        if powerdown:
            self.emit("POWERDOWN")
            for cb in list(self._powerdown_notifiers):
                cb()
        return False, 0


def _progname() -> str:
    import os
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "pyqemu"


_current = VMRunState()


def current() -> VMRunState:
    """The process's run state (QEMU's globals)."""
    return _current


def set_current(rs: VMRunState) -> VMRunState:
    """Replace the process's run state (tests, and vl.py when building a machine)."""
    global _current
    _current = rs
    return rs
