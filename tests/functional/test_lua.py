"""Debian's arm64 lua5.4 (dynamically linked, run with -L SYSROOT) under qemu-aarch64 vs pyqemu."""

from __future__ import annotations

from pathlib import Path

import pytest
from emu_harness import assert_same_behavior

SCRIPT = Path(__file__).resolve().parent.parent / "tcg" / "aarch64" / "test.lua"


def _lua(sysroot: Path) -> Path:
    return sysroot / "usr" / "bin" / "lua5.4"


def test_lua_script(lua_sysroot, qemu_ref, pyqemu_run):
    """tests/tcg/aarch64/test.lua: strings, tables, closures, coroutines, math, formatting."""
    ref = qemu_ref(_lua(lua_sysroot), [SCRIPT], sysroot=lua_sysroot)
    assert ref.returncode == 3, ref.stderr  # the script ends with os.exit(3)
    assert b"== misc ==" in ref.stdout
    got = pyqemu_run(_lua(lua_sysroot), [SCRIPT], sysroot=lua_sysroot)
    assert_same_behavior(ref, got, what="lua5.4 test.lua")


@pytest.mark.parametrize(
    ("args", "stdin", "status"),
    [
        pytest.param(["-e", "print(('%5.2f|%d'):format(2/3, 7 // 2), _VERSION)"], None, 0, id="dash-e"),
        pytest.param(["-"], b"for i = 1, 3 do io.write(i, ' ') end print(#arg, arg[0])\n", 0, id="stdin"),
        pytest.param(["-e", "error('boom')"], None, 1, id="runtime-error"),
        pytest.param(["-e", "io.stdout:write('partial'); os.exit(false)"], None, 1, id="exit-false"),
    ],
)
def test_lua_small(args, stdin, status, lua_sysroot, qemu_ref, pyqemu_run):
    ref = qemu_ref(_lua(lua_sysroot), args, sysroot=lua_sysroot, stdin=stdin)
    assert ref.returncode == status, ref.stderr
    got = pyqemu_run(_lua(lua_sysroot), args, sysroot=lua_sysroot, stdin=stdin)
    assert_same_behavior(ref, got, what="lua5.4 " + " ".join(args))
