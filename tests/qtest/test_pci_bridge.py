"""PCI bridges on the virt board: pcie-root-port and pci-bridge config space and write masks
(compared byte for byte with QEMU 7.2), ECAM enumeration behind bridges by their bus numbers,
memory/prefetchable/I/O window forwarding, INTx swizzling through bridges, secondary bus reset,
bus names and QEMU's errors."""
from __future__ import annotations

import pytest
from conftest import unavailable
from qtest_support import QemuQtest, qemu_available
from test_pci import PIO, RAM, SPI_INTX_BASE, PCITestFunction, caps, ecam, spi_pending

from pyqemu.qom.object import QOMError


@pytest.fixture
def virt():  # noqa: ANN201
    from pyqemu.hw.core.machine import create_machine
    from pyqemu.system.machines import find_machine

    _, machine = create_machine(find_machine("virt", "aarch64"), 128 << 20, {})
    return machine


def add(machine, **opts: str):  # noqa: ANN001, ANN201
    from pyqemu.system.qdev_add import device_add
    return device_add(dict(opts), machine)


def fn_on(machine, bus_name: str, addr: str = "0") -> PCITestFunction:  # noqa: ANN001
    from pyqemu.system.qdev_add import find_bus

    dev = PCITestFunction()
    dev.addr = addr
    dev.qdev_realize(find_bus(machine.sysbus, bus_name))
    return dev


def set_buses(s, bus: int, dev: int, primary: int, secondary: int, subordinate: int) -> None:  # noqa: ANN001
    s.store(ecam(bus, dev, 0, 0x18), primary | secondary << 8 | subordinate << 16, 4)


# -- configuration space, compared with QEMU -----------------------------------------------------------
QEMU_DEVICES = ["-device", "pcie-root-port,id=rp1,chassis=1", "-device", "pci-bridge,chassis_nr=3,id=br"]
WMASK_REGS = {1: list(range(0, 0x90, 4)) + list(range(0x100, 0x160, 4)) + [0x200, 0xFFC],
              2: list(range(0, 0x100, 4))}


def _config_dump(t) -> list[object]:  # noqa: ANN001
    """Both functions' config spaces, then what each register reads after all-ones and zero."""
    out: list[object] = [t.memread(ecam(0, 1), 0x1000), t.memread(ecam(0, 2), 0x100),
                         t.readl(ecam(0, 2, 0, 0x100))]
    for d, regs in WMASK_REGS.items():
        for r in regs:
            t.writel(ecam(0, d, 0, r), 0xFFFFFFFF)
            out.append((d, r, t.readl(ecam(0, d, 0, r))))
            t.writel(ecam(0, d, 0, r), 0)
            out.append((d, r, t.readl(ecam(0, d, 0, r))))
    return out


class _Ours:
    def __init__(self, machine) -> None:  # noqa: ANN001
        self.s = machine.address_space_memory

    def memread(self, a: int, n: int) -> bytes:
        return self.s.read(a, n)

    def readl(self, a: int) -> int:
        return self.s.load(a, 4)

    def writel(self, a: int, v: int) -> None:
        self.s.store(a, v, 4)


def test_bridge_config_spaces_match_qemu(virt) -> None:  # noqa: ANN001
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    with QemuQtest(QEMU_DEVICES) as q:
        expected = _config_dump(q)
    add(virt, driver="pcie-root-port", id="rp1", chassis="1")
    add(virt, driver="pci-bridge", id="br", chassis_nr="3")
    virt.reset()
    got = _config_dump(_Ours(virt))
    assert got[:3] == expected[:3]
    assert [x for x in got[3:] if x not in expected[3:]] == []
    assert got == expected


def test_root_port_identity_and_capabilities(virt) -> None:  # noqa: ANN001
    add(virt, driver="pcie-root-port", id="rp1", chassis="1", slot="2", port="5")
    virt.reset()
    s = virt.address_space_memory
    assert s.load(ecam(0, 1), 4) == 0x000C1B36
    assert s.load(ecam(0, 1, 0, 8), 4) == 0x06040000
    assert s.load(ecam(0, 1, 0, 0xE), 1) == 1                # type 1 header
    assert caps(s, 0, 1) == [(0x54, 0x10), (0x48, 0x11), (0x40, 0x0D)]
    assert s.load(ecam(0, 1, 0, 0x60), 4) == 0x05300604      # LNKCAP: port 5, x32 16GT/s
    assert s.load(ecam(0, 1, 0, 0x68), 4) == 0x0012007B      # SLTCAP: physical slot 2
    assert s.load(ecam(0, 1, 0, 0x6E), 2) == 0               # SLTSTA: empty
    assert s.load(ecam(0, 1, 0, 0x100), 4) == 0x14820001     # AER v2 -> ACS at 0x148


def test_populated_root_port_shows_presence_and_link(virt) -> None:  # noqa: ANN001
    """QEMU 7.2 with an x1 endpoint (nvme) behind: SLTSTA.PDS, power indicator on, power on,
    LNKSTA = DLLLA | x1 | 2.5 GT/s (values read from qemu-system-aarch64)."""
    add(virt, driver="pcie-root-port", id="rp1", chassis="1", slot="2", port="5")
    fn_on(virt, "rp1")
    virt.reset()
    s = virt.address_space_memory
    assert s.load(ecam(0, 1, 0, 0x64), 4) == 0x20110000
    assert s.load(ecam(0, 1, 0, 0x6C), 4) == 0x004001C0


def test_pci_bridge_layout(virt) -> None:  # noqa: ANN001
    add(virt, driver="pci-bridge", id="br", chassis_nr="3")
    virt.reset()
    s = virt.address_space_memory
    assert s.load(ecam(0, 1), 4) == 0x00011B36
    assert caps(s, 0, 1) == [(0x4C, 0x05), (0x48, 0x04), (0x40, 0x0C)]   # MSI, slot ID, SHPC
    assert s.load(ecam(0, 1, 0, 0x4B), 1) == 3               # chassis number
    assert s.load(ecam(0, 1, 0, 0x100), 4) == 0xFFFFFFFF     # conventional: 256 bytes


# -- enumeration ----------------------------------------------------------------------------------
def test_ecam_reaches_buses_behind_bridges_by_number(virt) -> None:  # noqa: ANN001
    add(virt, driver="pcie-root-port", id="rp1", chassis="1")
    add(virt, driver="pci-bridge", id="br", chassis_nr="3", bus="rp1")
    fn_on(virt, "br", "3")
    virt.reset()
    s = virt.address_space_memory
    assert s.load(ecam(1, 0), 4) == 0xFFFFFFFF               # bus numbers not programmed yet
    set_buses(s, 0, 1, 0, 1, 2)
    assert s.load(ecam(1, 0), 4) == 0x00011B36               # the pci-bridge on bus 1
    assert s.load(ecam(2, 3), 4) == 0xFFFFFFFF
    set_buses(s, 1, 0, 1, 2, 2)
    assert s.load(ecam(2, 3), 4) == 0x00FE1B36               # the function on bus 2
    assert s.load(ecam(2, 3, 0, 0x100), 4) == 0xFFFFFFFF     # PCIe function on a PCI bus: 256 bytes
    assert s.load(ecam(2, 4), 4) == 0xFFFFFFFF
    assert s.load(ecam(3, 3), 4) == 0xFFFFFFFF               # beyond the subordinate number
    set_buses(s, 0, 1, 0, 1, 1)                              # subordinate 1: bus 2 unreachable
    assert s.load(ecam(2, 3), 4) == 0xFFFFFFFF
    s.store(ecam(2, 3, 0, 0x3C), 0x55, 1)                    # ignored
    set_buses(s, 0, 1, 0, 1, 2)
    assert s.load(ecam(2, 3, 0, 0x3C), 1) == 0


def test_endpoint_behind_root_port_is_a_plain_endpoint(virt) -> None:  # noqa: ANN001
    add(virt, driver="pcie-root-port", id="rp1", chassis="1")
    fn_on(virt, "rp1")
    virt.reset()
    s = virt.address_space_memory
    set_buses(s, 0, 1, 0, 1, 1)
    assert s.load(ecam(1, 0, 0, 0x6E), 2) == 0x0002          # PCIe v2 endpoint (not RC integrated)


# -- forwarding -----------------------------------------------------------------------------------
def test_memory_window_forwards_to_the_secondary_bus(virt) -> None:  # noqa: ANN001
    add(virt, driver="pcie-root-port", id="rp1", chassis="1")
    dev = fn_on(virt, "rp1")
    virt.reset()
    s = virt.address_space_memory
    set_buses(s, 0, 1, 0, 1, 1)
    s.store(ecam(1, 0, 0, 0x10), 0x10200000, 4)
    s.store(ecam(1, 0, 0, 4), 0x2, 2)
    assert dev.bar_address(0) == 0x10200000                  # decoded on its own bus...
    assert s.load(0x10200000, 4) == 0xFFFFFFFF               # ...but the bridge does not forward
    s.store(ecam(0, 1, 0, 0x20), 0x102F1020, 4)              # memory window 0x10200000-0x102fffff
    assert s.load(0x10200000, 4) == 0xFFFFFFFF               # COMMAND.MEMORY of the bridge is off
    s.store(ecam(0, 1, 0, 4), 0x2, 2)
    s.store(0x10200020, 0x5EC0DA7A, 4)
    assert dev.bar0.ram[0x20:0x24] == (0x5EC0DA7A).to_bytes(4, "little")
    s.store(ecam(0, 1, 0, 0x20), 0x103F1030, 4)              # window moved away
    assert s.load(0x10200020, 4) == 0xFFFFFFFF
    s.store(ecam(0, 1, 0, 0x20), 0x102F1020, 4)
    s.store(ecam(0, 1, 0, 4), 0x0, 2)
    assert s.load(0x10200020, 4) == 0xFFFFFFFF


def test_prefetchable_64bit_and_io_windows(virt) -> None:  # noqa: ANN001
    add(virt, driver="pcie-root-port", id="rp1", chassis="1")
    dev = fn_on(virt, "rp1")
    virt.reset()
    s = virt.address_space_memory
    set_buses(s, 0, 1, 0, 1, 1)
    s.store(ecam(1, 0, 0, 0x18), 0x0010000C, 4)              # BAR2 (64-bit) at 0x80_0010_0000
    s.store(ecam(1, 0, 0, 0x1C), 0x80, 4)
    s.store(ecam(1, 0, 0, 0x14), 0x2000, 4)                  # BAR1 (I/O) at 0x2000
    s.store(ecam(1, 0, 0, 4), 0x3, 2)
    s.store(ecam(0, 1, 0, 0x24), 0x00110001, 4)              # prefetchable 0x80_0000_0000 - +2 MiB
    s.store(ecam(0, 1, 0, 0x28), 0x80, 4)
    s.store(ecam(0, 1, 0, 0x2C), 0x80, 4)
    s.store(ecam(0, 1, 0, 0x1C), 0x2020, 2)                  # I/O 0x2000-0x2fff
    s.store(ecam(0, 1, 0, 4), 0x3, 2)
    s.store(0x8000100008, 0x0123456789ABCDEF, 8)
    assert dev.bar2.ram[8:16] == (0x0123456789ABCDEF).to_bytes(8, "little")
    s.store(PIO + 0x2003, 0x99, 1)
    assert dev.bar1.ram[3] == 0x99
    s.store(ecam(0, 1, 0, 4), 0x2, 2)                        # I/O forwarding off
    assert s.load(PIO + 0x2003, 1) == 0xFF


# -- interrupts, DMA, reset -----------------------------------------------------------------------
def test_intx_swizzles_at_each_bridge(virt) -> None:  # noqa: ANN001
    add(virt, driver="pcie-root-port", id="rp1", chassis="1")              # 00:01.0
    add(virt, driver="pci-bridge", id="br", chassis_nr="3", addr="3")      # 00:03.0
    behind_rp = fn_on(virt, "rp1")                                         # slot 0
    behind_br = fn_on(virt, "br", "1")                                     # slot 1
    virt.reset()
    s = virt.address_space_memory
    behind_rp.set_irq(1)                      # INTA -> (0+0)%4 = A at the port -> (0+1)%4 = B
    assert spi_pending(s, SPI_INTX_BASE + 1)
    behind_rp.set_irq(0)
    assert not spi_pending(s, SPI_INTX_BASE + 1)
    behind_br.set_irq(1)                      # INTA -> (0+1)%4 = B at the bridge -> (1+3)%4 = A
    assert spi_pending(s, SPI_INTX_BASE + 0)
    behind_br.set_irq(0)
    assert not spi_pending(s, SPI_INTX_BASE + 0)


def test_dma_behind_a_bridge(virt) -> None:  # noqa: ANN001
    add(virt, driver="pcie-root-port", id="rp1", chassis="1")
    dev = fn_on(virt, "rp1")
    virt.reset()
    s = virt.address_space_memory
    set_buses(s, 0, 1, 0, 1, 1)
    s.store(ecam(1, 0, 0, 4), 0x4, 2)
    s.write(RAM + 0x3000, b"behind")
    assert dev.dma_read(RAM + 0x3000, 6) == b"behind"


def test_secondary_bus_reset(virt) -> None:  # noqa: ANN001
    add(virt, driver="pcie-root-port", id="rp1", chassis="1")
    fn_on(virt, "rp1")
    virt.reset()
    s = virt.address_space_memory
    set_buses(s, 0, 1, 0, 1, 1)
    s.store(ecam(1, 0, 0, 4), 0x6, 2)
    s.store(ecam(0, 1, 0, 0x3E), 0x0040, 2)                  # SECONDARY BUS RESET 0 -> 1
    assert s.load(ecam(1, 0, 0, 4), 2) == 0
    assert s.load(ecam(0, 1, 0, 0x19), 1) == 1               # the bridge itself keeps its numbers


def test_machine_reset_clears_bus_numbers_and_windows(virt) -> None:  # noqa: ANN001
    add(virt, driver="pcie-root-port", id="rp1", chassis="1")
    fn_on(virt, "rp1")
    virt.reset()
    s = virt.address_space_memory
    set_buses(s, 0, 1, 0, 1, 1)
    s.store(ecam(0, 1, 0, 0x20), 0x102F1020, 4)
    virt.reset()
    assert s.load(ecam(0, 1, 0, 0x18), 4) == 0
    assert s.load(ecam(0, 1, 0, 0x20), 4) == 0x0000FFF0      # disabled: base above limit
    assert s.load(ecam(1, 0), 4) == 0xFFFFFFFF


# -- names and errors -----------------------------------------------------------------------------
def test_secondary_bus_names(virt) -> None:  # noqa: ANN001
    a = add(virt, driver="pcie-root-port", chassis="1")
    b = add(virt, driver="pcie-root-port", id="rp1", chassis="2")
    c = add(virt, driver="pci-bridge", chassis_nr="3")
    assert [a.sec_bus.bus_name, b.sec_bus.bus_name, c.sec_bus.bus_name] == ["pcie.0", "rp1", "pci.0"]
    assert (b.sec_bus.TYPE, c.sec_bus.TYPE) == ("PCIE", "PCI")
    dev = add(virt, driver="pci-bridge", id="br2", chassis_nr="4", bus="rp1")
    assert dev.parent_bus is b.sec_bus


def test_qemu_errors(virt) -> None:  # noqa: ANN001
    with pytest.raises(QOMError, match="Bridge chassis not specified"):
        add(virt, driver="pci-bridge")
    add(virt, driver="pcie-root-port", chassis="1")
    with pytest.raises(QOMError, match="Can't add chassis slot, error -16"):
        add(virt, driver="pcie-root-port", chassis="1")
    add(virt, driver="pcie-root-port", chassis="1", slot="1")
    with pytest.raises(QOMError, match=r"^Property 'pci-bridge.addr' doesn't take value '1.8'$"):
        add(virt, driver="pci-bridge", chassis_nr="5", addr="1.8")
    add(virt, driver="pci-bridge", chassis_nr="5", addr="4", id="b5")
    with pytest.raises(QOMError, match=r"slot 4 function 0 not available for pci-bridge, in use by "
                                       r"pci-bridge,id=b5"):
        add(virt, driver="pci-bridge", chassis_nr="6", addr="4")
    with pytest.raises(QOMError, match=r"single function device can't be populated in function 4.1"):
        add(virt, driver="pci-bridge", chassis_nr="6", addr="4.1")


def test_multifunction(virt) -> None:  # noqa: ANN001
    add(virt, driver="pcie-root-port", chassis="1", addr="5.1")
    with pytest.raises(QOMError, match=r"5.0 indicates single function, but 5.1 is already populated"):
        add(virt, driver="pcie-root-port", chassis="2", addr="5")
    add(virt, driver="pcie-root-port", chassis="2", addr="5", multifunction="on")
    virt.reset()
    s = virt.address_space_memory
    assert s.load(ecam(0, 5, 0, 0xE), 1) == 0x81
    assert s.load(ecam(0, 5, 1, 0xE), 1) == 0x01
    assert s.load(ecam(0, 5, 1), 4) == 0x000C1B36


def _slot_command_sequence(t) -> list[int]:  # noqa: ANN001
    """A root port's hot-plug command-completed interrupt through its MSI-X vector (what Linux's
    pciehp waits for): SLTSTA after each command, whether SPI 48 fired, SLTSTA after clearing CC."""
    out = []
    t.writel(ecam(0, 1, 0, 0x10), 0x10400000)               # BAR0: MSI-X table
    t.writew(ecam(0, 1, 0, 4), 0x6)
    t.writel(0x10400000, 0x08020040)                        # GICv2m SETSPI_NS
    t.writel(0x10400008, 80)                                # INTID 80 = SPI 48
    t.writel(0x1040000C, 0)
    t.writew(ecam(0, 1, 0, 0x4A), 0x8000)                   # MSI-X enable
    t.fired()
    for ctl in (0x07C0, 0x07F8, 0x07F8, 0x06F8, 0x06E8):
        t.writew(ecam(0, 1, 0, 0x6C), ctl)                  # a command
        out += [t.readw(ecam(0, 1, 0, 0x6E)), t.fired()]
        t.writew(ecam(0, 1, 0, 0x6E), 0x10)                 # clear CC
        out += [t.readw(ecam(0, 1, 0, 0x6E)), t.fired()]
    return out


def test_slot_command_completion_interrupt_matches_qemu(virt) -> None:  # noqa: ANN001
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    with QemuQtest(["-device", "pcie-root-port,id=rp1,chassis=1,slot=1"]) as q:
        q.intercept_gic()                                   # SPI pulses are reported

        def qemu_fired() -> int:
            seen = 48 in q.spi
            q.spi.clear()
            return int(seen)

        q.fired = qemu_fired   # type: ignore[attr-defined]
        expected = _slot_command_sequence(q)
    add(virt, driver="pcie-root-port", id="rp1", chassis="1", slot="1")
    virt.reset()
    s = virt.address_space_memory
    s.store(0x08000100 + 8, 1 << 16, 4)                     # GIC: INTID 80 enabled, pends on a pulse

    class T:
        readw = staticmethod(lambda a: s.load(a, 2))
        writew = staticmethod(lambda a, v: s.store(a, v, 2))
        writel = staticmethod(lambda a, v: s.store(a, v, 4))

        @staticmethod
        def fired() -> int:
            seen = spi_pending(s, 48)
            s.store(0x08000280 + 8, 1 << 16, 4)             # ICPENDR
            return int(seen)

    got = _slot_command_sequence(T)
    assert got == expected
    assert expected[4:6] == [0x10, 1]                       # HPIE|CCIE: the interrupt came


def _shpc_sequence(t) -> list[int]:  # noqa: ANN001
    """pci-bridge 00:02.0 with a pci-bridge in its slot 3: the SHPC registers through the config
    window and BAR 0, a slot command, its completion interrupt on INTA (SPI 3 + 2) and W1C."""
    br = 2
    out = []

    def window(i: int) -> int:
        t.writeb(ecam(0, br, 0, 0x42), i)
        return t.readl(ecam(0, br, 0, 0x44))

    out += [window(i) for i in range(0x28)]
    t.writel(ecam(0, br, 0, 0x10), 0x10400000)
    t.writew(ecam(0, br, 0, 4), 0x2)
    out += [t.readl(0x10400000 + 4 * i) for i in range(0x28)] + [t.readb(0x10400024 + 8)]
    t.writel(0x10400014, 0x0308)                             # slot 3: power indicator blinks
    out += [t.readl(0x10400014), t.readl(0x10400018), t.readl(0x10400020), t.readl(0x1040002C),
            t.irq()]
    t.writel(0x10400020, 0x00010000)                          # clear CMD_DETECTED; ints still off
    t.writel(0x10400020, 0x0)                                # enable command interrupts
    t.writel(0x10400014, 0x0336)                             # slot 3: enable, power on, attn blink
    out += [t.readl(0x10400018), t.readl(0x10400020), t.readl(0x1040002C), t.irq()]
    t.writel(0x10400020, 0x00010000)                          # W1C: the line drops
    out += [t.readl(0x10400018), t.irq()]
    t.writeb(ecam(0, br, 0, 0x42), 0x5)                      # CMD code/target/status via the window
    t.writel(ecam(0, br, 0, 0x44), 0x1F01)                   # invalid target 0x1f
    out += [t.readl(ecam(0, br, 0, 0x44)), t.readl(0x10400018), t.irq()]
    return out


def test_shpc_matches_qemu(virt) -> None:  # noqa: ANN001
    if not qemu_available():
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) is not installed")
    devices = ["-device", "pcie-root-port,id=rp1,chassis=1", "-device", "pci-bridge,id=br,chassis_nr=3",
               "-device", "pci-bridge,id=br2,chassis_nr=4,bus=br,addr=3"]
    with QemuQtest(devices) as q:
        q.intercept_gic()
        q.irq = lambda: q.spi.get(SPI_INTX_BASE + 2, 0)     # type: ignore[attr-defined]
        expected = _shpc_sequence(q)
    add(virt, driver="pcie-root-port", id="rp1", chassis="1")
    add(virt, driver="pci-bridge", id="br", chassis_nr="3")
    add(virt, driver="pci-bridge", id="br2", chassis_nr="4", bus="br", addr="3")
    virt.reset()
    s = virt.address_space_memory

    class T:
        readb = staticmethod(lambda a: s.load(a, 1))
        readw = staticmethod(lambda a: s.load(a, 2))
        readl = staticmethod(lambda a: s.load(a, 4))
        writeb = staticmethod(lambda a, v: s.store(a, v, 1))
        writew = staticmethod(lambda a, v: s.store(a, v, 2))
        writel = staticmethod(lambda a, v: s.store(a, v, 4))
        irq = staticmethod(lambda: int(spi_pending(s, SPI_INTX_BASE + 2)))

    assert _shpc_sequence(T) == expected
    assert (expected[89], expected[91]) == (1, 0)           # the completion raised INTA, W1C dropped it


def test_shpc_refuses_slot_0(virt) -> None:  # noqa: ANN001
    add(virt, driver="pci-bridge", id="br", chassis_nr="3")
    with pytest.raises(QOMError, match=r"^Unsupported PCI slot 0 for standard hotplug controller. "
                                       r"Valid slots are between 1 and 31.$"):
        add(virt, driver="pci-bridge", chassis_nr="4", bus="br")
    add(virt, driver="pci-bridge", id="plain", chassis_nr="5", shpc="off")
    add(virt, driver="pci-bridge", chassis_nr="6", bus="plain")
