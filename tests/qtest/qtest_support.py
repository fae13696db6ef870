"""Device tests at the MMIO level, QEMU qtest style.

``Bench`` builds devices on a tiny machine (a system memory region, its
address space and a system bus) and records the levels of the IRQ lines it
wires. ``QemuQtest`` drives the real ``qemu-system-aarch64 -M virt`` through
its qtest protocol (``-qtest stdio``) so a test can run the same accesses on
both and compare, with the GIC's inputs intercepted to watch IRQ levels.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Sequence

from pyqemu.hw.core.irq import IRQ
from pyqemu.hw.core.sysbus import SysBusDevice, SystemBus
from pyqemu.memory import ADDR_SPACE_END, AddressSpace, MemoryRegion

QEMU = "qemu-system-aarch64"


class IrqProbe:
    """Input lines that remember their level and every change."""

    def __init__(self, n: int = 1) -> None:
        self.levels = [0] * n
        self.history: list[tuple[int, int]] = []
        self.lines = [IRQ(self._set, i) for i in range(n)]

    def _set(self, n: int, level: int) -> None:
        self.levels[n] = level
        self.history.append((n, level))

    def __getitem__(self, n: int) -> int:
        return self.levels[n]


class SpaceAccess:
    """qtest's accessors (readb..writeq, memread/memwrite) on ``self.space``, so a test or a
    test driver runs the same accesses on pyqemu as on ``QemuQtest``."""

    space: AddressSpace

    def readb(self, a: int) -> int:
        return self.space.load(a, 1)

    def readw(self, a: int) -> int:
        return self.space.load(a, 2)

    def readl(self, a: int) -> int:
        return self.space.load(a, 4)

    def readq(self, a: int) -> int:
        return self.space.load(a, 8)

    def writeb(self, a: int, v: int) -> None:
        self.space.store(a, v, 1)

    def writew(self, a: int, v: int) -> None:
        self.space.store(a, v, 2)

    def writel(self, a: int, v: int) -> None:
        self.space.store(a, v, 4)

    def writeq(self, a: int, v: int) -> None:
        self.space.store(a, v, 8)

    def memread(self, a: int, n: int) -> bytes:
        return self.space.read(a, n)

    def memwrite(self, a: int, data: bytes) -> None:
        self.space.write(a, data)


class Bench(SpaceAccess):
    """A machine with nothing but the devices a test maps (qtest's tiny board)."""

    def __init__(self, ram_base: int | None = None, ram_size: int = 0x10000) -> None:
        self.memory = MemoryRegion.container_region("system", ADDR_SPACE_END)
        self.space = AddressSpace(self.memory, "memory")
        self.bus = SystemBus(self.memory)
        if ram_base is not None:
            self.ram = MemoryRegion.ram_region("ram", ram_size)
            self.memory.add_subregion(ram_base, self.ram)

    def add(self, dev: SysBusDevice, *bases: int, irqs: int = 0) -> IrqProbe:
        """Realize ``dev``, map its banks at ``bases`` and wire ``irqs`` outputs to a probe."""
        dev.qdev_realize(self.bus)
        for n, base in enumerate(bases):
            dev.mmio_map(n, base)
        probe = IrqProbe(irqs)
        for n in range(irqs):
            dev.connect_irq(n, probe.lines[n])
        dev.reset()
        return probe

    def destroy(self) -> None:
        self.space.destroy()


def qemu_available() -> bool:
    return shutil.which(QEMU) is not None


def poll_until(cond: Callable[[], bool], timeout: float = 5.0, interval: float = 0.001) -> bool:
    """Poll ``cond`` in real time until it holds (True) or ``timeout`` seconds pass (False):
    real QEMU completes requests from its own threads and timers, not at our command."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(interval)
    return True


class QemuQtest:
    """Real QEMU 7.2 ``-M virt`` under qtest; ``intercept_gic()`` records SPI levels."""

    GIC_PATH = "/machine/unattached/device[1]"   # arm_gic on virt, as info qom-tree shows

    def __init__(self, extra: Sequence[str] = (), *, serial: str = "none") -> None:
        self.proc = subprocess.Popen(
            [QEMU, "-M", "virt", "-display", "none", "-nic", "none", "-monitor", "none",
             "-serial", serial, "-qtest", "stdio", "-qtest-log", "/dev/null", *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.spi: dict[int, int] = {}

    def cmd(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        while True:
            reply = self.proc.stdout.readline()
            if not reply:
                raise RuntimeError(f"qemu exited: {self.proc.stderr.read() if self.proc.stderr else ''}")
            reply = reply.strip()
            if reply.startswith("IRQ "):   # asynchronous: "IRQ raise N" / "IRQ lower N"
                _, what, n = reply.split()
                self.spi[int(n)] = 1 if what == "raise" else 0
                continue
            if not reply.startswith("OK"):
                raise RuntimeError(f"qtest: {line!r} -> {reply!r}")
            return reply

    def intercept_gic(self) -> None:
        self.cmd(f"irq_intercept_in {self.GIC_PATH}")

    def _val(self, line: str) -> int:
        return int(self.cmd(line).split()[1], 16)

    def readb(self, a: int) -> int:
        return self._val(f"readb 0x{a:x}")

    def readw(self, a: int) -> int:
        return self._val(f"readw 0x{a:x}")

    def readl(self, a: int) -> int:
        return self._val(f"readl 0x{a:x}")

    def readq(self, a: int) -> int:
        return self._val(f"readq 0x{a:x}")

    def writeb(self, a: int, v: int) -> None:
        self.cmd(f"writeb 0x{a:x} 0x{v:x}")

    def writew(self, a: int, v: int) -> None:
        self.cmd(f"writew 0x{a:x} 0x{v:x}")

    def writel(self, a: int, v: int) -> None:
        self.cmd(f"writel 0x{a:x} 0x{v:x}")

    def writeq(self, a: int, v: int) -> None:
        self.cmd(f"writeq 0x{a:x} 0x{v:x}")

    def memread(self, a: int, n: int) -> bytes:
        return bytes.fromhex(self.cmd(f"read 0x{a:x} {n}").split()[1][2:])

    def memwrite(self, a: int, data: bytes) -> None:
        self.cmd(f"write 0x{a:x} {len(data)} 0x{data.hex()}")

    def clock_step(self, ns: int) -> None:
        self.cmd(f"clock_step {ns}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()

    def __enter__(self) -> QemuQtest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


SPEC_DTS = "/work/shared/specs/virt-aarch64.dts"
_spec_tree = None


def spec_node(path: str):  # type: ignore[no-untyped-def]
    """A node of the device tree QEMU 7.2's virt generates (specs/virt-aarch64.dts)."""
    import os

    import fdt

    global _spec_tree
    if _spec_tree is None:
        here = os.path.dirname(os.path.abspath(__file__))
        local = os.path.join(here, "virt-aarch64.dts")
        with open(local if os.path.exists(local) else SPEC_DTS) as f:
            _spec_tree = fdt.parse_dts(f.read())
    return _spec_tree.get_node(path)


def node_summary(node) -> list:  # type: ignore[no-untyped-def]
    """A node as comparable data: its name, its properties in order with their encoded
    values (strings NUL-separated, cells as integers) and its subnodes, recursively."""
    import fdt

    props = []
    for p in node.props:
        if isinstance(p, fdt.PropStrings):
            value: object = "\0".join(p.data).replace("\\0", "\0")
        elif isinstance(p, fdt.PropWords):
            value = list(p.data)
        elif isinstance(p, fdt.PropBytes):
            value = bytes(p.data)
        else:
            value = None
        props.append((p.name, value))
    return [node.name, props, [node_summary(n) for n in node.nodes]]


_qemu_qtree: str | None = None


def qemu_qtree_device(type_name: str, nth: int = 0) -> list[str]:
    """The ``info qtree`` lines of the ``nth`` device of ``type_name`` on QEMU's -M virt
    (without its mmio lines: where a device is mapped is the board's business)."""
    global _qemu_qtree
    if _qemu_qtree is None:
        out = subprocess.run([QEMU, "-M", "virt", "-display", "none", "-nic", "none", "-S",
                              "-monitor", "stdio", "-serial", "null"],
                             input="info qtree\nquit\n", capture_output=True, text=True, timeout=30)
        _qemu_qtree = out.stdout
    blocks: list[list[str]] = []
    lines = _qemu_qtree.replace("\r", "").splitlines()
    for i, line in enumerate(lines):
        if line.strip() == f'dev: {type_name}, id ""':
            indent = len(line) - len(line.lstrip())
            block = []
            for nxt in lines[i + 1:]:
                if len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                block.append(nxt.strip())
            blocks.append([b for b in block if not b.startswith("mmio ")])
    return blocks[nth]


def qtree_device(dev) -> list[str]:  # type: ignore[no-untyped-def]
    """Our ``info qtree`` lines for ``dev``, in the same shape as ``qemu_qtree_device``."""
    return [x.strip() for x in dev.qtree_lines(0)[1:] if not x.strip().startswith("mmio ")]
