"""Differential tests: 32-bit ARM guest programs under Debian's qemu-arm vs pyqemu-arm.

Programs: the portable sources of tests/tcg/aarch64 plus tests/tcg/arm (AArch32 copies of
signals/float/intarith; atomics: C11 atomics built for ARMv8-A, so LDA/STL/LDAEX/STLEX;
neon: Advanced SIMD and VFP; kuser: the kernel user helpers), each built with
arm-linux-gnueabihf-gcc in Thumb-2 (Debian's default) and ARM mode (-marm), static and
dynamic (run with ``-L /usr/arm-linux-gnueabihf``), -O0 and -O2 (see tests/guest_build.py).
Exit status, stdout and stderr must be identical (none of the programs writes to stderr
under qemu-arm; an emulator's own messages there, such as "qemu: uncaught target signal",
must match too).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import arm_harness
import pytest
from arm_harness import assert_same_arm
from conftest import unavailable
from emu_harness import GUEST_ENV
from guest_build import ARM_CC, ArmVariant, arm_build, arm_variant_names, parse_arm_name
from test_user_programs import ARGS, ENV_EXTRA, EXPECTED_STATUS

# fixtures
arm_bins = arm_harness.arm_bins
qemu_arm = arm_harness.qemu_arm
pyqemu_arm = arm_harness.pyqemu_arm


@pytest.mark.parametrize("name", arm_variant_names())
def test_arm_program_matches_qemu(name, arm_bins, qemu_arm, pyqemu_arm):
    program, _ = parse_arm_name(name)
    binary = arm_bins[name]
    args = ARGS.get(program, [])
    env = {**GUEST_ENV, **ENV_EXTRA}
    ref = qemu_arm(binary, args, env=env)
    expected = EXPECTED_STATUS.get(program, 0)
    assert ref.returncode == expected, (
        f"reference run of {name} under qemu-arm exited {ref.returncode}, expected {expected}; "
        f"stdout={ref.stdout[-500:]!r} stderr={ref.stderr[-500:]!r}"
    )
    assert b"FAIL" not in ref.stdout, f"{name} reports failures even under qemu-arm"
    got = pyqemu_arm(binary, args, env=env)
    assert_same_arm(ref, got, what=name)


ACQ_REL = ("lda", "stl", "ldaex", "stlex")


@pytest.mark.parametrize("mode", ["thumb", "arm"])
def test_atomics_uses_acquire_release(mode, arm_bins):
    """The atomics program really contains LDA/STL/LDAEX/STLEX (else the test proves little)."""
    objdump = ARM_CC.removesuffix("gcc") + "objdump"
    if shutil.which(objdump) is None:
        unavailable(f"{objdump} not installed (binutils-arm-linux-gnueabihf)")
    for opt in ("O0", "O2"):
        binary = arm_bins[f"atomics-{mode}-static-{opt}"]
        text = subprocess.run(
            [objdump, "-d", "--no-show-raw-insn", str(binary.path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found = set(re.findall(r"^\s*[0-9a-f]+:\s+([a-z]+)", text, re.M))
        missing = [m for m in ACQ_REL if m not in found]
        assert not missing, f"atomics-{mode}-static-{opt} lacks {missing}"


def _main_symbol(binary) -> int:
    readelf = ARM_CC.removesuffix("gcc") + "readelf"
    out = subprocess.run(
        [readelf, "-sW", os.fspath(binary)], capture_output=True, text=True, check=True
    ).stdout
    m = re.search(r"^\s*\d+:\s+([0-9a-f]+)\s+\d+\s+FUNC\s+GLOBAL\s+\S+\s+\S+\s+main$", out, re.M)
    assert m, f"no main symbol in {binary}"
    return int(m.group(1), 16)


def test_arm_variants_really_differ(tmp_path):
    """-marm builds main as A32 code and the default build as T32 (the symbol's Thumb bit)."""
    if shutil.which(ARM_CC.removesuffix("gcc") + "readelf") is None:
        unavailable("arm-linux-gnueabihf-readelf not installed (binutils-arm-linux-gnueabihf)")
    thumb = arm_build("hello", ArmVariant("thumb", "static", "O2"), tmp_path)
    arm = arm_build("hello", ArmVariant("arm", "static", "O2"), tmp_path)
    assert (_main_symbol(thumb) & 1, _main_symbol(arm) & 1) == (1, 0)
