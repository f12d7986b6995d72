"""Settings of upstream OpenID providers (federation): one name-keyed table per IdP, checked at load.

The checks here are the ones that need nothing but the settings themselves: shapes of URLs,
domains, scopes and group names. `zerogate.identity.federation` checks the rest (discovery,
keys) when it talks to the upstream.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

from zerogate.config._secret import Secret

# Names appear in URLs (/login/upstream/NAME), logs and env keys (ZEROGATE_UPSTREAMS__NAME__KEY,
# which the loader lowercases), so they are lowercase; "__" would split an env key in two.
UPSTREAM_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
DEFAULT_SCOPES = ("openid", "email", "profile")
MAX_GROUP_RULES = 1000
MAX_DOMAINS = 100
MAX_SCOPES = 20
_DISPLAY_NAME_MAX_CHARS = 64
_CLIENT_ID_MAX_CHARS = 255
_CLAIM_MAX_CHARS = 100
_VALUE_MAX_CHARS = 1000
# RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'.
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,100}")
# The identity part's group-name rule (docs/identity.md "Names"), repeated here because config
# sits below identity; `zerogate.identity.federation` normalises through identity's own check.
_GROUP = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_BAD_TEXT = frozenset({"Cc", "Zl", "Zp"})

Problem = tuple[str, str]
"""A problem in one table: (the key it is about, what is wrong)."""


@dataclass(frozen=True, slots=True)
class GroupRuleSettings:
    """Members of `group` are the users whose upstream `claim` has `value` (or contains it).

    `claim` defaults to the upstream's `groups_claim`. Values compare exactly (case-sensitive).
    """

    group: str = ""
    value: str = ""
    claim: str | None = None

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        if not _GROUP.fullmatch(self.group):
            found.append(("group", "a group name: 1-64 letters, digits, '.', '_' or '-'"))
        if not self.value or len(self.value) > _VALUE_MAX_CHARS or _has_controls(self.value):
            found.append(("value", f"1 to {_VALUE_MAX_CHARS} characters, no control characters"))
        if self.claim is not None and not _claim_ok(self.claim):
            found.append(("claim", f"a claim name of 1 to {_CLAIM_MAX_CHARS} characters"))
        return found


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    """One upstream OpenID provider Zerogate signs users in with (docs/federation.md)."""

    issuer: str = ""
    client_id: str = ""
    client_secret: Secret = Secret("")  # noqa: RUF009 - an immutable str, safe to share
    display_name: str = ""  # shown on the sign-in button; empty: the upstream's name
    domains: tuple[str, ...] = ()  # email domains sent here (home-realm discovery)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    groups_claim: str = "groups"
    group_rules: tuple[GroupRuleSettings, ...] = ()
    trust_mfa: bool = False  # believe the upstream's `amr` about multi-factor sign-in
    require_verified_email: bool = True  # refuse a first sign-in without email_verified = true
    fetch_userinfo: bool = False
    timeout_s: float = 10.0
    cache_ttl_s: int = 3600  # discovery document and JWKS

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        issuer = _issuer_problem(self.issuer)
        if issuer:
            found.append(("issuer", issuer))
        if not self.client_id or len(self.client_id) > _CLIENT_ID_MAX_CHARS:
            found.append(("client_id", f"required, at most {_CLIENT_ID_MAX_CHARS} characters"))
        elif _has_controls(self.client_id) or ":" in self.client_id:
            # client_secret_basic joins id and secret with ':' (RFC 6749 §2.3.1).
            found.append(("client_id", "no control characters or ':'"))
        if not self.client_secret:
            found.append(("client_secret", "required (client_secret_basic)"))
        elif _has_controls(self.client_secret):
            found.append(("client_secret", "no control characters"))
        if len(self.display_name) > _DISPLAY_NAME_MAX_CHARS or _has_controls(self.display_name):
            found.append(
                ("display_name", f"at most {_DISPLAY_NAME_MAX_CHARS} characters, one line")
            )
        found.extend(("domains", p) for p in _domain_problems(self.domains))
        found.extend(("scopes", p) for p in _scope_problems(self.scopes))
        if not _claim_ok(self.groups_claim):
            found.append(("groups_claim", f"a claim name of 1 to {_CLAIM_MAX_CHARS} characters"))
        if len(self.group_rules) > MAX_GROUP_RULES:
            found.append(("group_rules", f"at most {MAX_GROUP_RULES} rules"))
        if not 0 < self.timeout_s <= 60:
            found.append(("timeout_s", "between 0 and 60 seconds"))
        if not 60 <= self.cache_ttl_s <= 86400:
            found.append(("cache_ttl_s", "between 60 and 86400 seconds"))
        return found


def domain_owners(upstreams: dict[str, UpstreamSettings]) -> list[Problem]:
    """An email domain may route to one upstream only: report every domain claimed twice."""
    owner: dict[str, str] = {}
    found: list[Problem] = []
    for name in sorted(upstreams):
        for key in dict.fromkeys(d.lower() for d in upstreams[name].domains):
            if key in owner:
                msg = f"{key!r} is already routed to upstream {owner[key]!r}"
                found.append((f"{name}.domains", msg))
            else:
                owner[key] = name
    return found


def _issuer_problem(issuer: str) -> str | None:
    if not issuer:
        return "required: the upstream's issuer identifier (an https URL)"
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute https URL"
    if parts.username is not None or parts.password is not None:
        return "must not contain credentials"
    if parts.query or parts.fragment or "#" in issuer or "?" in issuer:
        # OpenID Connect Discovery §3: an issuer has no query or fragment.
        return "must not have a query or fragment"
    if parts.scheme == "http" and not _loopback(parts.hostname):
        return "must use https (http only for a loopback host, in tests)"
    return None


def _domain_problems(domains: tuple[str, ...]) -> list[str]:
    if len(domains) > MAX_DOMAINS:
        return [f"at most {MAX_DOMAINS} domains"]
    found = []
    seen: set[str] = set()
    for domain in domains:
        key = domain.lower()
        labels = key.split(".")
        if len(key) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(x) for x in labels):
            found.append(f"{domain[:80]!r} is not a domain name (e.g. example.com)")
        elif key in seen:
            found.append(f"{key!r} is listed twice")
        seen.add(key)
    return found


def _scope_problems(scopes: tuple[str, ...]) -> list[str]:
    found = []
    if "openid" not in scopes:
        found.append("must include 'openid'")
    if len(scopes) > MAX_SCOPES:
        found.append(f"at most {MAX_SCOPES} scopes")
    found.extend(f"{s[:40]!r} is not a scope token" for s in scopes if not _SCOPE.fullmatch(s))
    return found


def _claim_ok(name: str) -> bool:
    return 0 < len(name) <= _CLAIM_MAX_CHARS and not _has_controls(name)


def _has_controls(text: str) -> bool:
    return any(unicodedata.category(c) in _BAD_TEXT for c in text)


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


__all__ = [
    "DEFAULT_SCOPES",
    "UPSTREAM_NAME",
    "GroupRuleSettings",
    "Problem",
    "UpstreamSettings",
    "domain_owners",
]
