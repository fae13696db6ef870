"""What a system reset (system_reset, PSCI SYSTEM_RESET, U-Boot's `reset`) does to the
PL011, PL031, PL061, flash and fw_cfg, compared with QEMU 7.2 -M virt, where some
devices keep their state (PL011 and PL031 have no reset handler there)."""
from __future__ import annotations

import json
import socket

from conftest import unavailable
from qtest_support import Bench, QemuQtest, qemu_available

from pyqemu.hw.block.pflash_cfi01 import create_virt_flash
from pyqemu.hw.char.pl011 import PL011
from pyqemu.hw.gpio.pl061 import create_virt_pl061
from pyqemu.hw.nvram.fw_cfg import fw_cfg_init_mem_wide
from pyqemu.hw.rtc.pl031 import PL031

UART, RTC, GPIO, FWCFG, FLASH1 = 0x09000000, 0x09010000, 0x09030000, 0x09020000, 0x04000000
WRITES = [(UART + 0x24, 5), (UART + 0x2C, 0x70), (UART + 0x38, 0x30), (GPIO + 0x400, 0xFF),
          (GPIO + 0x3FC, 0x5A), (GPIO + 0x410, 0x3), (RTC + 0x04, 77), (RTC + 0x10, 1)]


def test_system_reset_matches_qemu(tmp_path):
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    b = Bench(ram_base=0x40000000)
    b.add(PL011(), UART, irqs=1)
    b.add(PL031(), RTC, irqs=1)
    b.add(create_virt_pl061(), GPIO, irqs=1)
    b.add(create_virt_flash("virt.flash1"), FLASH1)
    fw_cfg_init_mem_wide(b.bus, FWCFG + 8, FWCFG, 8, FWCFG + 16, b.space)
    qmp_path = str(tmp_path / "qmp.sock")
    with QemuQtest(["-qmp", f"unix:{qmp_path},server=on,wait=off"]) as q:
        q.readl(UART)                           # QEMU is up: its QMP socket exists
        qmp = socket.socket(socket.AF_UNIX)
        qmp.connect(qmp_path)
        f = qmp.makefile("rw")
        f.readline()
        f.write('{"execute": "qmp_capabilities"}\n')
        f.flush()
        f.readline()

        def reads(target) -> list[int]:  # type: ignore[no-untyped-def]
            return [target.readl(a) for a, _ in WRITES] + [target.readl(FLASH1 + 0x40),
                                                           target.readq(FWCFG)]

        for target in (b, q):
            for a, v in WRITES:
                target.writel(a, v)
            target.writew(FWCFG + 8, 0x0100)    # select the interface id
            target.writel(FLASH1, 0x98)         # flash in CFI query mode
        assert reads(b) == reads(q)
        b.bus.reset_all()
        f.write('{"execute": "system_reset"}\n')
        f.flush()
        seen: set[str] = set()
        while seen != {"return", "RESET"}:      # the RESET event: QEMU's reset has run
            msg = json.loads(f.readline())
            seen |= {"return"} if "return" in msg else {msg.get("event", "")} & {"RESET"}
        assert reads(b) == reads(q)
        qmp.close()
    b.destroy()
