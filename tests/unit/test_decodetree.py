"""scripts/decodetree.py: overlap detection, groups, and the decoder it generates."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import decodetree  # noqa: E402


def _generate(tmp_path: Path, text: str) -> str:
    src = tmp_path / "t.decode"
    src.write_text(text)
    return decodetree.generate([str(src)])


def _decoder(tmp_path: Path, text: str, **trans) -> types.ModuleType:
    """Generate a decoder from `text` and install trans_* functions into it."""
    mod = types.ModuleType("gen_decoder")
    exec(compile(_generate(tmp_path, text), "gen_decoder", "exec"), mod.__dict__)  # noqa: S102
    mod.install(types.SimpleNamespace(**{f"trans_{k}": v for k, v in trans.items()}))
    return mod


def test_overlap_is_an_error(tmp_path: Path) -> None:
    text = ("AAA  0000 ---- ---- ---- ---- ---- ---- ----\n"
            "BBB  ---- 1111 ---- ---- ---- ---- ---- ----\n")
    with pytest.raises(decodetree.DecodeError, match=r"overlap: AAA \(line 1\) and BBB \(line 2\)"):
        _generate(tmp_path, text)


def test_identical_patterns_overlap(tmp_path: Path) -> None:
    text = ("ONE  1010 ---- ---- ---- ---- ---- ---- rd:4\n"
            "TWO  1010 ---- ---- ---- ---- ---- rn:4 ----\n")
    with pytest.raises(decodetree.DecodeError, match="ONE.*TWO"):
        _generate(tmp_path, text)


def test_overlap_with_a_group_is_an_error(tmp_path: Path) -> None:
    text = ("{\n"
            "  G1  0000 0000 ---- ---- ---- ---- ---- ----\n"
            "  G2  0000 ---- ---- ---- ---- ---- ---- ----\n"
            "}\n"
            "OUT  ---- 0000 1111 ---- ---- ---- ---- ----\n")
    with pytest.raises(decodetree.DecodeError, match="group@1.*OUT"):
        _generate(tmp_path, text)


def test_main_reports_overlap(tmp_path: Path, capsys) -> None:
    src = tmp_path / "t.decode"
    src.write_text("AAA  1--- ---- ---- ---- ---- ---- ---- ----\n"
                   "BBB  ---- ---- ---- ---- ---- ---- ---- ---1\n")
    assert decodetree.main(["decodetree.py", str(tmp_path / "out.py"), str(src)]) == 1
    assert "patterns overlap: AAA" in capsys.readouterr().err
    assert not (tmp_path / "out.py").exists()


def test_disjoint_patterns_and_fields(tmp_path: Path) -> None:
    text = ("%simm   8:s4 0:4\n"
            "&ab     a b\n"
            "@ab     ---- ---- ---- ---- ---- ---- b:4 a:4  &ab\n"
            "ADD     0000 0000 ---- ---- ---- ---- .... ....  @ab\n"
            "SUB     0000 0001 ---- ---- ---- ---- .... ....  @ab\n"
            "IMM     0000 0010 ---- ---- ---- .... ---- ....  imm=%simm\n")
    seen = []
    d = _decoder(tmp_path, text,
                 ADD=lambda s, a: seen.append(("add", a.a, a.b)) or True,
                 SUB=lambda s, a: seen.append(("sub", a.a, a.b)) or True,
                 IMM=lambda s, a: seen.append(("imm", a.imm)) or True)
    assert d.decode(None, 0x00000021)
    assert d.decode(None, 0x01000043)
    assert d.decode(None, 0x02000F01)  # imm = sign-extended 0xF concatenated with 0x1
    assert not d.decode(None, 0x03000000)
    assert seen == [("add", 1, 2), ("sub", 3, 4), ("imm", -15)]


def test_group_members_may_overlap_first_accepting_wins(tmp_path: Path) -> None:
    text = ("{\n"
            "  SPECIAL  1111 0000 ---- ---- ---- ---- ---- x:4\n"
            "  GENERAL  1111 ---- ---- ---- ---- ---- ---- x:4\n"
            "}\n")
    seen = []
    d = _decoder(tmp_path, text,
                 SPECIAL=lambda s, a: a.x == 1 and not seen.append("special"),
                 GENERAL=lambda s, a: not seen.append("general"))
    assert d.decode(None, 0xF0000001)  # SPECIAL accepts
    assert d.decode(None, 0xF0000002)  # SPECIAL declines, falls through to GENERAL
    assert d.decode(None, 0xF1000001)  # only GENERAL matches
    assert seen == ["special", "general", "general"]
