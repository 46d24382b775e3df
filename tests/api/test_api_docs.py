"""docs/api.md names every error code and every endpoint the app serves, so it cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import iter_route_contexts

from scened.api import create_app
from scened.api.errors import ErrorCode
from scened.api.settings import ApiSettings, config_keys

from .helpers import FakeClassifier

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
#: The doc's table of the limits of ``POST /classify``: its header, then rows
#: ``| `max_images` | 64 photos in one request | ... |``.
_LIMITS_HEADER = "| setting | default | over it |"
_LIMIT_ROW = re.compile(r"^\| `([a-z_]+)` \| ([^|]+) \|")


def served_endpoints() -> set[str]:
    """``METHOD /path`` of every route of the app (``HEAD`` goes with ``GET``; a mounted
    folder is ``GET /prefix/{path}``)."""
    app = create_app(ApiSettings(), classifier=FakeClassifier())
    endpoints: set[str] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path_format
        assert path, route
        methods = route.methods if route.methods is not None else {"GET"}
        endpoints.update(f"{method} {path}" for method in methods - {"HEAD"})
    return endpoints


def test_every_error_code_is_documented() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    missing = [code.value for code in ErrorCode if f"| `{code.value}` |" not in text]
    assert missing == [], f"docs/api.md's error table lacks {missing}"


def test_every_endpoint_the_app_serves_is_documented() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    endpoints = served_endpoints()
    assert {"POST /classify", "GET /health"} <= endpoints  # the walk sees included routers
    missing = sorted(e for e in endpoints if f"`{e}`" not in text)
    assert missing == [], f"docs/api.md does not mention {missing}"


def documented_limits() -> dict[str, str]:
    """The limits table of docs/api.md: each setting and its default as written."""
    lines = API_DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(_LIMITS_HEADER) + 2  # past the header and its |---| line
    limits: dict[str, str] = {}
    for line in lines[start:]:
        match = _LIMIT_ROW.match(line)
        if match is None:
            break
        limits[match.group(1)] = match.group(2).strip()
    return limits


def as_written(value: int) -> str:
    """A default as the doc writes it: whole MiB as ``64 MiB``, else ``60,000,000``."""
    mib = 1024 * 1024
    return f"{value // mib} MiB" if value >= mib and value % mib == 0 else f"{value:,}"


def test_documented_limits_are_the_api_settings_and_their_defaults() -> None:
    limits = documented_limits()
    assert limits, "docs/api.md has no table of the [api] limits"
    defaults = ApiSettings()
    for key, written in limits.items():
        assert key in config_keys(), f"docs/api.md documents {key}, no [api] setting"
        default = as_written(getattr(defaults, key))
        assert re.match(re.escape(default) + r"\b", written), (
            f"docs/api.md: {key} defaults to {default}, not {written!r}"
        )
