"""A budget of request-body bytes in flight: over it, a new request gets 503, not memory.

Each ``POST /classify`` holds its body (up to ``max_body_bytes``) from the first
byte received until its answer is sent, and the images decoded from it meanwhile.
Without a bound, many clients sending large bodies at once grow the server until
the kernel kills it.  :class:`BodyBudget` (ASGI middleware, one budget per worker
process) reserves each request's ``Content-Length`` (at most ``max_body_bytes``:
more is never kept, see ``read_body``) before the app sees the request, counts
the bytes of a body sent without a length as they arrive, and gives the bytes
back when the request is answered.  A request that does not fit is answered
``503 server_busy`` with ``Retry-After``; requests without a body (``GET
/health``) never wait on it.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scened.api.errors import ApiError, ErrorCode, error_response

log = logging.getLogger(__name__)


class BodyBudget:
    """ASGI middleware: at most ``max_bytes`` of request bodies received or held at once."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_body_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_body_bytes = max_body_bytes
        #: Bytes reserved by the requests in progress (the event loop is the only writer).
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        held = min(declared or 0, self.max_body_bytes)
        if not self._take(held):
            response = error_response(_busy(self.in_flight, self.max_bytes))
            await response(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            """``receive``, reserving the bytes of a body that outgrows what was reserved."""
            nonlocal held, received
            message = await receive()
            if message["type"] == "http.request":
                received = min(received + len(message.get("body", b"")), self.max_body_bytes)
                if received > held:
                    if not self._take(received - held):
                        raise _busy(self.in_flight, self.max_bytes)
                    held = received
            return message

        try:
            await self.app(scope, counted_receive, send)
        finally:
            self.in_flight -= held

    def _take(self, count: int) -> bool:
        """Reserve ``count`` bytes if they fit (a request of 0 bytes always does)."""
        if count and self.in_flight + count > self.max_bytes:
            return False
        self.in_flight += count
        return True


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return max(int(value), 0)
            except ValueError:
                return None
    return None


def _busy(in_flight: int, limit: int) -> ApiError:
    log.warning("request refused: %s bytes of request bodies in flight", f"{in_flight:,}")
    return ApiError(
        503,
        ErrorCode.SERVER_BUSY,
        f"the server is busy: request bodies in flight are at the limit of {limit:,} bytes; "
        "retry later",
    )
