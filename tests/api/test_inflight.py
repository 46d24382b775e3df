"""The budget of request-body bytes in flight (``BodyBudget``), driven as plain ASGI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from scened.api.errors import ApiError
from scened.api.inflight import BodyBudget

Message = dict[str, Any]


def scope(length: int | None) -> dict[str, Any]:
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    return {"type": "http", "method": "POST", "path": "/classify", "headers": headers}


class Client:
    """One request: its body chunks, and what the middleware sent back."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        body = self.chunks.pop(0) if self.chunks else b""
        return {"type": "http.request", "body": body, "more_body": bool(self.chunks)}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    def header(self, name: bytes) -> bytes | None:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return dict(start["headers"]).get(name)


def reading_app(
    gate: asyncio.Event | None = None,
) -> Callable[[Any, Any, Any], Awaitable[None]]:
    """An app that reads the whole body, waits for ``gate``, then answers 200."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        if gate is not None:
            await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def test_a_request_that_does_not_fit_gets_503_with_retry_after() -> None:
    async def scenario() -> tuple[Client, Client, int, int]:
        gate = asyncio.Event()
        budget = BodyBudget(reading_app(gate), max_bytes=1000, max_body_bytes=800)
        first, second = Client([b"x" * 700]), Client([b"y" * 400])
        held = asyncio.create_task(budget(scope(700), first.receive, first.send))
        await asyncio.sleep(0)  # the first request reserves its 700 bytes
        await budget(scope(400), second.receive, second.send)
        during = budget.in_flight
        gate.set()
        await held
        return first, second, during, budget.in_flight

    first, second, during, after = asyncio.run(scenario())

    assert second.status == 503
    assert second.header(b"retry-after") == b"1"
    body = json.loads(b"".join(m.get("body", b"") for m in second.sent))
    assert body["error"] == "server_busy"
    assert second.chunks == [b"y" * 400], "the refused body is not read"
    assert (first.status, during, after) == (200, 700, 0)


def test_a_declared_length_over_the_body_limit_reserves_only_the_limit() -> None:
    async def scenario() -> Client:
        budget = BodyBudget(reading_app(), max_bytes=1000, max_body_bytes=1000)
        client = Client([b"z" * 10])
        await budget(scope(10**9), client.receive, client.send)
        return client

    assert asyncio.run(scenario()).status == 200


def test_a_body_without_a_length_is_counted_as_it_arrives() -> None:
    """The route's read of the body raises the 503 (an ApiError, answered by the app)."""

    async def scenario() -> tuple[ApiError, int]:
        budget = BodyBudget(reading_app(), max_bytes=1000, max_body_bytes=5000)
        client = Client([b"a" * 600, b"b" * 600])
        with pytest.raises(ApiError) as caught:
            await budget(scope(None), client.receive, client.send)
        return caught.value, budget.in_flight

    error, after = asyncio.run(scenario())

    assert (error.status, error.code.value, after) == (503, "server_busy", 0)


def test_requests_without_a_body_never_wait_on_the_budget() -> None:
    async def scenario() -> Client:
        budget = BodyBudget(reading_app(), max_bytes=10, max_body_bytes=10)
        budget.in_flight = 10  # full
        client = Client([])
        await budget(scope(None), client.receive, client.send)
        return client

    assert asyncio.run(scenario()).status == 200
