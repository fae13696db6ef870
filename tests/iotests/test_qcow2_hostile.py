"""Hostile qcow2 images: every bad number gives a BlockError with a clear (QEMU's) message —
never a crash, a hang or a huge allocation."""
from __future__ import annotations

import json
import shutil
import struct
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyqemu.block.driver import BlockError, ImageCorruptError, UnsupportedError
from pyqemu.block.registry import create_image, open_image

CS = 65536


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """A small valid image: data, a compressed cluster, a snapshot."""
    path = tmp_path / "good.qcow2"
    create_image(str(path), "qcow2", 2 << 20, {})
    with open_image(str(path), read_only=False) as drv:
        drv.write(0, b"d" * 100_000)
        drv.write_compressed(CS * 4, b"c" * CS)
        drv.snapshot_create("s1")
        drv.write(CS * 8, b"e" * 5000)
    return path


def _poke(path: Path, offset: int, fmt: str, value: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(struct.pack(fmt, value))


# (header offset, struct format, value, message) — the messages are QEMU 7.2's (qemu-io open errors)
HEADER_CASES = [
    (36, ">I", 0x7FFFFFFF, "Active L1 table too large"),
    (40, ">Q", 0x30001, "Active L1 table offset invalid"),
    (40, ">Q", 1 << 60, "Active L1 table offset invalid"),
    (56, ">I", 0x7FFFFFFF, "Reference count table too large"),
    (48, ">Q", 0x10001, "Reference count table offset invalid"),
    (20, ">I", 8, r"Unsupported cluster size: 2\^8"),
    (20, ">I", 22, r"Unsupported cluster size: 2\^22"),
    (72, ">Q", 1 << 5, "Unsupported qcow2 feature\\(s\\): Unknown incompatible feature: 20"),
    (72, ">Q", 1 << 4, "Unsupported qcow2 feature\\(s\\): extended L2 entries"),
    (4, ">I", 4, "Unsupported qcow2 version 4"),
    (96, ">I", 7, "Reference count entry width too large; may not exceed 64 bits"),
    (100, ">I", 200000, "qcow2 header exceeds cluster size"),
    (100, ">I", 50, "qcow2 header too short"),
    (60, ">I", 0x7FFFFFFF, "Snapshot table too large"),
    (64, ">Q", 0x10001, "Snapshot table offset invalid"),
    (24, ">Q", 1 << 62, "Image is too big"),
    (24, ">Q", 1 << 40, "L1 table is too small"),
    (8, ">Q", 1 << 20, "Invalid backing file offset"),
    (0, ">I", 0x12345678, "Image is not in qcow2 format"),
]


@pytest.mark.parametrize("offset,fmt,value,message", HEADER_CASES)
def test_bad_header_fields(image: Path, offset: int, fmt: str, value: int, message: str) -> None:
    _poke(image, offset, fmt, value)
    with pytest.raises(BlockError, match=message):
        open_image(str(image), "qcow2")


def test_unknown_feature_named_from_table(image: Path) -> None:
    # the image's own feature-name table names the bit; unknown ones are listed by value
    _poke(image, 72, ">Q", (1 << 2) | (1 << 40))
    with pytest.raises(UnsupportedError,
                       match=r"external data file, Unknown incompatible feature: 10000000000"):
        open_image(str(image), "qcow2")


def _l1_entry_offset(path: Path) -> int:
    with open(path, "rb") as f:
        f.seek(40)
        return struct.unpack(">Q", f.read(8))[0]


def test_unaligned_l2_offset(image: Path) -> None:
    _poke(image, _l1_entry_offset(image), ">Q", (1 << 63) | 0x40200)
    with open_image(str(image)) as drv, pytest.raises(ImageCorruptError, match="unaligned"):
        drv.read(0, 512)


def test_data_cluster_on_metadata_marks_corrupt(image: Path) -> None:
    with open_image(str(image)) as drv:
        l2 = drv.l1[0] & ((1 << 56) - 512)
    _poke(image, l2 + 8 * 8, ">Q", (1 << 63) | 0)  # guest cluster 8 -> host cluster 0 (the header)
    # give it a plausible host offset of the header cluster: offset 0 is "unallocated", so use the L1
    _poke(image, l2 + 8 * 8, ">Q", (1 << 63) | _l1_entry_offset(image) & ~(CS - 1))
    with open_image(str(image), read_only=False) as drv:
        with pytest.raises(ImageCorruptError, match="Preventing invalid write on metadata"):
            drv.write(8 * CS, b"boom")
    with pytest.raises(BlockError, match="corrupt"):
        open_image(str(image), read_only=False)


def test_bad_compressed_length(image: Path) -> None:
    with open_image(str(image)) as drv:
        l2 = drv.l1[0] & ((1 << 56) - 512)
        entry = drv._entry(4)
    assert entry & (1 << 62)
    shift = 62 - (16 - 8)
    _poke(image, l2 + 4 * 8, ">Q", entry | (0xFF << shift))  # max sector count: reads garbage after it
    with open_image(str(image)) as drv:
        try:
            data = drv.read(4 * CS, CS)
        except ImageCorruptError:
            pass
        else:  # trailing bytes after a complete deflate stream are ignored, as by QEMU
            assert data == b"c" * CS
    _poke(image, l2 + 4 * 8, ">Q", (1 << 62) | (3 << shift) | (5 * CS))  # points at plain data
    with open_image(str(image)) as drv, pytest.raises(ImageCorruptError, match="decompress"):
        drv.read(4 * CS, CS)


def test_backing_loop(tmp_path: Path) -> None:
    a, b = tmp_path / "a.qcow2", tmp_path / "b.qcow2"
    create_image(str(a), "qcow2", 1 << 20, {})
    create_image(str(b), "qcow2", 1 << 20, {"backing_file": "a.qcow2", "backing_fmt": "qcow2"})
    with open_image(str(a), read_only=False) as drv:
        drv.change_backing_file("b.qcow2", "qcow2")
    with pytest.raises(BlockError, match="Backing file 'b.qcow2' creates an infinite loop."):
        open_image(str(b))
    with pytest.raises(BlockError, match="Could not open backing file: Could not open '.*missing.qcow2'"):
        create_image(str(tmp_path / "c.qcow2"), "qcow2", 1 << 20,
                     {"backing_file": "missing.qcow2", "backing_fmt": "qcow2"})
        open_image(str(tmp_path / "c.qcow2"))


def test_truncated_and_empty_files(tmp_path: Path, image: Path) -> None:
    short = tmp_path / "short.qcow2"
    short.write_bytes(image.read_bytes()[:90])
    with pytest.raises(BlockError):
        open_image(str(short), "qcow2")
    cut = tmp_path / "cut.qcow2"
    cut.write_bytes(image.read_bytes()[:3 * CS + 100])  # tables and data missing: reads must not crash
    with pytest.raises(ImageCorruptError, match="Snapshot table is truncated"):
        open_image(str(cut), "qcow2")


def test_fuzz_metadata(image: Path, tmp_path: Path) -> None:
    """Hypothesis corrupts the header, extensions, L1/L2, refcount and snapshot tables;
    opening, reading, listing snapshots, checking and writing give only BlockError."""
    with open_image(str(image)) as drv:
        regions = [(0, 512), (drv.hdr.l1_table_offset, 64), (drv.rc.table_offset, 64),
                   (drv.rc.table[0], 64), (drv.l1[0] & ((1 << 56) - 512), 128),
                   (drv.hdr.snapshots_offset, 128), (drv.snapshots[0].l1_table_offset, 32)]
    victim = tmp_path / "fuzz.qcow2"
    pristine = image.read_bytes()
    edits = st.lists(st.tuples(st.sampled_from(regions), st.integers(0, 511),
                               st.binary(min_size=1, max_size=8)), min_size=1, max_size=4)

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(edits=edits, read_only=st.booleans(), write_at=st.integers(0, (1 << 20) - 3000))
    def fuzz(edits, read_only: bool, write_at: int) -> None:
        data = bytearray(pristine)
        for (start, n), pos, patch in edits:
            at = start + pos % n
            data[at:at + len(patch)] = patch
        victim.write_bytes(bytes(data))
        started = time.monotonic()
        try:
            with open_image(str(victim), "qcow2", read_only=read_only) as drv:
                drv.read(0, min(drv.size, 1 << 20))
                drv.snapshot_list()
                drv.check()
                if not drv.read_only:
                    drv.write(write_at, b"z" * 3000)
        except BlockError:
            pass
        assert time.monotonic() - started < 5, "one image took too long: a hang or a huge table?"

    fuzz()


def test_overlapping_metadata(image: Path) -> None:
    with open_image(str(image)) as drv:
        l1_off, rt_off, rb_off = drv.hdr.l1_table_offset, drv.rc.table_offset, drv.rc.table[0]
    # refcount 0 on the active L1 table: the allocator would hand it out for new data
    bad = image.with_name("free_l1.qcow2")
    shutil.copy(image, bad)
    _poke(bad, rb_off + 2 * (l1_off // CS), ">H", 0)
    with open_image(str(bad), read_only=False) as drv, \
            pytest.raises(ImageCorruptError, match=r"overlaps with active L1 table"):
        for i in range(16):
            drv.write((i + 16) * CS, b"n" * CS)
    # an L2 table sitting on the refcount table
    _poke(image, l1_off, ">Q", (1 << 63) | rt_off)
    with open_image(str(image), read_only=False) as drv, \
            pytest.raises(ImageCorruptError, match=r"overlaps with refcount table"):
        drv.write(0, b"w")
    with pytest.raises(BlockError, match="Image is corrupt; cannot be opened read/write"):
        open_image(str(image), read_only=False)


def test_refcounts_all_used_far_past_eof(tmp_path: Path) -> None:
    """A refcount table whose blocks all say "in use" must not make allocation scan forever."""
    img = tmp_path / "full.qcow2"
    create_image(str(img), "qcow2", 1 << 20, {"cluster_size": 4096})
    with open_image(str(img)) as drv:
        rt, rb = drv.rc.table_offset, drv.rc.table[0]
    with open(img, "r+b") as f:
        f.seek(rb)
        f.write(b"\xff" * 4096)  # every cluster of block 0 in use
        f.seek(rt)
        f.write(struct.pack(">Q", rb) * 512)  # and 512 blocks, all that same block
    start = time.monotonic()
    with open_image(str(img), read_only=False) as drv, \
            pytest.raises(ImageCorruptError, match="far past the end"):
        drv.write(0, b"x")
    assert time.monotonic() - start < 10


def test_data_cluster_far_past_eof(image: Path) -> None:
    with open_image(str(image)) as drv:
        l2 = drv.l1[0] & ((1 << 56) - 512)
    size = image.stat().st_size
    _poke(image, l2 + 9 * 8, ">Q", (1 << 63) | (1 << 40))  # in-place target 1 TiB out
    with open_image(str(image), read_only=False) as drv, \
            pytest.raises(ImageCorruptError, match="past the end of the image file"):
        drv.write(9 * CS, b"far")
    assert image.stat().st_size == size  # nothing was written out there


def test_check_of_huge_sparse_file_is_quick(image: Path, qemu_img) -> None:
    with open(image, "r+b") as f:
        f.truncate(1 << 40)  # a 1 TiB sparse tail nothing references
    start = time.monotonic()
    with open_image(str(image)) as drv:
        res = drv.check()
    assert time.monotonic() - start < 10
    assert (res.corruptions, res.leaks) == (0, 0)
    assert res.image_end_offset == json.loads(
        qemu_img("check", "--output=json", image).stdout)["image-end-offset"]
