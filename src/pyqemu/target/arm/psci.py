"""PSCI 1.1 firmware calls, done by the emulator itself as QEMU's ``virt`` does.

The guest calls ``HVC #0`` (or ``SMC #0``, whichever the device tree names as
the conduit) with the function ID in x0 and arguments in x1..x3; the result
goes to x0. A board provides the machine-level actions (:class:`PSCIHost`);
this module implements the calling convention and per-CPU power states.
Function IDs and return codes: Arm DEN0022 (PSCI) and DEN0028 (SMCCC).
"""
from __future__ import annotations

from typing import Any, Protocol

PSCI_VERSION = 0x84000000
CPU_SUSPEND_32, CPU_SUSPEND_64 = 0x84000001, 0xC4000001
CPU_OFF = 0x84000002
CPU_ON_32, CPU_ON_64 = 0x84000003, 0xC4000003
AFFINITY_INFO_32, AFFINITY_INFO_64 = 0x84000004, 0xC4000004
MIGRATE_INFO_TYPE = 0x84000006
SYSTEM_OFF = 0x84000008
SYSTEM_RESET = 0x84000009
PSCI_FEATURES = 0x8400000A
SMCCC_VERSION = 0x80000000

SUCCESS = 0
NOT_SUPPORTED = -1
INVALID_PARAMETERS = -2
DENIED = -3
ALREADY_ON = -4
ON_PENDING = -5
INTERNAL_FAILURE = -6
NOT_PRESENT = -7
DISABLED = -8

AFFINITY_ON, AFFINITY_OFF, AFFINITY_ON_PENDING = 0, 1, 2
MIGRATE_TRUSTED_OS_NOT_PRESENT = 2

VERSION_1_1 = 0x00010001
M64 = 0xFFFFFFFFFFFFFFFF

SUPPORTED = frozenset({PSCI_VERSION, CPU_SUSPEND_32, CPU_SUSPEND_64, CPU_OFF, CPU_ON_32, CPU_ON_64,
                       AFFINITY_INFO_32, AFFINITY_INFO_64, MIGRATE_INFO_TYPE, SYSTEM_OFF,
                       SYSTEM_RESET, PSCI_FEATURES})


class PSCIHost(Protocol):
    """What the machine does for PSCI: power the system off or reset it; find CPUs."""

    def system_off(self) -> None: ...

    def system_reset(self) -> None: ...

    def cpus(self) -> list[Any]: ...


def _ret(cpu: Any, value: int) -> None:
    cpu.regs[0] = value & M64


def call(host: PSCIHost, cpu: Any) -> bool:
    """Handle the PSCI call in ``cpu``'s x0..x3. False: not a PSCI/SMCCC function ID."""
    r = cpu.regs
    fn = r[0] & 0xFFFFFFFF
    if fn == SMCCC_VERSION:
        _ret(cpu, NOT_SUPPORTED)  # SMCCC v1.0 (QEMU 7.2): the call itself is not implemented
        return True
    if (fn & 0xBFFFFFE0) != 0x84000000:
        return False
    if fn == PSCI_VERSION:
        _ret(cpu, VERSION_1_1)
    elif fn == PSCI_FEATURES:
        _ret(cpu, SUCCESS if (r[1] & 0xFFFFFFFF) in SUPPORTED else NOT_SUPPORTED)
    elif fn == MIGRATE_INFO_TYPE:
        _ret(cpu, MIGRATE_TRUSTED_OS_NOT_PRESENT)
    elif fn in (SYSTEM_OFF, SYSTEM_RESET):
        # The CPU stops here, as QEMU's: the machine shuts down or resets before it runs again.
        host.system_off() if fn == SYSTEM_OFF else host.system_reset()
        cpu.halted = True
        _ret(cpu, SUCCESS)
    elif fn in (CPU_ON_32, CPU_ON_64):
        _ret(cpu, _cpu_on(host, r[1], r[2] if fn == CPU_ON_64 else r[2] & 0xFFFFFFFF, r[3]))
    elif fn == CPU_OFF:
        cpu.power_off()
        _ret(cpu, SUCCESS)  # not seen by the guest: the CPU stays off until CPU_ON
    elif fn in (AFFINITY_INFO_32, AFFINITY_INFO_64):
        target = _find(host, r[1])
        if r[2] & 0xFFFFFFFF:
            _ret(cpu, INVALID_PARAMETERS)  # only the lowest affinity level (as QEMU)
        elif target is None:
            _ret(cpu, INVALID_PARAMETERS)
        else:
            _ret(cpu, AFFINITY_OFF if target.powered_off else AFFINITY_ON)
    elif fn in (CPU_SUSPEND_32, CPU_SUSPEND_64):
        cpu.halt_until_interrupt()  # a power-down state is treated as standby (as QEMU)
        _ret(cpu, SUCCESS)
    else:
        _ret(cpu, NOT_SUPPORTED)
    return True


def _find(host: PSCIHost, mpidr: int) -> Any | None:
    aff = mpidr & 0xFF00FFFFFF
    for c in host.cpus():
        if c.mpidr & 0xFF00FFFFFF == aff:
            return c
    return None


def _cpu_on(host: PSCIHost, mpidr: int, entry: int, context_id: int) -> int:
    target = _find(host, mpidr)
    if target is None:
        return INVALID_PARAMETERS
    if not target.powered_off:
        return ALREADY_ON
    target.power_on(entry, context_id)
    return SUCCESS
