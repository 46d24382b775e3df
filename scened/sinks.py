"""Looks up output sinks registered through the ``register_sinks`` hook.

The daemon's configuration lists, per library, the sinks to write to::

    sinks = [{type = "xmp", root = "Scenes"}, {type = "json", path = "/var/log/tags.jsonl"}]

:func:`build_sinks` turns that list into sink objects; every mistake is a
:class:`~scened.errors.ConfigError` whose key says which entry and option.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pluggy

from scened.errors import ConfigError
from scened.plugins import collect_registrations, factory_bugs_reported, unknown_name
from scened.types import Replaced, Sink, SinkFactory, TagResult


def registered_sinks(pm: pluggy.PluginManager) -> dict[str, SinkFactory]:
    """Every sink factory that the loaded plugins register, by name."""
    return collect_registrations(pm.hook.register_sinks, "sink")


def build_sinks(pm: pluggy.PluginManager, specs: Sequence[Mapping[str, Any]]) -> list[Sink]:
    """One sink per spec: ``spec["type"]`` names it, the other keys are its options."""
    factories = registered_sinks(pm)
    sinks: list[Sink] = []
    for index, spec in enumerate(specs):
        sinks.append(_build_one(factories, spec, f"sinks[{index}]"))
    return sinks


def _build_one(factories: Mapping[str, SinkFactory], spec: Mapping[str, Any], where: str) -> Sink:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"must be a table with a 'type', got {spec!r}", key=where)
    kind = spec.get("type")
    if not isinstance(kind, str):
        raise ConfigError("missing the sink's 'type'", key=f"{where}.type")
    if kind not in factories:
        raise ConfigError(unknown_name("sink", kind, factories), key=f"{where}.type")
    options = {key: value for key, value in spec.items() if key != "type"}
    try:
        with factory_bugs_reported(f"{where}: sink {kind!r} could not be built"):
            return factories[kind](options)
    except ConfigError as exc:
        key = f"{where}.{exc.key}" if exc.key else where
        raise ConfigError(exc.message, exc.path, key=key) from exc


def for_writers(sinks: Sequence[Sink]) -> list[Sink]:
    """``sinks`` as a run's writer threads call them: at once where a sink says it is
    ``thread_safe``, one call at a time otherwise (a third-party sink need not care)."""
    return [sink if getattr(sink, "thread_safe", False) else _OneAtATime(sink) for sink in sinks]


class _OneAtATime:
    """A sink whose calls are serialised by a lock."""

    thread_safe = True

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._lock = threading.Lock()

    def write(self, result: TagResult, *, dry_run: bool = False) -> Replaced | None:
        with self._lock:
            return self.sink.write(result, dry_run=dry_run)

    def untag(self, path: Path, *, dry_run: bool = False) -> None:
        with self._lock:
            self.sink.untag(path, dry_run=dry_run)

    def close(self) -> None:
        with self._lock:
            self.sink.close()
