"""Main loop (timers, bottom halves, fd handlers, workers, vCPU slices, icount) and run states."""
from __future__ import annotations

import os
import threading
import time

import pytest

from pyqemu.system import runstate as rs
from pyqemu.system.main_loop import ClockType, MainLoop


@pytest.fixture
def loop():
    state = rs.VMRunState()
    ml = MainLoop(state)
    yield ml
    ml.close()


def test_timers_fire_in_order(loop):
    order = []
    now = loop.clock_get_ns(ClockType.REALTIME)
    for i, delay_ms in enumerate((30, 10, 20)):
        t = loop.new_timer(ClockType.REALTIME, lambda i=i: order.append(i))
        t.mod_ns(now + delay_ms * 1_000_000)
    dead = loop.new_timer(ClockType.REALTIME, lambda: order.append("deleted"))
    dead.mod_ns(now + 5_000_000)
    dead.del_()
    assert not dead.pending()
    assert loop.run_until(lambda: len(order) == 3, 2)
    loop.run_for(0.02)
    assert order == [1, 2, 0]


def test_timer_remod_and_deadline(loop):
    hits = []
    t = loop.new_timer(ClockType.REALTIME, lambda: hits.append(1))
    now = loop.clock_get_ns(ClockType.REALTIME)
    t.mod_ns(now + 10_000_000_000)
    assert 9_000_000_000 < loop.deadline_ns(ClockType.REALTIME) <= 10_000_000_000
    t.mod_ns(now + 5_000_000)          # re-arming moves it earlier
    assert loop.run_until(lambda: hits, 2)
    loop.run_for(0.02)
    assert hits == [1] and loop.deadline_ns(ClockType.REALTIME) == -1


def test_bh_from_thread_and_worker_completion(loop):
    events = []
    main = threading.get_ident()
    bh = loop.new_bh(lambda: events.append(("bh", threading.get_ident() == main)))
    threading.Thread(target=bh.schedule).start()

    def work():
        time.sleep(0.01)
        return 42

    loop.run_in_worker(work, lambda r, e: events.append(("done", r, e, threading.get_ident() == main)))
    loop.run_in_worker(lambda: 1 / 0, lambda r, e: events.append(("err", type(e).__name__)))
    assert loop.run_until(lambda: len(events) == 3, 3)
    assert ("bh", True) in events and ("done", 42, None, True) in events
    assert ("err", "ZeroDivisionError") in events


def test_bh_schedule_coalesces(loop):
    n = []
    bh = loop.new_bh(lambda: n.append(1))
    bh.schedule()
    bh.schedule()
    loop.run_for(0.01)
    assert n == [1]


def test_fd_handler(loop):
    r, w = os.pipe()
    got = []

    def on_read():
        got.append(os.read(r, 100))
        loop.set_fd_handler(r, None, None)

    loop.set_fd_handler(r, on_read, None)
    os.write(w, b"ping")
    assert loop.run_until(lambda: got, 2)
    assert got == [b"ping"]
    os.close(r)
    os.close(w)


def test_virtual_clock_stops_with_vm(loop):
    state = loop.runstate
    assert loop.clock_get_ns(ClockType.VIRTUAL) == 0
    state.vm_start()
    loop.run_for(0.02)
    v1 = loop.clock_get_ns(ClockType.VIRTUAL)
    assert v1 >= 15_000_000
    state.vm_stop()
    v2 = loop.clock_get_ns(ClockType.VIRTUAL)
    loop.run_for(0.02)
    assert loop.clock_get_ns(ClockType.VIRTUAL) == v2
    fired = []
    t = loop.new_timer(ClockType.VIRTUAL, lambda: fired.append(1))
    t.mod_ns(v2 + 1_000_000)
    loop.run_for(0.02)
    assert not fired                     # a stopped VM's virtual timers do not fire
    state.vm_start()
    assert loop.run_until(lambda: fired, 2)


def test_vcpu_runner_slices_and_halt(loop):
    """A fake vCPU that runs 5 slices, halts, and is woken by a timer 'interrupt'."""
    slices = []
    cpu = {"halted": False, "todo": 5}

    def runner(budget):
        if cpu["halted"]:
            return False
        slices.append(budget)
        cpu["todo"] -= 1
        if cpu["todo"] == 0:
            cpu["halted"] = True
        return not cpu["halted"]

    loop.set_vcpu_runner(runner)
    loop.run_for(0.01)
    assert slices == []                  # prelaunch: vCPUs don't run
    loop.runstate.vm_start()
    loop.run_for(0.02)
    assert len(slices) == 5

    def irq():
        cpu["halted"], cpu["todo"] = False, 2

    t = loop.new_timer(ClockType.REALTIME, irq)
    t.mod_ns(loop.clock_get_ns(ClockType.REALTIME) + 5_000_000)
    assert loop.run_until(lambda: len(slices) == 7, 2)


def test_timers_fire_while_vcpus_stay_busy(loop):
    """A vCPU that never halts must not starve virtual-clock timers (the guest's timer IRQ)."""
    slices = []
    fired = []
    loop.set_vcpu_runner(lambda budget: slices.append(budget) or True)
    loop.runstate.vm_start()
    t = loop.new_timer(ClockType.VIRTUAL, lambda: fired.append(len(slices)))
    t.mod_ns(loop.clock_get_ns(ClockType.VIRTUAL) + 2_000_000)
    assert loop.run_until(lambda: bool(fired), 2), f"timer starved after {len(slices)} slices"
    assert fired[0] > 0


def test_icount_shift(loop):
    loop.configure_icount(3, sleep=False)          # 8 ns per instruction
    fired = []

    def runner(budget):
        loop.icount_account(budget)
        return not fired

    t = loop.new_timer(ClockType.VIRTUAL,
                       lambda: fired.append((loop.clock_get_ns(ClockType.VIRTUAL), loop.clocks.icount)))
    t.mod_ns(8 * 1000)
    loop.set_vcpu_runner(runner)
    loop.runstate.vm_start()
    assert loop.run_until(lambda: fired, 2)
    # The slice is cut at the deadline: exactly 1000 instructions ran.
    assert fired == [(8000, 1000)]


def test_icount_idle_warp_sleep_off(loop):
    loop.configure_icount(0, sleep=False)
    fired = []
    loop.set_vcpu_runner(lambda budget: False)    # always halted
    t = loop.new_timer(ClockType.VIRTUAL, lambda: fired.append(loop.clock_get_ns(ClockType.VIRTUAL)))
    t.mod_ns(10**12)                              # 1000 s of guest time, reached at once
    loop.runstate.vm_start()
    assert loop.run_until(lambda: fired, 1)
    assert fired == [10**12]


# --- run states ----------------------------------------------------------------

def events_of(state):
    ev = []
    state.add_event_listener(lambda name, data: ev.append((name, data)))
    return ev


def test_start_stop_events_and_transitions():
    s = rs.VMRunState()
    ev = events_of(s)
    assert s.get() is rs.RunState.PRELAUNCH
    s.vm_start()
    s.vm_start()                                   # already running: nothing
    s.vm_stop(rs.RunState.PAUSED)
    s.vm_stop(rs.RunState.PAUSED)                  # already stopped: nothing
    assert ev == [("RESUME", {}), ("STOP", {})]
    assert s.get() is rs.RunState.PAUSED
    with pytest.raises(rs.InvalidTransition, match="'paused' -> 'save-vm'"):
        s.set(rs.RunState.SAVE_VM)
    assert (rs.RunState.RUNNING, rs.RunState.SAVE_VM) in rs.TRANSITIONS


def test_shutdown_exits_with_event():
    s = rs.VMRunState()
    ev = events_of(s)
    loop = MainLoop(s)
    s.vm_start()
    loop.aio.call_later(0.01, s.quit_request)
    assert loop.run() == 0
    assert ev[-1] == ("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})
    loop.close()


def test_no_shutdown_pauses_and_no_reboot_shuts_down():
    s = rs.VMRunState()
    s.no_shutdown = True
    ev = events_of(s)
    s.vm_start()
    s.shutdown_request(rs.ShutdownCause.GUEST_SHUTDOWN)
    assert s.main_loop_should_exit() == (False, 0)
    assert s.get() is rs.RunState.SHUTDOWN and s.needs_reset()
    assert ev[-2:] == [("SHUTDOWN", {"guest": True, "reason": "guest-shutdown"}), ("STOP", {})]
    # A reset from shutdown goes back to prelaunch; RESET carries its cause.
    s.reset_request(rs.ShutdownCause.HOST_QMP_SYSTEM_RESET)
    assert s.main_loop_should_exit() == (False, 0)
    assert ev[-1] == ("RESET", {"guest": False, "reason": "host-qmp-system-reset"})
    assert s.get() is rs.RunState.PRELAUNCH

    s2 = rs.VMRunState()
    s2.no_reboot = True
    ev2 = events_of(s2)
    s2.vm_start()
    s2.reset_request(rs.ShutdownCause.GUEST_RESET)
    assert s2.main_loop_should_exit() == (True, 0)
    assert ev2[-1] == ("SHUTDOWN", {"guest": True, "reason": "guest-reset"})


def test_reset_while_running_and_powerdown():
    s = rs.VMRunState()
    ev = events_of(s)
    resets = []
    s.register_reset(resets.append)
    pressed = []
    s.add_powerdown_notifier(lambda: pressed.append(1))
    s.vm_start()
    s.reset_request(rs.ShutdownCause.GUEST_RESET)
    s.powerdown_request()
    assert s.main_loop_should_exit() == (False, 0)
    assert resets == [rs.ShutdownCause.GUEST_RESET] and pressed == [1]
    assert s.is_running()
    assert ev[-2:] == [("RESET", {"guest": True, "reason": "guest-reset"}), ("POWERDOWN", {})]


def test_signal_exits_even_with_no_shutdown(capsys):
    s = rs.VMRunState()
    s.no_shutdown = True
    ev = events_of(s)
    s.vm_start()
    s.killed(15)
    assert s.main_loop_should_exit() == (True, 0)
    assert ev[-1] == ("SHUTDOWN", {"guest": False, "reason": "host-signal"})
    assert "terminating on signal 15" in capsys.readouterr().err


def test_stop_request_from_vcpu_thread(loop):
    state = loop.runstate
    ev = events_of(state)
    state.vm_start()
    threading.Thread(target=state.vm_stop_request, args=(rs.RunState.DEBUG,)).start()
    assert loop.run_until(lambda: state.get() is rs.RunState.DEBUG, 2)
    assert ev == [("RESUME", {}), ("STOP", {})]
