"""Clients that get in the way: half-sent requests, dripped bodies, floods of connections
and of bytes.  Each is answered (408, or 503 with Retry-After) and cut off within its
configured bound, ``GET /health`` keeps answering, and a normal request works after.

Raw sockets play the bad clients.  The timeouts are configured short (0.5 s); every
wait for the server is bounded by :data:`WAIT_S`, so a server that never answers
fails the test instead of hanging it.  Nothing here sleeps and hopes.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable

import httpx

from .helpers import LiveServer, ServerFactory, expected_tags, image_for

#: Bounds every wait on the server (a hang fails the test; never asserted as a speed).
WAIT_S = 30.0
SHORT_S = 0.5
CLASSIFY_HEAD = (
    b"POST /classify HTTP/1.1\r\nHost: scened\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n"
)
#: The same with ``Expect: 100-continue``: the server's "100 Continue" says that the app
#: has the request and is reading its body (so its bytes are reserved, its headers read).
CONTINUE_HEAD = CLASSIFY_HEAD.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")


def connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def parse(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    """Status, headers and JSON body of one raw HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def assert_still_works(server: LiveServer) -> None:
    """A normal request after the fault: answered, and with its own tags."""
    response = httpx.post(f"{server.url}/classify", json={"images": [image_for(9)]}, timeout=WAIT_S)
    assert response.json() == {"tags": [expected_tags(9, 255)]}
    assert httpx.get(f"{server.url}/health", timeout=WAIT_S).status_code == 200


def start_body(server: LiveServer, length: int) -> socket.socket:
    """A connection whose request the app is reading, stuck after its first body byte."""
    sock = connect(server)
    sock.sendall(CONTINUE_HEAD % length)
    assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")
    sock.sendall(b"{")
    return sock


def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds (bounded by WAIT_S)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "the server never got there"
        time.sleep(0.02)


def test_headers_sent_too_slowly_get_a_408_and_the_connection_closed(
    start_server: ServerFactory,
) -> None:
    server = start_server(header_timeout_s=SHORT_S)
    silent, partial = connect(server), connect(server)
    started = time.monotonic()
    partial.sendall(b"POST /classify HTTP/1.1\r\nHost: scened\r\nContent-Le")

    answers = [parse(read_until_closed(s)) for s in (partial, silent)]

    assert time.monotonic() - started >= SHORT_S - 0.05
    for status, headers, body in answers:
        assert (status, headers["connection"], body["error"]) == (408, "close", "request_timeout")
    assert_still_works(server)


def test_the_next_request_on_a_kept_alive_connection_is_timed_too(
    start_server: ServerFactory,
) -> None:
    server = start_server(header_timeout_s=SHORT_S)
    sock = connect(server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: scened\r\n\r\n")
    first = b""
    while not first.endswith(b"}"):  # the whole first answer (a JSON object)
        first += sock.recv(65536)
    sock.sendall(b"GET /health HTTP/1.1\r\nHo")

    status, _, body = parse(read_until_closed(sock))

    assert first.startswith(b"HTTP/1.1 200")
    assert (status, body["error"]) == (408, "request_timeout")
    assert_still_works(server)


def test_a_body_that_stalls_gets_a_408(start_server: ServerFactory) -> None:
    server = start_server(read_timeout_s=SHORT_S, body_timeout_s=WAIT_S)
    sock = connect(server)
    sock.sendall(CLASSIFY_HEAD % 1000 + b'{"images": ["')

    status, _, body = parse(read_until_closed(sock))

    assert (status, body["error"]) == (408, "request_timeout")
    assert "stalled" in str(body["message"])
    assert_still_works(server)


def test_a_body_dripped_too_slowly_gets_a_408_though_it_never_stalls(
    start_server: ServerFactory,
) -> None:
    """A byte every 20 ms never stalls (read_timeout_s 5 s) but takes too long in all (1 s)."""
    server = start_server(read_timeout_s=5.0, body_timeout_s=1.0)
    sock = connect(server)
    started = time.monotonic()
    sock.sendall(CLASSIFY_HEAD % 100_000)
    while not select.select([sock], [], [], 0.02)[0]:
        assert time.monotonic() - started < WAIT_S, "the drip was never cut off"
        sock.sendall(b" ")

    status, _, body = parse(read_until_closed(sock))

    assert time.monotonic() - started >= 0.95
    assert (status, body["error"]) == (408, "request_timeout")
    assert "took more than 1 s" in str(body["message"])
    assert_still_works(server)


def test_bodies_over_the_bytes_in_flight_budget_get_503_with_retry_after(
    start_server: ServerFactory,
) -> None:
    """Two 100 kB bodies being received hold the 200 kB budget: a third waits its turn."""
    server = start_server(max_body_bytes=100_000, max_bytes_in_flight=200_000)
    held = [start_body(server, 100_000) for _ in range(2)]
    padded = json.dumps({"images": [image_for(9)]}).encode().ljust(100_000)
    last: list[httpx.Response] = []

    def refused() -> bool:
        last.append(httpx.post(f"{server.url}/classify", content=padded, timeout=WAIT_S))
        return last[-1].status_code == 503

    assert refused()
    assert last[-1].headers["retry-after"] == "1"
    assert last[-1].json()["error"] == "server_busy"
    assert httpx.get(f"{server.url}/health", timeout=WAIT_S).status_code == 200
    for sock in held:
        sock.close()
    until(lambda: not refused())  # once the server has seen them go
    assert last[-1].json() == {"tags": [expected_tags(9, 255)]}
    assert_still_works(server)


def test_half_open_connections_beyond_the_limit_leave_health_answering(
    start_server: ServerFactory,
) -> None:
    """60 connections stuck in their headers, 20 allowed: the oldest make way, oldest first."""
    server = start_server(max_connections=20, header_timeout_s=WAIT_S * 2)
    stuck = [connect(server) for _ in range(60)]
    for sock in stuck:
        sock.sendall(b"GET /health HTTP/1.1\r\nHo")

    health = httpx.get(f"{server.url}/health", timeout=WAIT_S)

    assert health.status_code == 200
    for sock in stuck[:40]:
        status, _, body = parse(read_until_closed(sock))
        assert (status, body["error"]) == (408, "request_timeout")
    assert_still_works(server)
    for sock in stuck:
        sock.close()


def test_a_new_connection_when_all_are_busy_gets_503_at_once(
    start_server: ServerFactory,
) -> None:
    """Connections in the middle of a request are not taken away; a new one is refused."""
    server = start_server(max_connections=2, read_timeout_s=WAIT_S * 2)
    busy = [start_body(server, 1000) for _ in range(2)]
    last: list[tuple[int, dict[str, str], dict[str, object]]] = []

    def refused() -> bool:
        extra = connect(server)
        extra.sendall(b"GET /health HTTP/1.1\r\nHost: scened\r\nConnection: close\r\n\r\n")
        last.append(parse(read_until_closed(extra)))
        return last[-1][0] == 503

    assert refused()
    _, headers, body = last[-1]
    assert (headers["retry-after"], body["error"]) == ("1", "server_busy")
    for sock in busy:
        sock.close()
    until(lambda: not refused())  # once the server has seen them go
    assert_still_works(server)
