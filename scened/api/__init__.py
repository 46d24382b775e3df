"""The REST API (`POST /classify`) served by `scened serve`.

``create_app(settings, classifier=None, pm=None)`` builds an app;
``scened.api:app`` is the app for ``uvicorn scened.api:app``, built on first
access from the environment (``SCENED_API_*``) and, when ``SCENED_CONFIG`` or the
default configuration file exists, its ``[api]`` table.  The model loads when the
server starts, not when this module is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["app", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from scened.api.app import create_app

        return create_app
    if name == "app":
        from scened.api.app import create_app
        from scened.api.settings import ApiSettings, config_table

        built: FastAPI = create_app(ApiSettings.load(config_table()))
        globals()["app"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
