"""Block monitor commands: QMP ``query-block``, ``query-blockstats``, ``query-named-block-nodes``;
HMP ``info block``,
``info blockstats`` (QEMU 7.2 block/qapi.c, block/monitor/block-hmp-cmds.c).

The drives and nodes come from ``pyqemu.system.drives`` (``-drive``/``-blockdev``); a backend's
I/O counters from ``BlockBackend.stats``. Automatic node names (``#block123``) carry two random
digits as in QEMU, so they differ between runs.
"""
from __future__ import annotations

from typing import Any

from pyqemu.monitor.registry import CommandRegistry


def _drives() -> Any:
    from pyqemu.system import drives
    return drives


# --- query-block ------------------------------------------------------------------------------------

def _image_info(node: Any) -> dict[str, Any]:
    """ImageInfo of a node and, nested as backing-image, of its backing chain."""
    from pyqemu.tools.img_info import image_info
    info = image_info(node.image, node.filename) if node.image is not None else _file_info(node)
    if node.driver == "file":
        info["format"] = "file"
    if node.backing is not None:
        info["backing-image"] = _image_info(node.backing)
    return info


def _file_info(node: Any) -> dict[str, Any]:
    """ImageInfo of a protocol (``file``) node: the host file, sized in whole sectors."""
    import os
    info: dict[str, Any] = {"virtual-size": 0, "filename": node.filename, "format": node.driver}
    try:
        st = os.stat(node.filename)
        info["virtual-size"] = -(-st.st_size // 512) * 512
        info["actual-size"] = st.st_blocks * 512
    except OSError:
        pass
    info["dirty-flag"] = False
    return info


def _cache(blk: Any, node: Any) -> dict[str, bool]:
    writeback = blk.enable_write_cache if blk is not None else True
    return {"writeback": bool(writeback), "direct": bool(node.direct), "no-flush": bool(node.no_flush)}


def query_named_block_nodes(flat: bool = False) -> list[dict[str, Any]]:
    """Every node, newest first (QEMU's graph_bdrv_states order); ``flat`` leaves out the
    backing images."""
    out = []
    for node in reversed(_drives().all_nodes()):
        d = block_device_info(node)
        if flat:   # QEMU counts the chain only while it walks the backing images
            d["image"].pop("backing-image", None)
            d["backing_file_depth"] = 0
        out.append(d)
    return out


def block_device_info(node: Any, blk: Any = None) -> dict[str, Any]:
    """BlockDeviceInfo (query-block's ``inserted``) for a backend's root node."""
    d: dict[str, Any] = {"file": node.filename}
    if node.name:
        d["node-name"] = node.name
    d["ro"] = bool(blk.read_only if blk is not None else node.read_only)
    d["drv"] = node.driver
    d["encrypted"] = False
    if node.backing_file and node.backing is not None:
        d["backing_file"] = node.backing_file
    d["backing_file_depth"] = node.backing_depth
    d["detect_zeroes"] = node.detect_zeroes
    for k in ("bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr"):
        d[k] = 0
    d["image"] = _image_info(node)
    d["cache"] = _cache(blk, node)
    d["write_threshold"] = 0
    return d


def query_block() -> list[dict[str, Any]]:
    drives = _drives()
    out = []
    for name, blk in drives.block_list():
        info: dict[str, Any] = {"device": name}
        dev = blk.attached_dev if blk is not None else None
        if dev is not None:
            info["qdev"] = drives.attached_qdev_path(blk)
        info["type"] = "unknown"
        info["removable"] = dev is None
        info["locked"] = False
        status = drives.iostatus(blk) if blk is not None else None
        if status is not None:
            info["io-status"] = status
        node = drives.backend_node(blk) if blk is not None else None
        if node is not None:
            info["inserted"] = block_device_info(node, blk)
        out.append(info)
    return out


# --- query-blockstats -------------------------------------------------------------------------------

def _zero_stats(account: bool) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for kind in ("rd", "wr", "unmap"):
        d[f"{kind}_bytes"] = 0
    for kind in ("rd", "wr", "flush", "unmap"):
        d[f"{kind}_operations"] = 0
        d[f"{kind}_total_time_ns"] = 0
        d[f"failed_{kind}_operations"] = 0
        d[f"invalid_{kind}_operations"] = 0
    for kind in ("rd", "wr", "unmap"):
        d[f"{kind}_merged"] = 0
    d["wr_highest_offset"] = 0
    d["account_invalid"] = account
    d["account_failed"] = account
    d["timed_stats"] = []
    return d


def block_device_stats(stats: Any) -> dict[str, Any]:
    """BlockDeviceStats from a BlockBackend's BlockAcctStats (bdrv_query_blk_stats)."""
    d = _zero_stats(True)
    for kind in ("rd", "wr", "unmap"):
        d[f"{kind}_bytes"] = stats.bytes[kind]
    for kind in ("rd", "wr", "flush", "unmap"):
        d[f"{kind}_operations"] = stats.ops[kind]
        d[f"{kind}_total_time_ns"] = stats.total_time_ns[kind]
        d[f"failed_{kind}_operations"] = stats.failed[kind]
        d[f"invalid_{kind}_operations"] = stats.invalid[kind]
    for kind in ("rd", "wr", "unmap"):
        d[f"{kind}_merged"] = stats.merged[kind]
    d["wr_highest_offset"] = stats.wr_highest_offset
    idle = stats.idle_time_ns()
    if idle is not None:
        d["idle_time_ns"] = idle
    d["account_invalid"] = bool(stats.account_invalid)
    d["account_failed"] = bool(stats.account_failed)
    return d


def _node_stats(node: Any, blk_level: bool, stats: Any = None) -> dict[str, Any]:
    """bdrv_query_bds_stats: a node's own (all but wr_highest_offset zero) with its children."""
    s: dict[str, Any] = {}
    if node.name:
        s["node-name"] = node.name
    s["stats"] = _zero_stats(False)
    if stats is not None and node.driver == "raw" or (stats is not None and node.driver == "file"):
        s["stats"]["wr_highest_offset"] = stats.wr_highest_offset
    if node.driver == "file":
        nb = stats.ops["unmap"] if stats is not None and node.discard == "unmap" else 0
        nbytes = stats.bytes["unmap"] if stats is not None and node.discard == "unmap" else 0
        s["driver-specific"] = {"driver": "file", "discard-nb-ok": nb, "discard-nb-failed": 0,
                                "discard-bytes-ok": nbytes}
    if node.file is not None:
        s["parent"] = _node_stats(node.file, blk_level, stats if node.driver == "raw" else None)
    if blk_level and node.backing is not None:
        s["backing"] = _node_stats(node.backing, blk_level)
    return s


def query_blockstats(query_nodes: bool = False) -> list[dict[str, Any]]:
    drives = _drives()
    out = []
    if query_nodes:
        for node in drives.all_nodes():   # creation order (bdrv_next_node)
            out.append(_node_stats(node, False))
        return out
    for name, blk in drives.block_list():
        node = drives.backend_node(blk) if blk is not None else None
        s = _node_stats(node, True, blk.stats) if node is not None else {}
        s["device"] = name
        if blk is not None and blk.attached_dev is not None:
            s["qdev"] = drives.attached_qdev_path(blk)
        s["stats"] = block_device_stats(blk.stats) if blk is not None else _zero_stats(True)
        out.append(s)
    return out


# --- HMP --------------------------------------------------------------------------------------------

def _print_block_info(info: dict[str, Any] | None, inserted: dict[str, Any] | None,
                      verbose: bool = False) -> str:
    """print_block_info() of block-hmp-cmds.c."""
    if info is not None and info["device"]:
        out = info["device"]
        if inserted is not None and "node-name" in inserted:
            out += f" ({inserted['node-name']})"
    elif inserted is not None and "node-name" in inserted:
        out = inserted["node-name"]
    else:
        out = info.get("qdev", "<anonymous>") if info is not None else "<anonymous>"
    if inserted is not None:
        out += (f": {inserted['file']} ({inserted['drv']}{', read-only' if inserted['ro'] else ''}"
                f"{', encrypted' if inserted['encrypted'] else ''})\n")
    else:
        out += ": [not inserted]\n"
    if info is not None:
        if "qdev" in info:
            out += f"    Attached to:      {info['qdev']}\n"
        if info.get("io-status", "ok") != "ok":
            out += f"    I/O status:       {info['io-status']}\n"
        if info["removable"]:
            out += (f"    Removable device: {'' if info['locked'] else 'not '}locked, tray "
                    f"{'open' if info.get('tray_open') else 'closed'}\n")
    if inserted is None:
        return out
    c = inserted["cache"]
    out += (f"    Cache mode:       {'writeback' if c['writeback'] else 'writethrough'}"
            f"{', direct' if c['direct'] else ''}{', ignore flushes' if c['no-flush'] else ''}\n")
    if "backing_file" in inserted:
        out += (f"    Backing file:     {inserted['backing_file']} "
                f"(chain depth: {inserted['backing_file_depth']})\n")
    if inserted["detect_zeroes"] != "off":
        out += f"    Detect zeroes:    {inserted['detect_zeroes']}\n"
    if verbose and "image" in inserted:
        from pyqemu.tools.img_info import human_info
        out += "\nImages:\n"
        image: dict[str, Any] | None = inserted["image"]
        while image is not None:
            out += human_info(image)
            image = image.get("backing-image")
    return out


def hmp_info_block(args: str) -> str:
    """``info block [-n] [-v] [device]``."""
    words = args.split()
    nodes = "-n" in words
    verbose = "-v" in words
    device = next((w for w in words if not w.startswith("-")), None)
    out = ""
    if not nodes:
        for i, info in enumerate(query_block()):
            if device is not None and info["device"] != device:
                continue
            if i:   # QEMU separates by list position, even after skipped entries
                out += "\n"
            out += _print_block_info(info, info.get("inserted"), verbose)
        return out
    for i, node in enumerate(reversed(_drives().all_nodes())):
        if device is not None and node.name != device:
            continue
        if i:
            out += "\n"
        out += _print_block_info(None, block_device_info(node), verbose)
    return out


def hmp_info_blockstats(_args: str = "") -> str:
    out = []
    for s in query_blockstats():
        st = s["stats"]
        out.append(f"{s['device']}: rd_bytes={st['rd_bytes']} wr_bytes={st['wr_bytes']} "
                   f"rd_operations={st['rd_operations']} wr_operations={st['wr_operations']} "
                   f"flush_operations={st['flush_operations']} wr_total_time_ns={st['wr_total_time_ns']} "
                   f"rd_total_time_ns={st['rd_total_time_ns']} "
                   f"flush_total_time_ns={st['flush_total_time_ns']} rd_merged={st['rd_merged']} "
                   f"wr_merged={st['wr_merged']} idle_time_ns={st.get('idle_time_ns', 0)}\n")
    return "".join(out)


def register_hmp() -> None:
    """Add ``info block`` and ``info blockstats`` to the HMP table (sorted, as QEMU's help)."""
    from pyqemu.monitor import hmp
    if any(c.matches("block") for c in hmp.INFO_COMMANDS):
        return
    hmp.INFO_COMMANDS.append(hmp.HMPCommand(
        "block", "[-n] [-v] [device]", "show info of one block device or all block devices "
        "(-n: show named nodes; -v: show details)", lambda _h, args: hmp_info_block(args)))
    hmp.INFO_COMMANDS.append(hmp.HMPCommand(
        "blockstats", "", "show block device statistics", lambda _h, args: hmp_info_blockstats(args)))
    hmp.INFO_COMMANDS.sort(key=lambda c: c.name)


def register(reg: CommandRegistry) -> None:
    @reg.command("query-block", returns="[BlockInfo]")
    def _query_block(ctx: Any) -> list[dict[str, Any]]:
        return query_block()

    @reg.command("query-named-block-nodes", {"*flat": "bool"}, returns="[BlockDeviceInfo]")
    def _query_named_block_nodes(ctx: Any, flat: bool = False) -> list[dict[str, Any]]:
        return query_named_block_nodes(flat)

    @reg.command("query-blockstats", {"*query-nodes": "bool"}, returns="[BlockStats]")
    def _query_blockstats(ctx: Any, query_nodes: bool = False) -> list[dict[str, Any]]:
        return query_blockstats(query_nodes)

    register_hmp()
