"""QEMU's option syntax (util/qemu_opts.py): QemuOpts, keyval, sizes, numbers, booleans."""
import pytest

from pyqemu.util import qemu_opts as qo
from pyqemu.util.qemu_opts import OptDesc, OptsError, OptsList

MEM = OptsList("memory", "size", (OptDesc("size", "size"), OptDesc("slots", "number"),
                                  OptDesc("maxmem", "size")), merge_lists=True)
ANY = OptsList("chardev", "backend")
FLAGS = OptsList("name", "guest", (OptDesc("guest"), OptDesc("debug-threads", "bool")))


@pytest.mark.parametrize("text,value", [
    ("0", 0), ("512", 512), ("1k", 1024), ("1K", 1024), ("2M", 2 << 20), ("1G", 1 << 30),
    ("3T", 3 << 40), ("1P", 1 << 50), ("1E", 1 << 60), ("1b", 1), ("0x1000", 0x1000),
    ("1.5G", 3 << 29), ("1.k", 1024), ("0.5k", 512), (" 7", 7), ("+8", 8),
    ("18446744073709551615", (1 << 64) - 1), ("1.5e", 3 << 59),
])
def test_strtosz_accepts(text, value):
    assert qo.strtosz(text) == value


@pytest.mark.parametrize("text", ["", "foo", "-1", "1.5", "1x", "1.5e3k", "0x1.8k", "1KB", "k", ".5k"])
def test_strtosz_rejects(text):
    with pytest.raises(ValueError):
        qo.strtosz(text)


def test_strtosz_overflow_and_default_suffix():
    with pytest.raises(OverflowError):
        qo.strtosz("16E")
    with pytest.raises(OverflowError):
        qo.strtosz("18446744073709551616")
    assert qo.strtosz("512", "M") == 512 << 20  # -m 512
    assert qo.strtosz("512k", "M") == 512 << 10


def test_size_error_text_is_qemus():
    with pytest.raises(OptsError) as e:
        qo.parse_size("size", "foo")
    assert str(e.value) == "Parameter 'size' expects a non-negative number below 2^64"
    assert e.value.hint.startswith("Optional suffix k, M, G, T, P or E means")
    with pytest.raises(OptsError, match="Value '16E' is out of range for parameter 'maxmem'"):
        qo.parse_size("maxmem", "16E")


def test_numbers():
    assert qo.parse_number("n", "10") == 10
    assert qo.parse_number("n", "0x10") == 16
    assert qo.parse_number("n", "010") == 8  # C base prefixes, as strtoull(.., 0)
    assert qo.parse_number("n", "-1") == (1 << 64) - 1
    with pytest.raises(OptsError, match="Parameter 'slots' expects a number"):
        qo.parse_number("slots", "x")
    with pytest.raises(OptsError, match="is too large for parameter 'n'"):
        qo.parse_number("n", str(1 << 64))


@pytest.mark.parametrize("v,b", [("on", True), ("yes", True), ("true", True), ("y", True),
                                 ("off", False), ("no", False), ("false", False), ("n", False)])
def test_booleans(v, b):
    assert qo.parse_bool("x", v) is b


def test_bad_boolean():
    with pytest.raises(OptsError, match="Parameter 'debug-threads' expects 'on' or 'off'"):
        qo.parse_opts(FLAGS, "g,debug-threads=maybe")


def test_implied_key_and_escaped_commas():
    o = qo.parse_opts(ANY, "socket,id=c0,path=/tmp/a,,b,server=on")
    assert o.get("backend") == "socket" and o.id == "c0"
    assert o.get("path") == "/tmp/a,b" and o.get("server") == "on"
    o = qo.parse_opts(ANY, "file,,name,id=x")
    assert o.get("backend") == "file,name"
    # An explicit first key is not implied.
    assert qo.parse_opts(MEM, "size=1G").get("size") == "1G"
    assert qo.parse_opts(MEM, "512M").get("size") == "512M"


def test_no_implied_key_when_abbrev_not_permitted():
    o = qo.parse_opts(ANY, "socket,id=x", permit_abbrev=False)
    assert o.get("socket") == "on"


def test_bare_flags_and_no_prefix_warn():
    warnings = []
    o = qo.parse_opts(ANY, "stdio,id=s,signal,nomux", warn=warnings.append)
    assert o.get("signal") == "on" and o.get("mux") == "off"
    assert warnings == ["short-form boolean option 'signal' deprecated\nPlease use signal=on instead",
                        "short-form boolean option 'nomux' deprecated\nPlease use mux=off instead"]


def test_duplicate_keys_last_wins():
    o = qo.parse_opts(ANY, "null,id=a,logfile=x,logfile=y")
    assert o.get("logfile") == "y"
    assert o.to_dict() == {"backend": "null", "logfile": "y", "id": "a"}
    assert [v for k, v in o.items if k == "logfile"] == ["x", "y"]


def test_unknown_key_and_help():
    with pytest.raises(OptsError, match="Invalid parameter 'foo'"):
        qo.parse_opts(MEM, "512,foo=1")
    with pytest.raises(qo.HelpRequested):
        qo.parse_opts(MEM, "512,help")
    assert MEM.help_text().splitlines() == ["memory options:", "  maxmem=<size>", "  size=<size>",
                                            "  slots=<num>"]
    # A list accepting any key has no help: "help" is just a flag.
    assert qo.parse_opts(ANY, "null,help").get("help") == "on"


def test_ids():
    with pytest.raises(OptsError) as e:
        qo.parse_opts(ANY, "null,id=1x")
    assert str(e.value) == "Parameter 'id' expects an identifier"
    assert e.value.hint == "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter."
    store = qo.OptsStore(ANY)
    store.add("null,id=a")
    with pytest.raises(OptsError, match="Duplicate ID 'a' for chardev"):
        store.add("null,id=a")
    assert store.find("a").get("backend") == "null"


def test_merge_lists():
    store = qo.OptsStore(MEM)
    store.add("1G")
    store.add("maxmem=4G,slots=2")
    (o,) = store.all
    assert o.get_size("size") == 1 << 30 and o.get_size("maxmem") == 4 << 30 and o.get_number("slots") == 2


def test_keyval_nested_and_implied():
    d, h = qo.keyval_parse("qcow2,node-name=n0,file.driver=file,file.filename=/a,,b,cache.direct=on",
                           "driver")
    assert not h
    assert d == {"driver": "qcow2", "node-name": "n0", "file": {"driver": "file", "filename": "/a,b"},
                 "cache": {"direct": "on"}}
    d, _ = qo.keyval_parse("virt,gic-version=3", "type")
    assert d == {"type": "virt", "gic-version": "3"}
    d, _ = qo.keyval_parse("a=1,a=2")
    assert d == {"a": "2"}  # last wins


def test_keyval_help_and_errors():
    assert qo.keyval_parse("help", "type") == ({}, True)
    assert qo.keyval_parse("none,help", "type") == ({"type": "none"}, True)
    assert qo.keyval_parse("?", "type")[1]
    with pytest.raises(OptsError, match="Expected '=' after parameter 'flag'"):
        qo.keyval_parse("virt,flag", "type")
    with pytest.raises(OptsError, match="Invalid parameter 'a..b'"):
        qo.keyval_parse("a..b=1")
    with pytest.raises(OptsError, match="Parameters 'a.\\*' used inconsistently"):
        qo.keyval_parse("a=1,a.b=2")
    with pytest.raises(OptsError, match="Parameter 'a' used inconsistently"):
        qo.keyval_parse("a.b=1,a=2")
