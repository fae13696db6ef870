"""Run state and machine facts: query-status, stop, cont, system_reset, system_powerdown, quit,
query-name, query-uuid, query-target, query-kvm, query-machines; and the events they cause."""
from __future__ import annotations

from typing import Any

from pyqemu.monitor.registry import CommandRegistry, QMPError

RUN_STATES = ("debug", "inmigrate", "internal-error", "io-error", "paused", "postmigrate", "prelaunch",
              "finish-migrate", "restore-vm", "running", "save-vm", "shutdown", "suspended", "watchdog",
              "guest-panicked", "colo")
SHUTDOWN_CAUSES = ("none", "host-error", "host-qmp-quit", "host-qmp-system-reset", "host-signal",
                   "host-ui", "guest-shutdown", "guest-reset", "guest-panic", "subsystem-reset",
                   "snapshot-load")


def _runstate(ctx: Any) -> Any:
    rs = ctx.providers.runstate
    if rs is None:
        raise QMPError("no run state to act on")
    return rs


def register(reg: CommandRegistry) -> None:
    reg.enum("RunState", RUN_STATES)
    reg.enum("ShutdownCause", SHUTDOWN_CAUSES)
    for name in ("STOP", "RESUME", "POWERDOWN"):
        reg.event(name)
    reg.event("SHUTDOWN", {"guest": "bool", "reason": "ShutdownCause"})
    reg.event("RESET", {"guest": "bool", "reason": "ShutdownCause"})
    reg.event("GUEST_PANICKED", {"action": "str", "*info": "any"})

    @reg.command("query-status", returns="StatusInfo", allow_preconfig=True)
    def query_status(ctx: Any) -> dict[str, Any]:
        rs = _runstate(ctx)
        # Members in schema order (running, singlestep, status): QEMU's output order follows from it.
        return {"running": rs.is_running(), "singlestep": False, "status": rs.status()}

    @reg.command("stop")
    def stop(ctx: Any) -> None:
        _runstate(ctx).stop()

    @reg.command("cont", allow_preconfig=True)
    def cont(ctx: Any) -> None:
        _runstate(ctx).cont()

    @reg.command("system_reset")
    def system_reset(ctx: Any) -> None:
        _runstate(ctx).system_reset()

    @reg.command("system_powerdown")
    def system_powerdown(ctx: Any) -> None:
        _runstate(ctx).system_powerdown()

    @reg.command("quit", allow_preconfig=True)
    def quit_(ctx: Any) -> None:
        _runstate(ctx).quit()

    @reg.command("query-name", returns="NameInfo", allow_preconfig=True)
    def query_name(ctx: Any) -> dict[str, Any]:
        name = ctx.providers.identity.name
        return {} if name is None else {"name": name}

    @reg.command("query-uuid", returns="UuidInfo", allow_preconfig=True)
    def query_uuid(ctx: Any) -> dict[str, Any]:
        return {"UUID": ctx.providers.identity.uuid}

    @reg.command("query-target", returns="TargetInfo", allow_preconfig=True)
    def query_target(ctx: Any) -> dict[str, Any]:
        return {"arch": ctx.providers.identity.target}

    @reg.command("query-kvm", returns="KvmInfo", allow_preconfig=True)
    def query_kvm(ctx: Any) -> dict[str, Any]:
        ident = ctx.providers.identity
        return {"enabled": ident.kvm_enabled, "present": ident.kvm_present}

    @reg.command("query-cpus-fast", returns="[CpuInfoFast]", allow_preconfig=True)
    def query_cpus_fast(ctx: Any) -> list[dict[str, Any]]:
        return ctx.providers.identity.cpus()

    @reg.command("query-machines", returns="[MachineInfo]", allow_preconfig=True)
    def query_machines(ctx: Any) -> list[dict[str, Any]]:
        return [m.to_qapi() for m in ctx.providers.identity.machines()]
