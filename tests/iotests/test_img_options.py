"""Option and size parsing, QEMU's option order and JSON key order (facts from real qemu-img 7.2)."""
from __future__ import annotations

import pytest

from pyqemu.block import options as O
from pyqemu.tools.img_common import size_to_str
from pyqemu.tools.img_json import dumps_pretty, qdict_order


@pytest.mark.parametrize("text,value", [
    ("1024", 1024), ("0x100000", 1 << 20), ("64k", 65536), ("64K", 65536), ("1.5M", 1572864),
    ("1G", 1 << 30), ("2T", 2 << 40), ("1E", 1 << 60), ("1000b", 1000), ("1.5k", 1536),
    ("1 G", 1 << 30), (" 1G", 1 << 30), ("1g", 1 << 30), ("010", 10), ("0x10k", 16384),
])
def test_sizes_as_qemu_parses_them(text: str, value: int) -> None:
    assert O.parse_size(text) == value


@pytest.mark.parametrize("text", ["", "1.5", "abc", "-1", "1Q", "1G ", "1.G", "0x1.5k", "k"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        O.parse_size(text)


def test_size_argument_messages() -> None:
    with pytest.raises(O.OptionError) as e:
        O.parse_size_arg("image size", "1Q")
    assert str(e.value) == ("Invalid image size specified. You may use k, M, G, T, P or E suffixes for\n"
                            "kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.")
    with pytest.raises(O.OptionError, match=r"Must be between 0 and 9223372036854775807\."):
        O.parse_size_arg("image size", "99E")


def test_option_lists() -> None:
    assert O.split_options("a=1,b=x,,y,c") == [("a", "1"), ("b", "x,y"), ("c", None)]
    for good in ("a=1", "a=1,,", "cluster_size=4k,lazy_refcounts=on"):
        assert O.valid_option_list(good)
    for bad in ("", ",a=1", "a=1,", ",,", "a=1,,,"):
        assert not O.valid_option_list(bad)
    assert O.is_help("help") and O.is_help("cluster_size=4k,?") and not O.is_help("help=1")


def test_formatting_line_in_qemu_option_order() -> None:
    line = O.formatting_line("x.qcow2", "qcow2", 1 << 20,
                             {"lazy_refcounts": "on", "compat": "1.1", "preallocation": "metadata",
                              "backing_file": "b", "backing_fmt": "raw", "cluster_size": "4096"})
    assert line == ("Formatting 'x.qcow2', fmt=qcow2 cluster_size=4096 extended_l2=off "
                    "preallocation=metadata compression_type=zlib size=1048576 compat=1.1 "
                    "backing_file=b backing_fmt=raw lazy_refcounts=on refcount_bits=16")
    assert O.formatting_line("r.raw", "raw", 10, {}) == "Formatting 'r.raw', fmt=raw size=10"


def test_typed_values_and_messages() -> None:
    class Drv:
        format_name = "fake"
        create_options = (("cluster_size", "size", "qcow2 cluster size", 65536),
                          ("lazy_refcounts", "bool", "Postpone refcount updates", False),
                          ("refcount_bits", "number", "Width of a reference count entry in bits", 16),
                          ("compat", "string", "Compatibility level (v2 [0.10] or v3 [1.1])", None))
    typed, shown = O.parse_create_options(Drv, ["cluster_size=1.5k,lazy_refcounts=on", "refcount_bits=8"])
    assert typed == {"cluster_size": 1536, "lazy_refcounts": True, "refcount_bits": 8}
    assert shown["cluster_size"] == "1536" and shown["lazy_refcounts"] == "on"
    for opt, msg in (("bogus=1", "Invalid parameter 'bogus'"),
                     ("lazy_refcounts=maybe", "Parameter 'lazy_refcounts' expects 'on' or 'off'"),
                     ("refcount_bits=x", "Parameter 'refcount_bits' expects a number"),
                     ("cluster_size=16E", "Value '16E' is out of range for parameter 'cluster_size'")):
        with pytest.raises(O.OptionError) as e:
            O.parse_create_options(Drv, [opt])
        assert str(e.value) == msg
    assert O.help_text(Drv).splitlines() == [
        "Supported fake options:",
        "  cluster_size=<size>    - qcow2 cluster size",
        "  compat=<str>           - Compatibility level (v2 [0.10] or v3 [1.1])",
        "  lazy_refcounts=<bool (on/off)> - Postpone refcount updates",
        "  refcount_bits=<num>    - Width of a reference count entry in bits"]


def test_human_sizes() -> None:
    assert [size_to_str(v) for v in (0, 1, 4096, 405504, 1 << 30, 1000 * 1024, 1536 * 1024)] == \
        ["0 B", "1 B", "4 KiB", "396 KiB", "1 GiB", "0.977 MiB", "1.5 MiB"]


def test_json_key_order_is_qemus() -> None:
    # orders as printed by real qemu-img 7.2 info/check/measure --output=json
    assert qdict_order(["filename", "format", "dirty-flag", "actual-size", "virtual-size", "cluster-size",
                        "format-specific", "snapshots"]) == \
        ["snapshots", "virtual-size", "filename", "cluster-size", "format", "actual-size",
         "format-specific", "dirty-flag"]
    assert qdict_order(["filename", "format", "check-errors", "image-end-offset", "total-clusters",
                        "allocated-clusters"]) == \
        ["image-end-offset", "total-clusters", "check-errors", "allocated-clusters", "filename", "format"]
    assert dumps_pretty({"required": 1, "fully-allocated": 2, "bitmaps": 0}) == \
        '{\n    "bitmaps": 0,\n    "required": 1,\n    "fully-allocated": 2\n}'
