"""Sockets, polling (poll/select/epoll) and event file descriptors.

Socket addresses, socket options, ``struct pollfd`` and ``fd_set`` have the
same layout on AArch64 and the host, so their buffers are passed in place;
``struct msghdr`` carries guest pointers and is rebuilt for the host, and
``struct epoll_event`` is converted (it is packed on x86_64 only).

A signal mask given to ppoll/pselect6/epoll_pwait replaces the thread's guest
mask for the wait; as in Linux it is put back when the call returns, unless
the wait was interrupted, in which case signal delivery restores it (after
the handler has run, like rt_sigsuspend).
"""
from __future__ import annotations

import ctypes
import errno
import struct

from pyqemu.linux_user.aarch64 import target_structs as T
from pyqemu.linux_user.host_syscall import HOST_IS_X86_64
from pyqemu.linux_user.host_syscall import host_syscall as H
from pyqemu.linux_user.syscall import sx32, syscall
from pyqemu.linux_user.syscall_file import _passthrough, host_iovec, opt_r, opt_w

_passthrough("socket", "listen", "shutdown", "eventfd2", "epoll_create1")

_HOST_EV = T.HOST_EPOLL_EVENT_X86_64 if HOST_IS_X86_64 else T.EPOLL_EVENT
EP_MAX_EVENTS = 0x7FFFFFFF // 16


def _addr_out(proc, addr: int, lenp: int) -> tuple[int, int]:
    """Host pointers for an output sockaddr and its in/out length."""
    if not addr:
        return 0, opt_w(proc, lenp, 4)
    n = sx32(proc.mem.u32(lenp))
    if n < 0:
        raise OSError(errno.EINVAL, "")
    return proc.mem.host_w(addr, n), proc.mem.host_w(lenp, 4)


@syscall("bind")
def sys_bind(proc, cpu, fd, addr, length, *_):
    return H("bind", fd, proc.mem.host_r(addr, sx32(length)), length)


@syscall("connect")
def sys_connect(proc, cpu, fd, addr, length, *_):
    return H("connect", fd, proc.mem.host_r(addr, sx32(length)), length)


@syscall("accept")
def sys_accept(proc, cpu, fd, addr, lenp, *_):
    return H("accept4", fd, *_addr_out(proc, addr, lenp), 0)


@syscall("accept4")
def sys_accept4(proc, cpu, fd, addr, lenp, flags, *_):
    return H("accept4", fd, *_addr_out(proc, addr, lenp), flags)


@syscall("getsockname")
def sys_getsockname(proc, cpu, fd, addr, lenp, *_):
    return H("getsockname", fd, *_addr_out(proc, addr, lenp))


@syscall("getpeername")
def sys_getpeername(proc, cpu, fd, addr, lenp, *_):
    return H("getpeername", fd, *_addr_out(proc, addr, lenp))


@syscall("socketpair")
def sys_socketpair(proc, cpu, domain, typ, protocol, sv, *_):
    return H("socketpair", domain, typ, protocol, proc.mem.host_w(sv, 8))


@syscall("sendto")
def sys_sendto(proc, cpu, fd, buf, length, flags, addr, addrlen):
    return H("sendto", fd, proc.mem.host_r(buf, length), length, flags,
             opt_r(proc, addr, sx32(addrlen)), addrlen)


@syscall("recvfrom")
def sys_recvfrom(proc, cpu, fd, buf, length, flags, addr, lenp):
    return H("recvfrom", fd, proc.mem.host_w(buf, length), length, flags, *_addr_out(proc, addr, lenp))


@syscall("setsockopt")
def sys_setsockopt(proc, cpu, fd, level, name, val, length, *_):
    return H("setsockopt", fd, level, name, opt_r(proc, val, sx32(length)), length)


@syscall("getsockopt")
def sys_getsockopt(proc, cpu, fd, level, name, val, lenp, *_):
    n = sx32(proc.mem.u32(lenp))
    if n < 0:
        return -errno.EINVAL
    return H("getsockopt", fd, level, name, opt_w(proc, val, n), proc.mem.host_w(lenp, 4))


# --- sendmsg / recvmsg --------------------------------------------------------------------

class _HostMsg:
    """A host struct msghdr built from a guest one (keeps its pieces alive)."""

    def __init__(self, proc, addr: int, receive: bool, raw: bytes | None = None) -> None:
        mem = proc.mem
        raw = raw if raw is not None else mem.read(addr, T.MSGHDR.size)
        name, namelen, iov, iovlen, control, controllen, flags = T.MSGHDR.unpack_from(raw)
        get = mem.host_w if receive else mem.host_r
        self.iov = host_iovec(proc, iov, iovlen, receive) if iovlen else None
        self.buf = ctypes.create_string_buffer(T.MSGHDR.size)
        T.MSGHDR.pack_into(self.buf, 0, get(name, namelen) if name and namelen else 0, namelen,
                           ctypes.addressof(self.iov) if self.iov is not None else 0, iovlen,
                           get(control, controllen) if control and controllen else 0, controllen, flags)

    def results(self) -> tuple[int, int, int]:
        """namelen, controllen and flags as the host kernel left them."""
        f = T.MSGHDR.unpack_from(self.buf.raw)
        return f[1], f[5], f[6]


def _put_msg_results(proc, addr: int, msg: _HostMsg) -> None:
    namelen, controllen, flags = msg.results()
    mem = proc.mem
    mem.put_u32(addr + 8, namelen)
    mem.put_u64(addr + 40, controllen)
    mem.put_u32(addr + 48, flags)


@syscall("sendmsg")
def sys_sendmsg(proc, cpu, fd, msg, flags, *_):
    m = _HostMsg(proc, msg, False)
    return H("sendmsg", fd, m.buf, flags)


@syscall("recvmsg")
def sys_recvmsg(proc, cpu, fd, msg, flags, *_):
    m = _HostMsg(proc, msg, True)
    r = H("recvmsg", fd, m.buf, flags)
    if r >= 0:
        _put_msg_results(proc, msg, m)
    return r


def _mmsg(proc, vec: int, n: int, receive: bool):
    n = min(sx32(n), 1024)
    if n < 0:
        raise OSError(errno.EINVAL, "")
    raw = proc.mem.read(vec, 64 * n)
    msgs = [_HostMsg(proc, vec + 64 * i, receive, raw[64 * i:64 * i + 56]) for i in range(n)]
    arr = ctypes.create_string_buffer(64 * max(n, 1))
    for i, m in enumerate(msgs):
        ctypes.memmove(ctypes.addressof(arr) + 64 * i, m.buf, T.MSGHDR.size)
    return n, msgs, arr


def _mmsg_done(proc, vec: int, r: int, msgs, arr, receive: bool) -> None:
    for i in range(max(r, 0)):
        m = msgs[i]
        ctypes.memmove(m.buf, ctypes.addressof(arr) + 64 * i, T.MSGHDR.size)
        if receive:
            _put_msg_results(proc, vec + 64 * i, m)
        proc.mem.put_u32(vec + 64 * i + 56, struct.unpack_from("<I", arr.raw, 64 * i + 56)[0])


@syscall("sendmmsg")
def sys_sendmmsg(proc, cpu, fd, vec, n, flags, *_):
    n, msgs, arr = _mmsg(proc, vec, n, False)
    r = H("sendmmsg", fd, arr, n, flags)
    _mmsg_done(proc, vec, r, msgs, arr, False)
    return r


@syscall("recvmmsg")
def sys_recvmmsg(proc, cpu, fd, vec, n, flags, timeout, *_):
    n, msgs, arr = _mmsg(proc, vec, n, True)
    r = H("recvmmsg", fd, arr, n, flags, opt_w(proc, timeout, 16))
    _mmsg_done(proc, vec, r, msgs, arr, True)
    return r


# --- poll / select ------------------------------------------------------------------------

def _set_wait_mask(proc, cpu, addr: int, size: int) -> int:
    """Install the temporary mask at `addr`; -EINTR if a signal is already deliverable."""
    from pyqemu.linux_user import signal as S
    if size != T.SIGSET_SIZE:
        return -errno.EINVAL
    new = proc.mem.u64(addr) & ~S.UNBLOCKABLE
    cpu.saved_sigmask = cpu.sigmask
    cpu.sigmask = new
    if proc.signals.deliverable(cpu):
        return -errno.EINTR
    return 0


def _masked_wait(proc, cpu, mask_addr: int, size: int, call) -> int:
    """Run `call()` with the guest signal mask at `mask_addr` (0: unchanged)."""
    if not mask_addr:
        return call()
    r = _set_wait_mask(proc, cpu, mask_addr, size)
    if r == 0:
        r = call()
    if r != -errno.EINTR and cpu.saved_sigmask is not None:
        cpu.sigmask = cpu.saved_sigmask
        cpu.saved_sigmask = None
    return r


@syscall("ppoll")
def sys_ppoll(proc, cpu, fds, nfds, tmo, sigmask, sigsetsize, *_):
    if nfds > 1 << 20:
        return -errno.EINVAL
    hfds = proc.mem.host_w(fds, 8 * nfds) if nfds else opt_w(proc, fds, 0)
    htmo = opt_r(proc, tmo, 16)
    return _masked_wait(proc, cpu, sigmask, sigsetsize, lambda: H("ppoll", hfds, nfds, htmo, 0, 8))


@syscall("pselect6")
def sys_pselect6(proc, cpu, n, inp, outp, exp, tsp, sig):
    n = sx32(n)
    if n < 0:
        return -errno.EINVAL
    size = ((n + 63) // 64) * 8
    sets = [opt_w(proc, a, size) for a in (inp, outp, exp)]
    htsp = opt_r(proc, tsp, 16)
    mask_addr = mask_size = 0
    if sig:
        mask_addr, mask_size = struct.unpack("<QQ", proc.mem.read(sig, 16))
    return _masked_wait(proc, cpu, mask_addr, mask_size, lambda: H("pselect6", n, *sets, htsp, 0))


# --- epoll ----------------------------------------------------------------------------------

EPOLL_CTL_DEL = 2


@syscall("epoll_ctl")
def sys_epoll_ctl(proc, cpu, epfd, op, fd, event, *_):
    if sx32(op) == EPOLL_CTL_DEL and not event:
        return H("epoll_ctl", epfd, op, fd, 0)
    events, data = T.EPOLL_EVENT.unpack(proc.mem.read(event, T.EPOLL_EVENT.size))
    host = ctypes.create_string_buffer(_HOST_EV.pack(events, data), _HOST_EV.size)
    return H("epoll_ctl", epfd, op, fd, host)


def _epoll_wait(proc, cpu, call: str, epfd, events, maxevents, timeout, sigmask, sigsetsize) -> int:
    n = sx32(maxevents)
    if n <= 0 or n > EP_MAX_EVENTS:
        return -errno.EINVAL
    proc.mem.host_w(events, n * T.EPOLL_EVENT.size)
    host = ctypes.create_string_buffer(n * _HOST_EV.size)
    r = _masked_wait(proc, cpu, sigmask, sigsetsize, lambda: H(call, epfd, host, n, timeout, 0, 8))
    if r > 0:
        out = bytearray(r * T.EPOLL_EVENT.size)
        for i in range(r):
            T.EPOLL_EVENT.pack_into(out, 16 * i, *_HOST_EV.unpack_from(host.raw, _HOST_EV.size * i))
        proc.mem.write(events, bytes(out))
    return r


@syscall("epoll_pwait")
def sys_epoll_pwait(proc, cpu, epfd, events, maxevents, timeout, sigmask, sigsetsize):
    return _epoll_wait(proc, cpu, "epoll_pwait", epfd, events, maxevents, sx32(timeout), sigmask, sigsetsize)


@syscall("epoll_pwait2")
def sys_epoll_pwait2(proc, cpu, epfd, events, maxevents, timeout, sigmask, sigsetsize):
    return _epoll_wait(proc, cpu, "epoll_pwait2", epfd, events, maxevents, opt_r(proc, timeout, 16),
                       sigmask, sigsetsize)
