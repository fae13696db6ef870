"""Read-only inspection: ``info``, ``check``, ``map``, ``snapshot``, ``measure``."""
from __future__ import annotations

import errno
import sys
import time
from collections.abc import Sequence
from typing import Any

from pyqemu.block import options as opts_mod
from pyqemu.block.driver import BlockDriver, BlockError, CheckResult, SnapshotInfo
from pyqemu.tools import img_common as C
from pyqemu.tools.img_json import dumps_compact_fields, dumps_pretty, qdict_order


def _size_arg(what: str, text: str) -> int:
    try:
        return opts_mod.parse_size_arg(what, text)
    except opts_mod.OptionError as exc:
        raise C.ImgError(str(exc), each_line=True) from None


def _output_format(value: str) -> str:
    if value not in ("human", "json"):
        raise C.ImgError("--output must be used with human or json as argument.")
    return value


# --- info ----------------------------------------------------------------------
def snapshot_dict(sn: SnapshotInfo) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": sn.id, "name": sn.name, "vm-state-size": sn.vm_state_size, "date-sec": sn.date_sec,
        "date-nsec": sn.date_nsec, "vm-clock-sec": sn.vm_clock_nsec // 1_000_000_000,
        "vm-clock-nsec": sn.vm_clock_nsec % 1_000_000_000,
    }
    if sn.icount is not None and sn.icount != -1:
        d["icount"] = sn.icount
    return d


def image_info(drv: BlockDriver, filename: str) -> dict[str, Any]:
    """QAPI ImageInfo for one layer (bdrv_query_image_info), in QEMU's insertion order."""
    info: dict[str, Any] = {"virtual-size": drv.size, "filename": filename, "format": drv.format_name}
    extra = dict(drv.info())
    if extra.get("encrypted"):
        info["encrypted"] = True
    if "cluster-size" in extra:
        info["cluster-size"] = extra["cluster-size"]
    try:
        info["actual-size"] = drv.allocated_file_size()
    except (BlockError, OSError):
        pass
    info["dirty-flag"] = bool(extra.get("dirty-flag", False))
    bname = getattr(drv, "backing_filename", None)
    if bname:
        info["backing-filename"] = bname
        info["full-backing-filename"] = C.registry().resolve_backing(filename, bname)
        bfmt = getattr(drv, "backing_format", None)
        if bfmt:
            info["backing-filename-format"] = bfmt
    sns = drv.snapshot_list()
    if sns:
        info["snapshots"] = [snapshot_dict(s) for s in sns]
    if "format-specific" in extra:
        info["format-specific"] = extra["format-specific"]
    for k, v in extra.items():   # anything else the driver reports (e.g. "compressed")
        if k not in info and k not in ("encrypted",):
            info[k] = v
    return info


def snapshot_header() -> str:
    return f"{'ID':<10}{'TAG':<17}{'VM SIZE':>8}{'DATE':>20}{'VM CLOCK':>13}{'ICOUNT':>11}"


def snapshot_line(sn: dict[str, Any]) -> str:
    """bdrv_snapshot_dump(): one row of ``snapshot -l`` / info's snapshot list."""
    date = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sn["date-sec"]))
    ns = sn["vm-clock-sec"] * 1_000_000_000 + sn["vm-clock-nsec"]
    secs = ns // 1_000_000_000
    clock = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{ns // 1_000_000 % 1000:03d}"
    icount = str(sn["icount"]) if "icount" in sn else ""
    return (f"{sn['id']:<9} {sn['name']:<16} {C.size_to_str(sn['vm-state-size']):>8}{date:>20}"
            f"{clock:>13}{icount:>11}")


def _dump_qobject(obj: Any, indent: int, out: list[str]) -> None:
    """dump_qobject(): how QEMU prints format-specific information."""
    if isinstance(obj, dict):
        for k in qdict_order(list(obj)):
            v = obj[k]
            composite = isinstance(v, (dict, list))
            out.append(" " * (indent * 4) + k.replace("-", " ") + ":" + ("\n" if composite else " "))
            _dump_qobject(v, indent + 1, out)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            composite = isinstance(v, (dict, list))
            out.append(" " * (indent * 4) + f"[{i}]:" + ("\n" if composite else " "))
            _dump_qobject(v, indent + 1, out)
    elif isinstance(obj, bool):
        out.append(("true" if obj else "false") + "\n")
    else:
        out.append(f"{obj}\n")


def human_info(info: dict[str, Any]) -> str:
    """bdrv_image_info_dump()."""
    actual = C.size_to_str(info["actual-size"]) if "actual-size" in info else "unavailable"
    out = [f"image: {info['filename']}\nfile format: {info['format']}\n"
           f"virtual size: {C.size_to_str(info['virtual-size'])} ({info['virtual-size']} bytes)\n"
           f"disk size: {actual}\n"]
    if info.get("encrypted"):
        out.append("encrypted: yes\n")
    if "cluster-size" in info:
        out.append(f"cluster_size: {info['cluster-size']}\n")
    if info.get("dirty-flag"):
        out.append("cleanly shut down: no\n")
    if "backing-filename" in info:
        line = f"backing file: {info['backing-filename']}"
        if info["full-backing-filename"] != info["backing-filename"]:
            line += f" (actual path: {info['full-backing-filename']})"
        out.append(line + "\n")
        if "backing-filename-format" in info:
            out.append(f"backing file format: {info['backing-filename-format']}\n")
    if info.get("snapshots"):
        out.append("Snapshot list:\n" + snapshot_header() + "\n")
        out.extend(snapshot_line(s) + "\n" for s in info["snapshots"])
    if "format-specific" in info:
        out.append("Format specific information:\n")
        _dump_qobject(info["format-specific"].get("data", {}), 1, out)
    return "".join(out)


def cmd_info(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "f:hU", ["output=", "backing-chain", "object=", "image-opts",
                                             "force-share", "help"])
    fmt, output, chain = None, "human", False
    for o, a in opts:
        if o == "-f":
            fmt = a
        elif o == "--output":
            output = _output_format(a)
        elif o == "--backing-chain":
            chain = True
    if len(args) != 1:
        raise C.error_exit("Expecting one image file name")
    filename = args[0]
    infos: list[dict[str, Any]] = []
    seen: set[str] = set()
    import os
    while True:
        real = os.path.realpath(filename)
        if real in seen:
            raise C.ImgError(f"Backing file '{filename}' creates an infinite loop.")
        seen.add(real)
        drv = C.open_image(filename, fmt, backing=False)
        try:
            info = image_info(drv, filename)
        finally:
            drv.close()
        infos.append(info)
        if not chain or "backing-filename" not in info:
            break
        filename, fmt = info["full-backing-filename"], info.get("backing-filename-format")
    if output == "json":
        sys.stdout.write(dumps_pretty(infos if chain else infos[0]) + "\n")
    else:
        sys.stdout.write("\n".join(human_info(i) for i in infos))
    return 0


# --- check -------------------------------------------------------------------------
def check_dict(res: CheckResult, filename: str, fmt: str) -> dict[str, Any]:
    """collect_image_check(): zero counts are left out, check-errors always present."""
    d: dict[str, Any] = {"filename": filename, "format": fmt, "check-errors": res.check_errors}
    for key, val in (("image-end-offset", res.image_end_offset), ("corruptions", res.corruptions),
                     ("leaks", res.leaks), ("corruptions-fixed", res.corruptions_fixed),
                     ("leaks-fixed", res.leaks_fixed), ("total-clusters", res.total_clusters),
                     ("allocated-clusters", res.allocated_clusters),
                     ("fragmented-clusters", res.fragmented_clusters),
                     ("compressed-clusters", res.compressed_clusters)):
        if val:
            d[key] = val
    return d


def human_check(d: dict[str, Any]) -> str:
    out = []
    corr, leaks, errs = d.get("corruptions", 0), d.get("leaks", 0), d["check-errors"]
    if not (corr or leaks or errs):
        out.append("No errors were found on the image.\n")
    else:
        if corr:
            out.append(f"\n{corr} errors were found on the image.\n"
                       "Data may be corrupted, or further writes to the image may corrupt it.\n")
        if leaks:
            out.append(f"\n{leaks} leaked clusters were found on the image.\n"
                       "This means waste of disk space, but no harm to data.\n")
        if errs:
            out.append(f"\n{errs} internal errors have occurred during the check.\n")
    total, alloc = d.get("total-clusters", 0), d.get("allocated-clusters", 0)
    if total and alloc:
        out.append(f"{alloc}/{total} = {alloc * 100.0 / total:0.2f}% allocated, "
                   f"{d.get('fragmented-clusters', 0) * 100.0 / alloc:0.2f}% fragmented, "
                   f"{d.get('compressed-clusters', 0) * 100.0 / alloc:0.2f}% compressed clusters\n")
    if d.get("image-end-offset"):
        out.append(f"Image end offset: {d['image-end-offset']}\n")
    return "".join(out)


def cmd_check(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "hf:r:T:qU", ["output=", "object=", "image-opts", "force-share",
                                                 "help", "repair="])
    fmt, output, repair, quiet = None, "human", None, False
    for o, a in opts:
        if o == "-f":
            fmt = a
        elif o == "--output":
            output = _output_format(a)
        elif o in ("-r", "--repair"):
            if a not in ("leaks", "all"):
                raise C.error_exit("Unknown option value for -r (expecting 'leaks' or 'all'): " + a)
            repair = a
        elif o == "-q":
            quiet = True
    if len(args) != 1:
        raise C.error_exit("Expecting one image file name")
    filename = args[0]
    # "check" mode: a dirty or corrupt image opens as it is, for check to report and repair
    drv = C.open_image(filename, fmt, read_only=repair is None, backing=False,
                       options={"check": True})
    try:
        try:
            res = drv.check(repair)
        except BlockError as exc:
            if exc.errno == errno.ENOTSUP:
                raise C.ImgError("This image format does not support checks", status=63) from None
            raise C.ImgError(f"Check failed: {C.errno_text(exc)}") from None
        for m in res.messages:
            sys.stderr.write(m if m.endswith("\n") else m + "\n")
        if repair and res.check_errors:
            # a repair that could not run (e.g. refcounts need a rebuild but only leaks may be
            # fixed): qemu-img's check returns -EIO here and prints no summary
            raise C.ImgError("Check failed: Input/output error")
        if res.corruptions_fixed or res.leaks_fixed:
            if output == "human":
                C.qprint(quiet, "The following inconsistencies were found and repaired:\n\n"
                         f"    {res.leaks_fixed} leaked clusters\n    {res.corruptions_fixed} corruptions\n\n"
                         "Double checking the fixed image now...\n")
            fixed = (res.leaks_fixed, res.corruptions_fixed)
            res = drv.check(None)
            for m in res.messages:
                sys.stderr.write(m if m.endswith("\n") else m + "\n")
            res.leaks_fixed, res.corruptions_fixed = fixed
        d = check_dict(res, filename, drv.format_name)
    finally:
        try:
            drv.close()
        except BlockError:
            pass
    if output == "json":
        C.qprint(quiet, dumps_pretty(d) + "\n")
    else:
        C.qprint(quiet, human_check(d))
    if res.check_errors:
        raise C.ImgError("Check failed")
    return 2 if res.corruptions else 3 if res.leaks else 0


# --- map -----------------------------------------------------------------------------
def _hex(v: int) -> str:
    return f"{v:#x}" if v else "0"


def cmd_map(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "hf:U", ["output=", "object=", "image-opts", "force-share", "help",
                                            "start-offset=", "max-length="])
    fmt, output, start, max_len = None, "human", 0, None
    for o, a in opts:
        if o == "-f":
            fmt = a
        elif o == "--output":
            output = _output_format(a)
        elif o == "--start-offset":
            start = _size_arg("start offset", a)
        elif o == "--max-length":
            max_len = _size_arg("max length", a)
    if len(args) != 1:
        raise C.error_exit("Expecting one image file name")
    filename = args[0]
    drv = C.open_image(filename, fmt)
    out = sys.stdout
    try:
        length = drv.size if max_len is None else min(start + max_len, drv.size)
        if output == "human":
            out.write(f"{'Offset':<16}{'Length':<16}{'Mapped to':<16}File\n")
        else:
            out.write("[")
        cur: C.ChainStatus | None = None
        pos = start
        while pos < length:
            nxt = C.chain_status(drv, pos, length - pos)
            pos += nxt.length
            if cur is not None and _mergeable(cur, nxt):
                cur.length += nxt.length
                continue
            if cur is not None:
                _dump_entry(output, cur, nxt, out)
            cur = nxt
        if cur is not None:
            _dump_entry(output, cur, None, out)
        if output == "json":
            out.write("]\n")
    finally:
        C.close_quietly(drv)
    return 0


def _mergeable(a: C.ChainStatus, b: C.ChainStatus) -> bool:
    if (a.zero, a.data, a.depth, a.present, a.filename is not None, a.offset is not None) != \
            (b.zero, b.data, b.depth, b.present, b.filename is not None, b.offset is not None):
        return False
    if a.filename is not None and a.filename != b.filename:
        return False
    return a.offset is None or a.offset + a.length == b.offset


def _dump_entry(output: str, e: C.ChainStatus, nxt: C.ChainStatus | None, out: Any) -> None:
    if output == "human":
        if e.data and e.offset is None:
            raise C.ImgError("File contains external, encrypted or compressed clusters.")
        if e.data and not e.zero:
            out.write(f"{_hex(e.start):<16}{_hex(e.length):<16}{_hex(e.offset or 0):<16}{e.filename or ''}\n")
        if nxt is not None and (not nxt.data or nxt.zero):
            # the human format does not tell zero from unallocated: coalesce more
            nxt.data, nxt.zero = False, True
        return
    fields: list[tuple[str, Any]] = [("start", e.start), ("length", e.length), ("depth", e.depth),
                                     ("present", e.present), ("zero", e.zero), ("data", e.data)]
    if e.offset is not None:
        fields.append(("offset", e.offset))
    out.write(dumps_compact_fields(fields) + (",\n" if nxt is not None else ""))


# --- snapshot ------------------------------------------------------------------------
def cmd_snapshot(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "la:c:d:f:hqU", ["object=", "image-opts", "force-share", "help"])
    action: tuple[str, str] | None = None
    fmt, quiet = None, False
    for o, a in opts:
        if o in ("-l", "-a", "-c", "-d"):
            if action is not None:
                raise C.error_exit("Cannot mix '-l', '-a', '-c', '-d'")
            action = (o, a)
        elif o == "-f":
            fmt = a
        elif o == "-q":
            quiet = True
    if len(args) != 1:
        raise C.error_exit("Expecting one image file name")
    filename = args[0]
    if action is None:
        C.close_quietly(C.open_image(filename, fmt, backing=False))
        return 0     # qemu-img snapshot without an action opens the image and does nothing else
    op, name = action
    drv = C.open_image(filename, fmt, read_only=op == "-l", backing=False)
    try:
        if op == "-l":
            sns = drv.snapshot_list()
            if sns:
                C.qprint(quiet, "Snapshot list:\n" + snapshot_header() + "\n"
                         + "".join(snapshot_line(snapshot_dict(s)) + "\n" for s in sns))
        elif op == "-c":
            try:
                drv.snapshot_create(name, icount=0)
            except BlockError as exc:
                raise C.ImgError(f"Could not create snapshot '{name}': {-exc.errno} "
                                 f"({C.errno_text(exc)})") from None
        elif op == "-a":
            try:
                drv.snapshot_apply(name)
            except BlockError as exc:
                raise C.ImgError(f"Could not apply snapshot '{name}': Failed to load snapshot: "
                                 f"{C.errno_text(exc)}") from None
        else:
            try:
                drv.snapshot_delete(name)
            except BlockError as exc:
                msg = "snapshot not found" if exc.errno == errno.ENOENT else str(exc)
                raise C.ImgError(f"Could not delete snapshot '{name}': {msg}") from None
    finally:
        C.close_quietly(drv)
    return 0


# --- measure ----------------------------------------------------------------------------
def _refcount_metadata_size(clusters: int, cluster_size: int, refcount_order: int) -> int:
    """qcow2_refcount_metadata_size(): the fixed point where refcounts cover themselves."""
    per_table_cluster = cluster_size // 8
    per_block = cluster_size * 8 // (1 << refcount_order)
    table = blocks = n = 0
    while True:
        last = n
        blocks = -(-(clusters + table + blocks) // per_block)
        table = -(-blocks // per_table_cluster)
        n = clusters + blocks + table
        if n == last:
            return (blocks + table) * cluster_size


def qcow2_prealloc_size(total: int, cluster_size: int, refcount_order: int, extended_l2: bool) -> int:
    """qcow2_calc_prealloc_size(): file size of a fully allocated qcow2 image."""
    aligned = -(-total // cluster_size) * cluster_size
    l2e = 16 if extended_l2 else 8
    meta = cluster_size
    nl2e = aligned // cluster_size
    nl2e = -(-nl2e // (cluster_size // l2e)) * (cluster_size // l2e)
    meta += nl2e * l2e
    nl1e = nl2e * l2e // cluster_size
    nl1e = -(-nl1e // (cluster_size // 8)) * (cluster_size // 8)
    meta += nl1e * 8
    meta += _refcount_metadata_size((meta + aligned) // cluster_size, cluster_size, refcount_order)
    return meta + aligned


def measure(out_fmt: str, typed: dict[str, Any], size: int | None, src: BlockDriver | None
            ) -> dict[str, int]:
    """BlockMeasureInfo for converting ``src`` (or a blank ``size``) to ``out_fmt``."""
    if out_fmt == "raw":
        req = src.size if src is not None else -(-(size or 0) // 512) * 512
        return {"required": req, "fully-allocated": req}
    cluster_size = int(typed.get("cluster_size", 65536))
    if cluster_size < 512 or cluster_size > 2 << 20 or cluster_size & (cluster_size - 1):
        raise C.ImgError("Cluster size must be a power of two between 512 and 2048k")
    refcount_bits = int(typed.get("refcount_bits", 16))
    if refcount_bits < 1 or refcount_bits > 64 or refcount_bits & (refcount_bits - 1):
        raise C.ImgError("Refcount width must be a power of two and may not exceed 64 bits")
    compat = str(typed.get("compat", "1.1"))
    version = 2 if compat in ("0.10", "v2") else 3
    extended_l2 = bool(typed.get("extended_l2", False))
    if src is not None:
        ssize = src.size
        virtual = -(-ssize // cluster_size) * cluster_size
        required = 0
        if typed.get("backing_file"):
            required = virtual
        else:
            off = 0
            while off < ssize:
                st = C.chain_status(src, off, ssize - off)
                pnum = st.length
                if st.zero:
                    pass
                elif st.data and st.present:
                    pnum = -(-(off + pnum) // cluster_size) * cluster_size - off
                    required += off % cluster_size + pnum
                off += pnum
    else:
        virtual = -(-(size or 0) // cluster_size) * cluster_size
        required = 0   # a blank image needs only its metadata
    full = qcow2_prealloc_size(virtual, cluster_size, refcount_bits.bit_length() - 1, extended_l2)
    result = {"required": full - virtual + required, "fully-allocated": full}
    if version >= 3 and src is not None and src.format_name == "qcow2":
        result["bitmaps"] = 0
    return result


def cmd_measure(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "hf:O:o:l:U", ["output=", "size=", "object=", "image-opts",
                                                  "force-share", "help"])
    fmt, out_fmt, output, size = None, "raw", "human", None
    o_texts: list[str] = []
    for o, a in opts:
        if o == "-f":
            fmt = a
        elif o == "-O":
            out_fmt = a
        elif o == "-o":
            o_texts.append(C.option_list(a))
        elif o == "--output":
            output = _output_format(a)
        elif o == "--size":
            size = _size_arg("image size", a)
        elif o == "-l":
            raise C.ImgError("Snapshots are not supported by pyqemu-img measure")
    if len(args) > 1:
        raise C.error_exit("Expecting one image file name")
    if size is not None and args:
        raise C.ImgError("--size N cannot be used together with a filename.")
    if size is None and not args:
        raise C.ImgError("Either --size N or one filename must be specified.")
    drv_cls = C.driver_class(out_fmt)
    if any(opts_mod.is_help(t) for t in o_texts):
        sys.stdout.write(opts_mod.help_text(drv_cls))
        return 0
    try:
        typed, _ = opts_mod.parse_create_options(drv_cls, o_texts)
    except opts_mod.OptionError as exc:
        C.report(str(exc))
        raise C.ImgError(f"Invalid options for file format '{out_fmt}'") from None
    src = C.open_image(args[0], fmt) if args else None
    try:
        info = measure(out_fmt, typed, size, src)
    finally:
        C.close_quietly(src)
    if output == "json":
        sys.stdout.write(dumps_pretty(info) + "\n")
    else:
        sys.stdout.write(f"required size: {info['required']}\n"
                         f"fully allocated size: {info['fully-allocated']}\n")
        if "bitmaps" in info:
            sys.stdout.write(f"bitmaps size: {info['bitmaps']}\n")
    return 0
