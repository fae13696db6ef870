"""Differential tests: each guest program variant under qemu-aarch64 vs pyqemu.

Programs live in tests/tcg/aarch64; each is built static/dynamic x -O0/-O2.
stdout and the exit status must be identical; stderr may differ.
"""

from __future__ import annotations

import pytest
from emu_harness import GUEST_ENV, assert_same_behavior
from guest_build import parse_name, variant_names

# Extra command-line arguments per program.
ARGS: dict[str, list[str]] = {
    "hello": ["foo", "bar baz", ""],
}

# Exit status the reference run must have (a sanity check of the test itself).
EXPECTED_STATUS: dict[str, int] = {
    "exit42": 42,
    "sigdie": -15,  # killed by SIGTERM
}

ENV_EXTRA = {"GUEST_TEST_VAR": "value with spaces"}


@pytest.mark.parametrize("name", variant_names())
def test_program_matches_qemu(name, guest_bins, qemu_ref, pyqemu_run):
    program, _ = parse_name(name)
    binary = guest_bins[name]
    args = ARGS.get(program, [])
    env = {**GUEST_ENV, **ENV_EXTRA}
    ref = qemu_ref(binary, args, env=env)
    expected = EXPECTED_STATUS.get(program, 0)
    assert ref.returncode == expected, (
        f"reference run of {name} under qemu-aarch64 exited {ref.returncode}, expected {expected}; "
        f"stdout={ref.stdout[-500:]!r} stderr={ref.stderr[-500:]!r}"
    )
    assert b"FAIL" not in ref.stdout, f"{name} reports failures even under qemu-aarch64"
    got = pyqemu_run(binary, args, env=env)
    assert_same_behavior(ref, got, what=name)
