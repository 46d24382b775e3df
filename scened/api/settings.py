"""Settings of the REST API: defaults, the config file's ``[api]`` table, environment.

Precedence, lowest first: the defaults below, a mapping (the ``[api]`` table of
the configuration file), then ``SCENED_API_*`` environment variables.  The bearer
token is read from ``token`` or from the environment variable named by
``token_env`` (``SCENED_API_TOKEN`` by default); it is kept out of ``repr`` so
that it never reaches a log line.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scened.errors import ConfigError
from scened.model.runtime import Runtime

ENV_PREFIX = "SCENED_API_"
DEFAULT_TOKEN_ENV = "SCENED_API_TOKEN"

_INT_FIELDS = (
    "port",
    "workers",
    "max_images",
    "max_body_bytes",
    "max_image_bytes",
    "max_pixels",
    "batch_size",
    "max_bytes_in_flight",
    "max_connections",
)
_FLOAT_FIELDS = ("batch_wait_ms", "header_timeout_s", "read_timeout_s", "body_timeout_s")
#: Integers for which 0 means something (any free port; the automatic budget).
_ZERO_ALLOWED = ("port", "max_bytes_in_flight")
#: Timeouts, which must be more than zero (a zero would refuse every request).
_TIMEOUT_FIELDS = ("header_timeout_s", "read_timeout_s", "body_timeout_s")
_STR_FIELDS = ("host", "token_env", "runtime", "policy")
_OPTIONAL_STR_FIELDS = ("token", "model_name")
_PATH_FIELDS = ("model_dir",)
_LIST_FIELDS = ("cors_origins",)
#: Set by the ``[model]`` table (or ``scened serve``'s options), never in ``[api]``.
_FROM_MODEL_TABLE = ("model_dir", "model_name", "runtime")


@dataclass(frozen=True)
class ApiSettings:
    """Everything ``create_app`` and ``scened serve`` need to know."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    token: str | None = field(default=None, repr=False)
    token_env: str = DEFAULT_TOKEN_ENV
    cors_origins: tuple[str, ...] = ()
    #: Most images in one request (more → 413).
    max_images: int = 64
    #: Largest request body in bytes (more → 413).
    max_body_bytes: int = 64 * 1024 * 1024
    #: Largest single decoded image file in bytes (more → 413).
    max_image_bytes: int = 16 * 1024 * 1024
    #: Request-body bytes being received or held by one worker process, all requests
    #: together; a request that would pass it is answered 503 with Retry-After.
    #: 0: four times max_body_bytes (256 MiB with the default body limit).
    max_bytes_in_flight: int = 0
    #: Open connections per worker process.  One more closes the connection that has
    #: waited longest for its request's headers, or, when all are busy, gets 503.
    max_connections: int = 256
    #: Seconds a client has to send a request's line and headers (then 408 and closed).
    header_timeout_s: float = 10.0
    #: Seconds the body of a request may stall between two reads (then 408 and closed).
    read_timeout_s: float = 15.0
    #: Seconds a client has to send a whole request body (then 408 and closed).
    body_timeout_s: float = 60.0
    #: Most pixels of one image (more → 400, a decompression bomb guard).
    max_pixels: int = 60_000_000
    #: Most images run through the model at once by the micro-batcher.
    batch_size: int = 16
    #: How long the micro-batcher waits for more requests before it runs the model.
    batch_wait_ms: float = 3.0
    #: The default tag policy (``?policy=`` chooses another registered one).
    policy: str = "default"
    model_dir: Path | None = None
    #: A registered model (``[model] name``); ``model_dir`` wins when both are set.
    model_name: str | None = None
    runtime: Runtime = "litert"

    def resolved_token(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The bearer token: ``token`` if set, else the variable named by ``token_env``."""
        if self.token:
            return self.token
        environ = os.environ if environ is None else environ
        return environ.get(self.token_env) or None

    @property
    def bytes_in_flight_budget(self) -> int:
        """``max_bytes_in_flight``, or four times ``max_body_bytes`` when it is 0."""
        return self.max_bytes_in_flight or 4 * self.max_body_bytes

    def replace(self, **changes: Any) -> ApiSettings:
        """A copy with ``changes`` applied (``None`` values are ignored) and validated."""
        updated = dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
        updated.validate()
        return updated

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the key of the first invalid value."""
        for name in _INT_FIELDS:
            if getattr(self, name) < (0 if name in _ZERO_ALLOWED else 1):
                raise ConfigError("must be a positive number", key=f"api.{name}")
        if self.port > 65535:
            raise ConfigError("must be a port number (0-65535)", key="api.port")
        if self.batch_wait_ms < 0:
            raise ConfigError("must not be negative", key="api.batch_wait_ms")
        for name in _TIMEOUT_FIELDS:
            if not 0 < getattr(self, name) < float("inf"):
                raise ConfigError("must be a number of seconds above 0", key=f"api.{name}")
        if 0 < self.max_bytes_in_flight < self.max_body_bytes:
            raise ConfigError(
                "must be at least max_body_bytes (else no largest body could be received)",
                key="api.max_bytes_in_flight",
            )
        if self.runtime not in ("litert", "keras"):
            raise ConfigError("must be litert or keras", key="api.runtime")

    def to_environ(self) -> dict[str, str]:
        """These settings as ``SCENED_API_*`` variables (how worker processes receive them)."""
        environ: dict[str, str] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            text = ",".join(value) if f.name in _LIST_FIELDS else str(value)
            environ[ENV_PREFIX + f.name.upper()] = text
        return environ

    @classmethod
    def load(
        cls,
        table: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> ApiSettings:
        """Defaults, overridden by ``table`` (the ``[api]`` table), then by the environment."""
        settings = cls().replace(**_from_table(table or {}))
        return settings.replace(**_from_environ(os.environ if environ is None else environ))


def _from_table(table: Mapping[str, Any]) -> dict[str, Any]:
    known = {f.name for f in dataclasses.fields(ApiSettings)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"unknown key (known: {', '.join(sorted(known))})", key=f"api.{key}")
        values[key] = _convert(key, value)
    return values


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(ApiSettings):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is not None and raw != "":
            values[f.name] = _convert(f.name, raw)
    return values


def _convert(key: str, value: Any) -> Any:
    """``value`` (from TOML or a string from the environment) as the field's type."""
    try:
        if key in _INT_FIELDS:
            return _as_int(value)
        if key in _FLOAT_FIELDS:
            return float(value)
        if key in _LIST_FIELDS:
            return _as_origins(value)
        if key in _PATH_FIELDS:
            return Path(str(value)).expanduser()
        if key in _STR_FIELDS + _OPTIONAL_STR_FIELDS and isinstance(value, str):
            return value
    except (TypeError, ValueError):
        pass
    raise ConfigError(
        f"invalid value {value!r}" if key != "token" else "invalid value", key=f"api.{key}"
    )


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(value)
    return int(value)


def _as_origins(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(o.strip() for o in value.split(",") if o.strip())
    if isinstance(value, list | tuple) and all(isinstance(o, str) for o in value):
        return tuple(value)
    raise TypeError(value)


def config_table(config_path: Path | None = None) -> dict[str, Any]:
    """The configuration file's ``[api]`` table, with the ``[model]`` folder and runtime.

    Empty when this installation has no :mod:`scened.config` loader.
    """
    try:
        from scened.config import load_config
    except ImportError:  # pragma: no cover - only before scened.config exists
        return {}
    config = load_config(config_path)
    table: dict[str, Any] = dict(config.api)
    if config.model.path is not None:
        table["model_dir"] = config.model.path
    if config.model.name is not None:
        table["model_name"] = config.model.name
    table["runtime"] = config.model.runtime
    return table


def config_keys() -> tuple[str, ...]:
    """The keys of the configuration file's ``[api]`` table: every setting but the model's."""
    return tuple(f.name for f in dataclasses.fields(ApiSettings) if f.name not in _FROM_MODEL_TABLE)


def api_schema() -> dict[str, Any]:
    """The JSON schema of ``[api]``, made from :class:`ApiSettings` (one list of keys,
    types and bounds: the file's checks and :meth:`ApiSettings.validate` agree)."""
    properties: dict[str, Any] = {}
    for name in config_keys():
        if name in _INT_FIELDS:
            rule: dict[str, Any] = {"type": "integer", "minimum": 0 if name in _ZERO_ALLOWED else 1}
            if name == "port":
                rule["maximum"] = 65535
        elif name in _TIMEOUT_FIELDS:
            rule = {"type": "number", "exclusiveMinimum": 0}
        elif name in _FLOAT_FIELDS:
            rule = {"type": "number", "minimum": 0}
        elif name in _LIST_FIELDS:
            rule = {"type": "array", "items": {"type": "string"}}
        else:
            rule = {"type": "string", "minLength": 1}
        properties[name] = rule
    return {"type": "object", "additionalProperties": False, "properties": properties}


def config_defaults() -> dict[str, Any]:
    """The defaults of ``[api]`` as ``scened config show`` prints them."""
    defaults = ApiSettings()
    shown = {name: getattr(defaults, name) for name in config_keys()}
    return {name: list(value) if isinstance(value, tuple) else value
            for name, value in shown.items() if value is not None}  # fmt: skip
