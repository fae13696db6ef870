"""The raw format driver: sparse create, I/O, discard/zeroes punching holes, block status, resize."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pyqemu.block.driver import BlockError
from pyqemu.block.raw import RawDriver
from pyqemu.block.registry import create_image, open_image, probe_format

MiB = 1 << 20


def _map(drv: RawDriver) -> list[tuple[int, int, bool, bool]]:
    out, pos = [], 0
    while pos < drv.size:
        st = drv.block_status(pos, drv.size - pos)
        out.append((st.start, st.length, st.data, st.zero))
        pos += st.length
    return out


def test_create_is_sparse_like_qemu(tmp_path: Path, qemu_img) -> None:
    ours, theirs = tmp_path / "ours.raw", tmp_path / "theirs.raw"
    create_image(str(ours), "raw", 4 * MiB)
    qemu_img("create", "-q", "-f", "raw", theirs, "4M")
    assert os.stat(ours).st_size == os.stat(theirs).st_size == 4 * MiB
    assert os.stat(ours).st_blocks == os.stat(theirs).st_blocks  # only the first block is allocated
    with open_image(str(ours)) as drv:
        assert drv.format_name == "raw"
        ours_map = _map(drv)
    theirs_map = [(e["start"], e["length"], e["data"], e["zero"])
                  for e in json.loads(qemu_img("map", "--output=json", "-f", "raw", theirs).stdout)]
    assert ours_map == theirs_map


def test_io_discard_zeroes_status(tmp_path: Path) -> None:
    path = tmp_path / "d.raw"
    create_image(str(path), "raw", 8 * MiB)
    data = os.urandom(4 * MiB)
    with open_image(str(path), "raw", read_only=False) as drv:
        drv.write(MiB, data)
        drv.flush()
        assert drv.read(MiB, len(data)) == data
        full = os.stat(path).st_blocks
        drv.discard(MiB, 2 * MiB)
        assert drv.read(MiB, 2 * MiB) == bytes(2 * MiB)
        assert os.stat(path).st_blocks <= full - (2 * MiB) // 512
        st = drv.block_status(MiB, 4 * MiB)
        assert (st.data, st.zero, st.length, st.offset) == (False, True, 2 * MiB, MiB)
        st = drv.block_status(3 * MiB, 4 * MiB)
        assert (st.data, st.zero, st.length) == (True, False, 2 * MiB)
        drv.write_zeroes(3 * MiB, MiB, may_unmap=True)
        assert drv.read(3 * MiB, MiB) == bytes(MiB)
        assert not drv.block_status(3 * MiB, MiB).data
        drv.write_zeroes(4 * MiB, 4096)  # without unmap: zeros, still allocated
        assert drv.read(4 * MiB, 4096 + 10) == bytes(4096) + data[3 * MiB + 4096:3 * MiB + 4106]
        assert drv.block_status(4 * MiB, 4096).data


def test_truncate_and_preallocation(tmp_path: Path) -> None:
    path = tmp_path / "r.raw"
    create_image(str(path), "raw", MiB, {"preallocation": "full"})
    assert os.stat(path).st_blocks * 512 >= MiB
    with open_image(str(path), "raw", read_only=False) as drv:
        drv.truncate(2 * MiB)
        assert drv.size == 2 * MiB
        with pytest.raises(BlockError, match="--shrink"):
            drv.truncate(MiB)
        drv.truncate(MiB // 2, shrink=True)
        assert drv.size == MiB // 2
        drv.truncate(MiB, preallocation="falloc")
        assert os.stat(path).st_blocks * 512 >= MiB


def test_read_only_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "ro.raw"
    path.write_bytes(b"x" * 4096)
    assert probe_format(str(path)) == "raw"
    with open_image(str(path)) as drv, pytest.raises(BlockError, match="read-only"):
        drv.write(0, b"y")
    with pytest.raises(BlockError, match="No such file"):
        open_image(str(tmp_path / "missing.raw"))
    with pytest.raises(BlockError, match="Unknown driver 'vmdk9'"):
        open_image(str(path), "vmdk9")
    with pytest.raises(BlockError, match="Invalid parameter"):
        create_image(str(tmp_path / "p.raw"), "raw", MiB, {"preallocation": "metadata"})
