"""RFC 6962/9162 Merkle hashing and proofs: known answers (LOG-01, LOG-02), every proof for trees of
1..64 leaves checked against the RFC's recursive definitions, and the negatives of LOG-26."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from zerogate.audit import (
    EMPTY_ROOT,
    CompactRange,
    HashTree,
    ProofError,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "merkle_roots.json").read_text())
LEAVES = [bytes.fromhex(h) for h in VECTORS["leaves_hex"]]
SIZES = range(1, 65)


# -- the RFC 9162 §2.1 definitions, written out literally as the reference ----------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


ENTRIES = [f"entry {i}".encode() for i in range(64)]


@pytest.fixture(scope="module")
def tree() -> HashTree:
    built = HashTree()
    built.extend(leaf_hash(e) for e in ENTRIES)
    return built


# -- LOG-01 / LOG-02 -------------------------------------------------------------------------------


def test_merkle_empty_root_is_sha256_of_nothing() -> None:
    """LOG-01: MTH of the empty tree."""
    assert EMPTY_ROOT.hex() == VECTORS["empty_root"]
    assert root_of([]) == EMPTY_ROOT


def test_merkle_leaf_and_node_hashes_are_domain_separated() -> None:
    """LOG-01: 0x00 prefix for leaves, 0x01 for nodes, so a node never passes for a leaf."""
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert leaf_hash(left + right) != node_hash(left, right)


@pytest.mark.parametrize("size", range(1, 9))
def test_merkle_roots_match_the_known_answers(size: int) -> None:
    """LOG-02 vectors (transparency-dev/merkle testonly)."""
    expected = VECTORS["roots"][str(size)]
    assert root_of(LEAVES[:size]).hex() == expected
    tree = HashTree()
    tree.extend(leaf_hash(e) for e in LEAVES)
    assert tree.root(size).hex() == expected


def test_merkle_roots_match_the_reference_for_every_size(tree: HashTree) -> None:
    for size in SIZES:
        assert tree.root(size) == mth(ENTRIES[:size]) == root_of(ENTRIES[:size]), size


# -- inclusion (RFC 9162 §2.1.3) ---------------------------------------------------------------


def test_merkle_inclusion_proofs_for_every_leaf_of_every_size(tree: HashTree) -> None:
    """LOG-23: generate + verify for sizes 1..64, every leaf, against the reference PATH."""
    for size in SIZES:
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == path(index, ENTRIES[:size]), (index, size)
            verify_inclusion(
                leaf_hash(ENTRIES[index]), index=index, size=size, proof=proof, root=root
            )


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 63, 64])
def test_merkle_inclusion_refuses_every_altered_proof(tree: HashTree, size: int) -> None:
    """LOG-26: a flipped bit, an extra or a missing hash, a wrong index, size 2^k and 2^k+1."""
    root = tree.root(size)
    for index in range(size):
        leaf = leaf_hash(ENTRIES[index])
        proof = tree.inclusion_proof(index, size)
        bad_proofs = [[*proof, proof[0] if proof else root], proof[:-1] if proof else [root]]
        for at in range(len(proof)):
            flipped = bytearray(proof[at])
            flipped[at % 32] ^= 1
            bad_proofs.append([*proof[:at], bytes(flipped), *proof[at + 1 :]])
        for bad in bad_proofs:
            with pytest.raises(ProofError):
                verify_inclusion(leaf, index=index, size=size, proof=bad, root=root)
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash(b"other"), index=index, size=size, proof=proof, root=root)
        if size > 1:
            with pytest.raises(ProofError):
                verify_inclusion(leaf, index=(index + 1) % size, size=size, proof=proof, root=root)
    with pytest.raises(ProofError):  # leaf index >= size
        verify_inclusion(leaf_hash(ENTRIES[0]), index=size, size=size, proof=[], root=root)


def test_merkle_inclusion_refuses_an_empty_tree_and_short_hashes() -> None:
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(b""), index=0, size=0, proof=[], root=EMPTY_ROOT)
    with pytest.raises(ProofError):
        verify_inclusion(b"short", index=0, size=1, proof=[], root=b"short")


# -- consistency (RFC 9162 §2.1.4) -------------------------------------------------------------


def test_merkle_consistency_proofs_for_every_pair_of_sizes(tree: HashTree) -> None:
    """LOG-21: generate + verify for every 1 <= m <= n <= 64 against the reference PROOF."""
    for second in SIZES:
        for first in range(1, second + 1):
            proof = tree.consistency_proof(first, second)
            expected = [] if first == second else subproof(first, ENTRIES[:second], True)
            assert proof == expected, (first, second)
            verify_consistency(
                first=first,
                second=second,
                first_root=tree.root(first),
                second_root=tree.root(second),
                proof=proof,
            )


def test_merkle_consistency_refuses_altered_proofs_forks_and_rollbacks(tree: HashTree) -> None:
    """LOG-22/26: a flipped bit, a missing or extra hash, a fork root, a shrinking size."""
    for second in [2, 3, 4, 5, 8, 9, 16, 17, 33, 64]:
        for first in range(1, second):
            proof = tree.consistency_proof(first, second)
            roots = {"first_root": tree.root(first), "second_root": tree.root(second)}
            bad_proofs = [proof[:-1], [*proof, proof[0]]]
            for at in range(len(proof)):
                flipped = bytearray(proof[at])
                flipped[0] ^= 0x80
                bad_proofs.append([*proof[:at], bytes(flipped), *proof[at + 1 :]])
            for bad in bad_proofs:
                with pytest.raises(ProofError):
                    verify_consistency(first=first, second=second, proof=bad, **roots)
            forked = {**roots, "first_root": leaf_hash(b"fork")}
            with pytest.raises(ProofError):
                verify_consistency(first=first, second=second, proof=proof, **forked)
            with pytest.raises(ProofError):  # rollback: the "new" tree is smaller
                verify_consistency(
                    first=second,
                    second=first,
                    first_root=roots["second_root"],
                    second_root=roots["first_root"],
                    proof=proof,
                )


def test_merkle_consistency_trivial_cases() -> None:
    """Equal sizes need equal roots and an empty proof; size 0 is consistent with anything."""
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    verify_consistency(first=3, second=3, first_root=a, second_root=a, proof=[])
    verify_consistency(first=0, second=5, first_root=EMPTY_ROOT, second_root=b, proof=[])
    with pytest.raises(ProofError) as fork:
        verify_consistency(first=3, second=3, first_root=a, second_root=b, proof=[])
    assert fork.value.code == "audit_fork"
    with pytest.raises(ProofError):
        verify_consistency(first=0, second=5, first_root=a, second_root=b, proof=[])
    with pytest.raises(ProofError):
        verify_consistency(first=2, second=5, first_root=a, second_root=b, proof=[])


# -- the compact range and the cut tree ----------------------------------------------------------


def test_merkle_compact_range_gives_every_root(tree: HashTree) -> None:
    frontier = CompactRange()
    for size, entry in enumerate(ENTRIES, start=1):
        frontier.append(leaf_hash(entry))
        assert frontier.root() == tree.root(size)
        assert tree.frontier(size).nodes == frontier.nodes


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 8, 13, 32, 33])
def test_merkle_tree_seeded_at_a_cut_proves_everything_after_it(tree: HashTree, cut: int) -> None:
    """After retention keeps only the frontier at `cut`, later roots and proofs are unchanged."""
    seeded = HashTree(tree.frontier(cut))
    seeded.extend(leaf_hash(e) for e in ENTRIES[cut:])
    rebased = tree.rebased(cut)
    for kept in (seeded, rebased):
        for size in range(cut, 65):
            assert kept.root(size) == tree.root(size)
            if size > cut:
                assert kept.consistency_proof(cut, size) == tree.consistency_proof(cut, size)
            for index in range(cut, size):
                assert kept.inclusion_proof(index, size) == tree.inclusion_proof(index, size)
