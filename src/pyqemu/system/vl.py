"""pyqemu-system-*: the system emulator's command line (QEMU's softmmu/vl.c).

``OPTIONS`` is the one option table: it drives parsing, ``-h`` and the
generated docs/pyqemu-system.md. Parsing is separate from acting:
``parse()`` turns argv into a ``Config``; ``resolve()`` checks it against the
machine registry (machine type, -smp topology, memory, CPU model); ``main()``
then hands the Config to ``pyqemu.system.machine_run.run``.

As in QEMU, argv is read twice: a first pass rejects unknown options and
missing arguments before any option acts, a second pass runs the handlers in
order. Help requests print to stdout and exit 0 (``-d help`` exits 1, as
QEMU 7.2 does); errors print ``PROG: -opt arg: message`` to stderr and exit 1.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

from pyqemu import __version__
from pyqemu.system import daemon, machines
from pyqemu.system.config import (
    AccelConfig,
    Config,
    GlobalProp,
    IcountConfig,
    MonitorConfig,
)
from pyqemu.util import gc_tuning, log
from pyqemu.util import qemu_opts as qo
from pyqemu.util.qemu_opts import OptDesc, OptsError, OptsList, is_help_option

QEMU_VERSION = "7.2.0"  # the QEMU whose command line this one follows


class VlError(Exception):
    """A command-line error: QEMU's message, the option it is about (``-m foo``) and hint lines."""

    def __init__(self, msg: str, loc: str | None = None, hint: str = "") -> None:
        super().__init__(msg)
        self.loc = loc
        self.hint = hint


class Exit(Exception):  # noqa: N818 - control flow, not an error
    """Stop with this status after printing ``stdout``/``stderr`` (help, version, ...)."""

    def __init__(self, status: int, stdout: str = "", stderr: str = "") -> None:
        super().__init__(status)
        self.status = status
        self.stdout = stdout
        self.stderr = stderr


@dataclass
class Opt:
    name: str
    arg: str | None  # argument synopsis, None for flags
    section: str
    help: str  # description; "\n" separates lines
    handler: Callable[[_State, str], None]
    usage: tuple[str, ...] = ()  # synopsis lines when "-name arg" is not enough
    alias_of: str | None = None  # a synonym: not in -h, "same as" in the docs
    wrap: bool = False  # description below the synopsis even when it is short


# --- option groups (QemuOptsList) --------------------------------------------------------------

def _d(name: str, type_: str = "string", help_: str = "") -> OptDesc:
    return OptDesc(name, type_, help_)


MEMORY = OptsList("memory", "size", (_d("size", "size"), _d("slots", "number"), _d("maxmem", "size")),
                  merge_lists=True)
SMP = OptsList("smp-opts", "cpus", None, merge_lists=True)
NAME = OptsList("name", "guest", (_d("guest", help_="Sets the name of the guest.\n"),
                                  _d("process", help_="Sets the name of the QEMU process, "
                                     "as shown in top etc"),
                                  _d("debug-threads", "bool", "When enabled, name the individual "
                                     "threads; defaults off.\nNOTE: The thread names are for "
                                     "debugging and not a\nstable API.")), merge_lists=True)
CHARDEV = OptsList("chardev", "backend")
MON = OptsList("mon", "chardev", (_d("mode"), _d("chardev"), _d("pretty", "bool")))
DEVICE = OptsList("device", "driver")
DRIVE = OptsList("drive", None)
NETDEV = OptsList("netdev", "type")
NIC = OptsList("nic", "type")
ACCEL = OptsList("accel", "accel")
ICOUNT = OptsList("icount", "shift", (_d("shift"), _d("align", "bool"), _d("sleep", "bool"), _d("rr"),
                                      _d("rrfile"), _d("rrsnapshot")), merge_lists=True)
RTC = OptsList("rtc", None, (_d("base"), _d("clock"), _d("driftfix")), merge_lists=True)
BOOT = OptsList("boot-opts", "order", (_d("order"), _d("once"), _d("menu", "bool"), _d("splash"),
                                       _d("splash-time", "number"), _d("reboot-timeout", "number"),
                                       _d("strict", "bool")), merge_lists=True)
GLOBAL = OptsList("global", None, (_d("driver"), _d("property"), _d("value")))
TRACE = OptsList("trace", "enable", (_d("enable"), _d("events"), _d("file")), merge_lists=True)
SANDBOX = OptsList("sandbox", "enable", None, merge_lists=True)
OVERCOMMIT = OptsList("overcommit", None, (_d("mem-lock", "bool"), _d("cpu-pm", "bool")),
                      merge_lists=True)

SMP_KEYS = ("cpus", "sockets", "dies", "clusters", "cores", "threads", "maxcpus")
# Types QEMU's -netdev/-nic know (net/net.c); which ones run is the network layer's business.
NETDEV_TYPES = ("socket", "stream", "dgram", "hubport", "tap", "user", "l2tpv3")
VGA_TYPES = ("std", "cirrus", "vmware", "qxl", "xenfb", "tcx", "cg3", "virtio", "none")
DISPLAY_TYPES = ("none",)
# Chardev backends of ARCHITECTURE.md's chardev/ package; it checks them when it builds them.
CHARDEV_BACKENDS = ("stdio", "pty", "null", "socket", "file", "mux", "ringbuf")
OBJECT_TYPES: tuple[str, ...] = ()  # user-creatable QOM types: none yet
ACCELS = {"aarch64": ("tcg",), "x86_64": ("tcg", "kvm")}
# Drive keys whose values QemuOpts checks as booleans at parse time (blockdev.c qemu_common_drive_opts).
DRIVE_BOOLS = ("snapshot", "read-only", "readonly", "copy-on-read", "auto-read-only", "force-share")


class _State:
    """Parser state: the Config being built plus QEMU's per-group option stores."""

    def __init__(self, arch: str, prog: str, warn: Callable[[str], None]) -> None:
        self.cfg = Config(arch=arch)
        self.prog = prog
        self.warn_out = warn
        self.loc: str | None = None
        self.warnings: list[str] = []
        self.stores = {g.name: qo.OptsStore(g) for g in (
            MEMORY, SMP, NAME, CHARDEV, MON, DEVICE, DRIVE, NETDEV, NIC, ACCEL, ICOUNT, RTC, BOOT,
            GLOBAL, TRACE, SANDBOX, OVERCOMMIT)}
        self.cpu_help = False
        self.device_help: list[tuple[qo.QemuOpts, str]] = []
        self.monitor_count = 0

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)
        loc = f"{self.loc}: " if self.loc else ""
        self.warn_out(f"{self.prog}: {loc}warning: {msg}\n")

    def add(self, group: OptsList, arg: str, permit_abbrev: bool = True) -> qo.QemuOpts:
        try:
            return self.stores[group.name].add(arg, permit_abbrev, self.warn)
        except qo.HelpRequested:  # QEMU prints the keys, then fails: the option was not parsed
            raise Exit(1, group.help_text() + "\n") from None


# --- handlers ----------------------------------------------------------------------------------

def _h_help(s: _State, _a: str) -> None:
    raise Exit(0, help_text(s.prog, s.cfg.arch) + "\n")


def _h_version(s: _State, _a: str) -> None:
    raise Exit(0, version_text() + "\n")


def _h_machine(s: _State, arg: str) -> None:
    d, want_help = qo.keyval_parse(arg, "type")
    if want_help:
        mc = machines.find_machine(d["type"], s.cfg.arch) if isinstance(d.get("type"), str) else None
        text = machines.machine_props_help(mc) if mc else machines.machine_help(s.cfg.arch)
        raise Exit(0, text + "\n")
    for k, v in d.items():
        if k == "type":
            s.cfg.machine.type = v
        else:
            s.cfg.machine.props[k] = v


def _h_cpu(s: _State, arg: str) -> None:
    s.cfg.cpu = arg
    s.cpu_help = is_help_option(arg)


def _h_memory(s: _State, arg: str) -> None:
    s.add(MEMORY, arg)


def _h_smp(s: _State, arg: str) -> None:
    s.add(SMP, arg)


def _h_name(s: _State, arg: str) -> None:
    opts = s.add(NAME, arg)
    s.cfg.name = opts.get("guest", s.cfg.name)
    s.cfg.process_name = opts.get("process", s.cfg.process_name)
    s.cfg.debug_threads = opts.get_bool("debug-threads", s.cfg.debug_threads)


_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


def _h_uuid(s: _State, arg: str) -> None:
    if not _UUID_RE.match(arg):
        raise VlError("failed to parse UUID string: wrong format")
    s.cfg.uuid = arg.lower()


def _h_display(s: _State, arg: str) -> None:
    d, want_help = qo.keyval_parse(arg, "type")
    if want_help:
        raise Exit(0, "Available display backend types:\n" + "\n".join(DISPLAY_TYPES) + "\n")
    dtype = d.pop("type", None)
    if dtype is None:
        raise VlError("Parameter 'type' is missing")
    if dtype not in DISPLAY_TYPES:
        raise VlError(f"Parameter 'type' does not accept value '{dtype}'")
    for k in d:
        raise VlError(f"Parameter '{k}' is unexpected")
    s.cfg.display = dtype


def _h_monitor_legacy(mode: str, pretty: bool) -> Callable[[_State, str], None]:
    def h(s: _State, arg: str) -> None:
        s.cfg.default_monitor = False
        if arg == "none":
            return
        if arg.startswith("chardev:"):
            s.cfg.monitors.append(MonitorConfig(arg[len("chardev:"):], mode, pretty, loc=s.loc))
            return
        cid = f"compat_monitor{s.monitor_count}"
        s.monitor_count += 1
        s.cfg.chardev_order.append(cid)
        s.cfg.monitors.append(MonitorConfig(cid, mode, pretty, spec=arg, loc=s.loc))
    return h


def _h_mon(s: _State, arg: str) -> None:
    s.cfg.default_monitor = False
    opts = s.add(MON, arg)
    mode = opts.get("mode", "readline")
    chardev = opts.get("chardev")
    if chardev is None:
        raise VlError("Parameter 'chardev' is missing")
    if mode not in ("readline", "control"):
        raise VlError(f"Parameter 'mode' does not accept value '{mode}'")
    s.cfg.monitors.append(MonitorConfig(chardev, mode, opts.get_bool("pretty"), loc=s.loc))


def _h_chardev(s: _State, arg: str) -> None:
    opts = s.add(CHARDEV, arg)
    backend = opts.get("backend")
    if is_help_option(backend):
        raise Exit(0, "Available chardev backend types: \n" + "".join(f"  {b}\n" for b in CHARDEV_BACKENDS))
    if opts.id is None:
        raise VlError("chardev: no id specified")
    s.cfg.chardevs.append(opts.to_dict())
    s.cfg.chardev_locs.append(s.loc or "")
    if opts.get("mux") in ("on", "yes", "true", "y"):  # the base is created first
        s.cfg.chardev_order.append(f"{opts.id}-base")
    s.cfg.chardev_order.append(opts.id)


def _parse_json_or_keyval(arg: str, implied: str) -> tuple[dict, bool]:
    if arg.startswith("{"):
        try:
            d = json.loads(arg)
        except json.JSONDecodeError as e:
            raise VlError(f"JSON parse error, {e.msg}") from None
        if not isinstance(d, dict):
            raise VlError("JSON value must be an object")
        return d, False
    return qo.keyval_parse(arg, implied)


def _h_device(s: _State, arg: str) -> None:
    if arg.startswith("{"):
        d, _ = _parse_json_or_keyval(arg, "driver")
        s.cfg.devices.append(d)
        s.cfg.device_locs.append(s.loc or "")
        return
    opts = s.add(DEVICE, arg)
    driver = opts.get("driver")
    if is_help_option(driver) or opts.has("help") or opts.has("?"):
        s.device_help.append((opts, s.loc or ""))  # QEMU answers help after all options are read
        return
    d = opts.to_dict()
    s.cfg.devices.append(d)
    s.cfg.device_locs.append(s.loc or "")


def _h_drive(s: _State, arg: str) -> None:
    opts = s.add(DRIVE, arg)
    for k in DRIVE_BOOLS:
        if opts.has(k):
            # QEMU renames the legacy 'readonly' before checking it
            qo.parse_bool("read-only" if k == "readonly" else k, opts.get(k) or "")
    s.cfg.drives.append(opts.to_dict())
    s.cfg.drive_locs.append(s.loc or "")


def _h_blockdev(s: _State, arg: str) -> None:
    d, want_help = _parse_json_or_keyval(arg, "driver")
    if want_help:
        raise VlError("Help is not available for this option")
    if "driver" not in d:
        raise VlError("Parameter 'driver' is missing")
    s.cfg.blockdevs.append(d)
    s.cfg.blockdev_locs.append(s.loc or "")


def _h_netdev(s: _State, arg: str) -> None:
    opts = s.add(NETDEV, arg)
    ntype = opts.get("type")
    if is_help_option(ntype):
        raise Exit(0, "Available netdev backend types:\n" + "".join(f"{t}\n" for t in NETDEV_TYPES))
    if opts.id is None:
        raise VlError("Parameter 'id' is missing")
    if ntype not in NETDEV_TYPES:
        raise VlError(f"Parameter 'type' does not accept value '{ntype}'")
    s.cfg.netdevs.append(opts.to_dict())


def _h_nic(s: _State, arg: str) -> None:
    opts = s.add(NIC, arg)
    ntype = opts.get("type")
    if ntype != "none" and ntype not in NETDEV_TYPES:
        raise VlError(f"Parameter 'type' does not accept value '{ntype}'")
    s.cfg.nics.append(opts.to_dict())


def _h_log(s: _State, arg: str) -> None:
    s.cfg.log_items = arg


def _h_icount(s: _State, arg: str) -> None:
    opts = s.add(ICOUNT, arg)
    ic = IcountConfig(align=opts.get_bool("align"), sleep=opts.get_bool("sleep", True))
    shift = opts.get("shift")  # icount_configure's checks, in its order
    if shift is None:
        if opts.has("align"):
            raise VlError("Please specify shift option when using align")
    elif ic.align and not ic.sleep:
        raise VlError("align=on and sleep=off are incompatible")
    elif shift != "auto":
        try:
            n = int(shift, 0)
        except ValueError:
            n = -1
        if not 0 <= n <= 10:  # MAX_ICOUNT_SHIFT
            raise VlError("icount: Invalid shift value")
        ic.shift = n
    # QEMU 7.2 means to refuse shift=auto with align=on or sleep=off, but tests globals
    # not yet set at this point, so it accepts both: so do we.
    ic.rr, ic.rrfile, ic.rrsnapshot = opts.get("rr"), opts.get("rrfile"), opts.get("rrsnapshot")
    s.cfg.icount = ic


_BOOL_WORDS = {"on": "on", "yes": "on", "true": "on", "off": "off", "no": "off", "false": "off"}


def _h_accel(s: _State, arg: str) -> None:
    opts = s.add(ACCEL, arg)
    name = opts.get("accel")
    if is_help_option(name):
        raise Exit(0, "Accelerators supported in QEMU binary:\n"
                   + "".join(f"{a}\n" for a in ACCELS[s.cfg.arch]))
    if name is None:
        raise VlError("No accelerator selected and no default accelerator available")
    props = {k: v for k, v in opts.items if k != "accel"}
    if props.get("thread", "single") not in ("single", "multi"):
        raise VlError(f"Invalid 'thread' setting {props['thread']}")
    if "jit" in props:  # pyqemu's native tier (docs/native-tier.md)
        if name != "tcg":
            raise VlError(f"Property '{name}-accel.jit' not found")
        jit = _BOOL_WORDS.get(props["jit"])
        if jit is None:
            raise VlError("Parameter 'jit' expects 'on' or 'off'")
        props["jit"] = jit
    s.cfg.accels.append(AccelConfig(name, props, s.loc))


def _h_enable_kvm(s: _State, _a: str) -> None:
    s.cfg.accels.append(AccelConfig("kvm"))


def _h_rtc(s: _State, arg: str) -> None:
    s.add(RTC, arg, permit_abbrev=False)


def _h_boot(s: _State, arg: str) -> None:
    s.add(BOOT, arg)


def _h_global(s: _State, arg: str) -> None:
    m = re.fullmatch(r"([^.=]{1,63})\.([^=]{1,63})=(.*)", arg, re.S)
    if m:
        s.cfg.globals.append(GlobalProp(m.group(1), m.group(2), m.group(3)))
        return
    opts = s.add(GLOBAL, arg, permit_abbrev=False)
    s.cfg.globals.append(GlobalProp(opts.get("driver") or "", opts.get("property") or "",
                                    opts.get("value") or ""))


def _h_object(s: _State, arg: str) -> None:
    d, want_help = _parse_json_or_keyval(arg, "qom-type")
    if want_help or is_help_option(d.get("qom-type")):
        raise Exit(0, "List of user creatable objects:\n" + "".join(f"  {t}\n" for t in OBJECT_TYPES))
    if "qom-type" not in d:
        raise VlError("Parameter 'qom-type' is missing")
    if "id" not in d:
        raise VlError("Parameter 'id' is missing")
    s.cfg.objects.append(d)


def _h_trace(s: _State, arg: str) -> None:
    s.cfg.trace.append(s.add(TRACE, arg).to_dict())


def _h_sandbox(s: _State, arg: str) -> None:
    s.cfg.sandbox = s.add(SANDBOX, arg).get("enable")


def _h_overcommit(s: _State, arg: str) -> None:
    opts = s.add(OVERCOMMIT, arg, permit_abbrev=False)
    for k in ("mem-lock", "cpu-pm"):
        if opts.has(k):
            s.cfg.overcommit[k] = opts.get_bool(k)


def _h_data_dir(s: _State, arg: str) -> None:
    if is_help_option(arg):
        dirs = s.cfg.data_dirs or [os.path.join(os.path.dirname(__file__), "..", "pc-bios")]
        raise Exit(0, "".join(f"{d}\n" for d in dirs))
    s.cfg.data_dirs.append(arg)


def _h_vga(s: _State, arg: str) -> None:
    if is_help_option(arg):
        raise Exit(0, "none                 no graphic card\n")
    s.cfg.vga = arg


def _h_hda(s: _State, arg: str) -> None:
    s.cfg.drives.append({"file": arg, "index": "0", "media": "disk"})
    s.cfg.drive_locs.append(s.loc or "")


def _set(attr: str, conv: Callable[[str], object] = str) -> Callable[[_State, str], None]:
    def h(s: _State, arg: str) -> None:
        setattr(s.cfg, attr, conv(arg))
    return h


def _flag(attr: str) -> Callable[[_State, str], None]:
    def h(s: _State, _a: str) -> None:
        setattr(s.cfg, attr, True)
    return h


def _h_serial(s: _State, arg: str) -> None:
    s.cfg.serials.append(arg)
    s.cfg.serial_locs.append(s.loc or "")
    if arg.startswith("mon:"):
        s.cfg.default_monitor = False


def _h_parallel(s: _State, arg: str) -> None:
    s.cfg.parallels.append(arg)
    if arg.startswith("mon:"):
        s.cfg.default_monitor = False


def _h_nodefaults(s: _State, _a: str) -> None:
    s.cfg.nodefaults = True
    s.cfg.default_monitor = False


def _seed(s: _State, arg: str) -> None:
    try:
        s.cfg.seed = int(arg, 0)
    except ValueError:
        raise VlError(f"Invalid seed number: {arg}") from None


def _gdb(dev: str | None) -> Callable[[_State, str], None]:
    def h(s: _State, arg: str) -> None:
        s.cfg.gdb = dev if dev is not None else arg
    return h


# --- the option table --------------------------------------------------------------------------

STD, BLOCK, DISP, NET, CHR, BOOTS, DEBUG, OBJ = (
    "Standard options", "Block device options", "Display options", "Network options",
    "Character device options", "Boot Image or Kernel specific", "Debug/Expert options",
    "Generic object creation")

OPTIONS: list[Opt] = [
    Opt("h", None, STD, "display this help and exit", _h_help, ("-h or -help",)),
    Opt("help", None, STD, "", _h_help, alias_of="h"),
    Opt("version", None, STD, "display version information and exit", _h_version),
    Opt("machine", "[type=]name[,prop[=value][,...]]", STD,
        "selects emulated machine ('-machine help' for list)\n"
        "property accel=accel1[:accel2[:...]] selects accelerator\n"
        "supported accelerators are kvm or tcg (default: tcg)\n"
        "dump-guest-core=on|off include guest memory in a core dump (default=on)\n"
        "mem-merge=on|off controls memory merge support (default: on)\n"
        "suppress-vmdesc=on|off disables self-describing migration (default=off)\n"
        "memory-backend='backend-id' specifies explicitly provided backend for main RAM (default=none)",
        _h_machine),
    Opt("M", "[type=]name[,prop[=value][,...]]", STD, "", _h_machine, alias_of="machine"),
    Opt("cpu", "cpu", STD, "select CPU ('-cpu help' for list)", _h_cpu),
    Opt("accel", "[accel=]accelerator[,prop[=value][,...]]", STD,
        "select accelerator (kvm or tcg; use 'help' for a list)\n"
        "thread=single|multi (enable multi-threaded TCG)\n"
        "jit=on|off (pyqemu: compile hot code to machine code with LLVM; default on with llvmlite)",
        _h_accel),
    Opt("smp", "[[cpus=]n][,maxcpus=maxcpus][,sockets=sockets][,dies=dies][,clusters=clusters]"
        "[,cores=cores][,threads=threads]", STD,
        "set the number of initial CPUs to 'n' [default=1]\n"
        "maxcpus= maximum number of total CPUs, including\n"
        "offline CPUs for hotplug, etc\n"
        "sockets= number of sockets on the machine board\n"
        "dies= number of dies in one socket\n"
        "clusters= number of clusters in one die\n"
        "cores= number of cores in one cluster\n"
        "threads= number of threads in one core", _h_smp),
    Opt("global", "driver.property=value", STD, "set a global default for a driver property",
        _h_global, ("-global driver.property=value", "-global driver=driver,property=property,value=value")),
    Opt("boot", "[order=drives][,once=drives][,menu=on|off]", STD,
        "'drives': floppy (a), hard disk (c), CD-ROM (d), network (n)", _h_boot,
        ("-boot [order=drives][,once=drives][,menu=on|off]",
         "      [,splash=sp_name][,splash-time=sp_time][,reboot-timeout=rb_time][,strict=on|off]")),
    Opt("m", "[size=]megs[,slots=n,maxmem=size]", STD,
        "configure guest RAM\n"
        "size: initial amount of guest memory\n"
        "slots: number of hotplug slots (default: none)\n"
        "maxmem: maximum amount of guest memory (default: none)", _h_memory),
    Opt("k", "language", STD, "use keyboard layout (for example 'fr' for French)", _set("keyboard_layout")),
    Opt("device", "driver[,prop[=value][,...]]", STD,
        "add device (based on driver)\n"
        "prop=value,... sets driver properties\n"
        "use '-device help' to print all possible drivers\n"
        "use '-device driver,help' to print all possible properties", _h_device),
    Opt("name", "string1[,process=string2][,debug-threads=on|off]", STD,
        "set the name of the guest\n"
        "string1 sets the window title and string2 the process name\n"
        "When debug-threads is enabled, individual threads are given a separate name", _h_name),
    Opt("uuid", "%08x-%04x-%04x-%04x-%012x", STD, "specify machine UUID", _h_uuid),
    Opt("blockdev", "[driver=]driver[,node-name=N][,discard=ignore|unmap]", BLOCK,
        "configure a block backend", _h_blockdev,
        ("-blockdev [driver=]driver[,node-name=N][,discard=ignore|unmap]",
         "          [,cache.direct=on|off][,cache.no-flush=on|off]",
         "          [,read-only=on|off][,auto-read-only=on|off]",
         "          [,force-share=on|off][,detect-zeroes=on|off|unmap]",
         "          [,driver specific parameters...]")),
    Opt("drive", "[file=file][,if=type][,bus=n][,unit=m][,media=d][,index=i]", BLOCK,
        "use 'file' as a drive image", _h_drive,
        ("-drive [file=file][,if=type][,bus=n][,unit=m][,media=d][,index=i]",
         "       [,cache=writethrough|writeback|none|directsync|unsafe][,format=f]",
         "       [,snapshot=on|off][,rerror=ignore|stop|report]",
         "       [,werror=ignore|stop|report|enospc][,id=name]",
         "       [,readonly=on|off][,copy-on-read=on|off]",
         "       [,discard=ignore|unmap][,detect-zeroes=on|off|unmap]")),
    Opt("snapshot", None, BLOCK, "write to temporary files instead of disk image files", _flag("snapshot")),
    Opt("display", "none", DISP, "select display backend type\n"
        "(pyqemu has no graphical display: the default is none)", _h_display, wrap=True),
    Opt("nographic", None, DISP, "disable graphical output and redirect serial I/Os to console",
        _flag("nographic")),
    Opt("vga", "[std|cirrus|vmware|qxl|xenfb|tcx|cg3|virtio|none]", DISP, "select video card type", _h_vga),
    Opt("netdev", "type,id=str[,prop=value][,...]", NET,
        "configure a network backend with ID 'str'\n('-netdev help' lists the backend types)", _h_netdev,
        ("-netdev user,id=str[,ipv4=on|off][,net=addr[/mask]][,host=addr]",
         "-netdev tap,id=str[,fd=h][,fds=x:y:...:z][,ifname=name][,script=file][,downscript=dfile]",
         "-netdev socket,id=str[,fd=h][,listen=[host]:port][,connect=host:port]",
         "-netdev hubport,id=str,hubid=n[,netdev=nd]")),
    Opt("nic", "[tap|bridge|user|l2tpv3|vde|vhost-user|socket][,option][,...][mac=macaddr]", NET,
        "initialize an on-board / default host NIC (using MAC address\n"
        "macaddr) and connect it to the given host network backend", _h_nic,
        ("-nic [tap|bridge|user|l2tpv3|vde|vhost-user|socket][,option][,...][mac=macaddr]",)),
    Opt("chardev", "backend,id=id[,prop=value][,...]", CHR,
        "create a character device ('-chardev help' lists backends)", _h_chardev,
        ("-chardev help",
         "-chardev null,id=id[,mux=on|off][,logfile=PATH][,logappend=on|off]",
         "-chardev socket,id=id[,host=host],port=port[,server=on|off][,wait=on|off][,telnet=on|off] (tcp)",
         "-chardev socket,id=id,path=path[,server=on|off][,wait=on|off] (unix)",
         "-chardev file,id=id,path=path[,mux=on|off][,logfile=PATH][,logappend=on|off]",
         "-chardev pty,id=id[,mux=on|off][,logfile=PATH][,logappend=on|off]",
         "-chardev stdio,id=id[,mux=on|off][,signal=on|off][,logfile=PATH][,logappend=on|off]",
         "-chardev ringbuf,id=id[,size=size][,logfile=PATH][,logappend=on|off]")),
    Opt("bios", "file", BOOTS, "set the filename for the BIOS", _set("bios")),
    Opt("kernel", "bzImage", BOOTS, "use 'bzImage' as kernel image", _set("kernel")),
    Opt("append", "cmdline", BOOTS, "use 'cmdline' as kernel command line", _set("append")),
    Opt("initrd", "file", BOOTS, "use 'file' as initial ram disk", _set("initrd")),
    Opt("dtb", "file", BOOTS, "use 'file' as device tree image", _set("dtb")),
    Opt("serial", "dev", DEBUG, "redirect the serial port to char device 'dev'", _h_serial),
    Opt("parallel", "dev", DEBUG, "redirect the parallel port to char device 'dev'", _h_parallel),
    Opt("monitor", "dev", DEBUG, "redirect the monitor to char device 'dev'",
        _h_monitor_legacy("readline", False)),
    Opt("qmp", "dev", DEBUG, "like -monitor but opens in 'control' mode",
        _h_monitor_legacy("control", False)),
    Opt("qmp-pretty", "dev", DEBUG, "like -qmp but uses pretty JSON formatting",
        _h_monitor_legacy("control", True)),
    Opt("mon", "[chardev=]name[,mode=readline|control][,pretty[=on|off]]", DEBUG,
        "attach a monitor to the chardev 'name'", _h_mon),
    Opt("pidfile", "file", DEBUG, "write PID to 'file'", _set("pidfile")),
    Opt("S", None, DEBUG, "freeze CPU at startup (use 'c' to start execution)", _flag("start_stopped")),
    Opt("overcommit", "[mem-lock=on|off][cpu-pm=on|off]", DEBUG,
        "run qemu with overcommit hints (accepted, no effect)", _h_overcommit),
    Opt("gdb", "dev", DEBUG, "accept gdb connection on 'dev'. (QEMU defaults to starting\n"
        "the guest without waiting for gdb to connect; use -S too\n"
        "if you want it to not start execution.)", _gdb(None)),
    Opt("s", None, DEBUG, "shorthand for -gdb tcp::1234", _gdb("tcp::1234")),
    Opt("d", "item1,...", DEBUG, "enable logging of specified items (use '-d help' for a list of log items)",
        _h_log),
    Opt("D", "logfile", DEBUG, "output log to logfile (default stderr)", _set("log_file")),
    Opt("seed", "number", DEBUG, "seed the pseudo-random number generator", _seed),
    Opt("L", "path", DEBUG, "set the directory for the BIOS, VGA BIOS and keymaps", _h_data_dir),
    Opt("enable-kvm", None, DEBUG, "enable KVM full virtualization support", _h_enable_kvm),
    Opt("no-reboot", None, DEBUG, "exit instead of rebooting", _flag("no_reboot")),
    Opt("no-shutdown", None, DEBUG, "stop before shutdown", _flag("no_shutdown")),
    Opt("daemonize", None, DEBUG, "daemonize QEMU after initializing", _flag("daemonize")),
    Opt("rtc", "[base=utc|localtime|<datetime>][,clock=host|rt|vm][,driftfix=none|slew]", DEBUG,
        "set the RTC base and clock, enable drift fix for clock ticks (x86 only)", _h_rtc),
    Opt("icount", "[shift=N|auto][,align=on|off][,sleep=on|off][,rr=record|replay,rrfile=<filename>"
        "[,rrsnapshot=<snapshot>]]", DEBUG,
        "enable virtual instruction counter with 2^N clock ticks per\n"
        "instruction, enable aligning the host and virtual clocks\n"
        "or disable real time cpu sleeping", _h_icount),
    Opt("incoming", "uri", DEBUG,
        "prepare for incoming migration, listen on\nspecified protocol and socket address\n"
        "('defer': wait for the URI to be given by migrate-incoming)", _set("incoming"),
        ("-incoming tcp:[host]:port[,to=maxport][,ipv4=on|off][,ipv6=on|off]", "-incoming unix:socketpath",
         "-incoming fd:fd", "-incoming exec:cmdline", "-incoming defer")),
    Opt("nodefaults", None, DEBUG, "don't create default devices", _h_nodefaults),
    Opt("sandbox", "on|off[,...]", DEBUG, "Enable seccomp mode 2 system call filter (accepted, no effect)",
        _h_sandbox, ("-sandbox on[,obsolete=allow|deny][,elevateprivileges=allow|deny|children]",
                     "          [,spawn=allow|deny][,resourcecontrol=allow|deny]")),
    Opt("no-user-config", None, DEBUG, "do not load default user-provided config files at startup",
        _flag("no_user_config"), wrap=True),
    Opt("trace", "[[enable=]<pattern>][,events=<file>][,file=<file>]", DEBUG,
        "specify tracing options (accepted, no effect)", _h_trace),
    Opt("object", "TYPENAME[,PROP1=VALUE1,...]", OBJ,
        "create a new object of type TYPENAME setting properties\n"
        "in the order they are specified.  Note that the 'id'\n"
        "property must be set.  These objects are placed in the\n"
        "'/objects' path.", _h_object),
]
_BY_NAME = {o.name: o for o in OPTIONS}


def _usage_lines(o: Opt) -> list[str]:
    if o.usage:
        return list(o.usage)
    return [f"-{o.name}" + (f" {o.arg}" if o.arg else "")]


def help_text(prog: str, arch: str) -> str:
    """``-h``: QEMU's layout (sections, synopsis, description indented to column 16)."""
    out = [version_text(), f"usage: {prog} [options] [disk_image]", "",
           "'disk_image' is a raw hard disk image for IDE hard disk 0"]
    section = None
    for o in OPTIONS:
        if o.alias_of:
            continue  # QEMU lists a synonym on its twin's line or not at all
        if o.section != section:
            section = o.section
            out += ["", f"{section}:"]
        usage = _usage_lines(o)
        desc = o.help.split("\n")
        if len(usage) == 1 and len(usage[0]) < 16 and not o.wrap:
            out.append(f"{usage[0]:<16}{desc[0]}")
            desc = desc[1:]
        else:
            out += usage
        out += [" " * 16 + line for line in desc]
    out += ["", "When using -nographic, press 'ctrl-a h' to get some help."]
    return "\n".join(out)


def version_text() -> str:
    # Management tools read the first words ("QEMU emulator version X.Y.Z"): keep them.
    return (f"QEMU emulator version {QEMU_VERSION} (pyqemu {__version__})\n"
            "Copyright (c) 2026 the pyqemu developers")


def render_docs() -> str:
    """docs/pyqemu-system.md, generated from OPTIONS (tests check it is current)."""
    out = ["<!-- Generated by pyqemu.system.vl.render_docs() from the option table. Do not edit. -->",
           "<!-- Regenerate: python -m pyqemu.system.vl --write-docs docs/pyqemu-system.md -->",
           "# pyqemu-system-aarch64, pyqemu-system-x86_64", "",
           "`pyqemu-system-ARCH [options] [disk_image]` emulates a whole machine, with",
           "`qemu-system-ARCH`'s option syntax: `-opt key=value,key=value`, `,,` for a comma",
           "inside a value, an implied first key (`-m 512M` is `-m size=512M`), and `help`",
           "where QEMU offers it (`-M help`, `-cpu help`, `-device help`, `-accel help`).",
           "Errors read `pyqemu-system-aarch64: -opt arg: message` and exit with status 1.", ""]
    section = None
    for o in OPTIONS:
        if o.section != section:
            section = o.section
            out += ["", f"## {section}", "", "| Option | Description |", "| --- | --- |"]
        usage = "<br>".join(f"`{u.strip()}`" for u in _usage_lines(o))
        text = f"same as `-{o.alias_of}`" if o.alias_of else o.help
        desc = "<br>".join(line.strip() for line in text.split("\n")).replace("|", "\\|")
        out.append(f"| {usage.replace('|', chr(92) + '|')} | {desc} |")
    out += ["", "## Log items (`-d`)", "", "| Item | Meaning |", "| --- | --- |"]
    out += [f"| `{k}` | {v} |" for k, v in log.ITEMS.items()]
    out += ["", "## Machines (`-M`)", "", "| Machine | Description | Targets |", "| --- | --- | --- |"]
    seen = {m.name: m for a in ("aarch64", "x86_64") for m in machines.machines(a)}
    out += [f"| `{m.name}` | {m.desc} | {', '.join(m.arches)} |" for m in seen.values()]
    return "\n".join(out) + "\n"


# --- parsing -----------------------------------------------------------------------------------

def _stderr(text: str) -> None:
    sys.stderr.write(text)


def parse(argv: list[str], arch: str = "aarch64", prog: str | None = None,
          warn: Callable[[str], None] = _stderr) -> Config:
    """argv (without the program name) -> Config. Raises VlError or Exit (help and the like).

    Warnings (QEMU's deprecated forms) go to ``warn`` as whole formatted lines.
    """
    prog = prog or f"pyqemu-system-{arch}"
    s = _State(arch, prog, warn)
    steps: list[tuple[Opt | None, str, str]] = []
    i = 0
    while i < len(argv):  # pass 1: every option exists and has its argument
        a = argv[i]
        if not a.startswith("-"):
            steps.append((None, a, a))  # a disk image, like -hda
            i += 1
            continue
        name = a[2:] if a.startswith("--") else a[1:]
        o = _BY_NAME.get(name)
        if o is None:
            raise VlError("invalid option", a)
        if o.arg is not None:
            if i + 1 >= len(argv):
                raise VlError("requires an argument", a)
            steps.append((o, argv[i + 1], f"{a} {argv[i + 1]}"))
            i += 2
        else:
            steps.append((o, "", a))
            i += 1
    for o, arg, loc in steps:  # pass 2: act in order
        s.loc = loc
        try:
            if o is None:
                _h_hda(s, arg)
            else:
                o.handler(s, arg)
        except OptsError as e:
            raise VlError(str(e), loc, e.hint) from None
        except VlError as e:
            if e.loc is None:
                e.loc = loc
            raise
    s.loc = None
    _after_options(s)
    return s.cfg


def _after_options(s: _State) -> None:
    """What QEMU does between reading the options and building the machine (early, help, sugar)."""
    cfg = s.cfg
    if cfg.nographic and cfg.default_monitor:
        cfg.chardev_order.append(f"compat_monitor{s.monitor_count}")
    for i, spec in enumerate(x for x in cfg.serials if x != "none"):  # late backends in QEMU
        cfg.chardev_order += [f"serial{i}-base", f"serial{i}"] if spec.startswith("mon:") else [f"serial{i}"]
    if cfg.log_items is not None:
        items = [i.strip() for i in cfg.log_items.split(",") if i.strip()]
        if not items or any(i not in log.ITEMS and i != "all" for i in items):
            raise Exit(1, _log_help())  # QEMU 7.2 prints the list and exits 1, for "help" too
    if s.cpu_help:
        raise Exit(0, cpu_help(cfg.arch) + "\n")
    if s.device_help:
        opts, loc = s.device_help[0]
        driver = opts.get("driver") or ""
        if is_help_option(driver):
            text = machines.device_list_help(cfg.arch)
            raise Exit(0, text + "\n" if text else "")
        info = machines.find_device(driver, cfg.arch)
        if info is None:
            raise Exit(0, "", f"{s.prog}: {loc}: Device '{driver}' not found\n")
        raise Exit(0, machines.device_props_help(info) + "\n")
    mem = s.stores["memory"].find(None)
    if mem is not None:
        size = mem.get("size")
        if size is not None:
            # A bare number means MiB (vl.c's "legacy suffix-less format").
            n = qo.strtosz(size, "M" if size.strip()[-1:].isdigit() else "B")
            cfg.memory.size = n or None  # -m 0: the machine's default, as in QEMU
        cfg.memory.slots = mem.get_number("slots")
        if mem.has("maxmem"):
            cfg.memory.maxmem = mem.get_size("maxmem")
    smp = s.stores["smp-opts"].find(None)
    if smp is not None:
        cfg.smp.given = smp.to_dict()  # checked against the machine by resolve()
    for key in ("kernel", "initrd", "append", "dtb"):
        if key in cfg.machine.props and getattr(cfg, key) is None:
            setattr(cfg, key, cfg.machine.props[key])
    if "firmware" in cfg.machine.props and cfg.bios is None:
        cfg.bios = cfg.machine.props["firmware"]
    if "accel" in cfg.machine.props and not cfg.accels:
        cfg.accels = [AccelConfig(a) for a in cfg.machine.props["accel"].split(":")]
    rtc = s.stores["rtc"].find(None)
    if rtc is not None:
        cfg.rtc.base = rtc.get("base", "utc") or "utc"
        cfg.rtc.clock = rtc.get("clock", "host") or "host"
        cfg.rtc.driftfix = rtc.get("driftfix", "none") or "none"
    boot = s.stores["boot-opts"].find(None)
    if boot is not None:
        b = cfg.boot
        b.order, b.once = boot.get("order"), boot.get("once")
        b.menu = boot.get_bool("menu") if boot.has("menu") else None
        b.strict = boot.get_bool("strict")
        b.splash = boot.get("splash")
        b.splash_time = boot.get_number("splash-time") if boot.has("splash-time") else None
        b.reboot_timeout = boot.get_number("reboot-timeout") if boot.has("reboot-timeout") else None


def _log_help() -> str:
    return log.help_text() + "\n"


def cpu_help(arch: str) -> str:
    if arch == "aarch64":
        from pyqemu.target.arm.cpu_models import CPU_MODELS
        return "Available CPUs:\n" + "\n".join(f"  {n}" for n in sorted(CPU_MODELS))
    return "Available CPUs:\n" + "\n".join(f"x86 {n:<20} {d}".rstrip() for n, d in X86_CPUS.items())


X86_CPUS = {"max": "Enables all features supported by the accelerator in the current host",
            "qemu64": "QEMU Virtual CPU version 2.5+"}


def _cpu_models(arch: str) -> list[str]:
    if arch == "aarch64":
        from pyqemu.target.arm.cpu_models import CPU_MODELS
        return list(CPU_MODELS)
    return list(X86_CPUS)


# --- resolve: the checks QEMU makes while creating the machine ----------------------------------

_NO_MACHINE_HINT = "Use -machine help to list supported machines"
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2})?\Z")


def _default_serial(cfg: Config, mc: machines.MachineClass) -> None:
    """QEMU's qemu_create_default_devices for the serial port: with -nographic and no -serial,
    a machine with a UART gets ``mon:stdio`` (the monitor muxed with it) or plain ``stdio``."""
    if cfg.serials or mc.no_serial or cfg.nodefaults or not cfg.nographic:
        return
    if cfg.default_monitor:
        cfg.serials.append("mon:stdio")
        cfg.default_monitor = False
        cfg.chardev_order[:] = [c for c in cfg.chardev_order if not c.startswith("compat_monitor")]
        cfg.chardev_order += ["serial0-base", "serial0"]
    else:
        cfg.serials.append("stdio")
        cfg.chardev_order.append("serial0")


def resolve(cfg: Config, warn: Callable[[str], None] = _stderr, prog: str | None = None) -> Config:
    """Select the machine class and compute what depends on it; raise VlError as QEMU would.

    Warnings go to ``warn`` as whole lines starting with ``prog``.
    """
    prog = prog or f"pyqemu-system-{cfg.arch}"
    mname = cfg.machine.type
    if mname is None:
        mc = machines.default_machine(cfg.arch)
        if mc is None:
            raise VlError("No machine specified, and there is no default", hint=_NO_MACHINE_HINT)
    else:
        mc = machines.find_machine(mname, cfg.arch)
        if mc is None:
            raise VlError("unsupported machine type", hint=_NO_MACHINE_HINT)
    cfg.machine_class = mc
    cfg.machine.type = mc.name
    _default_serial(cfg, mc)
    for k in cfg.machine.props:
        if k != "accel" and mc.prop(k.split(".")[0]) is None:
            raise VlError(f"Property '{mc.type_name}.{k}' not found")
    _resolve_accels(cfg, warn, prog)
    _resolve_rtc(cfg)
    _resolve_boot(cfg)
    if cfg.vga is not None and cfg.vga not in VGA_TYPES:
        raise VlError(f"unknown vga type: {cfg.vga}")
    if cfg.memory.size is None:
        cfg.memory.size = mc.default_ram_size
    if cfg.memory.maxmem is not None and cfg.memory.maxmem < cfg.memory.size:
        raise VlError(f"invalid value of maxmem: maximum memory size (0x{cfg.memory.maxmem:x}) must be at "
                      f"least the initial memory size (0x{cfg.memory.size:x})")
    if cfg.memory.slots and cfg.memory.maxmem is None:
        raise VlError("slots specified but no max-size")
    _resolve_smp(cfg, mc, lambda m: warn(f"{prog}: warning: {m}\n"))
    if cfg.cpu is not None and cfg.cpu.split(",")[0] not in _cpu_models(cfg.arch):
        raise VlError(f"unable to find CPU model '{cfg.cpu.split(',')[0]}'")
    return cfg


def _resolve_accels(cfg: Config, warn: Callable[[str], None], prog: str) -> None:
    """configure_accelerators: the first accelerator this binary has wins; others are reported."""
    bad: list[VlError] = []
    for a in cfg.accels:
        if a.name in ACCELS[cfg.arch]:
            break
        bad.append(VlError(f"invalid accelerator {a.name}", a.loc))
    else:
        if bad:
            for e in bad[:-1]:
                warn(format_error(prog, e))
            raise bad[-1]
        return
    for e in bad:
        warn(format_error(prog, e))
    if bad:
        warn(f"{prog}: falling back to {a.name}\n")
    cfg.accels = [a for a in cfg.accels if a.name in ACCELS[cfg.arch]]


def _resolve_rtc(cfg: Config) -> None:
    r = cfg.rtc
    if r.base not in ("utc", "localtime") and not _DATE_RE.match(r.base):
        raise VlError("invalid datetime format",
                      hint="valid formats: '2006-06-17T16:01:21' or '2006-06-17'")
    if r.clock not in ("host", "rt", "vm"):
        raise VlError(f"invalid option value '{r.clock}'")
    if r.driftfix not in ("none", "slew"):
        raise VlError(f"invalid option value '{r.driftfix}'")


def _resolve_boot(cfg: Config) -> None:
    for devs in (cfg.boot.order, cfg.boot.once):
        seen = set()
        for c in devs or "":
            if not "a" <= c <= "p":
                raise VlError(f"Invalid boot device '{c}'")
            if c in seen:
                raise VlError(f"Boot device '{c}' was given twice")
            seen.add(c)


def _resolve_smp(cfg: Config, mc: machines.MachineClass, warn: Callable[[str], None]) -> None:
    """machine_parse_smp_config (hw/core/machine-smp.c, QEMU 7.2), errors included."""
    vals: dict[str, int] = {}
    for k, v in cfg.smp.given.items():
        if k not in SMP_KEYS:
            raise VlError(f"Parameter 'smp.{k}' is unexpected")
        try:
            vals[k] = int(str(v), 0) & 0xFFFFFFFF  # QAPI int into an unsigned field
        except ValueError:
            raise VlError(f"Parameter 'smp.{k}' expects integer") from None
    if any(v == 0 for v in vals.values()):
        warn("Deprecated CPU topology (considered invalid): "
             "CPU topology parameters must be greater than zero")
    cpus, sockets, dies, clusters, cores, threads, maxcpus = (vals.get(k, 0) for k in SMP_KEYS)
    if not mc.dies_supported and dies > 1:
        raise VlError("dies not supported by this machine's CPU topology")
    if not mc.clusters_supported and clusters > 1:
        raise VlError("clusters not supported by this machine's CPU topology")
    dies, clusters = dies or 1, clusters or 1
    if cpus == 0 and maxcpus == 0:
        sockets, cores, threads = sockets or 1, cores or 1, threads or 1
    else:
        maxcpus = maxcpus or cpus
        if cores == 0:  # prefer cores over sockets since 6.2
            sockets, threads = sockets or 1, threads or 1
            cores = maxcpus // (sockets * dies * clusters * threads)
        elif sockets == 0:
            threads = threads or 1
            sockets = maxcpus // (dies * clusters * cores * threads)
        if threads == 0:
            threads = maxcpus // (sockets * dies * clusters * cores)
    maxcpus = maxcpus or sockets * dies * clusters * cores * threads
    cpus = cpus or maxcpus
    topo = f"sockets ({sockets})"
    if mc.dies_supported:
        topo += f" * dies ({dies})"
    if mc.clusters_supported:
        topo += f" * clusters ({clusters})"
    topo += f" * cores ({cores}) * threads ({threads})"
    if sockets * dies * clusters * cores * threads != maxcpus:
        raise VlError(f"Invalid CPU topology: product of the hierarchy must match maxcpus: "
                      f"{topo} != maxcpus ({maxcpus})")
    if maxcpus < cpus:
        raise VlError(f"Invalid CPU topology: maxcpus must be equal to or greater than smp: "
                      f"{topo} == maxcpus ({maxcpus}) < smp_cpus ({cpus})")

    def signed(n: int) -> int:  # QEMU prints these with %d
        return n - (1 << 32) if n >= 1 << 31 else n
    if cpus < mc.min_cpus:
        raise VlError(f"Invalid SMP CPUs {signed(cpus)}. The min CPUs supported by machine "
                      f"'{mc.name}' is {mc.min_cpus}")
    if maxcpus > mc.max_cpus:
        raise VlError(f"Invalid SMP CPUs {signed(maxcpus)}. The max CPUs supported by machine "
                      f"'{mc.name}' is {mc.max_cpus}")
    sm = cfg.smp
    sm.cpus, sm.sockets, sm.dies, sm.clusters, sm.cores, sm.threads, sm.max_cpus = (
        cpus, sockets, dies, clusters, cores, threads, maxcpus)


# --- entry points ------------------------------------------------------------------------------

def format_error(prog: str, e: VlError) -> str:
    loc = f"{e.loc}: " if e.loc else ""
    return f"{prog}: {loc}{e}\n" + (e.hint + "\n" if e.hint else "")


def main(argv: list[str] | None = None, arch: str = "aarch64") -> int:
    """Parse, answer help requests, check the configuration, then run the machine."""
    prog = f"pyqemu-system-{arch}"
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--write-docs"] and len(argv) == 2:
        with open(argv[1], "w") as f:
            f.write(render_docs())
        return 0
    try:
        cfg = resolve(parse(argv, arch, prog), prog=prog)
    except Exit as e:
        sys.stdout.write(e.stdout)
        sys.stderr.write(e.stderr)
        return e.status
    except VlError as e:
        sys.stderr.write(format_error(prog, e))
        return 1
    sys.stdout.flush()
    if importlib.util.find_spec("pyqemu.system.machine_run") is None:
        sys.stderr.write(f"{prog}: running machines is not implemented yet\n")
        return 1
    if cfg.daemonize and cfg.nographic:
        # -nographic means stdio, which a daemon no longer has (vl.c refuses the pair).
        sys.stderr.write(f"{prog}: -nographic cannot be used with -daemonize\n")
        return 1
    if cfg.daemonize:
        daemon.daemonize()  # returns in the daemon only; the caller waits for daemon.setup_post()
    from pyqemu.chardev import char as chardev
    chardev.set_creation_order(cfg.chardev_order)
    if cfg.pidfile is not None:
        try:
            daemon.write_pidfile(cfg.pidfile)
        except daemon.PidfileError as e:
            sys.stderr.write(f"{prog}: cannot create PID file: {e}\n")
            return 1
    machine_run = importlib.import_module("pyqemu.system.machine_run")
    gc_tuning.install()  # (a process of its own: its long-lived objects are the machine's)
    return int(machine_run.run(cfg) or 0)


def main_aarch64() -> int:
    return main(arch="aarch64")


def main_x86_64() -> int:
    return main(arch="x86_64")


if __name__ == "__main__":
    sys.exit(main())
