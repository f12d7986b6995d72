"""The log's side of c2sp.org/tlog-witness: submit each new checkpoint to the witnesses and keep
their cosignatures beside the log (`witnessed/`, LOG-25).

`WitnessClient` speaks `add-checkpoint` to one witness over HTTP and checks the cosignature it
returns against the witness's pinned key (lines by other keys are ignored, as the spec says).
`Witnessing` watches the log's signed checkpoints and sends the newest to every witness whose
cosignature it lacks, with `old` = the size that witness last cosigned (learned from its
stored cosignatures, or from a 409 answer) and the consistency proof from there. Failures are
logged and retried with exponential back-off; they never touch the writer, so appends are
never blocked. A witness refusing a checkpoint (a 4xx other than a size conflict) is an alarm:
the log disagrees with what the witness has seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from zerogate.audit._checkpoint import Checkpoint, CheckpointStore, open_checkpoint
from zerogate.audit._cosignature import CosignatureVerifier, lines_by, open_cosigned
from zerogate.audit._errors import AuditError
from zerogate.audit._layout import Layout, read_cut
from zerogate.audit._merkle import CompactRange, leaf_hash, verify_consistency
from zerogate.audit._note import NoteVerifier, open_note
from zerogate.audit._segments import iter_payloads
from zerogate.audit._tree import HashTree
from zerogate.audit._witness import SIZE_MEDIA_TYPE, AddCheckpoint
from zerogate.audit._witnessed import WitnessedStore
from zerogate.clock import Clock, SystemClock

log = logging.getLogger("zerogate.audit.witness")

_MAX_ANSWER_BYTES = 64 * 1024
_SETTLED_NS = 2_000_000_000  # a directory mtime this old cannot hide a same-tick change


class WitnessConflict(AuditError):
    """409 with `text/x.tlog.size`: the witness holds another size for this log (`size`)."""

    def __init__(self, size: int) -> None:
        super().__init__(
            f"the witness's latest cosigned size is {size}", code="witness_size_conflict"
        )
        self.size = size


class WitnessRefused(AuditError):
    """The witness would not cosign (`status`): a fork, a bad proof or an unknown log."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(
            f"the witness refused the checkpoint ({status}): {message}", code="witness_refused"
        )
        self.status = status


class WitnessClient:
    """One witness: its submission URL prefix and its pinned cosignature key."""

    def __init__(self, url: str, key: CosignatureVerifier, *, http: httpx.AsyncClient) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self._http = http

    @property
    def name(self) -> str:
        return self.key.name

    async def add_checkpoint(self, request: AddCheckpoint) -> list[str]:
        """Submit; the witness's verified cosignature line(s) for `request.note`.

        Raises WitnessConflict (its size), WitnessRefused, AuditError(`witness_answer_invalid`)
        for an answer without a valid cosignature by the pinned key, httpx.HTTPError when the
        witness cannot be reached.
        """
        async with self._http.stream(
            "POST",
            f"{self.url}/add-checkpoint",
            content=request.encode(),
            headers={"content-type": "text/plain; charset=utf-8"},
        ) as answer:
            raw = bytearray()
            async for chunk in answer.aiter_bytes():
                raw += chunk
                if len(raw) > _MAX_ANSWER_BYTES:
                    raise _invalid("the witness's answer is too large")
        body = raw.decode("utf-8", "replace")
        media = answer.headers.get("content-type", "").split(";")[0].strip()
        if answer.status_code == 409 and media == SIZE_MEDIA_TYPE:
            size = body.strip()
            if not size.isdigit() or not body.endswith("\n"):
                raise _invalid(f"a 409 answer's body is a size and a newline, not {body!r}")
            raise WitnessConflict(int(size))
        if answer.status_code != 200:
            raise WitnessRefused(answer.status_code, body.strip()[:200])
        # tlog-witness: append the answer to the checkpoint and open it with the pinned key.
        try:
            opened = open_note(request.note + body, [self.key])
        except AuditError as exc:
            raise _invalid(f"the witness's answer does not verify: {exc.message}") from exc
        if self.key.name not in opened.signers:
            raise _invalid("the answer holds no cosignature by the witness's key")
        return lines_by(request.note + body, [self.key])


def _invalid(msg: str) -> AuditError:
    return AuditError(msg, code="witness_answer_invalid")


@dataclass(slots=True)
class WitnessStatus:
    """One witness as the log sees it (for metrics and `zerogate doctor`-style reports)."""

    name: str
    url: str
    size: int = -1  # the size it last cosigned (-1: not known yet)
    root: bytes = b""  # the root it cosigned at that size (empty: not known)
    cosigned: int = 0
    failures: int = 0  # consecutive failed submissions
    last_error: str = ""
    retry_at: float = 0.0  # monotonic time before which it is not tried again


@dataclass(slots=True)
class WitnessingStats:
    """Counters for metrics: submissions, cosignatures, conflicts, failures, refusals (alarms),
    and the newest checkpoint cosigned by a quorum (`witnessed_size`, -1: none yet)."""

    submitted: int = 0
    cosigned: int = 0
    conflicts: int = 0
    failures: int = 0
    refusals: int = 0
    witnessed_size: int = -1
    witnesses: dict[str, WitnessStatus] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Latest:
    checkpoint: Checkpoint
    note: str


class Witnessing:
    """Gets the log's checkpoints cosigned by its witnesses, in the background (see module)."""

    def __init__(
        self,
        audit_dir: Path,
        log_key: NoteVerifier,
        witnesses: Sequence[WitnessClient],
        *,
        origin: str,
        quorum: int | None = None,
        poll_s: float = 1.0,
        backoff_s: float = 1.0,
        max_backoff_s: float = 300.0,
        clock: Clock | None = None,
    ) -> None:
        names = [w.name for w in witnesses]
        if quorum is not None and not 1 <= quorum <= len(witnesses):
            raise AuditError("the quorum is 1 to the number of witnesses", code="witness_config")
        if len(set(names)) != len(names) or log_key.name in names:
            raise AuditError(
                "witness names must be distinct, and differ from the log's key name",
                code="witness_config",
            )
        self.audit_dir = audit_dir
        self.log_key = log_key
        self.witnesses = list(witnesses)
        self.origin = origin
        self.quorum = len(witnesses) if quorum is None else quorum
        self.poll_s = poll_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock or SystemClock()
        self._store = WitnessedStore(audit_dir)
        self._write = asyncio.Lock()
        self._seen: tuple[int, _Latest | None] = (-1, None)  # checkpoints/ mtime, its newest
        self.stats = WitnessingStats(
            witnesses={w.name: WitnessStatus(w.name, w.url) for w in witnesses}
        )

    async def run(self) -> None:
        """Submit every new checkpoint until cancelled; never raises for a witness's fault."""
        await self.learn()
        while True:
            try:
                await self.round()
            except AuditError as exc:  # our own log cannot be read: say so loudly, keep going
                log.error("audit witnessing: %s", exc.message, extra={"code": exc.code})
            except (OSError, ValueError):  # nor does a disk error stop the task
                log.exception("audit witnessing: reading the log failed")
            await asyncio.sleep(self.poll_s)

    async def round(self) -> int:
        """One pass: the latest checkpoint to each witness that lacks it and is not backing
        off. Returns how many witnesses cosigned it in this pass."""
        latest = await asyncio.to_thread(self._latest)
        if latest is None:
            return 0
        now = self._clock.monotonic()
        head = (latest.checkpoint.size, latest.checkpoint.root)
        due = [
            w
            for w in self.witnesses
            if (self.stats.witnesses[w.name].size, self.stats.witnesses[w.name].root) != head
            and self.stats.witnesses[w.name].retry_at <= now
        ]
        if not due:
            return 0
        results = await asyncio.gather(*(self._submit(w, latest) for w in due))
        lines = [line for found in results for line in found]
        if lines:
            async with self._write:
                await asyncio.to_thread(self._store.add, latest.checkpoint.size, latest.note, lines)
        have = sum(1 for s in self.stats.witnesses.values() if (s.size, s.root) == head)
        if have >= self.quorum:
            self.stats.witnessed_size = latest.checkpoint.size
        elif lines or due:
            log.warning(
                "audit witnessing: checkpoint %d has %d of %d cosignatures needed",
                latest.checkpoint.size,
                have,
                self.quorum,
            )
        return sum(1 for found in results if found)

    async def _submit(self, witness: WitnessClient, latest: _Latest) -> list[str]:
        status = self.stats.witnesses[witness.name]
        size = latest.checkpoint.size
        for _attempt in range(2):  # a 409 tells us the witness's size: one more try from there
            old = max(status.size, 0)
            if old > size:
                self._failed(status, f"the witness has cosigned size {old}, above the log's {size}")
                self.stats.refusals += 1
                log.error(
                    "audit witnessing: witness %s holds a larger tree than the log: rollback?",
                    witness.name,
                    extra={"witness": witness.name, "witness_size": old, "log_size": size},
                )
                return []
            try:
                proof = await asyncio.to_thread(self._proof, old, latest.checkpoint)
                request = AddCheckpoint(old, tuple(proof), latest.note)
                self.stats.submitted += 1
                lines = await witness.add_checkpoint(request)
            except WitnessConflict as conflict:
                self.stats.conflicts += 1
                status.size, status.root = conflict.size, b""
                continue
            except WitnessRefused as exc:
                self.stats.refusals += 1
                self._failed(status, f"{exc.code}: {exc.message}")
                log.error(
                    "audit witnessing: %s (the log disagrees with what the witness has seen)",
                    exc.message,
                    extra={"witness": witness.name, "size": size, "old": old},
                )
                return []
            except (AuditError, httpx.HTTPError) as exc:
                why = f"{exc.code}: {exc.message}" if isinstance(exc, AuditError) else repr(exc)
                self._failed(status, why)
                log.warning(
                    "audit witnessing: %s failed: %s",
                    witness.name,
                    exc,
                    extra={"witness": witness.name, "failures": status.failures},
                )
                return []
            status.size, status.root = size, latest.checkpoint.root
            status.cosigned += 1
            status.failures = 0
            status.last_error = ""
            status.retry_at = 0.0
            self.stats.cosigned += 1
            return lines
        self._failed(status, "the witness's size kept changing")
        return []

    def _failed(self, status: WitnessStatus, why: str) -> None:
        status.failures += 1
        status.last_error = why
        delay = min(self.max_backoff_s, self.backoff_s * 2 ** (status.failures - 1))
        status.retry_at = self._clock.monotonic() + delay
        self.stats.failures += 1

    async def learn(self) -> None:
        """Each witness's last cosigned size, from the cosignatures kept in `witnessed/` (so a
        restart does not begin with a 409 per witness)."""
        await asyncio.to_thread(self._learn_sizes)

    # -- reading the log (blocking; run in a thread) ---------------------------------------------

    def _learn_sizes(self) -> None:
        keys = [w.key for w in self.witnesses]
        for size, path in reversed(self._store.paths()):
            if all(s.size >= 0 for s in self.stats.witnesses.values()):
                return
            try:
                cosigned = open_cosigned(
                    path.read_bytes(), log=self.log_key, witnesses=keys, origin=self.origin
                )
            except AuditError as exc:
                log.error("audit witnessing: %s: %s", path.name, exc.message)
                continue
            for name in cosigned.cosigners:
                status = self.stats.witnesses[name]
                if status.size < 0:
                    status.size, status.root = size, cosigned.checkpoint.root

    def _latest(self) -> _Latest | None:
        """The log's newest signed checkpoint, verified. The directory is listed again only
        when it changed (its mtime): a long-lived log keeps one file per checkpoint."""
        directory = Layout(self.audit_dir).checkpoints
        try:
            changed = directory.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        settled = self._clock.now().timestamp() * 1e9 - changed > _SETTLED_NS
        if changed == self._seen[0] and settled:  # mtimes are coarse: trust only older ones
            return self._seen[1]
        paths = CheckpointStore(directory).paths()
        if not paths:
            return None
        note = paths[-1][1].read_text(encoding="utf-8")
        checkpoint = open_checkpoint(note, [self.log_key], origin=self.origin)
        self._store.remove_below(paths[0][0])  # cosigned checkpoints cut by retention go too
        self._seen = (changed, _Latest(checkpoint, note))
        return self._seen[1]

    def _proof(self, old: int, checkpoint: Checkpoint) -> list[bytes]:
        """PROOF(old, size) from the hash cache, checked against the signed root; a stale
        cache is replaced by the entries themselves."""
        if old in (0, checkpoint.size):
            return []
        layout = Layout(self.audit_dir)
        cut = read_cut(layout.cut, [self.log_key], origin=self.origin)
        frontier = cut.frontier if cut is not None else CompactRange()
        if old < frontier.size:
            raise AuditError(
                f"the witness is at size {old}, before the retention cut at {frontier.size}: "
                "no consistency proof can be made",
                code="witness_behind_cut",
            )
        size = checkpoint.size
        for rebuild in (False, True):
            tree = _tree(layout, frontier, size, rebuild=rebuild)
            if tree.size < size or tree.root(size) != checkpoint.root:
                continue
            proof = tree.consistency_proof(old, size)
            verify_consistency(
                first=old,
                second=size,
                first_root=tree.root(old),
                second_root=checkpoint.root,
                proof=proof,
            )
            return proof
        raise AuditError(
            f"the entries do not hash to checkpoint {size}'s root", code="audit_root_mismatch"
        )


def _tree(layout: Layout, frontier: CompactRange, size: int, *, rebuild: bool) -> HashTree:
    if not rebuild:
        mapped = HashTree.load(layout.tree, frontier, limit=size, readonly=True)
        if mapped.size == size:
            return mapped
    tree = HashTree(frontier)
    for seq, payload in iter_payloads(layout.segments, start_seq=frontier.size):
        if seq >= size:
            break
        tree.append(leaf_hash(payload))
    return tree
