"""What one provider call runs with: its transaction, its time and the signing keys.

authlib's server calls our hooks without passing a request everywhere (`query_client(id)`), so
each call runs in its own worker thread with a context variable holding these.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from zerogate.identity.oidc._model import ProviderSettings
from zerogate.tokens import SigningKeys


@dataclass(frozen=True, slots=True)
class CallContext:
    conn: Connection
    now: datetime
    settings: ProviderSettings
    keys: SigningKeys


_current: contextvars.ContextVar[CallContext] = contextvars.ContextVar("oidc_call")


def current() -> CallContext:
    return _current.get()


def enter(ctx: CallContext) -> contextvars.Token[CallContext]:
    return _current.set(ctx)


def leave(token: contextvars.Token[CallContext]) -> None:
    _current.reset(token)
