"""`Secret`: a setting whose value never shows in repr or logs."""

from __future__ import annotations


class Secret(str):
    """A string that never shows itself in repr or logs (a DSN with a password, a key)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('**********')" if self else "Secret('')"


__all__ = ["Secret"]
