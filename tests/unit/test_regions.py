"""Regions (tcg/region.py): hot blocks compiled together into one function.

tests/tcg/regions/regions.c runs loops of many shapes (side exits, nested
loops, calls, jump tables, a fault on the n-th iteration, code rewritten
between runs of a hot loop and by the loop itself). Under pyqemu with regions
formed as eagerly as possible (a sample every few blocks, a region at the
first sample) its output must equal qemu-aarch64's, and the number of guest
instructions executed must equal the count with regions off: a region runs
exactly the instructions its blocks would.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import emu_harness  # noqa: E402
from conftest import unavailable  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "tcg" / "regions" / "regions.c"


@pytest.fixture(scope="module", params=["O2", "O0"])
def regions_exe(request, tmp_path_factory) -> Path:
    if shutil.which("aarch64-linux-gnu-gcc") is None:
        unavailable("gcc-aarch64-linux-gnu is not installed")
    exe = tmp_path_factory.mktemp("regions") / f"regions-{request.param}"
    subprocess.run(["aarch64-linux-gnu-gcc", f"-{request.param}", "-static", "-o", str(exe), str(SRC)],
                   check=True)
    return exe


def _run(exe: Path, heat: str, slice_: str, *opts: str) -> emu_harness.RunResult:
    # Same-length values: the guest sees the environment, and its size changes instruction counts.
    env = dict(emu_harness.GUEST_ENV, PYQEMU_REGION_HEAT=heat, PYQEMU_SLICE=slice_, PYQEMU_COUNT_INSNS="1")
    return emu_harness.run_pyqemu(exe, env=env, extra_opts=opts, timeout=600)


def _insns(r: emu_harness.RunResult) -> int:
    m = re.search(rb"^insns: (\d+)$", r.stderr, re.M)
    assert m, r.stderr[-2000:]
    return int(m.group(1))


def test_regions_match_qemu_and_single_blocks(regions_exe, tmp_path):
    if not emu_harness.qemu_available():
        unavailable("qemu-aarch64 is not installed")
    ref = emu_harness.run_qemu(regions_exe)
    assert ref.returncode == 0, ref
    log = tmp_path / "out_asm.log"
    eager = _run(regions_exe, "1", "0007", "-d", "out_asm", "-D", str(log))
    assert eager.returncode == 0, eager.stderr[-2000:]
    assert eager.stdout == ref.stdout
    plain = _run(regions_exe, "0", "0007")
    assert plain.stdout == ref.stdout
    assert _insns(eager) == _insns(plain)
    # The eager run really ran regions, with loops and several blocks each.
    heads = re.findall(r"^OUT: \[python region\] (0x[0-9a-f]+): (.*)$", log.read_text(), re.M)
    assert len(heads) >= 20
    assert any(len(members.split(", ")) >= 4 for _head, members in heads)
    assert "continue" in log.read_text()


def test_default_settings_match_qemu(regions_exe):
    """With the default sampling the regions that form are the hot loops'."""
    if not emu_harness.qemu_available():
        unavailable("qemu-aarch64 is not installed")
    ref = emu_harness.run_qemu(regions_exe)
    r = emu_harness.run_pyqemu(regions_exe, timeout=600)
    assert (r.stdout, r.returncode) == (ref.stdout, ref.returncode)
