"""The parsed system-mode command line: what ``vl.parse`` produces and the machine builder reads.

Plain data only; nothing here opens a file or a socket. Values that QEMU
passes on to a backend as ``key=value`` lists (chardevs, drives, netdevs,
devices, objects) stay as ordered string dicts for that backend to check.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MachineConfig:
    type: str | None = None  # None: the target's default machine
    props: dict[str, str] = field(default_factory=dict)  # -M NAME,key=value (beyond type)


@dataclass
class MemoryConfig:
    size: int | None = None  # bytes; None: the machine's default
    slots: int = 0
    maxmem: int | None = None


@dataclass
class SmpConfig:
    """-smp as given (None: not given) and, after ``vl.resolve``, the computed topology."""
    given: dict[str, int] = field(default_factory=dict)
    cpus: int = 1
    sockets: int = 1
    dies: int = 1
    clusters: int = 1
    cores: int = 1
    threads: int = 1
    max_cpus: int = 1


@dataclass
class MonitorConfig:
    """One monitor: on a chardev named ``chardev`` (created from ``-monitor``/``-qmp`` legacy syntax
    as ``compat_monitorN`` when ``spec`` is set) in ``readline`` (HMP) or ``control`` (QMP) mode."""
    chardev: str
    mode: str = "readline"
    pretty: bool = False
    spec: str | None = None  # legacy chardev syntax ("stdio", "tcp::4444,server=on", "unix:p,server")
    loc: str | None = None  # the option it came from ("-monitor stdio"), for messages


@dataclass
class IcountConfig:
    shift: int | None = None  # None: "auto"
    align: bool = False
    sleep: bool = True
    rr: str | None = None
    rrfile: str | None = None
    rrsnapshot: str | None = None


@dataclass
class AccelConfig:
    name: str
    props: dict[str, str] = field(default_factory=dict)
    loc: str | None = None  # the option it came from ("-accel kvm"), for messages


@dataclass
class RtcConfig:
    base: str = "utc"  # utc | localtime | ISO date/time
    clock: str = "host"
    driftfix: str = "none"


@dataclass
class BootConfig:
    order: str | None = None
    once: str | None = None
    menu: bool | None = None
    strict: bool = False
    splash: str | None = None
    splash_time: int | None = None
    reboot_timeout: int | None = None


@dataclass
class GlobalProp:
    driver: str
    property: str
    value: str


@dataclass
class Config:
    """Everything the command line asked for, in QEMU's terms."""
    arch: str
    machine: MachineConfig = field(default_factory=MachineConfig)
    cpu: str | None = None
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    smp: SmpConfig = field(default_factory=SmpConfig)
    name: str | None = None
    process_name: str | None = None
    debug_threads: bool = False
    uuid: str | None = None
    start_stopped: bool = False  # -S
    nographic: bool = False
    display: str | None = None  # "none"; None: default (none here: pyqemu has no GUI yet)
    display_opts: dict[str, str] = field(default_factory=dict)
    serials: list[str] = field(default_factory=list)  # legacy chardev specs, in order
    serial_locs: list[str] = field(default_factory=list)  # "-serial SPEC" of each, for messages
    parallels: list[str] = field(default_factory=list)
    monitors: list[MonitorConfig] = field(default_factory=list)
    chardevs: list[dict[str, str]] = field(default_factory=list)  # {"backend":..., "id":..., ...}
    chardev_locs: list[str] = field(default_factory=list)  # "-chardev ARG" of each, for messages
    # Chardev ids in the order QEMU creates them (-chardev and -monitor/-qmp in command-line
    # order, then -nographic's monitor, then -serial); query-chardev's order depends on it.
    chardev_order: list[str] = field(default_factory=list)
    devices: list[dict] = field(default_factory=list)  # {"driver":..., ...} (JSON form may nest)
    drives: list[dict[str, str]] = field(default_factory=list)
    blockdevs: list[dict] = field(default_factory=list)
    # "-device ARG" / "-drive ARG" / "-blockdev ARG" of each entry above, for messages
    device_locs: list[str] = field(default_factory=list)
    drive_locs: list[str] = field(default_factory=list)
    blockdev_locs: list[str] = field(default_factory=list)
    netdevs: list[dict[str, str]] = field(default_factory=list)
    nics: list[dict[str, str]] = field(default_factory=list)
    objects: list[dict] = field(default_factory=list)
    globals: list[GlobalProp] = field(default_factory=list)
    kernel: str | None = None
    initrd: str | None = None
    append: str | None = None
    dtb: str | None = None
    bios: str | None = None
    no_reboot: bool = False
    no_shutdown: bool = False
    log_items: str | None = None
    log_file: str | None = None
    icount: IcountConfig | None = None
    accels: list[AccelConfig] = field(default_factory=list)  # in order of preference
    snapshot: bool = False
    incoming: str | None = None
    daemonize: bool = False
    pidfile: str | None = None
    rtc: RtcConfig = field(default_factory=RtcConfig)
    boot: BootConfig = field(default_factory=BootConfig)
    data_dirs: list[str] = field(default_factory=list)  # -L
    keyboard_layout: str | None = None
    vga: str | None = None
    nodefaults: bool = False
    # QEMU's default_monitor: cleared by -monitor (even "none"), -qmp, -mon, -serial mon:...,
    # -nodefaults; -nographic then puts no HMP monitor on stdio.
    default_monitor: bool = True
    no_user_config: bool = False
    trace: list[dict[str, str]] = field(default_factory=list)
    sandbox: str | None = None
    overcommit: dict[str, bool] = field(default_factory=dict)
    gdb: str | None = None  # -gdb dev / -s
    seed: int | None = None
    machine_class: object | None = None  # machines.MachineClass, set by vl.resolve
