"""Receiving a request body within ``max_body_bytes``, for the JSON and the multipart forms.

Both forms of ``POST /classify`` take their body through :func:`body_chunks`, so
that they share one size limit with one behaviour: nothing past the limit is
kept, and an over-limit body is answered ``413 body_too_large`` once it has been
read on (and thrown away) up to a few times the limit, so that a client still
sending gets the 413 instead of a reset connection.  A client too slow to send
it is cut off by the connection guards (:mod:`scened.api.protocol`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request

from scened.api.errors import ApiError, ErrorCode

#: How much of an over-limit body is read and discarded so the client gets the 413.
DRAIN_FACTOR = 4


async def body_chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The chunks of the request body while it fits in ``limit`` bytes, then a 413 if it did not.

    The chunks are yielded as they arrive; once the body passes ``limit`` no more
    are yielded, the rest is drained (up to :data:`DRAIN_FACTOR` times the limit)
    and :class:`ApiError` 413 is raised at the end of the iteration.  A consumer
    that meets its own error should go on iterating (and ignore the chunks), so
    that an over-limit body is still answered 413, as it would be had the body
    been read whole first.
    """
    received = 0
    for_nothing = 0
    async for chunk in request.stream():
        if received + len(chunk) <= limit and not for_nothing:
            received += len(chunk)
            yield chunk
            continue
        for_nothing += len(chunk)
        if for_nothing > DRAIN_FACTOR * limit:
            break
    if for_nothing:
        raise ApiError(
            413, ErrorCode.BODY_TOO_LARGE, f"the body is larger than the limit of {limit:,} bytes"
        )


async def read_body(request: Request, limit: int) -> bytearray:
    """The whole request body, or a 413 once it passes ``limit`` bytes (see :func:`body_chunks`).

    The body is returned as it was gathered (no copy: it can be a quarter of the
    memory a request holds).
    """
    received = bytearray()
    async for chunk in body_chunks(request, limit):
        received += chunk
    return received
