"""The IR, the optimizer and the Python back end, on hand-built blocks."""
from pyqemu.tcg.ir import Block, Builder, Temp
from pyqemu.tcg.optimize import optimize
from pyqemu.tcg.pygen import generate

G = {i: Temp(f"r{i}", i) for i in range(4)}
CC_A, CC_B = Temp("cc_a", 4), Temp("cc_b", 5)


def run(block: Block, regs: list[int]) -> list[int]:
    """Compile `block` and run it once on `regs`; returns the registers."""
    gen = generate(block, "tb")
    ns = {"LINEMAP": gen.linemap, "LOOP": range(1000)}
    for slot, _pc in gen.exits:
        ns[slot] = slot
    exec(compile(gen.source, "<test>", "exec"), ns)
    R = list(regs)
    ns["tb"](None, R)
    return R


def test_arith_wraps_at_width():
    b = Block(0x1000, G)
    bd = Builder(b)
    bd.mov(G[0], bd.add(G[1], G[2], 32))
    bd.mov(G[3], bd.sub(0, G[2], 64))
    bd.goto_tb(0x2000)
    R = run(b, [0, 0xFFFFFFFF, 2, 0, 0, 0])
    assert R[0] == 1
    assert R[3] == (1 << 64) - 2


def test_signed_conditions_and_movcond():
    b = Block(0x1000, G)
    bd = Builder(b)
    bd.mov(G[0], bd.movcond("lt", G[1], G[2], 111, 222, 64))
    bd.mov(G[3], bd.setcond("ltu", G[1], G[2], 64))
    bd.goto_tb(0x2000)
    R = run(b, [0, (1 << 64) - 1, 1, 0, 0, 0])  # -1 < 1 signed, but not unsigned
    assert R[0] == 111
    assert R[3] == 0


def test_constant_folding_and_dead_temps():
    b = Block(0x1000, G)
    bd = Builder(b)
    t = bd.add(3, 4, 64)
    u = bd.shl(t, 2, 64)
    bd.mul(G[1], G[2], 64)  # result unused: removed
    bd.mov(G[0], u)
    bd.goto_tb(0x2000)
    optimize(b)
    assert [str(o) for o in b.ops] == ["mov r0 = 0x1c", "goto_tb 0x2000"]


def test_dead_flag_stores_removed_but_not_across_loads():
    b = Block(0x1000, G)
    bd = Builder(b)
    bd.mov(CC_A, G[1])   # dead: overwritten below with nothing in between
    bd.mov(CC_B, G[2])
    bd.mov(CC_A, G[2])
    bd.mov(CC_B, G[3])
    bd.ld(G[0], 8)       # may fault: the flags before it must be exact
    bd.mov(CC_A, G[3])
    bd.goto_tb(0x2000)
    optimize(b)
    text = [str(o) for o in b.ops]
    assert "mov cc_a = r1" not in text and "mov cc_b = r2" not in text
    assert "mov cc_a = r2" in text and "mov cc_b = r3" in text


def test_self_loop_runs_in_block():
    b = Block(0x1000, G)
    bd = Builder(b)
    bd.mov(G[0], bd.add(G[0], 1, 64))
    bd.mov(G[1], bd.sub(G[1], 1, 64))
    bd.if_("ne", G[1], 0, 64)
    bd.goto_tb(0x1000)
    bd.endif()
    bd.goto_tb(0x1004)
    R = run(b, [0, 10, 0, 0, 0, 0])
    assert R[0] == 10 and R[1] == 0
