"""The login UI's settings: where it is served, its limits and timeouts, checked once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

from zerogate.errors import ConfigError, ErrorDetail, InvalidInput
from zerogate.identity import normalise_group_name

MIN_SECRET_BYTES = 32
_LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True, slots=True)
class LoginConfig:
    """Tunables of the login pages; the defaults suit production.

    - `pending_ttl_s`: how long the step between password and second factor lasts (5 min).
    - `recent_auth_s`: how fresh a sign-in (or second factor) must be before a factor is added
      (ASVS 5.0 7.5.1: re-authenticate before changing authentication settings).
    - `max_body_bytes` / `max_cookie_bytes`: larger requests are refused with 413 / 431.
    - `issuer`: the name authenticator apps show next to the account.
    - `admin_group`: members of this group must pass user verification (a PIN or biometric on
      the authenticator) whenever they register or use a passkey (docs/login.md, passkeys).
    """

    pending_ttl_s: int = 300
    recent_auth_s: int = 600
    max_body_bytes: int = 16 * 1024
    max_cookie_bytes: int = 8 * 1024
    issuer: str = "Zerogate"
    admin_group: str = "admins"

    def __post_init__(self) -> None:
        problems = [
            ErrorDetail("config_invalid", name, "must be a positive whole number")
            for name in ("pending_ttl_s", "recent_auth_s", "max_body_bytes", "max_cookie_bytes")
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1
        ]
        if not self.issuer.strip() or ":" in self.issuer or len(self.issuer) > 64:
            msg = "1 to 64 characters, no colon (it separates issuer and account)"
            problems.append(ErrorDetail("config_invalid", "issuer", msg))
        try:
            # Stored lowercase like every group name, so membership compares exactly.
            object.__setattr__(self, "admin_group", normalise_group_name(str(self.admin_group)))
        except InvalidInput as exc:
            problems.append(ErrorDetail("config_invalid", "admin_group", exc.message))
        if problems:
            raise ConfigError("invalid login settings", details=problems)


def public_origin(public_url: str) -> str:
    """`https://login.example.com/` -> `https://login.example.com`; ConfigError if unusable.

    The UI owns a whole origin: its `__Host-` cookies need `Path=/`, so no path prefix. Plain
    http is accepted only for loopback hosts, where browsers still keep Secure cookies.
    """
    parts = urlsplit(public_url.strip())
    problem = None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "must be an absolute http(s) URL"
    elif parts.username is not None or parts.password is not None:
        problem = "must not contain credentials"
    elif parts.path not in ("", "/") or parts.query or parts.fragment:
        problem = "must be an origin only (no path, query or fragment)"
    elif parts.scheme == "http" and not _loopback(parts.hostname):
        problem = "must use https (http only for localhost)"
    if problem is not None:
        raise ConfigError(
            "invalid public URL for the login pages",
            details=[ErrorDetail("config_invalid", "public_url", problem)],
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


def check_secret(secret: bytes) -> bytes:
    """The signing secret must be bytes with at least 256 bits (random, kept out of the repo)."""
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            "the login pages need a signing secret",
            details=[
                ErrorDetail("config_invalid", "secret", f"at least {MIN_SECRET_BYTES} random bytes")
            ],
        )
    return secret


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


__all__ = ["MIN_SECRET_BYTES", "LoginConfig", "check_secret", "public_origin"]
