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

import ctypes
import os
import struct
import time
from collections.abc import Callable

from pyqemu.tcg.llvmgen import EXIT_FALLBACK, GuestRAM, StateLayout, generate_native
from pyqemu.util import log

NATIVE_BUDGET = 1 << 14  # branches between member blocks per call
M64 = (1 << 64) - 1


def jit_mode() -> str:
    """``off``, ``on`` or ``force`` (PYQEMU_JIT; ``on`` needs llvmlite)."""
    mode = os.environ.get("PYQEMU_JIT", "on").lower()
    if mode in ("0", "off", "no", "false"):
        return "off"
    if mode not in ("on", "force", "1", "yes", "true"):
        raise ValueError(f"PYQEMU_JIT={mode}: expected on, off or force")
    try:
        import llvmlite.binding  # noqa: F401
    except ImportError:
        if mode == "force":
            raise
        return "off"
    return "force" if mode == "force" else "on"


class _LLVM:
    """One MCJIT engine per process (modules are added to it)."""

    _instance: _LLVM | None = None

    def __init__(self, opt: int) -> None:
        import llvmlite.binding as llvm
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self.llvm = llvm
        target = llvm.Target.from_default_triple()
        self.tm = target.create_target_machine(opt=opt, jit=True)
        self.engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), self.tm)
        self.pto = llvm.create_pipeline_tuning_options(speed_level=opt)
        self.opt = opt

    @classmethod
    def get(cls, opt: int = 2) -> _LLVM:
        if cls._instance is None:
            cls._instance = cls(opt)
        return cls._instance

    def compile(self, ir: str, name: str) -> tuple[int, object]:
        llvm = self.llvm
        mod = llvm.parse_assembly(ir)
        mod.verify()
        if self.opt:
            pb = llvm.create_pass_builder(self.tm, self.pto)
            pb.getModulePassManager().run(mod, pb)
        self.engine.add_module(mod)
        self.engine.finalize_object()
        return self.engine.get_function_address(name), mod

    def asm(self, mod) -> str:
        return self.tm.emit_assembly(mod)


_CALL = ctypes.PYFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)  # keeps the GIL while native code runs


class NativeTier:
    """Compiles a TB cache's hot regions natively (user mode's flat guest memory)."""

    def __init__(self, cache, ram: GuestRAM, nregs: int, force: bool = False) -> None:
        self.cache = cache
        self.ram = ram
        self.layout = StateLayout(nregs)
        self.force = force
        self.llvm = _LLVM.get()
        self.compile_seconds = 0.0
        self.regions = 0
        self.failed = 0
        self._fns: list = []  # keep ctypes function objects alive

    # --- per-CPU state block --------------------------------------------------------------
    def state_of(self, cpu) -> tuple[ctypes.Array, int]:
        buf = (ctypes.c_uint64 * (self.layout.size // 8))()
        st = cpu._native_state = (buf, ctypes.addressof(buf))
        return st

    # --- tiering --------------------------------------------------------------------------
    def promote(self, tb, members: list[int], taken: dict[int, set[int]] | None = None) -> bool:
        """Compile the region of ``members`` headed at ``tb.pc`` natively and install it;
        False if not. ``taken[pc]``: the direct jumps of member ``pc`` that have been taken
        (those stay in native code); None: all of them (force mode)."""
        from pyqemu.accel.tcg.excp import GuestException
        from pyqemu.accel.tcg.tb import TranslationBlock
        cache = self.cache
        head = tb.pc
        t0 = time.perf_counter()
        try:
            blocks = {pc: cache._block_ir(pc) for pc in members}
        except GuestException:
            return False
        name = f"native_{head:x}"
        code = generate_native(head, blocks, lambda src, dst: taken is None or dst in taken[src], name,
                               self.layout,
                               self.ram, NATIVE_BUDGET, cache.count_insns,
                               {pc: cache.tbs[pc].indirect() for pc in members if pc in cache.tbs})
        if code is None:
            return False
        try:
            addr, mod = self.llvm.compile(code.ir, name)
        except Exception as e:  # noqa: BLE001 - a back-end bug must not stop the guest
            self.failed += 1
            log.log(f"pyqemu: native compile of {head:#x} failed: {e}\n")
            return False
        if log.enabled("out_asm"):
            log.log(f"OUT: [native region] {head:#x}: {', '.join(hex(p) for p in code.members)}\n"
                    f"{code.ir}\n{self.llvm.asm(mod)}\n")
        fn = _CALL(addr)
        self._fns.append(fn)
        py_fn = tb.fn
        ntb = TranslationBlock(head, blocks[head].size)
        ntb.base = tb.base or tb
        ntb.heat = -1
        ntb.py_fn = py_fn
        ntb.fn = self._wrapper(code, fn, ntb)
        pages: set[int] = set()
        for pc in code.members:
            other = cache.tbs.get(pc)
            pages.update(other.pages if other is not None else (pc >> 12,))
        self.compile_seconds += time.perf_counter() - t0
        cache.translate_seconds += time.perf_counter() - t0
        self.regions += 1
        cache._install(ntb, tuple(sorted(pages)))
        return True

    def fallback(self, cpu, pc: int) -> Callable:
        """The Python tier's function for ``pc`` (not a native wrapper)."""
        tb = self.cache.tbs.get(pc)
        if tb is not None and tb.py_fn is not None:
            return tb.py_fn
        return self.cache.lookup(pc)

    def _wrapper(self, code, fn, ntb) -> Callable:
        """The ``tb(cpu, R)`` function that runs the native code (generated Python)."""
        lay = self.layout
        fmt_in, args_in = _pack_format(code.used)
        fmt_out, names_out, assign_out = _unpack_format(code.written)
        src = [f"def {code.name}(cpu, R):",
               "    try:", "        B, A = cpu._native_state",
               "    except AttributeError:", "        B, A = NEW_STATE(cpu)"]
        if code.used:
            src += ["    try:", f"        PIN(B, 0, {', '.join(args_in)})",
                    "    except struct.error:", "        return PY_FN"]
        src.append("    k = NATIVE(A)")
        if code.written:
            src.append(f"    {', '.join(names_out)}{',' if len(names_out) == 1 else ''} = POUT(B, 0)")
            src += [f"    {line}" for line in assign_out]
        src.append(f"    pc = U64(B, {lay.pc_off})[0]")
        if self.cache.count_insns:
            src.append(f"    cpu.icount += U64(B, {lay.icount_off})[0]")
        src += ["    if k:", "        return FALLBACK(cpu, pc)",
                "    return JC_get(pc) or LOOKUP(cpu, pc)"]
        g = dict(self.cache.ns)
        g.update(NEW_STATE=self.state_of, PIN=struct.Struct(fmt_in).pack_into,
                 POUT=struct.Struct(fmt_out).unpack_from, U64=struct.Struct("<Q").unpack_from,
                 NATIVE=fn, PY_FN=ntb.py_fn, FALLBACK=self.fallback, struct=struct, M64=M64)
        assert EXIT_FALLBACK == 1
        exec(compile("\n".join(src) + "\n", f"<native {ntb.pc:#x}>", "exec"), g)  # noqa: S102
        wrapper = g[code.name]
        wrapper.guest_pc = ntb.pc
        wrapper.tb = ntb
        ntb.g = g
        return wrapper


def _pack_format(used) -> tuple[str, list[str]]:
    """struct format and argument expressions that store ``used`` globals at 16*gidx."""
    fmt, args, off = "<", [], 0
    for g in used:
        pos = 16 * g.gidx
        if pos > off:
            fmt += f"{pos - off}x"
        if g.width > 64:
            fmt += "QQ"
            args += [f"R[{g.gidx}] & M64", f"R[{g.gidx}] >> 64"]
            off = pos + 16
        else:
            fmt += "Q"
            args.append(f"R[{g.gidx}]")
            off = pos + 8
    return fmt, args


def _unpack_format(written) -> tuple[str, list[str], list[str]]:
    """struct format, target names and assignments that load ``written`` globals back."""
    fmt, names, assign, off = "<", [], [], 0
    for g in written:
        pos = 16 * g.gidx
        if pos > off:
            fmt += f"{pos - off}x"
        if g.width > 64:
            fmt += "QQ"
            names += [f"_l{g.gidx}", f"_h{g.gidx}"]
            assign.append(f"R[{g.gidx}] = _l{g.gidx} | _h{g.gidx} << 64")
            off = pos + 16
        else:
            fmt += "Q"
            names.append(f"R[{g.gidx}]")
            off = pos + 8
    return fmt, names, assign
