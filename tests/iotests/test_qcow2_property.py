"""Property test: random sequences of writes, discards, zero writes, snapshots, resizes and
reopens on a qcow2 image behave like a bytearray, and real qemu-img check stays clean."""
from __future__ import annotations

import errno
import os
import tempfile

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pyqemu.block.driver import BlockError  # noqa: E402
from pyqemu.block.registry import create_image, open_image  # noqa: E402

CS = 4096
MAX = 256 * 1024

offsets = st.integers(0, MAX - 1)
lengths = st.sampled_from([1, 100, 512, 4096, 5000, 3 * CS, 40000])
op = st.one_of(
    st.tuples(st.just("write"), offsets, lengths, st.integers(1, 255)),
    st.tuples(st.just("zeroes"), offsets, lengths, st.booleans()),
    st.tuples(st.just("discard"), offsets, lengths),
    st.tuples(st.just("snap_create")),
    st.tuples(st.just("snap_apply"), st.integers(0, 5)),
    st.tuples(st.just("snap_delete"), st.integers(0, 5)),
    st.tuples(st.just("resize"), st.integers(1, MAX // 512)),
    st.tuples(st.just("reopen")),
    st.tuples(st.just("compressed"), st.integers(0, MAX // CS - 1), st.integers(0, 255)),
)


@settings(max_examples=int(os.environ.get("PYQEMU_PROPERTY_EXAMPLES", "30")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, max_size=14), variant=st.sampled_from(["v3", "v2", "lazy", "small", "rc1"]))
def test_ops_match_bytearray_model(qemu_img, ops: list, variant: str) -> None:
    opts = {"v2": {"compat": "0.10"}, "lazy": {"lazy_refcounts": True}, "v3": {},
            "small": {"cluster_size": 512, "refcount_bits": 64}, "rc1": {"refcount_bits": 2}}[variant]
    cs = opts.get("cluster_size", CS)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "p.qcow2")
        create_image(path, "qcow2", MAX // 2, {"cluster_size": CS, **opts})
        model = bytearray(MAX // 2)
        snaps: list[tuple[str, bytes]] = []
        drv = open_image(path, read_only=False)
        try:
            for o in ops:
                size = len(model)
                if o[0] == "write":
                    off = o[1] % size
                    n = min(o[2], size - off)
                    drv.write(off, bytes([o[3]]) * n)
                    model[off:off + n] = bytes([o[3]]) * n
                elif o[0] == "zeroes":
                    off = o[1] % size
                    n = min(o[2], size - off)
                    drv.write_zeroes(off, n, may_unmap=o[3])
                    model[off:off + n] = bytes(n)
                elif o[0] == "discard":
                    off = o[1] % size
                    n = min(o[2], size - off)
                    drv.discard(off, n)
                    first = -(-off // cs) * cs
                    last = size if off + n == size else (off + n) // cs * cs
                    if last > first:
                        model[first:last] = bytes(last - first)
                elif o[0] == "snap_create":
                    try:
                        info = drv.snapshot_create(f"s{len(snaps)}")
                    except BlockError as exc:  # refcount_bits=2: at most 3 references
                        assert variant == "rc1" and exc.errno == errno.ERANGE
                    else:
                        snaps.append((info.id, bytes(model)))
                elif o[0] == "snap_apply" and snaps:
                    sid, content = snaps[o[1] % len(snaps)]
                    try:
                        drv.snapshot_apply(sid)
                    except BlockError as exc:
                        assert variant == "rc1" and exc.errno == errno.ERANGE
                    else:
                        model = bytearray(content)
                elif o[0] == "snap_delete" and snaps:
                    sid, _ = snaps.pop(o[1] % len(snaps))
                    drv.snapshot_delete(sid)
                elif o[0] == "resize":
                    new = o[1] * 512
                    drv.truncate(new, shrink=True)
                    model = model[:new] + bytearray(max(0, new - len(model)))
                elif o[0] == "reopen":
                    drv.close()
                    drv = open_image(path, read_only=False)
                elif o[0] == "compressed":
                    off = o[1] * cs
                    if off + cs <= size:
                        drv.write_compressed(off, bytes([o[2]]) * cs)
                        model[off:off + cs] = bytes([o[2]]) * cs
                assert drv.size == len(model)
            assert drv.read(0, drv.size) == model
        finally:
            drv.close()
        status = qemu_img("check", path, check=False)
        assert status.returncode == 0, status.stdout + status.stderr
        with open_image(path) as drv:
            assert drv.read(0, drv.size) == model
