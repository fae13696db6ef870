"""Drives: ``-drive`` and ``-blockdev`` turned into named BlockBackends, and devices attaching them.

Interface (contract A of issue 6):

* ``blk_by_name(name)`` / ``all_backends()``: the backends by ``-drive id=`` or
  ``-blockdev node-name=`` name (QEMU's blk_by_name / blk_next);
* ``blk_attach(dev, name, prop)``: what a device's ``realize()`` calls for its
  ``drive`` property: resolves the name, refuses unknown, empty and already attached
  ones with QEMU's messages, and records ``blk.attached_dev``; ``blk_detach`` undoes it;
* ``open_drives(cfg)`` (machine_run, before the board exists): every ``-blockdev`` then
  every ``-drive`` (QEMU's drive_new: default ids ``virtio0``, ``pflash0``, ``none0``..., bus/
  unit/index, cache/aio/discard/detect-zeroes/readonly/snapshot/werror/rerror checks and
  messages), the default empty ``floppy0``/``sd0`` drives, the pflash banks handed to the board;
* ``create_drive_devices(machine, cfg)`` (after ``-device``): the device ``if=virtio`` asks for
  (``virtio-blk``, i.e. ``virtio-blk-pci`` on virt), then QEMU's orphaned-drive check.

Spec: QEMU 7.2 blockdev.c (drive_new, blockdev_init), block.c (bdrv_parse_cache_mode),
block-backend.c (blk_attach_dev), softmmu/vl.c (configure_blockdev, default drives).
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyqemu.qom.object import QOMError

if TYPE_CHECKING:
    from pyqemu.block.block_backend import BlockBackend
    from pyqemu.qom.device import Device

IF_TYPES = ("none", "ide", "scsi", "floppy", "pflash", "mtd", "sd", "virtio", "xen")
IF_MAX_DEVS = {"ide": 2, "scsi": 7}          # QEMU if_max_devs; 0 (unlimited) for the rest
WERROR_TYPES = ("ide", "scsi", "virtio", "none")
CACHE_MODES = {  # bdrv_parse_cache_mode: (writeback, direct, no-flush)
    "none": (True, True, False), "off": (True, True, False), "writeback": (True, False, False),
    "writethrough": (False, False, False), "directsync": (False, True, False),
    "unsafe": (True, False, True)}
AIO_MODES = ("threads", "native", "io_uring")  # all run on worker threads here
# -drive keys drive_new/blockdev_init consume, beyond format-specific ones
_DRIVE_KEYS = {"id", "if", "bus", "unit", "index", "media", "file", "format", "cache", "cache.direct",
               "cache.no-flush", "cache.writeback", "aio", "discard", "detect-zeroes", "readonly",
               "read-only", "snapshot", "werror", "rerror", "copy-on-read", "auto-read-only",
               "force-share", "stats-account-invalid", "stats-account-failed", "stats-intervals",
               "node-name", "locking", "file.locking", "file.aio", "file.filename", "file.driver"}
_THROTTLE_PREFIXES = ("throttling.", "bps", "iops", "group")
# format options our drivers take (the rest of QEMU's are accepted by QEMU, refused here as unknown)
_FORMAT_KEYS = {"qcow2": {"lazy-refcounts", "l2-cache-size", "refcount-cache-size", "cache-size",
                          "cache-clean-interval", "overlap-check", "pass-discard-request",
                          "pass-discard-snapshot", "pass-discard-other", "l2-cache-entry-size",
                          "backing"},
                "raw": {"offset", "size"}}
_BOOL_WORDS = {"on": True, "yes": True, "true": True, "y": True, "off": False, "no": False,
               "false": False, "n": False}
_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*\Z")


class DriveError(Exception):
    """A -drive/-blockdev the user must fix; the message is QEMU's (the caller adds the option)."""


# --- nodes: what query-block and info block describe ------------------------------------------------

_node_counter = 0


def _auto_node_name() -> str:
    """QEMU's id_generate(ID_BLOCK): '#block' + a counter + two random digits."""
    global _node_counter
    import random
    name = f"#block{_node_counter}{random.randrange(100):02d}"
    _node_counter += 1
    return name


@dataclass(eq=False)
class BlockNode:
    """One block graph node (QEMU BlockDriverState): a ``file`` (protocol) node or a format node
    over one, with its backing node. ``image`` is the open driver a backend reads through."""
    name: str
    driver: str                      # "file", "raw", "qcow2"
    filename: str
    read_only: bool
    image: Any = None                # the BlockDriver (format nodes; file nodes: a raw view)
    file: BlockNode | None = None
    backing: BlockNode | None = None
    writeback: bool = True
    direct: bool = False
    no_flush: bool = False
    detect_zeroes: str = "off"       # as shown (-drive allows unmap without discard=unmap)
    discard: str = "ignore"
    user_named: bool = False         # -blockdev node-name (query-block shows no device name)
    backing_file: str | None = None  # the backing's name as the node knows it (query-block)
    attached: list[BlockBackend] = field(default_factory=list)

    @property
    def backing_depth(self) -> int:
        n, node = 0, self.backing
        while node is not None:
            n, node = n + 1, node.backing
        return n


_NODES: list[BlockNode] = []       # creation order (QEMU graph_bdrv_states)


def all_nodes() -> list[BlockNode]:
    return list(_NODES)


def node_by_name(name: str) -> BlockNode | None:
    return next((n for n in _NODES if n.name == name), None)


def _new_node(**kw: Any) -> BlockNode:
    node = BlockNode(**kw)
    _NODES.append(node)
    return node


def _chain_nodes(image: Any, filename: str, fmt: str, read_only: bool, cache: tuple[bool, bool, bool],
                 detect_zeroes: str = "off", discard: str = "ignore", name: str | None = None,
                 file_node: BlockNode | None = None) -> BlockNode:
    """Nodes for an opened image: its file node (unless given), the format node, then the backing
    chain the driver opened, numbered in QEMU's order (file child first)."""
    wb, direct, no_flush = cache
    if file_node is None:
        file_node = _new_node(name=_auto_node_name(), driver="file", filename=filename,
                              read_only=read_only, writeback=wb, direct=direct, no_flush=no_flush,
                              discard=discard)
    node = _new_node(name=name or _auto_node_name(), driver=fmt, filename=filename, read_only=read_only,
                     image=image, file=file_node, writeback=wb, direct=direct, no_flush=no_flush,
                     detect_zeroes=detect_zeroes, discard=discard, user_named=name is not None)
    back = getattr(image, "backing", None)
    if back is not None:
        from pyqemu.block.registry import resolve_backing
        node.backing_file = image.backing_filename
        bname = resolve_backing(filename, image.backing_filename or "")
        node.backing = _chain_nodes(back, bname, back.format_name, True, cache)
    return node


# --- backends -------------------------------------------------------------------------------------

_BACKENDS: list[BlockBackend] = []   # every backend, creation order (blk_all_next)
_LISTED: list[Any] = []   # backends and empty drives in creation order: query-block's order


def _meta(blk: BlockBackend) -> dict[str, Any]:
    return blk.__dict__.setdefault("_drive_meta", {})


def backend_node(blk: BlockBackend) -> BlockNode | None:
    """The node a backend reads through (its root node), if known."""
    node: BlockNode | None = _meta(blk).get("node")
    return node


def register_backend(blk: BlockBackend, name: str | None = None,
                     node: BlockNode | None = None) -> BlockBackend:
    """Make ``blk`` findable under ``name`` (default ``blk.name``; "" for an anonymous one)."""
    name = name if name is not None else blk.name
    if name and blk_by_name(name) is not None:
        raise QOMError(f"Duplicate ID '{name}' for drive")
    blk.name = name
    if node is not None:
        _meta(blk)["node"] = node
        node.attached.append(blk)
    _BACKENDS.append(blk)
    _LISTED.append(blk)
    return blk


def unregister_backend(blk: BlockBackend) -> None:
    if blk in _BACKENDS:
        _BACKENDS.remove(blk)
    if blk in _LISTED:
        _LISTED.remove(blk)
    node = backend_node(blk)
    if node is not None and blk in node.attached:
        node.attached.remove(blk)


def close_all() -> None:
    """At exit (QEMU's bdrv_close_all): wait for each backend's requests, then flush and close
    every image (qcow2 writes its caches and clears its dirty bit)."""
    from pyqemu.block.driver import BlockError
    for blk in list(_BACKENDS):
        try:
            blk.close()
        except (BlockError, OSError) as e:
            sys.stderr.write(f"{blk.name or 'drive'}: {e}\n")
    for node in _NODES:
        if node.image is not None:
            try:
                node.image.close()
            except (BlockError, OSError):
                pass   # already reported through its backend, or nothing to flush


def clear() -> None:
    """Forget every backend, node and drive (a new machine run; tests)."""
    global _node_counter
    close_all()   # the images of the previous configuration
    _BACKENDS.clear()
    _LISTED.clear()
    _NODES.clear()
    _DRIVES.clear()
    _node_counter = 0


def blk_by_name(name: str) -> BlockBackend | None:
    """The backend called ``name`` (a ``-drive`` id), or None (QEMU blk_by_name)."""
    if not name:
        return None
    return next((b for b in _BACKENDS if b.name == name), None)


def block_list() -> list[tuple[str, BlockBackend | None]]:
    """What query-block lists, in creation order: (name, backend or None for an empty drive);
    anonymous backends only while a device holds them."""
    out: list[tuple[str, BlockBackend | None]] = []
    for item in _LISTED:
        if isinstance(item, DriveInfo):
            out.append((item.id, None))
        elif item.name or item.attached_dev is not None:
            out.append((item.name, item))
    return out


def all_backends() -> list[BlockBackend]:
    """Every backend (named, and anonymous ones devices made for -blockdev nodes), in creation order."""
    return list(_BACKENDS)


def _dev_path(dev: Any) -> str:
    try:
        return str(dev.canonical_path())
    except Exception:
        return ""


def blk_attach(dev: Device, name: str | None, prop: str = "drive") -> BlockBackend:
    """Resolve a device's drive property and mark the backend as the device's (blk_attach_dev).

    ``name`` is a ``-drive`` id or a ``-blockdev`` node-name (a node gets a new anonymous
    backend, as QEMU's blk_new for a device). QEMU's messages: an unknown name is
    "Property 'T.drive' can't find value 'x'", a taken one "Drive 'x' is already in use by
    another device", an unset one "drive property not set", an empty drive "Device needs
    media, but drive is empty".
    """
    if name is None or name == "":
        raise QOMError(f"{prop} property not set")
    blk = blk_by_name(name)
    if blk is None:
        drive = next((d for d in _DRIVES if d.id == name), None)
        if drive is not None:   # an empty -drive (no file=)
            raise QOMError("Device needs media, but drive is empty")
        node = node_by_name(name)
        if node is None:
            raise QOMError(f"Property '{dev.type_name}.{prop}' can't find value '{name}'")
        return _attach_node(dev, node)
    if blk.attached_dev is not None and blk.attached_dev is not dev:
        drive = drive_of(blk)
        if drive is not None and drive.type != "none":
            raise QOMError(f"Drive '{name}' is already in use because it has been automatically connected "
                           "to another device (did you need 'if=none' in the drive options?)")
        raise QOMError(f"Drive '{name}' is already in use by another device")
    blk.attached_dev = dev
    _set_iostatus(blk, dev)
    return blk


def _attach_node(dev: Device, node: BlockNode) -> BlockBackend:
    from pyqemu.block.block_backend import BlockBackend
    for other in node.attached:
        if other.attached_dev is not None and not node.read_only:
            first = _dev_path(getattr(other.attached_dev, "blk_owner", other.attached_dev))
            raise QOMError(f"Permission conflict on node '{node.name}': permissions 'write' are both "
                           f"required by block device '{first}' (uses node '{node.name}' as 'root' "
                           f"child) and unshared by block device '{_dev_path(dev)}' (uses node "
                           f"'{node.name}' as 'root' child).")
    image = node.image
    if image is None:
        raise QOMError(f"Property '{dev.type_name}.drive' can't find value '{node.name}'")
    blk = BlockBackend(image, read_only=node.read_only, discard=node.discard,
                       detect_zeroes=_effective_detect_zeroes(node.detect_zeroes, node.discard),
                       name="", writeback=True, no_flush=node.no_flush, direct=node.direct)
    register_backend(blk, "", node)
    blk.attached_dev = dev
    _set_iostatus(blk, dev)
    return blk


# devices that enable I/O status reporting (blk_iostatus_enable): query-block shows io-status
IOSTATUS_DEVICES = ("virtio-blk-device", "scsi-hd", "scsi-cd", "ide-hd", "ide-cd")


def _set_iostatus(blk: BlockBackend, dev: Any) -> None:
    if getattr(dev, "type_name", None) in IOSTATUS_DEVICES:
        _meta(blk)["iostatus"] = "ok"


def iostatus(blk: BlockBackend) -> str | None:
    """query-block's io-status ('ok'), or None when the device does not report one."""
    value: str | None = _meta(blk).get("iostatus")
    return value


def blk_detach(blk: BlockBackend) -> None:
    """The device let go of ``blk`` (unplug, or its realize failed later on)."""
    blk.attached_dev = None
    _meta(blk).pop("iostatus", None)
    if not blk.name:   # an anonymous backend exists only for its device
        unregister_backend(blk)


def attached_qdev_path(blk: BlockBackend) -> str | None:
    """query-block's ``qdev``: the device's id, else its QOM path (QEMU blk_get_attached_dev_id)."""
    dev: Any = getattr(blk, "attached_dev", None)
    if dev is None:
        return None
    if dev.id:
        return str(dev.id)
    return _dev_path(dev)


def _effective_detect_zeroes(mode: str, discard: str) -> str:
    # -drive accepts detect-zeroes=unmap without discard=unmap; zero writes then cannot unmap
    return "on" if mode == "unmap" and discard != "unmap" else mode


# --- -drive ---------------------------------------------------------------------------------------

@dataclass(eq=False)
class DriveInfo:
    """One ``-drive`` (QEMU DriveInfo); ``blk`` is None for an empty drive (no medium)."""
    id: str
    type: str
    bus: int
    unit: int
    index: int
    loc: str
    blk: BlockBackend | None = None
    is_default: bool = False
    media: str = "disk"


_DRIVES: list[DriveInfo] = []


def all_drives() -> list[DriveInfo]:
    return list(_DRIVES)


def drive_get(type_: str, bus: int, unit: int) -> DriveInfo | None:
    return next((d for d in _DRIVES if d.type == type_ and d.bus == bus and d.unit == unit), None)


def drive_of(blk: BlockBackend) -> DriveInfo | None:
    return next((d for d in _DRIVES if d.blk is blk), None)


def _opt_bool(opts: dict[str, Any], key: str, shown: str | None = None) -> bool | None:
    if key not in opts:
        return None
    v = opts[key]
    if isinstance(v, bool):
        return v
    b = _BOOL_WORDS.get(str(v))
    if b is None:
        raise DriveError(f"Parameter '{shown or key}' expects 'on' or 'off'")
    return b


def _opt_number(opts: dict[str, Any], key: str, default: int) -> int:
    if key not in opts:
        return default
    v = str(opts[key])
    try:
        return int(v, 0)
    except ValueError:
        raise DriveError(f"Parameter '{key}' expects a number") from None


def _probe_warning(path: str) -> None:
    sys.stderr.write(
        f"WARNING: Image format was not specified for '{path}' and probing guessed raw.\n"
        "         Automatically detecting the format is dangerous for raw images, write "
        "operations on block 0 will be restricted.\n"
        "         Specify the 'raw' format explicitly to remove the restrictions.\n")


def _cache_opts(opts: dict[str, Any]) -> tuple[bool, bool, bool]:
    """(writeback, direct, no-flush) from cache= and the explicit cache.* keys (which win)."""
    wb, direct, no_flush = True, False, False
    mode = opts.get("cache")
    if mode is not None:
        if mode not in CACHE_MODES:
            raise DriveError("invalid cache option")
        wb, direct, no_flush = CACHE_MODES[mode]
    for key in ("cache.writeback", "cache.direct", "cache.no-flush"):
        v = _opt_bool(opts, key)
        if v is None:
            continue
        if key == "cache.writeback":
            wb = v
        elif key == "cache.direct":
            direct = v
        else:
            no_flush = v
    return wb, direct, no_flush


def _check_aio(aio: Any, direct: bool, bad: str) -> None:
    if aio is None:
        return
    if aio not in AIO_MODES:
        raise DriveError(bad)
    if aio == "native" and not direct:
        raise DriveError("aio=native was specified, but it requires cache.direct=on, which was not "
                         "specified.")


def drive_new(opts: dict[str, Any], loc: str = "", default_if: str = "none") -> DriveInfo:
    """QEMU's drive_new + blockdev_init for one ``-drive``; DriveError with QEMU's message."""
    from pyqemu.block.block_backend import BlockBackend
    from pyqemu.block.driver import BlockError
    from pyqemu.block.registry import get_driver, open_image, probe_format
    if_type = opts.get("if", default_if)
    if if_type not in IF_TYPES:
        raise DriveError(f"unsupported bus type '{if_type}'")
    media = opts.get("media", "disk")
    if media not in ("disk", "cdrom"):
        raise DriveError(f"'{media}' invalid media")
    bus = _opt_number(opts, "bus", 0)
    unit = _opt_number(opts, "unit", -1)
    index = _opt_number(opts, "index", -1)
    max_devs = IF_MAX_DEVS.get(if_type, 0)
    if index != -1:
        if bus != 0 or unit != -1:
            raise DriveError("index cannot be used with bus and unit")
        bus, unit = (index // max_devs, index % max_devs) if max_devs else (0, index)
    if unit == -1:
        unit = 0
        while drive_get(if_type, bus, unit) is not None:
            unit += 1
            if max_devs and unit >= max_devs:
                unit -= max_devs
                bus += 1
    if max_devs and unit >= max_devs:
        raise DriveError(f"unit {unit} too big (max is {max_devs - 1})")
    if drive_get(if_type, bus, unit) is not None:
        raise DriveError(f"drive with bus={bus}, unit={unit} (index={index}) exists")
    drive_id = opts.get("id")
    if drive_id is None:
        mediastr = ("-cd" if media == "cdrom" else "-hd") if if_type in ("ide", "scsi") else ""
        drive_id = (f"{if_type}{bus}{mediastr}{unit}" if max_devs else f"{if_type}{mediastr}{unit}")
    elif not _ID_RE.match(drive_id):
        raise DriveError("Parameter 'id' expects an identifier\n"
                         "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.")
    if blk_by_name(drive_id) is not None or any(d.id == drive_id for d in _DRIVES):
        raise DriveError(f"Duplicate ID '{drive_id}' for drive")
    if node_by_name(drive_id) is not None:
        raise DriveError(f"Device name '{drive_id}' conflicts with an existing node name")
    for key, what in (("werror", "write"), ("rerror", "read")):
        v = opts.get(key)
        if v is None:
            continue
        if if_type not in WERROR_TYPES:
            raise DriveError(f"{key} is not supported by this bus type")
        allowed = ("enospc", "ignore", "report", "stop") if key == "werror" else ("ignore", "report", "stop")
        if v not in allowed:
            raise DriveError(f"'{v}' invalid {what} error action")
    ro = bool(_opt_bool(opts, "read-only") or _opt_bool(opts, "readonly", "read-only")) or media == "cdrom"
    snapshot = bool(_opt_bool(opts, "snapshot"))
    cache = _cache_opts(opts)
    _check_aio(opts.get("aio", opts.get("file.aio")), cache[1], "invalid aio option")
    discard = opts.get("discard", "ignore")
    discard = {"on": "unmap", "off": "ignore"}.get(discard, discard)
    if discard not in ("ignore", "unmap"):
        raise DriveError("Invalid discard option")
    dz = opts.get("detect-zeroes", "off")
    if dz not in ("off", "on", "unmap"):
        raise DriveError(f"invalid parameter value: {dz}")
    fmt = opts.get("format")
    if fmt == "help":
        from pyqemu.block.registry import driver_names
        names = " ".join(sorted({*driver_names(), "file"}))
        raise DriveHelp(f"Supported formats: {names}\nSupported formats (read-only): {names}\n")
    path = opts.get("file", opts.get("file.filename"))
    if "file" in opts and "file.filename" in opts:
        raise DriveError("Can't specify 'file' and 'filename' options at the same time")
    info = DriveInfo(drive_id, if_type, bus, unit, index, loc, media=media)
    if not path:
        if if_type == "virtio":
            raise DriveError("Device needs media, but drive is empty")
        _DRIVES.append(info)
        _LISTED.append(info)
        return info
    try:
        if fmt is not None:
            get_driver(fmt)
        elif (fmt := probe_format(path)) == "raw":
            _probe_warning(path)
        known = _DRIVE_KEYS | _FORMAT_KEYS.get(fmt, set())
        for key in opts:
            if key not in known and not key.startswith(_THROTTLE_PREFIXES):
                raise DriveError(f"Block format '{fmt}' does not support the option '{key}'")
        fmt_opts = {k: opts[k] for k in _FORMAT_KEYS.get(fmt, ()) if k in opts}
        if cache[2]:
            fmt_opts["cache.no-flush"] = True
        image = open_image(path, fmt, read_only=ro or snapshot, options=fmt_opts or None)
        if snapshot:
            node = _snapshot_overlay(image, path, fmt, cache)
            image = node.image
        else:
            node = _chain_nodes(image, path, fmt, ro, cache, dz, discard)
    except BlockError as e:
        raise DriveError(str(e)) from None
    try:
        blk = BlockBackend(image, read_only=ro, discard=discard,
                           detect_zeroes=_effective_detect_zeroes(dz, discard), name=drive_id,
                           writeback=cache[0], no_flush=cache[2], direct=cache[1])
    except BlockError as e:
        image.close()
        raise DriveError(str(e)) from None
    for key, attr in (("stats-account-invalid", "account_invalid"),
                      ("stats-account-failed", "account_failed")):
        v = _opt_bool(opts, key)
        if v is not None:
            setattr(blk.stats, attr, v)
    register_backend(blk, drive_id, node)
    info.blk = blk
    _DRIVES.append(info)
    return info


class DriveHelp(Exception):
    """``format=help``: print the text and exit successfully."""


def _temp_name() -> str:
    """QEMU's get_tmp_filename: a new /var/tmp/vl.XXXXXX (mkstemp's six characters)."""
    import random
    import string
    tmpdir = "/var/tmp" if os.access("/var/tmp", os.W_OK) else tempfile.gettempdir()
    chars = string.ascii_letters + string.digits
    while True:
        path = os.path.join(tmpdir, "vl." + "".join(random.choice(chars) for _ in range(6)))
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
            return path
        except FileExistsError:
            continue


def _snapshot_overlay(image: Any, path: str, fmt: str, cache: tuple[bool, bool, bool]) -> BlockNode:
    """snapshot=on: a temporary qcow2 overlay in /var/tmp over the image (QEMU's
    bdrv_append_temp_snapshot): writes go there and vanish with it at exit. Like QEMU, the
    overlay records no backing file; the open image is attached as its backing."""
    import atexit
    import json

    from pyqemu.block.registry import create_image, open_image
    base = _chain_nodes(image, path, fmt, True, cache)
    tmp = _temp_name()
    atexit.register(lambda: os.path.exists(tmp) and os.unlink(tmp))
    create_image(tmp, "qcow2", image.size, {})
    overlay = open_image(tmp, "qcow2", read_only=False, backing=False,
                         options={"cache.no-flush": True})
    overlay.backing = image
    shown = "json:" + json.dumps({"backing": {"driver": fmt, "file": {"driver": "file", "filename": path}},
                                  "driver": "qcow2", "file": {"driver": "file", "filename": tmp}})
    file_node = _new_node(name=_auto_node_name(), driver="file", filename=tmp, read_only=False,
                          writeback=cache[0], direct=cache[1], no_flush=True)
    return _new_node(name=_auto_node_name(), driver="qcow2", filename=shown, read_only=False,
                     image=overlay, file=file_node, backing=base, backing_file=path,
                     writeback=cache[0], direct=cache[1], no_flush=True)


# --- -blockdev ------------------------------------------------------------------------------------

_BLOCKDEV_COMMON = {"driver", "node-name", "discard", "cache", "read-only", "auto-read-only",
                    "force-share", "detect-zeroes"}
_BLOCKDEV_DRIVER_KEYS = {"file": {"filename", "aio", "locking", "pr-manager", "aio-max-batch",
                                  "drop-cache", "x-check-cache-dropped"},
                         "raw": {"file", "offset", "size"},
                         "qcow2": {"file", "backing", "data-file"} | _FORMAT_KEYS["qcow2"]}


def _bd_bool(opts: dict[str, Any], key: str, shown: str) -> bool | None:
    v = opts.get(key)
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    b = _BOOL_WORDS.get(str(v)) if not isinstance(v, dict) else None
    if b is None:
        raise DriveError(f"Parameter '{shown}' expects 'on' or 'off'" if isinstance(v, str)
                         else f"Invalid parameter type for '{shown}', expected: boolean")
    return b


def blockdev_add(opts: dict[str, Any], prefix: str = "", inherit_ro: bool = False,
                 inherit_cache: tuple[bool, bool] = (False, False)) -> BlockNode:
    """One ``-blockdev`` (keyval or JSON; nested ``file`` children allowed): a named node.
    A nested child inherits read-only and cache.direct/no-flush unless it sets them
    (QEMU's bdrv_inherited_options)."""
    from pyqemu.block.driver import BlockError
    from pyqemu.block.registry import open_image
    driver = opts.get("driver")
    if driver is None:
        raise DriveError(f"Parameter '{prefix}driver' is missing")
    if driver not in _BLOCKDEV_DRIVER_KEYS:
        raise DriveError(f"Parameter '{prefix}driver' does not accept value '{driver}'")
    for key in opts:
        if key not in _BLOCKDEV_COMMON and key not in _BLOCKDEV_DRIVER_KEYS[driver]:
            raise DriveError(f"Parameter '{prefix}{key}' is unexpected")
    name = opts.get("node-name")
    if name is None and not prefix:
        raise DriveError("'node-name' must be specified for the root node")
    if name is not None:
        if not _ID_RE.match(str(name)):
            raise DriveError(f"Invalid node-name: '{name}'")
        if node_by_name(name) is not None:
            raise DriveError(f"Duplicate nodes with node-name='{name}'")
        if blk_by_name(name) is not None:
            raise DriveError(f"node-name={name} is conflicting with a device id")
    ro = _bd_bool(opts, "read-only", f"{prefix}read-only")
    ro = inherit_ro if ro is None else ro
    cache_d = opts.get("cache", {})
    if not isinstance(cache_d, dict):
        raise DriveError(f"Invalid parameter type for '{prefix}cache', expected: object")
    for k in cache_d:
        if k not in ("direct", "no-flush"):
            raise DriveError(f"Parameter '{prefix}cache.{k}' is unexpected")
    direct = _bd_bool(cache_d, "direct", f"{prefix}cache.direct")
    direct = inherit_cache[0] if direct is None else direct
    no_flush = _bd_bool(cache_d, "no-flush", f"{prefix}cache.no-flush")
    no_flush = inherit_cache[1] if no_flush is None else no_flush
    discard = opts.get("discard", "ignore")
    if discard not in ("ignore", "unmap"):
        raise DriveError(f"Parameter '{prefix}discard' does not accept value '{discard}'")
    dz = opts.get("detect-zeroes", "off")
    if dz not in ("off", "on", "unmap"):
        raise DriveError(f"Parameter '{prefix}detect-zeroes' does not accept value '{dz}'")
    if dz == "unmap" and discard != "unmap":
        raise DriveError("setting detect-zeroes to unmap is not allowed without setting discard "
                         "operation to unmap")
    cache = (True, direct, no_flush)
    fmt_opts: dict[str, Any] = {"cache.no-flush": True} if no_flush else {}
    try:
        if driver == "file":
            filename = opts.get("filename")
            if filename is None:
                raise DriveError(f"Parameter '{prefix}filename' is missing")
            aio = opts.get("aio")
            if aio is not None and aio not in AIO_MODES:
                raise DriveError(f"Parameter '{prefix}aio' does not accept value '{aio}'")
            _check_aio(aio, direct, "")
            image = open_image(str(filename), "raw", read_only=ro, backing=False,
                               options=fmt_opts or None)
            return _new_node(name=name or _auto_node_name(), driver="file", filename=str(filename),
                             read_only=ro, image=image, direct=direct, no_flush=no_flush,
                             detect_zeroes=dz, discard=discard, user_named=name is not None)
        child = opts.get("file")
        if child is None:
            raise DriveError(f"Parameter '{prefix}file' is missing")
        if isinstance(child, dict):
            file_node = blockdev_add(child, f"{prefix}file.", ro, (direct, no_flush))
        else:
            file_node = node_by_name(str(child))
            if file_node is None:
                raise DriveError(f"Cannot find device='{child}' nor node-name='{child}'")
        for k in _FORMAT_KEYS.get(driver, ()):
            if k in opts and k != "backing":
                fmt_opts[k] = opts[k]
        want_backing = opts.get("backing", "") is not None   # backing=null: none
        image = open_image(file_node.filename, driver, read_only=ro, backing=want_backing,
                           options=fmt_opts or None)
    except BlockError as e:
        raise DriveError(str(e)) from None
    return _chain_nodes(image, file_node.filename, driver, ro, cache, dz, discard, name=name,
                        file_node=file_node)


# --- the machine run's steps ----------------------------------------------------------------------

def _loc(locs: list[str], i: int) -> str:
    return locs[i] if i < len(locs) else ""


def open_drives(cfg: Any, default_if: str = "none", default_drives: tuple[str, ...] = ()) -> None:
    """configure_blockdev: every -blockdev, then every -drive, then the machine's default empty
    drives (``floppy0``, ``sd0`` on virt; not with -nodefaults); pflash banks go to the board.
    Raises DriveError with the option's text in front, as QEMU prints it."""
    clear()
    for i, opts in enumerate(getattr(cfg, "blockdevs", [])):
        try:
            blockdev_add(dict(opts))
        except DriveError as e:
            raise DriveError(f"{_loc(getattr(cfg, 'blockdev_locs', []), i)}: {e}") from None
    for i, opts in enumerate(getattr(cfg, "drives", [])):
        loc = _loc(getattr(cfg, "drive_locs", []), i) or \
            "-drive " + ",".join(f"{k}={v}" for k, v in opts.items())
        try:
            drive_new(dict(opts), loc, default_if)
        except DriveError as e:
            raise DriveError(f"{loc}: {e}") from None
    if not getattr(cfg, "nodefaults", False):
        for if_type in default_drives:
            if drive_get(if_type, 0, 0) is None:
                info = DriveInfo(f"{if_type}0", if_type, 0, 0, -1, "", is_default=True)
                _DRIVES.append(info)
                _LISTED.append(info)
    if cfg.arch == "aarch64":
        _hand_pflash_to_board()


def _hand_pflash_to_board() -> None:
    """The if=pflash drives by unit for the board's two flash banks (QEMU's drive_get(IF_PFLASH))."""
    units = {d.unit: d for d in _DRIVES if d.type == "pflash" and d.bus == 0}
    for unit, d in sorted(units.items()):
        if unit > 1:   # virt has two banks; QEMU refuses drives no device claims
            raise DriveError(f"{d.loc}: machine type does not support if=pflash,bus=0,unit={unit}")
    from pyqemu.hw.arm import virt
    virt.set_pflash_drives([units[i].blk if i in units else None for i in range(max(units, default=-1) + 1)])


def create_drive_devices(machine: Any) -> None:
    """The devices -drive asks for (if=virtio: a virtio-blk, as QEMU adds a -device for it), then
    the pflash attachments, then QEMU's check that no non-'none' drive went unused."""
    from pyqemu.system.qdev_add import device_add
    for d in _DRIVES:
        if d.type == "virtio" and d.blk is not None:
            try:
                device_add({"driver": "virtio-blk", "drive": d.id}, machine)
            except QOMError as e:
                raise DriveError(f"{d.loc}: {e}") from None
    _note_board_attachments(machine)
    for d in _DRIVES:
        if d.type != "none" and not d.is_default and (d.blk is None or d.blk.attached_dev is None):
            if d.type == "pflash" and d.blk is None:
                continue   # an empty flash bank (no file=) is still the board's
            raise DriveError(f"{d.loc}: machine type does not support if={d.type},bus={d.bus},unit={d.unit}")


def _note_board_attachments(machine: Any) -> None:
    """Devices the board created with a backend (the flash banks) count as attached to it."""
    by_id = {id(d.blk): d.blk for d in _DRIVES if d.blk is not None}
    stack = list(getattr(machine.sysbus, "devices", []))
    while stack:
        dev = stack.pop()
        backing = getattr(dev, "backing", None)
        if backing is not None and id(backing) in by_id and backing.attached_dev is None:
            backing.attached_dev = dev
        for bus in getattr(dev, "child_buses", []):
            stack.extend(bus.devices)
