"""The validated configuration's shape: one frozen dataclass per table, and the defaults.

:func:`scened.config.parse_config` checks a file and fills in :data:`DEFAULT_LIBRARY`
and the other defaults (:func:`scened.config.merge_defaults`); :func:`build_config`
turns the merged tables into :class:`Config`, :class:`LibraryConfig` and the rest (a
list of policies becomes the built-in stack, a cron alias its crontab line).  Every
public name here is re-exported by :mod:`scened.config`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scened.api.settings import config_defaults as api_config_defaults
from scened.config_schema import CRON_ALIASES
from scened.policies import STACK, WRITE_POLICY

DEFAULT_MODEL: dict[str, Any] = {"runtime": "litert", "batch_size": 8, "threads": 0}
DEFAULT_PIPELINE: dict[str, Any] = {"readers": 2, "writers": 2, "queue_size": 32}
#: ``[api]``'s defaults: those of :class:`scened.api.settings.ApiSettings`.
DEFAULT_API: dict[str, Any] = api_config_defaults()
#: ``[cluster]``: tagging on Dask workers (:mod:`scened.daemon.cluster`), not in ``merged``.
DEFAULT_CLUSTER: dict[str, Any] = {"batch_size": 32, "connect_timeout": 10.0}
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
    #: A folder or photo inside ``path`` that limits one run to it (``scened run --once
    #: SUBFOLDER`` or ``PHOTO``): the library's settings and state, only that part
    #: scanned and pruned.  None: the whole library.
    scope: Path | None = None

    def covers(self, path: Path) -> bool:
        """Whether ``path`` (absolute, resolved) is within this run's scope."""
        return path.is_relative_to(self.scope or self.path)

    def limited_to(self, path: Path) -> LibraryConfig:
        """This library limited to ``path`` (resolved, inside it); itself for its root."""
        return self if path == self.path else dataclasses.replace(self, scope=path)

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
    #: ``scened serve`` URLs that classify the batches (:mod:`scened.model.remote`).
    remote: tuple[str, ...] = ()
    #: Their bearer token (else ``$SCENED_REMOTE_TOKEN``); kept out of ``repr``.
    remote_token: str | None = dataclasses.field(default=None, repr=False)
    #: When no remote server answers: ``"local"`` (classify here) or ``"fail"``.
    remote_fallback: str = "local"
    #: Send the photos' files instead of their pixels: the servers decode them.
    remote_decode: bool = False


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
class ClusterConfig:
    """``[cluster]``: ``run --once`` tags on the workers of this Dask scheduler."""

    #: The scheduler's address (``tcp://host:8786``); None: tag on this machine.
    scheduler: str | None = None
    #: Photos sent to a worker in one task.
    batch_size: int = DEFAULT_CLUSTER["batch_size"]
    #: Seconds to wait for the scheduler to answer before giving up.
    connect_timeout: float = DEFAULT_CLUSTER["connect_timeout"]


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
    cluster: ClusterConfig = ClusterConfig()

    def library_for(self, path: Path) -> LibraryConfig:
        """The library ``path`` belongs to, limited to ``path`` (:attr:`LibraryConfig.scope`).

        A folder or photo inside a configured library runs with that library's
        settings and state.  Anything else is an ad-hoc library with the defaults, named
        by its folder's absolute path: ``path`` itself, or for a photo its folder, so a
        photo given alone is tagged and recorded exactly as a scan of its folder would.
        """
        resolved = path.expanduser().resolve()
        for library in self.libraries:
            if resolved.is_relative_to(library.path):
                return library.limited_to(resolved)
        folder = resolved if resolved.is_dir() or not resolved.exists() else resolved.parent
        adhoc = library_config(dict(DEFAULT_LIBRARY, path=str(folder), name=str(folder)))
        return adhoc.limited_to(resolved)


def cron_line(cron: str) -> str:
    """``cron`` as a 5-field crontab line (a ``@daily``-style alias expanded)."""
    return CRON_ALIASES.get(cron.strip().lower(), cron)


def default_library_name(library: Mapping[str, Any]) -> str:
    """A library's name when its table gives none: its folder's name."""
    return Path(str(library.get("path", ""))).expanduser().name or "library"


def _schedule(table: Mapping[str, Any]) -> dict[str, Any]:
    """The schedule as the daemon reads it: a cron alias is expanded (:func:`cron_line`)."""
    schedule = dict(table)
    if "cron" in schedule:
        schedule["cron"] = cron_line(str(schedule["cron"]))
    return schedule


def _policy(policy: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A list of policies is the built-in stack, run in order (:mod:`scened.policies`)."""
    if isinstance(policy, Mapping):
        return dict(policy)
    return {"type": STACK, "policies": [dict(part) for part in policy]}


def library_config(table: Mapping[str, Any]) -> LibraryConfig:
    """The :class:`LibraryConfig` of a valid ``[[libraries]]`` table with its defaults."""
    return LibraryConfig(
        name=str(table["name"]),
        path=Path(table["path"]).expanduser().resolve(),
        include=tuple(table["include"]),
        exclude=tuple(table["exclude"]),
        policy=_policy(table["policy"]),
        sinks=tuple(dict(sink) for sink in table["sinks"]),
        schedule=_schedule(table["schedule"]),
        max_missing_share=float(table.get("max_missing_share", 0.5)),
        learn_after_labels=table.get("learn", {}).get("after_labels"),
    )


def build_config(merged: Mapping[str, Any], source: Path | None) -> Config:
    """The :class:`Config` of ``merged``, a valid configuration with its defaults filled in
    (:func:`scened.config.merge_defaults`), read from ``source``."""
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
            remote=tuple(model.get("remote", ())),
            remote_token=model.get("remote_token"),
            remote_fallback=model.get("remote_fallback", "local"),
            remote_decode=model.get("remote_decode", False),
        ),
        pipeline=PipelineConfig(**merged["pipeline"]),
        api=merged["api"],
        libraries=tuple(library_config(lib) for lib in merged["libraries"]),
        merged=merged,
        cluster=ClusterConfig(**{**DEFAULT_CLUSTER, **merged.get("cluster", {})}),
    )
