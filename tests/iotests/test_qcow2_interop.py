"""qcow2 interop with real qemu-img/qemu-io 7.2, both ways: what we write passes their check and
compare; what they write (plain, compressed, chains, snapshots, v2/v3, 512 B..2 MiB clusters) reads
the same here."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from pyqemu.block.registry import create_image, open_image

KiB, MiB = 1 << 10, 1 << 20


def _random_ops(drv, ref: bytearray, seed: int, n: int = 40, discard: bool = True) -> None:
    rnd = random.Random(seed)
    size = len(ref)
    for _ in range(n):
        op = rnd.random()
        off = rnd.randrange(size)
        length = min(rnd.choice([1, 511, 4096, 65536, 200_000]), size - off)
        if op < 0.6 or not discard:
            data = rnd.randbytes(length)
            drv.write(off, data)
            ref[off:off + length] = data
        elif op < 0.8:
            drv.write_zeroes(off, length, may_unmap=rnd.random() < 0.5)
            ref[off:off + length] = bytes(length)
        else:
            # discard is advisory: whole clusters read as zeros afterwards, the rest is unchanged
            drv.discard(off, length)
            cs = drv.cs
            first, last = -(-off // cs) * cs, (off + length) // cs * cs
            if off + length == size:
                last = size
            if last > first:
                ref[first:last] = bytes(last - first)


@pytest.mark.parametrize("opts", [
    {}, {"compat": "0.10"}, {"cluster_size": 512}, {"cluster_size": 2 * MiB}, {"refcount_bits": 1},
    {"refcount_bits": 64, "cluster_size": 512}, {"lazy_refcounts": True},
    {"preallocation": "metadata"},
])
def test_create_byte_identical(tmp_path: Path, qemu_img, opts: dict) -> None:
    ours, theirs = tmp_path / "ours.qcow2", tmp_path / "theirs.qcow2"
    create_image(str(ours), "qcow2", 8 * MiB, opts)
    qopts = ",".join(f"{k}={'on' if v is True else v}" for k, v in opts.items())
    qemu_img("create", "-q", "-f", "qcow2", *(["-o", qopts] if qopts else []), theirs, "8M")
    assert ours.read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize("opts", [
    {}, {"compat": "0.10"}, {"cluster_size": 512}, {"cluster_size": 4096, "refcount_bits": 2},
    {"cluster_size": 2 * MiB}, {"refcount_bits": 64}, {"cluster_size": 1024, "refcount_bits": 1},
])
def test_our_writes_pass_qemu_check(tmp_path: Path, qemu_img, qemu_check, opts: dict) -> None:
    img, raw = tmp_path / "t.qcow2", tmp_path / "ref.raw"
    size = 3 * MiB + 512
    create_image(str(img), "qcow2", size, opts)
    ref = bytearray(size)
    with open_image(str(img), read_only=False) as drv:
        _random_ops(drv, ref, seed=len(str(opts)))
        assert drv.read(0, size) == ref
        assert drv.check().corruptions == 0
    raw.write_bytes(ref)
    report = qemu_check(img)
    assert report.get("leaks", 0) == 0
    qemu_img("compare", "-f", "qcow2", "-F", "raw", img, raw)
    with open_image(str(img)) as drv:  # and after reopening
        assert drv.read(0, size) == ref


@pytest.mark.parametrize("compat,cluster", [("1.1", 512), ("1.1", 65536), ("0.10", 4096), ("1.1", 2 * MiB)])
def test_read_qemu_written_images(tmp_path: Path, qemu_img, qemu_io, compat: str, cluster: int) -> None:
    img, raw = tmp_path / "q.qcow2", tmp_path / "q.raw"
    qemu_img("create", "-q", "-f", "qcow2", "-o", f"compat={compat},cluster_size={cluster}", img, "5M")
    qemu_io(img, "write -P 0xa5 0 1M", "write -P 0x11 700k 3000", "write -z 256k 128k",
            "discard 512k 256k", f"write -P 0x42 {4 * MiB + 3} 70000")
    qemu_img("convert", "-f", "qcow2", "-O", "raw", img, raw)
    with open_image(str(img)) as drv:
        assert drv.read(0, drv.size) == raw.read_bytes()
        assert drv.check().corruptions == 0


def test_read_compressed_and_write_compressed(tmp_path: Path, qemu_img, qemu_check) -> None:
    src, comp, back = tmp_path / "s.raw", tmp_path / "c.qcow2", tmp_path / "back.raw"
    rnd = random.Random(5)
    data = b"".join(rnd.choice([bytes(64 * KiB), rnd.randbytes(64 * KiB), b"abcd" * (16 * KiB)])
                    for _ in range(24))
    src.write_bytes(data + b"tail")
    qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", src, comp)
    with open_image(str(comp)) as drv:
        assert drv.read(0, drv.size) == data + b"tail" + bytes(drv.size - len(data) - 4)
        assert any(drv.block_status(i * 65536, 65536).compressed for i in range(24))
        res = drv.check()
        assert res.compressed_clusters and res.corruptions == 0 and res.leaks == 0
    # our compressed writes, then a partial overwrite of a compressed cluster (COW out of it)
    ours = tmp_path / "o.qcow2"
    create_image(str(ours), "qcow2", len(data), {})
    with open_image(str(ours), read_only=False) as drv:
        for i in range(0, len(data), 65536):
            drv.write_compressed(i, data[i:i + 65536])
        drv.write(65536 + 100, b"X" * 10)
    expect = bytearray(data)
    expect[65536 + 100:65536 + 110] = b"X" * 10
    back.write_bytes(expect)
    report = qemu_check(ours)
    assert report.get("compressed-clusters", 0) > 0
    qemu_img("compare", "-f", "qcow2", "-F", "raw", ours, back)


@pytest.mark.parametrize("base_fmt", ["raw", "qcow2"])
def test_backing_chain_both_ways(tmp_path: Path, qemu_img, qemu_io, qemu_check, base_fmt: str) -> None:
    base, mid, top = tmp_path / f"base.{base_fmt}", tmp_path / "mid.qcow2", tmp_path / "top.qcow2"
    qemu_img("create", "-q", "-f", base_fmt, base, "2M")
    qemu_io(base, "write -P 1 0 2M", fmt=base_fmt)
    qemu_img("create", "-q", "-f", "qcow2", "-b", base.name, "-F", base_fmt, "-o", "cluster_size=4096", mid)
    qemu_io(mid, "write -P 2 4k 8k", "write -z 64k 64k")
    qemu_img("create", "-q", "-f", "qcow2", "-b", mid.name, "-F", "qcow2", top, "3M")  # grows past the base
    qemu_io(top, "write -P 3 1000 10")
    flat = tmp_path / "flat.raw"
    qemu_img("convert", "-O", "raw", top, flat)
    expect = bytearray(flat.read_bytes())
    with open_image(str(top), read_only=False) as drv:
        assert drv.backing is not None and drv.backing.backing is not None
        assert drv.read(0, drv.size) == expect
        # partial writes copy the rest of the cluster up from the chain
        for off, n in ((70 * KiB, 5), (2 * MiB - 3, 10), (5 * KiB, 3 * KiB)):
            drv.write(off, b"\x77" * n)
            expect[off:off + n] = b"\x77" * n
        drv.discard(0, 3 * MiB)  # v3: zero flag hides the backing data
        expect[:] = bytes(len(expect))
        drv.write(128 * KiB, b"\x55" * 4096)
        expect[128 * KiB:128 * KiB + 4096] = b"\x55" * 4096
    qemu_check(top)
    flat.write_bytes(expect)
    qemu_img("compare", "-F", "raw", top, flat)


def test_discard_shrinks_host_file(tmp_path: Path, qemu_img, qemu_check) -> None:
    """Thin provisioning: 64 MiB written then discarded gives its host blocks back."""
    img = tmp_path / "thin.qcow2"
    create_image(str(img), "qcow2", 80 * MiB, {})
    with open_image(str(img), read_only=False) as drv:
        chunk = os.urandom(MiB)
        for i in range(64):
            drv.write(i * MiB, chunk)
        drv.flush()
        full = os.stat(img).st_blocks * 512
        assert full >= 64 * MiB
        drv.discard(0, 64 * MiB)
        drv.flush()
        assert drv.read(0, 2 * MiB) == bytes(2 * MiB)
    allocated = os.stat(img).st_blocks * 512
    assert allocated <= 6 * 64 * KiB  # header, refcount table and block, L1, L2: metadata only
    qemu_check(img)
    extents = json.loads(qemu_img("map", "--output=json", img).stdout)
    assert all(not e["data"] and e["zero"] for e in extents)


def test_snapshots_interop(tmp_path: Path, qemu_img, qemu_io, qemu_check) -> None:
    img = tmp_path / "snap.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", img, "2M")
    qemu_io(img, "write -P 1 0 1M")
    qemu_img("snapshot", "-c", "theirs", img)
    qemu_io(img, "write -P 2 64k 64k")
    with open_image(str(img), read_only=False) as drv:
        assert [s.name for s in drv.snapshot_list()] == ["theirs"]
        drv.snapshot_create("ours", vm_state=b"vmstate!" * 10000, vm_clock_nsec=123_456_789_000)
        drv.write(0, b"\x09" * 4096)
        drv.snapshot_apply("theirs")
        assert drv.read(0, 1 * MiB) == b"\x01" * MiB
        drv.write(0, b"\x03" * 100)
    report = qemu_check(img)
    assert report.get("leaks", 0) == 0
    listing = qemu_img("snapshot", "-l", img).stdout
    assert "theirs" in listing and "ours" in listing and "78.1 KiB" in listing
    info = json.loads(qemu_img("info", "--output=json", img).stdout)
    ours_info = next(s for s in info["snapshots"] if s["name"] == "ours")
    assert ours_info["vm-state-size"] == 80000 and ours_info["vm-clock-sec"] == 123
    qemu_img("snapshot", "-a", "ours", img)
    out = tmp_path / "ours.raw"
    qemu_img("convert", "-O", "raw", img, out)
    expect = b"\x01" * 65536 + b"\x02" * 65536 + b"\x01" * (MiB - 131072) + bytes(MiB)
    assert out.read_bytes() == expect
    with open_image(str(img), read_only=False) as drv:
        snap = next(s for s in drv.snapshot_list() if s.name == "ours")
        assert drv.vmstate_read(snap) == b"vmstate!" * 10000
        # the streaming path savevm uses: chunks into the vm-state area, then the snapshot
        drv.vmstate_write(0, b"part1-")
        drv.vmstate_write(6, b"part2" * 30000)
        third = drv.snapshot_create("third", vm_state_size=6 + 150000)
        assert drv.vmstate_read(third) == b"part1-" + b"part2" * 30000
        drv.snapshot_delete("third")
        drv.snapshot_delete("theirs")
        drv.snapshot_delete(snap.id)
        assert drv.snapshot_list() == []
        assert drv.read(0, 2 * MiB) == expect
    qemu_check(img)
    assert json.loads(qemu_img("info", "--output=json", img).stdout).get("snapshots") is None


def _our_map(drv) -> list[dict]:
    """``qemu-img map --output=json`` from our block_status (single-layer images)."""
    out: list[dict] = []
    pos = 0
    while pos < drv.size:
        st = drv.block_status(pos, drv.size - pos)
        e = {"start": st.start, "length": st.length, "depth": st.depth, "present": st.present,
             "zero": st.zero, "data": st.data}
        if st.offset is not None:
            e["offset"] = st.offset
        prev = out[-1] if out else None
        if (prev and all(prev[k] == e[k] for k in ("depth", "present", "zero", "data"))
                and ("offset" in prev) == ("offset" in e)
                and ("offset" not in e or prev["offset"] + prev["length"] == e["offset"])):
            prev["length"] += e["length"]
        else:
            out.append(e)
        pos += st.length
    return out


def test_info_and_map_match_qemu(tmp_path: Path, qemu_img, qemu_io) -> None:
    base = tmp_path / "base.raw"
    base.write_bytes(bytes(MiB))
    cases = {
        "plain.qcow2": ({}, ["write -P 1 0 300k", "write -z 512k 128k", "discard 128k 64k",
                             "write -P 2 1M 64k", "write -z -u 1M 64k"]),
        "zeroes.qcow2": ({}, []),
        "v2.qcow2": ({"compat": "0.10", "cluster_size": 4096}, ["write -P 1 4k 40k", "discard 8k 8k"]),
        "prealloc.qcow2": ({"preallocation": "metadata"}, ["write -P 3 64k 64k"]),
        "lazy.qcow2": ({"lazy_refcounts": True, "refcount_bits": 8}, []),
        "backed.qcow2": ({"backing_file": "base.raw", "backing_fmt": "raw"}, ["write -P 4 0 4k"]),
    }
    for name, (opts, cmds) in cases.items():
        img = tmp_path / name
        create_image(str(img), "qcow2", 2 * MiB, opts)
        if cmds:
            qemu_io(img, *cmds)
        if name == "zeroes.qcow2":  # unaligned zero writes, by us: the same map as QEMU's for its own
            twin = tmp_path / "zeroes-twin.qcow2"
            create_image(str(twin), "qcow2", 2 * MiB, opts)
            qemu_io(twin, "write -z 1000 70000", "write -P 1 128k 100", "write -z 128k 70000")
            with open_image(str(img), read_only=False) as drv:
                drv.write_zeroes(1000, 70000)
                drv.write(128 * KiB, b"\x01" * 100)
                drv.write_zeroes(128 * KiB, 70000)
            assert (json.loads(qemu_img("map", "--output=json", img).stdout)
                    == json.loads(qemu_img("map", "--output=json", twin).stdout))
        theirs = json.loads(qemu_img("info", "--output=json", img).stdout)
        with open_image(str(img)) as drv:
            ours = drv.info()
            for key, value in ours.items():
                assert theirs[key] == value, (name, key)
            assert drv.size == theirs["virtual-size"]
            if drv.backing is None:
                assert _our_map(drv) == json.loads(qemu_img("map", "--output=json", img).stdout), name
    # snapshots as qemu-img info shows them
    img = tmp_path / "plain.qcow2"
    qemu_img("snapshot", "-c", "one", img)
    with open_image(str(img), read_only=False) as drv:
        drv.snapshot_create("two", vm_clock_nsec=3_500_000_000)
    theirs = json.loads(qemu_img("info", "--output=json", img).stdout)
    with open_image(str(img)) as drv:
        assert drv.info()["snapshots"] == theirs["snapshots"]
    # compressed clusters: data without an offset
    comp = tmp_path / "comp.qcow2"
    qemu_img("convert", "-c", "-O", "qcow2", tmp_path / "v2.qcow2", comp)
    with open_image(str(comp)) as drv:
        assert _our_map(drv) == json.loads(qemu_img("map", "--output=json", comp).stdout)


def test_zstd_both_ways(tmp_path: Path, qemu_img) -> None:
    pytest.importorskip("zstandard")
    rnd = random.Random(3)
    data = b"".join(rnd.choice([bytes(64 * KiB), rnd.randbytes(64 * KiB), b"abcd" * (16 * KiB)])
                    for _ in range(12))
    raw, theirs, ours = tmp_path / "z.raw", tmp_path / "theirs.qcow2", tmp_path / "ours.qcow2"
    raw.write_bytes(data)
    qemu_img("convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", raw, theirs)
    with open_image(str(theirs)) as drv:
        assert drv.info()["format-specific"]["data"]["compression-type"] == "zstd"
        assert drv.read(0, len(data)) == data
    create_image(str(ours), "qcow2", len(data), {"compression_type": "zstd"})
    with open_image(str(ours), read_only=False) as drv:
        for i in range(0, len(data), 64 * KiB):
            drv.write_compressed(i, data[i:i + 64 * KiB])
    report = json.loads(qemu_img("check", "--output=json", ours).stdout)
    assert report.get("compressed-clusters", 0) >= 4
    qemu_img("compare", "-F", "raw", ours, raw)


def test_persistent_bitmaps_are_counted(tmp_path: Path, qemu_img, qemu_io) -> None:
    img = tmp_path / "bm.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", img, "4M")
    qemu_io(img, "write 0 1M")
    qemu_img("bitmap", "--add", img, "b0")
    qemu_io(img, "write 2M 1M")
    theirs = json.loads(qemu_img("info", "--output=json", img).stdout)
    with open_image(str(img)) as drv:
        assert drv.info()["format-specific"] == theirs["format-specific"]
        res = drv.check()
        assert (res.leaks, res.corruptions) == (0, 0)


def test_make_empty_like_commit(tmp_path: Path, qemu_img, qemu_io, qemu_check) -> None:
    for name in ("theirs", "ours"):
        qemu_img("create", "-q", "-f", "qcow2", tmp_path / f"{name}-base.qcow2", "4M")
        qemu_io(tmp_path / f"{name}-base.qcow2", "write -P 1 0 4M")
        qemu_img("create", "-q", "-f", "qcow2", "-b", f"{name}-base.qcow2", "-F", "qcow2",
                 tmp_path / f"{name}.qcow2")
        qemu_io(tmp_path / f"{name}.qcow2", "write -P 2 64k 1M", "write -z 2M 64k")
    qemu_img("commit", "-q", tmp_path / "theirs.qcow2")  # commits, then empties the top image
    with open_image(str(tmp_path / "ours.qcow2"), read_only=False) as drv:
        drv.make_empty()
        assert drv.read(0, 4 * MiB) == b"\x01" * (4 * MiB)  # the backing file shows through again
    qemu_check(tmp_path / "ours.qcow2")
    assert (tmp_path / "ours.qcow2").stat().st_size == (tmp_path / "theirs.qcow2").stat().st_size
    mine = json.loads(qemu_img("map", "--output=json", tmp_path / "ours.qcow2").stdout)
    assert all(e["depth"] == 1 for e in mine)
