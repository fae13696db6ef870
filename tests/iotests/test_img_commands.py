"""pyqemu-img against real qemu-img 7.2: the same command on the same images gives the same output.

Each test runs a command with both tools in twin directories (same file names,
so messages match), then compares stdout, stderr (program name swapped) and the
exit status byte for byte, and checks the images they produced with the real
qemu-img (check, map, compare).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pyqemu.tools import img

pytest.importorskip("pyqemu.block.qcow2.driver")

KiB, MiB = 1 << 10, 1 << 20


def pyimg(cwd: Path, *args: str) -> tuple[int, str, str]:
    """Run pyqemu-img in this process (fast), in ``cwd``."""
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = img.main(list(args))
    finally:
        os.chdir(old)
    return status, out.getvalue(), err.getvalue()


def real(cwd: Path, *args: str, tool: str = "qemu-img") -> tuple[int, str, str]:
    # bytes, then decode: text mode would turn the progress line's "\r" into "\n"
    p = subprocess.run([tool, *args], cwd=cwd, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def as_ours(stderr: str) -> str:
    """Real qemu-img's stderr with our program name."""
    return "\n".join(line.replace("qemu-img: ", "pyqemu-img: ", 1).replace("'qemu-img --help'",
                                                                             "'pyqemu-img --help'")
                     for line in stderr.split("\n"))


def sparse_copy(src: Path, dst: Path) -> None:
    """Copy a file keeping its holes exactly where they are (what du and map see for raw files).

    qcow2 files are copied in full: QEMU guesses "metadata preallocation" from how much of the
    file is allocated, and holes in a copy would change that guess.
    """
    with open(src, "rb") as fi:
        if fi.read(4) == b"QFI\xfb":
            shutil.copyfile(src, dst)
            return
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        size = os.fstat(fi.fileno()).st_size
        fo.truncate(size)
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fi.fileno(), pos, os.SEEK_DATA)
            except OSError:
                break       # only a hole is left
            end = os.lseek(fi.fileno(), start, os.SEEK_HOLE)
            fi.seek(start)
            fo.seek(start)
            fo.write(fi.read(end - start))
            pos = end


class Twins:
    """Two directories with the same setup: ``q`` for qemu-img, ``p`` for pyqemu-img."""

    _made: dict[str, Path] = {}     # image sets already built in this session, by recipe

    def __init__(self, root: Path, cache: Path) -> None:
        self.q, self.p = root / "q", root / "p"
        self.q.mkdir()
        self.p.mkdir()
        self.cache = cache

    def setup(self, *commands: list[str]) -> None:
        """Make test images with real qemu-img / qemu-io, then copy them: both tools see the same bytes.

        A recipe is built once per session and copied (holes included) for every test that uses it.
        """
        key = repr(commands)
        src = self._made.get(key)
        if src is None or not src.exists():
            src = self.cache / f"set{len(self._made)}-{os.getpid()}"
            src.mkdir(parents=True)
            for cmd in commands:
                st, out, err = real(src, *cmd[1:], tool=cmd[0])
                aborted = "abort" in cmd and st == -6      # qemu-io's "abort" kills itself on purpose
                assert (st == 0 or aborted) and "error" not in out.lower(), (cmd, out, err)
            self._made[key] = src
        for name in os.listdir(src):
            sparse_copy(src / name, self.q / name)
            sparse_copy(src / name, self.p / name)

    def changed(self, before: dict[str, bytes]) -> list[str]:
        """Files that either tool created or changed since ``before`` (from contents())."""
        now = self.contents()
        return sorted({k.split("/", 1)[1] for k in now if before.get(k) != now[k]})

    def contents(self) -> dict[str, bytes]:
        return {f"{d.name}/{n}": (d / n).read_bytes() for d in (self.q, self.p) for n in os.listdir(d)}

    def both(self, *args: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
        return real(self.q, *args), pyimg(self.p, *args)

    def same_here(self, *args: str) -> tuple[int, str, str]:
        """Like same(), for read-only commands: both tools run on the very same files."""
        (qs, qo, qe), (ps, po, pe) = real(self.q, *args), pyimg(self.q, *args)
        assert po == qo, f"stdout differs for {args}"
        assert pe == as_ours(qe), f"stderr differs for {args}"
        assert ps == qs, f"exit status differs for {args}"
        return ps, po, pe

    def same(self, *args: str) -> tuple[int, str, str]:
        """Run ``args`` with both tools; assert identical output and status; return ours."""
        (qs, qo, qe), (ps, po, pe) = self.both(*args)
        assert po == qo, f"stdout differs for {args}"
        assert pe == as_ours(qe), f"stderr differs for {args}"
        assert ps == qs, f"exit status differs for {args}"
        return ps, po, pe

    def map_json(self, name: str) -> tuple[list, list]:
        """Real qemu-img's map of the image each tool produced."""
        out = []
        for d in (self.q, self.p):
            st, o, e = real(d, "map", "--output=json", name)
            assert st == 0, e
            out.append(json.loads(o))
        return out[0], out[1]

    def info_json(self, name: str) -> tuple[dict, dict]:
        out = []
        for d in (self.q, self.p):
            st, o, e = real(d, "info", "--output=json", name)
            assert st == 0, e
            info = json.loads(o)
            info.pop("actual-size", None)
            out.append(info)
        return out[0], out[1]

    def real_check_clean(self, name: str) -> None:
        st, o, e = real(self.p, "check", name)
        assert st == 0 and "No errors were found" in o, o + e


@pytest.fixture
def tw(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, qemu_img) -> Twins:
    del qemu_img   # the fixture skips (or fails in CI) when the real qemu-img is missing
    return Twins(tmp_path, tmp_path_factory.getbasetemp() / "img-recipes")


QIO = "qemu-io"
MIXED = [["qemu-img", "create", "-q", "-f", "qcow2", "a.qcow2", "4M"],
         [QIO, "-f", "qcow2", "-c", "write -P 0xaa 0 128k", "-c", "write -P 0x55 1M 64k",
          "-c", "write -z 2M 64k", "-c", "write -P 1 3M 128k", "a.qcow2"],
         ["qemu-img", "create", "-q", "-f", "raw", "r.raw", "4M"],
         [QIO, "-f", "raw", "-c", "write -P 7 64k 64k", "-c", "write -P 0 1M 64k", "r.raw"]]
CHAIN = [["qemu-img", "create", "-q", "-f", "qcow2", "base.qcow2", "1M"],
         ["qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2"],
         [QIO, "-f", "qcow2", "-c", "write -P 1 0 64k", "top.qcow2"],
         [QIO, "-f", "qcow2", "-c", "write -P 2 64k 64k", "base.qcow2"],
         ["qemu-img", "create", "-q", "-f", "qcow2", "b2.qcow2", "5M"],
         [QIO, "-f", "qcow2", "-c", "write -P 9 0 1M", "b2.qcow2"],
         ["qemu-img", "create", "-q", "-f", "qcow2", "-b", "b2.qcow2", "-F", "qcow2", "t2.qcow2"]]


# --- create ----------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["-f", "qcow2", "x.qcow2", "1M"],
    ["-f", "qcow2", "-o", "cluster_size=4k,lazy_refcounts=on,refcount_bits=8,compat=1.1", "x.qcow2", "3M"],
    ["-f", "qcow2", "-o", "compat=0.10", "x.qcow2", "1.5M"],
    ["-f", "qcow2", "-o", "preallocation=metadata", "x.qcow2", "1M"],
    ["-f", "qcow2", "-o", "size=2M", "x.qcow2"],
    ["-f", "qcow2", "-b", "r.raw", "-F", "raw", "x.qcow2"],
    ["-f", "qcow2", "-u", "-b", "nonexist.qcow2", "-F", "qcow2", "x.qcow2", "1M"],
    ["-f", "qcow2", "x.qcow2", "1M", "-o", "cluster_size=2M"],
    ["-f", "raw", "x.raw", "0x100000"],
    ["-q", "-f", "qcow2", "x.qcow2", "1M"],
])
def test_create_matches_qemu_img(tw: Twins, args: list[str]) -> None:
    tw.setup(MIXED[2])
    tw.same("create", *args)
    name = next(a for a in args if a.startswith("x."))
    if "nonexist.qcow2" in args:
        return   # qemu-img itself cannot open an image whose backing file is missing
    qi, pi = tw.info_json(name)
    assert pi == qi
    if name.endswith(".qcow2"):
        tw.real_check_clean(name)
        assert tw.map_json(name)[1] == tw.map_json(name)[0]


def test_create_option_help_lists_format_options(tw: Twins) -> None:
    st, out, _ = pyimg(tw.p, "create", "-f", "qcow2", "-o", "help")
    assert st == 0 and out.startswith("Supported qcow2 options:\n")
    q_lines = set(real(tw.q, "create", "-f", "qcow2", "-o", "help")[1].splitlines())
    for line in out.splitlines():   # every option we list is listed (and spelled) as qemu-img does
        assert line in q_lines


# --- info, map, check, snapshot -l, measure on the same images --------------------------------------
SNAP = [["qemu-img", "snapshot", "-c", "s1", "a.qcow2"],
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", "r.raw", "-F", "raw", "o.qcow2"],
        ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10", "v2.qcow2", "1M"],
        ["qemu-img", "convert", "-c", "-O", "qcow2", "a.qcow2", "comp.qcow2"]]


@pytest.mark.parametrize("args", [
    ["info", "a.qcow2"], ["info", "--output=json", "a.qcow2"], ["info", "o.qcow2"],
    ["info", "--output=json", "--backing-chain", "o.qcow2"], ["info", "--backing-chain", "o.qcow2"],
    ["info", "r.raw"], ["info", "--output=json", "r.raw"], ["info", "v2.qcow2"],
    ["info", "--output=json", "v2.qcow2"], ["info", "-f", "raw", "--output=json", "a.qcow2"],
    ["map", "a.qcow2"], ["map", "--output=json", "a.qcow2"], ["map", "o.qcow2"],
    ["map", "--output=json", "o.qcow2"], ["map", "r.raw"], ["map", "--output=json", "r.raw"],
    ["map", "--output=json", "--start-offset=1M", "--max-length=2M", "a.qcow2"],
    ["map", "--output=json", "comp.qcow2"], ["map", "comp.qcow2"],
    ["check", "a.qcow2"], ["check", "--output=json", "a.qcow2"], ["check", "comp.qcow2"],
    ["check", "r.raw"], ["check", "--output=json", "r.raw"],
    ["snapshot", "-l", "a.qcow2"], ["snapshot", "-l", "o.qcow2"], ["snapshot", "-l", "r.raw"],
    ["measure", "--size", "10G", "-O", "qcow2"], ["measure", "--output=json", "--size", "10G", "-O", "qcow2"],
    ["measure", "-O", "raw", "a.qcow2"], ["measure", "-O", "qcow2", "a.qcow2"],
    ["measure", "-O", "qcow2", "--output=json", "a.qcow2"], ["measure", "-O", "qcow2", "r.raw"],
    ["measure", "-O", "qcow2", "-o", "cluster_size=4k", "--size", "1G"],
    ["measure", "-O", "qcow2", "-o", "cluster_size=512,refcount_bits=1", "--size", "100M"],
])
def test_inspection_matches_qemu_img(tw: Twins, args: list[str]) -> None:
    tw.setup(*MIXED, *SNAP)
    tw.same_here(*args)


def _poke(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


@pytest.mark.parametrize("image,args,status", [
    ("leak.qcow2", ["check"], 3), ("leak.qcow2", ["check", "--output=json"], 3),
    ("leak.qcow2", ["check", "-r", "leaks"], 0), ("leak.qcow2", ["check", "-r", "all", "--output=json"], 0),
    ("corr.qcow2", ["check"], 2), ("corr.qcow2", ["check", "--output=json"], 2),
    ("corr.qcow2", ["check", "-r", "all"], 0), ("lazy.qcow2", ["check"], 2),
    ("lazy.qcow2", ["check", "-r", "all"], 0), ("lazy.qcow2", ["check", "-r", "leaks"], 1),
    ("lazy.qcow2", ["info"], 0),
])
def test_check_reports_and_repairs_like_qemu_img(tw: Twins, image: str, args: list[str], status: int) -> None:
    tw.setup(MIXED[0], MIXED[1],
             ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", "lazy.qcow2", "4M"],
             [QIO, "-f", "qcow2", "-c", "write 0 64k", "-c", "abort", "lazy.qcow2"])
    for d in (tw.q, tw.p):
        # refblock at 0x20000, 16-bit counts: a count for unused cluster 20 is a leak, a
        # zero count for the used data cluster 5 is a corruption
        shutil.copy(d / "a.qcow2", d / "leak.qcow2")
        with open(d / "leak.qcow2", "r+b") as f:
            f.truncate(21 * 64 * KiB)
        _poke(d / "leak.qcow2", 0x20000 + 2 * 20, b"\0\1")
        shutil.copy(d / "a.qcow2", d / "corr.qcow2")
        _poke(d / "corr.qcow2", 0x20000 + 2 * 5, b"\0\0")
    st, _, _ = tw.same(*args, image)
    assert st == status
    if "-r" in args and status == 0:
        tw.real_check_clean(image)


# --- convert ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,out", [
    (["-O", "raw", "a.qcow2", "c.raw"], "c.raw"),
    (["-p", "-O", "raw", "a.qcow2", "c.raw"], "c.raw"),
    (["-O", "qcow2", "a.qcow2", "c.qcow2"], "c.qcow2"),
    (["-O", "qcow2", "r.raw", "c.qcow2"], "c.qcow2"),
    (["-f", "raw", "-O", "qcow2", "-p", "r.raw", "c.qcow2"], "c.qcow2"),
    (["-O", "raw", "r.raw", "c.raw"], "c.raw"),
    (["-O", "qcow2", "-c", "-p", "a.qcow2", "c.qcow2"], "c.qcow2"),
    (["-O", "qcow2", "-S", "0", "-p", "r.raw", "c.qcow2"], "c.qcow2"),
    (["-O", "qcow2", "-o", "cluster_size=4k", "a.qcow2", "c.qcow2"], "c.qcow2"),
    (["-O", "qcow2", "-o", "compat=0.10", "a.qcow2", "c.qcow2"], "c.qcow2"),
    (["-O", "qcow2", "-B", "r.raw", "-F", "raw", "a.qcow2", "c.qcow2"], "c.qcow2"),
    (["-O", "qcow2", "a.qcow2", "r.raw", "c.qcow2"], "c.qcow2"),
    (["-O", "qcow2", "-o", "preallocation=metadata", "a.qcow2", "c.qcow2"], "c.qcow2"),
    (["-n", "-O", "qcow2", "a.qcow2", "exist.qcow2"], "exist.qcow2"),
    (["-n", "--target-is-zero", "-O", "qcow2", "a.qcow2", "exist.qcow2"], "exist.qcow2"),
])
def test_convert_matches_qemu_img(tw: Twins, args: list[str], out: str) -> None:
    tw.setup(*MIXED, ["qemu-img", "create", "-q", "-f", "qcow2", "exist.qcow2", "8M"],
             [QIO, "-f", "qcow2", "-c", "write -P 1 0 8M", "exist.qcow2"])
    tw.same("convert", *args)
    qm, pm = tw.map_json(out)
    assert pm == qm
    qi, pi = tw.info_json(out)
    assert pi == qi
    if out.endswith(".qcow2"):
        tw.real_check_clean(out)
    src = args[-2]
    if ("a.qcow2" in args and "r.raw" in args) or "-n" in args:
        return   # several sources, a backing file or a bigger target: contents differ by design
    st, o, e = real(tw.p, "compare", src, out)
    assert st == 0, o + e


def test_convert_mixed_image_roundtrip_is_sparse_and_identical(tw: Twins) -> None:
    """raw -> qcow2 -> raw keeps the content; zero blocks stay holes."""
    data = bytearray(8 * MiB)
    for i in range(0, len(data), MiB):
        data[i:i + 100 * KiB] = os.urandom(100 * KiB)
    (tw.p / "src.raw").write_bytes(bytes(data))
    assert pyimg(tw.p, "convert", "-f", "raw", "-O", "qcow2", "src.raw", "mid.qcow2")[0] == 0
    assert pyimg(tw.p, "convert", "-O", "raw", "mid.qcow2", "back.raw")[0] == 0
    assert (tw.p / "back.raw").read_bytes() == bytes(data)
    assert os.stat(tw.p / "back.raw").st_blocks * 512 < 3 * MiB
    tw.real_check_clean("mid.qcow2")
    st, o, _ = real(tw.p, "compare", "-f", "raw", "src.raw", "mid.qcow2")
    assert st == 0 and o == "Images are identical.\n"


# --- compare ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["a.qcow2", "a.qcow2"], ["a.qcow2", "b2.qcow2"], ["-s", "a.qcow2", "b2.qcow2"],
    ["-p", "a.qcow2", "t2.qcow2"], ["-s", "-p", "a.qcow2", "r.raw"], ["a.qcow2", "r.raw"],
    ["base.qcow2", "top.qcow2"], ["-s", "base.qcow2", "top.qcow2"], ["-q", "base.qcow2", "top.qcow2"],
    ["t2.qcow2", "b2.qcow2"], ["-s", "t2.qcow2", "b2.qcow2"], ["-f", "raw", "-F", "qcow2", "r.raw", "nofile"],
    ["-f", "qcow2", "r.raw", "a.qcow2"], ["base.qcow2"],
])
def test_compare_matches_qemu_img(tw: Twins, args: list[str]) -> None:
    tw.setup(*MIXED, *CHAIN)
    tw.same("compare", *args)


# --- resize, snapshot, rebase, commit, dd ---------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["resize", "a.qcow2", "+1M"], ["resize", "a.qcow2", "-2M"], ["resize", "--shrink", "a.qcow2", "-2M"],
    ["resize", "-f", "raw", "r.raw", "2G"], ["resize", "-q", "a.qcow2", "8M"], ["resize", "a.qcow2", "0"],
    ["commit", "top.qcow2"], ["commit", "-d", "top.qcow2"], ["commit", "-b", "base.qcow2", "top.qcow2"],
    ["commit", "base.qcow2"],
    ["rebase", "-b", "", "top.qcow2"], ["rebase", "-u", "-b", "b2.qcow2", "-F", "qcow2", "top.qcow2"],
    ["rebase", "-b", "b2.qcow2", "-F", "qcow2", "top.qcow2"],
    ["rebase", "-p", "-b", "b2.qcow2", "-F", "qcow2", "top.qcow2"],
    ["rebase", "-p", "-b", "base.qcow2", "-F", "qcow2", "t2.qcow2"], ["rebase", "-p", "-b", "", "t2.qcow2"],
    ["rebase", "-u", "-b", "", "top.qcow2"], ["rebase", "-b", "nofile", "-F", "qcow2", "top.qcow2"],
    ["snapshot", "-c", "s1", "-d", "s2", "a.qcow2"], ["snapshot", "-a", "nosuch", "a.qcow2"],
    ["snapshot", "-d", "nosuch", "a.qcow2"], ["snapshot", "-c", "s1", "r.raw"],
    ["dd", "-O", "qcow2", "bs=64k", "count=2", "if=a.qcow2", "of=d.qcow2"],
    ["dd", "if=a.qcow2", "of=d.qcow2"], ["dd", "-O", "raw", "bs=1k", "skip=1", "count=3", "if=r.raw",
                                         "of=d.raw"],
    ["dd", "-O", "qcow2", "bs=1k", "skip=8", "if=r.raw", "of=d.qcow2"],
    ["dd", "bs=1k", "skip=800000", "if=r.raw", "of=d.raw"],
    ["amend", "-o", "compat=0.10", "a.qcow2"], ["amend", "-p", "-o", "compat=0.10", "a.qcow2"],
    ["amend", "-o", "compat=1.1", "v2.qcow2"], ["amend", "-o", "lazy_refcounts=on", "a.qcow2"],
    ["amend", "-o", "refcount_bits=8", "a.qcow2"], ["amend", "-o", "size=2M,compat=0.10", "a.qcow2"],
    ["amend", "-o", "cluster_size=4k", "a.qcow2"], ["amend", "-o", "backing_file=r.raw", "a.qcow2"],
    ["amend", "-o", "compat=0.10,lazy_refcounts=on", "a.qcow2"],
    ["amend", "-f", "raw", "-o", "compat=1.1", "r.raw"],
    ["amend", "a.qcow2"], ["amend", "-o", "bogus=1", "a.qcow2"],
])
def test_modifying_commands_match_qemu_img(tw: Twins, args: list[str]) -> None:
    tw.setup(*MIXED, *CHAIN,
             ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10", "v2.qcow2", "4M"],
             [QIO, "-f", "qcow2", "-c", "write -P 3 0 64k", "v2.qcow2"])
    before = tw.contents()
    tw.same(*args)
    for name in tw.changed(before):
        qm, pm = tw.map_json(name)
        assert pm == qm, name
        qi, pi = tw.info_json(name)
        assert pi == qi, name
        if pi["format"] == "qcow2":
            tw.real_check_clean(name)
    if args[0] == "rebase" and args[-1] == "top.qcow2" and "-u" not in args:
        # safe rebase: the guest sees the same disk as before
        st, o, e = real(tw.p, "compare", "top.qcow2", os.path.join("..", "q", "top.qcow2"))
        assert st == 0, o + e


def test_snapshot_create_apply_delete_roundtrip(tw: Twins) -> None:
    tw.setup(*MIXED[:2])
    p = tw.p
    assert pyimg(p, "snapshot", "-c", "before", "a.qcow2")[0] == 0
    st, o, e = real(p, "snapshot", "-l", "a.qcow2")
    assert st == 0 and " before " in o
    real(p, "-f", "qcow2", "-c", "write -P 0x77 0 64k", "a.qcow2", tool=QIO)
    assert pyimg(p, "snapshot", "-a", "before", "a.qcow2") == (0, "", "")
    st, o, _ = real(p, "compare", "a.qcow2", os.path.join("..", "q", "a.qcow2"))
    assert st == 0, o
    assert pyimg(p, "snapshot", "-d", "before", "a.qcow2") == (0, "", "")
    assert real(p, "snapshot", "-l", "a.qcow2")[1] == ""
    tw.real_check_clean("a.qcow2")


def test_commit_moves_data_into_base_and_empties_top(tw: Twins) -> None:
    tw.setup(*CHAIN)
    p = tw.p
    before = real(p, "convert", "-O", "raw", "top.qcow2", "before.raw")
    assert before[0] == 0
    assert pyimg(p, "commit", "top.qcow2") == (0, "Image committed.\n", "")
    st, o, _ = real(p, "compare", "-f", "raw", "before.raw", "base.qcow2")
    assert st == 0, o
    top_map = json.loads(real(p, "map", "--output=json", "top.qcow2")[1])
    assert all(e["depth"] >= 1 or not e["present"] for e in top_map)
    tw.real_check_clean("base.qcow2")
    tw.real_check_clean("top.qcow2")


def test_bench_prints_qemu_img_lines_and_writes_pattern(tw: Twins) -> None:
    tw.setup(MIXED[0])
    st, out, err = pyimg(tw.p, "bench", "-w", "-c", "64", "-s", "64k", "-d", "4", "--pattern=0x5a",
                         "a.qcow2")
    assert st == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == ("Sending 64 write requests, 65536 bytes each, 4 in parallel "
                        "(starting at offset 0, step size 65536)")
    assert lines[1].startswith("Run completed in ") and lines[1].endswith(" seconds.")
    st, o, _ = real(tw.p, "-f", "qcow2", "-c", "read -P 0x5a 0 4M", "a.qcow2", tool=QIO)
    assert st == 0 and "Pattern verification failed" not in o
    q = real(tw.q, "bench", "-c", "10", "a.qcow2")[1].splitlines()[0]
    assert pyimg(tw.p, "bench", "-c", "10", "a.qcow2")[1].splitlines()[0] == q
