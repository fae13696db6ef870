"""The AArch64 CPU in system mode: exception levels, MMU, interrupts, on a soft TLB.

State beyond user mode's register list (``cpu.py``):

* ``pstate``: PSTATE except NZCV (which stays lazy in the register list):
  EL, SPSel, DAIF, PAN, UAO, SS, IL; its DAIF bits live in ``regs[REG_DAIF]``
  (translated code reads and writes them there);
* ``sp_el[0..1]``: the banked stack pointers; ``regs[31]`` is the selected one;
* ``sr``: the system registers (:class:`cpregs.SysRegFile`; ``sr["SCTLR_EL1"]`` by name);
* ``irq_lines``: bit 0 IRQ, bit 1 FIQ, driven by the interrupt controller (mirrored
  in ``regs[REG_IRQ_PENDING]`` as the PSTATE bits that mask them).

Translated code is specialised on ``tb_flags`` (:func:`flags_for`): the EL,
whether PAN is set, and whether FP/SIMD is enabled (CPACR_EL1.FPEN). Anything
that changes them ends the block with a lookup exit, which re-reads them.

MMU indexes (soft-TLB regimes): 0 = EL0, 1 = EL1, 2 = EL1 with PSTATE.PAN.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyqemu.accel.tcg import cpu_exec as cpu_exec_mod
from pyqemu.accel.tcg import cputlb
from pyqemu.accel.tcg.cputlb import ACCESS_WRITE, PROT_EXEC, PROT_GLOBAL, PROT_READ, PROT_WRITE, SoftTLB
from pyqemu.accel.tcg.excp import GuestException
from pyqemu.accel.tcg.tb_sys import SysTBCache, set_flags
from pyqemu.target.arm import cpregs, cpu_models, mmu, mmu_walk
from pyqemu.target.arm import cpu as C
from pyqemu.target.arm import exceptions as X
from pyqemu.target.arm.translate_a64 import FLAG_FP_OFF
from pyqemu.util import log

MMU_EL0, MMU_EL1, MMU_EL1_PAN = 0, 1, 2
NB_MMU_IDX = 3
FLAG_PAN = 1 << 2
# FLAG_FP_OFF (FP/SIMD instructions trap: CPACR_EL1.FPEN) comes from translate_a64.

CPACR_FPEN_SHIFT = 20
IRQ_LINE, FIQ_LINE = 1, 2


def mmu_idx_of(flags: int) -> int:
    el = flags & 3
    if el == 0:
        return MMU_EL0
    return MMU_EL1_PAN if flags & FLAG_PAN else MMU_EL1


_ACCESS_TYPES = (mmu.AccessType.READ, mmu.AccessType.WRITE, mmu.AccessType.EXEC)
_ACCESSES = (mmu.READ, mmu.WRITE, mmu.EXEC)


def _general_walk(va: int, access: int) -> None:
    """The walker of registers that never take mmu_walk's fast path: always the general one."""
    return None


class ArchException(GuestException):
    """A synchronous exception with its syndrome already known (aborts from the MMU, traps)."""

    def __init__(self, esr: int, far: int | None = None, pc: int | None = None,
                 return_offset: int = 0, target_el: int = 1) -> None:
        super().__init__("arch", far or 0, code=esr, pc=pc)
        self.esr = esr
        self.far = far
        self.return_offset = return_offset
        self.target_el = target_el


class ARMSysCPU(C.ARMCPU):
    """One AArch64 vCPU of a board.

    ``phys`` is the CPU's view of physical memory (``ram_page``/``read``/
    ``write``; :mod:`pyqemu.accel.tcg.cputlb`); ``tbs`` the machine's shared
    block cache; ``psci`` the firmware-call handler the board provides for
    ``HVC``/``SMC`` (returns False when the call is not PSCI).
    """

    def __init__(self, phys: Any, tbs: SysTBCache, *, model: str = "cortex-a57", cpu_index: int = 0,
                 mpidr: int | None = None, num_cpus: int = 1, timer: cpregs.GenericTimer | None = None,
                 psci_conduit: str | None = "hvc",
                 psci: Callable[[ARMSysCPU], bool] | None = None, gicv3: bool = False) -> None:
        super().__init__()
        self.model = cpu_models.get_model(model)
        self.cpu_index = cpu_index
        self.mpidr = 0x80000000 | cpu_index if mpidr is None else mpidr
        self.midr = self.model.midr
        self.phys = phys
        self.psci_conduit = psci_conduit
        self.psci = psci
        self.peers: list[ARMSysCPU] = [self]  # every vCPU of the machine (broadcast TLBI)
        self._pstate = 0
        self.pstate = X.make_pstate(1)
        self.sp_el = [0, 0]
        # gicv3: the ICC_* registers exist (the board has a GICv3); translated code differs, so the
        # persistent code cache keys on it (``cache_variant``)
        self.cache_variant = "gicv3" if gicv3 else ""
        self.sr = cpregs.SysRegFile(_table(self.model, gicv3), mpidr=self.mpidr, timer=timer, isr=self._isr,
                                    num_cpus=num_cpus)
        self.irq_lines = 0
        self.halted = False
        self.powered_off = False
        self.on_wakeup: Callable[[], None] = lambda: None
        self._walk_regs: dict[int, mmu.MMURegs] = {}  # mmu_idx -> the walk's view (valid with _mmu_regs)
        self._walkers: dict[int, mmu_walk.Walker] = {}  # mmu_idx -> the fills' walk (the same)
        self.walk_cache = mmu_walk.WalkCache()  # (cleared by TLBIs that are not last-level-only)
        self._desc_pages: dict[int, memoryview] = {}  # pa page -> RAM view, for table walks
        SoftTLB(phys, self._tlb_translate, NB_MMU_IDX).bind(self)
        self.tlb.on_flush.append(self._mmu_regs_stale)
        self._mmu_regs: mmu.MMURegs | None = None
        self.tbs = tbs
        self.tb_flags = 1
        tbs.attach(self)
        self.reset_state()

    # --- reset and flags -----------------------------------------------------------------
    def reset_state(self) -> None:
        """Architectural reset values (EL1h, DAIF masked, MMU and caches off, FP trapped)."""
        self.regs[:] = [0] * C.NREGS
        self.regs[C.REG_CC_OP] = C.CC_NZCV
        self.regs[C.REG_CC_A] = C.Z_BIT  # QEMU's reset state reads as Z set (PSTATE 0x400003c5)
        self.regs[C.REG_EXCL_ADDR] = (1 << 64) - 1
        self.pstate = X.make_pstate(1)
        self._mirror_irq_lines()
        self.sp_el = [0, 0]
        self.sr.reset()
        self.halted = False
        self.tlb.flush()
        self.tlb.switch_asid(self.current_asid())
        self.tlb.upper_tables = self._upper_tables()
        self.update_flags()

    @property
    def pstate(self) -> int:
        """PSTATE except NZCV (DAIF from ``regs[REG_DAIF]``, which translated code writes)."""
        return self._pstate | self.regs[C.REG_DAIF]

    @pstate.setter
    def pstate(self, value: int) -> None:
        self._pstate = value & ~X.PSTATE_DAIF
        self.regs[C.REG_DAIF] = value & X.PSTATE_DAIF

    @property
    def el(self) -> int:
        return (self._pstate >> 2) & 3

    def update_flags(self) -> None:
        """Recompute ``tb_flags`` after a change of EL, PAN or CPACR."""
        el = self.el
        flags = el
        if el and self.pstate & X.PSTATE_PAN:
            flags |= FLAG_PAN
        fpen = (self.sr["CPACR_EL1"] >> CPACR_FPEN_SHIFT) & 3
        if fpen == 0 or fpen == 2 or (fpen == 1 and el == 0):
            flags |= FLAG_FP_OFF
        if flags != self.tb_flags:
            set_flags(self, flags)

    # --- PSTATE and SP banks -------------------------------------------------------------------
    def full_pstate(self) -> int:
        return self.pstate | (self.nzcv & X.PSTATE_NZCV)

    def set_pstate(self, value: int) -> None:
        """Write PSTATE (from SPSR or an exception entry), switching the SP bank."""
        self.sp_el[X.sp_bank(self.pstate)] = self.regs[C.REG_SP]
        self.nzcv = value & X.PSTATE_NZCV
        self.pstate = value & ~X.PSTATE_NZCV
        self.regs[C.REG_SP] = self.sp_el[X.sp_bank(self.pstate)]
        self.update_flags()

    # --- memory ----------------------------------------------------------------------------
    def _mmu_regs_stale(self, va_page: int | None) -> None:
        self._mmu_regs = None
        self._walk_regs.clear()
        self._walkers.clear()
        if va_page is None:  # a full flush (also what a memory-map change causes)
            self._desc_pages.clear()
            self.walk_cache.clear()
            self.tlb.upper_tables = self._upper_tables()

    def mmu_regs(self) -> mmu.MMURegs:
        regs = self._mmu_regs
        if regs is None:
            sr = self.sr
            regs = self._mmu_regs = mmu.MMURegs(
                sctlr=sr["SCTLR_EL1"], tcr=sr["TCR_EL1"], ttbr0=sr["TTBR0_EL1"], ttbr1=sr["TTBR1_EL1"],
                mair=sr["MAIR_EL1"], el=1, pan=False, uao=False, pa_bits=self.pa_bits())
        return regs

    def _upper_tables(self) -> tuple[int, int, int] | None:
        """What the upper half's translations depend on besides the tables' contents and the
        MMU index (SoftTLB.upper_tables): TTBR1_EL1's table address (not its ASID), TCR_EL1,
        SCTLR_EL1; None with the MMU off."""
        sr = self.sr
        sctlr = sr["SCTLR_EL1"]
        if not sctlr & mmu.SCTLR_M:
            return None
        return sr["TTBR1_EL1"] & ((1 << 48) - 2), sr["TCR_EL1"], sctlr

    def current_asid(self) -> int:
        """The ASID the EL1&0 regime translates with (TCR_EL1.A1 picks the TTBR, .AS the width)."""
        sr = self.sr
        tcr = sr["TCR_EL1"]
        ttbr = sr["TTBR1_EL1"] if tcr & mmu.TCR_A1 else sr["TTBR0_EL1"]
        return (ttbr >> 48) & (0xFFFF if tcr & mmu.TCR_AS else 0xFF)

    def pa_bits(self) -> int:
        parange = self.model.id_regs.get("ID_AA64MMFR0_EL1", 5) & 0xF
        return (32, 36, 40, 42, 44, 48, 52)[min(parange, 6)]

    def data_mmu_idx(self) -> int:
        return mmu_idx_of(self.tb_flags)

    def _read_desc(self, pa: int) -> int | None:
        page = self._desc_pages.get(pa >> 12)
        if page is None:  # table pages are few: keep their views until the memory map changes
            page = self.phys.ram_page(pa >> 12, False)
            if page is None:
                return None
            self._desc_pages[pa >> 12] = page
        off = pa & 0xFFF
        return int.from_bytes(page[off:off + 8], "little")

    def _regs_of(self, mmu_idx: int) -> mmu.MMURegs:
        """The translation registers as a walk for ``mmu_idx`` sees them."""
        regs = self._walk_regs.get(mmu_idx) if self._mmu_regs is not None else None
        if regs is None:
            regs = self.mmu_regs()
            el = 0 if mmu_idx == MMU_EL0 else 1
            if regs.el != el or regs.pan != (mmu_idx == MMU_EL1_PAN):
                regs = mmu.MMURegs(sctlr=regs.sctlr, tcr=regs.tcr, ttbr0=regs.ttbr0, ttbr1=regs.ttbr1,
                                   mair=regs.mair, el=el, pan=mmu_idx == MMU_EL1_PAN, uao=False,
                                   pa_bits=regs.pa_bits)
            self._walk_regs[mmu_idx] = regs
        return regs

    def _tlb_translate(self, va: int, access: int, mmu_idx: int) -> tuple[int, int]:
        """SoftTLB's fill callback: walk the tables for ``mmu_idx``; raise the abort on a fault."""
        walk = self._walkers.get(mmu_idx) if self._mmu_regs is not None else None
        if walk is None:
            walk = mmu_walk.make_walker(self._regs_of(mmu_idx), self._read_desc, self.walk_cache) \
                or _general_walk
            self._walkers[mmu_idx] = walk
        done = walk(va, access)
        if done is not None:
            return done
        regs = self._regs_of(mmu_idx)
        kind = _ACCESS_TYPES[access]
        res = mmu.translate(va, _ACCESSES[access], regs, self._read_desc)
        if isinstance(res, mmu.Fault):
            if log.enabled("mmu"):
                log.log(f"MMU fault: va {va:#x} {kind.name} mmu_idx {mmu_idx}: "
                        f"{res.type.name} level {res.level}\n")
            same_el = self.el == 1
            raise ArchException(res.esr(same_el), far=va)
        prot = 0
        if res.prot & mmu.PROT_R:
            prot |= PROT_READ
        if res.prot & mmu.PROT_W:
            prot |= PROT_WRITE
        if res.prot & mmu.PROT_X:
            prot |= PROT_EXEC
        if res.asid is None:  # nG = 0 (or the MMU is off): the entry holds for every ASID
            prot |= PROT_GLOBAL
        needed = (PROT_READ, PROT_WRITE, PROT_EXEC)[access]
        if not prot & needed:  # the walk answered for this context; double-check the access
            raise ArchException(mmu.Fault(mmu.FaultType.PERMISSION, 3, va, mmu.Access(kind)).esr(
                self.el == 1), far=va)
        return res.pa, prot

    # --- the CPU loop's interface -------------------------------------------------------------
    def lookup(self, pc: int):
        """Next block: take a pending unmasked interrupt first (its vector's block then)."""
        lines = self.irq_lines
        if lines and lines & ~self._masked_lines():  # usually no line is up: skip the mask
            pc = self._take_interrupt(pc)
        return self.tbs.lookup(self, pc)

    def replay_slow(self, pc: int):
        return self.tbs.replay_slow(self, pc)

    def fault_in_block(self, e: BaseException, linemap, count: bool = False) -> BaseException:
        return cpu_exec_mod.fault_in_block_sys(self, e, linemap, count)

    def _masked_lines(self) -> int:
        p = self.pstate
        return (IRQ_LINE if p & X.PSTATE_I else 0) | (FIQ_LINE if p & X.PSTATE_F else 0)

    def set_irq_line(self, line: int, level: bool) -> None:
        """The interrupt controller's output into this CPU (IRQ_LINE or FIQ_LINE)."""
        if level:
            self.irq_lines |= line
            self._mirror_irq_lines()
            if self.halted and not self.powered_off:
                self.halted = False
                self.on_wakeup()
        else:
            self.irq_lines &= ~line
            self._mirror_irq_lines()

    def _mirror_irq_lines(self) -> None:
        lines = self.irq_lines
        self.regs[C.REG_IRQ_PENDING] = (X.PSTATE_I if lines & IRQ_LINE else 0) | \
            (X.PSTATE_F if lines & FIQ_LINE else 0)

    def _take_interrupt(self, pc: int) -> int:
        exc = X.pending_interrupt(self.pstate, bool(self.irq_lines & IRQ_LINE),
                                  bool(self.irq_lines & FIQ_LINE))
        if exc is None:
            return pc
        self._enter(exc, pc, None, None)
        return self.pc

    def take_exception(self, e: GuestException) -> None:
        """A synchronous exception raised by translated code or a helper, at ``self.pc``."""
        pc = self.pc
        if isinstance(e, ArchException):
            self._enter(X.ExcType.SYNC, pc + e.return_offset, e.esr, e.far)
            return
        kind = e.kind
        if kind == "svc":
            self._enter(X.ExcType.SYNC, pc + 4, X.syn_svc(e.code), None)
        elif kind in ("hvc", "smc"):
            if self.psci_conduit == kind and self.psci is not None:
                self.pc = pc + 4
                if self.psci(self):
                    return
            log.guest_error(f"{kind.upper()} #{e.code:#x} at {pc:#x}: no EL2/EL3, UNDEFINED")
            self._enter(X.ExcType.SYNC, pc, X.syn_uncategorized(), None)
        elif kind == "trap":
            self._enter(X.ExcType.SYNC, pc, X.syn_brk(e.code), None)
        elif kind == "ill":
            self._enter(X.ExcType.SYNC, pc, X.syn_uncategorized(), None)
        elif kind == "bus":  # alignment fault on a data access
            same = self.el == 1
            self._enter(X.ExcType.SYNC, pc, X.syn_data_abort(same, X.FSC_ALIGNMENT, e.write), e.addr)
        elif kind == "ifetch":
            self._enter(X.ExcType.SYNC, pc, X.syn_insn_abort(self.el == 1, X.FSC_SYNC_EXTERNAL), pc)
        elif kind == "fpaccess":
            self._enter(X.ExcType.SYNC, pc, X.syn_fp_access(), None)
        elif kind == "segv":  # an external abort: no device answered at a physical address
            same = self.el == 1
            self._enter(X.ExcType.SYNC, pc, X.syn_data_abort(same, X.FSC_SYNC_EXTERNAL, e.write), e.addr)
        else:
            raise e

    def _enter(self, exc: X.ExcType, return_pc: int, esr: int | None, far: int | None) -> None:
        sr = self.sr
        pstate = self.full_pstate()
        entry = X.take_exception(exc, pstate, return_pc, sr["VBAR_EL1"], target=1,
                                 sctlr=sr["SCTLR_EL1"], esr=esr, far=far, have_pan=self.model.has_pan)
        if log.enabled("int"):
            log.log(f"Taking exception {exc.name} [EL{X.pstate_el(pstate)} -> EL1] at pc {return_pc:#x}"
                    + (f" ESR {esr:#x}" if esr is not None else "")
                    + (f" FAR {far:#x}" if far is not None else "") + "\n")
        sr["SPSR_EL1"] = entry.spsr
        sr["ELR_EL1"] = entry.elr
        if entry.esr is not None:
            sr["ESR_EL1"] = entry.esr
        if entry.far is not None:
            sr["FAR_EL1"] = entry.far
        self.regs[C.REG_EXCL_ADDR] = (1 << 64) - 1
        self.set_pstate(entry.pstate)
        self.pc = entry.pc

    def exception_return(self) -> int:
        """ERET: returns the new pc (PSTATE and SP bank already switched)."""
        sr = self.sr
        ret = X.exception_return(sr["SPSR_EL1"], sr["ELR_EL1"], self.full_pstate())
        self.regs[C.REG_EXCL_ADDR] = (1 << 64) - 1
        self.set_pstate(ret.pstate)
        self.pc = ret.pc
        return ret.pc

    # --- system registers ---------------------------------------------------------------------------
    def read_sysreg(self, desc: cpregs.SysReg) -> int:
        if desc.kind == cpregs.Kind.PSTATE:
            name = desc.name
            if name == "SP_EL0":
                return self.sp_el[0]
            # only NZCV needs the lazy flags folded in (DAIF is read on every irqsave)
            return cpregs.pstate_read(desc, self.full_pstate() if name == "NZCV" else self.pstate)
        return self.sr.read(desc, self.el)

    def write_sysreg(self, desc: cpregs.SysReg, value: int) -> None:
        if desc.kind == cpregs.Kind.PSTATE:
            if desc.name == "SP_EL0":
                self.sp_el[0] = value & C.M64
            elif desc.name == "DAIF":  # masks only: no SP bank, EL or translation-flag change
                self.pstate = (self.pstate & ~X.PSTATE_DAIF) | (value & X.PSTATE_DAIF)
            else:
                self.set_pstate(cpregs.pstate_write(desc, self.full_pstate(), value))
            return
        fx = self.sr.write(desc, value)
        if fx & (cpregs.FX_MMU | cpregs.FX_END_TB):
            self._mmu_regs = None
            self._walk_regs.clear()
            self._walkers.clear()
            self.tlb.upper_tables = self._upper_tables()
        if fx & cpregs.FX_TLB_FLUSH:
            self.tlb.flush()
        if fx & (cpregs.FX_TLB_FLUSH | cpregs.FX_ASID):  # TTBRx.ASID, TCR.A1 or TCR.AS
            self.tlb.switch_asid(self.current_asid())
        if fx & cpregs.FX_END_TB:
            self.update_flags()

    def trap(self, esr: int) -> ArchException:
        """The exception for a trapped instruction (raise it)."""
        return ArchException(esr)

    def _isr(self) -> int:
        return (0x80 if self.irq_lines & IRQ_LINE else 0) | (0x40 if self.irq_lines & FIQ_LINE else 0)

    def address_translate(self, va: int, write: bool, el0: bool) -> None:
        """AT S1E{0,1}{R,W}: the result (or the fault) goes to PAR_EL1."""
        regs = self.mmu_regs()
        kind = mmu.AccessType.WRITE if write else mmu.AccessType.READ
        access = mmu.Access(kind, unpriv=el0, at=True, pan_check=False)
        regs = mmu.MMURegs(sctlr=regs.sctlr, tcr=regs.tcr, ttbr0=regs.ttbr0, ttbr1=regs.ttbr1,
                           mair=regs.mair, el=1, pan=bool(self.pstate & X.PSTATE_PAN), uao=False,
                           pa_bits=regs.pa_bits)
        self.sr["PAR_EL1"] = mmu.par_el1(mmu.translate(va, access, regs, self._read_desc))

    # --- monitor -----------------------------------------------------------------------------------
    def dump_state(self, fpu: bool = True) -> str:
        """The register dump of QEMU's ``info registers`` (aarch64_cpu_dump_state)."""
        r = self.regs
        out = [f" PC={self.pc:016x} "]
        for i in range(31):
            out.append(f"X{i:02d}={r[i]:016x}" + (" " if (i + 2) % 3 else "\n"))
        out.append(f" SP={r[C.REG_SP]:016x}\n")
        p = self.full_pstate()
        flags = "".join(ch if p & bit else "-" for ch, bit in
                        (("N", C.N_BIT), ("Z", C.Z_BIT), ("C", C.C_BIT), ("V", C.V_BIT)))
        out.append(f"PSTATE={p:08x} {flags} EL{self.el}{'h' if p & X.PSTATE_SP else 't'}")
        if not fpu:
            return "".join(out) + "\n"
        if self.tb_flags & FLAG_FP_OFF:
            return "".join(out) + "    FPU disabled\n"
        out.append(f"\n     FPCR={r[C.REG_FPCR]:08x} FPSR={r[C.REG_FPSR]:08x}\n")
        for i in range(32):
            q = r[C.REG_V0 + i]
            out.append(f"Q{i:02d}={q >> 64:016x}:{q & C.M64:016x}" + ("\n" if i & 1 else " "))
        return "".join(out)

    # --- halting -------------------------------------------------------------------------------
    def wfi(self, next_pc: int) -> None:
        """WFI: sleep until an interrupt is pending (masked or not), ending the slice."""
        self.pc = next_pc
        if not self.irq_lines:
            self.halted = True
        raise cpu_exec_mod.CPUStop()

    def power_off(self) -> None:
        """PSCI CPU_OFF (and the initial state of secondary CPUs)."""
        self.powered_off = True
        self.halted = True

    def power_on(self, entry: int, context_id: int) -> None:
        """PSCI CPU_ON: come out of reset at EL1h at ``entry`` with x0 = ``context_id``."""
        self.reset_state()
        self.powered_off = False
        self.regs[0] = context_id & C.M64
        self.pc = entry & C.M64
        self.on_wakeup()

    def halt_until_interrupt(self) -> None:
        self.halted = not self.irq_lines

    def wfe(self, next_pc: int) -> None:
        """WFE: give the other vCPUs a turn (no event register modelled: SEV is a no-op)."""
        self.pc = next_pc
        raise cpu_exec_mod.CPUStop()

    def rmw_view(self, addr: int, size: int) -> tuple[memoryview, int]:
        """RAM for an aligned atomic read-modify-write (exclusives, LSE) at ``addr``."""
        idx = self.data_mmu_idx()
        view = self.tlb.write[idx].get(addr >> 12)
        if view is None:
            pa, view = self.tlb.fill(addr, ACCESS_WRITE, idx)
            if view is None:
                if pa >> 12 in self.tlb.code_pages:
                    self.tbs.invalidate_phys_page(pa >> 12)
                    pa, view = self.tlb.fill(addr, ACCESS_WRITE, idx)
                if view is None:  # MMIO or ROM: atomics need memory that answers them
                    raise ArchException(X.syn_data_abort(self.el == 1, X.FSC_SYNC_EXTERNAL, True), far=addr)
        return view, addr & 0xFFF


_TABLES: dict[tuple[str, bool], cpregs.SysRegTable] = {}


def _table(model: cpu_models.CpuModel, gicv3: bool = False) -> cpregs.SysRegTable:
    t = _TABLES.get((model.name, gicv3))
    if t is None:
        t = _TABLES[(model.name, gicv3)] = cpregs.build_table(model, gicv3=gicv3)
    return t


def fetch_phys_from(phys: Any) -> Callable[[int], int]:
    """A ``fetch_phys`` for SysTBCache over a physical-memory object."""
    def fetch(pa: int) -> int:
        page = phys.ram_page(pa >> 12, False)
        if page is None:  # nothing to execute there: an external abort on the fetch
            raise GuestException("ifetch", pa)
        off = pa & 0xFFF
        return int.from_bytes(page[off:off + 4], "little")
    return fetch


__all__ = ["ARMSysCPU", "ArchException", "mmu_idx_of", "fetch_phys_from", "ACCESS_WRITE"]


def _unaligned(cpu: ARMSysCPU, addr: int, write: int) -> None:
    raise GuestException("bus", addr, bool(write))


def make_tb_cache(phys: Any, count_insns: bool = False) -> SysTBCache:
    """The block cache of a machine whose vCPUs see physical memory ``phys``.

    Blocks are translated with the first attached vCPU as the model (ID
    registers are constants in code; every vCPU of a machine is the same model).
    """
    from pyqemu.target.arm import translate_a64

    ns = cputlb.namespace()
    ns["LOOKUP"] = lambda cpu, pc: cpu.lookup(pc)
    ns["UNALIGNED"] = _unaligned
    cache: SysTBCache

    def translate(pc: int, flags: int, fetch: Callable[[int], int], slow: bool):
        max_insns = 1 if slow else translate_a64.MAX_INSNS
        return translate_a64.translate(cache.cpus[0], pc, fetch, max_insns, flags=flags,
                                       mmu_idx=mmu_idx_of(flags), slow_mem=slow)

    def page_bytes(pa_page: int) -> bytes | None:  # for the persistent code cache
        page = phys.ram_page(pa_page, False)
        return None if page is None else bytes(page)

    cache = SysTBCache(translate, ns, mmu_idx_of, fetch_phys_from(phys), count_insns=count_insns,
                       page_bytes=page_bytes)
    return cache
