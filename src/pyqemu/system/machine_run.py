"""Bring a parsed configuration to life: main loop, run state, chardevs, monitors.

Only the machine-independent parts exist so far (``-M none``): the run state,
the main loop, chardevs from ``-chardev``, and QMP monitors from ``-qmp`` /
``-mon mode=control``, and HMP monitors (``-monitor``, ``-mon mode=readline``,
``-serial mon:...``, ``-nographic``). Boards and devices come with later work.
"""
from __future__ import annotations

import sys
from typing import Any

from pyqemu.chardev import char as chardev
from pyqemu.chardev.socket import ServedSocketChardev
from pyqemu.monitor import hmp as hmp_mod
from pyqemu.monitor.commands.qom import QOMTreeView
from pyqemu.monitor.providers import VMIdentity
from pyqemu.monitor.qmp import Monitor, Providers, QMPServer
from pyqemu.monitor.runstate_link import VMRunStateProvider
from pyqemu.qom.object import QOMError
from pyqemu.system import daemon, machines
from pyqemu.system import main_loop as main_loop_mod
from pyqemu.system import runstate as rs_mod
from pyqemu.system.config import Config, MonitorConfig
from pyqemu.system.main_loop import MainLoop
from pyqemu.util import log


class StartupError(Exception):
    """The machine cannot start; the message is QEMU-style, without the program name."""


def _progname(cfg: Config) -> str:
    return f"pyqemu-system-{cfg.arch}"


def _qmp_on_socket(opts: dict, monitor: Monitor, pretty: bool) -> tuple[QMPServer, bool]:
    """A QMP server for a legacy ``server=on`` socket spec; returns (server, wait for a client)."""
    if "path" in opts:
        address = opts["path"]
    else:
        address = (opts.get("host") or "0.0.0.0", int(opts["port"]))
    wait = opts.get("wait", "on") in ("on", "yes", "true", "")
    return QMPServer(address, monitor, pretty=pretty), wait


def _attach_qmp_to_chardev(chr_id: str, monitor: Monitor, pretty: bool) -> None:
    """QMP on any chardev (stdio, pty, a client socket, ...): a fresh session, greeted, per opening.

    As QEMU's monitor_qmp_event(): a reconnected peer negotiates capabilities anew.
    """
    dev = chardev.chardev_find(chr_id)
    if dev is None:
        raise StartupError(f"-mon: chardev '{chr_id}' not found")
    current: list = []

    def feed(data: bytes) -> None:
        if current:
            current[0].feed(data)

    def event(ev: int) -> None:
        if ev in (chardev.CHR_EVENT_OPENED, chardev.CHR_EVENT_CLOSED) and current:
            current.pop().close()
        if ev == chardev.CHR_EVENT_OPENED:
            current.append(monitor.session(dev.write, pretty=pretty))
            current[0].greet()

    dev.set_handlers(lambda: 4096, feed, event)


def run(cfg: Config) -> int:
    """Run the configured machine until it quits; returns the exit status."""
    prog = _progname(cfg)
    if cfg.log_items:
        log.set_mask(cfg.log_items)
    if cfg.log_file:
        log.set_file(cfg.log_file)
    rs = rs_mod.set_current(rs_mod.VMRunState())
    rs.no_shutdown = cfg.no_shutdown
    rs.no_reboot = cfg.no_reboot
    loop = MainLoop(rs)
    if cfg.icount is not None:  # -icount: the virtual clock follows executed instructions
        loop.configure_icount("auto" if cfg.icount.shift is None else cfg.icount.shift, cfg.icount.sleep)
    main_loop_mod.set_main(loop)  # chardevs poll their fds on main_loop.get()
    # Before any chardev or monitor exists: a SIGTERM during startup is a clean shutdown, as in QEMU.
    loop.install_signal_handlers()
    identity = VMIdentity(name=cfg.name, target=cfg.arch)
    if cfg.uuid:
        identity.uuid = cfg.uuid
    tcg = None
    if cfg.arch == "aarch64":
        from pyqemu.system import arm_tcg as tcg  # ARM boards get TCG vCPUs from here
        tcg.install(next((a.props.get("jit") for a in cfg.accels if a.name == "tcg"), None))
    from pyqemu.system import drives
    try:
        qom_root, machine = build_machine(cfg)
        machine.reset()  # QEMU's startup reset: images into memory, CPUs at their entry points
    except drives.DriveHelp as e:
        sys.stdout.write(str(e))
        return 0
    except (StartupError, drives.DriveError) as e:
        sys.stderr.write(f"{prog}: {e}\n")
        return 1
    except OSError as e:
        sys.stderr.write(f"{prog}: cannot set up guest memory 'ram': {e.strerror}\n")
        return 1
    except QOMError as e:  # a board that refuses its configuration
        sys.stderr.write(f"{prog}: {e}\n")
        return 1
    identity.cpus = machine.query_cpus_fast
    rs.register_reset(lambda _cause: machine.reset())
    monitor = Monitor(Providers(identity=identity, qom=QOMTreeView(qom_root)))
    monitor.providers.runstate = VMRunStateProvider(rs, monitor.events)
    from pyqemu.chardev import qmp_commands as chardev_qmp  # the chardev subsystem's QMP commands
    chardev_qmp.register(monitor.registry)
    monitor.providers.hmp = hmp_mod.HMP(monitor.providers, monitor.version(), chardev_qmp.query_chardev_list,
                                        machine=machine, qom_root=qom_root)
    servers: list[tuple[QMPServer, bool]] = []
    try:
        for i, opts in enumerate(cfg.chardevs):
            chardev.chardev_new(dict(opts), cfg.chardev_locs[i] if i < len(cfg.chardev_locs) else None)
        _setup_serials(cfg, monitor)
        for m in _monitors(cfg):
            _setup_monitor(m, monitor, servers, prog)
        if tcg is not None:
            serials = [chardev.chardev_find(f"serial{i}") for i, spec in enumerate(
                x for x in cfg.serials if x != "none")]
            tcg.connect_serials(machine, serials)
    except (StartupError, chardev.ChardevError, OSError, ValueError, QOMError) as e:
        sys.stderr.write(f"{prog}: {e}\n")
        return 1
    for server, wait in servers:
        loop.aio.run_until_complete(server.start())
        if wait:
            sys.stderr.write(f"{prog}: waiting for a QMP connection on {server.address}\n")
            loop.run_until(lambda s=server: s.accepted > 0, timeout=float("inf"))
    daemon.setup_post(keep_stderr=cfg.log_file is not None)  # -daemonize: initialised, detach
    from pyqemu.chardev import mux as mux_mod
    mux_mod.muxes_realized()
    if tcg is not None:
        tcg.start(machine, loop)
    if not cfg.start_stopped:
        rs.vm_start()
    try:
        status = loop.run()
    finally:
        if tcg is not None:
            tcg.report_counts(machine)
            tcg.save_code_cache(machine)
        for server, _ in servers:
            server.close_clients()
            loop.aio.run_until_complete(server.close())
        drives.close_all()   # bdrv_close_all: in-flight requests done, images flushed and closed
        chardev.chardev_close_all()
        loop.close()
    return status


def build_machine(cfg: Config) -> tuple[Any, Any]:
    """Drives, the board, then -device and the devices drives ask for: (QOM root, machine).
    Raises StartupError / drives.DriveError / QOMError with QEMU's message (option included)."""
    from pyqemu.qom import device as qdev
    qdev.set_global_props([(g.driver, g.property, g.value) for g in cfg.globals])
    _open_drives(cfg)
    qom_root, machine = machines.create_from_config(cfg)  # QOM tree, memory map, board
    _create_devices(cfg, machine)
    for warning in qdev.unused_global_warnings():
        sys.stderr.write(f"{_progname(cfg)}: warning: {warning}\n")
    return qom_root, machine


def _open_drives(cfg: Config) -> None:
    """-blockdev and -drive backends (system/drives.py), before the board that uses them."""
    from pyqemu.system import drives
    mc = cfg.machine_class
    drives.open_drives(cfg, getattr(mc, "block_default_type", "none") if mc else "none",
                       getattr(mc, "default_drives", ()) if mc else ())


def _create_devices(cfg: Config, machine: Any) -> None:
    """-device in command-line order, then the devices -drive if=virtio asks for (QEMU appends
    them to the -device list), then the unused-drive check. Messages carry the option."""
    from pyqemu.system import drives
    from pyqemu.system.qdev_add import device_add
    for i, opts in enumerate(cfg.devices):
        loc = cfg.device_locs[i] if i < len(cfg.device_locs) else "-device " + ",".join(
            f"{k}={v}" for k, v in opts.items())
        try:
            device_add(dict(opts), machine)
        except QOMError as e:
            raise StartupError(f"{loc}: {e}") from None
    drives.create_drive_devices(machine)


def _monitors(cfg: Config) -> list[MonitorConfig]:
    """The configured monitors, plus -nographic's default HMP on stdio (QEMU's default_monitor).

    With ``-M none`` there is no default serial port, so QEMU puts a plain
    (not muxed) monitor on stdio rather than ``-serial mon:stdio``.
    """
    if cfg.nographic and cfg.default_monitor:
        return [MonitorConfig("compat_monitor0", "readline", spec="stdio")]
    return cfg.monitors


def _setup_serials(cfg: Config, monitor: Monitor) -> None:
    """``-serial`` chardevs (``serialN``); ``mon:`` ones also carry an HMP monitor.

    No machine has a serial port yet, so the monitor is the only mux frontend.
    """
    locs = dict(zip(cfg.serials, cfg.serial_locs, strict=False))
    for i, spec in enumerate(s for s in cfg.serials if s != "none"):
        try:
            dev = chardev.chardev_new(chardev.parse_compat(spec, f"serial{i}"), locs.get(spec))
        except chardev.ChardevError as e:  # QEMU's serial_parse() adds its own line
            loc = f"{locs[spec]}: " if spec in locs else ""
            raise StartupError(f"{e}\n{_progname(cfg)}: {loc}could not connect serial device to "
                               f"character backend '{spec}'") from None
        if spec.startswith("mon:"):
            _attach_hmp_to_chardev(dev.id, monitor)


def _attach_hmp_to_chardev(chr_id: str, monitor: Monitor) -> None:
    dev = chardev.chardev_find(chr_id)
    if dev is None:
        raise StartupError(f"-mon: chardev '{chr_id}' not found")
    assert isinstance(monitor.providers.hmp, hmp_mod.HMP)
    hmp_mod.attach(dev, monitor.providers.hmp)


def _setup_monitor(m: MonitorConfig, monitor: Monitor, servers: list, prog: str) -> None:
    if m.mode != "control":
        if m.spec is not None:
            chardev.chardev_new(chardev.parse_compat(m.spec, m.chardev), m.loc)
        _attach_hmp_to_chardev(m.chardev, monitor)
        return
    if m.spec is not None:
        opts = chardev.parse_compat(m.spec, m.chardev)
        if opts.get("backend") == "socket" and chardev.opt_bool(opts, "server", False):
            server, wait = _qmp_on_socket(opts, monitor, m.pretty)
            servers.append((server, wait))
            # Listed as QEMU lists its socket chardev for -qmp (query-chardev, info chardev).
            chardev.chardev_add(ServedSocketChardev(m.chardev, opts, lambda: [
                c.transport.get_extra_info("socket") for c in server.connections if c.transport]))
            return
        chardev.chardev_new(opts, m.loc)  # a client socket connects out here
    _attach_qmp_to_chardev(m.chardev, monitor, m.pretty)
