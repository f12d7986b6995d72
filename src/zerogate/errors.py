"""The one error root for Zerogate: stable snake_case codes shared by APIs, the CLI and audit."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One problem in some input: a stable code, where it is, and what is wrong."""

    code: str
    loc: str
    msg: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "loc": self.loc, "msg": self.msg}

    def __str__(self) -> str:
        return f"{self.loc}: {self.msg} [{self.code}]" if self.loc else f"{self.msg} [{self.code}]"


class ZerogateError(Exception):
    """Root of every error Zerogate raises on purpose.

    `code` is stable and documented in docs/reference/errors.md; `status` is the HTTP status the
    edges map it to; `details` lists every individual problem when the input had several.
    """

    code: str = "internal_error"
    status: int = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Iterable[ErrorDetail] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details: tuple[ErrorDetail, ...] = tuple(sorted(details, key=_location_order))

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.details:
            body["errors"] = [d.as_dict() for d in self.details]
        return body

    def __str__(self) -> str:
        if not self.details:
            return self.message
        lines = [self.message, *(f"  {d}" for d in self.details)]
        return "\n".join(lines)


def _location_order(detail: ErrorDetail) -> tuple[tuple[tuple[int, str], ...], str]:
    """Sort `a.cedar:9` before `a.cedar:15`: digit runs compare as numbers."""
    parts = tuple((int(p), "") if p.isdigit() else (-1, p) for p in _DIGITS.split(detail.loc) if p)
    return parts, detail.code


_DIGITS = re.compile(r"(\d+)")


class ConfigError(ZerogateError):
    """Settings could not be loaded; `details` holds every problem found at once."""

    code = "config_invalid"
    status = 500


class InvalidInput(ZerogateError):
    """A caller sent something malformed (bad JSON, unknown field, too large)."""

    code = "invalid_input"
    status = 400


class NotFound(ZerogateError):
    code = "not_found"
    status = 404


class Conflict(ZerogateError):
    code = "conflict"
    status = 409


class PolicyError(ZerogateError):
    """A policy, schema or bundle is invalid; the previously active bundle stays active."""

    code = "policy_invalid"
    status = 422


class StoreError(ZerogateError):
    """The store could not be reached or refused an operation; security callers fail closed."""

    code = "store_unavailable"
    status = 503


__all__ = [
    "ConfigError",
    "Conflict",
    "ErrorDetail",
    "InvalidInput",
    "NotFound",
    "PolicyError",
    "StoreError",
    "ZerogateError",
]
