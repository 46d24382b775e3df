"""Bearer token, CORS and the default bind address."""

from __future__ import annotations

import logging

import httpx
import pytest

from scened.api import create_app
from scened.api.settings import ApiSettings

from .helpers import FakeClassifier, LiveServer, ServerFactory, expected_tags, image_for

TOKEN = "s3cret-token-for-tests"
BODY = {"images": [image_for(11)]}


def classify(server: LiveServer, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/classify", json=BODY, headers=headers)


def test_the_server_binds_loopback_by_default() -> None:
    assert ApiSettings().host == "127.0.0.1"
    assert ApiSettings.load({}, environ={}).host == "127.0.0.1"


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
    ids=["none", "wrong", "basic-scheme", "no-scheme", "longer"],
)
def test_with_a_token_a_request_without_it_is_a_401(
    start_server: ServerFactory, headers: dict[str, str] | None
) -> None:
    server = start_server(token=TOKEN)

    response = classify(server, headers)

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_with_a_token_the_right_one_is_served(start_server: ServerFactory) -> None:
    server = start_server(token=TOKEN)

    response = classify(server, {"Authorization": f"Bearer {TOKEN}"})

    assert response.json() == {"tags": [expected_tags(11, 255)]}


def test_health_needs_no_token(start_server: ServerFactory) -> None:
    server = start_server(token=TOKEN)

    assert httpx.get(f"{server.url}/health").status_code == 200


def test_the_token_comes_from_the_named_environment_variable(
    monkeypatch: pytest.MonkeyPatch, fake_classifier: FakeClassifier
) -> None:
    monkeypatch.setenv("MY_SCENED_TOKEN", TOKEN)
    settings = ApiSettings.load({"token_env": "MY_SCENED_TOKEN"}, environ={})
    server = LiveServer(create_app(settings, classifier=fake_classifier)).start()
    try:
        refused = classify(server)
        served = classify(server, {"Authorization": f"Bearer {TOKEN}"})
    finally:
        server.stop()

    assert (refused.status_code, served.status_code) == (401, 200)


def test_the_token_is_never_logged(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = start_server(token=TOKEN)
    classify(server, {"Authorization": f"Bearer {TOKEN}"})
    classify(server, {"Authorization": "Bearer wrong"})

    assert caplog.records
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(ApiSettings(token=TOKEN))


def test_cors_is_off_unless_configured(server: LiveServer) -> None:
    origin = {"Origin": "https://gallery.example"}

    response = httpx.post(f"{server.url}/classify", json=BODY, headers=origin)
    preflight = httpx.options(
        f"{server.url}/classify",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allows_the_configured_origins_only(start_server: ServerFactory) -> None:
    server = start_server(cors_origins=("https://gallery.example",))
    allowed, other = "https://gallery.example", "https://evil.example"

    response = httpx.post(f"{server.url}/classify", json=BODY, headers={"Origin": allowed})
    preflight = httpx.options(
        f"{server.url}/classify",
        headers={
            "Origin": allowed,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    foreign = httpx.post(f"{server.url}/classify", json=BODY, headers={"Origin": other})

    assert response.headers["access-control-allow-origin"] == allowed
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == allowed
    assert "access-control-allow-origin" not in foreign.headers
