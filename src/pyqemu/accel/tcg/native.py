"""The native tier: hot regions recompiled to machine code through LLVM (llvmlite).

A Python region (tcg/region.py) that stays hot is compiled again from the same IR
by :mod:`pyqemu.tcg.llvmgen` and JIT-compiled with llvmlite's MCJIT. The result
is installed in the TB cache like any block: a Python *wrapper* function with
the usual ``tb(cpu, R)`` protocol that copies the globals the region uses into
the CPU's native state block, calls the machine code (holding the GIL, so guest
threads keep the Python tier's atomicity), copies the written globals back and
returns the next block's function. So chaining, invalidation by page, sampling
and the dispatcher work unchanged, and every exit of the native code is an
ordinary block boundary or an instruction that the Python tier runs instead
(``EXIT_FALLBACK``).

``PYQEMU_JIT``: ``off`` (Python tier only), ``on`` (the default when llvmlite is
installed) or ``force`` (every block goes native on its first run: a test mode).
"""
from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import os
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pyqemu.accel.tcg.native_loader import CodeArena, Unsupported, prepare
from pyqemu.tcg.ir import Temp
from pyqemu.tcg.llvmgen import (
    CHAIN_SLOTS,
    CPU_VALUE_SLOTS,
    LAZY_GLOBALS,
    GuestRAM,
    NativeCode,
    SoftMMU,
    StateLayout,
    generate_native,
)
from pyqemu.tcg.region import select_members
from pyqemu.util import log

NATIVE_MEMBERS = 24  # blocks of a region made at a hot exit
ENGINE_OBJECTS = 2048  # objects per MCJIT engine (an engine is freed when its code is unused)
# Open engines at most: every object costs two memory maps, and the kernel allows a process
# 65,530 (vm.max_map_count); beyond, the oldest engine's regions go back to the Python tier.
MAX_ENGINES = 8
EXIT_HEAT = 32  # exits of native code to one pc before a native region is made there
NATIVE_BUDGET = 1 << 16  # branches between member blocks and chained calls per call
# Load objects with native_loader.py (MCJIT only for what it refuses); PYQEMU_NATIVE_LOADER=0: MCJIT
USE_LOADER = os.environ.get("PYQEMU_NATIVE_LOADER", "1") != "0"
COMPILE_SWITCH_INTERVAL = 0.0002  # seconds: the GIL switch interval while regions compile
M64 = (1 << 64) - 1


def jit_mode(option: str | None = None) -> str:
    """``off``, ``on`` or ``force``: ``option`` (-accel tcg,jit=on|off) when given, else
    PYQEMU_JIT (``on`` by default; ``force`` is a test mode). ``on`` needs llvmlite."""
    mode = os.environ.get("PYQEMU_JIT", "on").lower()
    if option == "off":
        return "off"
    if option == "on" and mode != "force":
        mode = "on"
    if mode in ("0", "off", "no", "false"):
        return "off"
    if mode not in ("on", "force", "1", "yes", "true"):
        raise ValueError(f"PYQEMU_JIT={mode}: expected on, off or force")
    import importlib.util
    if importlib.util.find_spec("llvmlite") is None:  # importing it costs ~30 ms: done when needed
        if mode == "force":
            raise ImportError("PYQEMU_JIT=force needs llvmlite (pip install pyqemu[jit])")
        return "off"
    return "force" if mode == "force" else "on"


class _LLVM:
    """An MCJIT engine (one per optimisation level and process; modules are added to it).

    ``opt`` 2: SROA, instcombine, SCCP, GVN, DSE, ADCE and the -O2 code generator;
    ``opt`` 0: only SROA (allocas to SSA), CFG simplification and the fast code generator
    (cheaper to compile, larger code).
    """

    _instances: dict[int, _LLVM] = {}

    def __init__(self, opt: int) -> None:
        import llvmlite.binding as llvm
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self.llvm = llvm
        target = llvm.Target.from_default_triple()
        self.tm = target.create_target_machine(opt=opt, jit=True)  # compiles objects
        self.current = _Engine(llvm, opt)
        self.engines: list[_Engine] = [self.current]  # open and not retired, oldest first
        self.closed = 0  # engines freed
        self.pto = llvm.create_pipeline_tuning_options(speed_level=max(opt, 1))
        self.pb = llvm.create_pass_builder(self.tm, self.pto)
        self.opt = opt
        self.cpu = f"{self.tm.triple}:{llvm.get_host_cpu_name()}:{llvm.get_host_cpu_features().flatten()}"
        self.compiled: dict[str, tuple[int, _Engine]] = {}  # function name (IR digest) -> code
        import threading
        self.lock = threading.Lock()  # the bookkeeping above, shared with a background compiler
        self.disk_hits = 0  # objects loaded from the on-disk cache
        self.written = 0  # bytes of objects this process added to it
        self.loaded_paths: list[str] = []  # objects loaded from it (not yet marked as used)
        from pyqemu.accel.tcg.code_cache import default_dir
        d = default_dir()
        # next to the Python code cache (~/.cache/pyqemu/tb); inside PYQEMU_CACHE_DIR when set
        self.cache_dir = None if d is None else d / "native" if os.environ.get("PYQEMU_CACHE_DIR") \
            else d.parent / "native"

    @classmethod
    def get(cls, opt: int = 2) -> _LLVM:
        inst = cls._instances.get(opt)
        if inst is None:
            inst = cls._instances[opt] = cls(opt)
        return inst

    @property
    def identity(self) -> str:
        """What object code depends on besides the IR: passes, LLVM version, host CPU."""
        return f"{_PASSES[self.opt]}:{self.llvm.llvm_version_info}:{self.cpu}"

    def object_key(self, ir: str) -> str:
        """The digest that names the object code of ``ir`` (in this process and on disk)."""
        return hashlib.sha1(f"{self.identity}:{ir}".encode()).hexdigest()

    def has_object(self, key: str | None) -> bool:
        """Whether the object code named ``key`` is loaded in this process or on disk."""
        if key is None:
            return False
        with self.lock:
            if f"r_{key[:24]}" in self.compiled:
                return True
        return self.cache_dir is not None and os.path.exists(f"{self.cache_dir}/{key[:2]}/{key}.o")

    def prepared(self, key: str) -> tuple | None:
        """The object named ``key`` (on disk) as native_loader.prepare makes it, or None."""
        if self.cache_dir is None or not USE_LOADER:
            return None
        try:
            with open(f"{self.cache_dir}/{key[:2]}/{key}.o", "rb", buffering=0) as f:
                return prepare(f.read(), f"r_{key[:24]}")
        except (OSError, Unsupported):
            return None

    def compile(self, ir: str | None, want_asm: bool = False, key: str | None = None,
                prepared: tuple | None = None) -> tuple[int, str, _Engine]:
        """Machine code for ``ir`` (one function named ``@region``): its address, its
        assembly if ``want_asm``, and the engine holding it (hand it to release() when the
        code is no longer used). The same IR compiles once per process, and its object
        code is kept on disk (next to the code cache) for later runs. ``key``: the object's
        digest, when known (then ``ir`` may be None: only an existing object is loaded, or
        ``prepared``, the object as the code cache keeps it: see :meth:`prepared`)."""
        if key is None:
            key = self.object_key(ir)
        name = f"r_{key[:24]}"
        with self.lock:
            done = self.compiled.get(name)
            if done is not None and not want_asm:
                done[1].live += 1
                return done[0], "", done[1]
            if prepared is not None and not want_asm and self.current.arena is not None:
                if self.current.objects >= ENGINE_OBJECTS:
                    self.current = _Engine(self.llvm, self.opt)
                    self.engines.append(self.current)
                done = self.compiled[name] = (self.current.add_prepared(prepared, name), self.current)
                done[1].live += 1
                return done[0], "", done[1]
        path = f"{self.cache_dir}/{key[:2]}/{key}.o" if self.cache_dir is not None else None
        obj = None
        if path is not None and (not want_asm or ir is None):
            try:
                with open(path, "rb", buffering=0) as f:  # (pathlib costs more than the read)
                    obj = f.read()
            except OSError:
                obj = None
        asm = ""
        if obj is not None:
            self.disk_hits += 1
            self.loaded_paths.append(path)  # (marked as recently used at exit: save_disk_cache)
        elif ir is None:
            raise FileNotFoundError(f"native object {key} is gone from the cache")
        else:
            mod = self._optimized(ir.replace("@region(", f"@{name}(", 1))
            obj = self.tm.emit_object(mod)
            if want_asm:
                asm = self.tm.emit_assembly(mod)
            if path is not None and _write_atomic(Path(path), obj):
                self.written += -(-len(obj) // 4096) * 4096  # (disk space: whole blocks)
        with self.lock:
            done = self.compiled.get(name)
            if done is None:
                if self.current.objects >= ENGINE_OBJECTS:
                    self.current = _Engine(self.llvm, self.opt)
                    self.engines.append(self.current)
                done = self.compiled[name] = (self.current.add(obj, name), self.current)
            done[1].live += 1
        return done[0], asm, done[1]

    def release(self, engine: _Engine) -> None:
        """One region compiled into ``engine`` is gone; an old engine with none left is
        freed (MCJIT never frees single functions, and every object costs memory maps)."""
        with self.lock:
            engine.live -= 1
            if engine.live <= 0 and engine is not self.current:
                for name in engine.names:
                    self.compiled.pop(name, None)
                if engine in self.engines:
                    self.engines.remove(engine)
                engine.close()
                self.closed += 1

    def retiring(self) -> _Engine | None:
        """The engine whose regions should leave (too many engines are open), or None.
        It is taken off the list: it closes once its last region is released."""
        with self.lock:
            if len(self.engines) <= MAX_ENGINES:
                return None
            victim = self.engines.pop(0)
            for name in victim.names:  # (a compilation of the same IR must not reuse it)
                self.compiled.pop(name, None)
            return victim

    def _optimized(self, ir: str):
        llvm = self.llvm
        mod = llvm.parse_assembly(ir)
        mod.verify()
        # An explicit pass list: LLVM's standard -O2 pipeline (PassBuilder.getModulePassManager)
        # leaks ~170 KB of analysis results per module in llvmlite 0.50, and is no faster here.
        mpm = llvm.create_new_module_pass_manager()
        for name in _PASSES[self.opt]:
            getattr(mpm, f"add_{name}_pass")()
        mpm.run(mod, self.pb)
        return mod


_PASSES = {
    0: ("always_inliner", "sroa", "simplify_cfg"),
    2: ("always_inliner", "sroa", "instruction_combine", "simplify_cfg", "sccp", "new_gvn",
        "instruction_combine", "dead_store_elimination", "aggressive_dce", "simplify_cfg"),
}


class _Engine:
    """A generation of loaded objects: in a :class:`CodeArena` (native_loader.py), or in an
    MCJIT execution engine for an object the arena's loader does not handle."""

    def __init__(self, llvm, opt: int) -> None:
        self.llvm = llvm
        self.opt = opt
        self.arena = CodeArena() if USE_LOADER else None
        self.engine = None  # (made at the first object the arena refuses)
        self.objects = 0
        self.live = 0  # regions using code of this engine
        self.names: list[str] = []

    def add_prepared(self, prepared: tuple, name: str) -> int:
        """Load an object as native_loader.prepare made it (needs the arena)."""
        self.objects += 1
        self.names.append(name)
        return self.arena.add_prepared(prepared, name)

    def add(self, obj: bytes, name: str) -> int:
        self.objects += 1
        self.names.append(name)
        if self.arena is not None:
            try:
                return self.arena.add(obj, name)
            except Unsupported:
                pass
        llvm = self.llvm
        if self.engine is None:
            # The engine owns the target machine it is given: each gets its own.
            tm = llvm.Target.from_default_triple().create_target_machine(opt=self.opt, jit=True)
            self.engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
        self.engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        self.engine.finalize_object()
        return self.engine.get_function_address(name)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        if self.arena is not None:
            self.arena.close()


def _write_atomic(path: Path, data: bytes) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return True
    except OSError:
        return False  # a read-only or full cache directory only costs compile time


def save_disk_cache() -> None:
    """At exit: keep the native object cache under its cap (PYQEMU_CACHE_MAX_MB). Objects
    of a kernel that randomises its address are new at every boot. A running total in the
    directory's ``size`` file spares a scan of every object until the cap is crossed."""
    from pyqemu.accel.tcg.code_cache import cache_cap
    for inst in _LLVM._instances.values():
        loaded, inst.loaded_paths = inst.loaded_paths, []
        for path in loaded:  # recently used: the size cap removes the least recently used
            with contextlib.suppress(OSError):
                os.utime(path)
        if not inst.written or inst.cache_dir is None:
            continue
        written, inst.written = inst.written, 0
        add_to_total(inst.cache_dir, written, cache_cap())


def add_to_total(directory: Path, written: int, cap: int) -> None:
    """Add ``written`` bytes to the running total in ``directory``'s ``size`` file; past
    ``cap``, prune the objects (and count them again). The file is locked meanwhile: test
    workers and a shell's processes exit together, and a lost addition would let the cache
    grow past its cap unseen."""
    import fcntl

    from pyqemu.accel.tcg.code_cache import prune_lru
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "size", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return  # a read-only cache directory only costs compile time
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            total: int | None = int(os.read(fd, 64)) + written
        except ValueError:  # new or damaged: count the objects
            total = None
        if total is None or total > cap:
            total = prune_lru(directory, "*/*.o", cap)
        if total is not None:
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, str(total).encode())
    except OSError:
        pass
    finally:
        os.close(fd)  # (and the lock)


_CALL = ctypes.PYFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)  # keeps the GIL while native code runs


class NativeTier:
    """Compiles a TB cache's hot regions natively (user mode's flat guest memory)."""

    budget = NATIVE_BUDGET  # branches between member blocks and chained calls per call

    def __init__(self, cache, ram: GuestRAM | SoftMMU, nregs: int, force: bool = False) -> None:
        self.cache = cache
        if isinstance(ram, GuestRAM):  # one chain table (system mode: one per vCPU)
            self.chain = (ctypes.c_uint64 * (2 * CHAIN_SLOTS))()
            ram = dataclasses.replace(ram, chain=ctypes.addressof(self.chain))
        self.ram = ram
        self.layout = StateLayout(nregs)
        self.force = force
        self.opt = int(os.environ.get("PYQEMU_JIT_OPT", "2"))
        self._llvm: _LLVM | None = None
        self.compile_seconds = 0.0
        self.regions = 0
        self.worker: _Worker | None = None  # background compilation (system mode)
        self.call_lock = threading.Lock()  # a native call (copy-in to copy-out) / installing
        self.failed = 0
        self.retired = 0  # regions sent back to the Python tier to free their engine
        self.pic_regions = 0  # regions generated position-independent (accel/tcg/native_pic.py)
        self._engines: dict[object, _Engine] = {}  # native TranslationBlock -> its engine
        # Globals any native region reads / writes: a native call may chain into any region,
        # so the wrapper copies all of them in and the written ones out.
        self.used: dict[int, Temp] = {}
        self.written: dict[int, Temp] = {}
        self.cpu_values: dict[int, tuple] = {}  # state-block slot -> (CpuValue, constants)
        self.exit_heat: dict[int, int] = {}  # exits of native code to a pc (Python code)
        # Something with a ``maybe`` attribute that turns true when the CPU loop should look
        # at pending work (user mode: signals); a native call then ends the CPU's slice.
        self.interrupts: object = _NoInterrupts()
        self._make_copiers()

    @property
    def llvm(self) -> _LLVM:
        """The LLVM engine, made when the first region goes native (not at start-up)."""
        if self._llvm is None:
            self._llvm = _LLVM.get(self.opt)
        return self._llvm

    @property
    def disk_hits(self) -> int:
        return self._llvm.disk_hits if self._llvm is not None else 0

    # --- per-CPU state block --------------------------------------------------------------
    def state_of(self, cpu) -> tuple[ctypes.Array, int]:
        lay = self.layout
        buf = (ctypes.c_uint64 * (lay.size // 8 + 2 * CPU_VALUE_SLOTS))()
        ram = self.ram
        for name in ("base", "rpf", "wpf", "chain"):
            buf[lay.host_off(name) // 8] = getattr(ram, name)
        st = cpu._native_state = (buf, ctypes.addressof(buf))
        return st

    def _make_copiers(self) -> None:
        """(Re)generate ``copy_in(B, R, cpu)``, ``copy_in_narrow(B, R, cpu)`` (without the
        LAZY_GLOBALS: tcg/llvmgen.py) and ``copy_out(B, R)`` for the current global sets."""
        lay = self.layout
        used = [self.used[k] for k in sorted(self.used)]
        written = [self.written[k] for k in sorted(self.written)]
        narrow = [g for g in used if g.gidx not in LAZY_GLOBALS]
        fmt_in, args_in = _pack_format(used, lay.budget_off)
        fmt_narrow, args_narrow = _pack_format(narrow, lay.budget_off)
        written_lazy = [g for g in written if g.gidx in LAZY_GLOBALS]
        fmt_out, names_out, assign_out = _unpack_format([g for g in written if g.gidx not in LAZY_GLOBALS])
        assert lay.off("lazyok") == lay.budget_off + 8
        values: list[str] = []  # (the CPU values' lines, in both copy_in functions)
        g: dict = {}
        if self.cpu_values:  # values of the vCPU that CpuValue calls read (tcg/llvmgen.py)
            fmt, args, off = "<", [], lay.size
            for slot in sorted(self.cpu_values):
                cv, consts = self.cpu_values[slot]
                pos = lay.size + 16 * slot
                fmt += f"{pos - off}x" if pos > off else ""
                g[f"CV{slot}"] = cv.get
                call = f"CV{slot}(cpu{''.join(f', {c}' for c in consts)})"
                if cv.may_fail:
                    values.append(f"    v{slot} = {call}")
                    args += [f"v{slot} or 0", f"v{slot} is not None"]
                else:
                    args += [call, "1"]
                fmt += "QQ"
                off = pos + 16
            g["PCV"] = struct.Struct(fmt).pack_into
            values.append(f"    PCV(B, {lay.size}, {', '.join(args)})")
        src = ["def copy_in_narrow(B, R, cpu):",
               f"    PINN(B, 0, {', '.join(args_narrow + [str(self.budget), '0'])})", *values,
               "def copy_in(B, R, cpu):",
               f"    PIN(B, 0, {', '.join(args_in + [str(self.budget), '1'])})", *values,
               "def copy_out(B, R):"]
        if names_out:
            src.append(f"    {', '.join(names_out)}{',' if len(names_out) == 1 else ''} = POUT(B, 0)")
            src += [f"    {line}" for line in assign_out]
        if written_lazy:  # (only if they were copied in: else the state block's are stale)
            fmt_lazy, names_lazy, assign_lazy = _unpack_format(written_lazy)
            g["POUTL"] = struct.Struct(fmt_lazy).unpack_from
            src += [f"    if B[{lay.off('lazyok') // 8}]:",
                    f"        {', '.join(names_lazy)}{',' if len(names_lazy) == 1 else ''} = POUTL(B, 0)"]
            src += [f"        {line}" for line in assign_lazy]
        if not names_out and not written_lazy:
            src.append("    pass")
        # (budget, then lazyok right after it: tcg/llvmgen.py's STATE_FIELDS)
        g.update({"PIN": struct.Struct(fmt_in + "Q").pack_into,
                  "PINN": struct.Struct(fmt_narrow + "Q").pack_into,
                  "POUT": struct.Struct(fmt_out).unpack_from, "M64": M64})
        exec(compile("\n".join(src) + "\n", "<native copy>", "exec"), g)  # noqa: S102
        self.copy_in = g["copy_in"]
        self.copy_in_narrow = g["copy_in_narrow"]
        self.copy_out = g["copy_out"]

    # --- tiering --------------------------------------------------------------------------
    def promote(self, tb, members: list[int], taken: dict[int, set[int]] | None = None,
                blocks: dict | None = None) -> bool:
        """Compile the region of ``members`` headed at ``tb.pc`` natively and install it;
        False if not. ``taken[pc]``: the direct jumps of member ``pc`` that have been taken
        (those stay in native code); None: all of them (force mode). ``blocks``: the
        members' optimised IR, when the caller has it."""
        from pyqemu.accel.tcg.excp import GuestException
        from pyqemu.accel.tcg.tb import TranslationBlock
        cache = self.cache
        head = tb.pc
        t0 = time.perf_counter()
        try:
            if blocks is None:
                blocks = {pc: cache._block_ir(pc) for pc in members}
        except GuestException:
            return False
        indirect = {pc: cache.tbs[pc].indirect() for pc in members if pc in cache.tbs}

        def install(code: NativeCode, addr: int, engine: _Engine) -> bool:
            if not tb.valid or cache.tbs.get(head) is not tb:
                return False  # invalidated or replaced while it compiled (LLVM releases the GIL)
            ntb = TranslationBlock(head, blocks[head].size)
            ntb.base = tb.base or tb
            ntb.heat = -1
            ntb.py_fn = tb.fn
            ntb.fn = self._wrapper(_CALL(addr), ntb)
            pages: set[int] = set()
            for pc in code.members:
                other = cache.tbs.get(pc)
                pages.update(other.pages if other is not None else (pc >> 12,))
            cache.translate_seconds += time.perf_counter() - t0
            cache._install(ntb, tuple(sorted(pages)))
            self._engines[ntb] = engine
            slot = 2 * ((head >> 2) & (CHAIN_SLOTS - 1))
            self.chain[slot] = head
            self.chain[slot + 1] = addr
            return True
        return self.compile_region(head, blocks, taken, indirect, install)

    def compile_region(self, head: int, blocks: dict, taken: dict[int, set[int]] | None,
                       indirect: dict[int, list[int]],
                       install: Callable[[NativeCode, int, _Engine], bool],
                       shifted: dict | None = None) -> bool:
        """Generate the region headed at ``head`` over ``blocks`` (see promote) and compile
        it, then ``install(code, address, engine)`` it (False: it is stale, the engine is
        released). In the background (``self.worker``) the compilation runs on another
        thread and the installation happens in :meth:`poll`. Returns False when nothing
        was or will be installed. ``shifted``: the members translated SHIFT lower, to make
        the code position-independent (accel/tcg/native_pic.py) if it can be."""
        code = self.generate(head, blocks, taken, indirect, shifted)
        return code is not None and self.submit(head, code, install)

    def generate(self, head: int, blocks: dict, taken: dict[int, set[int]] | None,
                 indirect: dict[int, list[int]], shifted: dict | None = None) -> NativeCode | None:
        """The LLVM IR of a region (see compile_region), or None when nothing is to gain."""
        t0 = time.perf_counter()
        code = generate_native(head, blocks, lambda src, dst: taken is None or dst in taken[src], "region",
                               self.layout, self.ram, self.cache.count_insns, indirect)
        if code is not None and shifted is not None:
            self._position_independent(code, head, shifted, taken, indirect)
        self.compile_seconds += time.perf_counter() - t0
        return code

    def submit(self, head: int, code: NativeCode,
               install: Callable[[NativeCode, int, _Engine], bool]) -> bool:
        """Compile ``code`` (in the background if there is a worker) and install it. Code
        that needs no compilation (``ir`` None: its object is on disk) is loaded and installed
        at once: a background thread would wait for the GIL at each of its steps."""
        logging = log.enabled("out_asm")
        if self.worker is not None and code.ir is not None:
            self.worker.submit(self, head, code, logging, install)
            return True
        return self.finish(head, code, self._compile(head, code, logging), install)

    def _position_independent(self, code: NativeCode, head: int, shifted: dict,
                              taken: dict[int, set[int]] | None, indirect: dict[int, list[int]]) -> None:
        """Make ``code`` position-independent if the same region generated from ``shifted``
        (its members translated SHIFT lower) differs from it only in pc-derived literals."""
        from pyqemu.accel.tcg.native_pic import SHIFT, relocatable_ir
        if len(shifted) != len(code.members):
            return
        taken2 = None if taken is None else {pc - SHIFT: {t - SHIFT for t in ts} for pc, ts in taken.items()}
        other = generate_native(head - SHIFT, shifted,
                                lambda src, dst: taken2 is None or dst in taken2[src], "region",
                                self.layout, self.ram, self.cache.count_insns,
                                {pc - SHIFT: [t - SHIFT for t in ts] for pc, ts in indirect.items()})
        if other is None or {k: v[1] for k, v in other.cpu_values.items()} != \
                {k: v[1] for k, v in code.cpu_values.items()}:
            return
        ir = relocatable_ir(code.ir, other.ir, head, self.layout.pc_off)
        if ir is not None:
            code.ir, code.pic = ir, True
            self.pic_regions += 1

    def _compile(self, head: int, code: NativeCode, logging: bool) -> tuple[int, str, _Engine] | None:
        """Machine code for ``code`` (any thread): (address, assembly, engine), or None."""
        t0 = time.perf_counter()
        try:
            return self.llvm.compile(code.ir, logging, code.object_key, code.prepared)
        except Exception as e:  # noqa: BLE001 - a back-end bug must not stop the guest
            if isinstance(e, FileNotFoundError) and code.ir is None:
                return None  # (a remembered region whose object the size cap removed)
            self.failed += 1
            first = str(e).strip().splitlines()[-3:]
            log.log(f"pyqemu: native compile of {head:#x} failed: {' '.join(first)}\n")
            return None
        finally:
            self.compile_seconds += time.perf_counter() - t0

    def finish(self, head: int, code: NativeCode, done: tuple[int, str, _Engine] | None,
               install: Callable[[NativeCode, int, _Engine], bool]) -> bool:
        """Install compiled ``code`` (the CPU thread): grow the copy sets, log, install."""
        if done is None:
            return False
        addr, asm, engine = done
        if log.enabled("out_asm"):
            log.log(f"OUT: [native region] {head:#x}: {', '.join(hex(p) for p in code.members)}\n"
                    f"{code.ir}\n{asm}\n")
        # Another guest thread may be between its copy-in and its native call: it must not
        # chain into a region whose globals it did not copy in (see _wrapper).
        with self.call_lock:
            grew = any(g.gidx not in self.used for g in code.used) or \
                any(g.gidx not in self.written for g in code.written) or \
                any(slot not in self.cpu_values for slot in code.cpu_values)
            if grew:
                self.cpu_values.update(code.cpu_values)
                for g in code.used:
                    self.used.setdefault(g.gidx, g)
                for g in code.written:
                    self.written.setdefault(g.gidx, g)
                self._make_copiers()
            installed = install(code, addr, engine)
        if not installed:
            self.llvm.release(engine)
            return False
        self.regions += 1
        victim = self.llvm.retiring()
        if victim is not None:
            self.retire(victim)
        return True

    def retired_note(self) -> str:
        """``, N retired`` for the exit report (PYQEMU_COUNT_INSNS) when engines were freed."""
        return f", {self.retired} retired" if self.retired else ""

    def retire(self, engine: _Engine) -> None:
        """Send the regions compiled into ``engine`` back to the Python tier (they may come
        back, from the object cache, when hot again), so that the engine can be freed."""
        for tb in [tb for tb, e in self._engines.items() if e is engine]:
            self.retired += 1
            self.cache._unlink(tb)

    def poll(self) -> None:
        """Install the regions the background compiler has finished (the CPU thread)."""
        if self.worker is not None:
            self.worker.deliver()

    def unlinked(self, tb) -> None:
        """Native region ``tb`` was invalidated: chained native code must not enter it."""
        slot = 2 * ((tb.pc >> 2) & (CHAIN_SLOTS - 1))
        if self.chain[slot] == tb.pc:
            self.chain[slot] = M64  # no guest pc: never matches
            self.chain[slot + 1] = 0
        engine = self._engines.pop(tb, None)
        if engine is not None:
            self.llvm.release(engine)

    def hot_exit(self, pc: int) -> None:
        """Native code left for Python code at ``pc`` EXIT_HEAT times: compile a region headed
        there too, so that native code chains to it (an interpreter's handlers, callees)."""
        from pyqemu.accel.tcg.excp import GuestException
        cache = self.cache
        try:
            cache.lookup(pc)
        except GuestException:
            return
        with cache.lock:  # (guest threads share the cache: tb.py)
            tb = cache.tbs.get(pc)
            if tb is None or tb.py_fn is not None:
                return
            members = select_members(pc, cache._succ, NATIVE_MEMBERS)
            taken = {m: cache._succ(m) for m in members}
            self.promote(tb, members, taken)

    def fallback(self, cpu, pc: int) -> Callable:
        """The Python tier's function for ``pc`` (not a native wrapper)."""
        tb = self.cache.tbs.get(pc)
        if tb is not None and tb.py_fn is not None:
            return tb.py_fn
        return self.cache.lookup(pc)

    def _wrapper(self, fn, ntb) -> Callable:
        """The ``tb(cpu, R)`` function that runs native code from ``ntb``'s head."""
        tier = self
        py_fn = ntb.py_fn
        pc_off, ic_off = self.layout.pc_off, self.layout.icount_off
        u64 = struct.Struct("<Q").unpack_from
        p64 = struct.Struct("<Q").pack_into
        ns = self.cache.ns
        jc_get, lookup, fallback = ns["JC_get"], ns["LOOKUP"], self.fallback
        counting = self.cache.count_insns
        heat = self.exit_heat

        lock = self.call_lock

        def wrapper(cpu, R):
            try:
                B, A = cpu._native_state
            except AttributeError:
                B, A = tier.state_of(cpu)
            with lock:  # guest threads: no region is installed between copy-in and copy-out
                try:
                    tier.copy_in(B, R, cpu)
                except struct.error:  # a value the state block cannot hold: stay in Python
                    return py_fn
                if counting:
                    p64(B, ic_off, 0)
                k = fn(A)
                tier.copy_out(B, R)
                pc = u64(B, pc_off)[0]
            if counting:
                cpu.icount += u64(B, ic_off)[0]
            if tier.interrupts.maybe:
                return _pause(pc)
            if k:
                return fallback(cpu, pc)
            n = heat.get(pc, 0) + 1
            heat[pc] = n
            if n == EXIT_HEAT:
                tier.hot_exit(pc)
            return jc_get(pc) or lookup(cpu, pc)
        wrapper.guest_pc = ntb.pc
        wrapper.tb = ntb
        wrapper.__name__ = wrapper.__qualname__ = f"native_{ntb.pc:x}"
        return wrapper


class _Worker:
    """A thread that compiles regions while the guest runs (LLVM releases the GIL), so a
    boot does not stop for compilations. Results are installed by :meth:`deliver`, called
    by the CPU thread between slices; ``ready`` is true when there is something to deliver."""

    def __init__(self) -> None:
        import collections
        import queue
        import threading
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.results: collections.deque = collections.deque()
        self.ready = False
        self.pending = 0
        self.interval = sys.getswitchinterval()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="pyqemu-llvm", daemon=True)
        self.thread.start()

    def submit(self, tier: NativeTier, head: int, code: NativeCode, logging: bool,
               install: Callable[[NativeCode, int, _Engine], bool]) -> None:
        if not self.pending:
            # The compiler thread takes the GIL back after each LLVM call; with the default
            # 5 ms switch interval a compilation waits ~10x longer than it computes.
            self.interval = sys.getswitchinterval()
            sys.setswitchinterval(COMPILE_SWITCH_INTERVAL)
        self.pending += 1
        self.jobs.put((tier, head, code, logging, install))

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None or self.stopping:
                return
            tier, head, code, logging, install = job
            done = tier._compile(head, code, logging)
            self.results.append((tier, head, code, done, install))
            self.ready = True

    def stop(self, timeout: float = 60.0) -> None:
        """At exit: drop the queued compilations and wait for the one running. The process
        must not exit while this thread is inside LLVM (its static destructors run at exit:
        the guest's poweroff ended in SIGSEGV)."""
        self.stopping = True
        self.jobs.put(None)
        self.thread.join(timeout)
        if self.pending:
            self.pending = 0
            sys.setswitchinterval(self.interval)

    def deliver(self) -> None:
        self.ready = False
        results = self.results
        while results:
            tier, head, code, done, install = results.popleft()
            self.pending -= 1
            if not self.pending:
                sys.setswitchinterval(self.interval)
            tier.finish(head, code, done, install)


class _NoInterrupts:
    maybe = False


def _pause(pc: int) -> Callable:
    """A block function that does nothing but return itself, at guest pc ``pc``: the CPU
    loop spins on it (cheaply) to the end of its slice, then handles what is pending and
    resumes at ``pc`` (the instruction there runs on the Python tier if it must)."""
    def pause(cpu, R):
        return pause
    pause.guest_pc = pc
    return pause


def _slots_format(globals_, end: int = 0) -> str:
    """struct format of ``globals_`` at 16*gidx in the state block (128-bit ones as two
    64-bit halves), padded to offset ``end`` if that is further."""
    fmt, off = "<", 0
    for g in globals_:
        pos = 16 * g.gidx
        if pos > off:
            fmt += f"{pos - off}x"
        fmt += "QQ" if g.width > 64 else "Q"
        off = pos + (16 if g.width > 64 else 8)
    return fmt + (f"{end - off}x" if end > off else "")


def _pack_format(used, end: int) -> tuple[str, list[str]]:
    """struct format and argument expressions that store ``used`` globals, then one more
    value at offset ``end``."""
    args: list[str] = []
    for g in used:
        args += [f"R[{g.gidx}] & M64", f"R[{g.gidx}] >> 64"] if g.width > 64 else [f"R[{g.gidx}]"]
    return _slots_format(used, end) + "Q", args


def _unpack_format(written) -> tuple[str, list[str], list[str]]:
    """struct format, target names and assignments that load ``written`` globals back."""
    names: list[str] = []
    assign: list[str] = []
    for g in written:
        if g.width > 64:
            names += [f"_l{g.gidx}", f"_h{g.gidx}"]
            assign.append(f"R[{g.gidx}] = _l{g.gidx} | _h{g.gidx} << 64")
        else:
            names.append(f"R[{g.gidx}]")
    return _slots_format(written), names, assign
