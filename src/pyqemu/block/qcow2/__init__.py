"""The qcow2 image format (QEMU's block/qcow2*.c): header, L1/L2 mapping, refcounts, snapshots, check."""
from __future__ import annotations

from .driver import Qcow2Driver

__all__ = ["Qcow2Driver"]
