"""The witness's `add-checkpoint` rules (c2sp.org/tlog-witness, LOG-12), every answer the spec
names, the durable state, and the fork/rollback/replay negatives of LOG-26."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zerogate.audit import (
    EMPTY_ROOT,
    AddCheckpoint,
    AuditError,
    Checkpoint,
    CosignatureSigner,
    HashTree,
    NoteSigner,
    Witness,
    WitnessError,
    WitnessState,
    leaf_hash,
    open_cosigned,
    sign_checkpoint,
)
from zerogate.audit._witness import MAX_PROOF_LINES
from zerogate.clock import FixedClock

ORIGIN = "log.test/audit"


class Log:
    """A log's side for the tests: a tree of numbered leaves and its signing key."""

    def __init__(self, signer: NoteSigner, prefix: bytes = b"entry") -> None:
        self.signer = signer
        self.prefix = prefix
        self.tree = HashTree()

    def grow(self, to: int) -> None:
        while self.tree.size < to:
            self.tree.append(leaf_hash(self.prefix + str(self.tree.size).encode()))

    def note(self, size: int, *, root: bytes | None = None) -> str:
        self.grow(size)
        made = Checkpoint(ORIGIN, size, root if root is not None else self.tree.root(size))
        return sign_checkpoint(made, self.signer)

    def request(self, old: int, size: int, *, root: bytes | None = None) -> bytes:
        self.grow(size)
        proof = tuple(self.tree.consistency_proof(old, size)) if old <= size else ()
        return AddCheckpoint(old, proof, self.note(size, root=root)).encode()


@pytest.fixture
def log_signer() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


@pytest.fixture
def log(log_signer: NoteSigner) -> Log:
    return Log(log_signer)


@pytest.fixture
def signer() -> CosignatureSigner:
    return CosignatureSigner.generate("witness.test/w1")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def witness(
    tmp_path: Path, signer: CosignatureSigner, log_signer: NoteSigner, clock: FixedClock
) -> Witness:
    return Witness(
        signer, {ORIGIN: [log_signer.verifier()]}, WitnessState(tmp_path / "state"), clock=clock
    )


def _refused(witness: Witness, body: bytes) -> WitnessError:
    with pytest.raises(WitnessError) as caught:
        witness.add_checkpoint(body)
    return caught.value


def test_witness_cosigns_the_first_checkpoint_and_then_consistent_ones(
    witness: Witness, log: Log, signer: CosignatureSigner, log_signer: NoteSigner, clock: FixedClock
) -> None:
    line = witness.add_checkpoint(log.request(0, 5))
    note = log.note(5) + line
    found = open_cosigned(
        note, log=log_signer.verifier(), witnesses=[signer.verifier()], origin=ORIGIN
    )
    assert found.cosigners == ("witness.test/w1",)
    assert found.times == (int(clock.now().timestamp()),)
    clock.advance(60)
    later = witness.add_checkpoint(log.request(5, 13))
    assert open_cosigned(
        log.note(13) + later,
        log=log_signer.verifier(),
        witnesses=[signer.verifier()],
        origin=ORIGIN,
    ).times == (int(clock.now().timestamp()),)
    # The same checkpoint again (equal size, equal root, empty proof) is cosigned again.
    assert witness.add_checkpoint(log.request(13, 13)).startswith("\u2014 witness.test/w1 ")
    assert witness.check_state() == {ORIGIN: 13}


def test_witness_unknown_origin_is_404(witness: Witness) -> None:
    other = Log(NoteSigner.generate("other.test/log"))
    note = sign_checkpoint(Checkpoint("other.test/log", 1, leaf_hash(b"x")), other.signer)
    refused = _refused(witness, AddCheckpoint(0, (), note).encode())
    assert (refused.status, refused.code) == (404, "witness_unknown_log")


def test_witness_wrong_key_or_bad_signature_is_403(witness: Witness) -> None:
    impostor = Log(NoteSigner.generate(ORIGIN))  # the origin's name, another key
    refused = _refused(witness, impostor.request(0, 3))
    assert (refused.status, refused.code) == (403, "witness_signature_invalid")


def test_witness_bad_signature_by_the_pinned_key_is_403(witness: Witness, log: Log) -> None:
    body = log.request(0, 3).decode()
    # Same key and ID, different checkpoint text: the signature no longer verifies.
    forged = body.replace(f"{ORIGIN}\n3\n", f"{ORIGIN}\n4\n")
    refused = _refused(witness, forged.encode())
    assert (refused.status, refused.code) == (403, "witness_signature_invalid")


def test_witness_old_above_size_is_400(witness: Witness, log: Log) -> None:
    witness.add_checkpoint(log.request(0, 8))
    # A replay of an older checkpoint claiming the witness's size: old > size.
    refused = _refused(witness, AddCheckpoint(8, (), log.note(4)).encode())
    assert (refused.status, refused.code) == (400, "witness_bad_request")
    assert witness.check_state() == {ORIGIN: 8}


def test_witness_size_mismatch_is_409_with_its_size(witness: Witness, log: Log) -> None:
    refused = _refused(witness, log.request(3, 6))  # it never cosigned size 3
    assert (refused.status, refused.size) == (409, 0)
    witness.add_checkpoint(log.request(0, 6))
    # Replay of an old checkpoint (rollback): old = its own size, not the witness's.
    refused = _refused(witness, AddCheckpoint(4, (), log.note(4)).encode())
    assert (refused.status, refused.code, refused.size) == (409, "witness_size_conflict", 6)
    refused = _refused(witness, log.request(0, 9))  # a log that forgot the witness's state
    assert refused.size == 6
    assert witness.check_state() == {ORIGIN: 6}


def test_witness_size_zero_needs_the_empty_root_and_old_zero_an_empty_proof(
    witness: Witness, log: Log
) -> None:
    refused = _refused(witness, AddCheckpoint(0, (), log.note(0, root=b"\x01" * 32)).encode())
    assert (refused.status, refused.code) == (422, "witness_proof_invalid")
    assert witness.add_checkpoint(AddCheckpoint(0, (), log.note(0)).encode())
    assert log.note(0).splitlines()[2] == base64.b64encode(EMPTY_ROOT).decode()
    log.grow(4)
    refused = _refused(witness, AddCheckpoint(0, (log.tree.root(2),), log.note(4)).encode())
    assert (refused.status, refused.code) == (422, "witness_proof_invalid")


def test_witness_bad_consistency_proof_is_422_and_kept_as_evidence(
    witness: Witness, log: Log, log_signer: NoteSigner, clock: FixedClock
) -> None:
    witness.add_checkpoint(log.request(0, 5))
    good = AddCheckpoint.parse(log.request(5, 9))
    for proof in (
        good.proof[:-1],  # a hash missing
        (*good.proof, good.proof[0]),  # a hash too many
        (bytes(32), *good.proof[1:]),  # a wrong hash
        (),
    ):
        refused = _refused(witness, AddCheckpoint(5, proof, good.note).encode())
        assert (refused.status, refused.code) == (422, "witness_proof_invalid")
    # Each log-signed refusal is kept: the witness cannot tell a buggy proof from a fork.
    kept = witness.state.evidence(ORIGIN)
    assert len(kept) == 4
    assert all("-9-unproven-" in p.name for p in kept)
    # A rewritten history re-signed with the same key: consistency fails, evidence is kept.
    clock.advance(1)
    rewritten = Log(log_signer, prefix=b"rewritten")
    refused = _refused(witness, rewritten.request(5, 9))
    assert (refused.status, refused.code) == (422, "witness_proof_invalid")
    evidence = witness.state.evidence(ORIGIN)[-1]
    assert rewritten.note(9) in evidence.read_text()
    assert "# refused: consistency proof" in evidence.read_text()
    assert witness.check_state() == {ORIGIN: 5}  # never cosigned, never stored


def test_witness_fork_at_equal_size_is_409_never_cosigned_and_kept(
    witness: Witness, log: Log, log_signer: NoteSigner
) -> None:
    witness.add_checkpoint(log.request(0, 7))
    fork = Log(log_signer, prefix=b"fork")
    refused = _refused(witness, fork.request(7, 7))
    assert (refused.status, refused.code, refused.size) == (409, "witness_fork", None)
    (evidence,) = witness.state.evidence(ORIGIN)
    text = evidence.read_text()
    assert log.note(7).split("\n\n")[0] in text
    assert fork.note(7) in text
    assert witness.check_state() == {ORIGIN: 7}
    assert witness.add_checkpoint(log.request(7, 8))  # the original history goes on


def test_witness_malformed_requests_are_400(witness: Witness, log: Log) -> None:
    note = log.note(2)
    for body in (
        b"",
        b"old 01\n\n" + note.encode(),
        b"new 0\n\n" + note.encode(),
        b"old 0\n" + note.encode(),  # no empty line after the proof
        b"old 0\nnot base64!\n\n" + note.encode(),
        b"old 0\n" + base64.b64encode(b"short") + b"\n\n" + note.encode(),
        b"old 0\n\n",
        b"old 0\n\n\xff\xfe",
        b"old 0\n\n" + log.note(2).split("\n\n")[0].encode() + b"\n",  # no signature block
    ):
        refused = _refused(witness, body)
        assert refused.status == 400, body
    many = b"".join(base64.b64encode(bytes(32)) + b"\n" for _ in range(MAX_PROOF_LINES + 1))
    assert _refused(witness, b"old 1\n" + many + b"\n" + note.encode()).status == 400


@settings(max_examples=30, deadline=None)
@given(
    old=st.integers(min_value=0, max_value=2**63),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=MAX_PROOF_LINES),
)
def test_witness_request_encoding_round_trips(old: int, proof: list[bytes]) -> None:
    note = "log.test/audit\n1\n" + base64.b64encode(bytes(32)).decode() + "\n\n\u2014 k AAAA\n"
    request = AddCheckpoint(old, tuple(proof), note)
    assert AddCheckpoint.parse(request.encode()) == request


def test_witness_state_survives_a_restart_and_refuses_tampering(
    tmp_path: Path, witness: Witness, log: Log, signer: CosignatureSigner, log_signer: NoteSigner
) -> None:
    witness.add_checkpoint(log.request(0, 6))
    again = Witness(
        signer,
        {ORIGIN: [log_signer.verifier()]},
        WitnessState(tmp_path / "state"),
        clock=FixedClock(),
    )
    assert again.check_state() == {ORIGIN: 6}
    assert _refused(again, log.request(0, 8)).size == 6  # it remembers: no rollback to 0
    (stored,) = (tmp_path / "state").glob("*/latest.note")
    assert stored.stat().st_mode & 0o077 == 0
    stored.write_text(stored.read_text().replace(f"{ORIGIN}\n6\n", f"{ORIGIN}\n60\n"))
    with pytest.raises(AuditError) as caught:
        again.check_state()
    assert caught.value.code == "witness_state_invalid"


def test_witness_racing_requests_never_roll_the_size_back(witness: Witness, log: Log) -> None:
    witness.add_checkpoint(log.request(0, 4))
    bodies = [log.request(4, size) for size in range(5, 29)]
    accepted: list[int] = []
    refused: list[int] = []
    gate = threading.Barrier(len(bodies))

    def submit(size: int, body: bytes) -> None:
        gate.wait()
        try:
            witness.add_checkpoint(body)
        except WitnessError as exc:
            refused.append(exc.status)
        else:
            accepted.append(size)

    threads = [
        threading.Thread(target=submit, args=(size, body))
        for size, body in zip(range(5, 29), bodies, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # All were built on size 4: exactly one can win, and the state is the one that won.
    assert len(accepted) == 1
    assert refused == [409] * (len(bodies) - 1)
    assert witness.check_state() == {ORIGIN: accepted[0]}


def test_witness_refuses_a_log_key_with_its_own_name(tmp_path: Path) -> None:
    shared = NoteSigner.generate("same.name")
    with pytest.raises(AuditError):
        Witness(
            CosignatureSigner.generate("same.name"),
            {ORIGIN: [shared.verifier()]},
            WitnessState(tmp_path),
            clock=FixedClock(),
        )
