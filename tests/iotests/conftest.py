"""Fixtures for the block-layer tests: the real qemu-img / qemu-io (Debian qemu-utils) to compare with."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI (as tests/conftest.py's helper of the same name, which this file shadows)."""
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not found (apt-get install qemu-utils)")
    return path


@pytest.fixture(scope="session")
def qemu_img() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``qemu_img(*args, check=True)``: run the real qemu-img, text output."""
    exe = _tool("qemu-img")

    def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            cmd = " ".join(map(str, args))
            raise AssertionError(f"qemu-img {cmd} -> {p.returncode}\n{p.stdout}{p.stderr}")
        return p
    return run


@pytest.fixture(scope="session")
def qemu_io() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``qemu_io(image, *commands, fmt="qcow2")``: run real qemu-io with ``-c`` commands."""
    exe = _tool("qemu-io")

    def run(image: str | Path, *cmds: str, fmt: str = "qcow2") -> subprocess.CompletedProcess[str]:
        args = [exe, "-f", fmt]
        for c in cmds:
            args += ["-c", c]
        p = subprocess.run([*args, str(image)], capture_output=True, text=True, timeout=120)
        if p.returncode != 0 or "error" in p.stdout.lower() or "failed" in p.stdout.lower():
            raise AssertionError(f"qemu-io {cmds} -> {p.returncode}\n{p.stdout}{p.stderr}")
        return p
    return run


@pytest.fixture(scope="session")
def qemu_check(qemu_img: Callable[..., subprocess.CompletedProcess[str]]) -> Callable[[Path], dict]:
    """Real ``qemu-img check --output=json``; asserts a clean image and returns the report."""
    def run(path: Path) -> dict:
        p = qemu_img("check", "--output=json", path, check=False)
        assert p.returncode == 0, f"qemu-img check failed ({p.returncode}):\n{p.stdout}{p.stderr}"
        return json.loads(p.stdout)
    return run
