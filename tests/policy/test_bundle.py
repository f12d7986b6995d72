"""Bundles: content hashing, and every kind of bad input reported at once with its location."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy._org import EXAMPLES
from zerogate.errors import PolicyError
from zerogate.policy import Bundle, compile_bundle

OK = '@id("ok") permit (principal, action, resource);'


def _codes(files: dict[str, str]) -> list[tuple[str, str]]:
    with pytest.raises(PolicyError) as info:
        compile_bundle(Bundle(files))
    return [(d.code, d.loc) for d in info.value.details]


def test_bundle_hash_is_stable_and_content_addressed() -> None:
    a = Bundle.from_dir(EXAMPLES)
    b = Bundle(dict(a.files))
    assert a.hash == b.hash
    assert len(a.hash) == 64
    changed = dict(a.files)
    changed["wiki.cedar"] += "\n"
    assert Bundle(changed).hash != a.hash
    # Names are part of the hash: moving content between files changes it.
    assert (
        Bundle({"a.cedar": "x", "b.cedar": ""}).hash != Bundle({"a.cedar": "", "b.cedar": "x"}).hash
    )


def test_bundle_reports_syntax_errors_with_file_and_line() -> None:
    text = f'{OK}\n\n@id("bad")\npermit (principal, action, resource) whenn {{ true }};\n'
    assert _codes({"a.cedar": text}) == [("policy_syntax", "a.cedar:3")]


def test_bundle_reports_every_problem_at_once_sorted_by_location() -> None:
    codes = _codes(
        {
            "a.cedar": 'permit (principal, action, resource);\n@id("x") permit (principal, action, resource);',
            "b.cedar": '@id("x") forbid (principal, action, resource);',
            "entities.json": "[{",
        }
    )
    assert codes == [
        ("policy_id_missing", "a.cedar:1"),
        ("policy_id_duplicate", "b.cedar:1"),
        ("json_invalid", "entities.json:1:3"),
    ]


def test_bundle_reports_schema_mismatch_at_the_policy() -> None:
    text = (
        f'{OK}\n@id("typo")\npermit (principal, action, resource) when {{ context.risk.scor > 1 }};'
    )
    codes = _codes({"p.cedar": text})
    assert codes == [("policy_schema_mismatch", "p.cedar:2")]


def test_bundle_reports_unknown_entity_type_in_policy() -> None:
    codes = _codes({"p.cedar": '@id("u") permit (principal is Usr, action, resource);'})
    assert ("policy_schema_mismatch", "p.cedar:1") in codes


def test_bundle_reports_invalid_entities() -> None:
    codes = _codes(
        {
            "p.cedar": OK,
            "entities.json": '[{"uid": {"type": "User", "id": "a"}, "attrs": {}, "parents": []}, 5]',
        }
    )
    assert codes == [("entity_invalid", "entities.json[1]")]
    codes = _codes(
        {"p.cedar": OK, "entities.json": '[{"uid": {"type": "User", "id": "a"}, "attrs": {}}]'}
    )
    assert codes == [("entity_invalid", "entities.json")]  # email is required by the schema


def test_bundle_reports_bad_schema() -> None:
    codes = _codes({"p.cedar": OK, "schema.cedarschema": "entity A { x: Strin };"})
    assert codes == [("schema_invalid", "schema.cedarschema")]


def test_bundle_links_fill_templates_and_are_checked() -> None:
    template = '@id("share") permit (principal == ?principal, action in Action::"read", resource == ?resource);'
    links = '[{"id": "share-alice", "template": "share", "values": {"?principal": {"type": "User", "id": "alice"}, "?resource": {"type": "Route", "id": "doc"}}}]'
    compiled = compile_bundle(Bundle({"p.cedar": template, "links.json": links}))
    assert compiled.base.effects == {"share-alice": "permit"}
    bad = '[{"id": "x", "template": "nope", "values": {}}]'
    assert _codes({"p.cedar": template, "links.json": bad}) == [
        ("policy_link_invalid", "links.json[0]")
    ]


def test_bundle_from_dir_rejects_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        Bundle.from_dir(tmp_path / "nope")
    assert info.value.code == "bundle_not_found"
    (tmp_path / "README.json").write_text("{}")
    with pytest.raises(PolicyError) as info:
        Bundle.from_dir(tmp_path)
    assert info.value.code == "bundle_empty"


def test_bundle_from_dir_skips_hidden_and_unrelated_files(tmp_path: Path) -> None:
    (tmp_path / "a.cedar").write_text(OK)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.cedar").write_text("garbage")
    (tmp_path / "notes.txt").write_text("hello")
    assert set(Bundle.from_dir(tmp_path).files) == {"a.cedar"}
