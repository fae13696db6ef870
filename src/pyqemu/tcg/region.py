"""Regions: several hot translation blocks compiled into one Python function.

A region starts at a *head* block and follows the direct jumps (``goto_tb``)
that have been taken at run time into other known blocks, inlining them, so a
hot path runs as one function without returning to the dispatcher between
blocks. It is a tree: each path through it ends at

* the head again: ``continue`` in a ``for _ in LOOP`` loop, so a hot loop runs
  up to ``LOOP`` iterations per call, with guest registers in Python locals
  the whole time;
* a block already on the path, a jump not taken yet, or the size limit: a
  normal chained exit (the region's *side exits*);
* an indirect jump, a helper exit, an exception: as in a single block.

The region keeps every property of single blocks (precise exceptions through
the line map, write-back at each exit, instruction counting) because it
reuses :class:`pyqemu.tcg.pygen.PyGen`'s emission of each op; only the
handling of ``goto_tb`` differs. Each block's temporaries are renamed apart
(``t3`` of the second block becomes ``t3_1``).
"""
from __future__ import annotations

import re
from collections.abc import Callable

from pyqemu.tcg.ir import Block, Op, Temp
from pyqemu.tcg.pygen import Generated, PyGen

MAX_EMITTED = 48  # blocks emitted in one region, counting repeats on different paths
MAX_DEPTH = 12  # blocks on one path from the head
SUPERBLOCK = 4  # blocks of a region that is not a loop


class RegionGen(PyGen):
    """Emit the region rooted at ``blocks[head]``; ``inline_ok(src, dst)`` says whether the
    direct jump from block ``src`` to block ``dst`` may be followed (it has been taken, the
    target is a member, ...)."""

    def __init__(self, head: int, blocks: dict[int, Block], inline_ok: Callable[[int, int], bool],
                 count_insns: bool = False, indirect: dict[int, list[int]] | None = None) -> None:
        first = blocks[head]
        super().__init__(first, count_insns)
        self.head = head
        self.blocks = blocks
        self.inline_ok = inline_ok
        self.indirect = indirect or {}
        self.njumps = 0
        self.self_loop = False
        self.loop = True
        self.ind = 3
        self.exits = [("_js", head)]
        used: dict[int, Temp] = {g.gidx: g for g in self.used}
        written: dict[int, Temp] = {g.gidx: g for g in self.written}
        inline = set(self.inline)
        for k, (pc, block) in enumerate(sorted(blocks.items())):
            if pc == head:
                continue
            _rename_temps(block, f"_{k}")
            member = PyGen(block, count_insns)
            used.update((g.gidx, g) for g in member.used)
            written.update((g.gidx, g) for g in member.written)
            inline |= member.inline
            self.ld_into.update(member.ld_into)
            self.fused |= member.fused
        self.used = [used[k] for k in sorted(used)]
        self.written = [written[k] for k in sorted(written)]
        self.inline = inline
        self.path: list[int] = []
        self.emitted = 0
        self.members: set[int] = set()
        self.cur_pc = head
        self.cur_n = 0
        # Write-back at an exit stores only the globals written on the path to it, plus those
        # written on any path around the loop (an earlier iteration may have taken it). The
        # latter is known at the end: exits hold placeholders until then.
        self.path_written: set[int] = set()
        self.loop_written: set[int] = set()
        self.wb_sets: list[set[int]] = []
        self.by_gidx = {g.gidx: g for g in self.used}

    def emit_body(self) -> None:
        self.emit_block(self.head)

    def writeback(self) -> None:
        self.out(f"\0WB{len(self.wb_sets)}\0")
        self.wb_sets.append(set(self.path_written))
        self.after_writeback.append(len(self.lines))

    def gen(self, name: str) -> Generated:
        g = super().gen(name)

        def stores(m: re.Match) -> str:
            gidxs = sorted(self.wb_sets[int(m.group(1))] | self.loop_written)
            return "; ".join(f"R[{i}] = {self.by_gidx[i].name}" for i in gidxs) or "pass"
        g.source = re.sub(r"\0WB(\d+)\0", stores, g.source)
        g.members = sorted(self.members)
        for pc in g.members:
            g.helpers.update(self.blocks[pc].helpers)
        return g

    def emit_block(self, pc: int) -> None:
        block = self.blocks[pc]
        saved = self.block, self.cur_pc, self.cur_n, set(self.path_written)
        self.block = block
        self.path.append(pc)
        self.members.add(pc)
        self.emitted += 1
        for op in block.ops:
            self.op(op)
        self.path.pop()
        self.block, self.cur_pc, self.cur_n, self.path_written = saved

    def op(self, op: Op) -> None:
        if op.opc == "insn_start":
            self.cur_pc = op.args[0]
            self.cur_n = self.insn + 1
        elif op.dst is not None and op.dst.is_global:
            self.path_written.add(op.dst.gidx)
        if op.opc == "exit_jump" and isinstance(op.args[0], Temp):
            self.computed_jump(op)
            return
        if op.opc != "goto_tb":
            super().op(op)
            return
        target = op.args[0]
        if target == self.head:
            self.count()
            self.loop_written |= self.path_written
            self.loop_back()
            return
        if (target in self.blocks and target not in self.path and len(self.path) < MAX_DEPTH
                and self.emitted < MAX_EMITTED and self.inline_ok(self.block.pc, target)):
            insn = self.insn
            self.emit_block(target)
            self.insn = insn
            # Code that follows in the outer block belongs to its current instruction.
            self.linemap.append((len(self.lines), self.cur_pc, self.cur_n))
            return
        super().op(op)

    def computed_jump(self, op: Op) -> None:
        """A jump to a computed address: test for the targets seen most (``indirect``,
        counted while the block ran alone) and treat each like a direct jump there."""
        name = f"_t{self.njumps}"
        self.njumps += 1
        self.out(f"{name} = {self.v(op.args[0])}")
        for target in self.indirect.get(self.block.pc, ()):
            if target in self.blocks:
                self.out(f"if {name} == {target:#x}:")
                self.ind += 1
                self.op(Op("goto_tb", None, (target,)))
                self.ind -= 1
        self.count()
        self.writeback()
        self.out(f"return {self.jc_get}({name}) or LOOKUP(cpu, {name})")


def select_members(head: int, succ: Callable[[int], set[int]], limit: int) -> list[int]:
    """The blocks a region headed at ``head`` inlines, head first.

    For a loop, the blocks on cycles through the head (reachable from it and
    reaching back to it over taken jumps): a region's value is its loop, and
    inlining cold branches off it only costs compile time. Otherwise a short
    superblock: the head and its first successors.
    """
    order = [head]
    seen = {head}
    for pc in order:
        if len(order) >= 4 * limit:
            break
        for t in sorted(succ(pc)):
            if t not in seen:
                seen.add(t)
                order.append(t)
    reach = {head}
    changed = True
    while changed:
        changed = False
        for pc in order:
            if pc not in reach and succ(pc) & reach:
                reach.add(pc)
                changed = True
    if len(reach) > 1 or head in succ(head):
        return [pc for pc in order if pc in reach][:limit]
    return order[:SUPERBLOCK]


def loop_header(start: int, succ: Callable[[int], set[int]]) -> int:
    """The best head for a region that contains ``start``.

    Walks the tree a region headed at ``start`` would have (``succ(pc)``: the
    taken direct jumps of member ``pc``). A path that comes back to a block on
    it other than the head leaves the region; when such back edges exist, the
    block they return to is the real loop header and makes a better head.
    """
    best, best_score = start, None
    candidates = [start]
    for head in candidates:
        loops, back = _walk(head, succ)
        score = (sum(back.values()), -loops)
        if best_score is None or score < best_score:
            best, best_score = head, score
        if head == start:
            candidates += sorted(back, key=lambda pc: -back[pc])[:3]
    return best


def _walk(head: int, succ: Callable[[int], set[int]]) -> tuple[int, dict[int, int]]:
    """Count a region tree's back edges: (to the head, {other on-path block: count})."""
    loops = 0
    back: dict[int, int] = {}
    emitted = 0
    stack: list[tuple[int, list[int]]] = [(head, [])]
    while stack:
        pc, path = stack.pop()
        emitted += 1
        path = path + [pc]
        for t in sorted(succ(pc)):
            if t == head:
                loops += 1
            elif t in path:
                back[t] = back.get(t, 0) + 1
            elif len(path) < MAX_DEPTH and emitted + len(stack) < MAX_EMITTED:
                stack.append((t, path))
    return loops, back


def _rename_temps(block: Block, suffix: str) -> None:
    """Rename the block's own temporaries (``t<n>``, from Block.new_temp) apart; other
    non-global operands (the shared ``cpu`` operand) keep their names."""
    seen: set[int] = set()
    for op in block.ops:
        for t in (op.dst, *op.args):
            if isinstance(t, Temp) and not t.is_global and id(t) not in seen \
                    and t.name[0] == "t" and t.name[1:].isdigit():
                seen.add(id(t))
                t.name += suffix


def generate_region(head: int, blocks: dict[int, Block], inline_ok: Callable[[int, int], bool],
                    name: str, count_insns: bool = False,
                    indirect: dict[int, list[int]] | None = None) -> Generated:
    """The Python source of the region rooted at ``head`` (see the module docstring).

    ``blocks`` maps a pc to the (optimised) IR of every block that may be
    inlined; ``indirect`` a block's hot computed-jump targets, most frequent
    first; ``Generated.members`` lists the pcs actually emitted.
    """
    return RegionGen(head, blocks, inline_ok, count_insns, indirect).gen(name)
