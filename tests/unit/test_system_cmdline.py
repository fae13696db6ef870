"""pyqemu-system-*'s command line: parsing into a Config, help output, and QEMU's errors.

Where Debian's qemu-system-aarch64 (package qemu-system-arm) is installed, error
messages and exit codes are compared with it directly.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyqemu.system import vl
from pyqemu.system.vl import Exit, VlError, parse, resolve

ROOT = Path(__file__).resolve().parents[2]
QEMU = shutil.which("qemu-system-aarch64")


def run(*args, arch="aarch64"):
    code = f"import sys; from pyqemu.system.vl import main; sys.exit(main(sys.argv[1:], {arch!r}))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def run_qemu(*args):
    """Run real QEMU; drop the display-module warnings a Debian install without
    qemu-system-gui prints first ("qemu: module ui-ui-gtk not found, ...")."""
    res = subprocess.run([QEMU, *args], capture_output=True, text=True, timeout=30,
                         stdin=subprocess.DEVNULL)
    res.stderr = "".join(line for line in res.stderr.splitlines(keepends=True)
                         if not re.match(r"qemu: module \S+ not found", line))
    return res


def error_of(*args, arch="aarch64"):
    """The error (one line, prefixed as main() prints it) that parse+resolve raise for args."""
    with pytest.raises(VlError) as e:
        resolve(parse(list(args), arch))
    return vl.format_error(f"pyqemu-system-{arch}", e.value)


def exit_of(*args):
    with pytest.raises(Exit) as e:
        resolve(parse(list(args)))
    return e.value


# --- parsing into a Config ---------------------------------------------------------------------

def test_full_command_line_to_config():
    cfg = resolve(parse([
        "-M", "none,dumpdtb=/tmp/x.dtb", "-m", "1G,slots=2,maxmem=4G", "-smp", "1", "-cpu", "cortex-a57",
        "-name", "guest1,process=p1,debug-threads=on", "-uuid", "C0FFEE00-0000-4000-8000-000000000001",
        "-S", "-nographic", "-display", "none", "-serial", "mon:stdio", "-parallel", "none",
        "-monitor", "unix:/tmp/hmp,server=on,wait=off", "-qmp", "tcp:127.0.0.1:4444,server,wait=off",
        "-qmp-pretty", "chardev:qmp1", "-chardev", "socket,id=qmp1,path=/tmp/q,,x,server=on,wait=off",
        "-mon", "qmp1,mode=control,pretty=on", "-device", "virtio-rng-device,id=rng0",
        "-drive", "file=disk.img,if=none,id=d0,format=raw",
        "-blockdev", "driver=file,node-name=f0,filename=a",
        "-netdev", "user,id=n0,hostfwd=tcp::2222-:22", "-nic", "none",
        "-kernel", "Image", "-initrd", "initrd.gz", "-append", "console=ttyAMA0 root=/dev/vda",
        "-dtb", "virt.dtb", "-bios", "fw.bin", "-no-reboot", "-no-shutdown", "-D", "log.txt",
        "-d", "in_asm,int", "-icount", "shift=3,align=on", "-accel", "tcg,thread=single", "-snapshot",
        "-incoming", "defer", "-daemonize", "-pidfile", "q.pid", "-rtc", "base=2006-06-17,clock=vm",
        "-L", "/usr/share/qemu", "-k", "fr", "-vga", "none", "-nodefaults", "-no-user-config",
        "-boot", "order=cd,menu=on", "-global", "driver.prop=val",
        "-object", "memory-backend-ram,id=m0,size=1G",
        "-trace", "events=x", "-sandbox", "on", "-overcommit", "mem-lock=off", "disk0.img"]))
    assert cfg.machine.type == "none" and cfg.machine.props == {"dumpdtb": "/tmp/x.dtb"}
    assert (cfg.memory.size, cfg.memory.slots, cfg.memory.maxmem) == (1 << 30, 2, 4 << 30)
    assert cfg.smp.cpus == 1 and cfg.smp.max_cpus == 1 and cfg.cpu == "cortex-a57"
    assert (cfg.name, cfg.process_name, cfg.debug_threads) == ("guest1", "p1", True)
    assert cfg.uuid == "c0ffee00-0000-4000-8000-000000000001"
    assert cfg.start_stopped and cfg.nographic and cfg.display == "none"
    assert cfg.serials == ["mon:stdio"] and cfg.parallels == ["none"]
    mons = [(m.chardev, m.mode, m.pretty, m.spec) for m in cfg.monitors]
    assert mons == [("compat_monitor0", "readline", False, "unix:/tmp/hmp,server=on,wait=off"),
                    ("compat_monitor1", "control", False, "tcp:127.0.0.1:4444,server,wait=off"),
                    ("qmp1", "control", True, None), ("qmp1", "control", True, None)]
    assert cfg.chardevs == [{"backend": "socket", "path": "/tmp/q,x", "server": "on", "wait": "off",
                             "id": "qmp1"}]
    assert cfg.devices == [{"driver": "virtio-rng-device", "id": "rng0"}]
    assert cfg.drives == [{"file": "disk.img", "if": "none", "id": "d0", "format": "raw"},
                          {"file": "disk0.img", "index": "0", "media": "disk"}]
    assert cfg.blockdevs == [{"driver": "file", "node-name": "f0", "filename": "a"}]
    assert cfg.netdevs == [{"type": "user", "hostfwd": "tcp::2222-:22", "id": "n0"}]
    assert cfg.nics == [{"type": "none"}]
    assert (cfg.kernel, cfg.initrd, cfg.dtb, cfg.bios) == ("Image", "initrd.gz", "virt.dtb", "fw.bin")
    assert cfg.append == "console=ttyAMA0 root=/dev/vda"
    assert cfg.no_reboot and cfg.no_shutdown and cfg.log_file == "log.txt" and cfg.log_items == "in_asm,int"
    assert cfg.icount.shift == 3 and cfg.icount.align
    assert [(a.name, a.props) for a in cfg.accels] == [("tcg", {"thread": "single"})]
    assert cfg.snapshot and cfg.incoming == "defer" and cfg.daemonize and cfg.pidfile == "q.pid"
    assert (cfg.rtc.base, cfg.rtc.clock) == ("2006-06-17", "vm")
    assert cfg.data_dirs == ["/usr/share/qemu"] and cfg.keyboard_layout == "fr" and cfg.vga == "none"
    assert cfg.nodefaults and cfg.no_user_config
    assert cfg.boot.order == "cd" and cfg.boot.menu is True
    assert [(g.driver, g.property, g.value) for g in cfg.globals] == [("driver", "prop", "val")]
    assert cfg.objects == [{"qom-type": "memory-backend-ram", "id": "m0", "size": "1G"}]
    assert cfg.sandbox == "on" and cfg.overcommit == {"mem-lock": False}


def test_memory_sizes():
    def mem(*a):
        return resolve(parse(["-M", "none", *a])).memory
    assert mem("-m", "512").size == 512 << 20  # a bare number is MiB
    assert mem("-m", "512M").size == 512 << 20
    assert mem("-m", "2G").size == 2 << 30
    assert mem("-m", "size=1.5G").size == 3 << 29
    assert mem("-m", "4096k").size == 4 << 20
    assert mem("-m", "1G", "-m", "maxmem=2G").maxmem == 2 << 30  # -m merges
    assert mem().size == 0  # 'none' has no RAM by default


def test_smp_topology():
    from pyqemu.system import machines
    machines.register_machine(machines.MachineClass("test-smp", "test", ("aarch64",), max_cpus=64))
    try:
        smp = resolve(parse(["-M", "test-smp", "-smp", "8"])).smp
        assert (smp.cpus, smp.sockets, smp.cores, smp.threads, smp.max_cpus) == (8, 1, 8, 1, 8)
        smp = resolve(parse(["-M", "test-smp", "-smp", "cpus=4,sockets=2,threads=2,maxcpus=8"])).smp
        assert (smp.cpus, smp.sockets, smp.cores, smp.threads, smp.max_cpus) == (4, 2, 2, 2, 8)
        smp = resolve(parse(["-M", "test-smp", "-smp", "sockets=2,cores=3"])).smp
        assert (smp.cpus, smp.max_cpus) == (6, 6)
        assert "maxcpus must be equal to or greater than smp" in error_of("-M", "test-smp", "-smp",
                                                                           "8,maxcpus=4")
        assert "dies not supported" in error_of("-M", "test-smp", "-smp", "4,dies=2")
    finally:
        machines._MACHINES.pop("test-smp")


def test_icount_forms():
    assert parse(["-icount", "7"]).icount.shift == 7
    assert parse(["-icount", "auto"]).icount.shift is None
    assert parse(["-icount", "shift=0,sleep=off"]).icount.sleep is False
    assert "Please specify shift option when using align" in error_of("-icount", "align=on")
    assert "-icount 11: icount: Invalid shift value" in error_of("-icount", "11")


def test_help_requests():
    e = exit_of("-M", "help")
    assert e.status == 0
    assert e.stdout.startswith("Supported machines are:\nnone                 empty machine")
    e = exit_of("-machine", "type=none,help")
    assert e.status == 0 and e.stdout.startswith("none-machine options:\n  append=<string>        - Linux")
    e = exit_of("-cpu", "help")
    assert e.status == 0 and "  cortex-a57\n" in e.stdout and "  max\n" in e.stdout
    # the device models pyqemu has, each listed as QEMU 7.2 lists it, under its heading
    assert exit_of("-device", "help").stdout == (
        'Controller/Bridge/Hub devices:\n'
        'name "pci-bridge", bus PCI, desc "Standard PCI Bridge"\n'
        'name "pcie-root-port", bus PCI, desc "PCI Express Root Port"\n\n'
        'Storage devices:\n'
        'name "nvme", bus PCI, desc "Non-Volatile Memory Express"\n'
        'name "nvme-ns", bus nvme-bus, desc "Virtual NVMe namespace"\n'
        'name "virtio-blk-device", bus virtio-bus\n'
        'name "virtio-blk-pci", bus PCI, alias "virtio-blk"\n'
        'name "virtio-blk-pci-non-transitional", bus PCI\n'
        'name "virtio-blk-pci-transitional", bus PCI\n')
    e = exit_of("-device", "bogus,help")
    assert e.status == 0 and e.stderr.endswith("-device bogus,help: Device 'bogus' not found\n")
    assert exit_of("-accel", "help").stdout == "Accelerators supported in QEMU binary:\ntcg\n"
    e = exit_of("-m", "1G,help")  # QemuOpts help: the keys, then status 1, as QEMU does
    assert e.status == 1 and e.stdout == "memory options:\n  maxmem=<size>\n  size=<size>\n  slots=<num>\n"
    assert exit_of("-netdev", "help").stdout.startswith("Available netdev backend types:\n")
    e = exit_of("-d", "help")
    assert e.status == 1 and e.stdout.startswith("Log items (comma separated):")  # as QEMU 7.2
    assert exit_of("-version").stdout.startswith("QEMU emulator version 7.2")


def test_device_help_lists_registered_devices():
    from pyqemu.system import machines
    machines.register_device(machines.DeviceInfo("test-dev", "Misc", "System", "A test device",
                                                 props=(machines.MachineProp("x", "uint32", "an x"),)))
    try:
        out = exit_of("-device", "help").stdout
        # grouped under QEMU's headings, beside the device models pyqemu has
        assert 'Misc devices:\nname "test-dev", bus System, desc "A test device"\n' in out
        assert 'Storage devices:\nname "nvme", bus PCI, desc "Non-Volatile Memory Express"\n' in out
        out = exit_of("-device", "test-dev,help").stdout
        assert out == "test-dev options:\n  x=<uint32>             - an x\n"
    finally:
        machines._DEVICES.pop("test-dev")


def test_errors_in_process():
    assert error_of("-M", "none", "-cpu", "bogus") == \
        "pyqemu-system-aarch64: unable to find CPU model 'bogus'\n"
    assert error_of("-m", "512", "-M", "bogus").startswith(
        "pyqemu-system-aarch64: unsupported machine type\n")
    assert error_of() == ("pyqemu-system-aarch64: No machine specified, and there is no default\n"
                          "Use -machine help to list supported machines\n")
    assert error_of("-M", "none", "-accel", "kvm") == \
        "pyqemu-system-aarch64: -accel kvm: invalid accelerator kvm\n"
    assert error_of("-M", "none", "-device", '{"driver":') .startswith(
        "pyqemu-system-aarch64: -device {\"driver\":: JSON parse error")
    assert "Parameter 'qom-type' is missing" in error_of("-object", "id=x")


def test_accel_jit_option():
    """-accel tcg,jit=on|off selects pyqemu's native tier (docs/native-tier.md)."""
    cfg = parse(["-M", "none", "-accel", "tcg,jit=no"], prog="pyqemu-system-aarch64")
    assert [(a.name, a.props) for a in cfg.accels] == [("tcg", {"jit": "off"})]
    assert error_of("-M", "none", "-accel", "tcg,jit=maybe") == \
        "pyqemu-system-aarch64: -accel tcg,jit=maybe: Parameter 'jit' expects 'on' or 'off'\n"


def test_docs_are_current():
    assert (ROOT / "docs" / "pyqemu-system.md").read_text() == vl.render_docs(), \
        "docs/pyqemu-system.md is stale: python -m pyqemu.system.vl --write-docs docs/pyqemu-system.md"


# --- through the console entry point ------------------------------------------------------------

def test_subprocess_statuses_and_streams():
    r = run("-foo")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "pyqemu-system-aarch64: -foo: invalid option\n")
    r = run("-M", "help")
    assert r.returncode == 0 and r.stdout.startswith("Supported machines are:\n") and r.stderr == ""
    r = run("-M", "help", arch="x86_64")
    assert r.returncode == 0 and "none                 empty machine" in r.stdout
    r = run("-accel", "help", arch="x86_64")
    assert r.stdout == "Accelerators supported in QEMU binary:\ntcg\nkvm\n"


def test_help_output():
    r = run("-h")
    assert r.returncode == 0 and r.stderr == ""
    out = r.stdout.splitlines()
    assert out[2] == "usage: pyqemu-system-aarch64 [options] [disk_image]"
    for line in ("-cpu cpu        select CPU ('-cpu help' for list)",
                 "-m [size=]megs[,slots=n,maxmem=size]",
                 "-S              freeze CPU at startup (use 'c' to start execution)",
                 "-nographic      disable graphical output and redirect serial I/Os to console",
                 "-qmp-pretty dev like -qmp but uses pretty JSON formatting",
                 "-no-reboot      exit instead of rebooting", "Debug/Expert options:"):
        assert line in out
    for o in vl.OPTIONS:
        if not o.alias_of:
            assert any(line.startswith(vl._usage_lines(o)[0]) for line in out), o.name


@pytest.mark.skipif(QEMU is None, reason="qemu-system-aarch64 (Debian qemu-system-arm) not installed")
def test_help_lines_match_qemu():
    qemu = run_qemu("-h").stdout.splitlines()
    ours = vl.help_text("pyqemu-system-aarch64", "aarch64").splitlines()
    differ = {"dtb", "seed"}  # QEMU's own spacing quirks ("-dtb    file    ...")
    for o in vl.OPTIONS:
        if o.alias_of or o.name in differ:
            continue
        first = vl._usage_lines(o)[0]
        ours_line = next(line for line in ours if line.startswith(first))
        assert ours_line in qemu, ours_line


# Error cases whose stderr and status must equal real QEMU's (program name aside).
SAME_AS_QEMU = [
    ("-foo",), ("--foo",), ("-m",), ("-M", "none", "-smp"), ("-m", "foo"), ("-m", "-1"), ("-m", "1.5"),
    ("-m", "512,foo=1"), ("-m", "size=512M,maxmem=foo"), ("-m", "slots=x"), ("-M", "bogus"),
    ("-m", "1G"), ("-M", "none", "-smp", "4"), ("-M", "none", "-smp", "2,sockets=3"),
    ("-M", "none", "-smp", "foo"), ("-M", "none", "-smp", "cpus=2,foo=1"), ("-M", "none", "-smp", "cpus=-1"),
    ("-M", "none", "-smp", "1.5"), ("-uuid", "bogus"), ("-uuid", "0000"), ("-M", "none,foo=1"),
    ("-M", "none", "-m", "1G,maxmem=512M"), ("-M", "none", "-m", "1G,slots=2"),
    ("-name", "foo,bogus=1"), ("-name", "g,debug-threads=maybe"), ("-name", "g,nobug"),
    ("-M", "none", "-icount", "foo"), ("-M", "none", "-icount", "shift=auto,align=maybe"),
    ("-M", "none", "-rtc", "base=foo"), ("-M", "none", "-rtc", "clock=bogus"),
    ("-M", "none", "-boot", "order=zz"), ("-M", "none", "-boot", "order=cc"),
    ("-M", "none", "-cpu", "bogus"), ("-M", "none", "-accel", "kvm"), ("-M", "none", "-enable-kvm"),
    ("-M", "none", "-accel", "tcg,thread=bogus"), ("-M", "none", "-display", "foo"),
    ("-M", "none", "-display", "none,foo=1"), ("-M", "none", "-chardev", "null"),
    ("-M", "none", "-chardev", "null,id=1x"),
    ("-M", "none", "-chardev", "null,id=a", "-chardev", "null,id=a"),
    ("-M", "none", "-overcommit", "foo=1"), ("-M", "none", "-global", "foo"),
    ("-M", "none", "-netdev", "user"), ("-M", "none", "-nic", "bogus"), ("-M", "none", "-vga", "bogus"),
    ("-M", "none", "-drive", "file=x,if=none,snapshot=maybe"), ("-device", "bogus,help"),
    ("-M", "none", "-accel", "foo", "-accel", "bar"), ("-M", "none", "-mon", "mode=control"),
    ("-M", "none", "-mon", "x,mode=bogus"), ("-M", "none", "-icount", "shift=1,align=on,sleep=off"),
    ("-M", "none", "-icount", "align=on"), ("-M", "none", "-object", "id=x"), ("-blockdev", "help"),
    ("-M", "none", "-blockdev", "node-name=x"), ("-M", "none", "-smp", "0,maxcpus=2"),
    ("-M", "help", "-foo"), ("-m", "foo", "-M", "help"), ("-m", "help"), ("-m", "1G,help"),
]


@pytest.mark.skipif(QEMU is None, reason="qemu-system-aarch64 (Debian qemu-system-arm) not installed")
def test_errors_match_qemu():
    for args in SAME_AS_QEMU:
        q = run_qemu(*args)
        warnings = []
        try:
            resolve(parse(list(args), prog="qemu-system-aarch64", warn=warnings.append), warnings.append,
                    "qemu-system-aarch64")
        except VlError as e:
            ours_err, ours_status = "".join(warnings) + vl.format_error("qemu-system-aarch64", e), 1
        except Exit as e:
            ours_err = "".join(warnings) + e.stderr.replace("pyqemu-system-aarch64", "qemu-system-aarch64")
            ours_status = e.status
        else:
            pytest.fail(f"{args}: accepted, QEMU says {q.stderr!r}")
        assert (ours_status, ours_err) == (q.returncode, q.stderr), args


@pytest.mark.skipif(QEMU is None, reason="qemu-system-aarch64 (Debian qemu-system-arm) not installed")
def test_help_outputs_match_qemu():
    for args in (("-M", "none,help"), ("-machine", "help,type=none")):
        assert exit_of(*args).stdout == run_qemu(*args).stdout
    q = run_qemu("-M", "help").stdout.splitlines()
    assert all(line in q for line in exit_of("-M", "help").stdout.splitlines())
    q = run_qemu("-cpu", "help").stdout.splitlines()
    assert all(line in q for line in exit_of("-cpu", "help").stdout.splitlines())
    q = run_qemu("-d", "help")
    e = exit_of("-d", "help")
    assert e.status == q.returncode and q.stdout.startswith(e.stdout.splitlines()[0])


# The same messages QEMU 7.2 prints (checked above against the real binary when it is installed).
CLI_ERRORS = [
    (("-foo",), "pyqemu-system-aarch64: -foo: invalid option\n"),
    (("-m",), "pyqemu-system-aarch64: -m: requires an argument\n"),
    (("-m", "foo"),
     "pyqemu-system-aarch64: -m foo: Parameter 'size' expects a non-negative number below 2^64\n"
     "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
     "and exabytes, respectively.\n"),
    (("-M", "none", "-smp", "foo"), "pyqemu-system-aarch64: Parameter 'smp.cpus' expects integer\n"),
    (("-M", "none", "-smp", "4"),
     "pyqemu-system-aarch64: Invalid SMP CPUs 4. The max CPUs supported by machine 'none' is 1\n"),
    (("-M", "bogus"), "pyqemu-system-aarch64: unsupported machine type\n"
     "Use -machine help to list supported machines\n"),
    (("-uuid", "bogus"), "pyqemu-system-aarch64: -uuid bogus: failed to parse UUID string: wrong format\n"),
]


def test_cli_errors_through_the_entry_point():
    for args, err in CLI_ERRORS:
        r = run(*args)
        assert (r.returncode, r.stdout, r.stderr) == (1, "", err), args
    r = run("-M", "none", "-d", "bogus")  # QEMU prints the item list on stdout and fails
    assert r.returncode == 1 and r.stderr == ""
    assert r.stdout.startswith("Log items (comma separated):\nout_asm")
