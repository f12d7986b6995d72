"""The admin API against its own OpenAPI document, with schemathesis.

Schemathesis's engine runs in-process, as `schemathesis run` would, over every operation of the
document the console serves: its examples, the coverage cases (boundaries and invalid values),
generated input, and stateful sequences. Responses must match the document (status, content
type, schema, headers); valid input must be accepted and invalid input rejected; no input may
cause a server error; and the checks that drop or spoil the credentials must be refused
(`ignored_auth`). It runs against a throwaway store, as an admin signed in with a second factor:
a fresh session comes from the store whenever a generated call revoked the current one.

The document's examples (`ada`, `eve`, `employees`, `zg-0123456789abcdef`) name people, a group
and a client that exist here, so the actions also succeed, not only fail with 404.

The one allowance: the check in front refuses an oversized address or header with 414/431
before the console sees it, which schemathesis's default list of rejections does not name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema

from tests.admin._support import LiveConsole, live_console
from zerogate.admin import ADMIN_PATH, admin_openapi
from zerogate.identity import SESSION_COOKIE_NAME
from zerogate.store import open_store

MAX_EXAMPLES = 25  # per operation in the generated phases: the whole run takes seconds
SEED = 20260105  # the same cases every run
REJECTIONS = [400, 401, 403, 404, 405, 406, 409, 414, 415, 422, 428, 429, 431]


@pytest.fixture
def fuzzed(tmp_path: Path) -> Iterator[LiveConsole]:
    url = f"sqlite:///{tmp_path / 'zerogate.db'}"
    store = open_store(url)
    try:
        store.migrate()
        with live_console(store, tmp_path) as running:
            running.run(
                running.clients.add(
                    "Wiki",
                    redirect_uris=["https://wiki.example.test/cb"],
                    client_id="zg-0123456789abcdef",
                    now=running.world.clock.now(),
                )
            )
            yield running
    finally:
        store.close()


def _describe(event: events.ScenarioFinished) -> list[str]:
    found = []
    for case_id, checks in event.recorder.checks.items():
        for check in checks:
            if check.status is Status.SUCCESS:
                continue
            exchange = event.recorder.interactions.get(case_id)
            sent = f"{exchange.request.method} {exchange.request.uri[:200]}" if exchange else ""
            got = exchange.response.status_code if exchange and exchange.response else None
            failure = check.failure_info.failure if check.failure_info else ""
            found.append(f"{event.label}: {check.name}: {failure}\n  sent {sent} -> {got}")
    return found


def test_console_api_conforms_to_its_openapi_document(fuzzed: LiveConsole) -> None:
    served = httpx.get(f"{fuzzed.api}/openapi.json", headers={"cookie": fuzzed.admin_cookie})
    assert served.status_code == 200
    config = schemathesis.Config.from_dict(
        {
            "base-url": fuzzed.base,
            "headers": {"Origin": fuzzed.base},  # what the console's own script sends
            # No example database: the same seed gives the same cases on every machine.
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "seed": SEED,
            "suppress-health-check": ["all"],
            "checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}},
        }
    )
    schema = schemathesis.openapi.from_dict(served.json(), config=config)
    sessions: list[str] = []

    @schema.auth()  # refetched after a 401: a generated call may revoke the admin's session
    class AdminSession:
        def get(self, case: Any, context: Any) -> str:
            cookie = fuzzed.world.sign_in(fuzzed.admin, amr=("pwd", "otp"), mfa_ago_s=30)
            sessions.append(cookie)
            return cookie.rsplit("=", 1)[1]

        def set(self, case: Any, data: str, context: Any) -> None:
            case.cookies = {**(case.cookies or {}), SESSION_COOKIE_NAME: data}

    problems: list[str] = []
    answered: Counter[tuple[str, int]] = Counter()
    finished = None
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            if event.status in (Status.FAILURE, Status.ERROR):
                problems += _describe(event) or [f"{event.label}: {event.status}"]
            for exchange in event.recorder.interactions.values():
                if exchange.response is not None and event.label:
                    answered[(event.label, exchange.response.status_code)] += 1
        elif isinstance(event, events.NonFatalError | events.FatalError):
            problems.append(f"engine error: {event}")
        elif isinstance(event, events.EngineFinished):
            finished = event

    assert finished is not None
    assert problems == [], "\n".join(problems)
    operations = {label for label, _ in answered}
    assert len(operations) == sum(len(item) for item in served.json()["paths"].values())
    succeeded = {label for (label, status), _ in answered.items() if status == 200}
    for action in (
        "POST /admin/api/v1/users/{username}/disable",
        "POST /admin/api/v1/users/{username}/enable",
        "POST /admin/api/v1/users/{username}/sessions/revoke",
        "POST /admin/api/v1/groups/{group}/members",
        "POST /admin/api/v1/groups/{group}/members/{username}/remove",
        "POST /admin/api/v1/policies/{bundle}/activate",
    ):
        assert action in succeeded, f"{action} never succeeded: {sorted(answered.items())}"
    # Every action that succeeded left its intent and outcome in the audit log.
    outcomes = [r for r in fuzzed.admin_entries() if r.entry.attrs["phase"] == "outcome"]
    assert {r.entry.decision_id for r in outcomes} <= {
        r.entry.decision_id for r in fuzzed.admin_entries() if r.entry.attrs["phase"] == "intent"
    }
    assert sessions  # the admin signed in through the provider, not a hard-coded cookie


def test_console_openapi_document_names_every_served_operation() -> None:
    document = admin_openapi()
    assert document["openapi"] == "3.1.0"
    for path, item in document["paths"].items():
        assert path.startswith(f"{ADMIN_PATH}/api/v1/")
        for method, op in item.items():
            assert {"200", "400", "401", "403", "414", "431"} <= set(op["responses"]), path
            if method == "post":  # state changes: JSON only, audited, failing closed
                assert {"413", "415", "503"} <= set(op["responses"]), path
                assert op["requestBody"]["content"].keys() == {"application/json"}
