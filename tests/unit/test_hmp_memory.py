"""x/xp formats, address expressions, info roms/mtree/qtree through the HMP interpreter.

Expected texts come from real qemu-system-aarch64 7.2 with the same bytes loaded at 0
(``-M none -m 64M -device loader,file=data.bin,addr=0,force-raw=on``).
"""
from __future__ import annotations

import pytest

from pyqemu.hw.core.machine import create_machine
from pyqemu.monitor import FakeRunState, Providers
from pyqemu.monitor.hmp import HMP
from pyqemu.monitor.hmp_memory import ParseError, parse_expr, parse_format
from pyqemu.system.machines import find_machine

DATA = bytes([0xff, 0xff, 0xff, 0xff, 0x41, 0x27, 0x5c, 0x0a, 0x0d, 0x7f, 0x80, 0x01, 0, 0, 0, 0x80]
             + list(range(16)))


@pytest.fixture
def hmp() -> HMP:
    mc = find_machine("none", "aarch64")
    root, machine = create_machine(mc, 64 << 20)
    machine.roms.add_blob("/tmp/rq/data.bin", DATA, 0)
    machine.roms.reset()
    providers = Providers()
    providers.runstate = FakeRunState(lambda n, d: None)
    return HMP(providers, machine=machine, qom_root=root)


def test_dump_formats_match_qemu(hmp: HMP) -> None:
    expected = {
        "xp /4dw 0": "0000000000000000: 4294967295  173811521   25198349 2147483648\n",
        "xp /2dg 0": "0000000000000000:   746514802657984511 -9223372036829577459\n",
        "xp /8ob 0": "0000000000000000: 0377 0377 0377 0377 0101 047 0134 012\n",
        "xp /16c 0": ("0000000000000000: '\\xff' '\\xff' '\\xff' '\\xff' 'A' '\\'' '\\\\' '\\n'\n"
                      "0000000000000008: '\\r' '\\x7f' '\\x80' '\\x01' '\\x00' '\\x00' '\\x00' '\\x80'\n"),
        "xp /4uh 0": "0000000000000000: 65535 65535 10049  2652\n",
        "xp /4xw 0": "0000000000000000: 0xffffffff 0x0a5c2741 0x01807f0d 0x80000000\n",
        "info roms": 'addr=0000000000000000 size=0x000020 mem=ram name="/tmp/rq/data.bin"\n',
        "xp /2dh 0": "0000000000000000: 65535 65535\n",
        "xp /3ow 0": "0000000000000000: 037777777777 01227023501  0140077415\n",
    }
    for line, text in expected.items():  # in order: the unit size carries over, as in QEMU
        assert hmp.execute(line) == text, line
    assert hmp.execute("xp 0x10") == "0000000000000010:  0300400400\n"  # last format and size kept
    assert hmp.execute("xp/2xb 0x1e") == "000000000000001e: 0x0e 0x0f\n"


def test_errors(hmp: HMP) -> None:
    assert hmp.execute("xp /4x 0x3fffffc") == "0000000003fffffc: Cannot access memory\n"
    assert hmp.execute("x 0") == "Can not dump without CPU\n"
    assert hmp.execute("xp /i 0") == "Can not dump without CPU\n"
    assert hmp.execute("xp /4q 0") == ("invalid char in format: 'q'\n"
                                       "Try \"help xp\" for more information\n")
    assert hmp.execute("xp 1 2").startswith("xp: extraneous characters at the end of line\n")
    assert hmp.execute("xp $pc").startswith("unknown register\n")
    assert hmp.execute("info registers") == "No CPU available\n"
    assert hmp.execute("info registers 3") == "CPU#3 not available\n"
    assert hmp.execute("info mtree -x") == ("mtree: unsupported option -x\n"
                                            "Try \"help info mtree\" for more information\n")


def test_parsers() -> None:
    assert parse_format("/10xg 5", "x", 4) == (10, "x", 8, " 5")
    assert parse_format(" 5", "u", 2) == (1, "u", 2, "5")
    assert parse_format("/i 0", "x", 4) == (1, "i", -1, " 0")
    assert parse_expr("1+2*3")[0] == 7
    assert parse_expr("2*3&1")[0] == 2            # & binds tighter than * in QEMU's grammar
    assert parse_expr("-1")[0] == (1 << 64) - 1
    assert parse_expr("~0 ^ 0xff")[0] == (1 << 64) - 256
    assert parse_expr("-7/2")[0] == (1 << 64) - 3  # C division truncates
    assert parse_expr("0x10 rest") == (16, "rest")
    assert parse_expr("'A'")[0] == 65
    for bad, msg in (("", "unexpected end of expression"), ("(1", "')' expected"),
                     ("1/0", "division by zero"), ("zz", "invalid char 'z' in expression"),
                     ("0x1ffffffffffffffff", "number too large")):
        with pytest.raises(ParseError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            parse_expr(bad)


def test_info_qom_tree_and_help(hmp: HMP) -> None:
    assert hmp.execute("info qom-tree") == (
        "/machine (none-machine)\n"
        "  /peripheral (container)\n"
        "  /peripheral-anon (container)\n"
        "  /unattached (container)\n"
        "    /io[0] (memory-region)\n"
        "    /sysbus (System)\n"
        "    /system[0] (memory-region)\n")
    assert hmp.execute("info qom-tree /objects") == (
        "/objects (container)\n  /ram (memory-backend-ram)\n    /ram[0] (memory-region)\n")
    assert hmp.execute("info qom-tree /x") == "Path '/x' could not be resolved.\n"
    assert hmp.execute("help info roms") == "info roms  -- show roms\n"
    assert "info qtree  -- show device tree\n" in hmp.execute("help info")
    assert hmp.execute("info qtree") == "bus: main-system-bus\n  type System\n"
