"""pyqemu-aarch64's command line: QEMU's options, errors and environment twins."""
import subprocess
import sys

from pyqemu.linux_user.main import parse_args

CMD = [sys.executable, "-m", "pyqemu.linux_user.main"]


def run(*args, env=None):
    return subprocess.run(CMD + list(args), capture_output=True, text=True, timeout=60, env=env)


def test_unknown_option_is_one_line_and_status_1():
    r = run("-frobnicate")
    assert r.returncode == 1
    assert r.stderr.strip() == "pyqemu-aarch64: unknown option 'frobnicate'"


def test_no_program():
    r = run()
    assert r.returncode == 1
    assert "no user program specified" in r.stderr


def test_cpu_help_lists_models_and_bad_model_fails():
    r = run("-cpu", "help")
    assert r.returncode == 0 and "cortex-a53" in r.stdout and "max" in r.stdout
    r = run("-cpu", "pentium", "/bin/true")
    assert r.returncode == 1
    assert "unable to find CPU model 'pentium'" in r.stderr


def test_log_help_and_bad_item():
    r = run("-d", "help")
    assert r.returncode == 0 and "in_asm" in r.stdout and "unimp" in r.stdout
    r = run("-d", "bogus", "/bin/true")
    assert r.returncode == 1


def test_version_and_help():
    assert "version" in run("-version").stdout
    out = run("-h").stdout
    for opt in ("-L path", "QEMU_LD_PREFIX", "-strace", "-one-insn-per-tb", "-cpu model"):
        assert opt in out


def test_environment_twins_and_flags():
    env = {"QEMU_LD_PREFIX": "/sysroot", "PYQEMU_STRACE": "1"}
    s, rest = parse_args(["-s", "1M", "prog", "-strace"], env)
    assert s.ld_prefix == "/sysroot" and s.strace and s.stack_size == 1 << 20
    assert rest == ["prog", "-strace"]  # options after the program belong to it
    s, _ = parse_args(["-E", "A=1,B=2", "-U", "C", "-0", "name", "p"], {})
    assert s.set_env == [("A", "1"), ("B", "2")] and s.unset_env == ["C"] and s.argv0 == "name"
