"""pyqemu-img: create, inspect, convert and modify disk images, with qemu-img's syntax.

The commands live in small modules by job: img_info (info, check, map,
snapshot, measure), img_create (create, resize, amend, rebase, commit) and
img_convert (convert, dd, compare, bench). Messages keep qemu-img's text with
the program name replaced, and exit statuses are qemu-img's.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from pyqemu import __version__
from pyqemu.block.driver import BlockError
from pyqemu.tools import img_common as C

QEMU_VERSION = "7.2.0"   # the qemu-img whose interface this one follows

HELP = """\
usage: pyqemu-img [standard options] command [command options]
Disk image utility (QEMU-compatible)

    '-h', '--help'       display this help and exit
    '-V', '--version'    output version information and exit

Command syntax:
  amend [-p] [-q] [-f fmt] [--force] -o options filename
  bench [-c count] [-d depth] [-f fmt] [--flush-interval=flush_interval] [-n] [--no-drain] [-o offset] \
[--pattern=pattern] [-q] [-s buffer_size] [-S step_size] [-w] [-U] filename
  check [-q] [-f fmt] [--output=ofmt] [-r [leaks | all]] [-U] filename
  commit [-q] [-f fmt] [-b base] [-d] [-p] filename
  compare [-f fmt] [-F fmt] [-p] [-q] [-s] [-U] filename1 filename2
  convert [-U] [-c] [-p] [-q] [-n] [-f fmt] [-O output_fmt] [-B backing_file [-F backing_fmt]] [-o options] \
[-S sparse_size] [--target-is-zero] filename [filename2 [...]] output_filename
  create [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u] [-o options] filename [size]
  dd [-U] [-f fmt] [-O output_fmt] [bs=block_size] [count=blocks] [skip=blocks] if=input of=output
  info [-f fmt] [--output=ofmt] [--backing-chain] [-U] filename
  map [-f fmt] [--start-offset=offset] [--max-length=len] [--output=ofmt] [-U] filename
  measure [--output=ofmt] [-O output_fmt] [-o options] [--size N | [-f fmt] filename]
  snapshot [-U] [-q] [-l | -a snapshot | -c snapshot | -d snapshot] filename
  rebase [-U] [-q] [-f fmt] [-p] [-u] -b backing_file [-F backing_fmt] filename
  resize [-f fmt] [--preallocation=prealloc] [-q] [--shrink] filename [+ | -]size

Command parameters:
  'filename' is a disk image filename
  'fmt' is the disk image format; it is probed when not given (never rely on
    that for raw images)
  'size' is the disk image size in bytes; suffixes 'k' or 'K' (1024), 'M', 'G',
    'T', 'P' and 'E' (each 1024 times the one before) are accepted, 'b' is ignored
  'output_filename' is the destination disk image filename
  'output_fmt' is the destination format (default raw)
  'options' is a comma separated list of name=value format options; '-o help'
    lists the options of a format
  '-c' compresses the target image (qcow2 only)
  '-u' unsafe: for rebase, only rewrite the backing file name; for create, do
       not open the backing file
  '-h' with or without a command shows this help
  '-p' shows progress (convert, commit, compare, rebase, amend)
  '-q' quiet mode: print nothing but errors
  '-S' the number of consecutive zero bytes (default 4k) that convert leaves
       unallocated in the target; 0 allocates everything
  '--output' human (default) or json
  '-n' convert into an existing target instead of creating it

Parameters to check subcommand:
  '-r leaks' repairs leaked clusters only, '-r all' repairs every error found

Parameters to snapshot subcommand:
  '-l' lists, '-c' creates, '-a' applies (reverts the disk to), '-d' deletes a snapshot

Parameters to compare subcommand:
  '-f' first image format, '-F' second image format
  '-s' strict mode: different size or allocation counts as a difference

Parameters to dd subcommand:
  'bs=BYTES' block size (default: 512), 'count=N' blocks to copy,
  'skip=N' blocks to skip at the start of the input, 'if=FILE', 'of=FILE'

Exit status: 0 success; 1 error; check: 2 corruptions, 3 leaks, 63 no check for
the format; compare: 1 images differ, 2 open error, 3 allocation error, 4 read error.
"""


def version_text() -> str:
    return (f"pyqemu-img version {QEMU_VERSION} (pyqemu {__version__})\n"
            "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n")


def help_text() -> str:
    try:
        formats = " ".join(C.registry().driver_names())
    except (ImportError, BlockError):
        formats = "raw"
    return version_text() + HELP + f"\nSupported formats: {formats}\n"


def _commands() -> dict[str, Callable[[Sequence[str]], int]]:
    from pyqemu.tools import img_convert, img_create, img_info
    return {
        "amend": img_create.cmd_amend, "bench": img_convert.cmd_bench, "check": img_info.cmd_check,
        "commit": img_create.cmd_commit, "compare": img_convert.cmd_compare,
        "convert": img_convert.cmd_convert, "create": img_create.cmd_create, "dd": img_convert.cmd_dd,
        "info": img_info.cmd_info, "map": img_info.cmd_map, "measure": img_info.cmd_measure,
        "snapshot": img_info.cmd_snapshot, "rebase": img_create.cmd_rebase,
        "resize": img_create.cmd_resize,
    }


def run(argv: Sequence[str]) -> int:
    """Run one pyqemu-img command line (without the program name); returns the exit status."""
    args = list(argv)
    # Global options come before the command.
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt in ("-h", "--help"):
            sys.stdout.write(help_text())
            return 0
        if opt in ("-V", "--version"):
            sys.stdout.write(version_text())
            return 0
        if opt in ("-T", "--trace"):
            if args:
                args.pop(0)
            continue
        if opt.startswith("--trace="):
            continue
        raise C.error_exit(f"unrecognized option '{opt}'")
    if not args:
        raise C.error_exit("Not enough arguments")
    cmd, rest = args[0], args[1:]
    commands = _commands()
    if cmd not in commands:
        raise C.error_exit(f"Command not found: {cmd}")
    if any(a in ("-h", "--help") for a in rest if a != "--"):
        sys.stdout.write(help_text())
        return 0
    return commands[cmd](rest)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: ``pyqemu-img COMMAND ...``."""
    if argv is None:
        argv = sys.argv[1:]
    try:
        status = run(argv)
    except C.ImgError as exc:
        sys.stdout.flush()
        if not exc.silent:
            C.report(str(exc), exc.each_line)
        if exc.usage:
            sys.stderr.write(f"Try '{C.PROG} --help' for more information\n")
        status = exc.status
    except BlockError as exc:
        sys.stdout.flush()
        C.report(str(exc))
        status = 1
    except KeyboardInterrupt:
        status = 130
    except BrokenPipeError:
        status = 1
    except Exception as exc:  # a bug, not bad input: one line, not a traceback (PYQEMU_DEBUG=1 shows it)
        if os.environ.get("PYQEMU_DEBUG"):
            raise
        sys.stdout.flush()
        C.report(f"internal error: {type(exc).__name__}: {exc}")
        status = 1
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
