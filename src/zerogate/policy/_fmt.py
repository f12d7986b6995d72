"""Formats Cedar policy text with Cedar's formatter, refusing any result that loses a comment.

Cedar's formatter keeps `//` comments today, but a formatter that silently drops a comment, or
changes what a policy means, would destroy the author's work on `fmt`. So every result is checked:
the same comments in the same order, and the same policy trees, or the text is left alone.
"""

from __future__ import annotations

from collections.abc import Callable

import cedarpy
from cedarpy import _internal as cedar

from zerogate.errors import ErrorDetail, PolicyError
from zerogate.policy._source import comments, parse_policies

Formatter = Callable[[str, int, int], str]


def format_policy_text(
    text: str,
    *,
    file: str = "<policy>",
    line_width: int = 80,
    indent_width: int = 2,
    formatter: Formatter = cedarpy.format_policies,
) -> str:
    """The formatted text. Raises PolicyError (`policy_syntax` with `file:line` if it does not
    parse, `policy_fmt_comment_loss` or `policy_fmt_meaning_changed` if the result is unsafe)."""
    try:
        formatted = formatter(text, line_width, indent_width)
    except ValueError as exc:
        raise _syntax_error(file, text, str(exc)) from None
    before, after = list(comments(text)), list(comments(formatted))
    if before != after:
        lost = [c for c in before if c not in after] or before[:1]
        raise PolicyError(
            f"{file}: formatting would drop or alter comments; left unchanged",
            code="policy_fmt_comment_loss",
            details=[
                ErrorDetail("policy_fmt_comment_loss", file, f"comment changed or lost: {c}")
                for c in lost[:5]
            ],
        )
    if _tree(text) != _tree(formatted):
        raise PolicyError(
            f"{file}: formatting would change what the policies mean; left unchanged",
            code="policy_fmt_meaning_changed",
            details=[ErrorDetail("policy_fmt_meaning_changed", file, "policy trees differ")],
        )
    return formatted


def _tree(text: str) -> object:
    return cedar.PolicySet.from_str(text).to_pst()


def _syntax_error(file: str, text: str, message: str) -> PolicyError:
    errors: list[ErrorDetail] = []
    parse_policies([(file, text)], errors)
    syntax = [e for e in errors if e.code == "policy_syntax"]
    return PolicyError(
        f"{file}: cannot format: the policies do not parse",
        code="policy_syntax",
        details=syntax or [ErrorDetail("policy_syntax", file, message)],
    )
