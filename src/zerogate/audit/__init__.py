"""Audit: an append-only, tamper-evident log of every decision and security event.

Entries (`AuditEntry`) go through `AuditLog.append` (async; `SyncAuditLog` for blocking
callers), which returns once they are fsync'd, sharing fsyncs between concurrent appends. An
RFC 6962/9162 Merkle tree covers the entries; signed checkpoints (C2SP signed notes, Ed25519)
commit to its root. `verify_log` replays the log against its checkpoints with a pinned key;
`prove` gives one entry's inclusion proof. `to_ocsf` maps entries to OCSF events for export.
Witnesses (c2sp.org/tlog-witness) cosign checkpoints off the log host: `Witness` is the
server's protocol, `Witnessing` submits the log's checkpoints and keeps the cosignatures.
See docs/audit.md.
"""

from zerogate.audit._checkpoint import (
    KEY_FILE,
    VKEY_FILE,
    Checkpoint,
    load_or_create_signer,
    open_checkpoint,
    sign_checkpoint,
)
from zerogate.audit._cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    CosignedCheckpoint,
    open_cosigned,
)
from zerogate.audit._entry import AuditEntry, AuditRecord, EventKind, Outcome
from zerogate.audit._errors import AuditError, ProofError
from zerogate.audit._log import DEFAULT_ORIGIN, AuditLog, AuditStats, LogOptions
from zerogate.audit._masking import Masks, is_maskable, secret_kind
from zerogate.audit._merkle import (
    EMPTY_ROOT,
    CompactRange,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from zerogate.audit._note import NoteSigner, NoteVerifier, OpenedNote, open_note, sign_note
from zerogate.audit._ocsf import OCSF_VERSION, to_ocsf
from zerogate.audit._reader import InclusionProof, Search, prove, read_records, search, tail
from zerogate.audit._retention import RetentionCut
from zerogate.audit._storage import Recovery
from zerogate.audit._sync import SyncAuditLog
from zerogate.audit._tree import HashTree
from zerogate.audit._verify import VerifiedLog, verify_log
from zerogate.audit._witness import (
    SIZE_MEDIA_TYPE,
    AddCheckpoint,
    Witness,
    WitnessError,
    WitnessState,
    create_witness_key,
    load_witness_key,
)
from zerogate.audit._witness_client import (
    WitnessClient,
    WitnessConflict,
    Witnessing,
    WitnessingStats,
    WitnessRefused,
    WitnessStatus,
)
from zerogate.audit._witnessed import (
    WITNESSED_DIR,
    WitnessedCheckpoint,
    WitnessedStore,
    latest_witnessed,
)

__all__ = [
    "DEFAULT_ORIGIN",
    "EMPTY_ROOT",
    "KEY_FILE",
    "OCSF_VERSION",
    "SIZE_MEDIA_TYPE",
    "VKEY_FILE",
    "WITNESSED_DIR",
    "AddCheckpoint",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditRecord",
    "AuditStats",
    "Checkpoint",
    "CompactRange",
    "CosignatureSigner",
    "CosignatureVerifier",
    "CosignedCheckpoint",
    "EventKind",
    "HashTree",
    "InclusionProof",
    "LogOptions",
    "Masks",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "Outcome",
    "ProofError",
    "Recovery",
    "RetentionCut",
    "Search",
    "SyncAuditLog",
    "VerifiedLog",
    "Witness",
    "WitnessClient",
    "WitnessConflict",
    "WitnessError",
    "WitnessRefused",
    "WitnessState",
    "WitnessStatus",
    "WitnessedCheckpoint",
    "WitnessedStore",
    "Witnessing",
    "WitnessingStats",
    "create_witness_key",
    "is_maskable",
    "latest_witnessed",
    "leaf_hash",
    "load_or_create_signer",
    "load_witness_key",
    "node_hash",
    "open_checkpoint",
    "open_cosigned",
    "open_note",
    "prove",
    "read_records",
    "root_of",
    "search",
    "secret_kind",
    "sign_checkpoint",
    "sign_note",
    "tail",
    "to_ocsf",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
]
