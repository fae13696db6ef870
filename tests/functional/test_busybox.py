"""Debian's unmodified static arm64 busybox under qemu-aarch64 vs pyqemu.

stdout must be byte-identical and the exit status equal (stderr may differ).

Note on ``busybox sh -c``: for applets that are not NOFORK/NOEXEC, busybox's
shell re-executes ``/proc/self/exe``; without binfmt_misc that execve fails
with ENOEXEC under qemu-aarch64 and the shell falls back to a PATH search,
i.e. host programs.  The shell scripts here therefore use only builtins and
the applets this busybox runs in-process (echo, printf, seq, sort, awk, head,
cut, expr, md5sum, sha256sum, ls, find, xargs, date, basename, test) with
PATH pointing to an empty directory; the other applets (cat, wc, sed, grep,
uniq, gzip, tar, dd, ...) are invoked directly as ``busybox APPLET ...``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Runner
from emu_harness import GUEST_ENV, RunResult, assert_same_behavior

FIXED_MTIME = 1_000_000_000  # 2001-09-09 01:46:40 UTC
BIG_SIZE = 1 << 20


class XorShift:
    """Tiny deterministic PRNG (independent of Python's random module)."""

    def __init__(self, seed: int) -> None:
        self.state = seed or 1

    def next(self) -> int:
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        self.state = x
        return x

    def randbytes(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            out += self.next().to_bytes(8, "little")
        return bytes(out[:n])


def make_text(rng: XorShift, size: int) -> bytes:
    """Pseudo-random lowercase words (compressible, like real text)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(letters[rng.next() % 26] for _ in range(2 + rng.next() % 8)) for _ in range(500)]
    parts: list[str] = []
    n = 0
    while n < size:
        w = words[rng.next() % len(words)] + ("\n" if rng.next() % 10 == 0 else " ")
        parts.append(w)
        n += len(w)
    return "".join(parts).encode()[:size]


TEXT = """\
# fruit inventory
apple 3 red
banana 12 yellow
cherry 7 red
# comment line
date 25 brown
elderberry 1 purple
fig 9 green
foo bar baz
grape 40 green
apple 5 green
foofoo 2 bazbar
kiwi 11 brown
lemon 6 yellow
"""


def _write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)


def _fix_times(root: Path) -> None:
    """Give every entry below and including root the same mtime (bottom-up)."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
    os.utime(root, (FIXED_MTIME, FIXED_MTIME))


@pytest.fixture(scope="module")
def bbroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``root/data``: deterministic input files; ``root/empty-bin``: empty PATH dir."""
    root = tmp_path_factory.mktemp("busybox")
    data = root / "data"
    data.mkdir()
    (root / "empty-bin").mkdir()
    rng = XorShift(0x5EED)
    _write(data / "text.txt", TEXT)
    _write(data / "numbers.txt", "".join(f"{rng.next() % 1000 - 300}\n" for _ in range(60)))
    _write(data / "dups.txt", "".join(f"{w}\n" for w in sorted(["a", "b", "b", "c", "c", "c", "d"] * 2)))
    _write(
        data / "data.csv",
        "".join(f"item{i},{rng.next() % 50},{(rng.next() % 10000) / 100:.2f}\n" for i in range(25)),
    )
    _write(data / "small.bin", rng.randbytes(64 * 1024))
    _write(data / "big.bin", make_text(rng, BIG_SIZE))

    tree = data / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "f").mkdir()
    _write(tree / "a" / "b" / "c.txt", "deep file\n")
    _write(tree / "a" / "d.log", "log line 1\nlog line 2\n", 0o600)
    _write(tree / "e.txt", "e file with foo\n", 0o755)
    _write(tree / "a" / "g.txt", rng.randbytes(3000))
    os.symlink("e.txt", tree / "link")
    os.chmod(tree / "f", 0o700)

    lsdir = data / "lsdir"
    lsdir.mkdir()
    for i, (name, mode) in enumerate(
        [("alpha", 0o644), ("Beta", 0o600), ("exec.sh", 0o755), (".hidden", 0o640), ("zz-last", 0o444)]
    ):
        _write(lsdir / name, "x" * (i * 37), mode)
    (lsdir / "subdir").mkdir()
    os.chmod(lsdir / "subdir", 0o751)
    os.symlink("alpha", lsdir / "sym")
    os.chmod(lsdir, 0o755)
    _fix_times(root)
    return root


def _env(bbroot: Path, **extra: str) -> dict[str, str]:
    # An empty PATH directory: the shell cannot fall back to host programs.
    return {**GUEST_ENV, "PATH": str(bbroot / "empty-bin"), **extra}


@dataclass
class BusyboxRuns:
    """Runs of ``busybox`` under a reference emulator and under pyqemu, compared by `same`."""

    busybox: Path
    ref: Runner
    got: Runner
    root: Path  # the bbroot fixture
    same: Callable[..., None] = assert_same_behavior

    def env(self) -> dict[str, str]:
        return _env(self.root)

    def run(
        self,
        argv: list[str],
        *,
        stdin: bytes | None = None,
        status: int = 0,
        cwd: Path | None = None,
        missing_ok: bool = False,
        what: str | None = None,
    ) -> tuple[RunResult, RunResult]:
        """Run ``busybox ARGV`` under both emulators (in the data dir by default) and compare.
        The reference must exit with `status` and, unless `missing_ok`, find every command."""
        kw = {"stdin": stdin, "cwd": cwd or self.root / "data", "env": self.env()}
        ref = self.ref(self.busybox, argv, **kw)
        assert ref.returncode == status, (
            f"reference busybox {argv} exited {ref.returncode} (expected {status}): "
            f"stdout={ref.stdout[-300:]!r} stderr={ref.stderr[-300:]!r}"
        )
        if not missing_ok:
            assert b"not found" not in ref.stderr, f"reference run used a missing command: {ref.stderr!r}"
        got = self.got(self.busybox, argv, **kw)
        self.same(ref, got, what=what or "busybox " + " ".join(argv)[:200])
        return ref, got


@pytest.fixture
def bb(busybox, qemu_ref, pyqemu_run, bbroot) -> BusyboxRuns:
    """busybox-static:arm64 under qemu-aarch64 and pyqemu (test_arm_busybox.py, which runs
    these tests too, has its own)."""
    return BusyboxRuns(busybox, qemu_ref, pyqemu_run, bbroot)


SH_SCRIPTS = {
    "pipes-loops": """
        for i in 1 2 3 4 5; do echo "line $i"; done | while read w n; do echo "$n:$w"; done | sort -r
        i=0; while [ $i -lt 5 ]; do i=$((i + 1)); [ $((i % 2)) -eq 0 ] && continue; echo "odd $i"; done
        n=10; until [ $n -le 7 ]; do n=$((n - 1)); done; echo "until done n=$n"
    """,
    "subshells": """
        x=outer
        (x=inner; echo "in subshell: $x"; exit 3)
        echo "status=$? x=$x"
        y=$(echo a; (echo b; echo c) | sort -r | head -n 1)
        echo "y=[$y]" "$(echo nested $(echo deeper))"
        { echo grouped; echo block; } | sort
        echo $(( (7 + 5) * 3 % 5 )) $((1 << 10)) $((-17 / 5)) $((0x1f))
    """,
    "functions-case": """
        greet() { local who=$1; echo "hello, $who"; return 3; }
        greet world; echo "ret=$?"
        for v in apple 42 -x ""; do
            case $v in
                [0-9]*) echo "number $v";;
                -*) echo "option $v";;
                "") echo "empty";;
                *) echo "word $v";;
            esac
        done
        s="hello wonderful world"
        echo ${#s} "${s%world}" "${s#hello }" "${s%% *}" "${unset_var:-default}"
        set -- one "two three" four; echo "$#" "$2"; shift; echo "$1"
        false || echo "or-branch"; true && echo "and-branch"; ! false && echo negated
        exit 4
    """,
    "heredoc-read": """
        while IFS=: read name uid rest; do
            echo "$uid-$name"
        done <<EOF
root:0:x
daemon:1:y
nobody:65534:z
EOF
        cat_var=$(printf '%s|' a "b c" d); echo "$cat_var"
        printf '%5s|%-5s|%05d|%x|%o|%.3f\\n' ab cd 42 255 8 3.14159
        echo hidden >/dev/null; echo "to stderr" 1>&2; echo visible
    """,
    "applet-pipeline": """
        seq 1 200 | awk '{ s += $1 } END { print "sum", s }'
        seq 10 -2 1 | sort -n | head -n 3
        printf 'pear\\napple\\nfig\\n' | sort | cut -c1-3 | xargs echo
        echo hello | md5sum
        printf 'abc' | sha256sum
        expr 6 \\* 7
        basename /usr/lib/file.txt .txt
        date -u -d @86400 '+%Y-%m-%d'
    """,
    "globs-files": """
        cd tree
        for f in *; do [ -d "$f" ] && echo "dir $f" || echo "file $f"; done
        echo a/*
        ls -1 a | sort
        find . -type f | sort
        test -L link && echo "link is a symlink"
        [ -x e.txt ] && echo "e.txt executable"
        [ -s f ] || echo "f is empty or not a file"
    """,
    "trap-exit": """
        trap 'echo trapped on exit' EXIT
        echo body
        nonexistent_command_xyz 2>/dev/null; echo "missing cmd status=$?"
        exit 5
    """,
}
SH_STATUS = {"functions-case": 4, "trap-exit": 5}


@pytest.mark.parametrize("name", sorted(SH_SCRIPTS))
def test_sh(name, bb):
    script = "\n".join(line.strip() for line in SH_SCRIPTS[name].strip().splitlines()) + "\n"
    status = SH_STATUS.get(name, 0)
    bb.run(["sh", "-c", script], status=status, missing_ok=name == "trap-exit", what=f"sh {name}")


SIMPLE_CASES = [
    pytest.param(["echo", "hello", "world"], id="echo"),
    pytest.param(["echo", "-n", "no newline"], id="echo-n"),
    pytest.param(["echo", "-e", "tab\\there\\nnext\\x41"], id="echo-e"),
    pytest.param(["ls", "-la", "lsdir"], id="ls-la"),
    pytest.param(["ls", "-laR", "tree"], id="ls-laR"),
    pytest.param(["ls", "-1", "-a", "lsdir"], id="ls-1a"),
    pytest.param(["ls", "-ln", "lsdir"], id="ls-ln"),
    pytest.param(["cat", "text.txt", "numbers.txt"], id="cat"),
    pytest.param(["wc", "text.txt", "numbers.txt", "small.bin"], id="wc"),
    pytest.param(["wc", "-l", "-w", "text.txt"], id="wc-lw"),
    pytest.param(["sort", "text.txt"], id="sort"),
    pytest.param(["sort", "-n", "numbers.txt"], id="sort-n"),
    pytest.param(["sort", "-rnu", "numbers.txt"], id="sort-rnu"),
    pytest.param(["sort", "-t", ",", "-k", "2,2n", "-k", "1,1", "data.csv"], id="sort-key"),
    pytest.param(["uniq", "dups.txt"], id="uniq"),
    pytest.param(["uniq", "-c", "dups.txt"], id="uniq-c"),
    pytest.param(["uniq", "-d", "dups.txt"], id="uniq-d"),
    pytest.param(["sed", "-e", "s/foo/FOO/g", "-e", "/^#/d", "text.txt"], id="sed-subst"),
    pytest.param(["sed", "-n", "3,5p;$p", "text.txt"], id="sed-print"),
    pytest.param(["sed", "-E", "s/^([a-z]+) ([0-9]+)/\\2=\\1/", "text.txt"], id="sed-groups"),
    pytest.param(
        ["awk", "-F", ",", '{ t += $2 * $3; n++ } END { printf "%.2f %d %.3e\\n", t, n, t / n }', "data.csv"],
        id="awk-sum",
    ),
    pytest.param(["awk", '$2 > 5 { print NR": "$1, length($1) }', "text.txt"], id="awk-filter"),
    pytest.param(
        [
            "awk",
            'BEGIN { printf "%.6f %e %g %d\\n", 3.14159265, 12345.678, 1/3, 42.9;'
            ' for (i = 0; i < 5; i++) s = s i; print s, length(s), substr("hello", 2, 3),'
            ' toupper("abc"), int(-3.7), 7 % 3, 0.1 + 0.2, 1e20;'
            ' n = split("a:b:c", arr, ":"); str = "foo boo"; gsub(/o/, "0", str);'
            ' print n, arr[2], str, index("hello", "ll"), match("foobar", /ob/), RSTART, RLENGTH;'
            ' print sprintf("%5.1f|%-6s|%03d", 2.345, "ab", 7) }',
        ],
        id="awk-builtins",
    ),
    pytest.param(["awk", "{ c[$1]++ } END { for (k in c) print k, c[k] }", "dups.txt"], id="awk-arrays"),
    pytest.param(["grep", "-E", "fo+|ba[rz]", "text.txt"], id="grep-E"),
    pytest.param(["grep", "-E", "-c", "^[a-c]", "text.txt"], id="grep-E-c"),
    pytest.param(["grep", "-E", "-v", "-n", "^#|[0-9]{2}", "text.txt"], id="grep-E-vn"),
    pytest.param(["grep", "-E", "-i", "-o", "APPLE|Red", "text.txt"], id="grep-E-io"),
    pytest.param(["grep", "-E", "-r", "foo", "tree"], id="grep-E-r"),
    pytest.param(["find", "tree"], id="find"),
    pytest.param(["find", "tree", "-type", "f", "-name", "*.txt"], id="find-name"),
    pytest.param(["find", "tree", "-type", "d"], id="find-type-d"),
    pytest.param(["sha256sum", "small.bin", "text.txt", "big.bin"], id="sha256sum"),
    pytest.param(["md5sum", "small.bin", "text.txt", "big.bin"], id="md5sum"),
    pytest.param(["gzip", "-9", "-c", "text.txt"], id="gzip-text"),
    pytest.param(["tar", "-cf", "-", "tree"], id="tar-c"),
    pytest.param(["expr", "6", "*", "7"], id="expr-mul"),
    pytest.param(["expr", "length", "hello world"], id="expr-length"),
    pytest.param(["expr", "substr", "abcdef", "2", "3"], id="expr-substr"),
    pytest.param(["expr", "abcd", ":", "a\\(.*\\)d"], id="expr-match"),
    pytest.param(
        [
            "printf",
            "%s=%d %05.2f %x %o %c|%-5s|%e\\n",
            "a",
            "42",
            "3.14159",
            "255",
            "8",
            "xyz",
            "ab",
            "1234.5",
        ],
        id="printf",
    ),
    pytest.param(["seq", "10"], id="seq"),
    pytest.param(["seq", "-s", ",", "0", "3", "20"], id="seq-s"),
    pytest.param(["seq", "1.5", "0.25", "3"], id="seq-float"),
    pytest.param(["seq", "-w", "8", "11"], id="seq-w"),
    pytest.param(["date", "-u", "-d", "@0"], id="date-epoch"),
    pytest.param(["date", "-u", "-d", "@1234567890", "+%Y-%m-%d %H:%M:%S %a %b %j %s"], id="date-format"),
    pytest.param(["dd", "if=small.bin", "bs=4096", "count=3", "skip=2"], id="dd-skip"),
    pytest.param(["dd", "if=/dev/zero", "bs=1024", "count=8"], id="dd-zero"),
    pytest.param(["dd", "if=text.txt", "bs=7", "count=5", "skip=1"], id="dd-odd-bs"),
]


@pytest.mark.parametrize("argv", SIMPLE_CASES)
def test_applet(argv, bb):
    bb.run(argv)


ERROR_CASES = [
    pytest.param(["grep", "-E", "no-such-text", "text.txt"], 1, id="grep-nomatch"),
    pytest.param(["expr", "10", "/", "0"], 2, id="expr-div0"),
    pytest.param(["expr", "3", ">", "5"], 1, id="expr-false"),
    pytest.param(["cat", "missing-file"], 1, id="cat-missing"),
    pytest.param(["ls", "missing-file"], 1, id="ls-missing"),
    pytest.param(["sh", "-c", "exit 77"], 77, id="sh-exit77"),
]


@pytest.mark.parametrize(("argv", "status"), ERROR_CASES)
def test_applet_errors(argv, status, bb):
    bb.run(argv, status=status)


def test_stdin_pipeline(bb):
    """Applets reading stdin: cat -, wc, sort and sed filters."""
    data = (bb.root / "data" / "text.txt").read_bytes()
    for argv in (["cat", "-"], ["wc", "-c"], ["sort", "-r"], ["sed", "s/e/E/2"]):
        bb.run(argv, stdin=data)


def test_gzip_1mib(bb):
    """gzip -c of a 1 MiB file: compressed bytes identical to the reference's."""
    ref, _ = bb.run(["gzip", "-c", "big.bin"])
    assert len(ref.stdout) > 1000


def test_gunzip_1mib(bb, tmp_path):
    """gunzip -c restores the 1 MiB file exactly (round trip); gzip -t accepts it."""
    data = bb.root / "data"
    ref = bb.ref(bb.busybox, ["gzip", "-c", "big.bin"], cwd=data, env=bb.env())
    assert ref.returncode == 0
    gz = tmp_path / "big.bin.gz"
    gz.write_bytes(ref.stdout)
    ref, _ = bb.run(["gunzip", "-c", str(gz)])
    assert ref.stdout == (data / "big.bin").read_bytes()
    bb.run(["gzip", "-t", str(gz)])


def _tree_snapshot(root: Path) -> list[tuple[str, str, int, bytes | str]]:
    """(path, mode string, mtime, content or link target) for everything below root."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                content: bytes | str = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                content = p.read_bytes()
            else:
                content = b""
            regular = stat.S_ISREG(st.st_mode)
            # busybox tar restores mtimes of regular files only
            mtime = int(st.st_mtime) if regular else 0
            out.append((str(p.relative_to(root)), stat.filemode(st.st_mode), mtime, content))
    return out


def test_tar_roundtrip(bb, tmp_path):
    """tar -c output identical; tar -tv listing identical; tar -x recreates the tree."""
    ref, _ = bb.run(["tar", "-cf", "-", "tree"])
    archive = tmp_path / "tree.tar"
    archive.write_bytes(ref.stdout)
    bb.run(["tar", "-tvf", str(archive)])

    out_ref, out_got = tmp_path / "x-qemu", tmp_path / "x-pyqemu"
    out_ref.mkdir()
    out_got.mkdir()
    r = bb.ref(bb.busybox, ["tar", "-xf", str(archive), "-C", str(out_ref)], cwd=tmp_path, env=bb.env())
    assert r.returncode == 0, r.stderr
    assert _tree_snapshot(out_ref / "tree") == _tree_snapshot(bb.root / "data" / "tree")
    g = bb.got(bb.busybox, ["tar", "-xf", str(archive), "-C", str(out_got)], cwd=tmp_path, env=bb.env())
    bb.same(r, g, what="tar -x")
    assert _tree_snapshot(out_got) == _tree_snapshot(out_ref)
