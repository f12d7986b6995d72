"""Formatting Cedar text: Cedar's formatter, guarded so no comment or meaning is ever lost."""

from __future__ import annotations

import pytest

from zerogate.errors import PolicyError
from zerogate.policy import format_policy_text
from zerogate.policy._source import comments

SOURCE = """\
// Header.
@id("a") // why a
permit (principal, action, resource) when {
  // inner
  context.x == "// not a comment" && true // tail
};
// end
"""


def test_format_policy_text_keeps_every_comment_in_order() -> None:
    formatted = format_policy_text(SOURCE)
    assert (
        list(comments(formatted))
        == list(comments(SOURCE))
        == [
            "// Header.",
            "// why a",
            "// inner",
            "// tail",
            "// end",
        ]
    )


def test_format_policy_text_is_idempotent() -> None:
    once = format_policy_text(SOURCE)
    assert format_policy_text(once) == once


def test_format_policy_text_refuses_a_formatter_that_drops_a_comment() -> None:
    def lossy(text: str, width: int, indent: int) -> str:
        return "\n".join(line for line in text.splitlines() if "inner" not in line) + "\n"

    with pytest.raises(PolicyError) as caught:
        format_policy_text(SOURCE, file="a.cedar", formatter=lossy)
    assert caught.value.code == "policy_fmt_comment_loss"
    assert "// inner" in caught.value.details[0].msg


def test_format_policy_text_refuses_a_formatter_that_changes_meaning() -> None:
    def rewriting(text: str, width: int, indent: int) -> str:
        return text.replace("&& true", "&& false")

    with pytest.raises(PolicyError) as caught:
        format_policy_text(SOURCE, formatter=rewriting)
    assert caught.value.code == "policy_fmt_meaning_changed"


def test_format_policy_text_reports_syntax_errors_with_file_and_line() -> None:
    with pytest.raises(PolicyError) as caught:
        format_policy_text(
            '// x\n\n@id("b")\npermit (principal, action, resource) when { };\n', file="b.cedar"
        )
    assert caught.value.code == "policy_syntax"
    assert caught.value.details[0].loc == "b.cedar:3"


def test_comments_skips_slashes_in_strings_and_escapes() -> None:
    text = 'permit (principal, action, resource) when { context.s == "a\\"// b" }; // real\n'
    assert list(comments(text)) == ["// real"]
