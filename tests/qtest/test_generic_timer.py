"""The generic timer as the CPU's CNT* registers see it: a 62.5 MHz count of the virtual
clock, CTL/CVAL/TVAL with ISTATUS and IMASK, per-CPU physical and virtual timers, and the
PPIs they drive through the GIC (the way Linux's arch_timer uses the virtual timer)."""
from __future__ import annotations

import pytest
from qtest_support import IrqProbe

from pyqemu.hw.timer.arm_generic_timer import FREQUENCY_HZ, HYP, PHYS, SEC, VIRT, ARMGenericTimer
from pyqemu.system import runstate as rs
from pyqemu.system.main_loop import MainLoop

TICK_NS = 16


@pytest.fixture
def loop():  # noqa: ANN201
    ml = MainLoop(rs.VMRunState())
    ml.configure_icount(0, sleep=False)     # virtual time = instructions: deterministic
    ml.clocks.enable()
    yield ml
    ml.close()


def advance(loop: MainLoop, ns: int) -> None:
    loop.icount_account(ns)
    loop.run_timers()


def make_timer(loop: MainLoop, num_cpu: int = 1) -> tuple[ARMGenericTimer, IrqProbe]:
    t = ARMGenericTimer(loop)
    t.num_cpu = num_cpu
    t.qdev_realize()
    probe = IrqProbe(4 * num_cpu)
    for n in range(4 * num_cpu):
        t.connect_gpio_out(n, probe.lines[n], "timer")
    return t, probe


def test_counter_runs_at_62_5_mhz(loop: MainLoop) -> None:
    t, _ = make_timer(loop)
    assert FREQUENCY_HZ == 62_500_000
    start = t.cntpct()
    advance(loop, 1_000_000)                 # 1 ms of virtual time
    assert t.cntpct() - start == 62_500
    loop.clocks.disable()                    # a stopped VM: the count stops
    frozen = t.cntpct()
    loop.icount_account(0)
    assert t.cntpct() == frozen


def test_virtual_timer_fires_at_cval(loop: MainLoop) -> None:
    t, probe = make_timer(loop)
    now = t.cntvct(0)
    t.write_cval(0, VIRT, now + 100)
    t.write_ctl(0, VIRT, 1)
    assert t.read_ctl(0, VIRT) == 1 and probe[VIRT] == 0
    assert t.next_deadline_ns() == (now + 100) * TICK_NS
    advance(loop, 99 * TICK_NS)
    assert probe[VIRT] == 0
    advance(loop, TICK_NS)
    assert t.read_ctl(0, VIRT) == 5 and probe[VIRT] == 1   # ENABLE | ISTATUS
    t.write_ctl(0, VIRT, 3)                                # IMASK: line drops, ISTATUS stays
    assert t.read_ctl(0, VIRT) == 7 and probe[VIRT] == 0
    t.write_ctl(0, VIRT, 1)
    assert probe[VIRT] == 1
    t.write_cval(0, VIRT, t.cntvct(0) + 1000)              # rearm in the future: condition clears
    assert t.read_ctl(0, VIRT) == 1 and probe[VIRT] == 0
    t.write_ctl(0, VIRT, 0)                                # disabled: no ISTATUS, no timer
    assert t.read_ctl(0, VIRT) == 0 and t.next_deadline_ns() == -1
    assert [probe[i] for i in (PHYS, HYP, SEC)] == [0, 0, 0]


def test_tval_is_a_signed_32bit_view(loop: MainLoop) -> None:
    t, probe = make_timer(loop)
    t.write_tval(0, PHYS, 50)
    t.write_ctl(0, PHYS, 1)
    assert t.read_tval(0, PHYS) == 50
    advance(loop, 20 * TICK_NS)
    assert t.read_tval(0, PHYS) == 30 and probe[PHYS] == 0
    advance(loop, 40 * TICK_NS)
    assert probe[PHYS] == 1
    assert t.read_tval(0, PHYS) == (-10) & 0xFFFFFFFF     # counts on past zero
    t.write_tval(0, PHYS, 0xFFFFFFF6)                      # negative: already expired
    assert probe[PHYS] == 1 and t.read_cval(0, PHYS) == t.cntpct() - 10


def test_cntvoff_moves_only_the_virtual_count(loop: MainLoop) -> None:
    t, probe = make_timer(loop, num_cpu=2)
    advance(loop, 1000 * TICK_NS)
    t.write_cntvoff(1, 400)
    assert t.cntvct(1) == t.cntpct() - 400 and t.cntvct(0) == t.cntpct()
    t.write_cval(1, VIRT, 700)                             # virtual count is 600
    t.write_ctl(1, VIRT, 1)
    t.write_cval(1, PHYS, 700)                             # physical count is 1000: fires
    t.write_ctl(1, PHYS, 1)
    assert probe[4 + PHYS] == 1 and probe[4 + VIRT] == 0 and probe[VIRT] == 0
    advance(loop, 100 * TICK_NS)
    assert probe[4 + VIRT] == 1 and probe[VIRT] == 0       # CPU 1's line only


def test_reset_lowers_everything(loop: MainLoop) -> None:
    t, probe = make_timer(loop)
    t.write_cval(0, VIRT, 0)
    t.write_ctl(0, VIRT, 1)
    assert probe[VIRT] == 1
    t.reset()
    assert probe[VIRT] == 0 and t.read_ctl(0, VIRT) == 0 and t.read_cval(0, VIRT) == 0


def test_state_roundtrip(loop: MainLoop) -> None:
    t, _ = make_timer(loop)
    t.write_cval(0, VIRT, 0)
    t.write_ctl(0, VIRT, 1)
    t2, probe2 = make_timer(loop)
    t2.vmstate_load(t.vmstate_save())
    assert probe2[VIRT] == 1 and t2.read_ctl(0, VIRT) == 5


def test_virtual_timer_interrupts_through_the_gic_on_virt(loop: MainLoop) -> None:
    """The board wires CPU 0's virtual timer to PPI 27; Linux enables it and takes the IRQ."""
    from pyqemu.hw.core.machine import create_machine
    from pyqemu.system import main_loop as main_loop_mod
    from pyqemu.system.machines import find_machine

    main_loop_mod.set_main(loop)
    try:
        _, machine = create_machine(find_machine("virt", "aarch64"), 128 << 20, {"dtb-randomness": "off"})
    finally:
        main_loop_mod.set_main(None)
    machine.reset()
    board = machine.board
    gic, timer = board.gic, board.timer
    cpu_irq = IrqProbe(1)
    gic.connect_irq(0, cpu_irq.lines[0])
    space = machine.address_space_memory
    space.store(0x08000000, 1, 4)                         # GICD_CTLR
    space.store(0x08000100, 1 << 27, 4)                   # enable PPI 27
    space.store(0x08010004, 0xF0, 4)                      # GICC_PMR
    space.store(0x08010000, 1, 4)                         # GICC_CTLR
    timer.write_tval(0, VIRT, 625)                        # 10 us
    timer.write_ctl(0, VIRT, 1)
    assert cpu_irq[0] == 0
    advance(loop, 10_000)
    assert cpu_irq[0] == 1
    assert space.load(0x0801000C, 4) == 27                # GICC_IAR
    timer.write_ctl(0, VIRT, 3)                           # the handler masks it
    space.store(0x08010010, 27, 4)                        # EOIR
    assert cpu_irq[0] == 0


def test_cpu_view_by_register_name(loop: MainLoop) -> None:
    """The shape target/arm's system-register file calls: read(reg) / write(reg, value)."""
    t, probe = make_timer(loop, num_cpu=2)
    view = t.cpu_view(1)
    view.write("CNTVOFF", 5)
    assert view.read("CNTVCT") == (view.read("CNTPCT") - 5) & ((1 << 64) - 1)
    view.write("CNTV_TVAL", 0)
    view.write("CNTV_CTL", 1)
    assert view.read("CNTV_CTL") == 5 and probe[4 + VIRT] == 1
    view.write("CNTP_CVAL", 1 << 40)
    assert view.read("CNTP_CVAL") == 1 << 40 and view.read("CNTHP_CTL") == 0
    with pytest.raises(KeyError):
        view.read("CNTX_CTL")
