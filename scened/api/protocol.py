"""Connection guards for uvicorn: header and body timeouts, and a connection limit.

uvicorn's HTTP/1.1 protocol waits as long as a client likes for a request's
headers and body (``timeout_keep_alive`` only covers the wait *between*
requests), and it counts a connection against ``limit_concurrency`` only once
its headers are complete.  So a client that sends half a request line, or drips
its body a byte at a time, holds a connection, and a file descriptor, for ever:
1,100 of them exhaust systemd's default limit of 1,024 descriptors and the
server stops answering even ``GET /health``.

:class:`GuardedH11Protocol` is uvicorn's h11 protocol with, per worker process:

* ``header_timeout_s``: a request's line and headers must be complete this long
  after the connection opens (or after the first byte of a request on a
  kept-alive connection), else the client is answered 408 and disconnected;
* ``read_timeout_s`` and ``body_timeout_s``: a request's body may stall no longer
  than the first between two reads and take no longer than the second in all,
  else 408 (when no answer has started) and disconnected; the clocks stop while
  the server itself is not reading (uvicorn's flow control);
* ``max_connections``: a connection beyond it closes the one that has waited
  longest for a request's headers (408; an idle kept-alive one is just closed),
  so that a flood of half-open connections cannot lock out ``GET /health``;
  when every connection is busy with a request, the new one gets ``503
  server_busy`` with ``Retry-After`` at once and is closed.

The limits come from the app's :class:`~scened.api.settings.ApiSettings` (found
through uvicorn's ``loaded_app``), so ``scened serve``, :class:`~scened.api.server.BackgroundServer`
and ``uvicorn scened.api:app --http scened.api.protocol:GuardedH11Protocol`` all
apply them.  This leans on uvicorn's h11 implementation (pinned in pyproject).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from scened.api.errors import RETRY_AFTER_S, ApiError, ErrorCode
from scened.api.settings import ApiSettings

log = logging.getLogger(__name__)

#: How long a connection answered with an error stays open to take the rest of what
#: its client sends (closing at once with unread data would reset the connection and
#: could lose the answer).
LINGER_S = 0.5


@dataclass(frozen=True)
class ConnectionLimits:
    """What :class:`GuardedH11Protocol` enforces (see the module docstring)."""

    max_connections: int
    header_timeout_s: float
    read_timeout_s: float
    body_timeout_s: float

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> ConnectionLimits:
        return cls(
            max_connections=settings.max_connections,
            header_timeout_s=settings.header_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            body_timeout_s=settings.body_timeout_s,
        )


class _Phase(Enum):
    IDLE = "between requests"  # uvicorn's keep-alive timeout applies
    HEADERS = "waiting for the request's headers"
    BODY = "receiving the request's body"
    APP = "request received"  # the app works on it or answers
    CLOSING = "closing"


#: Per server: connections waiting for a request's headers (or idle), oldest first.
_WAITING: weakref.WeakKeyDictionary[ServerState, OrderedDict[GuardedH11Protocol, None]] = (
    weakref.WeakKeyDictionary()
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header and body timeouts and a connection limit."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits_for(config)
        self._waiting = _WAITING.setdefault(server_state, OrderedDict())
        self._phase = _Phase.IDLE
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0  # when the whole body must be in (BODY)
        self._last_read = 0.0  # when bytes last arrived

    # The connection's life.

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self._make_room():
            log.warning("connection refused: all %d connections busy", self.limits.max_connections)
            self._answer_and_close(
                503,
                ErrorCode.SERVER_BUSY,
                f"the server is busy: all {self.limits.max_connections} connections are in "
                "use; retry later",
                linger=False,
            )
            return
        self._enter(_Phase.HEADERS)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._waiting.pop(self, None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase is _Phase.CLOSING:
            return  # the rest of a refused request: taken and dropped
        if self._phase is _Phase.IDLE:
            self._enter(_Phase.HEADERS)  # the first byte of the next request
        self._last_read = self.loop.time()
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        self._follow_request()

    # Phases, from h11's view of the client.

    def _follow_request(self) -> None:
        """Move to the phase h11's state of the client says (after every event batch)."""
        if self._phase is _Phase.CLOSING:
            return
        if self.transport.is_closing():
            self._leave()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._phase in (_Phase.BODY, _Phase.APP):
                self._enter(_Phase.IDLE)
        elif state is h11.SEND_BODY:
            if self._phase in (_Phase.IDLE, _Phase.HEADERS):
                self._enter(_Phase.BODY)
        elif self._phase is not _Phase.APP:
            self._enter(_Phase.APP)

    def _enter(self, phase: _Phase) -> None:
        self._cancel_timer()
        self._phase = phase
        now = self.loop.time()
        if phase in (_Phase.IDLE, _Phase.HEADERS):
            self._waiting[self] = None
            self._waiting.move_to_end(self)
        else:
            self._waiting.pop(self, None)
        if phase is _Phase.HEADERS:
            self._arm(self.limits.header_timeout_s, self._headers_late)
        elif phase is _Phase.BODY:
            self._deadline = now + self.limits.body_timeout_s
            self._last_read = now
            self._arm(min(self.limits.body_timeout_s, self.limits.read_timeout_s), self._check_body)
        elif phase is _Phase.IDLE:
            # uvicorn's own keep-alive timer is not re-armed after a body that arrives
            # once the answer is sent; this one always is.
            self._arm(self.config.timeout_keep_alive, self._idle_too_long)

    def _leave(self) -> None:
        self._cancel_timer()
        self._waiting.pop(self, None)
        self._phase = _Phase.CLOSING

    # Timers.

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._timer = self.loop.call_later(max(delay, 0.0), callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        log.debug("request headers not complete in %ss: 408", self.limits.header_timeout_s)
        self._answer_and_close(
            408,
            ErrorCode.REQUEST_TIMEOUT,
            f"the request's headers took more than {self.limits.header_timeout_s:g} s",
        )

    def _check_body(self) -> None:
        """Fire at the body's deadline or after a stall; re-arm while neither has passed."""
        self._timer = None
        now = self.loop.time()
        if self.flow.read_paused:  # the server is not reading: not the client's fault
            self._last_read = now
            self._deadline = max(self._deadline, now + self.limits.read_timeout_s)
        stalled_at = self._last_read + self.limits.read_timeout_s
        due = min(self._deadline, stalled_at)
        if now < due:
            self._arm(due - now, self._check_body)
            return
        if stalled_at <= self._deadline:
            reason = f"the request's body stalled for more than {self.limits.read_timeout_s:g} s"
        else:
            reason = f"the request's body took more than {self.limits.body_timeout_s:g} s"
        log.info("%s: 408", reason)
        self._answer_and_close(408, ErrorCode.REQUEST_TIMEOUT, reason)

    def _idle_too_long(self) -> None:
        self._timer = None
        self._close_quietly()

    # Closing.

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for a request; False if none waits."""
        while self._waiting:
            oldest, _ = self._waiting.popitem(last=False)
            if oldest is self or oldest.transport is None or oldest.transport.is_closing():
                continue
            oldest._evict()
            return True
        return False

    def _evict(self) -> None:
        if self._phase is _Phase.HEADERS:
            self._answer_and_close(
                408,
                ErrorCode.REQUEST_TIMEOUT,
                "the connection was needed for another client before this request's "
                "headers were complete",
                linger=False,
            )
        else:
            self._close_quietly()

    def _close_quietly(self) -> None:
        self._leave()
        if not self.transport.is_closing():
            if self.conn.our_state is not h11.ERROR:
                with contextlib.suppress(h11.LocalProtocolError):
                    self.conn.send(h11.ConnectionClosed())
            self.transport.close()

    def _answer_and_close(
        self, status: int, code: ErrorCode, message: str, linger: bool = True
    ) -> None:
        """Answer ``status`` (unless an answer has started), stop the app's request, close.

        The answer is written straight to the socket (h11 cannot answer a request it
        has not seen).  With ``linger``, what the client still sends is read and
        dropped for up to :data:`LINGER_S` before the connection is closed; without
        (a refused or evicted connection, which must give its descriptor back at
        once), it is closed straight away.
        """
        # Before its headers are complete, a request has no cycle (self.cycle is the
        # previous request's on a kept-alive connection).
        cycle = self.cycle if self._phase in (_Phase.BODY, _Phase.APP) else None
        self._leave()
        if self.transport.is_closing():
            return
        if cycle is None or not cycle.response_started:
            self.transport.write(_raw_response(status, code, message))
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive() now says http.disconnect
            cycle.message_event.set()
        self.flow.resume_reading()
        if linger and self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()


def _raw_response(status: int, code: ErrorCode, message: str) -> bytes:
    """A complete HTTP/1.1 error response in the API's JSON shape, closing the connection."""
    body = json.dumps(ApiError(status, code, message).body()).encode("utf-8")
    reason = {408: "Request Timeout", 503: "Service Unavailable"}.get(status, "Error")
    retry = f"retry-after: {RETRY_AFTER_S}\r\n" if status == 503 else ""
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{retry}connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def limits_for(config: Config) -> ConnectionLimits:
    """The limits of the scened app ``config`` serves (its settings), cached on ``config``."""
    cached = getattr(config, "_scened_limits", None)
    if isinstance(cached, ConnectionLimits):
        return cached
    limits = ConnectionLimits.from_settings(app_settings(config.loaded_app) or ApiSettings())
    set_limits(config, limits)
    return limits


def set_limits(config: Config, limits: ConnectionLimits) -> None:
    """Make ``limits`` those of every connection ``config``'s server accepts."""
    config._scened_limits = limits  # type: ignore[attr-defined]


def app_settings(app: object) -> ApiSettings | None:
    """The settings of a scened app, looked for through the middleware wrapping it."""
    for _ in range(16):
        state = getattr(getattr(app, "state", None), "scened", None)
        settings = getattr(state, "settings", None)
        if isinstance(settings, ApiSettings):
            return settings
        app = getattr(app, "app", None)
        if app is None:
            break
    return None
