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
    target = getattr(settings, "target", "aarch64")
    prog = PROG if target == "aarch64" else f"pyqemu-{target}"
    proc = Process(strace=settings.strace, one_insn_per_tb=settings.one_insn_per_tb, target=target)
    proc.settings = settings
    proc.ld_prefix = settings.ld_prefix
    proc.exe_path = os.path.abspath(path)
    abi = None
    if target == "arm":
        import dataclasses

        from pyqemu.linux_user.arm.cpu_models import ARM_CPU_FEATURES
        hwcap, platform = ARM_CPU_FEATURES.get(settings.cpu, ARM_CPU_FEATURES["max"])
        abi = dataclasses.replace(proc.abi, hwcap=hwcap, platform=platform)
    try:
        info = load_program(proc.mem, path, argv, guest_environ(settings),
                            ld_prefix=settings.ld_prefix, stack_size=settings.stack_size,
                            abi=abi)
    except LoadError as e:
        sys.stderr.write(f"{prog}: {e}\n")
        return 1
    except OSError as e:
        sys.stderr.write(f"{prog}: {path}: {e.strerror}\n")
        return 1
    proc.info = info
    if target == "arm":  # ARM's _start reuses the words of argc: remember argv and auxv now
        from pyqemu.linux_user import paths
        proc.initial_stack = paths._initial_stack(proc)
    cpu = proc.new_cpu()
    if target == "arm":
        from pyqemu.linux_user.arm.cpu_models import ARM_CPU_MODELS
        from pyqemu.target.arm.cpu32 import REG_SP, key_for
        cpu.midr = ARM_CPU_MODELS.get(settings.cpu, cpu.midr)
        cpu.pc = key_for(info.entry, bool(info.entry & 1))
        cpu.regs[REG_SP] = info.sp
    else:
        cpu.midr = CPU_MODELS.get(settings.cpu, cpu.midr)
        cpu.pc = info.entry
        cpu.regs[31] = info.sp
    if getattr(settings, "gdb_port", None):
        from pyqemu.linux_user import gdb
        from pyqemu.linux_user.signal import DEATH_HOOKS
        proc.gdb = gdb.start(proc, settings.gdb_port, prog)
        if proc.gdb is None:
            return 1
        DEATH_HOOKS.append(proc.gdb.signalled)
    try:
        return proc.run_main(cpu)
    except (InternalError, Exception) as e:  # a bug in pyqemu, not the guest's doing
        if os.environ.get("PYQEMU_DEBUG"):
            raise
        where = f" at guest pc {cpu.pc:#x}" if not isinstance(e, InternalError) else ""
        sys.stderr.write(f"{prog}: internal error{where}: {type(e).__name__}: {e} "
                         "(set PYQEMU_DEBUG=1 for a Python traceback)\n")
        return 1


__all__ = ["run_program", "GuestExit"]
