"""System-mode translation blocks: keyed by (virtual pc, physical pc, flags).

A block's code depends on the bytes at its physical address, on the virtual
pc it was translated for (pc-relative values are constants in it) and on the
CPU state the translator assumed (``flags``: exception level, FP enabled,
...). Blocks are indexed by physical page, so a store to code (seen by the
soft TLB) invalidates exactly those blocks, whichever virtual address wrote.

Each vCPU has jump caches (virtual pc -> function), one per flags value, as
``cpu.jcs``; ``cpu.jc`` is the one of its current flags and ``cpu.jc_get`` its
bound ``get``, which block exits call. A change of the vCPU's mappings clears
them (QEMU's tb_jmp_cache); an ASID switch puts them aside with that ASID's own
TLB entries (``cpu.asid_jcs``). Direct chaining (``goto_tb``) only links blocks on
the same virtual page, whose mapping is the block's own; pygen turns
cross-page direct jumps into lookups.

A vCPU attached with :meth:`SysTBCache.attach` provides ``tlb`` (its SoftTLB),
``tb_flags``, and the jump-cache attributes above (see :func:`set_flags`).
"""
from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

from pyqemu.accel.tcg import pic as pic_mod
from pyqemu.accel.tcg.code_cache import define
from pyqemu.accel.tcg.cputlb import MAX_SAVED_ASIDS, PAGE_BITS, PAGE_MASK, SoftTLB
from pyqemu.accel.tcg.excp import GuestException
from pyqemu.accel.tcg.tb import (
    REGION_HEAT,
    REGION_MEMBERS,
    ChainStub,
    TranslationBlock,
    sample_for_regions,
)
from pyqemu.tcg import optimize as tcg_optimize
from pyqemu.tcg.ir import Block
from pyqemu.tcg.pygen import generate
from pyqemu.tcg.region import generate_region, loop_header, select_members
from pyqemu.util import log

# Iterations of a looping block or region per call. Smaller than user mode's: the vCPU
# sees interrupts and the main loop runs timers between slices, whose length the runner
# measures in calls.
SYS_LOOP_BUDGET = 64

# Stores to a page with translated code that hit none of its blocks before the whole page is
# dropped (and stores to it are fast again): a page with data next to code.
SMC_MISSES = 32
# Stores to a code page in a row, each where the last one ended, before the whole page is dropped: a
# page being filled or copied over (freed memory reused), not code patched in place.
SMC_SEQUENTIAL = 8

INTERP_CALLS = 32  # calls of a new block on the IR interpreter (tcg/interp.py) before it compiles

# Calls of a compiled block before the native tier compiles a region headed there (blocks
# that run thousands of times each but rarely end a slice or follow native code).
BLOCK_HEAT = 300
# ... if an earlier run compiled that region; else after this many times as many calls (making
# a region costs the CPU thread two translations and LLVM IR texts of its members, ~5-10 ms).
COLD_HEAT_FACTOR = 32
# ... or this many times, for a block an earlier run had compiled (from the code cache: code
# that runs at every boot, whose region the next boot then takes at BLOCK_HEAT calls). 1: at
# once (with 4, blocks called 300-1,200 times per boot never went native: 150,000 Python
# block calls of a warm Linux boot).
WARM_HEAT_FACTOR = 1


def warm_heat_factor() -> int:
    """PYQEMU_WARM_HEAT_FACTOR (a tuning knob), default WARM_HEAT_FACTOR (1: compile at once)."""
    try:
        return max(1, int(os.environ.get("PYQEMU_WARM_HEAT_FACTOR", WARM_HEAT_FACTOR)))
    except ValueError:
        return WARM_HEAT_FACTOR


def interp_calls_setting() -> int:
    """PYQEMU_INTERP_CALLS: calls of a new block on the IR interpreter (0: compile at once)."""
    try:
        return max(0, int(os.environ.get("PYQEMU_INTERP_CALLS", INTERP_CALLS)))
    except ValueError:
        return INTERP_CALLS


# translate(pc, flags, fetch, slow_mem) -> Block; fetch(va) reads 4 code bytes or raises.
Translator = Callable[[int, int, Callable[[int], int], bool], Block]

Key = tuple[int, int, int]  # (virtual pc, physical pc, flags)


def _logging() -> bool:
    """-d in_asm/op/op_opt/out_asm want fresh translations, not cached ones."""
    return log.enabled("in_asm") or log.enabled("op") or log.enabled("op_opt") or log.enabled("out_asm")


class _Cached:
    """What _link needs of a block that comes from the persistent cache."""

    def __init__(self, name: str, exits, linemap, helpers: dict) -> None:
        self.name, self.exits, self.linemap, self.helpers = name, exits, linemap, helpers


class SysTB(TranslationBlock):
    __slots__ = ("key", "compiled_from", "spans")

    def __init__(self, pc: int, size: int) -> None:
        super().__init__(pc, size)
        self.compiled_from: SysTB | None = None  # the interpreted block this one compiles
        # A region: the physical byte ranges [start, end) of its members' code (None: a
        # single block, whose range is its key's physical pc and its size).
        self.spans: tuple[tuple[int, int], ...] | None = None

    def code_spans(self) -> tuple[tuple[int, int], ...]:
        """The physical byte ranges [start, end) of the guest code this was translated from."""
        if self.spans is None:
            start = self.key[1] & ~1  # (a Thumb pc's bit 0)
            return ((start, start + self.size),)
        return self.spans

    def overlaps(self, pa: int, end: int) -> bool:
        """Whether guest code this block was translated from lies in [pa, end)."""
        return any(lo < end and pa < hi for lo, hi in self.code_spans())

    def derives_from(self, other: SysTB) -> bool:
        """Whether this is ``other`` or was made from it (compiled after interpretation, a
        region headed by it), without a change of their code in between."""
        tb: Any = self
        while tb is not None:
            if tb is other:
                return self.valid
            tb = tb.compiled_from or tb.base
        return False


def member_spans(sizes: dict[int, int], delta: int) -> tuple[tuple[int, int], ...]:
    """The physical code ranges of a region's members (virtual pc -> code size in bytes;
    physical pc = virtual pc + ``delta``)."""
    return tuple(((pc + delta) & ~1, ((pc + delta) & ~1) + size) for pc, size in sizes.items())


def set_flags(cpu: Any, flags: int) -> None:
    """Switch ``cpu`` to translation flags ``flags`` (and the jump cache that goes with them)."""
    cpu.tb_flags = flags
    jc = cpu.jcs.get(flags)
    if jc is None:
        jc = cpu.jcs[flags] = {}
    cpu.jc = jc
    cpu.jc_get = jc.get


class _SysStub(ChainStub):
    """A jump slot's stub: the block at ``key`` (made if missing) is the target."""

    __slots__ = ("cache", "key")

    def __init__(self, cache: SysTBCache, g: dict, slot: str, key: Key) -> None:
        self.cache, self.g, self.slot, self.key, self.guest_pc = cache, g, slot, key, key[0]

    def target(self) -> SysTB:
        tb = self.cache.tbs.get(self.key)
        return tb if tb is not None and tb.valid else self.cache._build(self.key)


class SysTBCache:
    """The translated code of one machine (shared by its vCPUs, like QEMU's TB cache).

    ``mmu_idx_of(flags)`` gives the translation regime a flags value runs in;
    ``fetch_phys(pa)`` reads 4 code bytes at a physical address.
    """

    def __init__(self, translate: Translator, namespace: dict[str, Any],
                 mmu_idx_of: Callable[[int], int], fetch_phys: Callable[[int], int],
                 optimize: bool = True, count_insns: bool = False,
                 page_bytes: Callable[[int], bytes | None] | None = None) -> None:
        self.translate = translate
        self.page_bytes = page_bytes  # a physical page's bytes (for the persistent code cache)
        self.code_cache: Any = None  # accel/tcg/code_cache.py, made when the first vCPU is known
        self._cache_checked = False
        self.ns = namespace
        self.mmu_idx_of = mmu_idx_of
        self.fetch_phys = fetch_phys
        self.optimize = optimize
        self.count_insns = count_insns
        self.tbs: dict[Key, SysTB] = {}
        self.cpus: list[Any] = []
        self.page_tbs: dict[int, set[Key]] = {}  # physical page -> blocks with code there
        self.slow_tbs: dict[Key, SysTB] = {}  # one-instruction replays with slow memory accesses
        self.smc_misses: dict[int, int] = {}  # code page -> stores to it that hit no block
        self.smc_run: dict[int, tuple[int, int]] = {}  # code page -> (end of its last store, run)
        self._generations = 0
        self.ns["LOOP"] = range(SYS_LOOP_BUDGET)
        self.ns["LOOP_HOT"] = self._loop_hot  # (regions form from slice-end samples only)
        self.count = 0
        self.translate_seconds = 0.0  # translating, optimising, generating, compiling
        # Regions of hot blocks on one page (sample()); PYQEMU_REGION_HEAT=0 turns them off.
        self.region_heat = int(os.environ.get("PYQEMU_REGION_HEAT", REGION_HEAT))
        self.regions = self.region_heat > 0
        self.region_count = 0
        self.native: Any = None  # the native tier (accel/tcg/native_sys.py), when enabled
        # Calls of a new block on the IR interpreter before it is compiled (0: compile at once).
        self.interp_calls = interp_calls_setting()
        self.interp: Any = None
        # Calls of a compiled block before it heads a native region (PYQEMU_BLOCK_HEAT; 0: never).
        self.block_heat = int(os.environ.get("PYQEMU_BLOCK_HEAT", BLOCK_HEAT))
        self.warm_heat_factor = warm_heat_factor()
        # Kernel-half blocks go to the code cache position-independent (PYQEMU_CACHE_PIC=0: not).
        self.pic = os.environ.get("PYQEMU_CACHE_PIC", "1") != "0"

    def attach(self, cpu: Any) -> None:
        """Run ``cpu`` on this cache: it gets jump caches; its TLB protects code pages."""
        self.cpus.append(cpu)
        cpu.jcs = {}
        cpu.asid_jcs = {}  # ASID -> (its jump caches, its mapping generation), put aside
        set_flags(cpu, getattr(cpu, "tb_flags", 0))
        tlb: SoftTLB = cpu.tlb
        cpu._native_gen = self._new_generation()  # what native chain entries are keyed on
        if self.native is not None:
            self.native.attach(cpu)

        def mapping_changed(_va_page: int | None) -> None:
            for jc in cpu.jcs.values():
                jc.clear()
            cpu.asid_jcs.clear()
            cpu._native_gen = self._new_generation()

        def asid_switched(old: int, new: int, old_had_code: bool, restored: bool) -> None:
            # Jump caches are kept per address space, as the TLB keeps its entries: a KPTI
            # kernel (non-global kernel mappings) switches ASID at every context switch.
            saved = cpu.asid_jcs.pop(new, None)
            if not restored:
                saved = None  # (the new ASID's own TLB entries were dropped meanwhile)
            if old_had_code:
                cpu.asid_jcs[old] = (cpu.jcs, cpu._native_gen)
                if len(cpu.asid_jcs) > MAX_SAVED_ASIDS:
                    del cpu.asid_jcs[next(iter(cpu.asid_jcs))]
                cpu.jcs, cpu._native_gen = saved or ({}, self._new_generation())
            elif saved is not None:  # (else the current caches hold global code only: kept)
                cpu.jcs, cpu._native_gen = saved
            set_flags(cpu, cpu.tb_flags)
        tlb.on_flush.append(mapping_changed)
        tlb.on_asid_switch.append(asid_switched)
        tlb.on_code_write = self.invalidate_phys_write
        for page in self.page_tbs:
            tlb.protect_code_page(page)

    def _new_generation(self) -> int:
        """A mapping generation no vCPU has used (native chain entries carry one)."""
        self._generations += 1
        return self._generations

    # --- lookup ----------------------------------------------------------------------
    def lookup(self, cpu: Any, pc: int) -> Callable:
        """The function of the block at virtual ``pc`` for ``cpu`` (translating it if new).

        Raises the guest's instruction abort (a GuestException with ``pc`` set)
        when ``pc`` cannot be fetched.
        """
        fn = cpu.jc_get(pc)
        if fn is None:
            tb = self._find(cpu, pc)
            fn = cpu.jc[pc] = tb.fn
        return fn

    def _find(self, cpu: Any, pc: int) -> SysTB:
        flags = cpu.tb_flags
        try:
            pa = cpu.tlb.translate_code(pc, self.mmu_idx_of(flags))
        except GuestException as e:
            if e.pc is None:
                e.pc = pc
            raise
        tb = self.tbs.get((pc, pa, flags))
        if tb is None or not tb.valid:
            tb = self._build((pc, pa, flags))
        return tb

    def replay_slow(self, cpu: Any, pc: int) -> Callable:
        """A one-instruction block at ``pc`` whose memory accesses all take the slow path."""
        flags = cpu.tb_flags
        pa = cpu.tlb.translate_code(pc, self.mmu_idx_of(flags))
        key = (pc, pa, flags)
        tb = self.slow_tbs.get(key)
        if tb is None or not tb.valid:
            tb = self._build(key, slow=True)
        return tb.fn

    def _block_ir(self, key: Key, slow: bool) -> Block:
        pc, pa, flags = key
        delta = pa - pc

        def fetch(va: int) -> int:
            if (va ^ pc) >> PAGE_BITS:
                raise GuestException("segv", va, pc=va)  # blocks stop at the page end anyway
            return self.fetch_phys(va + delta)

        try:
            block = self.translate(pc, flags, fetch, slow)
        except GuestException as e:
            if e.pc is None:
                e.pc = pc
            raise
        if log.enabled("op"):
            log.log(f"OP:\nIN: {pc:#x}\n{block.dump()}\n")
        if self.optimize:
            tcg_optimize.optimize(block)
        return block

    def _persistent_cache(self) -> Any:
        """The on-disk cache of compiled blocks (PYQEMU_CACHE=0: none), keyed by the CPU model."""
        if not self._cache_checked and self.cpus and self.page_bytes is not None:
            self._cache_checked = True
            from pyqemu.accel.tcg.code_cache import CodeCache, default_dir
            d = default_dir()
            if d is not None:
                model = self.cpus[0]
                variant = (f"system,{getattr(getattr(model, 'model', None), 'name', '')},"
                           f"midr={getattr(model, 'midr', 0):#x},count={int(self.count_insns)}"
                           f",heat={int(self._counting_heat())}")
                if getattr(model, "cache_variant", ""):   # e.g. gicv3: other system registers
                    variant += f",{model.cache_variant}"
                self.code_cache = CodeCache(d, variant, self.page_bytes)
        return self.code_cache

    def save_code_cache(self) -> None:
        """Write newly compiled blocks to the persistent cache (at exit); stop the native
        tier's background compiler first."""
        worker = getattr(self.native, "worker", None)
        if worker is not None:
            worker.stop()
        if self.code_cache is not None:
            self.code_cache.flush()
        native = sys.modules.get("pyqemu.accel.tcg.native")  # (only if the native tier ran)
        if native is not None:
            native.save_disk_cache()

    def _build(self, key: Key, slow: bool = False) -> SysTB:
        t0 = time.perf_counter()
        pc, pa, flags = key
        page = pa >> PAGE_BITS
        forced = self.native is not None and self.native.force  # (needs every block's IR)
        cache = None if slow or forced or _logging() else self._persistent_cache()
        # Code at high addresses is cached position-independent (accel/tcg/pic.py: KASLR, ASLR).
        pic = cache is not None and self.pic and pic_mod.eligible(pc)
        group = pic_mod.GROUP if pic else pc >> PAGE_BITS
        if cache is not None:
            hit = base = None
            if pic:
                hit = cache.get_at(page, (pc & PAGE_MASK, flags), group)
                if hit is not None:
                    base = pc & ~PAGE_MASK
            if hit is None:  # (kernel-half code that was not relocatable is cached by address)
                hit = cache.get_at(page, (pc, flags), pc >> PAGE_BITS)
            if hit is not None:
                code, name, size, exits, linemap, helpers = hit
                if base is not None:
                    exits, linemap = pic_mod.relocate(exits, linemap, base)
                tb = SysTB(pc, size)
                tb.key = key
                tb = self._link(tb, code, _Cached(name, exits, linemap, helpers), slow, base)
                if cache is not None and not slow and self.native is not None:
                    tb = self.native.warm_start(tb)
                return tb
        try:
            block = self._block_ir(key, slow)
        except GuestException:
            if cache is not None and page not in self.page_tbs:
                cache.forget_page(page)  # nothing protects the page: its digest may go stale
            raise
        # Cold code runs on the interpreter, unless earlier runs cached blocks of this code at
        # this virtual page or ran this block (then it goes to the cache, for the next run).
        if self.interp_calls and not slow and not forced and not _logging() and (
                cache is None or not self._ran_before(cache, key, group)):
            tb = self._interpreted(key, block)
        else:
            tb = self._compile(key, block, slow, cache)
        self.translate_seconds += time.perf_counter() - t0
        if cache is not None and not slow and self.native is not None:
            tb = self.native.warm_start(tb)
        if forced and not slow:
            self.native.promote(tb, [pc], None, {pc: block})
            tb = self.tbs.get(key, tb)
        return tb

    @staticmethod
    def _ran_before(cache: Any, key: Key, group: int | str) -> bool:
        """Whether an earlier run cached blocks of ``key``'s code page in ``group`` or ran the
        block itself; if not, the block is noted as run, for the next run."""
        pc, pa, flags = key
        page = pa >> PAGE_BITS
        if cache.known_at(page, group):
            return True
        seen = f"ran-{group}" if isinstance(group, str) else f"ran-{group:x}"
        ckey = (pc & PAGE_MASK, flags)
        if cache.raw_at(page, ckey, seen) is not None:
            return True
        cache.put_raw_at(page, ckey, seen, 1)
        return False

    def _counting_heat(self) -> bool:
        """Whether compiled blocks count their calls towards the native tier (BLOCK_HEAT)."""
        native = self.native
        return native is not None and not native.force and self.block_heat > 0

    def _compile(self, key: Key, block: Block, slow: bool, cache: Any) -> SysTB:
        """Generate and compile ``block``'s Python; install it (and keep it in ``cache``)."""
        pc, pa, flags = key
        gen = generate(block, f"tb_{pc:x}", self.count_insns, not slow and self._counting_heat())
        if log.enabled("out_asm"):
            log.log(f"OUT: [python] {pc:#x}\n{gen.source}\n")
        tb = SysTB(pc, block.size)
        tb.key = key
        pic = self._position_independent(key, block, gen) if cache is not None and self.pic \
            and pic_mod.eligible(pc) and not slow else None
        code = compile(gen.source if pic is None else pic.source, f"<tb {pc:#x}>", "exec")
        tb = self._link(tb, code, gen, slow, None if pic is None else pc & ~PAGE_MASK)
        if pic is not None:  # (cached without the virtual address: pic.py)
            cache.put_at(pa >> PAGE_BITS, (pc & PAGE_MASK, flags), code, gen.name, block.size,
                         pic.exits, pic.linemap, gen.helpers, pic_mod.GROUP)
        elif cache is not None:
            cache.put_at(pa >> PAGE_BITS, (pc, flags), code, gen.name, block.size, gen.exits,
                         gen.linemap, gen.helpers, pc >> PAGE_BITS)
        return tb

    def _position_independent(self, key: Key, block: Block, gen) -> Any:
        """``block``'s code (``gen``) made position-independent (accel/tcg/pic.py), or None."""
        pc, pa, flags = key
        try:
            shifted = self._block_ir((pc - pic_mod.SHIFT, pa, flags), False)
        except GuestException:
            return None
        if shifted.size != block.size:
            return None
        return pic_mod.relocatable(gen, generate(shifted, gen.name, self.count_insns,
                                                           self._counting_heat()),
                                   pc & ~PAGE_MASK)

    def _interpreted(self, key: Key, block: Block) -> SysTB:
        """Install ``block`` to run on the IR interpreter (tcg/interp.py) for its first
        ``interp_calls`` calls; then it compiles itself, if it is still the block at ``key``."""
        if self.interp is None:
            from pyqemu.accel.tcg.cpu_exec import pin_sys
            from pyqemu.tcg.interp import Interpreter
            self.interp = Interpreter(self.ns, pin_sys, self.count_insns)
        tb = SysTB(key[0], block.size)
        tb.key = key
        # (taken exits and computed-jump targets are recorded as a compiled block's: regions)
        g = tb.g = {"_ij": Counter(), "_taken": set()}
        taken = tb.exits
        run = self.interp.run
        ops, mmu_idx = block.ops, block.mmu_idx
        left = self.interp_calls

        def interpreted(cpu: Any, R: list) -> Callable:
            nonlocal left
            left -= 1
            if left < 0 and tb.valid and self.tbs.get(key) is tb:
                t0 = time.perf_counter()
                hot = self._compile(key, block, False, self._persistent_cache())
                hot.heat = tb.heat
                hot.compiled_from = tb  # (a native region compiled for tb may install over hot)
                hot.g["_ij"] = g["_ij"]
                self.translate_seconds += time.perf_counter() - t0
                return hot.fn(cpu, R)
            return run(cpu, R, ops, mmu_idx, taken, g)
        interpreted.guest_pc = key[0]  # type: ignore[attr-defined]
        interpreted.tb = tb  # type: ignore[attr-defined]
        tb.fn = interpreted
        return self.install(tb)

    def _link(self, tb: SysTB, code, gen, slow: bool, base: int | None = None) -> SysTB:
        """Run the compiled module code of a block or region; install it under ``tb.key``
        (``base``: position-independent code's page base, accel/tcg/pic.py)."""
        key = tb.key
        pc, pa, flags = key
        delta = pa - pc
        g = dict(self.ns)
        if base is not None:
            g["VB"] = base
        for h in gen.helpers.values():
            g[h.name] = h.func
        g["LINEMAP"] = gen.linemap
        if not slow and self.native is not None:  # (a block that counts its calls: BLOCK_HEAT)
            heat = g["HEAT"] = [self.block_heat, False]
            g["HOT"] = partial(self._hot, tb, heat, isinstance(gen, _Cached))
        for slot, target in gen.exits:
            g[slot] = _SysStub(self, g, slot, (target, target + delta, flags))
        fn = define(code, g, gen.name)
        if "_ij" in fn.__code__.co_names:  # (a computed jump counts its targets: regions)
            g["_ij"] = Counter()
        fn.guest_pc = pc
        fn.tb = tb
        tb.fn, tb.g, tb.linemap = fn, g, gen.linemap
        tb.exits = list(gen.exits)
        return self.install(tb, slow)

    def _loop_hot(self, fn: Callable) -> Callable:
        """A looping block or region ran its LOOP budget (``fn``: where it goes on): install
        what the background compiler finished meanwhile (else only at the slice's end: a loop
        can run 64 times a slice's blocks, and Linux's relocation loop stayed on the Python
        tier for 140 ms with its native region ready). Code installed over the running
        block comes from the same bytes, so ``fn`` may still run once more."""
        native = self.native
        if native is not None and native.worker is not None and native.worker.ready:
            native.worker.deliver()
        return fn

    def _hot(self, tb: SysTB, heat: list, ran_before: bool, cpu: Any) -> None:
        """The HOT function of compiled block ``tb`` (bound with functools.partial; ``heat``:
        its call countdown, and whether it was hot before). At BLOCK_HEAT calls, a native
        region headed there comes only from the code cache (no translation or compilation:
        cheap); at COLD_HEAT_FACTOR times that, it is compiled."""
        native = self.native
        if native is None or not tb.valid or cpu.tb_flags != tb.key[2]:
            return
        if heat[1]:
            native.hot_exit_at(cpu, tb.pc)
        elif not native.hot_exit_at(cpu, tb.pc, remembered_only=True):
            heat[1] = True
            factor = self.warm_heat_factor if ran_before else COLD_HEAT_FACTOR
            if factor <= 1:
                native.hot_exit_at(cpu, tb.pc)
            else:
                heat[0] = self.block_heat * (factor - 1)

    def install(self, tb: SysTB, slow: bool = False) -> SysTB:
        """Make ``tb`` (ready to run) the block at ``tb.key``, replacing the one there."""
        key = tb.key
        pa_page = key[1] >> PAGE_BITS
        tb.pages = (pa_page,)
        if slow:
            tb.heat = -1  # a one-instruction replay is never a region head
            self.slow_tbs[key] = tb
        else:
            old = self.tbs.get(key)
            if old is not None:
                self._unlink(old)
            self.tbs[key] = tb
            self.count += 1
        if pa_page not in self.page_tbs:
            self.page_tbs[pa_page] = set()
            for cpu in self.cpus:
                cpu.tlb.protect_code_page(pa_page)
        self.page_tbs[pa_page].add(key)
        return tb

    # --- regions (of blocks on one page) ------------------------------------------------
    def sample(self, fn: Callable) -> None:
        """The end of a slice: install what the native tier compiled meanwhile; count ``fn``
        towards a region (accel/tcg/tb.py's sample_for_regions)."""
        native = self.native
        if native is not None and native.worker is not None and native.worker.ready:
            native.worker.deliver()
        sample_for_regions(self, fn)

    def region_graph(self, key: Key) -> tuple[Callable[[int], SysTB | None], Callable[[int], set[int]]]:
        """``member(pc)``: the valid block at ``pc`` that a region headed at ``key`` may hold
        (same page, same flags); ``succ(pc)``: its successors that are members too."""
        pc0, pa0, flags = key
        delta = pa0 - pc0

        def member(pc: int) -> SysTB | None:
            if (pc ^ pc0) >> PAGE_BITS:
                return None  # another page: its mapping may change independently
            tb = self.tbs.get((pc, pc + delta, flags))
            return tb if tb is not None and tb.valid else None

        def succ(pc: int) -> set[int]:
            tb = member(pc)
            if tb is None:
                return set()
            return {t for t in tb.taken() | set(tb.indirect()) if member(t) is not None}
        return member, succ

    def _form_region(self, hot: SysTB) -> None:
        pc0, pa0, flags = hot.key
        delta = pa0 - pc0
        member, succ = self.region_graph(hot.key)
        head = member(loop_header(pc0, succ))
        if head is None or head.heat < 0 and head is not hot:
            return
        head.heat = -1
        members = {pc: member(pc) for pc in select_members(head.pc, succ, REGION_MEMBERS)}
        if len(members) == 1 and head.pc not in head.taken():
            return
        t0 = time.perf_counter()
        try:
            blocks = {pc: self._block_ir((pc, pc + delta, flags), False) for pc in members}
        except GuestException:
            return
        taken = {pc: succ(pc) for pc in members}
        gen = generate_region(head.pc, blocks, lambda src, dst: dst in taken[src],
                              f"region_{head.pc:x}", self.count_insns,
                              {pc: [t for t in tb.indirect() if t in taken[pc]]
                               for pc, tb in members.items()})
        if log.enabled("out_asm"):
            log.log(f"OUT: [python region] {head.pc:#x}: {', '.join(hex(p) for p in gen.members)}\n"
                    f"{gen.source}\n")
        tb = SysTB(head.pc, blocks[head.pc].size)
        tb.key = head.key
        tb.spans = member_spans({pc: b.size for pc, b in blocks.items()}, delta)
        tb.base = head.base or head
        tb.heat = -1
        code = compile(gen.source, f"<region {head.pc:#x}>", "exec")
        self._link(tb, code, gen, False)
        self.translate_seconds += time.perf_counter() - t0
        self.region_count += 1
        if self.native is not None:  # the same hot code as machine code
            self.native.promote(tb, list(members), taken, blocks)  # (the same IR, not again)

    def _stub(self, g: dict, slot: str, target: int, delta: int, flags: int) -> Callable:
        return _SysStub(self, g, slot, (target, target + delta, flags))

    # --- invalidation -------------------------------------------------------------------
    def _unlink(self, tb: SysTB) -> None:
        tb.valid = False
        pc, _pa, flags = tb.key
        if self.native is not None:
            if tb.py_fn is not None:
                self.native.unlinked(tb)
            self.native.exit_heat.pop(pc, None)  # (native exits there count afresh)
        for g, slot in tb.incoming:
            if g.get(slot) is tb.fn:
                g[slot] = self._stub(g, slot, pc, tb.key[1] - pc, flags)
        tb.incoming.clear()
        for cpu in self.cpus:
            for jcs in (cpu.jcs, *(saved[0] for saved in cpu.asid_jcs.values())):
                jc = jcs.get(flags)
                if jc is not None and jc.get(pc) is tb.fn:
                    del jc[pc]
        if self.tbs.get(tb.key) is tb:
            del self.tbs[tb.key]
        if self.slow_tbs.get(tb.key) is tb:
            del self.slow_tbs[tb.key]

    def invalidate_phys_page(self, pa_page: int) -> None:
        """Code on physical page ``pa_page`` changed: drop its blocks and let stores through."""
        if self.code_cache is not None:
            self.code_cache.forget_page(pa_page)
        keys = self.page_tbs.pop(pa_page, ())
        self.smc_misses.pop(pa_page, None)
        self.smc_run.pop(pa_page, None)
        for key in keys:
            for table in (self.tbs, self.slow_tbs):
                tb = table.get(key)
                if tb is not None:
                    self._unlink(tb)
        for cpu in self.cpus:
            cpu.tlb.unprotect_code_page(pa_page)

    def invalidate_phys_write(self, pa: int, size: int) -> None:
        """A vCPU stores ``size`` bytes at ``pa``, on a page with translated code: drop the
        blocks (and regions) translated from those bytes (QEMU's
        tb_invalidate_phys_page_fast). The page stays write-protected while it has blocks;
        after SMC_MISSES stores that hit none of them (data next to code) the whole page
        is dropped, so its data stores take the fast path again; so is a page after
        SMC_SEQUENTIAL stores that each start where the last one ended (memset, a copy)."""
        pa_page = pa >> PAGE_BITS
        if self.code_cache is not None:
            self.code_cache.forget_page(pa_page)  # its bytes change: a new digest
        keys = self.page_tbs.get(pa_page)
        end = pa + size
        last_end, run = self.smc_run.get(pa_page, (-1, 0))
        run = run + 1 if pa == last_end else 1
        if not keys or run >= SMC_SEQUENTIAL:
            self.invalidate_phys_page(pa_page)
            return
        self.smc_run[pa_page] = (end, run)
        hit = False
        for key in list(keys):
            for table in (self.tbs, self.slow_tbs):
                tb = table.get(key)
                if tb is not None and tb.overlaps(pa, end):
                    self._unlink(tb)
                    hit = True
            if key not in self.tbs and key not in self.slow_tbs:
                keys.discard(key)
        if not keys:
            self.invalidate_phys_page(pa_page)
        elif not hit:
            n = self.smc_misses.get(pa_page, 0) + 1
            self.smc_misses[pa_page] = n
            if n >= SMC_MISSES:
                self.invalidate_phys_page(pa_page)

    def invalidate_phys_range(self, pa: int, length: int) -> None:
        """A device (DMA) or loader wrote guest RAM behind the TLB's back."""
        for page in range(pa >> PAGE_BITS, (pa + length + PAGE_MASK) >> PAGE_BITS):
            if page in self.page_tbs:
                self.invalidate_phys_page(page)

    def flush(self) -> None:
        if self.code_cache is not None:
            self.code_cache.forget_all()  # code pages are no longer write-protected
        for tb in list(self.tbs.values()) + list(self.slow_tbs.values()):
            self._unlink(tb)
        for cpu in self.cpus:
            for page in self.page_tbs:
                cpu.tlb.unprotect_code_page(page)
            for jc in cpu.jcs.values():
                jc.clear()
            cpu.asid_jcs.clear()
        self.page_tbs.clear()
        self.smc_misses.clear()
        self.smc_run.clear()
