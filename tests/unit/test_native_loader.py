"""The native tier's object loader (accel/tcg/native_loader.py) against LLVM's own objects."""
from __future__ import annotations

import ctypes

import pytest

llvm = pytest.importorskip("llvmlite.binding")

from pyqemu.accel.tcg import native  # noqa: E402
from pyqemu.accel.tcg.native_loader import CodeArena, Unsupported, prepare  # noqa: E402

# A switch dense enough for a jump table (.rodata with relocations into the code) and a
# 128-bit constant (a constant pool entry).
SWITCH_IR = """
define i64 @{name}(i64 %x) {{
entry:
  switch i64 %x, label %other [i64 0, label %a i64 1, label %b i64 2, label %c i64 3, label %d
                               i64 4, label %e i64 5, label %f i64 6, label %g]
a:
  ret i64 11
b:
  ret i64 23
c:
  ret i64 37
d:
  ret i64 41
e:
  ret i64 53
f:
  ret i64 67
g:
  ret i64 79
other:
  %w = zext i64 %x to i128
  %m = mul i128 %w, 170141183460469231731687303715884105727
  %h = lshr i128 %m, 64
  %r = trunc i128 %h to i64
  ret i64 %r
}}
"""
EXTERNAL_IR = """
declare i64 @labs(i64)
define i64 @{name}(i64 %x) {{
entry:
  %r = call i64 @labs(i64 %x)
  ret i64 %r
}}
"""


def _object(ir: str, name: str) -> bytes:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    tm = llvm.Target.from_default_triple().create_target_machine(opt=2, jit=True)
    mod = llvm.parse_assembly(ir.format(name=name))
    mod.verify()
    return tm.emit_object(mod)


def _expected(x: int) -> int:
    return [11, 23, 37, 41, 53, 67, 79][x] if x < 7 else (x * (2**127 - 1)) >> 64 & (2**64 - 1)


def test_loaded_object_runs_with_its_tables_and_constants() -> None:
    arena = CodeArena()
    try:
        fn = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64)(arena.add(_object(SWITCH_IR, "f1"), "f1"))
        fn2 = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64)(arena.add(_object(SWITCH_IR, "f2"), "f2"))
        for x in [*range(9), 12345, 2**63 + 5]:
            assert fn(x) == _expected(x)
            assert fn2(x) == _expected(x)
        assert arena.objects == 2
    finally:
        arena.close()


def test_a_prepared_object_survives_marshal_and_runs() -> None:
    """prepare() turns an object into what the code cache keeps (marshal round trip): loaded
    from that, at another place in the arena, it runs as the object itself does."""
    import marshal
    kept = marshal.loads(marshal.dumps(prepare(_object(SWITCH_IR, "f3"), "f3")))
    arena = CodeArena()
    try:
        arena.add(_object(SWITCH_IR, "f4"), "f4")  # (something before it: another base)
        fn = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64)(arena.add_prepared(kept, "f3"))
        for x in [*range(9), 12345, 2**63 + 5]:
            assert fn(x) == _expected(x)
    finally:
        arena.close()


def test_objects_it_cannot_link_are_refused() -> None:
    arena = CodeArena()
    try:
        with pytest.raises(Unsupported, match="symbol"):
            arena.add(_object(EXTERNAL_IR, "g"), "g")
        with pytest.raises(Unsupported, match="no symbol"):
            arena.add(_object(SWITCH_IR, "f"), "not_there")
        obj = _object(SWITCH_IR, "f")
        for bad in (b"", b"\x7fELF" + bytes(60), obj[:200], b"MZ" + obj[2:]):
            with pytest.raises(Unsupported):
                arena.add(bad, "f")
    finally:
        arena.close()


def test_engine_falls_back_to_mcjit_for_refused_objects() -> None:
    engine = native._Engine(llvm, 2)
    try:
        ext = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(engine.add(_object(EXTERNAL_IR, "g"), "g"))
        own = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64)(engine.add(_object(SWITCH_IR, "f"), "f"))
        assert ext(-42) == 42
        assert own(3) == 41
        assert engine.engine is not None and engine.arena is not None and engine.arena.objects == 1
    finally:
        engine.close()
