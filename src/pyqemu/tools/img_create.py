"""Commands that make or change images: ``create``, ``resize``, ``amend``, ``rebase``, ``commit``."""
from __future__ import annotations

import errno
import sys
from collections.abc import Sequence
from typing import Any

from pyqemu.block import options as opts_mod
from pyqemu.block.driver import BlockDriver, BlockError
from pyqemu.tools import img_common as C

#: Options ``qemu-img amend`` accepts per format (the rest exist only at creation).
AMEND_OPTIONS: dict[str, tuple[str, ...]] = {
    "qcow2": ("backing_file", "backing_fmt", "compat", "data_file", "data_file_raw", "lazy_refcounts",
              "refcount_bits", "size"),
}


def _size_arg(what: str, text: str, lo: int = 0) -> int:
    try:
        return opts_mod.parse_size_arg(what, text, lo=lo)
    except opts_mod.OptionError as exc:
        raise C.ImgError(str(exc), each_line=True) from None


def _type_options(drv_cls: type[BlockDriver], texts: list[str], where: str
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        return opts_mod.parse_create_options(drv_cls, texts)
    except opts_mod.OptionError as exc:
        raise C.ImgError(f"{where}: {exc}" if where else str(exc)) from None


# --- create ----------------------------------------------------------------------------
def cmd_create(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "F:b:f:ho:qu", ["object=", "help"])
    fmt, base, base_fmt, quiet, unsafe = "raw", None, None, False, False
    o_texts: list[str] = []
    for o, a in opts:
        if o == "-f":
            fmt = a
        elif o == "-b":
            base = a
        elif o == "-F":
            base_fmt = a
        elif o == "-o":
            o_texts.append(C.option_list(a))
        elif o == "-q":
            quiet = True
        elif o == "-u":
            unsafe = True
    if any(opts_mod.is_help(t) for t in o_texts):
        drv_cls = C.driver_class(fmt)
        sys.stdout.write(opts_mod.help_text(drv_cls) + "\nThe protocol level may support further options.\n"
                         "Specify the target filename to include those options.\n")
        return 0
    if not args:
        raise C.error_exit("Expecting image file name")
    filename = args[0]
    size: int | None = None
    if len(args) >= 2:
        size = _size_arg("image size", args[1])
    if len(args) > 2:
        raise C.error_exit(f"Unexpected argument: {args[2]}")
    create_image(filename, fmt, size, o_texts, base, base_fmt, unsafe, quiet)
    return 0


def create_image(filename: str, fmt: str, size: int | None, o_texts: list[str], base: str | None,
                 base_fmt: str | None, unsafe: bool, quiet: bool) -> None:
    """bdrv_img_create(): type options, find the size, print the Formatting line, create."""
    try:
        drv_cls = C.registry().get_driver(fmt)
    except BlockError:
        raise C.ImgError(f"{filename}: Unknown file format '{fmt}'") from None
    typed, shown = _type_options(drv_cls, o_texts, filename)
    table = opts_mod.option_table(drv_cls)
    if base is not None:
        if "backing_file" not in table:
            raise C.ImgError(f"{filename}: Backing file not supported for file format '{fmt}'")
        typed["backing_file"] = shown["backing_file"] = base
    if base_fmt is not None:
        if "backing_fmt" not in table:
            raise C.ImgError(f"{filename}: Backing file format not supported for file format '{fmt}'")
        typed["backing_fmt"] = shown["backing_fmt"] = base_fmt
    if size is None and "size" in typed:
        size = int(typed["size"])
    typed.pop("size", None)
    shown.pop("size", None)
    bfile = typed.get("backing_file")
    if bfile:
        if not typed.get("backing_fmt"):
            if unsafe:
                raise C.ImgError(f"{filename}: Backing file specified without backing format")
            try:
                detected = C.registry().probe_format(C.registry().resolve_backing(filename, bfile))
            except BlockError:
                detected = None
            if detected:
                # qemu-img ends this message without a newline; keep it byte for byte
                sys.stdout.flush()
                sys.stderr.write(f"{C.PROG}: {filename}: Backing file specified without backing format\n"
                                 f"Detected format of {detected}.")
                raise C.ImgError("", status=1, silent=True)
            raise C.ImgError(f"{filename}: Backing file specified without backing format")
        if not unsafe:   # -u: the backing file is not opened, not even for its size
            path = C.registry().resolve_backing(filename, bfile)
            try:
                b = C.registry().open_image(path, typed["backing_fmt"], read_only=True)
            except BlockError as exc:
                raise C.ImgError(f"{filename}: {exc}\nCould not open backing image.") from None
            try:
                if size is None:
                    size = b.size
            finally:
                C.close_quietly(b)
    if size is None:
        raise C.ImgError(f"{filename}: Image creation needs a size parameter")
    C.qprint(quiet, opts_mod.formatting_line(filename, fmt, size, shown, tuple(table)) + "\n")
    try:
        C.registry().create_image(filename, fmt, size, typed)
    except BlockError as exc:
        raise C.ImgError(f"{filename}: {exc}") from None


# --- resize -----------------------------------------------------------------------------
def cmd_resize(argv: Sequence[str]) -> int:
    argv = list(argv)
    if len(argv) < 2:
        raise C.error_exit("Not enough arguments")
    # The size may be negative: take it before getopt sees "-1G" as an option.
    size_text = argv.pop()
    opts, args = C.parse_args(argv, "f:hq", ["object=", "image-opts", "preallocation=", "shrink", "help"])
    fmt, quiet, shrink, prealloc = None, False, False, "off"
    for o, a in opts:
        if o == "-f":
            fmt = a
        elif o == "-q":
            quiet = True
        elif o == "--shrink":
            shrink = True
        elif o == "--preallocation":
            if a not in ("off", "metadata", "falloc", "full"):
                raise C.ImgError(f"Invalid preallocation mode '{a}'")
            prealloc = a
    if len(args) != 1:
        raise C.error_exit("Expecting image file name and size")
    rel = 0
    if size_text[:1] in "+-" and size_text:
        rel = 1 if size_text[0] == "+" else -1
        size_text = size_text[1:]
    try:
        n = opts_mod.parse_size(size_text)
    except OverflowError:
        raise C.ImgError(f"Value '{size_text}' is out of range for parameter 'size'") from None
    except ValueError:
        raise C.ImgError("Parameter 'size' expects a non-negative number below 2^64\n"
                         "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                         "and exabytes, respectively.") from None
    drv = C.open_image(args[0], fmt, read_only=False, backing=False)
    try:
        cur = drv.size
        new = cur + rel * n if rel else n
        if new <= 0 or new > opts_mod.INT64_MAX:   # qemu-img's int64 arithmetic wraps to negative
            raise C.ImgError("New image size must be positive")
        if new < cur and not shrink:
            C.report("Use the --shrink option to perform a shrink operation.")
            C.warn("Shrinking an image will delete all data beyond the shrunken image's end. Before "
                   "performing such an operation, make sure there is no important data there.")
            return 1
        try:
            drv.truncate(new, shrink=shrink, preallocation=prealloc)
        except BlockError as exc:
            raise C.ImgError(f"{exc}") from None
    finally:
        C.close_quietly(drv)
    C.qprint(quiet, "Image resized.\n")
    return 0


# --- amend ------------------------------------------------------------------------------
def cmd_amend(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "ho:f:t:pq", ["object=", "image-opts", "force", "help"])
    fmt, progress, quiet = None, False, False
    o_texts: list[str] = []
    for o, a in opts:
        if o == "-o":
            o_texts.append(C.option_list(a))
        elif o == "-f":
            fmt = a
        elif o == "-p":
            progress = True
        elif o == "-q":
            quiet = True
    if not o_texts:
        raise C.error_exit("Must specify options (-o)")
    if quiet:
        progress = False
    if any(opts_mod.is_help(t) for t in o_texts) and fmt is not None and not args:
        return _amend_help(fmt)
    if len(args) != 1:
        raise C.error_exit("Expecting one image file name")
    drv = C.open_image(args[0], fmt, read_only=False, backing=False)
    try:
        if any(opts_mod.is_help(t) for t in o_texts):
            return _amend_help(drv.format_name)
        allowed = AMEND_OPTIONS.get(drv.format_name)
        if allowed is None:
            raise C.ImgError(f"Format driver '{drv.format_name}' does not support option amendment")
        for text in o_texts:
            for key, _ in opts_mod.split_options(text):
                if key not in allowed and key in opts_mod.option_table(drv):
                    raise C.ImgError(f"Invalid parameter '{key}'\nThis option is only supported for "
                                     "image creation")
        typed, _ = _type_options(type(drv), o_texts, "")
        if "backing_file" in typed or "backing_fmt" in typed:
            raise C.ImgError("Cannot amend the backing file\nYou can use 'qemu-img rebase' instead.")
        new_size = typed.pop("size", None)
        bar = C.Progress(progress)
        bar.set(0)
        try:
            if typed:
                drv.amend(typed)
            if new_size is not None and new_size != drv.size:
                drv.truncate(int(new_size), shrink=True)   # amend may shrink without --shrink
        except BlockError as exc:
            raise C.ImgError(str(exc)) from None
        bar.set(100)     # the driver's last status callback...
        bar.set(100)     # ...and qemu-img's own final print
        bar.end()
    finally:
        C.close_quietly(drv)
    return 0


def _amend_help(fmt: str) -> int:
    drv_cls = C.driver_class(fmt)
    allowed = AMEND_OPTIONS.get(fmt)
    if allowed is None:
        raise C.ImgError(f"Format driver '{fmt}' does not support option amendment")

    class _View:
        format_name = fmt
        create_options = tuple(o for o in drv_cls.create_options if o[0] in allowed)

    sys.stdout.write(opts_mod.help_text(_View, f"Amend options for '{fmt}':"))
    return 0


# --- rebase ----------------------------------------------------------------------------------
def cmd_rebase(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "hf:F:b:upt:T:qU", ["object=", "image-opts", "force-share", "help"])
    fmt, base, base_fmt, unsafe, progress, quiet = None, None, None, False, False, False
    for o, a in opts:
        if o == "-f":
            fmt = a
        elif o == "-F":
            base_fmt = a
        elif o == "-b":
            base = a
        elif o == "-u":
            unsafe = True
        elif o == "-p":
            progress = True
        elif o == "-q":
            quiet = True
    if quiet:
        progress = False
    if len(args) != 1:
        raise C.error_exit("Expecting one image file name")
    if not unsafe and base is None:
        raise C.error_exit("Must specify backing file (-b) or use unsafe mode (-u)")
    filename = args[0]
    drv = C.open_image(filename, fmt, read_only=False, backing=not unsafe)
    try:
        if not drv.supports_backing:
            raise C.ImgError(f"Could not change the backing file to '{base}': Operation not supported")
        new_base = base or None
        if new_base and not base_fmt:
            # qemu-img copies first and then fails on the header; refusing first leaves the image alone
            raise C.ImgError(f"Could not change the backing file to '{base}': "
                             "backing format must be specified")
        if not unsafe:
            base_fmt = _rebase_copy(drv, filename, new_base, base_fmt, C.Progress(progress))
        try:
            drv.change_backing_file(new_base, base_fmt if new_base else None)
        except BlockError as exc:
            raise C.ImgError(f"Could not change the backing file to '{base}': {exc}") from None
    finally:
        C.close_quietly(drv)
    return 0


def _rebase_copy(drv: BlockDriver, filename: str, base: str | None, base_fmt: str | None,
                 bar: C.Progress) -> str | None:
    """Safe rebase: write into the overlay every range where the old and new backing differ."""
    new: BlockDriver | None = None
    if base:
        path = C.registry().resolve_backing(filename, base)
        try:
            if base_fmt is None:
                base_fmt = C.registry().probe_format(path)
            new = C.registry().open_image(path, base_fmt, read_only=True)
        except BlockError as exc:
            raise C.ImgError(f"Could not open new backing file '{path}': {exc}") from None
    old = drv.backing
    try:
        size = drv.size
        old_size = old.size if old is not None else 0
        new_size = new.size if new is not None else 0
        bar.set(0)
        # qemu-img's step: 100 / (size / min(size, IO_BUF_SIZE)) per unallocated chunk
        step = 100.0 / (size // min(size, C.IO_BUF_SIZE)) if size else 100.0
        off = 0
        while off < size:
            st = C.chain_status(drv, off, min(size - off, C.IO_BUF_SIZE), top_only=True)
            n = st.length
            if not st.present:
                old_data = _read_or_zero(old, old_size, off, n)
                new_data = _read_or_zero(new, new_size, off, n)
                if old_data != new_data:
                    _write_differences(drv, off, old_data, new_data)
                bar.add(step)
            off += n
        bar.set(100)
        bar.end()
    finally:
        C.close_quietly(new)
    return base_fmt


def _read_or_zero(layer: BlockDriver | None, layer_size: int, off: int, n: int) -> bytes:
    if layer is None or off >= layer_size:
        return C.zeros(n)
    k = min(n, layer_size - off)
    data = layer.read(off, k)
    return data if k == n else data + bytes(n - k)


def _write_differences(drv: BlockDriver, off: int, old: bytes, new: bytes) -> None:
    """Copy the old backing's sectors where they differ from the new one's (compare_buffers)."""
    n = len(old)
    i = 0
    while i < n:
        j = i
        while j < n and old[j:j + C.SECTOR] != new[j:j + C.SECTOR]:
            j += C.SECTOR
        if j > i:
            drv.write(off + i, old[i:j])
        while j < n and old[j:j + C.SECTOR] == new[j:j + C.SECTOR]:
            j += C.SECTOR
        i = j


# --- commit ------------------------------------------------------------------------------------
def cmd_commit(argv: Sequence[str]) -> int:
    opts, args = C.parse_args(argv, "f:ht:b:dpqr:", ["object=", "image-opts", "help"])
    fmt, base, drop, progress, quiet = None, None, False, False, False
    for o, a in opts:
        if o == "-f":
            fmt = a
        elif o == "-b":
            base, drop = a, True   # -b implies -d
        elif o == "-d":
            drop = True
        elif o == "-p":
            progress = True
        elif o == "-q":
            quiet = True
        elif o == "-r":
            _size_arg("rate limit", a)
    if quiet:
        progress = False
    if len(args) != 1:
        raise C.error_exit("Expecting one image file name")
    filename = args[0]
    top = C.open_image(filename, fmt, read_only=drop)
    base_rw: BlockDriver | None = None
    try:
        chain = C.backing_chain(top)
        if len(chain) < 2:
            raise C.ImgError("Image does not have a backing file")
        if base is None:
            base_idx = 1
        else:
            base_idx = _find_in_chain(chain, base)
        base_ro = chain[base_idx]
        try:
            base_rw = C.registry().open_image(base_ro.filename, base_ro.format_name, read_only=False,
                                              backing=False)
        except BlockError as exc:
            raise C.ImgError(str(exc)) from None
        bar = C.Progress(progress)
        bar.set(0)
        _commit_copy(chain, base_idx, base_rw, bar)
        bar.set(100)
        bar.end()
        base_rw.flush()
        if not drop and base_idx == 1:
            _make_empty(top)
    finally:
        C.close_quietly(base_rw)
        C.close_quietly(top)
    C.qprint(quiet, "Image committed.\n")
    return 0


def _find_in_chain(chain: list[BlockDriver], base: str) -> int:
    import os
    want = os.path.realpath(base)
    for i, layer in enumerate(chain[1:], start=1):
        if os.path.realpath(layer.filename) == want:
            return i
    raise C.ImgError(f"Did not find '{base}' in the backing chain of '{chain[0].filename}'")


def _commit_copy(chain: list[BlockDriver], base_idx: int, base: BlockDriver, bar: C.Progress) -> None:
    """Copy every range that a layer above ``base`` allocates into ``base``."""
    top = chain[0]
    size = top.size
    if base.size < size:
        base.truncate(size)
    off = 0
    while off < size:
        st = C.chain_status(top, off, min(size - off, C.IO_BUF_SIZE))
        n = st.length
        if st.present and st.depth < base_idx:
            if st.zero:
                base.write_zeroes(off, n)
            else:
                base.write(off, top.read(off, n))
        off += n
        bar.set(off * 100.0 / size)


def _make_empty(top: BlockDriver) -> None:
    """Drop every cluster of the committed overlay so that it reads through to its backing."""
    make_empty = getattr(top, "make_empty", None)
    if make_empty is not None:
        make_empty()
        return
    try:
        size = top.size
        top.truncate(0, shrink=True)
        top.truncate(size)
    except BlockError as exc:
        if exc.errno != errno.ENOTSUP:
            raise
