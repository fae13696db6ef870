"""``qemu-img amend`` for qcow2 (QEMU's qcow2_amend_options): compat 0.10 <-> 1.1, lazy_refcounts,
refcount_bits.

A downgrade to 0.10 first turns every zero-flag cluster (active and in
snapshots) into something v2 can express: an unallocated entry, or a
cluster of real zeros.  A refcount width change rebuilds the refcount
structure with the new width from the computed references.
"""
from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from ..driver import BlockError, CheckResult, UnsupportedError
from . import header as H
from .check import _compute, _rebuild, check_image
from .cluster import COMPRESSED, COPIED, OFFSET_MASK, ZERO

if TYPE_CHECKING:
    from .driver import Qcow2Driver

_NOT_AMENDABLE = {"cluster_size": "Changing the cluster size is not supported",
                  "preallocation": "Changing the preallocation mode is not supported",
                  "extended_l2": "Toggling extended L2 entries is not supported",
                  "compression_type": "Changing the compression type is not supported",
                  "encryption": "Changing the encryption flag is not supported",
                  "size": "Changing the size with qemu-img amend is not supported; use qemu-img resize",
                  "backing_file": "Changing the backing file with qemu-img amend is not supported; "
                                  "use qemu-img rebase",
                  "backing_fmt": "Changing the backing format with qemu-img amend is not supported; "
                                 "use qemu-img rebase"}


def amend_image(drv: Qcow2Driver, options: dict[str, Any]) -> None:
    from .driver import _parse_bool, _parse_compat
    if drv.read_only:
        raise BlockError("Block node is read-only", errno.EACCES)
    for name in options:
        if name in _NOT_AMENDABLE:
            raise UnsupportedError(_NOT_AMENDABLE[name])
        if name not in ("compat", "lazy_refcounts", "refcount_bits"):
            raise BlockError(f"Invalid parameter '{name}'", errno.EINVAL)
    h = drv.hdr
    version = _parse_compat(options["compat"]) if "compat" in options else h.version
    lazy = (_parse_bool(options["lazy_refcounts"], "lazy_refcounts") if "lazy_refcounts" in options
            else drv.lazy_refcounts)
    rbits = int(options.get("refcount_bits", h.refcount_bits))
    if rbits < 1 or rbits > 64 or rbits & (rbits - 1):
        raise BlockError("Refcount width must be a power of two and may not exceed 64 bits", errno.EINVAL)
    if lazy and version < 3:
        if "lazy_refcounts" in options:
            raise BlockError("Lazy refcounts only supported with compatibility level 1.1 and above "
                             "(use compat=1.1 or greater)", errno.EINVAL)
        lazy = False
    if version < 3 and rbits != 16:
        raise UnsupportedError("compat=0.10 requires refcount_bits=16")
    drv._begin_write()
    drv.flush()
    if drv.hdr.incompatible_features & H.INCOMPAT_DIRTY and not lazy:
        drv.rc.write_blocks()
        drv.f.flush()
        drv._set_header(incompatible_features=drv.hdr.incompatible_features & ~H.INCOMPAT_DIRTY)
    if rbits != h.refcount_bits:
        _change_refcount_width(drv, rbits.bit_length() - 1)
    if version < drv.hdr.version:
        _downgrade(drv)
    elif version > drv.hdr.version:
        drv._set_header(version=3, header_length=H.V3_HEADER_LEN, refcount_order=4)
    compat = drv.hdr.compatible_features
    compat = compat | H.COMPAT_LAZY_REFCOUNTS if lazy else compat & ~H.COMPAT_LAZY_REFCOUNTS
    if drv.hdr.version >= 3 and compat != drv.hdr.compatible_features:
        drv._set_header(compatible_features=compat)
        drv._writing = False  # the dirty bit is set again on the next write when lazy


def _change_refcount_width(drv: Qcow2Driver, order: int) -> None:
    res = CheckResult()
    c = _compute(drv, res)
    limit = (1 << (1 << order)) - 1
    for ci, n in c.refs.items():
        if n > limit:
            raise BlockError(f"Cannot decrease refcount entry width to {1 << order} bits: cluster at "
                             f"offset {ci << drv.cluster_bits:#x} has a refcount of {n}", errno.EINVAL)
    _rebuild(drv, res, c, order)
    check_image(drv, "leaks")  # the old structure is unreferenced now


def _downgrade(drv: Qcow2Driver) -> None:
    h = drv.hdr
    if h.incompatible_features & ~H.INCOMPAT_DIRTY:
        raise UnsupportedError(f"Cannot downgrade an image with incompatible features "
                               f"{h.incompatible_features & ~H.INCOMPAT_DIRTY:#x} set")
    if h.refcount_order != 4:
        raise UnsupportedError("compat=0.10 requires refcount_bits=16")
    # every L2 table once, with how many L1 paths lead to it (its refcount)
    tables: set[int] = set()
    for l1 in [drv.l1] + [drv._read_l1(s.l1_table_offset, s.l1_size) for s in drv.snapshots]:
        tables.update(e & OFFSET_MASK for e in l1 if e & OFFSET_MASK)
    cs = drv.cs
    for l2off in sorted(tables):
        m = max(1, drv.rc.get(l2off >> drv.cluster_bits))
        table = drv.l2cache.get(l2off)
        changed = False
        for i, entry in enumerate(table):
            if entry & COMPRESSED or not entry & ZERO:
                continue
            host = entry & OFFSET_MASK
            if not host and drv.backing is None:
                new = 0
            elif host and drv.rc.get(host >> drv.cluster_bits) == m:
                drv.f.pwrite(host, bytes(cs))
                new = host | (COPIED if m == 1 else 0)
            else:
                fresh = drv.rc.alloc(1)
                if m > 1:
                    drv.rc.set(fresh >> drv.cluster_bits, m)
                drv.f.pwrite(fresh, bytes(cs))
                for _ in range(m if host else 0):
                    drv.rc.free_later(host, cs)
                new = fresh | (COPIED if m == 1 else 0)
            table[i] = new
            changed = True
        if changed:
            drv.l2cache.mark_dirty(l2off)
            drv._data_dirty = True
    drv.flush()
    drv._set_header(version=2, header_length=H.V2_HEADER_LEN, incompatible_features=0, compatible_features=0,
                    autoclear_features=0, unknown_tail=b"")
