"""-drive, -blockdev and -device on the command line: what starts, what is refused, and with
which words (QEMU 7.2's). The machine is built in-process (options, drives, board, devices: all
of startup but the main loop), so each case costs milliseconds; ``test_same_as_qemu`` runs
Debian's qemu-system-aarch64 on the same command lines and compares its stderr.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import unavailable

from pyqemu.block.registry import create_image
from pyqemu.qom.object import QOMError
from pyqemu.system import drives, machine_run, vl

PROG = "pyqemu-system-aarch64"
QEMU = "qemu-system-aarch64"
BASE = ["-M", "virt", "-cpu", "cortex-a57", "-nic", "none", "-display", "none", "-S"]

# (arguments, QEMU's last stderr line after "prog: ", or None: the machine starts)
CASES: list[tuple[list[str], str | None]] = [
    (["-drive", "file=nofile,if=none"],
     "-drive file=nofile,if=none: Could not open 'nofile': No such file or directory"),
    (["-drive", "file=d.img,if=none,format=foo"],
     "-drive file=d.img,if=none,format=foo: Unknown driver 'foo'"),
    (["-drive", "if=none,id=x,file=d.img,format=raw", "-drive", "if=none,id=x,file=e.img,format=raw"],
     "-drive if=none,id=x,file=e.img,format=raw: Duplicate ID 'x' for drive"),
    (["-drive", "file=d.img,if=none,cache=foo"], "-drive file=d.img,if=none,cache=foo: invalid cache option"),
    (["-drive", "file=d.img,if=none,aio=foo"], "-drive file=d.img,if=none,aio=foo: invalid aio option"),
    (["-drive", "file=d.img,if=none,aio=native"],
     "-drive file=d.img,if=none,aio=native: aio=native was specified, but it requires cache.direct=on, "
     "which was not specified."),
    (["-drive", "file=d.img,if=none,discard=foo"],
     "-drive file=d.img,if=none,discard=foo: Invalid discard option"),
    (["-drive", "file=d.img,if=none,detect-zeroes=foo"],
     "-drive file=d.img,if=none,detect-zeroes=foo: invalid parameter value: foo"),
    (["-drive", "file=d.img,if=foo"], "-drive file=d.img,if=foo: unsupported bus type 'foo'"),
    (["-drive", "file=d.img,if=none,media=foo"], "-drive file=d.img,if=none,media=foo: 'foo' invalid media"),
    (["-drive", "file=d.img,if=none,werror=foo"],
     "-drive file=d.img,if=none,werror=foo: 'foo' invalid write error action"),
    (["-drive", "file=d.img,if=pflash,werror=stop,format=raw"],
     "-drive file=d.img,if=pflash,werror=stop,format=raw: werror is not supported by this bus type"),
    (["-drive", "file=d.img,if=none,index=1,unit=1"],
     "-drive file=d.img,if=none,index=1,unit=1: index cannot be used with bus and unit"),
    (["-drive", "file=d.img,if=none,format=raw,foo=bar"],
     "-drive file=d.img,if=none,format=raw,foo=bar: Block format 'raw' does not support the option 'foo'"),
    (["-drive", "file=d.img,if=none,format=raw,unit=x"],
     "-drive file=d.img,if=none,format=raw,unit=x: Parameter 'unit' expects a number"),
    (["-drive", "file=d.img,if=none,id=1x"], "Identifiers consist of letters, digits, '-', '.', '_', "
     "starting with a letter."),
    (["-drive", "if=virtio"], "-drive if=virtio: Device needs media, but drive is empty"),
    (["-drive", "file=d.img,if=ide,format=raw"],
     "-drive file=d.img,if=ide,format=raw: machine type does not support if=ide,bus=0,unit=0"),
    (["-M", "none", "-drive", "if=pflash,file=d.img,format=raw"],
     "-drive if=pflash,file=d.img,format=raw: machine type does not support if=pflash,bus=0,unit=0"),
    (["-device", "virtio-blk-device,drive=nope"],
     "-device virtio-blk-device,drive=nope: Property 'virtio-blk-device.drive' can't find value 'nope'"),
    (["-device", "virtio-blk-device"], "-device virtio-blk-device: drive property not set"),
    (["-drive", "if=none,id=x,file=d.img,format=raw", "-device", "virtio-blk-device,drive=x",
      "-device", "virtio-blk-pci,drive=x"],
     "-device virtio-blk-pci,drive=x: Drive 'x' is already in use by another device"),
    (["-drive", "if=none,id=e"], None),
    (["-drive", "file=d.img,format=raw,id=v", "-device", "virtio-blk-pci,drive=v"],
     "-drive file=d.img,format=raw,id=v: Drive 'v' is already in use because it has been automatically "
     "connected to another device (did you need 'if=none' in the drive options?)"),
    (["-M", "none", "-drive", "file=d.img,format=raw,if=virtio"],
     "-drive file=d.img,format=raw,if=virtio: No 'PCI' bus found for device 'virtio-blk-pci'"),
    (["-drive", "if=none,id=e", "-device", "virtio-blk-pci,drive=e"],
     "-device virtio-blk-pci,drive=e: Device needs media, but drive is empty"),
    (["-device", "foo"], "-device foo: 'foo' is not a valid device model name"),
    (["-device", "id=a"], "-device id=a: Parameter 'driver' is missing"),
    (["-device", "pl011"], "-device pl011: Parameter 'driver' expects a pluggable device type"),
    (["-device", "virtio-device"],
     "-device virtio-device: Parameter 'driver' expects a non-abstract device type"),
    (["-device", "virtio-blk-device,bus=pcie.0"],
     "-device virtio-blk-device,bus=pcie.0: Device 'virtio-blk-device' can't go on PCIE bus"),
    (["-device", "virtio-blk-pci,bus=virtio-mmio-bus.3"],
     "-device virtio-blk-pci,bus=virtio-mmio-bus.3: Device 'virtio-blk-pci' can't go on virtio-mmio-bus bus"),
    (["-device", "virtio-blk-device,bus=nobus"],
     "-device virtio-blk-device,bus=nobus: Bus 'nobus' not found"),
    (["-device", "virtio-blk-pci,bus=pcie.0/foo"], 'devices at "pcie.0": "gpex-root"'),
    (["-drive", "if=none,id=x,file=d.img,format=raw", "-device", "virtio-blk-device,drive=x,foo=1"],
     "-device virtio-blk-device,drive=x,foo=1: Property 'virtio-blk-device.foo' not found"),
    (["-drive", "if=none,id=x,file=d.img,format=raw", "-device", "virtio-blk-pci,drive=x,ioeventfd=maybe"],
     "-device virtio-blk-pci,drive=x,ioeventfd=maybe: Parameter 'ioeventfd' expects 'on' or 'off'"),
    (["-blockdev", "driver=file,filename=nofile,node-name=a"],
     "-blockdev driver=file,filename=nofile,node-name=a: Could not open 'nofile': No such file or directory"),
    (["-blockdev", "driver=qcow2,node-name=a"],
     "-blockdev driver=qcow2,node-name=a: Parameter 'file' is missing"),
    (["-blockdev", "driver=qcow2,node-name=a,file=nope"],
     "-blockdev driver=qcow2,node-name=a,file=nope: Cannot find device='nope' nor node-name='nope'"),
    (["-blockdev", "driver=file,filename=d.img"],
     "-blockdev driver=file,filename=d.img: 'node-name' must be specified for the root node"),
    (["-blockdev", "driver=foo,node-name=a"],
     "-blockdev driver=foo,node-name=a: Parameter 'driver' does not accept value 'foo'"),
    (["-blockdev", "driver=file,filename=d.img,node-name=a,foo=1"],
     "-blockdev driver=file,filename=d.img,node-name=a,foo=1: Parameter 'foo' is unexpected"),
    (["-blockdev", "driver=file,filename=d.img,node-name=1a"],
     "-blockdev driver=file,filename=d.img,node-name=1a: Invalid node-name: '1a'"),
    (["-blockdev", "driver=file,filename=d.img,node-name=a,detect-zeroes=unmap"],
     "-blockdev driver=file,filename=d.img,node-name=a,detect-zeroes=unmap: setting detect-zeroes to unmap "
     "is not allowed without setting discard operation to unmap"),
    (["-blockdev", "driver=file,filename=d.img,node-name=a", "-blockdev",
      "driver=file,filename=e.img,node-name=a"],
     "-blockdev driver=file,filename=e.img,node-name=a: Duplicate nodes with node-name='a'"),
    (["-blockdev", "driver=file,filename=d.img,node-name=a", "-drive", "if=none,id=a,file=e.img,format=raw"],
     "-drive if=none,id=a,file=e.img,format=raw: Device name 'a' conflicts with an existing node name"),
    (["-blockdev", "driver=file,filename=d.img,node-name=a", "-device", "virtio-blk-pci,drive=a",
      "-device", "virtio-blk-pci,drive=a"],
     "-device virtio-blk-pci,drive=a: Permission conflict on node 'a': permissions 'write' are both required "
     "by block device '/machine/peripheral-anon/device[0]/virtio-backend' (uses node 'a' as 'root' "
     "child) and unshared by block device '/machine/peripheral-anon/device[1]/virtio-backend' (uses node "
     "'a' as 'root' child)."),
    (["-device", "nvme"], "-device nvme: serial property not set"),
    (["-device", "nvme-ns"], "-device nvme-ns: No 'nvme-bus' bus found for device 'nvme-ns'"),
    (["-device", "nvme,serial=x,id=n0", "-device", "nvme-ns,drive=nope"],
     "-device nvme-ns,drive=nope: Property 'nvme-ns.drive' can't find value 'nope'"),
    # accepted
    (["-drive", "if=none,id=d0,file=d.img,format=raw", "-device", "nvme,serial=x,id=n0,addr=0x1f.7",
      "-drive", "if=none,id=d1,file=e.img,format=raw", "-device", "nvme-ns,drive=d1,bus=n0,nsid=2"], None),
    (["-drive", "file=d.img,format=raw,cache=none,aio=native,discard=on,detect-zeroes=unmap,werror=stop,"
      "rerror=report"], None),
    (["-drive", "file=d.img,if=none,format=raw,detect-zeroes=unmap"], None),
    (["-blockdev", '{"driver": "qcow2", "node-name": "q", "file": {"driver": "file", "filename": "q.qcow2"}}',
      "-device", "virtio-blk-pci,drive=q,id=vd0"], None),
]


@pytest.fixture()
def images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    create_image(str(tmp_path / "d.img"), "raw", 1 << 20)
    create_image(str(tmp_path / "e.img"), "raw", 1 << 20)
    create_image(str(tmp_path / "q.qcow2"), "qcow2", 1 << 20)
    create_image(str(tmp_path / "f.img"), "raw", 64 << 20)   # a virt flash bank
    monkeypatch.chdir(tmp_path)
    from pyqemu.hw.arm import virt
    from pyqemu.system import arm_tcg
    arm_tcg.install()
    yield tmp_path
    virt.set_cpu_factory(None)   # other tests in this process build virt boards without vCPUs


def start(args: list[str]) -> tuple[str, Any]:
    """Startup as pyqemu-system-aarch64 does it, up to the main loop: (error text, machine)."""
    try:
        cfg = vl.resolve(vl.parse(BASE + args, "aarch64", PROG), prog=PROG)
    except vl.VlError as e:
        return vl.format_error(PROG, e), None
    try:
        _root, machine = machine_run.build_machine(cfg)
    except (machine_run.StartupError, drives.DriveError, QOMError) as e:
        return f"{PROG}: {e}\n", None
    return "", machine


def _last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln]
    return lines[-1] if lines else ""


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_startup(images: Path, args: list[str], message: str | None) -> None:
    err, machine = start(args)
    if message is None:
        assert err == "" and machine is not None
    else:
        assert _last_line(err).removeprefix(f"{PROG}: ") == message
        assert "Traceback" not in err


def test_probe_warning_and_defaults(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err, machine = start(["-drive", "file=d.img", "-drive", "if=none,file=e.img,format=raw",
                          "-drive", "if=pflash,file=f.img,format=raw,readonly=on"])
    assert err == ""
    assert capsys.readouterr().err == (
        "WARNING: Image format was not specified for 'd.img' and probing guessed raw.\n"
        "         Automatically detecting the format is dangerous for raw images, write operations on "
        "block 0 will be restricted.\n"
        "         Specify the 'raw' format explicitly to remove the restrictions.\n")
    # QEMU's names: if=virtio is virt's default interface; floppy0 and sd0 are virt's empty drives
    assert [name for name, _ in drives.block_list()] == ["virtio0", "none0", "pflash0", "floppy0", "sd0"]
    virtio0 = drives.blk_by_name("virtio0")
    assert virtio0 is not None and virtio0.attached_dev.type_name == "virtio-blk-device"
    assert virtio0.attached_dev.parent.type_name == "virtio-blk-pci"
    assert drives.blk_by_name("pflash0").read_only


@pytest.mark.parametrize(("cache", "flags"), [
    ("writeback", (True, False, False)), ("writethrough", (False, False, False)),
    ("none", (True, True, False)), ("directsync", (False, True, False)), ("unsafe", (True, False, True)),
])
def test_cache_modes(images: Path, cache: str, flags: tuple[bool, bool, bool]) -> None:
    err, _ = start(["-drive", f"if=none,id=c,file=d.img,format=raw,cache={cache}"])
    assert err == ""
    blk = drives.blk_by_name("c")
    assert (blk.writeback, blk.direct, blk.no_flush) == flags
    assert blk.enable_write_cache == flags[0]


def test_unsafe_ignores_flushes(images: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start(["-drive", "if=none,id=c,file=d.img,format=raw,cache=unsafe"])
    blk = drives.blk_by_name("c")
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    monkeypatch.setattr(os, "fdatasync", lambda fd: synced.append(fd))
    blk.pwrite(0, b"x" * 512)
    blk.flush()
    assert synced == []


def test_discard_and_detect_zeroes_reach_the_backend(images: Path) -> None:
    start(["-drive", "if=none,id=a,file=d.img,format=raw,discard=on,detect-zeroes=unmap",
           "-drive", "if=none,id=b,file=e.img,format=raw,detect-zeroes=unmap,readonly=on"])
    a, b = drives.blk_by_name("a"), drives.blk_by_name("b")
    assert (a.discard_mode, a.detect_zeroes) == ("unmap", "unmap")
    # -drive takes detect-zeroes=unmap without discard=unmap; zero writes then cannot unmap
    assert (b.discard_mode, b.detect_zeroes, b.read_only) == ("ignore", "on", True)


def test_snapshot_keeps_the_image_unchanged(images: Path) -> None:
    (images / "d.img").write_bytes(b"A" * (1 << 20))
    start(["-drive", "if=none,id=s,file=d.img,format=raw,snapshot=on"])
    blk = drives.blk_by_name("s")
    blk.pwrite(0, b"B" * 4096)
    assert blk.pread(0, 8) == b"BBBBBBBB"
    assert (images / "d.img").read_bytes()[:8] == b"AAAAAAAA"


def test_error_exits_without_traceback(images: Path) -> None:
    r = subprocess.run([PROG, *BASE, "-drive", "file=d.img,if=none,cache=foo"], capture_output=True,
                       text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert r.stderr == f"{PROG}: -drive file=d.img,if=none,cache=foo: invalid cache option\n"


def test_same_as_qemu(images: Path) -> None:
    """Every case above against Debian's QEMU 7.2: same stderr (program name aside), same verdict."""
    if shutil.which(QEMU) is None:
        unavailable(f"{QEMU} not found (apt-get install qemu-system-arm)")
    for args, message in CASES:
        r = subprocess.run([QEMU, *BASE, "-qmp", "stdio", *args], capture_output=True, text=True, timeout=60,
                           input='{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n')
        if message is None:
            assert r.returncode == 0, (args, r.stderr)
        else:
            assert r.returncode == 1 and _last_line(r.stderr).removeprefix(f"{QEMU}: ") == message, args


def _help(args: list[str]) -> str:
    with pytest.raises(vl.Exit) as e:
        vl.parse(args, "aarch64", PROG)
    assert e.value.status == 0
    return e.value.stdout


def test_device_help_lists_the_qom_device_types() -> None:
    text = _help(["-device", "help"])
    groups = {g.split(" devices:\n")[0]: g + "\n" for g in text.rstrip("\n").split("\n\n")}
    # QEMU 7.2's lines for these types
    assert 'name "nvme", bus PCI, desc "Non-Volatile Memory Express"\n' in groups["Storage"]
    assert 'name "nvme-ns", bus nvme-bus, desc "Virtual NVMe namespace"\n' in groups["Storage"]
    assert 'name "pcie-root-port", bus PCI, desc "PCI Express Root Port"\n' in groups["Controller/Bridge/Hub"]
    assert 'name "virtio-blk-pci", bus PCI, alias "virtio-blk"' in groups["Storage"]
    assert 'name "virtio-blk-device", bus virtio-bus' in groups["Storage"]


def test_device_property_help() -> None:
    lines = _help(["-device", "virtio-blk,help"]).splitlines()   # an alias works too
    assert lines[0] == "virtio-blk-pci options:"
    assert lines[1:] == sorted(lines[1:])
    assert "  drive=<str>" in [ln[:len("  drive=<str>")] for ln in lines]
    nvme = _help(["-device", "nvme,help"]).splitlines()
    assert nvme[0] == "nvme options:"
    assert any(ln.startswith("  serial=<str>") for ln in nvme)


PLACEMENT = ["-nodefaults", "-drive", "if=none,id=d0,file=d.img,format=raw",
             "-drive", "if=none,id=d1,file=e.img,format=raw", "-drive", "if=none,id=d2,file=q.qcow2",
             "-device", "pcie-root-port,id=rp1,chassis=1,slot=1",
             "-device", "virtio-blk-pci,drive=d0,bus=rp1,id=a", "-device", "virtio-blk-pci,drive=d1,id=b",
             "-device", "virtio-blk-device,drive=d2"]


def _tree(text: str) -> list[str]:
    """The bus/device skeleton of ``info qtree`` (property values are the devices' business)."""
    return [ln for ln in text.replace("\r\n", "\n").splitlines() if ln.strip().startswith(("bus:", "dev:"))]


def test_device_placement_same_as_qemu(images: Path) -> None:
    """Default and named buses: the same qtree skeleton as QEMU (a virtio-mmio transport from the
    top, root port's bus by id, pcie.0 before buses below it)."""
    if shutil.which(QEMU) is None:
        unavailable(f"{QEMU} not found (apt-get install qemu-system-arm)")
    err, machine = start(PLACEMENT)
    assert err == ""
    mine = _tree(machine.qtree_info())
    r = subprocess.run([QEMU, *BASE, "-qmp", "stdio", *PLACEMENT], capture_output=True, text=True, timeout=60,
                       input='{"execute": "qmp_capabilities"}\n{"execute": "human-monitor-command", '
                       '"arguments": {"command-line": "info qtree"}}\n{"execute": "quit"}\n')
    theirs = _tree(json.loads(r.stdout.splitlines()[2])["return"])
    assert mine == theirs
