"""Identity, time, limits, scheduling and other small system calls."""
from __future__ import annotations

import ctypes
import errno
import os

from pyqemu.linux_user.aarch64 import target_structs as T
from pyqemu.linux_user.host_syscall import host_syscall as H
from pyqemu.linux_user.syscall import sx32, syscall
from pyqemu.linux_user.syscall_file import _passthrough, opt_r, opt_w, proc_nr_name
from pyqemu.util import log

_passthrough("getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "gettid",
             "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
             "getpgid", "setpgid", "getsid", "setsid", "getpriority", "setpriority", "personality",
             "sched_yield", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
             "ioprio_get", "ioprio_set", "kcmp", "vhangup", "unshare")


@syscall("uname")
def sys_uname(proc, cpu, buf, *_):
    host = ctypes.create_string_buffer(T.UTSNAME.size)
    r = H("uname", host)
    if r < 0:
        return r
    fields = list(T.UTSNAME.unpack(host.raw))
    fields[4] = T.UNAME_MACHINE
    release = getattr(getattr(proc, "settings", None), "uname_release", None)
    if release:
        fields[2] = os.fsencode(release)[:64]
    proc.mem.write(buf, T.UTSNAME.pack(*fields))
    return 0


@syscall("sysinfo")
def sys_sysinfo(proc, cpu, buf, *_):
    return H("sysinfo", proc.mem.host_w(buf, T.SYSINFO.size))


@syscall("getrandom")
def sys_getrandom(proc, cpu, buf, length, flags, *_):
    length = min(length, 0x7FFFF000)
    return H("getrandom", proc.mem.host_w(buf, length), length, flags)


@syscall("sethostname", "setdomainname")
def sys_sethostname(proc, cpu, name, length, *_):
    length = min(length, 65)
    return H(proc_nr_name(cpu), proc.mem.host_r(name, length), length)


# --- time ------------------------------------------------------------------------------------

TIMEX_SIZE = 208  # struct timex, the same on every 64-bit Linux


@syscall("settimeofday")
def sys_settimeofday(proc, cpu, tv, tz, *_):
    return H("settimeofday", opt_r(proc, tv, 16), opt_r(proc, tz, 8))


@syscall("adjtimex")
def sys_adjtimex(proc, cpu, buf, *_):
    return H("adjtimex", proc.mem.host_w(buf, TIMEX_SIZE))


@syscall("clock_adjtime")
def sys_clock_adjtime(proc, cpu, clk, buf, *_):
    return H("clock_adjtime", clk, proc.mem.host_w(buf, TIMEX_SIZE))

@syscall("clock_gettime")
def sys_clock_gettime(proc, cpu, clk, ts, *_):
    return H("clock_gettime", clk, opt_w(proc, ts, 16))


@syscall("clock_getres")
def sys_clock_getres(proc, cpu, clk, ts, *_):
    return H("clock_getres", clk, opt_w(proc, ts, 16))


@syscall("clock_settime")
def sys_clock_settime(proc, cpu, clk, ts, *_):
    return H("clock_settime", clk, proc.mem.host_r(ts, 16))


@syscall("gettimeofday")
def sys_gettimeofday(proc, cpu, tv, tz, *_):
    return H("gettimeofday", opt_w(proc, tv, 16), opt_w(proc, tz, 8))


@syscall("nanosleep")
def sys_nanosleep(proc, cpu, req, rem, *_):
    return H("nanosleep", proc.mem.host_r(req, 16), opt_w(proc, rem, 16))


@syscall("clock_nanosleep")
def sys_clock_nanosleep(proc, cpu, clk, flags, req, rem, *_):
    return H("clock_nanosleep", clk, flags, proc.mem.host_r(req, 16), opt_w(proc, rem, 16))


@syscall("times")
def sys_times(proc, cpu, buf, *_):
    return H("times", opt_w(proc, buf, T.TMS.size))


@syscall("getrusage")
def sys_getrusage(proc, cpu, who, buf, *_):
    return H("getrusage", who, proc.mem.host_w(buf, T.RUSAGE.size))


# --- limits ----------------------------------------------------------------------------------
# Limits on the address space, data and stack would constrain the emulator itself, not the
# guest: like QEMU, accept them without applying them.
_RLIMIT_DATA, _RLIMIT_STACK, _RLIMIT_AS = 2, 3, 9
_GUEST_ONLY = {_RLIMIT_DATA, _RLIMIT_STACK, _RLIMIT_AS}


@syscall("prlimit64")
def sys_prlimit64(proc, cpu, pid, res, new, old, *_):
    res = sx32(res)
    if new and res in _GUEST_ONLY:
        proc.mem.host_r(new, 16)
        new = 0
    return H("prlimit64", pid, res, opt_r(proc, new, 16), opt_w(proc, old, 16))


@syscall("getrlimit")
def sys_getrlimit(proc, cpu, res, buf, *_):
    return H("prlimit64", 0, res, 0, proc.mem.host_w(buf, 16))


@syscall("setrlimit")
def sys_setrlimit(proc, cpu, res, buf, *_):
    if sx32(res) in _GUEST_ONLY:
        proc.mem.host_r(buf, 16)
        return 0
    return H("prlimit64", 0, res, proc.mem.host_r(buf, 16), 0)


# --- credentials -------------------------------------------------------------------------------

@syscall("getresuid")
def sys_getresuid(proc, cpu, r, e, s, *_):
    m = proc.mem
    return H("getresuid", m.host_w(r, 4), m.host_w(e, 4), m.host_w(s, 4))


@syscall("getresgid")
def sys_getresgid(proc, cpu, r, e, s, *_):
    m = proc.mem
    return H("getresgid", m.host_w(r, 4), m.host_w(e, 4), m.host_w(s, 4))


@syscall("getgroups")
def sys_getgroups(proc, cpu, size, lst, *_):
    size = sx32(size)
    if size < 0:
        return -errno.EINVAL
    return H("getgroups", size, opt_w(proc, lst, 4 * size) if size else 0)


@syscall("setgroups")
def sys_setgroups(proc, cpu, size, lst, *_):
    size = sx32(size)
    if size < 0 or size > 65536:
        return -errno.EINVAL
    return H("setgroups", size, opt_r(proc, lst, 4 * size) if size else 0)


@syscall("capget")
def sys_capget(proc, cpu, hdr, data, *_):
    proc.mem.host_w(hdr, 8)
    return H("capget", proc.mem.host_w(hdr, 8), opt_w(proc, data, 24))


@syscall("capset")
def sys_capset(proc, cpu, hdr, data, *_):
    return H("capset", proc.mem.host_r(hdr, 8), opt_r(proc, data, 24))


# --- scheduling --------------------------------------------------------------------------------

@syscall("sched_getaffinity")
def sys_sched_getaffinity(proc, cpu, pid, size, mask, *_):
    size = min(size, 1 << 16)
    return H("sched_getaffinity", pid, size, proc.mem.host_w(mask, size))


@syscall("sched_setaffinity")
def sys_sched_setaffinity(proc, cpu, pid, size, mask, *_):
    size = min(size, 1 << 16)
    return H("sched_setaffinity", pid, size, proc.mem.host_r(mask, size))


@syscall("sched_getparam")
def sys_sched_getparam(proc, cpu, pid, param, *_):
    return H("sched_getparam", pid, proc.mem.host_w(param, 4))


@syscall("sched_setparam")
def sys_sched_setparam(proc, cpu, pid, param, *_):
    return H("sched_setparam", pid, proc.mem.host_r(param, 4))


@syscall("sched_setscheduler")
def sys_sched_setscheduler(proc, cpu, pid, policy, param, *_):
    return H("sched_setscheduler", pid, policy, proc.mem.host_r(param, 4))


@syscall("sched_rr_get_interval")
def sys_sched_rr_get_interval(proc, cpu, pid, ts, *_):
    return H("sched_rr_get_interval", pid, proc.mem.host_w(ts, 16))


@syscall("getcpu")
def sys_getcpu(proc, cpu, cpup, nodep, cache, *_):
    return H("getcpu", opt_w(proc, cpup, 4), opt_w(proc, nodep, 4), 0)


# --- prctl -----------------------------------------------------------------------------------

PR_SET_PDEATHSIG, PR_GET_PDEATHSIG = 1, 2
PR_GET_NAME, PR_SET_NAME = 16, 15
PR_GET_CHILD_SUBREAPER = 37
PR_GET_TID_ADDRESS = 40
# options with plain-number arguments that are safe to give to the host
_PRCTL_SCALAR = {1, 3, 4, 7, 8, 23, 24, 29, 30, 36, 38, 39, 41, 42, 47}
# options about the emulator's own state (seccomp would filter pyqemu's calls, not the guest's)
_PRCTL_EINVAL = {21, 22, 35, 40, 50, 51, 54, 55, 56, 63, 64, 65, 0x53564D41}


@syscall("prctl")
def sys_prctl(proc, cpu, option, a2, a3, a4, a5, *_):
    option = sx32(option)
    if option == PR_SET_NAME:
        return H("prctl", option, proc.mem.read_cstr(a2, 15), 0, 0, 0)
    if option == PR_GET_NAME:
        return H("prctl", option, proc.mem.host_w(a2, 16), 0, 0, 0)
    if option in (PR_GET_PDEATHSIG, PR_GET_CHILD_SUBREAPER):
        return H("prctl", option, proc.mem.host_w(a2, 4), 0, 0, 0)
    if option in _PRCTL_SCALAR:
        return H("prctl", option, a2, a3, a4, a5)
    if option not in _PRCTL_EINVAL:
        log.unimp(f"Unsupported prctl: {option:#x}")
    return -errno.EINVAL
