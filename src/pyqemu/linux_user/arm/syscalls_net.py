"""sendmsg / recvmsg (and the mmsg forms) for 32-bit ARM: a 28-byte ``struct msghdr`` of
4-byte pointers and lengths, 8-byte ``iovec``, and control messages with a 12-byte
``cmsghdr`` and 4-byte alignment, converted to and from the host's (LP64) layouts."""
from __future__ import annotations

import ctypes
import errno
import struct

from pyqemu.linux_user.arm import target_structs as T
from pyqemu.linux_user.arm.syscalls import arm_syscall, host_iovec, s32
from pyqemu.linux_user.host_syscall import host_syscall as H

_HMSG = struct.Struct("<QI4xQQQQI4x")  # the host's struct msghdr (LP64)
_HCMSG = struct.Struct("<QII")
MSG_CTRUNC = 0x8


def _align(n: int, a: int) -> int:
    return (n + a - 1) & ~(a - 1)


def cmsgs_to_host(raw: bytes) -> bytes:
    """Guest control messages (12-byte headers, 4-aligned) -> host ones (16-byte, 8-aligned)."""
    out = bytearray()
    off = 0
    while off + T.CMSGHDR.size <= len(raw):
        ln, level, typ = T.CMSGHDR.unpack_from(raw, off)
        if ln < T.CMSGHDR.size or off + ln > len(raw):
            raise OSError(errno.EINVAL, "")
        data = raw[off + T.CMSGHDR.size:off + ln]
        out += _HCMSG.pack(_HCMSG.size + len(data), level, typ) + data
        out += bytes(_align(len(out), 8) - len(out))
        off += _align(ln, 4)
    return bytes(out)


def cmsgs_to_guest(raw: bytes, room: int) -> tuple[bytes, bool]:
    """Host control messages -> the guest's, at most `room` bytes (True: truncated)."""
    out = bytearray()
    off = 0
    truncated = False
    while off + _HCMSG.size <= len(raw):
        ln, level, typ = _HCMSG.unpack_from(raw, off)
        if ln < _HCMSG.size:
            break
        data = raw[off + _HCMSG.size:off + ln]
        item = T.CMSGHDR.pack(T.CMSGHDR.size + len(data), level, typ) + data
        if len(out) + len(item) > room:
            truncated = True
            break
        out += item + bytes(_align(len(item), 4) - len(item))
        off += _align(ln, 8)
    return bytes(out[:room]), truncated


class _Msg:
    """A host msghdr for the guest one at `addr` (keeps its pieces alive)."""

    def __init__(self, proc, addr: int, receive: bool) -> None:
        mem = proc.mem
        self.addr = addr
        (name, namelen, iov, iovlen, control, controllen,
         flags) = T.MSGHDR.unpack(mem.read(addr, T.MSGHDR.size))
        self.control, self.controllen = control, controllen
        get = mem.host_w if receive else mem.host_r
        self.iov = host_iovec(proc, iov, iovlen, receive) if iovlen else None
        if receive:
            self.cbuf = ctypes.create_string_buffer(2 * controllen + 64) if control and controllen else None
        else:
            data = cmsgs_to_host(mem.read(control, controllen)) if control and controllen else b""
            self.cbuf = ctypes.create_string_buffer(data, len(data)) if data else None
        self.buf = ctypes.create_string_buffer(_HMSG.size)
        _HMSG.pack_into(self.buf, 0, get(name, namelen) if name and namelen else 0, namelen,
                        ctypes.addressof(self.iov) if self.iov is not None else 0, s32(iovlen),
                        ctypes.addressof(self.cbuf) if self.cbuf is not None else 0,
                        len(self.cbuf) if self.cbuf is not None else 0, flags)

    def finish(self, proc) -> None:
        """After recvmsg: namelen, the converted control messages, controllen, flags."""
        f = _HMSG.unpack_from(self.buf.raw)
        namelen, hlen, flags = f[1], f[5], f[6]
        mem = proc.mem
        clen = 0
        if self.cbuf is not None:
            data, trunc = cmsgs_to_guest(self.cbuf.raw[:hlen], self.controllen)
            mem.write(self.control, data)
            clen = len(data)
            if trunc:
                flags |= MSG_CTRUNC
        mem.put_u32(self.addr + 4, namelen)
        mem.put_u32(self.addr + 20, clen)
        mem.put_u32(self.addr + 24, flags)


@arm_syscall("sendmsg")
def sys_sendmsg(proc, cpu, fd, msg, flags, *_):
    m = _Msg(proc, msg, False)
    return H("sendmsg", s32(fd), m.buf, flags)


@arm_syscall("recvmsg")
def sys_recvmsg(proc, cpu, fd, msg, flags, *_):
    m = _Msg(proc, msg, True)
    r = H("recvmsg", s32(fd), m.buf, flags)
    if r >= 0:
        m.finish(proc)
    return r


_MMSG = 32  # struct mmsghdr on ARM: msghdr (28) + msg_len


def _mmsg(proc, cpu, fd, vec, n, flags, receive: bool) -> int:
    """sendmmsg / recvmmsg one message at a time (as the kernel's loop does)."""
    n = min(s32(n), 1024)
    if n < 0:
        return -errno.EINVAL
    done = 0
    for i in range(n):
        m = _Msg(proc, vec + _MMSG * i, receive)
        fl = flags if not receive or i == 0 else flags | 0x40  # MSG_DONTWAIT after the first
        r = H("recvmsg" if receive else "sendmsg", s32(fd), m.buf, fl)
        if r < 0:
            return done if done else r
        if receive:
            m.finish(proc)
        proc.mem.put_u32(vec + _MMSG * i + 28, r)
        done += 1
    return done


@arm_syscall("sendmmsg")
def sys_sendmmsg(proc, cpu, fd, vec, n, flags, *_):
    return _mmsg(proc, cpu, fd, vec, n, flags, False)


@arm_syscall("recvmmsg_time64")
def sys_recvmmsg(proc, cpu, fd, vec, n, flags, timeout, *_):
    return _mmsg(proc, cpu, fd, vec, n, flags & ~0x10000, True)  # MSG_WAITFORONE: one blocking read


@arm_syscall("send")
def sys_send(proc, cpu, fd, buf, length, flags, *_):
    return H("sendto", s32(fd), proc.mem.host_r(buf, length), length, flags, 0, 0)


@arm_syscall("recv")
def sys_recv(proc, cpu, fd, buf, length, flags, *_):
    return H("recvfrom", s32(fd), proc.mem.host_w(buf, length), length, flags, 0, 0)
