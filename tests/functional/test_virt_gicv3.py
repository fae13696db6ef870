"""Debian's arm64 Linux on ``-M virt,gic-version=3 -smp 2``: the GICv3 driver probes the
distributor and both redistributors, the arch timer ticks through the CPU interface on both
CPUs, IPIs (SGIs through ICC_SGI1R_EL1) bring up and run CPU 1, the UART interrupts through an
SPI, and poweroff exits with status 0. What the GICv3 driver prints is compared with QEMU 7.2
booting the same kernel (``its=off``: pyqemu emulates no ITS).

Reuses the boot assets and the pty console of test_virt_linux.py.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import boot_assets  # noqa: E402
from test_virt_linux import BOOT_TIMEOUT, PROMPT, Console, assets, poweroff  # noqa: E402,F401

APPEND = "console=ttyAMA0 cryptomgr.notests"


def boot_gicv3(exe: str, kernel: Path, initrd: Path, machine: str = "virt,gic-version=3") -> Console:
    con = Console([exe, "-M", machine, "-cpu", "cortex-a57", "-smp", "2", "-m", "512", "-nographic",
                   "-nic", "none", "-kernel", str(kernel), "-initrd", str(initrd), "-append", APPEND])
    try:
        con.expect(boot_assets.MARKER.encode(), BOOT_TIMEOUT)
        con.expect(PROMPT, 60)
    except BaseException:
        con.close()
        raise
    return con


def gic_lines(dmesg: str) -> list[str]:
    """The GICv3/ITS driver's lines without timestamps (and without addresses of memory)."""
    out = []
    for ln in dmesg.splitlines():
        m = re.match(r"\[\s*[\d.]+\]\s+((?:GICv3|GIC|ITS)\b.*)", ln)
        if m and "CPU1" not in m.group(1):   # CPU 1's line comes in its own order
            out.append(m.group(1).strip())
    return out


def interrupt_counts(text: str) -> dict[str, list[int]]:
    """/proc/interrupts of a 2-CPU guest: device name -> per-CPU counts, for the GICv3 rows."""
    rows = {}
    for m in re.finditer(r"^\s*\d+:\s+(\d+)\s+(\d+)\s+GICv3\s+\d+\s+\w+\s+(\S+)", text, re.M):
        rows[m.group(3)] = [int(m.group(1)), int(m.group(2))]
    return rows


def test_linux_gicv3_two_cpus(assets) -> None:  # noqa: F811
    kernel, initrd = assets
    exe = shutil.which("pyqemu-system-aarch64")
    assert exe, "pyqemu-system-aarch64 is not installed (pip install -e .)"
    con = boot_gicv3(exe, kernel, initrd)
    try:
        assert con.run("cat /sys/devices/system/cpu/online").strip().startswith("0-1")
        dmesg = con.run("dmesg", kernel_log=True)
        interrupts = con.run("cat /proc/interrupts")
        counts = interrupt_counts(interrupts)
        assert "arch_timer" in counts, interrupts
        assert min(counts["arch_timer"]) > 10, interrupts          # ticks on both CPUs
        assert sum(counts.get("uart-pl011", [0])) > 0, interrupts   # SPI 1
        ipis = re.search(r"^\s*IPI0:\s+(\d+)\s+(\d+)", interrupts, re.M)
        assert ipis and sum(map(int, ipis.groups())) > 0, interrupts   # rescheduling SGIs
        ours = gic_lines(dmesg)
        assert any("CPU0: found redistributor 0 region 0:0x00000000080a0000" in ln for ln in ours), dmesg
    except BaseException:
        con.close()
        raise
    poweroff(con)
    if shutil.which("qemu-system-aarch64") is None:
        return
    ref = boot_gicv3("qemu-system-aarch64", kernel, initrd, "virt,gic-version=3,its=off")
    try:
        ref_lines = gic_lines(ref.run("dmesg", kernel_log=True))
    finally:
        os.write(ref.master, b"poweroff -f\n")
        try:
            ref.proc.wait(60)
        except subprocess.TimeoutExpired:
            pass
        ref.close()
    assert ours == ref_lines
