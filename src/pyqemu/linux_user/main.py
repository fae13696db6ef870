"""pyqemu-aarch64 / pyqemu-arm: run an AArch64 or 32-bit ARM Linux program on this host
(QEMU's linux-user).

Options are described once, in ``OPTIONS``: the table drives parsing, the
environment-variable twins (``QEMU_*`` and ``PYQEMU_*``) and ``-h``.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from pyqemu import __version__
from pyqemu.util import log

PROG = "pyqemu-aarch64"
ARCH = "aarch64"  # the guest architecture of this command (main_arm switches to "arm")


@dataclass
class Opt:
    name: str
    env: str | None
    arg: str | None  # argument name, or None for flags
    help: str
    handler: Callable[[Settings, str], None]


class UsageError(Exception):
    pass


class Settings:
    def __init__(self) -> None:
        self.ld_prefix: str | None = None
        self.stack_size = 8 << 20
        self.cpu = "max"
        self.set_env: list[tuple[str, str]] = []
        self.unset_env: list[str] = []
        self.argv0: str | None = None
        self.uname_release: str | None = None
        self.log_items = ""
        self.log_file: str | None = None
        self.strace = False
        self.one_insn_per_tb = False
        self.gdb_port: str | None = None
        self.seed: int | None = None
        self.exit_now: int | None = None
        self.target = ARCH


def parse_size(text: str) -> int:
    t = text.strip().lower()
    mult = 1
    if t and t[-1] in "kmg":
        mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[t[-1]]
        t = t[:-1]
    try:
        v = int(t, 0)
    except ValueError:
        raise UsageError(f"invalid size '{text}'") from None
    if v <= 0:
        raise UsageError(f"invalid size '{text}'")
    return v * mult


def _help(s: Settings, _arg: str) -> None:
    print(usage())
    s.exit_now = 0


def _version(s: Settings, _arg: str) -> None:
    print(f"{PROG} version {__version__} (pyqemu, compatible with qemu-{ARCH} 7.2)\n"
          "Copyright (c) 2026 the pyqemu developers")
    s.exit_now = 0


def _set_env(s: Settings, arg: str) -> None:
    for item in arg.split(","):
        if "=" not in item:
            raise UsageError(f"invalid environment variable assignment '{item}'")
        k, v = item.split("=", 1)
        s.set_env.append((k, v))


def _cpu(s: Settings, arg: str) -> None:
    from pyqemu.target.arm.cpu_models import CPU_MODELS
    if ARCH == "arm":
        from pyqemu.linux_user.arm.cpu_models import ARM_CPU_MODELS as CPU_MODELS
    if arg in ("help", "?"):
        print("Available CPUs:")
        for name in CPU_MODELS:
            print(f"  {name}")
        s.exit_now = 0
        return
    if arg not in CPU_MODELS:
        raise UsageError(f"unable to find CPU model '{arg}'")
    s.cpu = arg


def _log(s: Settings, arg: str) -> None:
    if arg in ("help", "?"):
        print(log.help_text())
        s.exit_now = 0
        return
    try:
        log.set_mask(arg)
    except ValueError:
        print(log.help_text())
        s.exit_now = 1
        return
    s.log_items = arg
    if log.enabled("strace"):
        s.strace = True


def _seed(s: Settings, arg: str) -> None:
    try:
        s.seed = int(arg, 0)
    except ValueError:
        raise UsageError(f"Invalid seed number: {arg}") from None


def _set(attr: str, conv: Callable[[str], object] = str) -> Callable[[Settings, str], None]:
    def h(s: Settings, arg: str) -> None:
        setattr(s, attr, conv(arg))
    return h


def _flag(attr: str) -> Callable[[Settings, str], None]:
    def h(s: Settings, _arg: str) -> None:
        setattr(s, attr, True)
    return h


def _ignored(s: Settings, _arg: str) -> None:
    pass


OPTIONS: list[Opt] = [
    Opt("h", None, None, "print this help", _help),
    Opt("help", None, None, "", _help),
    Opt("g", "QEMU_GDB", "port", "wait gdb connection to 'port'", _set("gdb_port")),
    Opt("L", "QEMU_LD_PREFIX", "path", "set the elf interpreter prefix to 'path'", _set("ld_prefix")),
    Opt("s", "QEMU_STACK_SIZE", "size", "set the stack size to 'size' bytes", _set("stack_size", parse_size)),
    Opt("cpu", "QEMU_CPU", "model", "select CPU (-cpu help for list)", _cpu),
    Opt("E", "QEMU_SET_ENV", "var=value", "sets targets environment variable (see below)", _set_env),
    Opt("U", "QEMU_UNSET_ENV", "var", "unsets targets environment variable (see below)",
        lambda s, a: s.unset_env.extend(a.split(","))),
    Opt("0", "QEMU_ARGV0", "argv0", "forces target process argv[0] to be 'argv0'", _set("argv0")),
    Opt("r", "QEMU_UNAME", "uname", "set qemu uname release string to 'uname'", _set("uname_release")),
    Opt("B", "QEMU_GUEST_BASE", "address", "set guest_base address to 'address' (accepted, unused)",
        _ignored),
    Opt("R", "QEMU_RESERVED_VA", "size", "reserve 'size' bytes for guest virtual address space "
        "(accepted, unused)", _ignored),
    Opt("d", "QEMU_LOG", "item[,...]", "enable logging of specified items "
        "(use '-d help' for a list of items)", _log),
    Opt("dfilter", "QEMU_DFILTER", "range[,...]", "filter logging based on address range", _ignored),
    Opt("D", "QEMU_LOG_FILENAME", "logfile", "write logs to 'logfile' (default stderr)", _set("log_file")),
    Opt("p", "QEMU_PAGESIZE", "pagesize", "set the host page size to 'pagesize'", _ignored),
    Opt("one-insn-per-tb", "QEMU_ONE_INSN_PER_TB", None, "run with one guest instruction per emulated TB",
        _flag("one_insn_per_tb")),
    Opt("singlestep", "QEMU_SINGLESTEP", None, "deprecated synonym for -one-insn-per-tb",
        _flag("one_insn_per_tb")),
    Opt("strace", "QEMU_STRACE", None, "log system calls", _flag("strace")),
    Opt("seed", "QEMU_RAND_SEED", "seed", "Seed for pseudo-random number generator", _seed),
    Opt("version", "QEMU_VERSION", None, "display version information and exit", _version),
]
_BY_NAME = {o.name: o for o in OPTIONS}


def usage() -> str:
    lines = [f"usage: {PROG} [options] program [arguments...]",
             f"Linux CPU emulator (compiled for {ARCH} emulation)", "",
             "Options and associated environment variables:", "",
             f"{'Argument':<21}{'Env-variable':<18}Description"]
    for o in OPTIONS:
        arg = f"-{o.name}" + (f" {o.arg}" if o.arg else "")
        lines.append(f"{arg:<21}{o.env or '':<18}{o.help}".rstrip())
    lines += ["", "Defaults:", f"QEMU_LD_PREFIX  = /etc/qemu-binfmt/{ARCH}",
              "QEMU_STACK_SIZE = 8388608 byte", "",
              "Every QEMU_* variable may also be spelled PYQEMU_*."]
    return "\n".join(lines)


def parse_args(argv: list[str], environ: dict[str, str]) -> tuple[Settings, list[str]]:
    s = Settings()
    for o in OPTIONS:
        if o.env is None:
            continue
        for env in (o.env, "PY" + o.env):
            if env in environ:
                val = environ[env]
                if o.arg is None:
                    o.handler(s, "")
                else:
                    o.handler(s, val)
                if s.exit_now is not None:
                    return s, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-") or a == "-":
            break
        i += 1
        name = a.lstrip("-")
        if a == "--":
            break
        o = _BY_NAME.get(name)
        if o is None:
            raise UsageError(f"unknown option '{name}'")
        val = ""
        if o.arg is not None:
            if i >= len(argv):
                raise UsageError(f"missing argument for option '{name}'")
            val = argv[i]
            i += 1
        o.handler(s, val)
        if s.exit_now is not None:
            return s, []
    return s, argv[i:]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings, rest = parse_args(argv, dict(os.environ))
    except UsageError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 1
    if settings.exit_now is not None:
        return settings.exit_now
    if not rest:
        sys.stderr.write(f"{PROG}: no user program specified\n")
        return 1
    if settings.log_file:
        try:
            log.set_file(settings.log_file)
        except OSError as e:
            sys.stderr.write(f"{PROG}: can't open log file {settings.log_file}: {e.strerror}\n")
            return 1
    if settings.gdb_port and ARCH != "aarch64":
        sys.stderr.write(f"{PROG}: -g (gdbstub) is not supported yet for {ARCH}\n")
        return 1
    from pyqemu.linux_user.run import run_program
    return run_program(settings, rest)


def main_arm(argv: list[str] | None = None) -> int:
    """pyqemu-arm: the same options and environment variables, for 32-bit ARM (EABI) programs."""
    global PROG, ARCH
    PROG, ARCH = "pyqemu-arm", "arm"
    return main(argv)


if __name__ == "__main__":
    sys.exit(main())
