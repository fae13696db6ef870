"""Protocol-level commands: qmp_capabilities, query-version, query-commands, human-monitor-command."""
from __future__ import annotations

from typing import Any

from pyqemu.monitor.registry import COMMAND_NOT_FOUND, CommandRegistry, QMPError


def register(reg: CommandRegistry) -> None:
    reg.enum("QMPCapability", ["oob"])

    @reg.command("qmp_capabilities", {"*enable": "[QMPCapability]"}, allow_preconfig=True)
    def qmp_capabilities(ctx: Any, enable: list[str] | None = None) -> None:
        if ctx.session.negotiated:
            raise QMPError("Capabilities negotiation is already complete, command ignored",
                           COMMAND_NOT_FOUND)
        ctx.session.negotiate(enable or [])

    @reg.command("query-version", returns="VersionInfo", allow_preconfig=True)
    def query_version(ctx: Any) -> dict[str, Any]:
        return ctx.monitor.version()

    @reg.command("query-commands", returns="[CommandInfo]", allow_preconfig=True)
    def query_commands(ctx: Any) -> list[dict[str, str]]:
        # QEMU prepends while walking its table: newest registration first.
        return [{"name": c.name} for c in reversed(reg.commands()) if c.enabled]

    @reg.command("human-monitor-command", {"command-line": "str", "*cpu-index": "int"}, returns="str")
    def human_monitor_command(ctx: Any, command_line: str, cpu_index: int | None = None) -> str:
        hmp = ctx.providers.hmp
        if hmp is None:
            raise QMPError("The command human-monitor-command has not been found", COMMAND_NOT_FOUND)
        out = hmp.execute(command_line, cpu_index)
        # The HMP monitor turns each newline into CR LF (monitor_puts).
        return out.replace("\n", "\r\n")
