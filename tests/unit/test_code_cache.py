"""The persistent compiled-block cache: reuse across runs, never stale code."""
import shutil
import subprocess
import sys

import pytest

ASM = r"""
.global _start
_start:
    mov x0, #{value}
    mov x8, #93
    svc 0
"""


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None, reason="needs gcc-aarch64-linux-gnu")
def test_cache_reused_and_keyed_by_code_bytes(tmp_path):
    cache = tmp_path / "cache"
    env = {"PYQEMU_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}

    def build_and_run(value: int) -> int:
        src = tmp_path / "p.S"
        src.write_text(ASM.format(value=value))
        exe = tmp_path / "p"
        subprocess.run(["aarch64-linux-gnu-gcc", "-nostdlib", "-static", "-o", str(exe), str(src)],
                       check=True)
        return subprocess.run([sys.executable, "-m", "pyqemu.linux_user.main", str(exe)],
                              env=env, timeout=60).returncode

    assert build_and_run(7) == 7
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files, "nothing was cached"
    assert build_and_run(7) == 7          # served from the cache
    assert build_and_run(9) == 9          # same address, different bytes: not the cached block


def test_cache_size_is_capped(tmp_path, monkeypatch):
    """A cache over PYQEMU_CACHE_MAX_MB loses its least recently written pages at flush."""
    import os
    import time

    from pyqemu.accel.tcg.code_cache import CodeCache

    monkeypatch.setenv("PYQEMU_CACHE_MAX_MB", "1")
    pages = {p: bytes([p]) * 4096 for p in range(8)}
    cache = CodeCache(tmp_path, "test", lambda page: pages[page])
    code = compile("x = 1", "<t>", "exec")
    big = list(range(60_000))  # ~300 KB marshalled per page file
    for page in range(8):
        cache.put_at(page, page << 12, code, "f", 4, [], big, [])
        cache.flush()
        time.sleep(0.01)
    files = sorted(cache.dir.glob("*/*"), key=lambda f: f.stat().st_mtime)
    assert sum(f.stat().st_size for f in files) <= 1 << 20
    newest = cache._digest(7)
    assert any(f.name == newest for f in files), "the newest page was dropped"
    assert os.path.isdir(cache.dir)


LOOP = r"""
.global _start
_start:
    mov x1, #4000
1:  add x0, x0, #3
    subs x1, x1, #1
    b.ne 1b
    and x0, x0, #0x7f
    mov x8, #93
    svc 0
"""


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None, reason="needs gcc-aarch64-linux-gnu")
def test_native_object_cache_is_capped(tmp_path):
    """The native tier's object cache stays under PYQEMU_CACHE_MAX_MB too: objects a run adds
    push out the least recently used ones (a randomised kernel adds new ones at every boot)."""
    import os

    pytest.importorskip("llvmlite")
    cache = tmp_path / "cache"
    old = cache / "native" / "00"
    old.mkdir(parents=True)
    for i in range(24):  # 1.5 MB of objects from long ago
        f = old / f"{i:040x}.o"
        f.write_bytes(b"\0" * 65536)
        os.utime(f, (1_000_000 + i, 1_000_000 + i))
    src, exe = tmp_path / "p.S", tmp_path / "p"
    src.write_text(LOOP)
    subprocess.run(["aarch64-linux-gnu-gcc", "-nostdlib", "-static", "-o", str(exe), str(src)], check=True)
    env = {"PYQEMU_CACHE_DIR": str(cache), "PYQEMU_CACHE_MAX_MB": "1", "PYQEMU_JIT": "force",
           "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "pyqemu.linux_user.main", str(exe)], env=env, timeout=120)
    assert r.returncode == 4000 * 3 & 0x7f
    objects = list((cache / "native").glob("*/*.o"))
    disk = sum(max(f.stat().st_size, f.stat().st_blocks * 512) for f in objects)
    assert disk <= 3 << 18  # pruned to 3/4 of the cap
    new = [f for f in objects if f.parent != old]
    assert new, "the run's own objects were not kept"
    assert not (old / f"{0:040x}.o").exists(), "the least recently used object was kept"
    assert int((cache / "native" / "size").read_text()) == disk


def test_known_at_means_these_bytes_at_this_virtual_page(tmp_path):
    """known_at (system mode's test for compiling a new block at once instead of interpreting
    it): some block of the same physical page's bytes was cached at the same virtual page."""
    from pyqemu.accel.tcg.code_cache import CodeCache

    pages = {1: b"\x01" * 4096, 2: b"\x01" * 4096, 3: b"\x03" * 4096}
    code = compile("x = 1", "<t>", "exec")
    first = CodeCache(tmp_path, "test", lambda page: pages[page])
    assert not first.known_at(1, 0x40000)
    first.put_at(1, (0x40000010, 5), code, "f", 4, [], [], [], 0x40000)
    first.flush()
    later = CodeCache(tmp_path, "test", lambda page: pages[page])  # the next run
    assert later.known_at(1, 0x40000)
    assert later.known_at(2, 0x40000)  # other physical page, the same bytes
    assert not later.known_at(1, 0x7F123)  # the same code at another address (KASLR)
    assert not later.known_at(3, 0x40000)  # other bytes


def test_caches_of_other_translator_versions_are_dropped(tmp_path):
    """A run keeps its own cache, the native tier's and the KEEP_OTHER_TRANSLATORS other
    translator versions used last; older ones, and any unused for a day, are deleted."""
    import os
    import time

    from pyqemu.accel.tcg.code_cache import KEEP_OTHER_TRANSLATORS, CodeCache

    now = time.time()
    ages = [60, 120, 3600, 7200, 10800, 2 * 86400]  # seconds since each was last used
    others = [tmp_path / f"old{i}" for i in range(len(ages))]
    for d, age in zip(others, ages, strict=True):
        (d / "ab").mkdir(parents=True)
        (d / "ab" / "entry").write_bytes(b"x")
        os.utime(d, (now - age, now - age))
    (tmp_path / "native").mkdir()
    os.utime(tmp_path / "native", (now - 3 * 86400, now - 3 * 86400))
    cache = CodeCache(tmp_path, "test", lambda page: b"\x01" * 4096)
    cache.put_at(1, (0x40000010, 5), compile("x = 1", "<t>", "exec"), "f", 4, [], [], [], 0x40000)
    cache.flush()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [cache.dir.name, "native"] + [d.name for d in others[:KEEP_OTHER_TRANSLATORS]])


def test_native_cache_total_survives_processes_exiting_together(tmp_path):
    """The native object cache's running total (native.add_to_total) is updated under a lock:
    eight processes adding at once lose none of each other's bytes."""
    import multiprocessing

    from pyqemu.accel.tcg.native import add_to_total

    (tmp_path / "size").write_text("0")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_add_many, args=(tmp_path,)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert int((tmp_path / "size").read_text()) == 8 * 50 * 1000
    add_to_total(tmp_path, 1, 100)  # past the cap: the objects are counted again (there are none)
    assert int((tmp_path / "size").read_text()) == 0


def _add_many(directory) -> None:
    from pyqemu.accel.tcg.native import add_to_total
    for _ in range(50):
        add_to_total(directory, 1000, 1 << 30)


def test_pic_relocates_only_constants_that_move_with_the_pc():
    import marshal
    from types import SimpleNamespace

    from pyqemu.accel.tcg import pic
    from pyqemu.accel.tcg.code_cache import StoredLineMap

    def gen(pc: int, extra: str = "") -> SimpleNamespace:
        src = f"def tb(cpu, R):\n    R[30] = {pc + 4:#x}; R[1] = 0xff & R[2]\n    return _j0{extra}\n"
        return SimpleNamespace(source=src, exits=[("_j0", pc + 8)], helpers={},
                               linemap=([(2, pc, 0)], frozenset(), (), False))
    base = 0xFFFF_A000_0000_0000
    code = pic.relocatable(gen(base + 0x10), gen(base + 0x10 - pic.SHIFT), base)
    assert code is not None and "(VB + 0x14)" in code.source and "0xff & R[2]" in code.source
    assert code.exits == [("_j0", 0x18)] and code.linemap[0] == [(2, 0x10, 0)]
    stored = StoredLineMap(marshal.dumps(code.linemap))  # (as the code cache keeps it)
    exits, linemap = pic.relocate(code.exits, stored, 0xFFFF_C000_0000_0000)
    lines, _after, _written, _counting = linemap
    assert exits == [("_j0", 0xFFFF_C000_0000_0018)] and lines == [(2, 0xFFFF_C000_0000_0010, 0)]
    ns = {"VB": 0xFFFF_C000_0000_0000, "_j0": None}
    exec(compile(code.source, "<pic>", "exec"), ns)  # noqa: S102
    regs = [0] * 32
    ns["tb"](None, regs)
    assert regs[30] == 0xFFFF_C000_0000_0014
    # a constant derived from the pc some other way (here: its page number) is not relocatable
    odd = gen(base + 0x10, f" or {(base + 0x10) >> 12:#x}")
    odd_shifted = gen(base + 0x10 - pic.SHIFT, f" or {(base + 0x10 - pic.SHIFT) >> 12:#x}")
    assert pic.relocatable(odd, odd_shifted, base) is None


def test_native_pic_turns_pc_literals_into_offsets_from_the_entry_page():
    from pyqemu.accel.tcg import native_pic
    from pyqemu.accel.tcg.pic import SHIFT

    def region(head: int, extra: str = "") -> str:
        return "\n".join([
            "define i64 @nat_helper(i64 %a) {", "entry:", "  ret i64 %a", "}",
            "define i32 @region(ptr noalias %S) {", "entry:", "  %budget = alloca i64",
            f"  store i64 {head + 4}, ptr %g30", "  %v1 = load i64, ptr %g2",
            f"  switch i64 %v1, label %ijmp1 [i64 {head}, label %icase2 i64 {head + 0x40}, label %icase3]",
            f"  store i64 {head + 8}, ptr %xpc{extra}", "  ret i32 0", "}"])
    head = 0xFFFF_A000_0000_0010
    ir = native_pic.relocatable_ir(region(head), region(head - SHIFT), head, 1536)
    assert ir is not None
    lines = ir.split("\n")
    # the page base comes from the entry pc, in the region's entry block only (not a helper's)
    assert lines[1:3] == ["entry:", "  ret i64 %a"]
    assert "  %VB = and i64 %picpc, -4096" in lines and "ptr %S, i64 1536" in ir
    assert "  %pic0 = add i64 %VB, 20" in lines and "  store i64 %pic0, ptr %g30" in lines
    assert "  %pic1 = sub i64 %v1, %VB" in lines
    assert "  switch i64 %pic1, label %ijmp1 [i64 16, label %icase2 i64 80, label %icase3]" in lines
    assert str(head) not in ir
    # a constant derived from the pc some other way (its page number) is not relocatable
    assert native_pic.relocatable_ir(region(head, f", !n {head >> 12}"),
                                     region(head - SHIFT, f", !n {(head - SHIFT) >> 12}"), head, 1536) is None
    # nothing pc-derived: position-independent as it is
    assert native_pic.relocatable_ir(region(head), region(head), head, 1536) == region(head)


def test_blocks_are_kept_as_their_function_code(tmp_path) -> None:
    """A block's module code (one ``def``) is cached as the function's own code object, which
    ``define`` turns into the function without running a module; other module code is kept
    whole and run."""
    from pyqemu.accel.tcg.code_cache import CodeCache, define

    cache = CodeCache(tmp_path, "test", lambda page: b"\x01" * 4096)
    block = compile("def tb_1000(cpu, R):\n    return R[0] + K\n", "<tb 0x1000>", "exec")
    other = compile("K2 = 5\ndef tb_1004(cpu, R):\n    return K2\n", "<tb 0x1004>", "exec")
    cache.put_at(1, 0x1000, block, "tb_1000", 4, [], [], [])
    cache.put_at(1, 0x1004, other, "tb_1004", 4, [], [], [])
    cache.flush()
    again = CodeCache(tmp_path, "test", lambda page: b"\x01" * 4096)
    code, name, *_ = again.get_at(1, 0x1000)
    assert code.co_name == "tb_1000" and define(code, {"K": 2}, name)(None, [40]) == 42
    code, name, *_ = again.get_at(1, 0x1004)
    assert code.co_name == "<module>" and define(code, {}, name)(None, []) == 5
