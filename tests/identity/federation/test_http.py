"""Bounded requests to upstreams, against a real (misbehaving) HTTP server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tests._serve import loopback_socket, serving
from tests.identity._support import run
from zerogate.identity.federation._http import (
    MAX_DOCUMENT_BYTES,
    UpstreamAnswer,
    UpstreamUnreachable,
    get_json,
    post_form,
)


async def _big(request: Request) -> Response:
    return Response(b"[" + b"0," * MAX_DOCUMENT_BYTES + b"0]", media_type="application/json")


async def _streamed_big(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_DOCUMENT_BYTES // 1024 + 2):
            yield b" " * 1024

    return StreamingResponse(chunks(), media_type="application/json")


async def _slow(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            await asyncio.sleep(0.1)  # each read is quick; the whole answer is not
            yield b" "

    return StreamingResponse(chunks(), media_type="application/json")


async def _echo(request: Request) -> Response:
    form = await request.form()
    return JSONResponse(
        {"form": dict(form), "auth": request.headers.get("authorization")}, status_code=400
    )


APP = Starlette(
    routes=[
        Route("/ok", lambda r: JSONResponse({"a": 1})),
        Route("/list", lambda r: JSONResponse([1])),
        Route("/html", lambda r: Response("<p>hi</p>", media_type="text/html")),
        Route("/big", _big),
        Route("/streamed-big", _streamed_big),
        Route("/slow", _slow),
        Route("/redirect", lambda r: RedirectResponse("/ok", status_code=302)),
        Route("/echo", _echo, methods=["POST"]),
    ]
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with loopback_socket() as (sock, url), serving(APP, sock):
        yield url


def _get(url: str, *, timeout_s: float = 5) -> UpstreamAnswer:
    async def call() -> UpstreamAnswer:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await get_json(client, url, timeout_s=timeout_s)

    return run(call())


def test_json_objects_are_parsed_and_the_rest_is_none(server: str) -> None:
    assert _get(f"{server}/ok").body == {"a": 1}
    assert _get(f"{server}/list").body is None
    html = _get(f"{server}/html")
    assert (html.body, html.content_type) == (None, "text/html")


@pytest.mark.parametrize(
    ("path", "timeout_s", "message"),
    [
        ("/big", 5, "answer over"),
        ("/streamed-big", 5, "answer over"),
        ("/slow", 0.5, "no complete answer"),
        ("/redirect", 5, "redirect refused"),
    ],
)
def test_misbehaving_upstreams_are_unreachable(
    server: str, path: str, timeout_s: float, message: str
) -> None:
    with pytest.raises(UpstreamUnreachable, match=message):
        _get(f"{server}{path}?secret=do-not-log", timeout_s=timeout_s)


def test_errors_never_repeat_the_query(server: str) -> None:
    with pytest.raises(UpstreamUnreachable) as caught:
        _get(f"{server}/redirect?code=do-not-log")
    assert "do-not-log" not in str(caught.value)


def test_post_form_sends_the_body_and_headers(server: str) -> None:
    async def call() -> UpstreamAnswer:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await post_form(
                client,
                f"{server}/echo",
                body="grant_type=authorization_code&code=c",
                headers={"Authorization": "Basic eA=="},
                timeout_s=5,
            )

    answer = run(call())
    assert answer.status == 400
    assert answer.body == {
        "form": {"grant_type": "authorization_code", "code": "c"},
        "auth": "Basic eA==",
    }
