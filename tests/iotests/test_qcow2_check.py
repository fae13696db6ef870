"""qcow2 check/repair against real qemu-img check: same messages, same counters, same outcome;
lazy refcounts and the dirty bit; amend."""
from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from pyqemu.block.driver import BlockError
from pyqemu.block.registry import create_image, open_image

CS = 65536
FIELDS = {"corruptions": "corruptions", "leaks": "leaks", "corruptions-fixed": "corruptions_fixed",
          "leaks-fixed": "leaks_fixed", "image-end-offset": "image_end_offset",
          "total-clusters": "total_clusters", "allocated-clusters": "allocated_clusters",
          "fragmented-clusters": "fragmented_clusters", "compressed-clusters": "compressed_clusters",
          "check-errors": "check_errors"}


def _set_refcount(path: Path, ci: int, value: int) -> None:
    """Poke a 16-bit refcount in the first refcount block (cluster 2 of a fresh image)."""
    with open(path, "r+b") as f:
        f.seek(2 * CS + 2 * ci)
        f.write(struct.pack(">H", value))


def _base(path: Path, snapshot: bool = False) -> None:
    create_image(str(path), "qcow2", 4 << 20, {})
    with open_image(str(path), read_only=False) as drv:
        drv.write(0, b"x" * 300_000)
        drv.write(2 << 20, b"y" * 1000)  # a fragmented cluster
        if snapshot:
            drv.snapshot_create("s")


def _leak(path: Path) -> None:
    _base(path)
    with open(path, "r+b") as f:
        f.truncate(12 * CS)
    _set_refcount(path, 11, 1)


def _zero_refcount(path: Path) -> None:
    _base(path)
    _set_refcount(path, 5, 0)
    _set_refcount(path, 6, 2)


def _low_refcount(path: Path) -> None:
    _base(path, snapshot=True)
    _set_refcount(path, 7, 1)


SCENARIOS: dict[str, Callable[[Path], None]] = {
    "leak": _leak, "zero_refcount": _zero_refcount, "low_refcount": _low_refcount}


@pytest.mark.parametrize("repair", [None, "leaks", "all"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_check_like_qemu(tmp_path: Path, qemu_img, scenario: str, repair: str | None) -> None:
    orig = tmp_path / "orig.qcow2"
    SCENARIOS[scenario](orig)
    theirs, ours = tmp_path / "theirs.qcow2", tmp_path / "ours.qcow2"
    shutil.copy(orig, theirs)
    shutil.copy(orig, ours)
    p = qemu_img("check", *(["-r", repair] if repair else []), "--output=json", theirs, check=False)
    qemu_lines = [ln for ln in p.stderr.splitlines() if not ln.startswith("qemu-img:")]
    with open_image(str(ours), read_only=repair is None, options={"check": True}) as drv:
        res = drv.check(repair)
        messages = res.messages
        if res.corruptions_fixed or res.leaks_fixed:
            # qemu-img double-checks a repaired image and reports that, plus what was fixed
            fixed = (res.corruptions_fixed, res.leaks_fixed)
            res = drv.check()
            res.corruptions_fixed, res.leaks_fixed = fixed
    assert messages == qemu_lines
    if p.stdout.strip():
        report = json.loads(p.stdout)
        for key, attr in FIELDS.items():
            assert (getattr(res, attr) or 0) == report.get(key, 0), key
    else:  # QEMU gave up ("need to rebuild"): so do we
        assert res.check_errors == 1
    # the repaired image is as clean for real qemu-img as theirs
    status = qemu_img("check", theirs, check=False).returncode
    assert qemu_img("check", ours, check=False).returncode == status


def test_lazy_refcounts_dirty_bit(tmp_path: Path, qemu_img) -> None:
    img = tmp_path / "lazy.qcow2"
    create_image(str(img), "qcow2", 4 << 20, {"lazy_refcounts": True})
    drv = open_image(str(img), read_only=False)
    drv.write(0, b"a" * 200_000)
    drv.flush()
    # a crash now: the dirty bit is on disk and real QEMU sees stale refcounts
    info = json.loads(qemu_img("info", "--output=json", "-U", img).stdout)
    assert info["dirty-flag"] is True
    drv.f.close()  # simulate the crash: no clean close
    drv._closed = True
    assert qemu_img("check", img, check=False).returncode == 2
    with open_image(str(img), read_only=False) as drv2:  # opening read-write repairs, as QEMU does
        assert drv2.read(0, 200_000) == b"a" * 200_000
        assert not drv2.info()["dirty-flag"]
    assert qemu_img("check", img, check=False).returncode == 0
    info = json.loads(qemu_img("info", "--output=json", img).stdout)
    assert info["dirty-flag"] is False and info["format-specific"]["data"]["lazy-refcounts"] is True


def test_corrupt_bit_refuses_writes(tmp_path: Path) -> None:
    img = tmp_path / "c.qcow2"
    create_image(str(img), "qcow2", 1 << 20, {})
    with open(img, "r+b") as f:
        f.seek(72 + 7)
        f.write(b"\x02")  # incompatible bit 1: corrupt
    with pytest.raises(BlockError, match="Image is corrupt; cannot be opened read/write"):
        open_image(str(img), read_only=False)
    with open_image(str(img)) as drv:
        assert drv.info()["format-specific"]["data"]["corrupt"] is True
        assert drv.read(0, 512) == bytes(512)
    with open_image(str(img), read_only=False, options={"check": True}) as drv:  # qemu-img check -r all
        assert drv.check("all").corruptions == 0
    with open_image(str(img), read_only=False) as drv:
        assert drv.info()["format-specific"]["data"]["corrupt"] is False
        drv.write(0, b"ok")


@pytest.mark.parametrize("start,amend", [
    ({"compat": "0.10"}, {"compat": "1.1"}),
    ({}, {"compat": "0.10"}),
    ({}, {"refcount_bits": 2}),
    ({"refcount_bits": 2}, {"refcount_bits": 64, "lazy_refcounts": "on"}),
])
def test_amend(tmp_path: Path, qemu_img, qemu_io, start: dict, amend: dict) -> None:
    img, ref = tmp_path / "a.qcow2", tmp_path / "a.raw"
    create_image(str(img), "qcow2", 2 << 20, start)
    qemu_io(img, "write -P 7 0 300k", "write -z 64k 64k", "write -P 8 1M 64k")
    qemu_img("snapshot", "-c", "snap", img)
    qemu_io(img, "write -z 1M 64k", "write -P 9 1200k 4k")
    qemu_img("convert", "-O", "raw", img, ref)
    with open_image(str(img), read_only=False) as drv:
        drv.amend(amend)
    assert qemu_img("check", img, check=False).returncode == 0
    qemu_img("compare", "-F", "raw", img, ref)
    info = json.loads(qemu_img("info", "--output=json", img).stdout)["format-specific"]["data"]
    if "compat" in amend:
        assert info["compat"] == amend["compat"]
    if "refcount_bits" in amend:
        assert info["refcount-bits"] == amend["refcount_bits"]
    if "lazy_refcounts" in amend:
        assert info["lazy-refcounts"] is True
    qemu_img("snapshot", "-a", "snap", img)
    with open_image(str(img)) as drv:
        data = drv.read(0, 2 << 20)
    assert data[:64 << 10] == b"\x07" * (64 << 10) and data[64 << 10:128 << 10] == bytes(64 << 10)
    assert data[1 << 20:(1 << 20) + 4] == b"\x08" * 4


def test_amend_refuses(tmp_path: Path) -> None:
    img = tmp_path / "r.qcow2"
    create_image(str(img), "qcow2", 1 << 20, {"refcount_bits": 8})
    with open_image(str(img), read_only=False) as drv:
        with pytest.raises(BlockError, match="compat=0.10 requires refcount_bits=16"):
            drv.amend({"compat": "0.10"})
        with pytest.raises(BlockError, match="Changing the cluster size is not supported"):
            drv.amend({"cluster_size": 4096})
        with pytest.raises(BlockError, match="Lazy refcounts only supported"):
            drv.amend({"compat": "0.10", "refcount_bits": 16, "lazy_refcounts": True})
