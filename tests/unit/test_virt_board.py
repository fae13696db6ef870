"""The virt board through the interface CPUs plug into (``VirtCPU``, ``set_cpu_factory``): GIC
outputs reach each CPU's IRQ/FIQ inputs, the generic timer is handed to the CPUs and drives
their PPIs, boot entry and power state per CPU, the GICv2m MSI frame, and ``-M help``."""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from conftest import unavailable

from pyqemu.hw.arm import virt
from pyqemu.hw.core.irq import IRQ, IRQOut
from pyqemu.hw.core.machine import create_machine
from pyqemu.hw.timer.arm_generic_timer import VIRT, ARMGenericTimer
from pyqemu.system.machines import find_machine, machine_help

GICD, GICC, V2M = 0x08000000, 0x08010000, 0x08020000


class FakeCPU:
    """The smallest CPU the board accepts: it records what the board does to it."""

    def __init__(self, cpu_type: str, index: int, mp_affinity: int) -> None:
        self.cpu_type, self.index, self.mp_affinity = cpu_type, index, mp_affinity
        self.lines = [0, 0, 0, 0]
        self.timer: tuple[ARMGenericTimer, int] | None = None
        self.resets: list[tuple[int, dict[int, int], bool]] = []
        self.pmu_interrupt = IRQOut()

    def irq_input(self, n: int) -> IRQ:
        return IRQ(self._set, n)

    def _set(self, n: int, level: int) -> None:
        self.lines[n] = level

    def attach_generic_timer(self, timer: ARMGenericTimer, index: int) -> None:
        self.timer = (timer, index)

    def boot_reset(self, pc: int, regs: Mapping[int, int], powered_off: bool) -> None:
        self.resets.append((pc, dict(regs), powered_off))


@pytest.fixture
def cpus() -> Iterator[list[FakeCPU]]:
    made: list[FakeCPU] = []

    def factory(_machine, cpu_type: str, index: int, aff: int) -> FakeCPU:
        cpu = FakeCPU(cpu_type, index, aff)
        made.append(cpu)
        return cpu

    virt.set_cpu_factory(factory)
    yield made
    virt.set_cpu_factory(None)


def make(n: int = 2, ram: int = 256 << 20, **opts: str):  # noqa: ANN201
    topo = {"cpus": n, "maxcpus": n, "threads": 1, "cores": n, "dies": 1, "sockets": 1, "clusters": 1}
    _, machine = create_machine(find_machine("virt", "aarch64"), ram,
                                {"cpu-type": "cortex-a57", **opts}, topo)
    machine.reset()
    return machine


def test_cpus_get_their_irq_and_fiq_lines(cpus: list[FakeCPU]) -> None:
    m = make(2)
    board = m.board
    assert [c.mp_affinity for c in cpus] == [0, 1] and m.cpus == cpus
    s = m.address_space_memory
    for i in (0, 1):
        board.current_cpu = i                               # the scheduler says who runs
        s.store(GICD, 1, 4)
        s.store(GICC + 4, 0xF0, 4)
        s.store(GICC, 1, 4)
    board.current_cpu = 0
    s.store(GICD + 0xF00, (2 << 16) | 1, 4)                  # SGI 1 to CPU 1
    assert cpus[1].lines == [1, 0, 0, 0] and cpus[0].lines == [0, 0, 0, 0]
    board.current_cpu = 1
    assert s.load(GICC + 0xC, 4) == 1
    s.store(GICC, 1 | 8, 4)                                  # CPU 1 takes group 0 as FIQ
    s.store(GICC + 0x10, 1, 4)
    board.current_cpu = 0
    s.store(GICD + 0xF00, (2 << 16) | 2, 4)
    assert cpus[1].lines == [0, 1, 0, 0]


def test_timer_is_handed_to_the_cpus_and_drives_their_ppis(cpus: list[FakeCPU]) -> None:
    m = make(2)
    timer, index = cpus[1].timer
    assert index == 1 and timer is m.board.timer and cpus[0].timer == (timer, 0)
    s = m.address_space_memory
    m.board.current_cpu = 1
    s.store(GICD, 1, 4)
    s.store(GICD + 0x100, 1 << 27, 4)
    s.store(GICC + 4, 0xF0, 4)
    s.store(GICC, 1, 4)
    timer.write_cval(1, VIRT, 0)                             # already expired
    timer.write_ctl(1, VIRT, 1)
    assert cpus[1].lines[0] == 1 and s.load(GICC + 0xC, 4) == 27
    assert cpus[0].pmu_interrupt.target is m.board.ppi(0, 23)


def test_boot_entry_and_secondaries_powered_off(cpus: list[FakeCPU], tmp_path: Path) -> None:
    make(2)
    assert cpus[0].resets[-1] == (0, {}, False)              # flash at 0
    assert cpus[1].resets[-1] == (0, {}, True)               # waits for PSCI CPU_ON
    kernel = tmp_path / "Image"
    hdr = bytearray(0x40)
    hdr[0x10:0x18] = (0x10000).to_bytes(8, "little")
    hdr[0x38:0x3C] = b"ARM\x64"
    kernel.write_bytes(bytes(hdr) + bytes(0x100))
    cpus.clear()
    m = make(2, kernel=str(kernel))
    assert cpus[0].resets[-1] == (0x40000000, {}, False)     # into QEMU's boot stub
    m.reset()                                                # system_reset: the same again
    assert len(cpus[0].resets) == 2 and cpus[1].resets[-1][2] is True


def test_gicv2m_frame(cpus: list[FakeCPU]) -> None:
    m = make(1)
    s = m.address_space_memory
    assert s.load(V2M + 0x8, 4) == (80 << 16) | 64           # MSI_TYPER: SPIs 80..143
    assert s.load(V2M + 0xFCC, 4) == 0x05100000              # MSI_IIDR (QEMU 7.2)
    assert s.load(V2M + 0x0, 4) == 0
    s.store(GICD, 1, 4)
    s.store(GICC + 4, 0xF0, 4)
    s.store(GICC, 1, 4)
    s.store(GICD + 0xC00 + (80 // 16) * 4, 2 << ((80 % 16) * 2), 4)   # INTID 80 edge, as Linux sets MSIs
    s.store(GICD + 0x100 + (80 // 32) * 4, 1 << (80 % 32), 4)
    s.store(V2M + 0x40, 80, 4)                               # a device's MSI write
    assert cpus[0].lines[0] == 1 and s.load(GICC + 0xC, 4) == 80
    s.store(GICC + 0x10, 80, 4)
    s.store(V2M + 0x40, 79, 4)                               # outside the frame: ignored
    assert cpus[0].lines[0] == 0


def test_too_many_cpus_for_gicv2(cpus: list[FakeCPU]) -> None:
    with pytest.raises(Exception, match=r"Number of SMP CPUs requested \(9\) exceeds max CPUs"):
        make(9)


def test_machine_listed_with_its_alias() -> None:
    text = machine_help("aarch64")
    assert "virt                 QEMU 7.2 ARM Virtual Machine (alias of virt-7.2)" in text
    assert "virt-7.2             QEMU 7.2 ARM Virtual Machine" in text
    assert find_machine("virt-7.2", "aarch64") is find_machine("virt", "aarch64")
    assert find_machine("virt", "x86_64") is None


def _qemu_monitor(*commands: str) -> str:
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    script = "".join(c + "\n" for c in commands) + "quit\n"
    r = subprocess.run([qemu, "-M", "virt", "-cpu", "cortex-a57", "-m", "512", "-nodefaults", "-display",
                        "none", "-S", "-monitor", "stdio"], input=script, capture_output=True, text=True,
                       timeout=60)
    return r.stdout.replace("\r", "")


def _block(text: str, first: str) -> list[str]:
    """The lines from ``first`` up to the next blank line or prompt."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(first))
    out = []
    for ln in lines[start:]:
        if not ln.strip() or ln.startswith("(qemu)"):
            break
        out.append(ln)
    return out


def _without_device(lines: list[str], dev: str) -> list[str]:
    """Drop one device's block (another part of the tree models it)."""
    out, skip = [], False
    for ln in lines:
        if ln.startswith("  dev: "):
            skip = ln.startswith(f"  dev: {dev},")
        if not skip:
            out.append(ln)
    return out


def test_qtree_and_memory_map_match_qemu() -> None:
    from pyqemu.memory import mtree_text

    text = _qemu_monitor("info qtree", "info mtree")
    m = make(1, ram=512 << 20)
    theirs = _block(text, "bus: main-system-bus")
    assert _without_device(m.sysbus.qtree_lines(), "pl011") == _without_device(theirs, "pl011")
    ours_mtree = mtree_text([m.address_space_memory])
    assert _block(ours_mtree, "address-space: memory")[1:] == _block(text, "address-space: memory")[1:]
