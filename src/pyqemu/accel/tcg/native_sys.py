"""The native tier in system mode: hot regions of a machine's TB cache as machine code.

The same back end and wrapper protocol as user mode (accel/tcg/native.py), with
system mode's differences:

- Guest memory goes through each vCPU's native TLB (accel/tcg/native_tlb.py,
  ``SoftMMU`` in tcg/llvmgen.py). A miss leaves native code before the
  instruction, the Python tier runs it (TLB fill, MMIO, the guest's fault), and
  the wrapper copies the Python TLB's entry into the native one.
- Blocks are keyed by (virtual pc, physical pc, flags). Each vCPU has its own
  state block and chain table; a chain entry carries a *key*, the vCPU's
  translation flags and a generation that changes whenever its jump caches are
  cleared (a TLB flush, TLBI, an ASID switch), so a chained call is exactly as
  valid as a jump-cache hit. Entries are added when native code leaves to a
  pc whose block is native (the jump cache knows it then).
- A native call spends at most ``SYS_NATIVE_BUDGET`` transitions; once a vCPU
  has spent that many since its last slice end, the wrapper ends the slice
  (CPUStop), so timers and interrupts are seen as often as on the Python tier.
- ``-icount`` (instruction counting that drives the virtual clock) keeps the
  Python tier: its slices end at exact instruction counts.
"""
from __future__ import annotations

import ctypes
import functools
import os
import struct
import time
from collections.abc import Callable
from typing import Any

from pyqemu.accel.tcg import native_regions
from pyqemu.accel.tcg import pic as pic_mod
from pyqemu.accel.tcg.cputlb import ACCESS_READ, ACCESS_WRITE, PAGE_BITS, PAGE_MASK, PhysFault
from pyqemu.accel.tcg.native import _CALL, EXIT_HEAT, NATIVE_MEMBERS, NativeTier, _Worker
from pyqemu.accel.tcg.native_tlb import TLB_BITS, NativeTLB
from pyqemu.tcg.ir import HELPERS
from pyqemu.tcg.llvmgen import (
    CPU_VALUE_SLOTS,
    MISS_DONE,
    MISS_FILLED,
    MISS_LAZY,
    MISS_SIZE_SHIFT,
    PY_CALL_ARGS,
    PY_CALLS,
    SYS_CHAIN_SLOTS,
    SoftMMU,
    sys_chain_slot,
    uses_lazy_globals,
)
from pyqemu.tcg.region import select_members
from pyqemu.util import log

_FILL_FN = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p)  # i64 fill(ptr S) (llvmgen SoftMMU)
_PYCALL_FN = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, *[ctypes.c_uint64] * (1 + PY_CALL_ARGS))
NOFILL_PAGES = 256  # pages remembered per vCPU whose fill gave native code no entry
SYS_NATIVE_BUDGET = 1 << 12  # transitions per native call, and per vCPU slice
# A native region whose calls keep leaving for the Python tier within DEMOTE_TRANSITIONS
# transitions (DEMOTE_SCORE more such calls than others) goes back to the Python tier.
DEMOTE_TRANSITIONS = 2
DEMOTE_SCORE = 256
M64 = (1 << 64) - 1
KIND_MASK = (1 << MISS_SIZE_SHIFT) - 1  # (``misskind`` without an access's size)
NATIVE_PIC = os.environ.get("PYQEMU_NATIVE_PIC", "1") != "0"
# Chain-table misses ask Python for the region at the exit pc (_chain_from_native) instead
# of leaving native code (PYQEMU_CHAIN_FILL=0: they leave, for comparisons).
CHAIN_FILL = os.environ.get("PYQEMU_CHAIN_FILL", "1") != "0"


class SysNativeTier(NativeTier):
    """Compiles a :class:`~pyqemu.accel.tcg.tb_sys.SysTBCache`'s hot regions natively."""

    budget = SYS_NATIVE_BUDGET

    def __init__(self, cache: Any, nregs: int, force: bool = False) -> None:
        super().__init__(cache, SoftMMU(TLB_BITS), nregs, force)
        self.demoted = 0
        self.remembered = 0  # regions made from the code cache's entries (native_regions.py)
        self.warm_started = 0  # ... of those, when their head block was made (warm_start)
        self.exit_heat_limit = int(os.environ.get("PYQEMU_EXIT_HEAT", EXIT_HEAT))  # (a tuning knob)
        self.inflight: set[tuple[int, int, int]] = set()  # keys being compiled
        if not force and os.environ.get("PYQEMU_JIT_ASYNC", "1") != "0":
            self.worker = _Worker()
        self.native_fills = 0  # native TLB misses that native code's fill call resolved
        self._cpu_of_state: dict[int, Any] = {}  # state block address -> vCPU
        lay = self.layout
        self._miss_slot, self._kind_slot = lay.off("miss") // 8, lay.off("misskind") // 8
        self._mmio_slot, self._budget_slot = lay.off("mmio") // 8, lay.budget_off // 8
        self.native_mmio = 0  # device accesses native code's fill call did itself
        self._fill_callback = _FILL_FN(self._fill_from_native)  # (kept alive with the tier)
        self._fill_address = ctypes.cast(self._fill_callback, ctypes.c_void_p).value
        self.py_calls = 0  # helpers native code called (PY_CALLS)
        # number -> (helper, how many of the call's arguments it takes after cpu)
        self._py_call_fns = {number: (HELPERS[name].func, HELPERS[name].func.__code__.co_argcount - 1)
                             for name, number in PY_CALLS.items() if name in HELPERS}
        self._key_slot = lay.off("key") // 8
        self._py_call_callback = _PYCALL_FN(self._py_call_from_native)
        self._py_call_address = ctypes.cast(self._py_call_callback, ctypes.c_void_p).value
        self.chain_fills = 0  # chain-table misses that found a native region without leaving
        self._pc_slot = lay.pc_off // 8
        self._chain_callback = _FILL_FN(self._chain_from_native)
        self._chain_address = ctypes.cast(self._chain_callback, ctypes.c_void_p).value

    def _py_call_from_native(self, state: int, number: int, *args: int) -> int:
        """Native code calls helper ``number`` (llvmgen's PY_CALLS) with ``args``: 0 when it
        ran, nonzero to run the instruction on the Python tier instead. A helper may change
        the vCPU's mappings (a TLBI of a code page): the state block's chain key follows."""
        try:
            cpu = self._cpu_of_state[state]
            fn, nargs = self._py_call_fns[number]
            value = fn(cpu, *args[:nargs])
            B = cpu._native_state[0]
            if value is not None:  # (PY_CALL_RESULTS)
                B[self._mmio_slot] = value & M64
            B[self._key_slot] = cpu.tb_flags | cpu._native_gen << 32
            self.py_calls += 1
            return 0
        except BaseException:  # noqa: BLE001 - nothing may unwind through native frames
            return 1

    def _chain_from_native(self, state: int) -> int:
        """Native code leaves for the exit pc in the state block and its chain-table slot
        holds another pc or key (a new ASID's or mapping generation's, or a slot conflict):
        look the block up as the Python tier's jump cache would, without translating, and
        enter it in the slot. Returns a native region's address, else 0 (the slot then says
        so, and native code leaves without asking again until the wrapper chains it)."""
        try:
            cpu = self._cpu_of_state[state]
            B = cpu._native_state[0]
            pc = B[self._pc_slot]
            fn = cpu.jc_get(pc)
            if fn is None:
                cache = self.cache
                flags = cpu.tb_flags
                pa = cpu.tlb.translate_code(pc, cache.mmu_idx_of(flags))
                tb = cache.tbs.get((pc, pa, flags))
                if tb is None or not tb.valid:
                    return 0
                fn = cpu.jc[pc] = tb.fn
            addr = getattr(fn, "native_addr", 0)
            chain = cpu._native_chain
            slot = 4 * sys_chain_slot(pc)
            chain[slot] = pc
            chain[slot + 1] = B[self._key_slot]
            chain[slot + 2] = addr
            if addr:
                self.chain_fills += 1
            return addr
        except BaseException:  # noqa: BLE001 - nothing may unwind through native frames
            return 0

    def _fill_from_native(self, state: int) -> int:
        """Native code missed its TLB (the state block's ``miss``/``misskind``): fill the
        entry as the Python tier would, without leaving native code (MISS_FILLED: the native
        entry now holds the page), or do a device access there (MISS_DONE, see _mmio); 0 to
        leave (a store to code, the guest's fault, an access fill may not do: the Python tier
        runs the instruction). Never raises: it runs inside native code."""
        try:
            cpu = self._cpu_of_state[state]
            B = cpu._native_state[0]
            kind = B[self._kind_slot]
            size = kind >> MISS_SIZE_SHIFT
            kind &= (1 << MISS_SIZE_SHIFT) - 1
            if not 0 < kind or size >= MISS_LAZY >> MISS_SIZE_SHIFT:
                return 0
            addr = B[self._miss_slot]
            mmu_idx, store = (kind - 1) >> 1, (kind - 1) & 1
            page = addr >> PAGE_BITS
            tlb = cpu.tlb
            nat = tlb.native
            nofill = nat.nofill
            access = ACCESS_WRITE if store else ACCESS_READ
            hint = nofill.get((kind, page))
            if hint is not None:  # (MMIO, ROM or code, when last looked at)
                if not size:
                    return 0
                if hint[0] == tlb.asid:  # (its translation then: no TLBI of it since)
                    pa, view = hint[1] << PAGE_BITS | (addr & PAGE_MASK), None
                else:
                    try:
                        pa, view = tlb.fill(addr, access, mmu_idx)
                    except Exception:  # noqa: BLE001 - the guest's fault: the Python tier raises it
                        return 0
                    nofill[(kind, page)] = self._hint(tlb, mmu_idx, page, pa)
            else:
                w = nat._word(mmu_idx, page) + store
                nat.refill(tlb, mmu_idx, addr)  # (the Python TLB may hold it)
                if nat.words[w] != page:
                    try:
                        pa, view = tlb.fill(addr, access, mmu_idx)
                    except Exception:  # noqa: BLE001 - the guest's fault: the Python tier raises it
                        return 0
                if nat.words[w] == page:
                    B[self._kind_slot] = 0
                    self.native_fills += 1
                    return MISS_FILLED
                if len(nofill) >= NOFILL_PAGES:
                    nofill.clear()
                nofill[(kind, page)] = self._hint(tlb, mmu_idx, page, pa)
            if not size or view is not None:
                return 0
            return self._mmio(cpu, B, addr, pa, size, store)
        except BaseException:  # noqa: BLE001 - nothing may unwind through native frames
            return 0

    @staticmethod
    def _hint(tlb: Any, mmu_idx: int, page: int, pa: int) -> tuple[int, int]:
        """NativeTLB.nofill's value for a page whose fill gave native code no entry: (ASID,
        physical page) for a device's page (no RAM entry at all), else (-1, 0) (ROM, a page
        with code: fill again each time, in case that changed)."""
        if tlb.read[mmu_idx].get(page) is None and tlb.write[mmu_idx].get(page) is None:
            return tlb.asid, pa >> PAGE_BITS
        return -1, 0

    def _mmio(self, cpu: Any, B: ctypes.Array, addr: int, pa: int, size: int, store: int) -> int:
        """Do native code's device access of ``size`` bytes at ``addr`` (physical ``pa``) as
        the Python tier's slow path would: MISS_DONE, a load's value in the state block's
        ``mmio``; 0 if it is for the Python tier (misaligned, a store to code, nothing
        there: the guest's fault). A device that raised an interrupt or changed the memory
        map ends the native call at its next block (budget 0) so that the vCPU sees it."""
        if addr & (size - 1) or (store and pa >> PAGE_BITS in cpu.tlb.code_pages):
            return 0
        phys = cpu.tlb.phys
        lines, gen = getattr(cpu, "irq_lines", 0), cpu._native_gen
        try:
            if store:
                phys.write(pa, size, B[self._mmio_slot] & ((1 << (size * 8)) - 1))
            else:
                B[self._mmio_slot] = phys.read(pa, size)
        except PhysFault:
            return 0
        B[self._kind_slot] = 0
        self.native_mmio += 1
        if getattr(cpu, "irq_lines", 0) & ~lines or cpu._native_gen != gen:
            B[self._budget_slot] = 0
        return MISS_DONE

    # --- vCPUs ------------------------------------------------------------------------------
    def attach(self, cpu: Any) -> None:
        """Give ``cpu`` a native TLB and a chain table."""
        tlb = cpu.tlb
        tlb.native = NativeTLB(tlb.nb_mmu_idx, TLB_BITS)
        cpu._native_chain = (ctypes.c_uint64 * (4 * SYS_CHAIN_SLOTS))()
        cpu._native_spent = 0

    def state_of(self, cpu: Any) -> tuple[ctypes.Array, int]:
        lay = self.layout
        buf = (ctypes.c_uint64 * (lay.size // 8 + 2 * CPU_VALUE_SLOTS))()
        tlb_slot = lay.off("tlb") // 8
        native_tlb = cpu.tlb.native
        buf[tlb_slot] = native_tlb.address
        native_tlb.on_switch.append(lambda address: buf.__setitem__(tlb_slot, address))  # (ASIDs)
        buf[lay.off("chain") // 8] = ctypes.addressof(cpu._native_chain)
        buf[lay.off("fill") // 8] = self._fill_address
        buf[lay.off("pycall") // 8] = self._py_call_address
        if CHAIN_FILL:
            buf[lay.off("chainfill") // 8] = self._chain_address
        self._cpu_of_state[ctypes.addressof(buf)] = cpu
        st = cpu._native_state = (buf, ctypes.addressof(buf))
        return st

    # --- tiering --------------------------------------------------------------------------
    def promote(self, tb, members: list[int], taken: dict[int, set[int]] | None = None,
                blocks: dict | None = None, remembered_only: bool = False) -> bool:
        """Compile the region of ``members`` (virtual pcs on ``tb``'s page, under its flags)
        headed at ``tb`` natively and install it under ``tb.key``; False if not (or, with
        ``remembered_only``, if the code cache does not remember such a region)."""
        from pyqemu.accel.tcg.excp import GuestException
        cache = self.cache
        key = tb.key
        if key in self.inflight:
            return False  # being compiled in the background
        pc0, pa0, flags = key
        delta = pa0 - pc0
        t0 = time.perf_counter()
        indirect = {}
        for pc in members:
            other = cache.tbs.get((pc, pc + delta, flags))
            if other is not None:
                indirect[pc] = other.indirect()
        # Code at high addresses (KASLR, ASLR) is compiled position-independent; a region of
        # the same shape found in the code cache needs no translation (native_regions.py).
        # Other privileged code (early boot) is remembered for its virtual page.
        pic = self._pic(pc0)
        group = native_regions.group(pc0, pic)
        store = cache._persistent_cache() if self._remembers(key) and not log.enabled("out_asm") else None
        shape = None if store is None else native_regions.shape(key, members, taken, indirect)
        remembered = None if shape is None else self._remembered(store, pa0, shape, pc0, group)
        ok = False
        if remembered is not None:
            code, sizes = remembered
            ok = self._submit(tb, code, sizes, delta, lambda: self._note_head(store, key, shape, group))
            if not ok and not remembered_only and not self.llvm.has_object(code.object_key):
                remembered = None  # its object never reached the disk (LLVM failed): make it again
        if remembered is None and not remembered_only:
            try:
                if blocks is None:
                    blocks = {pc: cache._block_ir((pc, pc + delta, flags), False) for pc in members}
            except GuestException:
                return False
            code = self.generate(pc0, blocks, taken, indirect,
                                 self._shifted(key, blocks) if pic else None)
            if code is not None:
                sizes = {pc: b.size for pc, b in blocks.items()}
                on_installed = None
                if shape is not None and bool(code.pic) == pic:  # (kernel half: if relocatable)
                    # Remembered once installed: its object is on disk then (a compilation
                    # queued at exit never runs).
                    # It keeps the object too, ready to load (native_loader.prepare).
                    code.object_key = self.llvm.object_key(code.ir)

                    def on_installed(code=code, sizes=sizes) -> None:
                        llvm = self.llvm
                        entry = native_regions.entry(code, code.object_key, sizes, llvm.identity,
                                                     llvm.prepared(code.object_key))
                        store.put_raw_at(pa0 >> PAGE_BITS, shape, group, entry)
                        self._note_head(store, key, shape, group)
                ok = self._submit(tb, code, sizes, delta, on_installed)
        # (the CPU thread's share: with a background compiler, only making the IR)
        cache.translate_seconds += time.perf_counter() - t0
        return ok

    def _pic(self, pc: int) -> bool:
        """Whether regions headed at ``pc`` are compiled position-independent (when they can)."""
        return self._remembering and pic_mod.eligible(pc)

    def _remembers(self, key: tuple[int, int, int]) -> bool:
        """Whether regions headed at ``key`` are remembered in the code cache: code at high
        addresses (position-independent: a kernel's KASLR, a process's ASLR), and other code
        (position-dependent, for its virtual page: a kernel's early boot, a boot loader, a
        program that is not position-independent)."""
        return self._remembering

    @functools.cached_property
    def _remembering(self) -> bool:
        return bool(self.cache.pic and NATIVE_PIC and self.llvm.cache_dir is not None)

    @staticmethod
    def _note_head(store, key: tuple[int, int, int], shape: tuple, group: str) -> None:
        """Remember that a region of ``shape`` is headed at ``key`` (for :meth:`warm_start`)."""
        page, head = key[1] >> PAGE_BITS, native_regions.head(key)
        if store.raw_at(page, head, group) != shape:
            store.put_raw_at(page, head, group, shape)

    def warm_start(self, tb):
        """Block ``tb`` (of code whose regions are remembered: :meth:`_remembers`) was just
        made: if an earlier run installed a native region headed there, load it now (no
        translation, the object is on disk) rather than after BLOCK_HEAT calls of Python
        code. Returns the block now at ``tb``'s key (the native region, or ``tb``)."""
        key = tb.key
        if not self._warm(tb):
            return tb
        now = self.cache.tbs.get(key)
        return now if now is not None and now.valid else tb

    def _warm(self, tb) -> bool:
        """Submit the region an earlier run installed at ``tb``'s head (the code cache's note
        for the page's current bytes); False if there is none. (Asked for every block made:
        ~56,000 in a Linux boot, most with no note.)"""
        key = tb.key
        store = self.cache.code_cache
        if store is None or key in self.inflight or not self._remembers(key):
            return False
        pa0 = key[1]
        group = native_regions.group(key[0], self._pic(key[0]))
        shape = store.raw_at(pa0 >> PAGE_BITS, native_regions.head(key), group)
        if shape is None:
            return False
        found = self._remembered(store, pa0, shape, key[0], group)
        if found is None:
            return False
        self.warm_started += 1
        return self._submit(tb, found[0], found[1], pa0 - key[0])

    def _remembered(self, store, pa0: int, shape: tuple, head: int, group: str):
        """The cached region of this shape on ``pa0``'s page whose object is still there."""
        e = store.raw_at(pa0 >> PAGE_BITS, shape, group)
        if e is None:
            return None
        found = native_regions.code_of(e, head, self.llvm.identity)
        if found is None:  # (an object the size cap removed is found missing when loaded)
            return None
        self.remembered += 1
        return found

    def _submit(self, tb, code, sizes: dict[int, int], delta: int,
                on_installed: Callable[[], None] | None = None) -> bool:
        """Compile (or load) ``code`` for ``tb``'s region; install it when done (then call
        ``on_installed``)."""
        from pyqemu.accel.tcg.tb_sys import SysTB, member_spans
        cache = self.cache
        key = tb.key
        pc0 = key[0]
        spans = member_spans(sizes, delta)

        def install(_code, addr: int, engine) -> bool:
            # The Python code there may have changed meanwhile from the same bytes (an
            # interpreted block compiled itself, a Python region formed): that is fine.
            py_tb = cache.tbs.get(key)
            if py_tb is None or not py_tb.derives_from(tb):
                return False  # invalidated while it compiled
            ntb = SysTB(pc0, sizes[pc0])
            ntb.key = key
            ntb.spans = spans + py_tb.code_spans()  # (py_tb: its fallback)
            ntb.base = py_tb.base or py_tb
            ntb.heat = -1
            ntb.py_fn = py_tb.py_fn or py_tb.fn
            ntb.fn = self._wrapper(_CALL(addr), ntb, py_tb, _code.pic,
                                   uses_lazy_globals(_code.used, _code.written))
            ntb.fn.native_addr = addr
            cache.install(ntb)
            self._engines[ntb] = engine
            if on_installed is not None:
                on_installed()
            return True
        install.key = key  # type: ignore[attr-defined]
        self.inflight.add(key)
        ok = self.submit(pc0, code, install)
        if not ok:
            self.inflight.discard(key)
        return ok

    def _shifted(self, key: tuple[int, int, int], blocks: dict) -> dict | None:
        """The region's member ``blocks`` translated SHIFT lower (for position-independent
        code, accel/tcg/native_pic.py), or None."""
        from pyqemu.accel.tcg.excp import GuestException
        from pyqemu.accel.tcg.native_pic import SHIFT
        pc0, pa0, flags = key
        delta = pa0 - pc0
        try:
            shifted = {pc - SHIFT: self.cache._block_ir((pc - SHIFT, pc + delta, flags), False)
                       for pc in blocks}
        except GuestException:
            return None
        if any(b.size != blocks[pc + SHIFT].size for pc, b in shifted.items()):
            return None
        return shifted

    def finish(self, head: int, code, done, install) -> bool:
        self.inflight.discard(getattr(install, "key", None))
        return super().finish(head, code, done, install)

    def unlinked(self, tb) -> None:
        """Native region ``tb`` was invalidated: no vCPU's chained code may enter it."""
        addr = getattr(tb.fn, "native_addr", 0)
        slot = 4 * sys_chain_slot(tb.pc)
        for cpu in self.cache.cpus:
            chain = getattr(cpu, "_native_chain", None)
            if chain is not None and chain[slot + 2] == addr:
                chain[slot] = M64
                chain[slot + 2] = 0
        engine = self._engines.pop(tb, None)
        if engine is not None:
            self.llvm.release(engine)

    def hot_exit_at(self, cpu: Any, pc: int, remembered_only: bool = False) -> bool:
        """Native code left for Python code at ``pc`` EXIT_HEAT times (or a block there was
        called BLOCK_HEAT times): a region headed there. ``remembered_only``: only if the
        code cache remembers one of that shape (no translation, no compilation)."""
        from pyqemu.accel.tcg.excp import GuestException
        cache = self.cache
        try:
            tb = cache._find(cpu, pc)
        except GuestException:
            return False
        if tb.py_fn is not None:
            return False
        # The region an earlier run installed here: the note of the page's bytes when the
        # block was made may have been another (code patched elsewhere on the page since).
        if remembered_only and self._warm(tb):
            return True
        _member, succ = cache.region_graph(tb.key)
        members = select_members(pc, succ, NATIVE_MEMBERS)
        return self.promote(tb, members, {m: succ(m) for m in members}, remembered_only=remembered_only)

    def demote(self, ntb, py_tb) -> None:
        """Native region ``ntb`` keeps leaving for the Python tier at once (an instruction
        without a native version in its loop, MMIO): put its Python code ``py_tb`` back."""
        if ntb.valid and self.cache.tbs.get(ntb.key) is ntb:
            self.demoted += 1
            py_tb.valid = True
            py_tb.heat = -1  # not a region head again
            self.cache.install(py_tb)

    def _wrapper(self, fn, ntb, py_tb, pic: bool = False, lazy: bool = True) -> Callable:
        """The ``tb(cpu, R)`` function that runs native code from ``ntb``'s head (whose
        Python code is ``py_tb``; ``pic``: position-independent code, which reads the
        head's pc from the state block; ``lazy``: the region uses LAZY_GLOBALS, which only
        then are copied in)."""
        from pyqemu.accel.tcg.cpu_exec import CPUStop
        tier = self
        py_fn = ntb.py_fn
        find = self.cache._find
        fallbacks: dict[int, Any] = {}  # pc -> the Python block that a fallback there runs
        score = [0]  # + a fallback right after entry, - a call that got somewhere

        def fallback_at(cpu, pc):
            t = fallbacks.get(pc)
            if t is None or not t.valid:
                t = fallbacks[pc] = find(cpu, pc)
            return t.py_fn or t.fn
        lay = self.layout
        pc_off, ic_off, budget_off, key_off = lay.pc_off, lay.icount_off, lay.budget_off, lay.off("key")
        miss_off, kind_off = lay.off("miss"), lay.off("misskind")
        u64 = struct.Struct("<Q").unpack_from
        s64 = struct.Struct("<q").unpack_from
        p64 = struct.Struct("<Q").pack_into
        counting = self.cache.count_insns
        heat = self.exit_heat
        hot = self.exit_heat_limit
        budget = self.budget
        worker = self.worker
        head = ntb.pc
        chain_slot = sys_chain_slot

        def wrapper(cpu, R):
            try:
                B, A = cpu._native_state
            except AttributeError:
                B, A = tier.state_of(cpu)
            try:
                if lazy:
                    tier.copy_in(B, R, cpu)
                else:  # (without the vector registers, which this region does not use)
                    tier.copy_in_narrow(B, R, cpu)
            except struct.error:  # a value the state block cannot hold: stay in Python
                return py_fn
            p64(B, key_off, cpu.tb_flags | cpu._native_gen << 32)
            if pic:
                p64(B, pc_off, head)
            if counting:
                p64(B, ic_off, 0)
            k = fn(A)
            tier.copy_out(B, R)
            pc = u64(B, pc_off)[0]
            if counting:
                cpu.icount += u64(B, ic_off)[0]
            used = budget - s64(B, budget_off)[0]
            if k:
                kind = u64(B, kind_off)[0]
                if kind == MISS_LAZY:  # a chained region needs the vector registers: its wrapper
                    p64(B, kind_off, 0)
                    return cpu.jc_get(pc) or cpu.lookup(pc)
                if kind:  # a native TLB miss: the Python tier runs the access, then copy its entry
                    p64(B, kind_off, 0)
                    nxt = fallback_at(cpu, pc)
                    mmu_idx = ((kind & KIND_MASK) - 1) >> 1
                    filled = cpu.tlb.native.refill(cpu.tlb, mmu_idx, u64(B, miss_off)[0])
                    if filled == 1:  # (a slot in use by another page: maybe two pages thrash)
                        return nxt
                else:
                    nxt = fallback_at(cpu, pc)
                if used <= DEMOTE_TRANSITIONS:
                    score[0] += 1
                    if score[0] >= DEMOTE_SCORE:
                        tier.demote(ntb, py_tb)
                elif score[0] > 0:
                    score[0] -= 1
                return nxt
            if score[0] > 0:
                score[0] -= 1
            spent = cpu._native_spent + used
            if spent >= budget:  # this vCPU's slice is used up: let timers and interrupts run
                cpu._native_spent = 0
                cpu.pc = pc
                if worker is not None and worker.ready:
                    worker.deliver()
                raise CPUStop()
            cpu._native_spent = spent
            nxt = cpu.jc_get(pc) or cpu.lookup(pc)
            a = getattr(nxt, "native_addr", 0)
            if a:
                if nxt.guest_pc == pc:  # (not an interrupt vector) chain to it from now on
                    chain = cpu._native_chain
                    slot = 4 * chain_slot(pc)
                    chain[slot] = pc
                    chain[slot + 1] = cpu.tb_flags | cpu._native_gen << 32
                    chain[slot + 2] = a
            else:
                n = heat.get(pc, 0) + 1
                heat[pc] = n
                if n == hot:
                    tier.hot_exit_at(cpu, pc)
                    nxt = cpu.jc_get(pc) or nxt
            return nxt
        wrapper.guest_pc = ntb.pc
        wrapper.tb = ntb
        wrapper.__name__ = wrapper.__qualname__ = f"native_{ntb.pc:x}"
        return wrapper
