"""Bring a parsed configuration to life: main loop, run state, chardevs, monitors.

Only the machine-independent parts exist so far (``-M none``): the run state,
the main loop, chardevs from ``-chardev``, and QMP monitors from ``-qmp`` /
``-mon mode=control``, and HMP monitors (``-monitor``, ``-mon mode=readline``,
``-serial mon:...``, ``-nographic``). Boards and devices come with later work.
"""
from __future__ import annotations

import sys

from pyqemu.chardev import char as chardev
from pyqemu.monitor import hmp as hmp_mod
from pyqemu.monitor.providers import StubQOMTree, VMIdentity
from pyqemu.monitor.qmp import Monitor, Providers, QMPServer
from pyqemu.monitor.runstate_link import VMRunStateProvider
from pyqemu.system import main_loop as main_loop_mod
from pyqemu.system import runstate as rs_mod
from pyqemu.system.config import Config, MonitorConfig
from pyqemu.system.main_loop import MainLoop


class StartupError(Exception):
    """The machine cannot start; the message is QEMU-style, without the program name."""


def _progname(cfg: Config) -> str:
    return f"pyqemu-system-{cfg.arch}"


def _qmp_on_socket(opts: dict, monitor: Monitor, pretty: bool) -> tuple[QMPServer, bool]:
    """A QMP server for a legacy socket spec; returns (server, wait for a client)."""
    if opts.get("server") not in ("on", "yes", "true", ""):
        raise StartupError("QMP on a client socket is not supported yet")
    if "path" in opts:
        address = opts["path"]
    else:
        address = (opts.get("host") or "0.0.0.0", int(opts["port"]))
    wait = opts.get("wait", "on") in ("on", "yes", "true", "")
    return QMPServer(address, monitor, pretty=pretty), wait


def _attach_qmp_to_chardev(chr_id: str, monitor: Monitor, pretty: bool) -> None:
    """QMP on any chardev (stdio, pty, ...): one session that greets when opened."""
    dev = chardev.chardev_find(chr_id)
    if dev is None:
        raise StartupError(f"-mon: chardev '{chr_id}' not found")
    session = monitor.session(dev.write, pretty=pretty)

    def event(ev: int) -> None:
        if ev == chardev.CHR_EVENT_OPENED:
            session.greet()

    dev.set_handlers(lambda: 4096, session.feed, event)


def run(cfg: Config) -> int:
    """Run the configured machine until it quits; returns the exit status."""
    prog = _progname(cfg)
    rs = rs_mod.set_current(rs_mod.VMRunState())
    rs.no_shutdown = cfg.no_shutdown
    rs.no_reboot = cfg.no_reboot
    loop = MainLoop(rs)
    main_loop_mod.set_main(loop)  # chardevs poll their fds on main_loop.get()
    identity = VMIdentity(name=cfg.name, target=cfg.arch)
    if cfg.uuid:
        identity.uuid = cfg.uuid
    monitor = Monitor(Providers(identity=identity, qom=StubQOMTree()))
    monitor.providers.runstate = VMRunStateProvider(rs, monitor.events)
    from pyqemu.chardev import qmp_commands as chardev_qmp  # the chardev subsystem's QMP commands
    chardev_qmp.register(monitor.registry)
    monitor.providers.hmp = hmp_mod.HMP(monitor.providers, monitor.version(), chardev.query_chardev)
    servers: list[tuple[QMPServer, bool]] = []
    try:
        for opts in cfg.chardevs:
            chardev.chardev_new(dict(opts))
        _setup_serials(cfg, monitor)
        for m in _monitors(cfg):
            _setup_monitor(m, monitor, servers, prog)
    except (StartupError, chardev.ChardevError, OSError, ValueError) as e:
        sys.stderr.write(f"{prog}: {e}\n")
        return 1
    for server, wait in servers:
        loop.aio.run_until_complete(server.start())
        if wait:
            sys.stderr.write(f"{prog}: waiting for a QMP connection on {server.address}\n")
            loop.run_until(lambda s=server: bool(s.connections), timeout=float("inf"))
    if not cfg.start_stopped:
        rs.vm_start()
    loop.install_signal_handlers()
    try:
        status = loop.run()
    finally:
        for server, _ in servers:
            server.close_clients()
            loop.aio.run_until_complete(server.close())
        chardev.chardev_close_all()
        loop.close()
    return status


def _monitors(cfg: Config) -> list[MonitorConfig]:
    """The configured monitors, plus -nographic's default HMP on stdio (QEMU's default_monitor).

    With ``-M none`` there is no default serial port, so QEMU puts a plain
    (not muxed) monitor on stdio rather than ``-serial mon:stdio``.
    """
    if cfg.nographic and not cfg.nodefaults and not cfg.monitors and not any(
            s.removeprefix("mon:") == "stdio" for s in cfg.serials):
        return [MonitorConfig("compat_monitor0", "readline", spec="stdio")]
    return cfg.monitors


def _setup_serials(cfg: Config, monitor: Monitor) -> None:
    """``-serial`` chardevs (``serialN``); ``mon:`` ones also carry an HMP monitor.

    No machine has a serial port yet, so the monitor is the only mux frontend.
    """
    for i, spec in enumerate(s for s in cfg.serials if s != "none"):
        dev = chardev.chardev_new(chardev.parse_compat(spec, f"serial{i}"))
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
            chardev.chardev_new(chardev.parse_compat(m.spec, m.chardev))
        _attach_hmp_to_chardev(m.chardev, monitor)
        return
    if m.spec is not None:
        opts = chardev.parse_compat(m.spec, m.chardev)
        if opts.get("backend") == "socket":
            servers.append(_qmp_on_socket(opts, monitor, m.pretty))
            return
        chardev.chardev_new(opts)
    _attach_qmp_to_chardev(m.chardev, monitor, m.pretty)
