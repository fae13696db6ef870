"""The translation-block cache: translate, compile, look up, chain, invalidate.

Blocks are keyed by guest pc (user mode has no other translation-relevant
state yet; system mode will key on (pc, flags)) and indexed by the guest
pages their code covers, so a write to a code page, an ``munmap`` or an
``mprotect`` invalidates exactly the blocks on that page. Invalidating a
block also unlinks every chained jump into it: the jump slot reverts to a
stub that looks the target up again.
"""
from __future__ import annotations

import bisect
import heapq
import os
import threading
import time
from collections import Counter
from collections.abc import Callable

from pyqemu.accel.tcg.code_cache import define
from pyqemu.accel.tcg.excp import GuestException
from pyqemu.tcg import optimize as tcg_optimize
from pyqemu.tcg.ir import Block
from pyqemu.tcg.pygen import generate
from pyqemu.tcg.region import generate_region, loop_header, select_members
from pyqemu.util import log

PAGE_SHIFT = 12
LOOP_BUDGET = 512  # iterations of a block (or region) that loops to itself per call
LOOP_HEAT = 2  # calls of a looping block that ran out of LOOP before it heads a region
REGION_HEAT = 3  # slice-end samples of a block before it becomes the head of a region
REGION_MEMBERS = 24  # distinct blocks a region may inline
INDIRECT_TARGETS = 6  # targets of one computed jump a region tests for


def sample_for_regions(cache, fn: Callable) -> None:
    """A TB cache's ``sample``: the CPU loop saw ``fn`` run next at the end of a slice. A hot
    block becomes the head of a region (tcg/region.py, ``cache._form_region``) once it has
    been seen ``cache.region_heat`` times."""
    tb = getattr(fn, "tb", None)
    if tb is None or not tb.valid:
        return
    if tb.heat < 0:
        return
    tb.heat += 1
    if tb.heat >= cache.region_heat:
        tb.heat = -1
        cache._form_region(tb)


class TranslationBlock:
    __slots__ = ("pc", "size", "fn", "g", "incoming", "pages", "valid", "linemap", "exits",
                 "heat", "base", "py_fn", "loop_heat")

    def __init__(self, pc: int, size: int) -> None:
        self.pc = pc
        self.size = size
        self.fn: Callable | None = None
        self.g: dict = {}
        self.incoming: list[tuple[dict, str]] = []  # chaining slots that point here
        self.pages: tuple[int, ...] = ()
        self.valid = True
        self.linemap: list[tuple[int, int, int]] = []
        self.exits: list[tuple[str, int]] = []  # (chaining slot, target pc)
        self.heat = 0  # times seen by sample(); < 0: never a region head
        self.base: TranslationBlock | None = None  # a region: the single block of its head
        self.py_fn: Callable | None = None  # a native region: the Python tier's function
        self.loop_heat = 0  # times the block looped LOOP_BUDGET times in one call

    def taken(self) -> set[int]:
        """Targets of direct jumps this block has taken (their slots are chained)."""
        tb = self.base or self
        return {t for slot, t in tb.exits if not getattr(tb.g.get(slot), "is_stub", False)}

    def indirect(self) -> list[int]:
        """The most frequent targets of the block's computed jump, most frequent first."""
        tb = self.base or self
        seen = tb.g.get("_ij")
        if not seen:
            return []
        counts = dict(seen)  # a snapshot: another guest thread may be counting a new target
        return heapq.nlargest(INDIRECT_TARGETS, counts, key=counts.__getitem__)


class TBCache:
    """Translated blocks of one address space.

    `translate(pc) -> Block` is the target's front end; `namespace` holds the
    names generated code uses (memory views, slow paths, helpers).
    `on_code_page(page)` is called when a page first holds translated code
    (user mode write-protects it to catch self-modifying code).
    """

    def __init__(self, translate: Callable[[int], Block], namespace: dict,
                 on_code_page: Callable[[int], None] | None = None,
                 optimize: bool = True, count_insns: bool = False, code_cache=None,
                 regions: bool = True, lock: threading.RLock | None = None) -> None:
        self.translate = translate
        # Held while blocks are made, linked into regions or dropped: a user-mode process's
        # threads share this cache (its guest memory's lock, so that the order of the two
        # locks is always the same: translation reads guest memory, munmap drops code).
        self.lock = lock or threading.RLock()
        self.ns = namespace
        self.on_code_page = on_code_page
        self.optimize = optimize
        self.count_insns = count_insns
        self.code_cache = code_cache
        self.tbs: dict[int, TranslationBlock] = {}
        self.jc: dict[int, Callable] = {}  # pc -> function (the jump cache)
        self.page_tbs: dict[int, set[int]] = {}
        self.ns["JC_get"] = self.jc.get
        self.ns["LOOKUP"] = self._lookup_cpu
        self.ns["LOOP"] = range(LOOP_BUDGET)
        self.ns["LOOP_HOT"] = self.loop_hot
        self.count = 0
        # Regions of hot blocks (sample()); PYQEMU_REGION_HEAT=N: after N samples, 0: never.
        self.region_heat = int(os.environ.get("PYQEMU_REGION_HEAT", REGION_HEAT))
        self.regions = regions and self.region_heat > 0
        self.region_count = 0
        self.translate_seconds = 0.0  # translating, optimising, generating, compiling
        self.hooks_invalidate: list[Callable[[int, int], None]] = []
        self.native = None  # the native tier (accel/tcg/native.py), when enabled
        self.debugging = False  # gdb breakpoints are set: blocks may end early (no code cache)

    # --- lookup ---------------------------------------------------------------
    def _lookup_cpu(self, cpu, pc: int) -> Callable:
        return self.lookup(pc)

    def lookup(self, pc: int) -> Callable:
        fn = self.jc.get(pc)
        if fn is None:
            with self.lock:
                fn = self.jc.get(pc) or self._build(pc).fn
        return fn

    def _build(self, pc: int) -> TranslationBlock:
        cache = self.code_cache
        if cache is not None and not self._logging() and not self.debugging:
            hit = cache.get(pc)
            if hit is not None:
                code, name, size, exits, linemap, helpers = hit
                tb = TranslationBlock(pc, size)
                self._link(tb, code, name, exits, linemap, helpers)
                return self._install(tb)
        t0 = time.perf_counter()
        block = self._block_ir(pc)
        gen = generate(block, f"tb_{pc:x}", self.count_insns)
        if log.enabled("out_asm"):
            log.log(f"OUT: [python] {pc:#x}\n{gen.source}\n")
        tb = TranslationBlock(pc, block.size)
        code = compile(gen.source, f"<tb {pc:#x}>", "exec")
        self._link(tb, code, gen.name, gen.exits, gen.linemap, gen.helpers)
        self.translate_seconds += time.perf_counter() - t0
        if cache is not None and not self.debugging:
            cache.put(pc, code, gen.name, block.size, gen.exits, gen.linemap, gen.helpers)
        tb = self._install(tb)
        if self.native is not None and self.native.force:
            self.native.promote(tb, [pc], None, {pc: block})
            tb = self.tbs.get(pc, tb)
        return tb

    def _block_ir(self, pc: int) -> Block:
        """Translate and optimise the block at ``pc`` (logging -d op/op_opt)."""
        if self.on_code_page is not None:
            # Protected before its bytes are read: another thread's store from now on takes
            # the slow path, which waits for this translation and then drops it. (Marked only
            # when installed, a store between the read and the install was never seen.)
            self.on_code_page(pc >> PAGE_SHIFT)
        try:
            block = self.translate(pc)
        except GuestException as e:  # the first instruction could not be fetched
            if e.pc is None:
                e.pc = pc
            raise
        if log.enabled("op"):
            log.log(f"OP:\nIN: {pc:#x}\n{block.dump()}\n")
        if self.optimize:
            tcg_optimize.optimize(block)
            if log.enabled("op_opt"):
                log.log(f"OP after optimization:\nIN: {pc:#x}\n{block.dump()}\n")
        return block

    # --- regions ----------------------------------------------------------------
    sample = sample_for_regions

    def loop_hot(self, fn: Callable) -> Callable:
        """A looping block ``fn`` ran out of its LOOP budget (and wrote its registers back):
        after LOOP_HEAT such calls it heads a region at once, without waiting for slice-end
        samples (a self-loop's slice lasts LOOP_BUDGET times longer). Returns what runs next."""
        tb = getattr(fn, "tb", None)
        if tb is None or not tb.valid or tb.heat < 0 or not self.regions:
            return fn
        tb.loop_heat += 1
        if tb.loop_heat >= LOOP_HEAT:
            self._form_region(tb)
            return self.jc.get(tb.pc, fn)
        return fn

    def _succ(self, pc: int) -> set[int]:
        """Known successors of block ``pc`` that are translated (region candidates)."""
        tb = self.tbs.get(pc)
        if tb is None or not tb.valid:
            return set()
        return {t for t in tb.taken() | set(tb.indirect()) if t in self.tbs and self.tbs[t].valid}

    def _form_region(self, hot: TranslationBlock) -> None:
        with self.lock:
            self._form_region_locked(hot)

    def _form_region_locked(self, hot: TranslationBlock) -> None:
        head = self.tbs.get(loop_header(hot.pc, self._succ))
        if head is None or head.heat < 0 and head is not hot:
            return  # that loop is a region already
        head.heat = -1
        members = {pc: self.tbs[pc] for pc in select_members(head.pc, self._succ, REGION_MEMBERS)}
        if len(members) == 1 and head.pc not in head.taken():
            return  # nothing to gain: no loop, no successor
        t0 = time.perf_counter()
        try:
            blocks = {pc: self._block_ir(pc) for pc in members}
        except GuestException:
            return  # a member's code is gone; the single blocks carry on
        taken = {pc: self._succ(pc) for pc in members}
        gen = generate_region(head.pc, blocks, lambda src, dst: dst in taken[src],
                              f"region_{head.pc:x}", self.count_insns,
                              {pc: tb.indirect() for pc, tb in members.items()})
        if log.enabled("out_asm"):
            log.log(f"OUT: [python region] {head.pc:#x}: {', '.join(hex(p) for p in gen.members)}\n"
                    f"{gen.source}\n")
        tb = TranslationBlock(head.pc, blocks[head.pc].size)
        tb.base = head.base or head
        tb.heat = -1
        code = compile(gen.source, f"<region {head.pc:#x}>", "exec")
        self._link(tb, code, gen.name, gen.exits, gen.linemap, gen.helpers)
        pages: set[int] = set()
        for pc in gen.members:
            pages.update(members[pc].pages)
        self.translate_seconds += time.perf_counter() - t0
        self.region_count += 1
        self._install(tb, tuple(sorted(pages)))
        if self.native is not None:  # the same hot code as machine code
            self.native.promote(tb, list(members), taken, blocks)  # (the same IR, not again)

    @staticmethod
    def _logging() -> bool:
        return log.enabled("in_asm") or log.enabled("op") or log.enabled("op_opt") or log.enabled("out_asm")

    def _install(self, tb: TranslationBlock, pages: tuple[int, ...] = ()) -> TranslationBlock:
        pc = tb.pc
        first = pc >> PAGE_SHIFT
        last = (pc + max(tb.size, 1) - 1) >> PAGE_SHIFT
        tb.pages = pages or tuple(range(first, last + 1))
        for p in tb.pages:
            s = self.page_tbs.get(p)
            if s is None:
                s = self.page_tbs[p] = set()
                if self.on_code_page is not None:
                    self.on_code_page(p)
            s.add(pc)
        old = self.tbs.get(pc)
        if old is not None:
            self._unlink(old)
        self.tbs[pc] = tb
        self.jc[pc] = tb.fn
        self.count += 1
        return tb

    def _link(self, tb: TranslationBlock, code, name: str, exits, linemap, helpers: dict) -> None:
        """Run a block's compiled module code in a fresh namespace; bind exits."""
        g = dict(self.ns)
        for h in helpers.values():
            g[h.name] = h.func
        g["LINEMAP"] = linemap
        g["_ij"] = Counter()
        for slot, target in exits:
            g[slot] = self._stub(g, slot, target)
        fn = define(code, g, name)
        fn.guest_pc = tb.pc
        fn.tb = tb
        tb.fn = fn
        tb.exits = list(exits)
        tb.g = g
        tb.linemap = linemap

    def _stub(self, g: dict, slot: str, target: int) -> Callable:
        def find() -> TranslationBlock:
            tb = self.tbs.get(target)
            if tb is not None and tb.valid:
                return tb
            with self.lock:
                tb = self.tbs.get(target)
                return tb if tb is not None and tb.valid else self._build(target)
        return chain_stub(g, slot, target, find)

    # --- invalidation ---------------------------------------------------------
    def _unlink(self, tb: TranslationBlock) -> None:
        tb.valid = False
        if tb.py_fn is not None and self.native is not None:
            self.native.unlinked(tb)
        for g, slot in tb.incoming:
            if g.get(slot) is tb.fn:
                g[slot] = self._stub(g, slot, tb.pc)
        tb.incoming.clear()
        if self.jc.get(tb.pc) is tb.fn:
            del self.jc[tb.pc]
        if self.tbs.get(tb.pc) is tb:
            del self.tbs[tb.pc]

    def invalidate_page(self, page: int) -> bool:
        """Drop every block with code on guest page `page`. True if any."""
        with self.lock:
            return self._invalidate_page_locked(page)

    def _invalidate_page_locked(self, page: int) -> bool:
        if self.code_cache is not None:
            self.code_cache.forget_page(page)
        pcs = self.page_tbs.pop(page, None)
        if not pcs:
            return False
        for pc in pcs:
            tb = self.tbs.get(pc)
            if tb is not None:
                self._unlink(tb)
                for p in tb.pages:
                    if p != page:
                        s = self.page_tbs.get(p)
                        if s is not None:
                            s.discard(pc)
        return True

    def invalidate_range(self, start: int, length: int) -> None:
        for page in range(start >> PAGE_SHIFT, (start + length + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT):
            self.invalidate_page(page)

    def flush(self) -> None:
        with self.lock:
            for tb in list(self.tbs.values()):
                self._unlink(tb)
            self.page_tbs.clear()

    def pages_with_code(self) -> list[int]:
        return sorted(self.page_tbs)


class ChainStub:
    """What a jump slot holds until first taken: find the target block (translating it if
    needed), patch the slot to call it directly, and record the link for unlinking. (An
    object rather than a closure: a block's exits cost one small allocation each.)"""

    __slots__ = ("g", "slot", "guest_pc")
    is_stub = True

    def target(self) -> TranslationBlock:
        raise NotImplementedError

    def __call__(self, cpu, R):
        tb = self.target()
        g, slot = self.g, self.slot
        g[slot] = tb.fn
        tb.incoming.append((g, slot))
        return tb.fn


class _FindStub(ChainStub):
    __slots__ = ("find",)

    def target(self) -> TranslationBlock:
        return self.find()


def chain_stub(g: dict, slot: str, pc: int, find: Callable[[], TranslationBlock]) -> Callable:
    """The stub of jump slot ``slot`` in ``g`` to ``pc``, whose block ``find()`` returns."""
    stub = _FindStub()
    stub.g, stub.slot, stub.guest_pc, stub.find = g, slot, pc, find
    return stub


def pc_at_line(linemap: list[tuple[int, int, int]], lineno: int) -> int | None:
    """The guest pc of the instruction whose code contains `lineno`."""
    entry = entry_at_line(linemap, lineno)
    return entry[1] if entry is not None else None


def entry_at_line(linemap: list[tuple[int, int, int]], lineno: int) -> tuple[int, int, int] | None:
    """The line map entry (line, pc, instructions completed before it) covering `lineno`."""
    i = bisect.bisect_right(linemap, (lineno, 1 << 64)) - 1
    if i < 0:
        return linemap[0] if linemap else None
    return linemap[i]
