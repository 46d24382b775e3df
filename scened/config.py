"""Finding, validating and merging scened's TOML configuration.

The file is looked for in this order: ``--config``, ``$SCENED_CONFIG``,
``~/.config/scened/config.toml``, ``/etc/scened/config.toml``.  With no file at all
the built-in defaults apply, so ``scened run --once PATH`` works out of the box.
Validation errors name the file, the dotted key (``libraries[1].schedule.interval``)
and what is wrong.
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import platformdirs
import tomli_w

from scened.config_schema import CONFIG_SCHEMA
from scened.errors import ConfigError
from scened.policies import WRITE_POLICY

ENV_CONFIG = "SCENED_CONFIG"
SYSTEM_CONFIG = Path("/etc/scened/config.toml")

DEFAULT_MODEL: dict[str, Any] = {"runtime": "litert", "batch_size": 16, "threads": 0}
DEFAULT_PIPELINE: dict[str, Any] = {"readers": 2, "writers": 2, "queue_size": 32}
DEFAULT_API: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 8080,
    "workers": 1,
    "token_env": "SCENED_API_TOKEN",
    "cors_origins": [],
    "max_images": 64,
    "max_body_bytes": 64 * 1024 * 1024,
}
DEFAULT_LIBRARY: dict[str, Any] = {
    "include": [],
    "exclude": [],
    "policy": {"type": WRITE_POLICY},
    "sinks": [{"type": "xmp"}],
    "schedule": {"interval": 3600},
}


@dataclass(frozen=True)
class LibraryConfig:
    """One photo library: where it is, what to scan, how to tag it and when."""

    name: str
    path: Path
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    policy: Mapping[str, Any]
    sinks: tuple[Mapping[str, Any], ...]
    schedule: Mapping[str, Any]
    #: Above this share of known photos missing, a scan forgets nothing (an unmounted
    #: share, a vanished root) and reports one library-level error instead.
    max_missing_share: float = 0.5
    #: The daemon learns a personal model once this many new labels (None: never).
    learn_after_labels: int | None = None

    @property
    def policy_name(self) -> str:
        return str(self.policy["type"])

    @property
    def policy_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.policy.items() if k != "type"}

    @property
    def policy_key(self) -> str:
        """The policy and its options as canonical JSON: a change means re-tagging."""
        return json.dumps(dict(self.policy), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class ModelConfig:
    path: Path | None
    runtime: str
    batch_size: int
    threads: int
    #: A registered model (``scened plugins`` lists them); ``path`` wins when both are set.
    name: str | None = None


@dataclass(frozen=True)
class PipelineConfig:
    readers: int
    queue_size: int
    #: Threads writing keywords at once, each with a metadata worker process.
    writers: int = 2
    #: A new or changed photo is read only once unchanged this long (None: the default
    #: of the mode, see :func:`scened.daemon.service.settings_for`).
    settle_seconds: float | None = None


@dataclass(frozen=True)
class Config:
    """The validated configuration, with every default filled in."""

    source: Path | None
    state_dir: Path
    model: ModelConfig
    pipeline: PipelineConfig
    api: Mapping[str, Any]
    libraries: tuple[LibraryConfig, ...]
    merged: Mapping[str, Any]

    def library_for(self, path: Path) -> LibraryConfig:
        """The configured library rooted at ``path``, else an ad-hoc one with defaults."""
        resolved = path.expanduser().resolve()
        for library in self.libraries:
            if library.path == resolved:
                return library
        return _library(dict(DEFAULT_LIBRARY, path=str(resolved), name=str(resolved)))


def find_config_file(explicit: Path | None = None) -> Path | None:
    """The first configuration file of the search order that applies, or None."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        return Path(from_env)
    for candidate in (Path(platformdirs.user_config_dir("scened")) / "config.toml", SYSTEM_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: Path | None = None) -> Config:
    """Find, read, validate and complete the configuration."""
    source = find_config_file(explicit)
    if source is None:
        return parse_config({}, None)
    try:
        with source.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("configuration file not found", source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", source
        ) from None
    return parse_config(data, source)


def parse_config(data: Mapping[str, Any], source: Path | None) -> Config:
    """Validate ``data`` (a parsed TOML document) and fill in the defaults."""
    validate(data, source)
    merged = merge_defaults(data)
    libraries = tuple(_library(lib) for lib in merged["libraries"])
    _check_unique_names(libraries, source)
    for index, library in enumerate(libraries):
        _check_cron(library, index, source)
    model = merged["model"]
    return Config(
        source=source,
        state_dir=Path(merged["state_dir"]).expanduser(),
        model=ModelConfig(
            path=Path(model["path"]).expanduser() if "path" in model else None,
            name=model.get("name"),
            runtime=model["runtime"],
            batch_size=model["batch_size"],
            threads=model["threads"],
        ),
        pipeline=PipelineConfig(**merged["pipeline"]),
        api=merged["api"],
        libraries=libraries,
        merged=merged,
    )


def validate(data: Mapping[str, Any], source: Path | None) -> None:
    """Raise :class:`ConfigError` for the first schema violation, naming its key."""
    validator = jsonschema.Draft202012Validator(CONFIG_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    key = dotted_key(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        key = ".".join(filter(None, [key, unknown[0]]))
        message = "unknown key"
    elif error.validator == "oneOf" and key.endswith("schedule"):
        message = "give exactly one of 'interval' (seconds) or 'cron'"
    raise ConfigError(message, source, key=key or "(top level)")


def dotted_key(parts: Iterable[str | int]) -> str:
    """``["libraries", 1, "schedule"]`` → ``libraries[1].schedule``."""
    key = ""
    for part in parts:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else part)
    return key


def merge_defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with every default filled in (what ``config show`` prints)."""
    merged = copy.deepcopy(dict(data))
    merged.setdefault("state_dir", str(default_state_dir()))
    merged["model"] = {**DEFAULT_MODEL, **merged.get("model", {})}
    merged["pipeline"] = {**DEFAULT_PIPELINE, **merged.get("pipeline", {})}
    merged["api"] = {**DEFAULT_API, **merged.get("api", {})}
    merged["libraries"] = [
        {**copy.deepcopy(DEFAULT_LIBRARY), "name": _default_name(lib), **lib}
        for lib in merged.get("libraries", [])
    ]
    return merged


def default_state_dir() -> Path:
    """``$STATE_DIRECTORY`` under systemd (``StateDirectory=``), else the XDG state folder."""
    from_systemd = os.environ.get("STATE_DIRECTORY")
    if from_systemd:
        return Path(from_systemd.split(":")[0])
    return Path(platformdirs.user_state_dir("scened"))


def to_toml(merged: Mapping[str, Any]) -> str:
    return tomli_w.dumps(dict(merged))


def _default_name(library: Mapping[str, Any]) -> str:
    return Path(str(library.get("path", ""))).expanduser().name or "library"


def _library(table: Mapping[str, Any]) -> LibraryConfig:
    return LibraryConfig(
        name=str(table["name"]),
        path=Path(table["path"]).expanduser().resolve(),
        include=tuple(table["include"]),
        exclude=tuple(table["exclude"]),
        policy=dict(table["policy"]),
        sinks=tuple(dict(sink) for sink in table["sinks"]),
        schedule=dict(table["schedule"]),
        max_missing_share=float(table.get("max_missing_share", 0.5)),
        learn_after_labels=table.get("learn", {}).get("after_labels"),
    )


def _check_unique_names(libraries: tuple[LibraryConfig, ...], source: Path | None) -> None:
    seen: set[str] = set()
    for index, library in enumerate(libraries):
        if library.name in seen:
            raise ConfigError(
                f"library name {library.name!r} is used twice (give each library a 'name')",
                source,
                key=f"libraries[{index}].name",
            )
        seen.add(library.name)


def _check_cron(library: LibraryConfig, index: int, source: Path | None) -> None:
    cron = library.schedule.get("cron")
    if cron is None:
        return
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(cron)
    except ValueError as exc:
        raise ConfigError(
            f"not a valid crontab line ({exc})", source, key=f"libraries[{index}].schedule.cron"
        ) from None
