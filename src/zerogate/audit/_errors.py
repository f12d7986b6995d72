"""The audit log's errors: one class, stable codes (docs/reference/errors.md "Audit log")."""

from __future__ import annotations

from collections.abc import Iterable

from zerogate.errors import ErrorDetail, ZerogateError


class AuditError(ZerogateError):
    """Something about the audit log is wrong; `code` says what (`audit_root_mismatch`, ...).

    Verification failures are security alarms: callers fail closed and keep the evidence.
    """

    code = "audit_invalid"
    status = 500

    def __init__(
        self,
        message: str,
        *,
        code: str,
        loc: str = "",
        details: Iterable[ErrorDetail] = (),
        status: int | None = None,
    ) -> None:
        found = list(details) or [ErrorDetail(code, loc, message)]
        super().__init__(message, code=code, status=status, details=found)


class ProofError(AuditError):
    """An inclusion or consistency proof does not verify (RFC 9162 §2.1.3.2, §2.1.4.2)."""

    def __init__(self, message: str, *, code: str = "audit_proof_invalid") -> None:
        super().__init__(message, code=code)
