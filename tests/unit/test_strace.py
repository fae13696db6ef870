"""``-strace`` output compared line by line with qemu-aarch64's.

The guest programs are raw system calls (tests/syscall_asm.py), so the exact
arguments are known and the only things that may differ are pids (normalised)
and values that depend on time. stderr is merged into stdout so that the
position of the guest's own output inside a strace line is checked too.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from emu_harness import GUEST_ENV, pyqemu_command, qemu_available
from syscall_asm import build

pytestmark = pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None or not qemu_available(),
                                reason="needs gcc-aarch64-linux-gnu and qemu-user")

AT = -100
O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND = 1, 2, 0o100, 0o200, 0o1000, 0o2000
O_NONBLOCK, O_DIRECTORY, O_CLOEXEC = 0o4000, 0o40000, 0o2000000
S = lambda s: ("str", s)  # noqa: E731
B = lambda n: ("buf", n)  # noqa: E731
Q = lambda *q: ("quads", list(q))  # noqa: E731

FILES = [
    (56, [AT, S("f1"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644]),
    (64, [("reg", "x0"), S("hello\n"), 6]),
    (62, [3, 0, 0]),
    (62, [3, -2, 7]),
    (25, [3, 3]),
    (25, [3, 4, O_APPEND | O_NONBLOCK]),
    (25, [3, 2, 1]),
    (25, [3, 1030, 10]),
    (25, [3, 999, 5]),
    (57, [10]),
    (57, [3]),
    (57, [3]),
    (56, [AT, S("f1"), 0, 0]),
    (63, [3, B(64), 64]),
    (63, [3, 0x10, 0x1_0000_0001]),
    (57, [3]),
    (56, [AT, S("missing"), O_RDWR | O_EXCL | O_DIRECTORY, 0]),
    (56, [AT, S("f1"), O_CREAT | O_EXCL | O_WRONLY, 0o600]),
    (34, [AT, S("d"), 0o755]),
    (34, [AT, S("d"), 0]),
    (79, [AT, S("f1"), B(128), 0]),
    (79, [AT, S("f1"), B(128), 0x100]),
    (79, [AT, S("nope"), B(128), 0x1000]),
    (291, [AT, S("f1"), 0x100, 0x7FF, B(256)]),
    (291, [AT, S("f1"), 0, 0xFFF, B(256)]),
    (48, [AT, S("f1"), 6, 0]),
    (48, [AT, S("nope"), 0, 0]),
    (36, [S("f1"), AT, S("l1")]),
    (78, [AT, S("l1"), B(64), 64]),
    (78, [AT, S("f1"), B(64), 64]),
    (37, [AT, S("f1"), AT, S("h1"), 0]),
    (38, [AT, S("h1"), AT, S("h2")]),
    (276, [AT, S("h2"), AT, S("f1"), 1, 0]),
    (53, [AT, S("f1"), 0o100600, 0]),
    (88, [AT, S("f1"), 0, 0x100]),
    (45, [S("f1"), 3]),
    (46, [-1, 0]),
    (43, [S("."), B(128)]),
    (44, [-1, B(128)]),
    (35, [AT, S("l1"), 0]),
    (35, [AT, S("h2"), 0]),
    (35, [AT, S("d"), 0x200]),
    (35, [AT, S("d"), 0x200]),
    (49, [S("nope")]),
    (49, [S(".")]),
    (17, [B(4096), 4096]),
    (166, [0o22]),
    (166, [0o22]),
    (23, [1]),
    (24, [1, 9, O_CLOEXEC]),
    (57, [9]),
    (57, [3]),
    (59, [B(8), O_CLOEXEC]),
    (29, [3, 0x5401, B(64)]),
    (29, [3, 0x541B, B(8)]),
    (29, [3, 0x5451, 0]),
    (29, [3, 0x12345, 7]),
    (64, [4, S("ab"), 2]),
    (29, [3, 0x541B, B(8)]),
    (61, [-1, B(64), 64]),
    (64, [1, S("out\n"), 4]),
    (66, [-1, B(32), 2]),
    (293, [0, 0, 0, 0]),
    (82, [-1]),
    (81, []),
    (35, [AT, S("f1"), 0]),
]

MEM = [
    (222, [0x7000000, 8192, 3, 0x32, -1, 0]),
    (226, [0x7000000, 4096, 1]),
    (226, [0x7000001, 4096, 1]),
    (226, [0x7000000, 4096, 5]),
    (226, [0x7000000, 4096, 0]),
    (233, [0x7000000, 4096, 4]),
    (215, [0x7000000, 8192]),
    (215, [0x7000001, 8192]),
    (222, [0, 0, 3, 0x22, -1, 0]),
    (222, [0x7000000, 4096, 3, 0x12, 99, 0]),
    (222, [0x7000000, 4096, 3, 0x2 | 0x20 | 0x10 | 0x4000, -1, 0]),
    (216, [0x7000000, 4096, 8192, 0, 0]),
    (215, [0x7000000, 4096]),
]

MISC = [
    (160, [B(400)]),
    (278, [B(8), 8, 0]),
    (114, [1, B(16)]),
    (114, [99, B(16)]),
    (115, [1, 0, Q(0, 1000), 0]),
    (101, [Q(0, 1000), 0]),
    (174, []), (175, []), (176, []), (177, []),
    (92, [0xFFFFFFFF]),
    (167, [15, S("strace-test"), 0, 0, 0]),
    (167, [16, B(16), 0, 0, 0]),
    (168, [B(4), 0, 0]),
    (20, [O_CLOEXEC]),
    (19, [0, O_CLOEXEC]),
    (198, [2, 1 | O_CLOEXEC, 0]),
    (198, [1, 2, 0]),
    (200, [-1, ("bytes", [2, 0, 0x1F, 0x90, 127, 0, 0, 1] + [0] * 8), 16]),
    (201, [-1, 5]),
    (57, [-1]),
]


def _run(cmd: list[str], exe, cwd) -> str:
    os.makedirs(cwd)
    r = subprocess.run([*cmd, "-strace", str(exe)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       cwd=cwd, env=dict(GUEST_ENV), timeout=300)
    return re.sub(r"^\d+ ", "PID ", r.stdout.decode("latin-1"), flags=re.M) + f"[exit {r.returncode}]\n"


@pytest.mark.parametrize("calls", [FILES, MEM, MISC], ids=["files", "mem", "misc"])
def test_strace_matches_qemu(tmp_path, calls):
    exe = build(calls, tmp_path / "prog")
    ref = _run(["qemu-aarch64"], exe, tmp_path / "q")
    got = _run(pyqemu_command(), exe, tmp_path / "p")
    assert got == ref


def test_strace_interleaves_guest_output(tmp_path):
    exe = build([(64, [1, S("hi\n"), 3]), (93, [7])], tmp_path / "prog")
    got = _run(pyqemu_command(), exe, tmp_path / "p")
    assert got == f"PID write(1,{_data_addr(exe):#x},3)hi\n = 3\nPID exit(7)\n[exit 7]\n"


def _data_addr(exe) -> int:
    out = subprocess.run(["aarch64-linux-gnu-nm", str(exe)], capture_output=True, text=True).stdout
    return int(re.search(r"^([0-9a-f]+) \w d0$", out, re.M).group(1), 16)


def test_unknown_syscall_and_errors(tmp_path):
    exe = build([(999, [1, 2]), (57, [-1]), (56, [AT, S("/nonexistent/x"), 0, 0])], tmp_path / "prog")
    got = _run(pyqemu_command(), exe, tmp_path / "p")
    assert got.splitlines() == [
        "PID Unknown syscall 999",
        "PID close(-1) = -1 errno=9 (Bad file descriptor)",
        'PID openat(AT_FDCWD,"/nonexistent/x",O_RDONLY) = -1 errno=2 (No such file or directory)',
        "PID exit_group(0)",
        "[exit 0]",
    ]
