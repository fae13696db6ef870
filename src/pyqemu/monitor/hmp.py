"""The human monitor (HMP): QEMU's ``(qemu)`` prompt, its commands and its line editor.

``HMP`` is the interpreter (one command line in, text out); it also serves
QMP's ``human-monitor-command`` (the ``HMPInterpreter`` protocol). Commands
come from one table, which also drives ``help``; output formats are QEMU
7.2's (monitor/hmp-cmds.c). ``HMPSession`` is a readline monitor on a chardev
(monitor/hmp.c, util/readline.c): it greets on open, echoes and edits input
the way QEMU's readline does on a terminal, and follows the mux focus.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyqemu.monitor import hmp_memory
from pyqemu.monitor.registry import QMPError

_CMD_NAME = re.compile(r"\s*([^\s/]+)(.*)", re.S)  # QEMU's command name ends at a space or '/'
PROMPT = "(qemu) "
HISTORY_MAX = 64

CHR_EVENT_OPENED = 1   # the values of pyqemu.chardev.char's CHR_EVENT_*; the monitor imports no chardev
CHR_EVENT_MUX_IN = 2
CHR_EVENT_MUX_OUT = 3


@dataclass(frozen=True)
class HMPCommand:
    """One table entry: ``name`` may hold aliases (``cont|c``), ``params`` is the help's syntax."""
    name: str
    params: str
    help: str
    handler: Callable[[HMP, str], str]

    def matches(self, word: str) -> bool:
        return word in self.name.split("|")

    def help_line(self, prefix: str = "") -> str:
        return f"{prefix}{self.name} {self.params} -- {self.help}\n"


def _no_args(fn: Callable[[HMP], str]) -> Callable[[HMP, str], str]:
    return lambda hmp, _args: fn(hmp)


class HMP:
    """HMP command interpreter over the monitor's providers.

    ``providers`` is the QMP monitor's ``Providers`` (run state, identity);
    ``version`` its ``Monitor.version()`` result; ``query_chardev`` lists
    chardevs as QMP's ``query-chardev`` does.
    """

    def __init__(self, providers: Any, version: dict[str, Any] | None = None,
                 query_chardev: Callable[[], list[dict[str, Any]]] | None = None,
                 machine: Any = None, qom_root: Any = None) -> None:
        self.providers = providers
        self.version = version or {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""}
        self.query_chardev = query_chardev or (lambda: [])
        # The machine (pyqemu.hw.core.machine.Machine shape): mtree_info, qtree_info,
        # roms.info_roms, physical_read, cpus, and its QOM tree's root for info qom-tree.
        self.machine = machine
        self.qom_root = qom_root  # the QOM tree's root (pyqemu.qom.Object), for info qom-tree
        self.quitting = False  # after ``quit`` the monitor stays silent, as QEMU suspends it
        # x/xp remember the last format and unit size (QEMU's default_fmt_format/size)
        self.default_fmt = "x"
        self.default_size = 4

    @property
    def qemu_version(self) -> str:
        v = self.version["qemu"]
        return f"{v['major']}.{v['minor']}.{v['micro']}"

    # -- dispatch -----------------------------------------------------------------------------
    def execute(self, command_line: str, cpu_index: int | None = None) -> str:
        """Run one command line; its output with ``\\n`` line ends."""
        m = _CMD_NAME.match(command_line)
        if m is None:
            return ""
        name, args = m.group(1), m.group(2).strip()
        cmd = _find(COMMANDS, name)
        if cmd is None:
            return f"unknown command: '{name}'\n"
        if cmd.name == "info":
            return self._info(args)
        if args and cmd.params == "":
            return _extraneous(cmd.name, cmd.name.split("|")[0])
        try:
            return cmd.handler(self, args)
        except QMPError as e:
            return f"Error: {e}\n"

    def _info(self, args: str) -> str:
        if not args:
            return "".join(c.help_line("info ") for c in INFO_COMMANDS)
        words = args.split(None, 1)
        sub = _find(INFO_COMMANDS, words[0])
        if sub is None:
            return f"unknown command: 'info {words[0]}'\n"
        if len(words) > 1 and sub.params == "":
            return _extraneous(sub.name, f"info {sub.name}")
        return sub.handler(self, words[1] if len(words) > 1 else "")

    def _runstate(self) -> Any:
        rs = self.providers.runstate
        if rs is None:
            raise QMPError("no run state")
        return rs

    # -- commands -----------------------------------------------------------------------------
    def cmd_help(self, args: str) -> str:
        words = args.split()
        if not words:
            return "".join(c.help_line() for c in COMMANDS)
        if words[0] == "info":
            if len(words) == 1:
                return "".join(c.help_line("info ") for c in INFO_COMMANDS)
            sub = _find(INFO_COMMANDS, words[1])
            return sub.help_line("info ") if sub else f"unknown command: 'info {words[1]}'\n"
        cmd = _find(COMMANDS, words[0])
        return cmd.help_line() if cmd else f"unknown command: '{words[0]}'\n"

    def cmd_stop(self) -> str:
        self._runstate().stop()
        return ""

    def cmd_cont(self) -> str:
        self._runstate().cont()
        return ""

    def cmd_system_reset(self) -> str:
        self._runstate().system_reset()
        return ""

    def cmd_system_powerdown(self) -> str:
        self._runstate().system_powerdown()
        return ""

    def cmd_quit(self) -> str:
        self.quitting = True
        self._runstate().quit()
        return ""

    def info_status(self) -> str:
        status = self._runstate().status()
        running = status == "running"
        out = f"VM status: {'running' if running else 'paused'}"
        if not running and status != "paused":
            out += f" ({status})"
        return out + "\n"

    def info_version(self) -> str:
        # QEMU prints the package right after the version; its configure makes it " (pkg)".
        pkg = self.version.get("package", "")
        return f"{self.qemu_version}{f' ({pkg})' if pkg else ''}\n"

    def info_name(self) -> str:
        name = self.providers.identity.name
        return f"{name}\n" if name else ""

    def info_uuid(self) -> str:
        return f"{self.providers.identity.uuid}\n"

    def info_chardev(self) -> str:
        return "".join(f"{c['label']}: filename={c['filename']}\n" for c in self.query_chardev())

    def info_mtree(self, args: str) -> str:
        flags = set()
        for word in args.split():
            if word not in ("-f", "-d", "-o", "-D"):
                return (f"mtree: unsupported option {word}\n"
                        "Try \"help info mtree\" for more information\n")
            flags.add(word)
        if self.machine is None:
            return ""
        # -d (the dispatch radix tree) has no counterpart here: the flat view is the dispatch table.
        return self.machine.mtree_info(flat="-f" in flags, owner="-o" in flags, disabled="-D" in flags)

    def info_qtree(self) -> str:
        return self.machine.qtree_info() if self.machine is not None else ""

    def info_roms(self) -> str:
        return self.machine.roms.info_roms() if self.machine is not None else ""

    def _cpus(self) -> list[Any]:
        return list(self.machine.cpus) if self.machine is not None else []

    def info_registers(self, args: str) -> str:
        cpus = self._cpus()
        arg = args.strip()
        if arg == "-a":
            return "".join(f"\nCPU#{i}\n{cpu.dump_registers()}" for i, cpu in enumerate(cpus))
        if arg:
            try:
                index = int(arg, 0)
            except ValueError:
                return ("Invalid parameter type for 'vcpu', expected: integer\n"
                        "Try \"help info registers\" for more information\n")
            if not 0 <= index < len(cpus):
                return f"CPU#{index} not available\n"
            return f"\nCPU#{index}\n{cpus[index].dump_registers()}"
        if not cpus:
            return "No CPU available\n"
        return f"\nCPU#0\n{cpus[0].dump_registers()}"  # QEMU 7.2 heads a single CPU's dump too

    def info_qom_tree(self, args: str) -> str:
        root = self.qom_root
        if root is None:
            return ""
        path = args.strip()
        if not path:
            obj = root.child("machine")
        else:
            from pyqemu.qom.object import AmbiguousPathError, resolve_path  # the QOM tree's own walker
            try:
                obj = resolve_path(root, path)
            except AmbiguousPathError:
                obj = None
            if obj is None:
                return f"Path '{path}' could not be resolved.\n"
        return "".join(_qom_composition(obj, root, 0))

    def cmd_x(self, args: str) -> str:
        return self._memory_dump("x", args, physical=False)

    def cmd_xp(self, args: str) -> str:
        return self._memory_dump("xp", args, physical=True)

    def _memory_dump(self, name: str, args: str, physical: bool) -> str:
        try:
            count, fmt, size, rest = hmp_memory.parse_format(args, self.default_fmt, self.default_size)
            addr, rest = hmp_memory.parse_expr(rest)
        except hmp_memory.ParseError as e:
            return f"{e}\nTry \"help {name}\" for more information\n"
        if rest.strip():
            return _extraneous(name, name)
        self.default_fmt = fmt
        if fmt != "i":
            self.default_size = size
        cpus = self._cpus()
        if not cpus and (fmt == "i" or not physical):
            return "Can not dump without CPU\n"
        if fmt == "i":
            return "Cannot disassemble: no disassembler for this CPU\n"
        if physical:
            read = self.machine.physical_read if self.machine is not None else (lambda a, n: None)
        else:
            read = cpus[0].debug_read_virtual
        return hmp_memory.memory_dump(read, count, fmt, size, addr, physical)


def _qom_composition(obj: Any, root: Any, indent: int) -> list[str]:
    """QEMU's print_qom_composition: the object and its children sorted by name."""
    name = "" if obj is root else obj.name
    out = [f"{' ' * indent}/{name} ({obj.type_name})\n"]
    for _, child in sorted(obj.children(), key=lambda t: t[0].encode()):
        out += _qom_composition(child, root, indent + 2)
    return out


def _find(table: list[HMPCommand], word: str) -> HMPCommand | None:
    return next((c for c in table if c.matches(word)), None)


def _extraneous(name: str, help_name: str) -> str:
    return (f"{name}: extraneous characters at the end of line\n"
            f"Try \"help {help_name}\" for more information\n")


# Sorted by name, as QEMU's help lists them.
COMMANDS: list[HMPCommand] = [
    HMPCommand("cont|c", "", "resume emulation", _no_args(HMP.cmd_cont)),
    HMPCommand("help|?", "[cmd]", "show the help", HMP.cmd_help),
    HMPCommand("info", "[subcommand]", "show various information about the system state",
               lambda h, a: h._info(a)),
    HMPCommand("quit|q", "", "quit the emulator", _no_args(HMP.cmd_quit)),
    HMPCommand("stop|s", "", "stop emulation", _no_args(HMP.cmd_stop)),
    HMPCommand("system_powerdown", "", "send system power down event", _no_args(HMP.cmd_system_powerdown)),
    HMPCommand("system_reset", "", "reset the system", _no_args(HMP.cmd_system_reset)),
    HMPCommand("x", "/fmt addr", "virtual memory dump starting at 'addr'", HMP.cmd_x),
    HMPCommand("xp", "/fmt addr", "physical memory dump starting at 'addr'", HMP.cmd_xp),
]

INFO_COMMANDS: list[HMPCommand] = [
    HMPCommand("chardev", "", "show the character devices", _no_args(HMP.info_chardev)),
    HMPCommand("mtree", "[-f][-d][-o][-D]",
               "show memory tree (-f: dump flat view for address spaces;-d: dump dispatch tree, "
               "valid with -f only);-o: dump region owners/parents;-D: dump disabled regions",
               HMP.info_mtree),
    HMPCommand("name", "", "show the current VM name", _no_args(HMP.info_name)),
    HMPCommand("qom-tree", "[path]", "show QOM composition tree", HMP.info_qom_tree),
    HMPCommand("qtree", "", "show device tree", _no_args(HMP.info_qtree)),
    HMPCommand("registers", "[-a|vcpu]",
               "show the cpu registers (-a: show register info for all cpus; vcpu: specific vCPU "
               "to query; show the current CPU's registers if no argument is specified)",
               HMP.info_registers),
    HMPCommand("roms", "", "show roms", _no_args(HMP.info_roms)),
    HMPCommand("status", "", "show the current VM status (running|paused)", _no_args(HMP.info_status)),
    HMPCommand("uuid", "", "show the current VM UUID", _no_args(HMP.info_uuid)),
    HMPCommand("version", "", "show the version of QEMU", _no_args(HMP.info_version)),
]


class HMPSession:
    """One readline monitor on a chardev: greeting, prompt, echo and line editing.

    ``write`` sends bytes to the chardev. Output turns ``\\n`` into CR LF as
    QEMU's monitor_puts does, and is held back while the mux focus is elsewhere.
    """

    def __init__(self, hmp: HMP, write: Callable[[bytes], Any]) -> None:
        self.hmp = hmp
        self._write = write
        self.buf = ""
        self.cursor = 0
        self._last_buf = ""
        self._last_cursor = 0
        self._esc = 0          # 0 normal, 1 after ESC, 2 in CSI/SS3
        self._esc_param = ""
        self.history: list[str] = []
        self._hist_pos = -1
        self.mux_out = False
        self.reset_seen = False
        self._held: list[str] = []

    # -- output --------------------------------------------------------------------------------
    def puts(self, text: str) -> None:
        text = text.replace("\n", "\r\n")
        if self.mux_out:
            self._held.append(text)
        else:
            self._write(text.encode("utf-8", "replace"))

    def show_prompt(self) -> None:
        self.puts(PROMPT)

    # -- chardev handlers -------------------------------------------------------------------------
    def can_read(self) -> int:
        return 4096

    def event(self, ev: int) -> None:
        if ev == CHR_EVENT_MUX_IN:
            self.mux_out = False
            held, self._held = "".join(self._held), []
            if held:
                self._write(held.encode("utf-8", "replace"))
            if self.reset_seen:
                self._restart()
                self.show_prompt()
        elif ev == CHR_EVENT_MUX_OUT:
            if self.reset_seen:
                self.puts("\n")
            self.mux_out = True
        elif ev == CHR_EVENT_OPENED:
            self.puts(f"QEMU {self.hmp.qemu_version} monitor - type 'help' for more information\n")
            if not self.mux_out:
                self._restart()
                self.show_prompt()
            self.reset_seen = True

    def feed(self, data: bytes) -> None:
        for b in data:
            self.handle_byte(b)

    # -- readline ----------------------------------------------------------------------------------
    def _restart(self) -> None:
        self.buf, self.cursor = "", 0
        self._last_buf, self._last_cursor = "", 0

    def _update(self) -> None:
        """Redraw as QEMU's readline_update: back to the line start, the line, erase to the end."""
        if self.buf != self._last_buf:
            self.puts("\x1b[D" * self._last_cursor + self.buf + "\x1b[K")
            self._last_buf, self._last_cursor = self.buf, len(self.buf)
        if self.cursor != self._last_cursor:
            delta = self.cursor - self._last_cursor
            self.puts("\x1b[C" * delta if delta > 0 else "\x1b[D" * -delta)
            self._last_cursor = self.cursor

    def handle_byte(self, b: int) -> None:
        if self._esc == 1:
            self._esc = 2 if b in (0x5B, 0x4F) else 0   # '[' or 'O'
            self._esc_param = ""
            return
        if self._esc == 2:
            if 0x30 <= b <= 0x39:
                self._esc_param += chr(b)
                return
            self._esc = 0
            self._csi(chr(b))
        elif b in (0x0A, 0x0D):
            self._enter()
            return
        elif b == 0x1B:
            self._esc = 1
            return
        elif b in (0x08, 0x7F):
            if self.cursor > 0:
                self.buf = self.buf[:self.cursor - 1] + self.buf[self.cursor:]
                self.cursor -= 1
        elif b == 0x01:           # Ctrl-A
            self.cursor = 0
        elif b == 0x05:           # Ctrl-E
            self.cursor = len(self.buf)
        elif 0x20 <= b < 0x7F:
            self.buf = self.buf[:self.cursor] + chr(b) + self.buf[self.cursor:]
            self.cursor += 1
        self._update()

    def _csi(self, final: str) -> None:
        if final == "D" and self.cursor > 0:
            self.cursor -= 1
        elif final == "C" and self.cursor < len(self.buf):
            self.cursor += 1
        elif final == "H" or (final == "~" and self._esc_param == "1"):
            self.cursor = 0
        elif final == "F" or (final == "~" and self._esc_param == "4"):
            self.cursor = len(self.buf)
        elif final == "~" and self._esc_param == "3":
            self.buf = self.buf[:self.cursor] + self.buf[self.cursor + 1:]
        elif final in "AB" and self.history:
            self._recall(-1 if final == "A" else 1)

    def _recall(self, step: int) -> None:
        pos = len(self.history) if self._hist_pos < 0 else self._hist_pos
        pos += step
        if pos < 0:
            return
        if pos >= len(self.history):
            self._hist_pos, self.buf = -1, ""
        else:
            self._hist_pos, self.buf = pos, self.history[pos]
        self.cursor = len(self.buf)

    def _enter(self) -> None:
        line = self.buf
        if line and (not self.history or self.history[-1] != line):
            self.history = (self.history + [line])[-HISTORY_MAX:]
        self._hist_pos = -1
        self.puts("\n")
        self._restart()
        self.puts(self.hmp.execute(line))
        if not self.hmp.quitting:
            self.show_prompt()


def attach(dev: Any, hmp: HMP) -> HMPSession:
    """Run a readline monitor on chardev ``dev`` (``-monitor``, ``-mon mode=readline``, ``mon:``)."""
    session = HMPSession(hmp, dev.write)
    dev.set_handlers(session.can_read, session.feed, session.event)
    return session
