"""Looks up output sinks registered through the ``register_sinks`` hook.

The daemon's configuration lists, per library, the sinks to write to::

    sinks = [{type = "xmp", root = "Scenes"}, {type = "json", path = "/var/log/tags.jsonl"}]

:func:`build_sinks` turns that list into sink objects; every mistake is a
:class:`~scened.errors.ConfigError` whose key says which entry and option.
:class:`BaseSink` is the class a plugin's sink starts from.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pluggy

from scened.errors import ConfigError
from scened.plugins import collect_registrations, factory_bugs_reported, unknown_name
from scened.types import Replaced, Sink, SinkFactory, TagResult


class BaseSink(ABC):
    """A sink to subclass: implement :meth:`write`; :meth:`untag` and :meth:`close`
    do nothing unless overridden.  Satisfies :class:`scened.types.Sink`.

    Threads: a run writes photos from several writer threads.  With
    ``thread_safe = False`` (the default) scened calls this sink's methods one at a
    time, so a sink holding a file or a connection needs no lock of its own; set
    ``thread_safe = True`` only when :meth:`write` may run in several threads at
    once (a sink that writes into each photo, a stateless HTTP call), for speed.
    """

    #: Whether :meth:`write` may be called from several threads at once.
    thread_safe: ClassVar[bool] = False

    @abstractmethod
    def write(self, result: TagResult, *, dry_run: bool = False) -> Replaced | None:
        """Write ``result.tags`` for ``result.path``; with ``dry_run`` change nothing.

        Raise :class:`scened.errors.MetadataError` (with the path) when the photo
        cannot be handled: the photo counts as failed and is retried next scan.
        Return a :class:`Replaced` only when this sink replaced the photo's file
        itself (so that the run records the new file without reading it back);
        None otherwise.
        """

    def untag(self, path: Path, *, dry_run: bool = False) -> None:
        """Remove what this sink wrote about ``path``; by default there is nothing to
        remove (a log or a notification cannot be taken back)."""
        return None

    def close(self) -> None:
        """Flush and release what the sink holds, at the end of each run; by default
        nothing.  Called once, after the last :meth:`write`."""
        return None


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
