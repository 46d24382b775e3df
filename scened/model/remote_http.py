"""The HTTP side of classifying on other machines: one ``scened serve`` server.

Kept-alive ``http.client`` connections (no extra dependency on the daemon's side), the
server's load and health, and what counts as "no usable answer this time" (another
server may give one): :class:`UnreachableError`.  Used by :mod:`scened.model.remote`.
"""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlsplit

from scened.errors import ConfigError

CONNECT_TIMEOUT_S = 5.0
#: A batch of large images on a busy server can take a while; a dead one is cut off here.
READ_TIMEOUT_S = 120.0
#: A server that failed is left alone this long (or its ``Retry-After``), then tried again.
REST_AFTER_FAILURE_S = 30.0


class UnreachableError(Exception):
    """The server gave no usable answer this time; another may."""

    def __init__(self, reason: str, rest_s: float = REST_AFTER_FAILURE_S) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rest_s = rest_s


class Server:
    """One ``scened serve``: its kept-alive connections, load and health."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{url!r} is not an http:// or https:// URL", key="model.remote")
        self.url = url.rstrip("/")
        self.https = parts.scheme == "https"
        self.host, self.port, self.prefix = parts.hostname, parts.port, parts.path.rstrip("/")
        self.in_flight = 0
        self.resting_until = 0.0
        self.checked = False  # its model id was read since it was last down
        self.last_error = "not tried yet"
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, http.client.HTTPResponse, bytes]:
        """Status, response and body; a kept-alive connection the server had closed is
        retried once on a fresh one; :class:`UnreachableError` when there is no answer."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            try:
                return self._exchange(conn, method, path, body, headers)
            except TimeoutError as exc:  # no answer in time: not a closed connection
                conn.close()
                raise UnreachableError(reason(exc)) from None
            except (http.client.HTTPException, OSError):
                conn.close()
        conn = self._connect()
        try:
            return self._exchange(conn, method, path, body, headers)
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            raise UnreachableError(reason(exc)) from None

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = kind(self.host, self.port, timeout=CONNECT_TIMEOUT_S)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise UnreachableError(reason(exc)) from None
        assert conn.sock is not None
        conn.sock.settimeout(READ_TIMEOUT_S)
        return conn

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
    ) -> tuple[int, http.client.HTTPResponse, bytes]:
        conn.request(method, self.prefix + path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.will_close:
            conn.close()
        else:
            with self._lock:
                self._idle.append(conn)
        return response.status, response, data


def reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def error_fields(body: bytes) -> tuple[str, str]:
    """The API's ``error`` code and ``message`` of an error answer (empty if none)."""
    try:
        answer = json.loads(body)
        return str(answer.get("error", "")), str(answer.get("message", ""))
    except (ValueError, AttributeError):
        return "", ""
