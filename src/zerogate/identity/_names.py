"""What a username, email address, group name or display text may be, and their one normal form."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from zerogate.errors import ErrorDetail, InvalidInput

USERNAME_MAX_CHARS = 64
EMAIL_MAX_CHARS = 254  # RFC 5321 §4.5.3.1.3: a path is at most 256 octets including "<>"
DISPLAY_NAME_MAX_CHARS = 200
DESCRIPTION_MAX_CHARS = 1000

# Allowlist (STYLE §11): lowercase ASCII letters and digits, with `.`, `_`, `-` inside. No `@`,
# so "alice" and "alice@example.com" never mean the same kind of thing; safe in Cedar ids,
# URLs, logs and shell arguments.
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
# RFC 5322 dot-atom local part (no quoted strings, no comments).
_LOCAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# Characters never allowed in free text: controls and line/paragraph separators (log injection).
_BAD_TEXT_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def normalise_username(value: str) -> str:
    """The stored form of a username (ASCII-lowercased); raises InvalidInput(username_invalid)."""
    reject([detail("username_invalid", "username", username_problem(value))], what="username")
    return value.lower()


def normalise_group_name(value: str) -> str:
    """The stored form of a group name (same rules as usernames); raises group_name_invalid."""
    reject([detail("group_name_invalid", "name", group_name_problem(value))], what="group")
    return value.lower()


def normalise_email(value: str) -> str:
    """The stored form of an email address (lowercased); raises InvalidInput(email_invalid).

    The whole address is lowercased, not only the domain: RFC 5321 lets a server treat the local
    part as case-sensitive, but no mainstream one does, and one address per person means
    `Alice@x` and `alice@x` must not become two accounts (or two ways to sign in).
    """
    reject([detail("email_invalid", "email", email_problem(value))], what="email")
    return value.lower()


def clean_text(value: str | None) -> str | None:
    """Free text (display names, descriptions) as stored: NFC and trimmed; blank -> None."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value).strip()
    return text or None


def text_problem(value: str | None, *, max_chars: int) -> str | None:
    """Why free text cannot be stored: too long, or control characters (log injection)."""
    text = clean_text(value)
    if text is None:
        return None
    if len(text) > max_chars:
        return f"at most {max_chars} characters"
    if any(unicodedata.category(c) in _BAD_TEXT_CATEGORIES for c in text):
        return "control characters and line breaks are not allowed"
    return None


def login_key(value: str) -> str:
    """A sign-in identifier as looked up: lowercased and bounded; never raises (no enumeration)."""
    return value[: EMAIL_MAX_CHARS + 1].lower()


def username_problem(value: str) -> str | None:
    return _name_problem(value, "username")


def group_name_problem(value: str) -> str | None:
    return _name_problem(value, "group name")


def email_problem(value: str) -> str | None:
    if not value:
        return "an email address is required"
    if len(value) > EMAIL_MAX_CHARS:
        return f"an email address is at most {EMAIL_MAX_CHARS} characters"
    if not value.isascii():
        return "an email address must be ASCII (internationalised addresses are not supported yet)"
    local, at, domain = value.lower().rpartition("@")
    if not at or not local or not domain:
        return "an email address looks like name@example.com"
    if len(local) > 64 or _LOCAL.fullmatch(local) is None:  # RFC 5321 §4.5.3.1.1
        return "the part before '@' is not a valid (unquoted) mailbox name"
    labels = domain.split(".")
    if len(domain) > 253 or any(_LABEL.fullmatch(label) is None for label in labels):
        return "the part after '@' is not a valid domain name"
    return None


def detail(code: str, loc: str, problem: str | None) -> ErrorDetail | None:
    return None if problem is None else ErrorDetail(code, loc, problem)


def reject(found: Iterable[ErrorDetail | None], *, what: str) -> None:
    """Raise InvalidInput with every problem at once (STYLE §10); nothing if there is none.

    One problem keeps its own code (`username_invalid`); several are `<what>_invalid`.
    """
    details = [d for d in found if d is not None]
    if not details:
        return
    if len(details) == 1:
        raise InvalidInput(details[0].msg, code=details[0].code, details=details)
    raise InvalidInput(
        f"the {what} is invalid: {len(details)} problems", code=f"{what}_invalid", details=details
    )


def _name_problem(value: str, what: str) -> str | None:
    if not value:
        return f"a {what} is required"
    if len(value) > USERNAME_MAX_CHARS:
        return f"a {what} is at most {USERNAME_MAX_CHARS} characters"
    if not value.isascii() or _NAME.fullmatch(value.lower()) is None:
        return (
            f"a {what} is ASCII letters, digits, '.', '_' and '-', starting and ending with a "
            "letter or digit"
        )
    return None


__all__ = [
    "DESCRIPTION_MAX_CHARS",
    "DISPLAY_NAME_MAX_CHARS",
    "EMAIL_MAX_CHARS",
    "USERNAME_MAX_CHARS",
    "clean_text",
    "detail",
    "email_problem",
    "group_name_problem",
    "login_key",
    "normalise_email",
    "normalise_group_name",
    "normalise_username",
    "reject",
    "text_problem",
    "username_problem",
]
