"""The guards' settings: defaults, the environment, validation, and how uvicorn gets them."""

from __future__ import annotations

import pytest
import uvicorn

from scened.api import create_app
from scened.api.protocol import ConnectionLimits, GuardedH11Protocol, app_settings, limits_for
from scened.api.server import uvicorn_options
from scened.api.settings import ApiSettings
from scened.errors import ConfigError

from .helpers import FakeClassifier


def test_the_defaults_fit_systemds_open_files_limit() -> None:
    settings = ApiSettings()

    assert settings.max_connections + 64 <= 1024
    assert settings.bytes_in_flight_budget == 4 * settings.max_body_bytes == 256 * 1024 * 1024
    assert 0 < settings.header_timeout_s <= settings.body_timeout_s
    assert 0 < settings.read_timeout_s <= settings.body_timeout_s


def test_the_environment_sets_them() -> None:
    settings = ApiSettings.load(
        {},
        {
            "SCENED_API_MAX_BYTES_IN_FLIGHT": "200000000",
            "SCENED_API_MAX_CONNECTIONS": "64",
            "SCENED_API_HEADER_TIMEOUT_S": "2.5",
            "SCENED_API_READ_TIMEOUT_S": "3",
            "SCENED_API_BODY_TIMEOUT_S": "90",
        },
    )

    assert settings.bytes_in_flight_budget == 200_000_000
    assert ConnectionLimits.from_settings(settings) == ConnectionLimits(64, 2.5, 3.0, 90.0)
    assert ApiSettings.load({}, settings.to_environ()) == settings


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"max_connections": 0}, "api.max_connections"),
        ({"max_bytes_in_flight": -1}, "api.max_bytes_in_flight"),
        ({"max_bytes_in_flight": 1000}, "api.max_bytes_in_flight"),
        ({"header_timeout_s": 0}, "api.header_timeout_s"),
        ({"read_timeout_s": -1.0}, "api.read_timeout_s"),
        ({"body_timeout_s": float("inf")}, "api.body_timeout_s"),
        ({"body_timeout_s": float("nan")}, "api.body_timeout_s"),
    ],
)
def test_invalid_values_name_their_key(changes: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ApiSettings().replace(**changes)

    assert caught.value.key == key


def test_uvicorn_gets_the_guarded_protocol_and_finds_the_apps_limits() -> None:
    settings = ApiSettings(max_connections=12, header_timeout_s=1.5)
    options = uvicorn_options(settings)
    app = create_app(settings, classifier=FakeClassifier())
    config = uvicorn.Config(app, **{k: v for k, v in options.items() if k != "workers"})
    config.load()  # wraps the app in uvicorn's middleware

    assert options["http"] is GuardedH11Protocol
    assert options["backlog"] == 64
    assert app_settings(config.loaded_app) == settings
    assert limits_for(config).max_connections == 12
    assert limits_for(config) is limits_for(config)
