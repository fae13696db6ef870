"""pyqemu-img on bad input: qemu-img's messages and exit statuses, never a traceback."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_img_commands import CHAIN, MIXED, Twins, pyimg

pytest.importorskip("pyqemu.block.qcow2.driver")


@pytest.fixture
def tw(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, qemu_img) -> Twins:
    del qemu_img
    t = Twins(tmp_path, tmp_path_factory.getbasetemp() / "img-recipes")
    t.setup(*MIXED, *CHAIN)
    return t


BAD = [
    [], ["foo"], ["-x"], ["info"], ["info", "a", "b"], ["info", "nofile"],
    ["info", "--output=xml", "a.qcow2"],
    ["info", "-f", "foo", "a.qcow2"], ["info", "-f", "qcow2", "r.raw"], ["info", "--bogus", "a.qcow2"],
    ["info", "-f"], ["check", "-r"], ["check", "-r", "bogus", "a.qcow2"], ["check", "nofile"],
    ["map", "nofile"], ["map", "--start-offset=x", "a.qcow2"], ["map", "--output=xml", "a.qcow2"],
    ["create", "-f", "qcow2", "x.qcow2", "1Q"], ["create", "-f", "qcow2", "x.qcow2", "-5"],
    ["create", "-f", "foo", "x.qcow2", "1M"], ["create", "x.qcow2"], ["create"],
    ["create", "-f", "qcow2", "-o", "bogus=1", "x.qcow2", "1M"],
    ["create", "-f", "qcow2", "-o", "cluster_size=abc", "x.qcow2", "1M"],
    ["create", "-f", "qcow2", "-o", "cluster_size=1000", "x.qcow2", "1M"],
    ["create", "-f", "qcow2", "-o", "lazy_refcounts=maybe", "x.qcow2", "1M"],
    ["create", "-f", "qcow2", "-o", "refcount_bits=abc", "x.qcow2", "1M"],
    ["create", "-f", "qcow2", "-o", "refcount_bits=3", "x.qcow2", "1M"],
    ["create", "-f", "qcow2", "-o", "preallocation=bad", "x.qcow2", "1M"],
    ["create", "-f", "qcow2", "x.qcow2", "1.5"], ["create", "-f", "raw", "x.raw", "1000", "extra"],
    ["create", "-f", "qcow2", "-b", "r.raw", "x.qcow2", "1M"],
    ["create", "-f", "qcow2", "-b", "nonexist.qcow2", "-F", "qcow2", "x.qcow2"],
    ["create", "-f", "qcow2", "-b", "r.raw", "-F", "qcow2", "x.qcow2", "1M"],
    ["create", "-f", "qcow2", "-u", "-b", "nonex", "-F", "qcow2", "x.qcow2"],
    ["create", "-f", "qcow2", "-u", "-b", "r.raw", "x.qcow2", "1M"],
    ["compare", "a.qcow2"], ["compare", "-p"], ["compare", "a.qcow2", "nofile"],
    ["convert", "-O", "qcow2", "a.qcow2"], ["convert", "-c", "-O", "raw", "a.qcow2", "x.raw"],
    ["convert", "-O", "foo", "a.qcow2", "x"], ["convert", "-f", "foo", "-O", "raw", "a.qcow2", "x.raw"],
    ["convert", "-O", "qcow2", "nofile", "x.qcow2"], ["convert", "-S", "x", "-O", "raw", "a.qcow2", "x.raw"],
    ["convert", "-m", "0", "-O", "raw", "a.qcow2", "x.raw"],
    ["convert", "-n", "-O", "raw", "a.qcow2", "x.raw"],
    ["convert", "-O", "qcow2", "-B", "r.raw", "a.qcow2", "x.qcow2"],
    ["convert", "--target-is-zero", "-O", "qcow2", "a.qcow2", "x.qcow2"],
    ["resize", "a.qcow2"], ["resize", "a.qcow2", "1Q"], ["resize", "a.qcow2", "-2M"],
    ["resize", "--preallocation=bad", "a.qcow2", "1G"], ["resize", "nofile", "1G"],
    ["snapshot", "-l", "-c", "x", "a.qcow2"], ["snapshot", "nofile"], ["snapshot", "-a", "nosuch", "a.qcow2"],
    ["rebase", "a.qcow2"], ["rebase", "-b", "nofile", "-F", "qcow2", "top.qcow2"],
    ["rebase", "-u", "-b", "b2.qcow2", "top.qcow2"],
    ["commit", "a.qcow2"], ["commit", "-b", "nofile", "top.qcow2"], ["commit"],
    ["amend", "a.qcow2"], ["amend", "-o", "bogus=1", "a.qcow2"],
    ["amend", "-o", "cluster_size=4k", "a.qcow2"],
    ["amend", "-f", "raw", "-o", "compat=1.1", "r.raw"],
    ["measure"], ["measure", "--size", "1G", "a.qcow2"], ["measure", "-O", "foo", "--size", "1G"],
    ["measure", "--size", "1G", "-o", "bogus=1", "-O", "qcow2"], ["measure", "--size", "x", "-O", "qcow2"],
    ["dd", "if=a.qcow2"], ["dd", "bs=0", "if=a.qcow2", "of=x.raw"], ["dd", "foo=1", "if=a.qcow2", "of=x.raw"],
    ["dd", "bs=1x", "if=a.qcow2", "of=x.raw"], ["dd", "count=x", "if=a.qcow2", "of=x.raw"],
    ["dd", "if=nofile", "of=x.raw"], ["dd", "-O", "foo", "if=a.qcow2", "of=x.raw"],
    ["bench", "-c", "x", "a.qcow2"], ["bench", "--pattern=300", "a.qcow2"],
    ["bench", "--flush-interval=2", "a.qcow2"], ["bench", "-o", "1G", "-c", "10", "a.qcow2"],
]


@pytest.mark.parametrize("args", BAD, ids=lambda a: " ".join(a) or "<none>")
def test_bad_input_gets_qemu_img_message_and_status(tw: Twins, args: list[str]) -> None:
    st, out, err = tw.same(*args)
    assert st != 0 or args[0] == "dd" or not err
    assert "Traceback" not in err


def test_help_and_version(tmp_path: Path) -> None:
    st, out, err = pyimg(tmp_path, "--help")
    assert st == 0 and err == ""
    assert out.startswith("pyqemu-img version 7.2.0 (pyqemu ")
    assert "usage: pyqemu-img [standard options] command [command options]" in out
    for cmd in ("amend", "bench", "check", "commit", "compare", "convert", "create", "dd", "info", "map",
                "measure", "snapshot", "rebase", "resize"):
        assert f"\n  {cmd} [" in out, cmd
    assert "Supported formats: qcow2 raw" in out
    assert pyimg(tmp_path, "-h")[1] == out
    assert pyimg(tmp_path, "info", "-h") == (0, out, "")
    st, out, err = pyimg(tmp_path, "--version")
    assert st == 0 and out.splitlines()[0].startswith("pyqemu-img version 7.2.0")
    assert pyimg(tmp_path, "-V")[1] == out


def test_garbage_images_give_clear_errors(tmp_path: Path) -> None:
    """Hostile or truncated images: one 'pyqemu-img: ...' line and status 1, for every command."""
    rnd = random.Random(4)
    good = tmp_path / "good.qcow2"
    assert pyimg(tmp_path, "create", "-q", "-f", "qcow2", str(good), "1M")[0] == 0
    header = good.read_bytes()[:4096]
    for i in range(12):
        bad = tmp_path / f"bad{i}.qcow2"
        blob = bytearray(header)
        for _ in range(8):   # corrupt a few header fields (sizes, offsets, counts)
            pos = rnd.randrange(4, 112)
            blob[pos] = rnd.randrange(256)
        bad.write_bytes(bytes(blob) if i % 3 else bytes(blob[: rnd.randrange(1, 200)]))
        for cmd in (["info", "-f", "qcow2"], ["check", "-f", "qcow2"], ["map", "-f", "qcow2"],
                    ["convert", "-f", "qcow2", "-O", "raw"], ["snapshot", "-l", "-f", "qcow2"]):
            args = [*cmd, str(bad)] + ([str(tmp_path / "out.raw")] if cmd[0] == "convert" else [])
            st, out, err = pyimg(tmp_path, *args)
            assert "Traceback" not in err and "internal error" not in err, (args, err)
            if st != 0:
                assert err.startswith("pyqemu-img: "), (args, err)


def test_backing_chain_loop_is_an_error_not_a_hang(tw: Twins) -> None:
    mk = ["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-F", "qcow2"]
    tw.setup([*mk, "-b", "l2.qcow2", "l1.qcow2", "1M"], [*mk, "-b", "l1.qcow2", "l2.qcow2", "1M"])
    tw.same_here("info", "--backing-chain", "l1.qcow2")
    # real qemu-img 7.2 hangs on these; we refuse the chain
    loop = "pyqemu-img: Could not open 'l1.qcow2': Backing file 'l1.qcow2' creates an infinite loop.\n"
    for args in (["map", "l1.qcow2"], ["convert", "-O", "raw", "l1.qcow2", "x.raw"],
                 ["compare", "l1.qcow2", "l2.qcow2"]):
        st, out, err = pyimg(tw.p, *args)
        assert st in (1, 2) and out == "" and err == loop
