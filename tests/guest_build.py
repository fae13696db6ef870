#!/usr/bin/env python3
"""Build the AArch64 guest test programs in ``tests/tcg/aarch64`` with a cache.

Every ``*.c`` / ``*.cc`` file there is compiled with the Debian cross
toolchain in four variants (static/dynamic x -O0/-O2) into
``tests/.cache/guest/`` (override with ``PYQEMU_GUEST_CACHE``).  A binary is
rebuilt only when its source, its compile command or the compiler changed.

Dynamic binaries need ``-L /usr/aarch64-linux-gnu`` (:data:`SYSROOT`) to run.

The same for 32-bit ARM (armhf, Thumb-2 and ARM mode) is further down
(``ArmGuestBins``; sources in ``tests/tcg/arm`` plus the portable AArch64 ones).

Command line: ``python tests/guest_build.py [--arm] [PROGRAM ...]`` builds and
lists the binaries.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

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

_Bin = TypeVar("_Bin")


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


class _BinaryPaths:
    """``static``, ``sysroot`` and ``os.fspath`` of a built binary (``variant``, ``path``)."""

    SYSROOT_DIR: ClassVar[Path]
    variant: Variant | ArmVariant
    path: Path

    @property
    def static(self) -> bool:
        return self.variant.linkage == "static"

    @property
    def sysroot(self) -> Path | None:
        """Directory to pass with ``-L``, or None for static binaries."""
        return None if self.static else self.SYSROOT_DIR

    def __fspath__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class GuestBinary(_BinaryPaths):
    """A built guest program variant."""

    SYSROOT_DIR: ClassVar[Path] = SYSROOT
    name: str  # e.g. "hello-static-O2"
    program: str  # e.g. "hello"
    variant: Variant
    path: Path


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


def _source_in(src_dir: Path, program: str) -> Path | None:
    """``program.c`` or ``program.cc`` in ``src_dir``, if one exists."""
    for ext in (".c", ".cc"):
        src = src_dir / f"{program}{ext}"
        if src.exists():
            return src
    return None


def source_for(program: str) -> Path:
    src = _source_in(SRC_DIR, program)
    if src is None:
        raise FileNotFoundError(f"no guest source for {program!r} in {SRC_DIR}")
    return src


def _missing(tools: tuple[str, ...], loader: Path) -> list[str]:
    """Those of ``tools`` not on PATH, and ``loader`` (the sysroot's) if it does not exist."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not loader.exists():
        missing.append(str(loader))
    return missing


def missing_tools() -> list[str]:
    """Cross tools (and sysroot) that are not installed."""
    return _missing((CC, CXX), SYSROOT / "lib" / "ld-linux-aarch64.so.1")


def _compile_command(
    compilers: tuple[str, str], src: Path, out: Path, variant: Variant | ArmVariant, extra: list[str]
) -> list[str]:
    """``compilers`` (C, C++) invocation: common flags, ``extra``, then linkage and output."""
    cc, cxx_cc = compilers
    cxx = src.suffix == ".cc"
    cmd = [cxx_cc if cxx else cc, f"-{variant.opt}", *COMMON_FLAGS, *(CXX_FLAGS if cxx else C_FLAGS), *extra]
    if variant.linkage == "static":
        cmd.append("-static")
    return [*cmd, "-o", str(out), str(src), *LIBS]


def compile_command(src: Path, out: Path, variant: Variant) -> list[str]:
    """The compiler invocation for one variant."""
    return _compile_command((CC, CXX), src, out, variant, [])


@functools.cache
def _compiler_id(compiler: str) -> str:
    res = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False)
    return res.stdout.splitlines()[0] if res.stdout else compiler


def build(program: str, variant: Variant, cache_dir: Path = CACHE_DIR) -> GuestBinary:
    """Build one program variant unless an up-to-date binary is cached."""
    src = source_for(program)
    name = f"{program}-{variant.suffix}"
    out = _build_cached(name, src, lambda out: compile_command(src, out, variant), cache_dir)
    return GuestBinary(name, program, variant, out)


def _build_cached(name: str, src: Path, command: Callable[[Path], list[str]], cache_dir: Path) -> Path:
    """Run ``command(output path)`` unless ``cache_dir/name`` is up to date; return its path.

    The cache key is the compiler's version line, the command, the source text and the
    text of the headers it includes from its own directory (``#include "name.h"``).
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = cache_dir / name
    stamp = cache_dir / f"{name}.key"
    h = hashlib.sha256()
    cmd = command(Path("OUT"))
    h.update("\0".join([_compiler_id(cmd[0]), *cmd[1:]]).encode())
    text = src.read_bytes()
    h.update(text)
    for header in re.findall(rb'^\s*#\s*include\s+"([^"]+)"', text, re.M):
        local = src.parent / header.decode()
        if local.exists():
            h.update(local.read_bytes())
    key = h.hexdigest()
    # Serialise builds of the same binary across pytest-xdist workers.
    with open(cache_dir / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out.exists() and stamp.exists() and stamp.read_text() == key):
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=cache_dir)
            os.close(fd)
            try:
                cmd = command(Path(tmp))
                res = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if res.returncode != 0:
                    raise BuildError(f"{' '.join(cmd)} failed:\n{res.stdout}{res.stderr}")
                os.chmod(tmp, 0o755)
                os.replace(tmp, out)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            stamp.write_text(key)
    return out


class _LazyBins(Mapping[str, _Bin]):
    """Lazy mapping from variant names to binaries, each built on first access."""

    def __init__(
        self,
        cache_dir: Path,
        parse: Callable[[str], tuple[str, Any]],
        build: Callable[[str, Any, Path], _Bin],
        names: Callable[[], list[str]],
    ) -> None:
        self.cache_dir = cache_dir
        self._parse, self._build, self._names = parse, build, names
        self._built: dict[str, _Bin] = {}

    def __getitem__(self, name: str) -> _Bin:
        if name not in self._built:
            try:
                program, variant = self._parse(name)
            except ValueError:
                raise KeyError(name) from None
            self._built[name] = self._build(program, variant, self.cache_dir)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


class GuestBins(_LazyBins[GuestBinary]):
    """Lazy mapping ``"hello-static-O2" -> GuestBinary`` that builds on first access."""

    def __init__(self, cache_dir: Path = CACHE_DIR) -> None:
        super().__init__(cache_dir, parse_name, build, variant_names)


# --- 32-bit ARM (armhf) guests ---------------------------------------------------------------
#
# The portable programs of tests/tcg/aarch64 (ARM_SHARED_PROGRAMS) are built unchanged for
# armhf; tests/tcg/arm holds AArch32 copies of the others and AArch32-only programs (a file
# there takes precedence over a same-named one in tests/tcg/aarch64).  Every program is built
# in eight variants: Thumb-2 (the Debian default) and ARM (-marm) x static/dynamic x -O0/-O2,
# named like ``hello-thumb-static-O2``, into ``CACHE_DIR/armhf``.  Dynamic binaries need
# ``-L /usr/arm-linux-gnueabihf`` (:data:`ARM_SYSROOT`).

ARM_SRC_DIR = TESTS_DIR / "tcg" / "arm"
ARM_CACHE_DIR = CACHE_DIR / "armhf"
ARM_SYSROOT = Path("/usr/arm-linux-gnueabihf")
ARM_CC = "arm-linux-gnueabihf-gcc"
ARM_CXX = "arm-linux-gnueabihf-g++"
ARM_MODES = ("thumb", "arm")
ARM_SHARED_PROGRAMS = (
    "cxx_exceptions",
    "dirlist",
    "exit42",
    "fileio",
    "forkexec",
    "hello",
    "mmap",
    "pthreads",
    "setjmp",
    "sigdie",
    "spawn",
    "strings",
    "sysinfo",
)
# Extra compiler flags per program.  atomics: ARMv8-A so that GCC emits LDA/STL/LDAEX/STLEX
# (-mfpu because Debian's default FPU "auto" has none for plain armv8-a).  dirlist: 64-bit
# off_t/ino_t (as most Debian packages are built); without it glibc's readdir fails with
# EOVERFLOW on hosts whose getdents64 offsets do not fit in 32 bits (ext4 hashes).  neon:
# Advanced SIMD with VFPv4 (VFMA); Debian's armhf default is VFPv3-D16 without NEON.
ARM_EXTRA_FLAGS: dict[str, list[str]] = {
    "atomics": ["-march=armv8-a", "-mfpu=vfpv3-d16"],
    "dirlist": ["-D_FILE_OFFSET_BITS=64"],
    "neon": ["-mfpu=neon-vfpv4"],
}


@dataclass(frozen=True)
class ArmVariant:
    """How an armhf program is compiled: ``mode`` thumb/arm, ``linkage``, ``opt``."""

    mode: str
    linkage: str
    opt: str

    @property
    def suffix(self) -> str:
        return f"{self.mode}-{self.linkage}-{self.opt}"


ARM_VARIANTS: tuple[ArmVariant, ...] = tuple(
    ArmVariant(mode, link, opt) for mode in ARM_MODES for link in LINKAGES for opt in OPT_LEVELS
)


@dataclass(frozen=True)
class ArmGuestBinary(_BinaryPaths):
    """A built armhf guest program variant (same interface as :class:`GuestBinary`)."""

    SYSROOT_DIR: ClassVar[Path] = ARM_SYSROOT
    name: str  # e.g. "hello-thumb-static-O2"
    program: str
    variant: ArmVariant
    path: Path


def arm_list_programs() -> list[str]:
    """Names of all armhf guest programs, sorted."""
    own = {p.stem for p in ARM_SRC_DIR.iterdir() if p.suffix in (".c", ".cc")}
    return sorted(own | set(ARM_SHARED_PROGRAMS))


def arm_variant_names(programs: list[str] | None = None) -> list[str]:
    """All ``program-mode-linkage-opt`` names."""
    return [f"{prog}-{v.suffix}" for prog in (programs or arm_list_programs()) for v in ARM_VARIANTS]


def parse_arm_name(name: str) -> tuple[str, ArmVariant]:
    """Split ``hello-arm-static-O2`` into ``("hello", ArmVariant("arm", "static", "O2"))``."""
    prog, mode, linkage, opt = name.rsplit("-", 3)
    variant = ArmVariant(mode, linkage, opt)
    if variant not in ARM_VARIANTS:
        raise ValueError(f"unknown armhf variant in {name!r}")
    return prog, variant


def arm_source_for(program: str) -> Path:
    src = _source_in(ARM_SRC_DIR, program)
    if src is not None:
        return src
    if program in ARM_SHARED_PROGRAMS:
        return source_for(program)
    raise FileNotFoundError(f"no armhf guest source for {program!r} in {ARM_SRC_DIR}")


def arm_missing_tools() -> list[str]:
    """armhf cross tools (and sysroot) that are not installed."""
    return _missing((ARM_CC, ARM_CXX), ARM_SYSROOT / "lib" / "ld-linux-armhf.so.3")


def arm_compile_command(src: Path, out: Path, variant: ArmVariant) -> list[str]:
    """The compiler invocation for one armhf variant."""
    mode = "-marm" if variant.mode == "arm" else "-mthumb"
    return _compile_command((ARM_CC, ARM_CXX), src, out, variant, [mode, *ARM_EXTRA_FLAGS.get(src.stem, [])])


def arm_build(program: str, variant: ArmVariant, cache_dir: Path = ARM_CACHE_DIR) -> ArmGuestBinary:
    """Build one armhf program variant unless an up-to-date binary is cached."""
    src = arm_source_for(program)
    name = f"{program}-{variant.suffix}"
    out = _build_cached(name, src, lambda out: arm_compile_command(src, out, variant), cache_dir)
    return ArmGuestBinary(name, program, variant, out)


class ArmGuestBins(_LazyBins[ArmGuestBinary]):
    """Lazy mapping ``"hello-thumb-static-O2" -> ArmGuestBinary`` that builds on first access."""

    def __init__(self, cache_dir: Path = ARM_CACHE_DIR) -> None:
        super().__init__(cache_dir, parse_arm_name, arm_build, arm_variant_names)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--arm"]:
        return _build_all(arm_missing_tools(), ArmGuestBins(), arm_variant_names(argv[1:] or None))
    return _build_all(missing_tools(), GuestBins(), variant_names(argv or None))


def _build_all(missing: list[str], bins: Mapping[str, GuestBinary | ArmGuestBinary], names: list[str]) -> int:
    """Build ``names`` and print their paths, unless tools are ``missing``."""
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    for name in names:
        print(bins[name].path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
