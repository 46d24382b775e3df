"""Fixtures for the API tests: the fake classifier and live servers (see helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scened.api import create_app
from scened.api.settings import ApiSettings

from .helpers import FakeClassifier, LiveServer, ServerFactory


@pytest.fixture
def fake_classifier() -> FakeClassifier:
    return FakeClassifier()


@pytest.fixture
def start_server(
    fake_classifier: FakeClassifier, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServerFactory]:
    """``start_server(**settings)``: a live server of an app with the fake classifier."""
    monkeypatch.delenv("SCENED_API_TOKEN", raising=False)
    servers: list[LiveServer] = []

    def start(**settings: object) -> LiveServer:
        app = create_app(ApiSettings().replace(**settings), classifier=fake_classifier)
        server = LiveServer(app).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: ServerFactory) -> LiveServer:
    """A live server with the default settings (no token, no CORS)."""
    return start_server()
