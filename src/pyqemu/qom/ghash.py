"""The iteration order of GLib's ``GHashTable`` with string keys (GLib 2.74 ``ghash.c``).

QEMU keeps QOM properties in GHashTables, so ``qom-list`` lists them in hash
order (reversed, as it prepends). ``GHashOrder`` replays GLib's open
addressing (quadratic probing, tombstones, in-place resizes) on the keys
alone, so our listings come out in the order real QEMU prints.
"""
from __future__ import annotations

_PRIME_MOD = (1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521,
              131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393,
              67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647)
_MIN_SHIFT = 3
_UNUSED, _TOMBSTONE = 0, 1


def g_str_hash(key: str) -> int:
    """GLib's djb2 over the UTF-8 bytes, as signed chars."""
    h = 5381
    for b in key.encode():
        h = (h * 33 + (b - 256 if b >= 128 else b)) & 0xFFFFFFFF
    return h


class GHashOrder:
    """The slots of a GHashTable holding string keys; ``keys()`` is its iteration order."""

    def __init__(self) -> None:
        self._set_shift(_MIN_SHIFT)
        self.hashes = [_UNUSED] * self.size
        self.slots: list[str | None] = [None] * self.size
        self.nnodes = 0
        self.noccupied = 0

    def _set_shift(self, shift: int) -> None:
        self.size = 1 << shift
        self.mod = _PRIME_MOD[shift]
        self.mask = self.size - 1

    def _index(self, h: int) -> int:
        return ((h * 11) & 0xFFFFFFFF) % self.mod

    def _lookup(self, key: str) -> tuple[int, int]:
        h = g_str_hash(key)
        if h < 2:
            h = 2
        i = self._index(h)
        step = 0
        tomb = -1
        while self.hashes[i] != _UNUSED:
            if self.hashes[i] == h and self.slots[i] == key:
                return i, h
            if self.hashes[i] == _TOMBSTONE and tomb < 0:
                tomb = i
            step += 1
            i = (i + step) & self.mask
        return (tomb if tomb >= 0 else i), h

    def __contains__(self, key: str) -> bool:
        i, h = self._lookup(key)
        return self.hashes[i] == h and self.slots[i] == key

    def insert(self, key: str) -> None:
        i, h = self._lookup(key)
        old = self.hashes[i]
        if old >= 2:
            return  # already there: the slot keeps its place
        self.hashes[i] = h
        self.slots[i] = key
        self.nnodes += 1
        if old == _UNUSED:
            self.noccupied += 1
            self._maybe_resize()

    def remove(self, key: str) -> None:
        i, h = self._lookup(key)
        if self.hashes[i] != h or self.slots[i] != key:
            return
        self.hashes[i] = _TOMBSTONE
        self.slots[i] = None
        self.nnodes -= 1
        self._maybe_resize()

    def _maybe_resize(self) -> None:
        size, occ = self.size, self.noccupied
        if (size > self.nnodes * 4 and size > 1 << _MIN_SHIFT) or size <= occ + occ // 16:
            self._resize()

    def _resize(self) -> None:
        old_size = self.size
        n = int(self.nnodes * 1.333)
        shift = 0
        while n:
            n >>= 1
            shift += 1
        self._set_shift(max(shift, _MIN_SHIFT))
        if self.size > old_size:
            self.hashes += [_UNUSED] * (self.size - old_size)
            self.slots += [None] * (self.size - old_size)
        moved = [False] * max(self.size, old_size)
        for i in range(old_size):
            node_hash = self.hashes[i]
            if node_hash < 2:
                self.hashes[i] = _UNUSED
                continue
            if moved[i]:
                continue
            self.hashes[i] = _UNUSED
            key = self.slots[i]
            self.slots[i] = None
            while True:
                j = self._index(node_hash)
                step = 0
                while moved[j]:
                    step += 1
                    j = (j + step) & self.mask
                moved[j] = True
                replaced = self.hashes[j]
                self.hashes[j] = node_hash
                if replaced < 2:
                    self.slots[j] = key
                    break
                node_hash = replaced
                key, self.slots[j] = self.slots[j], key
        if self.size < old_size:
            del self.hashes[self.size:]
            del self.slots[self.size:]
        self.noccupied = self.nnodes

    def keys(self) -> list[str]:
        return [k for h, k in zip(self.hashes, self.slots, strict=True) if h >= 2 and k is not None]
