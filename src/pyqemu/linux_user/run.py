"""Start a guest program in user mode and run it to completion."""
from __future__ import annotations

import os
import sys

from pyqemu.accel.tcg.excp import GuestExit, InternalError
from pyqemu.linux_user.elfload import LoadError, load_program
from pyqemu.linux_user.process import Process
from pyqemu.target.arm.cpu_models import CPU_MODELS

PROG = "pyqemu-aarch64"


def guest_environ(settings) -> list[str]:
    env = dict(os.environ)  # QEMU passes its own QEMU_* variables through too
    for k, v in settings.set_env:
        env[k] = v
    for k in settings.unset_env:
        env.pop(k, None)
    return [f"{k}={v}" for k, v in env.items()]


def run_program(settings, args: list[str]) -> int:
    """Load `args[0]` and run it; returns the process exit status."""
    path = args[0]
    argv = list(args)
    if settings.argv0 is not None:
        argv[0] = settings.argv0
    proc = Process(strace=settings.strace, one_insn_per_tb=settings.one_insn_per_tb)
    proc.settings = settings
    proc.ld_prefix = settings.ld_prefix
    proc.exe_path = os.path.abspath(path)
    try:
        info = load_program(proc.mem, path, argv, guest_environ(settings),
                            ld_prefix=settings.ld_prefix, stack_size=settings.stack_size)
    except LoadError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 1
    except OSError as e:
        sys.stderr.write(f"{PROG}: {path}: {e.strerror}\n")
        return 1
    proc.info = info
    cpu = proc.new_cpu()
    cpu.midr = CPU_MODELS.get(settings.cpu, cpu.midr)
    cpu.pc = info.entry
    cpu.regs[31] = info.sp
    try:
        return proc.run_main(cpu)
    except (InternalError, Exception) as e:  # a bug in pyqemu, not the guest's doing
        if os.environ.get("PYQEMU_DEBUG"):
            raise
        where = f" at guest pc {cpu.pc:#x}" if not isinstance(e, InternalError) else ""
        sys.stderr.write(f"{PROG}: internal error{where}: {type(e).__name__}: {e} "
                         "(set PYQEMU_DEBUG=1 for a Python traceback)\n")
        return 1


__all__ = ["run_program", "GuestExit"]
