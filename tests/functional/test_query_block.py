"""query-block, query-blockstats, ``info block`` and ``info blockstats`` for -drive/-blockdev
command lines, beside Debian's QEMU 7.2 on the same command line and the same image files.

The machine is built in-process (all of startup but the main loop). Automatic node names
(``#block123``) end in two random digits in QEMU too, so they are masked before comparing.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import unavailable

from pyqemu.block.registry import create_image
from pyqemu.monitor.commands import block
from pyqemu.system import drives, machine_run, vl
from pyqemu.system import runstate as rs
from pyqemu.system.main_loop import MainLoop

PROG = "pyqemu-system-aarch64"
QEMU = "qemu-system-aarch64"
BASE = ["-M", "virt", "-cpu", "cortex-a57", "-nic", "none", "-display", "none", "-S"]

MIXED = ["-drive", "if=none,id=d0,file=d.img,format=raw",
         "-drive", "file=q.qcow2,if=virtio",
         "-drive", "if=none,id=e",
         "-blockdev", "driver=file,filename=ov.qcow2,node-name=f1",
         "-blockdev", "driver=qcow2,file=f1,node-name=q1,discard=unmap,cache.direct=on",
         "-device", "virtio-blk-pci,drive=q1",
         "-drive", "if=none,id=d1,file=e.img,format=raw,cache=unsafe,readonly=on,detect-zeroes=on",
         "-device", "virtio-blk-pci,drive=d1,id=vb"]
SETUPS = {
    "mixed": MIXED,
    "nodefaults": ["-nodefaults", "-blockdev", '{"driver": "raw", "node-name": "r", "file": '
                   '{"driver": "file", "filename": "d.img"}}', "-device", "virtio-blk-device,drive=r,id=x",
                   "-drive", "if=none,id=w,file=e.img,format=raw,cache=writethrough",
                   "-device", "virtio-blk-pci,drive=w"],
    "json": ["-nodefaults", "-blockdev", '{"driver": "qcow2", "node-name": "q", "read-only": true, "cache": '
             '{"direct": true}, "file": {"driver": "file", "filename": "ov.qcow2", "aio": "native"}}',
             "-device", '{"driver": "virtio-blk-pci", "drive": "q", "id": "x", "num-queues": 2}'],
    "snapshot": ["-nodefaults", "-drive", "file=ov.qcow2,if=none,id=s,snapshot=on"],
    "nvme": ["-nodefaults", "-drive", "if=none,id=d0,file=d.img,format=raw",
             "-device", "nvme,serial=x,id=n0,drive=d0",
             "-drive", "if=none,id=d1,file=e.img,format=raw", "-device", "nvme-ns,drive=d1,bus=n0,nsid=2"],
}
HMP = ("info block", "info block -n", "info blockstats", "info block d1", "info block nope", "info block -v",
       "info block -n -v")


@pytest.fixture()
def images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("d.img", "e.img", "b.img"):
        create_image(str(tmp_path / name), "raw", 1 << 20)
    create_image(str(tmp_path / "q.qcow2"), "qcow2", 1 << 20)
    create_image(str(tmp_path / "ov.qcow2"), "qcow2", None, {"backing_file": "b.img", "backing_fmt": "raw"})
    monkeypatch.chdir(tmp_path)
    from pyqemu.hw.arm import virt
    from pyqemu.system import arm_tcg
    arm_tcg.install()
    yield tmp_path
    virt.set_cpu_factory(None)   # other tests in this process build virt boards without vCPUs


def build(args: list[str]) -> Any:
    cfg = vl.resolve(vl.parse(BASE + args, "aarch64", PROG), prog=PROG)
    return machine_run.build_machine(cfg)[1]


def mask(obj: Any) -> Any:
    """Automatic node names and temporary file names vary between runs."""
    text = json.dumps(obj, sort_keys=True) if not isinstance(obj, str) else obj
    text = re.sub(r"#block\d+", "#blockN", text)
    text = re.sub(r"/vl\.[A-Za-z0-9]{6}", "/vl.XXXXXX", text)
    # host allocation: filesystem-dependent, and QEMU's own changes while it has a qcow2 open
    text = re.sub(r"disk size: [^\n]*", "disk size: N", text)
    return re.sub(r'"actual-size": \d+', '"actual-size": N', text)


def ours(args: list[str]) -> dict[str, str]:
    build(args)
    out = {"query-block": mask(block.query_block()), "query-blockstats": mask(block.query_blockstats()),
           "query-named-block-nodes": mask(block.query_named_block_nodes()),
           "flat": mask(block.query_named_block_nodes(flat=True)),
           "query-nodes": mask(block.query_blockstats(query_nodes=True))}
    for cmd in HMP:
        if cmd == "info blockstats":
            out[cmd] = mask(block.hmp_info_blockstats())
        else:
            out[cmd] = mask(block.hmp_info_block(cmd[len("info block"):].strip()))
    return out


def theirs(args: list[str]) -> dict[str, str]:
    cmds = [{"execute": "qmp_capabilities"}, {"execute": "query-block"}, {"execute": "query-blockstats"},
            {"execute": "query-named-block-nodes"},
            {"execute": "query-named-block-nodes", "arguments": {"flat": True}},
            {"execute": "query-blockstats", "arguments": {"query-nodes": True}}]
    cmds += [{"execute": "human-monitor-command", "arguments": {"command-line": c}} for c in HMP]
    cmds.append({"execute": "quit"})
    r = subprocess.run([QEMU, *BASE, "-qmp", "stdio", *args], capture_output=True, text=True, timeout=60,
                       input="".join(json.dumps(c) + "\n" for c in cmds))
    replies = [json.loads(line) for line in r.stdout.splitlines()[1:]]
    replies = [x["return"] for x in replies if "return" in x]
    out = {"query-block": mask(replies[1]), "query-blockstats": mask(replies[2]),
           "query-named-block-nodes": mask(replies[3]), "flat": mask(replies[4]),
           "query-nodes": mask(replies[5])}
    for cmd, text in zip(HMP, replies[6:], strict=False):
        out[cmd] = mask(text.replace("\r\n", "\n"))
    return out


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_same_as_qemu(images: Path, setup: str) -> None:
    if shutil.which(QEMU) is None:
        unavailable(f"{QEMU} not found (apt-get install qemu-system-arm)")
    ref = theirs(SETUPS[setup])
    mine = ours(SETUPS[setup])
    for key in ref:
        assert mine[key] == ref[key], key


def test_query_block_shape(images: Path) -> None:
    build(MIXED)
    info = {b["device"] or b["inserted"]["node-name"]: b for b in block.query_block()}
    # -drive backends in command-line order, virt's default empty drives, then the backends
    # devices made for -blockdev nodes
    assert list(info) == ["d0", "virtio0", "e", "d1", "floppy0", "sd0", "q1"]
    assert "qdev" not in info["d0"] and info["d0"]["removable"] and "io-status" not in info["d0"]
    assert info["virtio0"]["qdev"] == "/machine/peripheral-anon/device[1]/virtio-backend"
    assert info["virtio0"]["io-status"] == "ok" and not info["virtio0"]["removable"]
    assert info["e"] == {"device": "e", "type": "unknown", "removable": True, "locked": False}
    d1 = info["d1"]["inserted"]
    assert info["d1"]["qdev"] == "/machine/peripheral/vb/virtio-backend"
    assert (d1["ro"], d1["drv"], d1["detect_zeroes"], d1["cache"]) == (
        True, "raw", "on", {"writeback": True, "direct": False, "no-flush": True})
    q1 = info["q1"]
    assert q1["device"] == "" and q1["qdev"] == "/machine/peripheral-anon/device[0]/virtio-backend"
    assert (q1["inserted"]["backing_file"], q1["inserted"]["backing_file_depth"]) == ("b.img", 1)
    assert q1["inserted"]["image"]["backing-image"]["filename"] == "b.img"
    assert q1["inserted"]["cache"]["direct"] is True
    assert block.hmp_info_block("d1") == (   # QEMU's blank line: d1 is not first in the list
        f"\nd1 ({d1['node-name']}): e.img (raw, read-only)\n"
        "    Attached to:      /machine/peripheral/vb/virtio-backend\n"
        "    Cache mode:       writeback, ignore flushes\n"
        "    Detect zeroes:    on\n")


def test_blockstats_count_guest_io(images: Path) -> None:
    build(["-nodefaults", "-drive", "if=none,id=d0,file=d.img,format=raw,discard=unmap"])
    blk = drives.blk_by_name("d0")
    loop = MainLoop(rs.VMRunState())
    blk._loop = loop
    results: list[Any] = []
    try:
        blk.aio_write(4096, b"x" * 1024, lambda r, e: results.append(e))
        blk.aio_read(0, 512, lambda r, e: results.append(e))
        blk.aio_read(1 << 20, 512, lambda r, e: results.append(e))   # past the end: invalid
        blk.aio_flush(lambda r, e: results.append(e))
        blk.aio_discard(0, 4096, lambda r, e: results.append(e))
        assert blk.drain(10)
    finally:
        loop.close()
    assert [e is None for e in results] == [True, True, False, True, True]
    (s,) = block.query_blockstats()
    st = s["stats"]
    assert (st["wr_bytes"], st["wr_operations"], st["rd_bytes"], st["rd_operations"]) == (1024, 1, 512, 1)
    assert (st["flush_operations"], st["unmap_operations"], st["unmap_bytes"]) == (1, 1, 4096)
    assert (st["invalid_rd_operations"], st["failed_rd_operations"], st["wr_highest_offset"]) == (1, 0, 5120)
    assert st["idle_time_ns"] >= 0 and st["wr_total_time_ns"] > 0
    assert s["parent"]["driver-specific"] == {"driver": "file", "discard-nb-ok": 1, "discard-nb-failed": 0,
                                              "discard-bytes-ok": 4096}
    line = block.hmp_info_blockstats()
    assert line.startswith("d0: rd_bytes=512 wr_bytes=1024 rd_operations=1 wr_operations=1 "
                           "flush_operations=1 wr_total_time_ns=")
