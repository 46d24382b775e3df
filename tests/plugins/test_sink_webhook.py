"""The ``webhook`` sink against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scened.errors import ConfigError
from scened.plugins import ScenedPluginManager
from scened.sinks import build_sinks
from scened.types import TagResult

MakeResult = Callable[..., TagResult]


class Receiver(ThreadingHTTPServer):
    """Records each POST; answers ``failures`` 503s first."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.failures = failures
        self.posts: list[tuple[dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.failures > 0:
            self.server.failures -= 1
            self.send_response(503)
        else:
            self.server.posts.append((dict(self.headers), body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def receiver_factory() -> Iterator[Callable[[int], Receiver]]:
    servers: list[Receiver] = []

    def start(failures: int = 0) -> Receiver:
        server = Receiver(failures)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def records(receiver: Receiver) -> list[dict[str, Any]]:
    return [r for _, body in receiver.posts for r in json.loads(body)["records"]]


def test_batches_are_posted_and_signed(
    tmp_path: Path,
    pm: ScenedPluginManager,
    make_result: MakeResult,
    receiver_factory: Callable[[int], Receiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = receiver_factory(0)
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    spec = {"type": "webhook", "url": receiver.url, "batch_size": 2, "secret_env": "HOOK_SECRET"}
    (sink,) = build_sinks(pm, [spec])
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        sink.write(make_result(tmp_path / name))
    sink.write(make_result(tmp_path / "dry.jpg"), dry_run=True)
    sink.close()

    assert [len(json.loads(body)["records"]) for _, body in receiver.posts] == [2, 1]
    paths = [r["path"] for r in records(receiver)]
    assert paths == [str(tmp_path / name) for name in ("a.jpg", "b.jpg", "c.jpg")]
    for headers, body in receiver.posts:
        expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["X-Scened-Signature"] == f"sha256={expected}"
        assert headers["Content-Type"] == "application/json"


def test_failed_posts_are_retried(
    tmp_path: Path,
    pm: ScenedPluginManager,
    make_result: MakeResult,
    receiver_factory: Callable[[int], Receiver],
) -> None:
    receiver = receiver_factory(2)
    spec = {"type": "webhook", "url": receiver.url, "retries": 3, "backoff": 0.01}
    (sink,) = build_sinks(pm, [spec])
    sink.write(make_result(tmp_path / "a.jpg"))
    sink.close()
    assert [r["path"] for r in records(receiver)] == [str(tmp_path / "a.jpg")]
    assert "X-Scened-Signature" not in receiver.posts[0][0]


def test_a_receiver_that_is_down_never_stops_tagging(
    tmp_path: Path,
    pm: ScenedPluginManager,
    make_result: MakeResult,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    spec = {"type": "webhook", "url": url, "batch_size": 1, "retries": 1, "backoff": 0.01}
    (sink,) = build_sinks(pm, [spec])
    for name in ("a.jpg", "b.jpg"):
        sink.write(make_result(tmp_path / name))  # never raises
    sink.close()
    assert caplog.text.count("unreachable: dropped 1 records") == 2


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({}, "sinks[0].url"),
        ({"url": "ftp://example.org/x"}, "sinks[0].url"),
        ({"url": "http://h/", "retries": -1}, "sinks[0].retries"),
        ({"url": "http://h/", "timeout": "soon"}, "sinks[0].timeout"),
        ({"url": "http://h/", "secret": "a", "secret_env": "B"}, "sinks[0].secret_env"),
        ({"url": "http://h/", "secret_env": "SCENED_TEST_UNSET_VARIABLE"}, "sinks[0].secret_env"),
    ],
)
def test_bad_options_name_the_key(
    pm: ScenedPluginManager, options: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_sinks(pm, [{"type": "webhook", **options}])
    assert caught.value.key == key
