"""Statement splitting: locations survive comments, strings with `;` and blank lines."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from zerogate.policy._source import split_statements


def test_split_statements_ignores_semicolons_in_strings_and_comments() -> None:
    text = '// a; comment\n@id("a")\npermit (principal, action, resource) when { context.x == "a;b\\";" };\n\n// trailing "q;"\n'
    parts = list(split_statements(text))
    assert [line for line, _ in parts] == [2]
    assert parts[0][1].endswith('"a;b\\";" };')


@given(st.lists(st.integers(0, 3), min_size=1, max_size=8))
def test_split_statements_line_numbers_track_blank_lines(gaps: list[int]) -> None:
    text = ""
    expected = []
    for i, gap in enumerate(gaps):
        text += "\n" * gap
        expected.append(text.count("\n") + 1)
        text += f'@id("p{i}") permit (principal, action, resource);\n'
    assert [line for line, _ in split_statements(text)] == expected


@given(st.text(alphabet='ab;"\\/\n ', max_size=60))
def test_segments_tile_the_text_exactly(text: str) -> None:
    from zerogate.policy._source import segments

    pieces = list(segments(text))
    assert "".join(text[s:e] for _, s, e in pieces) == text
    assert all(s < e for _, s, e in pieces)
    assert all(a[2] == b[1] for a, b in itertools.pairwise(pieces))
