"""Translation blocks are shared by a user-mode process's threads: one thread forms a
region from a block's computed-jump statistics while another thread's run of the same
block counts a new target (CI once saw "dictionary changed size during iteration")."""
from __future__ import annotations

import sys
import threading
from collections import Counter

from pyqemu.accel.tcg.tb import INDIRECT_TARGETS, TranslationBlock


def test_indirect_targets_while_another_thread_counts() -> None:
    tb = TranslationBlock(0x1000, 4)
    seen = tb.g["_ij"] = Counter({0x2000 + i: 100 - i for i in range(20)})
    stop = threading.Event()

    def count_targets() -> None:
        pc = 0x10000
        while not stop.is_set():
            seen[pc] += 1
            pc += 4
            if len(seen) > 400:
                for k in [k for k in seen if k >= 0x10000]:
                    del seen[k]

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    counter = threading.Thread(target=count_targets)
    counter.start()
    try:
        for _ in range(20000):
            top = tb.indirect()
            assert top == [0x2000 + i for i in range(INDIRECT_TARGETS)]
    finally:
        stop.set()
        counter.join()
        sys.setswitchinterval(old)
