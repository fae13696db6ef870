"""The virt board's device tree and boot loading: our DTB equals the one QEMU 7.2 generates
(specs/virt-aarch64.dts, and QEMU's own ``dumpdtb``) except for the random seeds; images land
where QEMU puts them."""
from __future__ import annotations

import gzip
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import fdt
import pytest
from conftest import unavailable

from pyqemu.hw.arm.virt_boot import BootError, boot_stub
from pyqemu.hw.core.machine import create_machine
from pyqemu.system.machines import find_machine

SPEC_DTS = Path(__file__).resolve().parents[1] / "qtest" / "virt-aarch64.dts"
if not SPEC_DTS.exists():
    SPEC_DTS = Path("/work/shared/specs/virt-aarch64.dts")
RAM = 0x40000000
SEED_PROPS = ("rng-seed", "kaslr-seed")


def virt(**opts: str):  # noqa: ANN201
    opts.setdefault("cpu-type", "cortex-a57")
    smp = int(opts.pop("smp", "1"))
    ram = int(opts.pop("ram", str(512 << 20)))
    topo = {"cpus": smp, "maxcpus": smp, "threads": 1, "cores": smp, "dies": 1, "sockets": 1, "clusters": 1}
    _, machine = create_machine(find_machine("virt", "aarch64"), ram, opts, topo)
    machine.reset()
    return machine


def strip_seeds(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not re.match(r"\s*(rng-seed|kaslr-seed) =", line))


def summary(node: fdt.Node) -> list:
    """A node as data, properties in order with their raw bytes, seeds left out."""
    props = [(p.name, _raw(p)) for p in node.props if p.name not in SEED_PROPS]
    return [node.name, props, [summary(n) for n in node.nodes]]


def _raw(p: fdt.Property) -> bytes:
    if isinstance(p, fdt.PropStrings):
        # fdt.parse_dts keeps dtc's "\\0" separators as text
        return b"".join(s.replace("\\0", "\0").encode() + b"\0" for s in p.data)
    if isinstance(p, fdt.PropWords):
        return b"".join(struct.pack(">I", w) for w in p.data)
    if isinstance(p, fdt.PropBytes):
        return bytes(p.data)
    return b""


def spec_tree() -> fdt.FDT:
    return fdt.parse_dts(SPEC_DTS.read_text())


def test_dtb_equals_qemus_modulo_seeds() -> None:
    m = virt()
    blob = m.board.fdt_blob
    ours = fdt.parse_dtb(blob)
    assert summary(ours.root) == summary(spec_tree().root)
    chosen = ours.get_node("/chosen")
    assert len(_raw(chosen.get_property("rng-seed"))) == 32
    assert len(chosen.get_property("kaslr-seed").data) == 2


def test_dtb_header_is_padded_to_1mib() -> None:
    blob = virt().board.fdt_blob
    magic, totalsize = struct.unpack_from(">II", blob)
    assert magic == 0xD00DFEED and totalsize == 0x100000 == len(blob)
    assert struct.unpack_from(">I", blob, 20)[0] == 17     # version


def test_dtc_decompiles_to_the_spec_text(tmp_path: Path) -> None:
    dtc = shutil.which("dtc")
    if dtc is None:
        unavailable("dtc (Debian device-tree-compiler) is not installed")
    path = tmp_path / "virt.dtb"
    path.write_bytes(virt().board.fdt_blob)
    text = subprocess.run([dtc, "-q", "-I", "dtb", "-O", "dts", str(path)], capture_output=True, text=True,
                          check=True).stdout
    assert strip_seeds(text) == strip_seeds(SPEC_DTS.read_text())


def test_seeds_come_from_a_seedable_source() -> None:
    a = virt(seed="1").board.fdt_blob
    b = virt(seed="1").board.fdt_blob
    c = virt(seed="2").board.fdt_blob
    assert a == b and a != c
    off = fdt.parse_dtb(virt(**{"dtb-randomness": "off"}).board.fdt_blob).get_node("/chosen")
    assert not off.exist_property("rng-seed") and not off.exist_property("kaslr-seed")


def test_smp2_cpu_nodes_and_ppi_masks() -> None:
    tree = fdt.parse_dtb(virt(smp="2").board.fdt_blob)
    cpu0, cpu1 = tree.get_node("/cpus/cpu@0"), tree.get_node("/cpus/cpu@1")
    assert cpu1.get_property("phandle").value == 0x8001 and cpu0.get_property("phandle").value == 0x8002
    assert cpu1.get_property("reg").value == 1
    assert cpu0.get_property("enable-method").value == "psci"
    assert tree.get_node("/cpus/cpu-map/socket0/cluster0/core1").get_property("cpu").value == 0x8001
    assert list(tree.get_node("/timer").get_property("interrupts").data)[2] == 0x304
    assert tree.get_node("/intc@8000000").get_property("phandle").value == 0x8003
    assert tree.root.get_property("interrupt-parent").value == 0x8003


def fake_image(text_offset: int = 0, image_size: int = 0x30000, body: int = 0x1000) -> bytes:
    hdr = bytearray(0x40)
    struct.pack_into("<II", hdr, 0, 0xFA405A4D, 0x14000000)
    struct.pack_into("<QQQ", hdr, 8, text_offset, image_size, 0xA)
    hdr[0x38:0x3C] = b"ARM\x64"
    return bytes(hdr) + bytes(range(256)) * (body // 256)


def test_kernel_initrd_and_dtb_placement(tmp_path: Path) -> None:
    kernel = tmp_path / "Image"
    kernel.write_bytes(fake_image())
    initrd = tmp_path / "initrd"
    initrd.write_bytes(b"\x07" * 5000)
    m = virt(kernel=str(kernel), initrd=str(initrd), append="console=ttyAMA0 quiet")
    s = m.address_space_memory
    assert s.read(0x40200000, 64) == fake_image()[:64]                 # RAM + 2 MiB (text_offset 0)
    assert s.read(RAM, 0x28) == boot_stub(0x48200000, 0x40200000)     # the stub at RAM base
    assert s.read(0x48000000, 5000) == b"\x07" * 5000                 # RAM + min(ram/2, 128 MiB)
    assert s.load(0x48200000, 4) == 0xEDFE0DD0                        # DTB after it, 2 MiB-aligned
    chosen = fdt.parse_dtb(s.read(0x48200000, 0x100000)).get_node("/chosen")
    assert chosen.get_property("bootargs").value == "console=ttyAMA0 quiet"
    assert list(chosen.get_property("linux,initrd-start").data) == [0x48000000]   # one cell, as QEMU
    assert list(chosen.get_property("linux,initrd-end").data) == [0x48000000 + 5000]
    assert [p.name for p in chosen.props][:4] == ["linux,initrd-end", "linux,initrd-start", "bootargs",
                                                  "stdout-path"]
    assert m.board.boot.start_pc == RAM
    roms = m.roms.info_roms()
    assert 'name="bootloader"' in roms and 'name="dtb"' in roms and str(initrd) in roms


def test_gzip_kernel_and_text_offset(tmp_path: Path) -> None:
    kernel = tmp_path / "Image.gz"
    kernel.write_bytes(gzip.compress(fake_image(text_offset=0x80000)))
    m = virt(kernel=str(kernel), ram=str(128 << 20))
    s = m.address_space_memory
    assert s.read(RAM + 0x80000, 64) == fake_image(0x80000)[:64]      # text_offset >= 4 KiB: as is
    assert s.read(RAM, 0x28) == boot_stub(RAM + (64 << 20), RAM + 0x80000)   # no initrd: DTB at ram/2


def test_bios_goes_to_flash_and_dtb_to_ram_base(tmp_path: Path) -> None:
    bios = tmp_path / "u-boot.bin"
    bios.write_bytes(b"\x1f\x20\x03\xd5" * 1000)
    m = virt(firmware=str(bios))
    s = m.address_space_memory
    assert s.read(0, 4000) == bios.read_bytes()
    assert s.load(RAM, 4) == 0xEDFE0DD0 and m.board.boot.start_pc == 0
    assert f'virt.flash0 size=0x000fa0 name="{bios}"' in m.roms.info_roms()


def elf64(entry: int, paddr: int, code: bytes) -> bytes:
    ehdr = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, 2, 183, 1, entry, 64, 0,
                       0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0x1000, paddr, paddr, len(code), len(code) + 0x100, 0x1000)
    return ehdr + phdr + bytes(0x1000 - 120) + code


def test_elf_kernel_for_bare_metal(tmp_path: Path) -> None:
    prog = tmp_path / "test.elf"
    prog.write_bytes(elf64(0x40200010, 0x40200000, b"\xaa" * 32))
    m = virt(kernel=str(prog))
    s = m.address_space_memory
    assert s.read(0x40200000, 32) == b"\xaa" * 32
    assert s.read(0x40200020, 0x100) == bytes(0x100)                   # memsz beyond filesz: zeros
    assert m.board.boot.start_pc == 0x40200010 and not m.board.boot.is_linux
    assert s.load(RAM, 4) == 0xEDFE0DD0                                # room below it: DTB at RAM base
    prog.write_bytes(elf64(0x40080000, 0x40080000, b"\xaa" * 32))     # no 1 MiB below it: no DTB
    m = virt(kernel=str(prog))
    assert m.address_space_memory.load(RAM, 4) == 0 and 'name="dtb"' not in m.roms.info_roms()


def test_dumpdtb_writes_the_tree_and_exits(tmp_path: Path) -> None:
    out = tmp_path / "out.dtb"
    with pytest.raises(SystemExit) as e:
        virt(dumpdtb=str(out), append="x", kernel=str(_kernel(tmp_path)))
    assert e.value.code == 0
    tree = fdt.parse_dtb(out.read_bytes())
    assert tree.get_node("/chosen").get_property("bootargs").value == "x"


def _kernel(tmp_path: Path) -> Path:
    k = tmp_path / "Image"
    k.write_bytes(fake_image())
    return k


@pytest.mark.parametrize("opts, message", [
    ({"kernel": "/nonexistent/Image"}, "could not load kernel '/nonexistent/Image'"),
    ({"initrd": "x"}, "-initrd only allowed with -kernel option"),
    ({"firmware": "/nonexistent/bios"}, "Could not find ROM image '/nonexistent/bios'"),
    ({"gic-version": "5"}, "Invalid gic-version value: 5"),
    ({"cpu-type": "cortex-a9"}, "mach-virt: CPU type cortex-a9-arm-cpu not supported"),
    ({"secure": "on"}, "mach-virt: secure=on is not supported yet"),
    ({"highmem": "off"}, "mach-virt: highmem=off is not supported yet"),
    ({"dtb-randomness": "maybe"}, "Parameter expects 'on' or 'off'; got 'maybe'"),
])
def test_bad_input_is_a_clear_error(opts: dict[str, str], message: str) -> None:
    with pytest.raises(Exception) as e:
        virt(**opts)
    assert message in str(e.value)
    assert isinstance(e.value, BootError) or type(e.value).__name__ == "QOMError"


def test_same_dtb_as_qemu_dumpdtb_with_kernel_initrd_append(tmp_path: Path) -> None:
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    kernel = _kernel(tmp_path)
    initrd = tmp_path / "initrd"
    initrd.write_bytes(os.urandom(3000))
    ref = tmp_path / "qemu.dtb"
    subprocess.run([qemu, "-M", f"virt,dumpdtb={ref}", "-cpu", "cortex-a57", "-m", "256", "-smp", "2",
                    "-nic", "none", "-display", "none", "-kernel", str(kernel), "-initrd", str(initrd),
                    "-append", "console=ttyAMA0 rdinit=/init"], check=True, capture_output=True, timeout=60)
    ours = virt(smp="2", ram=str(256 << 20), kernel=str(kernel), initrd=str(initrd),
                append="console=ttyAMA0 rdinit=/init").board.fdt_blob
    assert summary(fdt.parse_dtb(ours).root) == summary(fdt.parse_dtb(ref.read_bytes()).root)
    assert len(ours) == len(ref.read_bytes())


def test_user_dtb_gets_bootargs_and_initrd(tmp_path: Path) -> None:
    user = fdt.FDT()
    user.add_item(fdt.Node("chosen"))
    user.get_node("/chosen").append(fdt.PropStrings("bootargs", "old"))
    dtb = tmp_path / "user.dtb"
    dtb.write_bytes(user.to_dtb(version=17))
    initrd = tmp_path / "initrd"
    initrd.write_bytes(b"x" * 100)
    m = virt(kernel=str(_kernel(tmp_path)), initrd=str(initrd), dtb=str(dtb), append="new")
    chosen = fdt.parse_dtb(m.address_space_memory.read(0x48200000, 0x1000)).get_node("/chosen")
    assert chosen.get_property("bootargs").value == "new"
    assert chosen.get_property("linux,initrd-end").value == 0x48000000 + 100
    dtb.write_bytes(b"not a dtb")
    with pytest.raises(BootError, match="Couldn't open dtb file"):
        virt(kernel=str(_kernel(tmp_path)), dtb=str(dtb))
