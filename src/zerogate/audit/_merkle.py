"""RFC 6962/9162 Merkle tree hashing and proof verification, free of I/O.

Leaves hash as SHA-256(0x00 || entry) and interior nodes as SHA-256(0x01 || left || right): the
prefixes keep a leaf from ever passing for a node (second-preimage defence, RFC 6962 §2.1).
The verifiers follow RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from zerogate.audit._errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """The hash of one log entry (LOG-01)."""
    return hashlib.sha256(_LEAF + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node from its two children (LOG-01)."""
    return hashlib.sha256(_NODE + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The split point k of RFC 9162 §2.1.1: the largest power of two strictly less than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """The right frontier of a growing tree: O(log n) hashes, enough to give the root at any size.

    `nodes[i]` is the hash of a perfect subtree; their sizes are the set bits of `size`, largest
    first. A verifier replays millions of entries through one of these without keeping them.
    """

    __slots__ = ("nodes", "size")

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if len(nodes) != size.bit_count():
            raise ValueError("a compact range holds one hash per set bit of its size")
        self.size = size
        self.nodes = list(nodes)

    def append(self, leaf: bytes) -> None:
        nodes = self.nodes
        nodes.append(leaf)
        size = self.size
        # Each trailing 1 bit of the old size is a perfect subtree the new leaf now completes.
        while size & 1:
            right = nodes.pop()
            nodes[-1] = hashlib.sha256(_NODE + nodes[-1] + right).digest()
            size >>= 1
        self.size += 1

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        acc = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            acc = node_hash(left, acc)
        return acc


def root_of(entries: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of a list of entries (the whole tree, recomputed)."""
    frontier = CompactRange()
    for entry in entries:
        frontier.append(leaf_hash(entry))
    return frontier.root()


def verify_inclusion(
    leaf: bytes, *, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `proof` shows leaf hash `leaf` at `index` in the tree `root` (LOG-23)."""
    if index < 0 or index >= size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_hashes(proof, leaf, root)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    *, first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless tree `second_root` extends tree `first_root` (LOG-21)."""
    if first < 0 or second < first:
        raise ProofError(f"no consistency from size {first} to the smaller size {second}")
    _check_hashes(proof, first_root, second_root)
    if first == second:
        if proof:
            raise ProofError("equal sizes take an empty consistency proof")
        if first_root != second_root:
            raise ProofError("two trees of the same size have different roots", code="audit_fork")
        return
    if first == 0:
        if proof:
            raise ProofError("consistency from the empty tree takes an empty proof")
        if first_root != EMPTY_ROOT:
            raise ProofError("an empty tree must have the empty root")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is itself a node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than needed")
    if fr != first_root:
        raise ProofError("consistency proof does not lead to the old root", code="audit_fork")
    if sr != second_root:
        raise ProofError("consistency proof does not lead to the new root", code="audit_fork")


def _check_hashes(proof: Sequence[bytes], *roots: bytes) -> None:
    if len(proof) > 64:
        raise ProofError("proof has more hashes than any tree of 2^64 leaves needs")
    if any(len(h) != HASH_SIZE for h in (*proof, *roots)):
        raise ProofError("every hash in a proof is 32 bytes")
