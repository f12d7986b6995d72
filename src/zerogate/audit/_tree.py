"""The hash tree cache: every perfect-subtree hash, level by level, so proofs are O(log n) lookups.

Level k holds the hashes of the aligned subtrees of 2^k leaves. After a retention cut at size C
the levels start at the cut (`base`): node indices below `(C >> k) & ~1` are gone, and the kept
left neighbours at the cut are exactly the cut's frontier (RFC 9162 proofs for sizes >= C never
need anything else). The cache is derived data: verification never trusts it, and it is rebuilt
from the entries when it is short or stale.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterable
from pathlib import Path

from zerogate.audit._merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    largest_power_of_two_below,
    node_hash,
)

_HEADER = struct.Struct(">Q")  # every level file starts with the base (the cut) it was built on


def _start(base: int, level: int) -> int:
    return (base >> level) & ~1


class HashTree:
    """Perfect-subtree hashes from `base` on; `size` leaves so far (counting the cut ones)."""

    __slots__ = ("_levels", "base", "size")

    def __init__(self, frontier: CompactRange | None = None) -> None:
        seed = frontier or CompactRange()
        self.base = seed.size
        self.size = seed.size
        # bytearrays while the tree grows; read-only memoryviews over mmap'd files for `prove`.
        self._levels: list[bytearray | memoryview] = []
        set_bits = [k for k in range(seed.size.bit_length()) if seed.size >> k & 1]
        for level, node in zip(reversed(set_bits), seed.nodes, strict=True):
            self._level(level)[:] = node

    def _level(self, level: int) -> bytearray:
        while len(self._levels) <= level:
            self._levels.append(bytearray())
        found = self._levels[level]
        if not isinstance(found, bytearray):
            raise TypeError("a tree loaded read-only does not grow")
        return found

    def append(self, leaf: bytes) -> None:
        index = self.size
        level = 0
        node = leaf
        self._level(0).extend(leaf)
        while index & 1:
            node = node_hash(self.node(level, index - 1), node)
            index >>= 1
            level += 1
            self._level(level).extend(node)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def node(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree [index * 2^level, (index + 1) * 2^level)."""
        offset = (index - _start(self.base, level)) * HASH_SIZE
        if offset < 0 or level >= len(self._levels):
            raise LookupError(f"node {level}/{index} is not held (cut at {self.base})")
        found = bytes(self._levels[level][offset : offset + HASH_SIZE])
        if len(found) != HASH_SIZE:
            raise LookupError(f"node {level}/{index} is not complete yet")
        return found

    def leaf(self, index: int) -> bytes:
        return self.node(0, index)

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) from stored nodes: at most 2 log n lookups and hashes."""
        n = hi - lo
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            return self.node(n.bit_length() - 1, lo // n)
        k = largest_power_of_two_below(n)
        return node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        if size > self.size:
            raise ValueError(f"the tree has {self.size} leaves, not {size}")
        return self.subtree(0, size)

    def frontier(self, size: int) -> CompactRange:
        """The compact range of the first `size` leaves (what a retention cut keeps)."""
        nodes = []
        lo = 0
        for level in reversed(range(size.bit_length())):
            if size >> level & 1:
                nodes.append(self.node(level, lo >> level))
                lo += 1 << level
        return CompactRange(size, nodes)

    def rebased(self, size: int) -> HashTree:
        """The same tree without the nodes a retention cut at `size` no longer needs."""
        tree = HashTree(self.frontier(size))
        tree._levels = [
            bytearray(data[(_start(size, level) - _start(self.base, level)) * HASH_SIZE :])
            for level, data in enumerate(self._levels)
        ]
        tree.size = self.size
        return tree

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf side first."""
        if not 0 <= index < size <= self.size:
            raise ValueError(f"no leaf {index} in a tree of size {size}")
        proof: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = largest_power_of_two_below(hi - lo)
            if index < lo + k:
                proof.append(self.subtree(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.subtree(lo, lo + k))
                lo += k
        proof.reverse()
        return proof

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """PROOF(first, D[second]) of RFC 9162 §2.1.4.1; empty for 0 or equal sizes."""
        if not 0 <= first <= second <= self.size:
            raise ValueError(f"no consistency proof from {first} to {second}")
        if first in (0, second):
            return []
        proof: list[bytes] = []
        lo, hi, m, whole = 0, second, first, True
        while m != hi - lo:
            k = largest_power_of_two_below(hi - lo)
            if m <= k:
                proof.append(self.subtree(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.subtree(lo, lo + k))
                lo += k
                m -= k
                whole = False
        if not whole:
            proof.append(self.subtree(lo, hi))
        proof.reverse()
        return proof

    # -- the files under audit/tree/ -----------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write every level whole (atomically per file); used after a rebuild or a cut."""
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("level-*.bin"):
            if int(stale.stem.split("-")[1]) >= len(self._levels):
                stale.unlink()
        for level, data in enumerate(self._levels):
            path = _level_path(directory, level)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(_HEADER.pack(self.base) + data)
            os.replace(tmp, path)

    def append_to_files(self, directory: Path, held: list[int]) -> None:
        """Append what is new since the last call (`held`: bytes already in each file)."""
        for level, data in enumerate(self._levels):
            if level >= len(held):
                held.append(0)
            if held[level] == len(data):
                continue
            path = _level_path(directory, level)
            with path.open("ab") as out:
                if held[level] == 0 and out.tell() == 0:
                    out.write(_HEADER.pack(self.base))
                out.write(data[held[level] :])
            held[level] = len(data)

    @classmethod
    def load(
        cls, directory: Path, frontier: CompactRange, *, limit: int, readonly: bool = False
    ) -> HashTree:
        """The cached tree for at most `limit` leaves; shorter (never wrong-shaped) if the cache
        lags behind the entries, empty-from-the-cut if it is missing or built on another base.
        `readonly` maps the files instead of reading them: a proof touches O(log n) hashes."""
        tree = cls(frontier)
        base = frontier.size
        raw: list[bytes | memoryview] = []
        for level in range(64):
            path = _level_path(directory, level)
            if not path.is_file():
                break
            data = _mapped(path) if readonly else path.read_bytes()
            if len(data) < _HEADER.size or _HEADER.unpack_from(data)[0] != base:
                return tree
            raw.append(data[_HEADER.size :])
        if not raw:
            return tree
        start0 = _start(base, 0)
        leaves = min(len(raw[0]) // HASH_SIZE + start0, limit)
        if leaves <= base:
            return tree
        levels: list[bytearray | memoryview] = []
        for level in range(leaves.bit_length()):
            want = max(0, (leaves >> level) - _start(base, level)) * HASH_SIZE
            have = raw[level] if level < len(raw) else b""
            if len(have) < want:
                return cls._rebuilt(frontier, raw[0][: (leaves - start0) * HASH_SIZE])
            levels.append(memoryview(have)[:want] if readonly else bytearray(have[:want]))
        tree._levels = levels
        tree.size = leaves
        return tree

    @classmethod
    def _rebuilt(cls, frontier: CompactRange, level0: bytes | memoryview) -> HashTree:
        """Upper levels lost or short: replay the leaf hashes (O(n) node hashes, once)."""
        tree = cls(frontier)
        skip = (frontier.size - _start(frontier.size, 0)) * HASH_SIZE
        for offset in range(skip, len(level0), HASH_SIZE):
            tree.append(bytes(level0[offset : offset + HASH_SIZE]))
        return tree

    def held_bytes(self) -> list[int]:
        return [len(level) for level in self._levels]


def _mapped(path: Path) -> memoryview:
    with path.open("rb") as src:
        if os.fstat(src.fileno()).st_size == 0:
            return memoryview(b"")
        return memoryview(mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ))


def _level_path(directory: Path, level: int) -> Path:
    return directory / f"level-{level:02d}.bin"
