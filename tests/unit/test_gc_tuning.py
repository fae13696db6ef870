"""util/gc_tuning.py: survivors of a middle or full collection are frozen; a rescan hands them
back, so cyclic garbage among them is still freed. Runs in a child process (the tuning is process-wide)."""
from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import gc, weakref
from pyqemu.util import gc_tuning

class Node:
    pass

gc_tuning.install()
keep = [Node() for _ in range(1000)]
a, b = Node(), Node()
a.other, b.other = b, a          # a cycle: only the collector frees it
alive = weakref.ref(a)
gc.collect(1)
print("frozen", gc.get_freeze_count() >= 1000)
del a, b                          # garbage now, but frozen: a full collection leaves it
gc.collect()
print("kept while frozen", alive() is not None)
gc_tuning.RESCAN_SECONDS = 0      # the next full collection hands everything back ...
gc.collect()
print("unfrozen", gc.get_freeze_count() == 0)
gc.collect()                      # ... and the one after walks it all
print("freed after rescan", alive() is None)
"""


def test_freeze_and_rescan() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:4] == ["frozen True", "kept while frozen True", "unfrozen True",
                                          "freed after rescan True"], out.stdout


def test_off_with_environment_variable() -> None:
    out = subprocess.run([sys.executable, "-c", "import gc\nfrom pyqemu.util import gc_tuning\n"
                          "gc_tuning.install()\n[[] for _ in range(100)]\ngc.collect()\n"
                          "print(gc.get_freeze_count())"],
                         capture_output=True, text=True, timeout=60, env={"PYQEMU_GC_FREEZE": "0",
                                                                          "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
