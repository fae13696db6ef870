"""``-M virt,gic-version=3``: the device tree equals QEMU 7.2's ``dumpdtb`` with ``its=off`` (GIC
node "arm,gic-v3" with one redistributor region, no v2m frame, PPIs without a CPU mask, no PCIe
msi-map); gic-version=max means 3 under TCG; the ICC_* system registers exist only then."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import fdt
import pytest
from conftest import unavailable
from test_virt_dtb import summary, virt

from pyqemu.hw.intc.arm_gicv3 import ARMGICv3
from pyqemu.target.arm import cpregs, cpu_models


def qemu_dtb(tmp_path: Path, machine: str, smp: int) -> fdt.FDT:
    if shutil.which("qemu-system-aarch64") is None:
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    out = tmp_path / "q.dtb"
    subprocess.run(["qemu-system-aarch64", "-M", f"{machine},dumpdtb={out}", "-cpu", "cortex-a57",
                    "-smp", str(smp), "-m", "512", "-nographic"], capture_output=True, timeout=60)
    return fdt.parse_dtb(out.read_bytes())


@pytest.mark.parametrize("version, smp", [("3", 2), ("max", 1), ("3", 8)])
def test_gicv3_dtb_equals_qemus_its_off(tmp_path: Path, version: str, smp: int) -> None:
    m = virt(**{"gic-version": version, "smp": str(smp)})
    ours = fdt.parse_dtb(m.board.fdt_blob)
    ref = qemu_dtb(tmp_path, f"virt,gic-version={version},its=off", smp)
    assert summary(ours.root) == summary(ref.root)
    gic = ours.get_node("/intc@8000000")
    assert gic.get_property("compatible").data == ["arm,gic-v3"]
    assert isinstance(m.board.gic, ARMGICv3)


def test_its_on_differs_from_qemu_only_by_the_its() -> None:
    """Documented gap: QEMU's default its=on adds an ITS node and a PCIe msi-map; pyqemu does not."""
    m = virt(**{"gic-version": "3", "its": "on"})
    ours = fdt.parse_dtb(m.board.fdt_blob)
    assert not ours.get_node("/intc@8000000").nodes
    assert ours.get_node("/pcie@10000000").get_property("msi-map") is None


def test_icc_registers_only_with_a_gicv3() -> None:
    model = cpu_models.get_model("cortex-a57")
    v2, v3 = cpregs.build_table(model), cpregs.build_table(model, gicv3=True)
    iar1 = (3, 0, 12, 12, 0)
    assert v2.lookup(iar1) is None and v3.lookup(iar1).name == "ICC_IAR1_EL1"
    pfr0 = (3, 0, 0, 4, 0)
    assert (v2.lookup(pfr0).value >> 24) & 0xF == 0 and (v3.lookup(pfr0).value >> 24) & 0xF == 1
    assert v3.lookup((3, 0, 12, 9, 1)) is None        # ICC_AP1R1_EL1: not with 5 priority bits


def test_icc_encodings_match_binutils(tmp_path: Path) -> None:
    from test_cpregs import _asm_line, _assemble, _decode
    if not shutil.which("aarch64-linux-gnu-as") or not shutil.which("aarch64-linux-gnu-objcopy"):
        unavailable("binutils-aarch64-linux-gnu not installed")
    table = cpregs.build_table(cpu_models.get_model("cortex-a57"), gicv3=True)
    descs = [d for d in table if d.name.startswith("ICC_")]
    words, failed = _assemble(tmp_path, [_asm_line(d) for d in descs])
    assert not failed and len(descs) == 20
    for d, w in zip(descs, words, strict=True):
        assert _decode(w) == d.key, d.name
