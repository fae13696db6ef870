"""``info pci`` and ``query-pci`` for the host bridge, a pcie-root-port and a pci-bridge,
compared with QEMU 7.2; devices behind a bridge are listed once its bus numbers are set."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import unavailable
from qtest_support import QEMU, qemu_available
from test_pci import PCITestFunction, ecam

from pyqemu.hw.pci.pci_info import hmp_info_pci, query_pci

DEVICES = [("pcie-root-port", {"id": "rp1", "chassis": "1"}),
           ("pci-bridge", {"chassis_nr": "3"})]


def _qemu_args() -> list[str]:
    out = []
    for drv, props in DEVICES:
        out += ["-device", ",".join([drv] + [f"{k}={v}" for k, v in props.items()])]
    return out


@pytest.fixture
def virt():  # noqa: ANN201
    from pyqemu.hw.core.machine import create_machine
    from pyqemu.system.machines import find_machine
    from pyqemu.system.qdev_add import device_add

    _, machine = create_machine(find_machine("virt", "aarch64"), 128 << 20, {})
    for drv, props in DEVICES:
        device_add({"driver": drv, **props}, machine)
    machine.reset()
    return machine


def _run_qemu(args: list[str], stdin: str) -> str:
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    return subprocess.run([QEMU, "-M", "virt", "-display", "none", "-nic", "none", "-S",
                           "-serial", "null", *args], input=stdin, capture_output=True, text=True,
                          timeout=30).stdout


def test_info_pci_matches_qemu(virt) -> None:  # noqa: ANN001
    out = _run_qemu(["-monitor", "stdio", *_qemu_args()], "info pci\nquit\n").replace("\r", "")
    lines = [ln for ln in out.splitlines() if ln.startswith("  ")]
    assert lines and hmp_info_pci(virt).splitlines() == lines


def test_query_pci_matches_qemu(virt) -> None:  # noqa: ANN001
    out = _run_qemu(["-qmp", "stdio", *_qemu_args()],
                    '{"execute":"qmp_capabilities"}\n{"execute":"query-pci"}\n{"execute":"quit"}\n')
    replies = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    expected = next(r["return"] for r in replies if isinstance(r.get("return"), list))
    assert query_pci(virt) == expected


def test_devices_behind_a_numbered_bridge_are_listed(virt) -> None:  # noqa: ANN001
    from pyqemu.system.qdev_add import find_bus

    dev = PCITestFunction()
    dev.qdev_realize(find_bus(virt.sysbus, "rp1"))
    virt.reset()
    s = virt.address_space_memory
    assert "devices" not in query_pci(virt)[0]["devices"][1]["pci_bridge"]
    s.store(ecam(0, 1, 0, 0x18), 0x010100, 4)                # primary 0, secondary 1, subordinate 1
    s.store(ecam(1, 0, 0, 0x10), 0x10200000, 4)
    s.store(ecam(1, 0, 0, 4), 0x0002, 2)
    s.store(ecam(1, 0, 0, 0x3C), 0x0B, 1)
    text = hmp_info_pci(virt)
    assert ("      id \"rp1\"\n"
            "  Bus  1, device   0, function 0:\n"
            "    Class 0255: PCI device 1b36:00fe\n"
            "      PCI subsystem 1af4:1100\n"
            "      IRQ 11, pin A\n"
            "      BAR0: 32 bit memory at 0x10200000 [0x10200fff].\n"
            "      BAR1: I/O at 0xffffffffffffffff [0x00fe].\n"
            "      BAR2: 64 bit prefetchable memory at 0x00000000 [0x00003fff].\n"   # virt allows 0
            "      BAR4: 32 bit memory at 0x00000000 [0x00000fff].\n"
            "      id \"\"\n") in text
    child = query_pci(virt)[0]["devices"][1]["pci_bridge"]["devices"][0]
    assert (child["bus"], child["slot"], child["irq"]) == (1, 0, 11)
    assert child["regions"][0]["address"] == 0x10200000


PYQEMU = [sys.executable, "-c",
          "import sys; from pyqemu.system.vl import main_aarch64; sys.exit(main_aarch64())"]


def test_command_line_info_pci_and_query_pci_match_qemu() -> None:
    """-device pcie-root-port / pci-bridge on the command line, then the monitors."""
    args = ["-M", "virt", "-display", "none", "-nic", "none", "-S", "-serial", "null", *_qemu_args()]
    hmp_in = "info pci\nquit\n"
    qmp_in = '{"execute":"qmp_capabilities"}\n{"execute":"query-pci"}\n{"execute":"quit"}\n'
    ours = [subprocess.run([*PYQEMU, "-cpu", "cortex-a57", *args, *mon], input=text, capture_output=True,
                           text=True, timeout=60).stdout
            for mon, text in ((["-monitor", "stdio"], hmp_in), (["-qmp", "stdio"], qmp_in))]
    theirs = [_run_qemu([*_qemu_args(), *mon], text)
              for mon, text in ((["-monitor", "stdio"], hmp_in), (["-qmp", "stdio"], qmp_in))]

    def hmp_lines(out: str) -> list[str]:
        return [ln for ln in out.replace("\r", "").splitlines() if ln.startswith("  ")]

    def qmp_return(out: str) -> object:
        replies = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
        return next(r["return"] for r in replies if isinstance(r.get("return"), list))

    assert hmp_lines(ours[0]) == hmp_lines(theirs[0]) != []
    assert qmp_return(ours[1]) == qmp_return(theirs[1])
