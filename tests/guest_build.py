#!/usr/bin/env python3
"""Build the AArch64 guest test programs in ``tests/tcg/aarch64`` with a cache.

Every ``*.c`` / ``*.cc`` file there is compiled with the Debian cross
toolchain in four variants (static/dynamic x -O0/-O2) into
``tests/.cache/guest/`` (override with ``PYQEMU_GUEST_CACHE``).  A binary is
rebuilt only when its source, its compile command or the compiler changed.

Dynamic binaries need ``-L /usr/aarch64-linux-gnu`` (:data:`SYSROOT`) to run.

Command line: ``python tests/guest_build.py [PROGRAM ...]`` builds and lists
the binaries.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
SRC_DIR = TESTS_DIR / "tcg" / "aarch64"
CACHE_DIR = Path(os.environ.get("PYQEMU_GUEST_CACHE", TESTS_DIR / ".cache" / "guest"))
SYSROOT = Path("/usr/aarch64-linux-gnu")
CC = "aarch64-linux-gnu-gcc"
CXX = "aarch64-linux-gnu-g++"

LINKAGES = ("static", "dynamic")
OPT_LEVELS = ("O0", "O2")

COMMON_FLAGS = ["-Wall", "-g0", "-pthread"]
C_FLAGS = ["-std=gnu11"]
CXX_FLAGS = ["-std=gnu++17"]
LIBS = ["-lm"]


class BuildError(RuntimeError):
    """A guest program failed to compile (the message holds the compiler output)."""


@dataclass(frozen=True)
class Variant:
    """How a program is compiled: ``linkage`` is static/dynamic, ``opt`` is O0/O2."""

    linkage: str
    opt: str

    @property
    def suffix(self) -> str:
        return f"{self.linkage}-{self.opt}"


VARIANTS: tuple[Variant, ...] = tuple(Variant(link, opt) for link in LINKAGES for opt in OPT_LEVELS)


@dataclass(frozen=True)
class GuestBinary:
    """A built guest program variant."""

    name: str  # e.g. "hello-static-O2"
    program: str  # e.g. "hello"
    variant: Variant
    path: Path

    @property
    def static(self) -> bool:
        return self.variant.linkage == "static"

    @property
    def sysroot(self) -> Path | None:
        """Directory to pass with ``-L``, or None for static binaries."""
        return None if self.static else SYSROOT

    def __fspath__(self) -> str:
        return str(self.path)


def list_programs() -> list[str]:
    """Names (file stems) of all guest programs, sorted."""
    return sorted(p.stem for p in SRC_DIR.iterdir() if p.suffix in (".c", ".cc"))


def variant_names(programs: list[str] | None = None) -> list[str]:
    """All ``program-linkage-opt`` names, e.g. for test parametrization."""
    return [f"{prog}-{v.suffix}" for prog in (programs or list_programs()) for v in VARIANTS]


def parse_name(name: str) -> tuple[str, Variant]:
    """Split ``hello-static-O2`` into ``("hello", Variant("static", "O2"))``."""
    prog, linkage, opt = name.rsplit("-", 2)
    variant = Variant(linkage, opt)
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant in {name!r}")
    return prog, variant


def source_for(program: str) -> Path:
    for ext in (".c", ".cc"):
        src = SRC_DIR / f"{program}{ext}"
        if src.exists():
            return src
    raise FileNotFoundError(f"no guest source for {program!r} in {SRC_DIR}")


def missing_tools() -> list[str]:
    """Cross tools (and sysroot) that are not installed."""
    missing = [tool for tool in (CC, CXX) if shutil.which(tool) is None]
    if not (SYSROOT / "lib" / "ld-linux-aarch64.so.1").exists():
        missing.append(str(SYSROOT / "lib" / "ld-linux-aarch64.so.1"))
    return missing


def compile_command(src: Path, out: Path, variant: Variant) -> list[str]:
    """The compiler invocation for one variant."""
    cxx = src.suffix == ".cc"
    cmd = [CXX if cxx else CC, f"-{variant.opt}", *COMMON_FLAGS, *(CXX_FLAGS if cxx else C_FLAGS)]
    if variant.linkage == "static":
        cmd.append("-static")
    return [*cmd, "-o", str(out), str(src), *LIBS]


@functools.cache
def _compiler_id(compiler: str) -> str:
    res = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False)
    return res.stdout.splitlines()[0] if res.stdout else compiler


def _cache_key(src: Path, variant: Variant) -> str:
    h = hashlib.sha256()
    cmd = compile_command(src, Path("OUT"), variant)
    h.update("\0".join([_compiler_id(cmd[0]), *cmd[1:]]).encode())
    h.update(src.read_bytes())
    return h.hexdigest()


def build(program: str, variant: Variant, cache_dir: Path = CACHE_DIR) -> GuestBinary:
    """Build one program variant unless an up-to-date binary is cached."""
    src = source_for(program)
    name = f"{program}-{variant.suffix}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = cache_dir / name
    stamp = cache_dir / f"{name}.key"
    key = _cache_key(src, variant)
    # Serialise builds of the same binary across pytest-xdist workers.
    with open(cache_dir / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out.exists() and stamp.exists() and stamp.read_text() == key):
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=cache_dir)
            os.close(fd)
            try:
                cmd = compile_command(src, Path(tmp), variant)
                res = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if res.returncode != 0:
                    raise BuildError(f"{' '.join(cmd)} failed:\n{res.stdout}{res.stderr}")
                os.chmod(tmp, 0o755)
                os.replace(tmp, out)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            stamp.write_text(key)
    return GuestBinary(name, program, variant, out)


class GuestBins(Mapping[str, GuestBinary]):
    """Lazy mapping ``"hello-static-O2" -> GuestBinary`` that builds on first access."""

    def __init__(self, cache_dir: Path = CACHE_DIR) -> None:
        self.cache_dir = cache_dir
        self._built: dict[str, GuestBinary] = {}

    def __getitem__(self, name: str) -> GuestBinary:
        if name not in self._built:
            try:
                program, variant = parse_name(name)
            except ValueError:
                raise KeyError(name) from None
            self._built[name] = build(program, variant, self.cache_dir)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(variant_names())

    def __len__(self) -> int:
        return len(variant_names())


def main(argv: list[str]) -> int:
    missing = missing_tools()
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    bins = GuestBins()
    for name in variant_names(argv or None):
        print(bins[name].path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
