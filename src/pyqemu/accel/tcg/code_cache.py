"""A persistent cache of compiled translation blocks, shared between runs.

Compiling a block's Python source costs about half a millisecond, which
dominates the start-up of short programs (a shell runs thousands of blocks
once). Blocks never cross a guest page, so a block is identified by the
digest of its code page's bytes and its pc: the same bytes at the same
address always translate to the same code. Entries are stored per page
digest (each block's entry marshalled on its own, so that loading a page's file
creates only bytes objects and a block's code object is made when that block is
built) under a directory named after the
translator's own source, so a changed translator never sees old entries (the
directories of the last few other versions are kept, for installs that run
alternately; older ones, and any unused for a day, are deleted).

Only pages that are not writable are cached (JIT code changes). Set
``PYQEMU_CACHE=0`` to disable, ``PYQEMU_CACHE_DIR`` to move it. System mode
groups a page's entries by virtual page, or keeps position-independent ones
(accel/tcg/pic.py) in a group of their own.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FunctionType

from pyqemu.tcg.ir import HELPERS

PAGE_SHIFT = 12
# 2: each block's entry marshalled on its own (decoded when used); 3: its line map too;
# 4: the block's function code object instead of its module's
_FORMAT = 4
MAX_ENTRIES = 4096  # blocks kept per page digest
# Caches of other translator versions kept (another installed version may run alternately).
KEEP_OTHER_TRANSLATORS = 3


class StoredLineMap:
    """A cached block's fault metadata (pygen's ``LINEMAP``: line map, lines after the
    write-back, written globals, counting), decoded when a fault in the block first needs
    it: most blocks never fault, and decoding every block's map cost ~2 µs per block built
    from the cache (~0.1 s of a warm Linux boot). ``base`` is added to the guest pcs
    (position-independent code: pic.py)."""

    __slots__ = ("raw", "base", "_meta")

    def __init__(self, raw: bytes, base: int = 0) -> None:
        self.raw = raw
        self.base = base
        self._meta: tuple | None = None

    def __iter__(self):
        meta = self._meta
        if meta is None:
            lines, after, written, counted = marshal.loads(self.raw)
            if self.base:
                lines = [(ln, off + self.base, n) for ln, off, n in lines]
            meta = self._meta = (lines, after, written, counted)
        return iter(meta)


def function_code(code: CodeType) -> CodeType:
    """The code object of the function a block's module code defines (kept in the cache:
    making the function from it costs 0.3 µs, running the module 2 µs)."""
    inner = [c for c in code.co_consts if isinstance(c, CodeType)]
    if code.co_name == "<module>" and len(inner) == 1 and code.co_names == (inner[0].co_name,):
        return inner[0]  # (a module that only defines the function)
    return code


def define(code: CodeType, g: dict, name: str) -> FunctionType:
    """The function ``name`` of a block's code (module code, or the function's own code
    object from the cache) with globals ``g``."""
    if code.co_name != "<module>":
        return FunctionType(code, g)
    exec(code, g)  # noqa: S102 - our own generated code
    return g[name]


def translator_digest(extra: str = "") -> str:
    """A digest of the code that determines what translation produces.

    File names, sizes and modification times stand for the contents (reading
    every source at start-up would cost more than the cache saves)."""
    import pyqemu
    root = Path(pyqemu.__file__).parent
    h = hashlib.sha1(f"{_FORMAT}:{extra}".encode())
    for sub in ("tcg", "accel/tcg", "target/arm"):
        for f in sorted((root / sub).glob("*.py")):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def default_dir() -> Path | None:
    if os.environ.get("PYQEMU_CACHE", "1") in ("0", "no", "off", ""):
        return None
    d = os.environ.get("PYQEMU_CACHE_DIR")
    if d:
        return Path(d)
    home = os.path.expanduser("~")
    if home == "~":  # no HOME: don't scatter caches into the working directory
        home = tempfile.gettempdir()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return Path(base) / "pyqemu" / "tb"


def cache_cap() -> int:
    """PYQEMU_CACHE_MAX_MB (default 512): the size each persistent cache is kept under."""
    try:
        return int(os.environ.get("PYQEMU_CACHE_MAX_MB", "512")) << 20
    except ValueError:
        return 512 << 20


def prune_lru(directory: Path, pattern: str, cap: int) -> int | None:
    """If the files matching ``pattern`` under ``directory`` take more than ``cap`` bytes of
    disk, delete the least recently written until they take 3/4 of it; returns the disk space
    they take (None: unreadable)."""
    try:
        files = [(st.st_mtime, max(st.st_size, st.st_blocks * 512), f) for f in directory.glob(pattern)
                 if (st := f.stat()) is not None]
    except OSError:
        return None
    total = sum(size for _, size, _ in files)
    if total <= cap:
        return total
    for _, size, f in sorted(files, key=lambda t: t[0]):
        try:
            f.unlink()
        except OSError:
            continue
        total -= size
        if total <= cap * 3 // 4:
            break
    return total


def _group(group: int | str) -> str:
    return f"{group:x}" if isinstance(group, int) else group


class CodeCache:
    """Compiled blocks keyed by (code page digest, pc), kept on disk.

    System mode keys its blocks by (physical page digest, (virtual pc, flags)).
    """

    def __init__(self, directory: Path, variant: str,
                 page_bytes: Callable[[int], bytes | None]) -> None:
        self.dir = directory / translator_digest(variant)
        self._dir_name = str(self.dir)
        self.page_bytes = page_bytes
        self.digests: dict[int, str | None] = {}  # guest page -> digest (None: not cacheable)
        self.loaded: dict[str, dict] = {}  # digest -> {pc: entry}
        # (guest page, group) -> its entries (loaded[...]), while the page's digest is known
        self._groups: dict[tuple[int, int | str | None], dict] = {}
        self._helper_sets: dict[tuple, dict | None] = {}  # helper names -> {name: helper}
        self.dirty: set[str] = set()

    def _digest(self, page: int) -> str | None:
        if page in self.digests:
            return self.digests[page]
        data = self.page_bytes(page)
        d = hashlib.sha1(data).hexdigest() if data is not None else None
        self.digests[page] = d
        return d

    def _entries(self, digest: str) -> dict:
        ent = self.loaded.get(digest)
        if ent is None:
            ent = {}
            try:
                with open(f"{self._dir_name}/{digest[:2]}/{digest}", "rb", buffering=0) as f:
                    ent = marshal.loads(f.read())  # (pathlib cost more than the read)
            except (OSError, ValueError, EOFError, TypeError):
                ent = {}
            self.loaded[digest] = ent
        return ent

    def forget_page(self, page: int) -> None:
        """The page's contents changed (or it was unmapped/remapped)."""
        if self.digests.pop(page, None) is not None and self._groups:
            for k in [k for k in self._groups if k[0] == page]:
                del self._groups[k]

    def _group_entries(self, page: int, group: int | str | None) -> dict | None:
        """The entries of ``page``'s bytes in ``group`` (None: the page cannot be cached)."""
        ents = self._groups.get((page, group))
        if ents is None:
            digest = self._digest(page)
            if digest is None:
                return None
            ents = self._groups[(page, group)] = self._entries(
                digest if group is None else f"{digest}-{_group(group)}")
        return ents

    def get(self, pc: int):
        """(code, name, size, exits, linemap, helpers) or None."""
        return self.get_at(pc >> PAGE_SHIFT, pc)

    def put(self, pc: int, code, name: str, size: int, exits, linemap, helper_names) -> None:
        self.put_at(pc >> PAGE_SHIFT, pc, code, name, size, exits, linemap, helper_names)

    def get_at(self, page: int, key, group: int | str | None = None):
        """The entry ``key`` (user mode: the pc; system mode: (virtual pc, flags), or (offset
        in the page, flags) for position-independent code) of the blocks whose code is on
        ``page`` (system mode: a physical page), or None. ``group`` (system mode: the virtual
        page, or pic.GROUP) splits a page's entries into files of their own."""
        ents = self._group_entries(page, group)
        e = None if ents is None else ents.get(key)
        if e is None:
            return None
        try:
            e = marshal.loads(e)
        except (ValueError, EOFError, TypeError):
            return None
        names = tuple(e[5])
        helpers = self._helper_sets.get(names, False)
        if helpers is False:
            helpers = self._helper_sets[names] = self._helpers(names)
        if helpers is None:
            return None
        return e[0], e[1], e[2], e[3], StoredLineMap(e[4]), dict(helpers)

    @staticmethod
    def _helpers(names: tuple) -> dict | None:
        """{name: helper} for the helper names a cached block uses (None: one is unknown)."""
        helpers = {}
        for name in names:
            h = HELPERS.get(name)
            if h is None:
                return None
            helpers[name] = h
        return helpers

    def known_at(self, page: int, group: int | str) -> bool:
        """Whether earlier runs cached blocks of ``page``'s bytes in ``group`` (system mode:
        the same code at the same virtual page): more of it is likely to run again."""
        digest = self._digest(page)
        return digest is not None and bool(self._entries(f"{digest}-{_group(group)}"))

    def put_at(self, page: int, key, code, name: str, size: int, exits, linemap, helper_names,
               group: int | str | None = None) -> None:
        digest = self._digest(page)
        if digest is None:
            return
        if group is not None:
            digest = f"{digest}-{_group(group)}"
        self._entries(digest)[key] = marshal.dumps(
            (function_code(code), name, size, list(exits), marshal.dumps(tuple(linemap)), list(helper_names)))
        self.dirty.add(digest)

    def raw_at(self, page: int, key, group: str):
        """The value kept under ``key`` in ``group`` by :meth:`put_raw_at`, or None."""
        ents = self._group_entries(page, group)
        return None if ents is None else ents.get(key)

    def put_raw_at(self, page: int, key, group: str, value) -> None:
        """Keep ``value`` (anything marshal can write) for ``page``'s bytes under ``key``."""
        digest = self._digest(page)
        if digest is not None:
            digest = f"{digest}-{group}"
            self._entries(digest)[key] = value
            self.dirty.add(digest)

    def forget_all(self) -> None:
        """Every page may have changed (nothing tracks writes to code any more)."""
        self.digests.clear()
        self._groups.clear()

    def flush(self) -> None:
        """Write new entries to disk (merging with what other processes wrote)."""
        for digest in list(self.dirty):
            path = self.dir / digest[:2] / digest
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                merged = {}
                try:
                    merged = marshal.loads(path.read_bytes())
                except (OSError, ValueError, EOFError, TypeError):
                    pass
                if len(merged) > MAX_ENTRIES:  # the same bytes at ever new addresses (KASLR)
                    merged = {}
                merged.update(self.loaded[digest])
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp")
                with os.fdopen(fd, "wb") as f:
                    f.write(marshal.dumps(merged))
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only or full cache directory only costs speed
        self.dirty.clear()
        try:
            os.utime(self.dir)  # (in use: see _prune_old_translators)
        except OSError:
            pass
        self._prune_old_translators()
        self._prune_size()

    def _prune_size(self) -> None:
        """Keep this translator's cache under its cap (a kernel that randomises its address
        adds new entries at every boot)."""
        prune_lru(self.dir, "*/*", cache_cap())

    def _prune_old_translators(self, max_age_s: float = 86400.0) -> None:
        """Drop caches of other translator versions (they never hit again) unused for a day,
        and all but the KEEP_OTHER_TRANSLATORS last used (each may take the size cap)."""
        import shutil
        import time
        try:
            others = sorted(((d.stat().st_mtime, d) for d in self.dir.parent.iterdir()
                             if d != self.dir and d.name != "native" and d.is_dir()),  # (native tier's)
                            reverse=True)
        except OSError:
            return
        for i, (mtime, d) in enumerate(others):
            if i >= KEEP_OTHER_TRANSLATORS or time.time() - mtime > max_age_s:
                shutil.rmtree(d, ignore_errors=True)
