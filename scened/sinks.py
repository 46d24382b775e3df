"""Looks up output sinks registered through the ``register_sinks`` hook.

The daemon's configuration lists, per library, the sinks to write to::

    sinks = [{type = "xmp", root = "Scenes"}, {type = "json", path = "/var/log/tags.jsonl"}]

:func:`build_sinks` turns that list into sink objects; every mistake is a
:class:`~scened.errors.ConfigError` whose key says which entry and option.
:class:`BaseSink` is the class a plugin's sink starts from; :class:`SinksToUntag` is
how ``scened untag`` reaches the configured sinks of each photo's library.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pluggy

from scened.errors import ConfigError, ScenedError
from scened.plugins import (
    collect_registrations,
    factory_bugs_reported,
    takes_context,
    unknown_name,
)
from scened.types import PluginContext, Replaced, Sink, SinkFactory, TagResult

if TYPE_CHECKING:
    from scened.config import LibraryConfig


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
        """``scened untag`` removed scened's keywords from ``path``: remove what this
        sink wrote about it, or record the event (the json sink appends an
        ``untagged`` record, the webhook sink sends one); with ``dry_run`` change
        nothing.  By default nothing is done (a notification cannot be taken back)."""
        return None

    def close(self) -> None:
        """Flush and release what the sink holds, at the end of each run; by default
        nothing.  Called once, after the last :meth:`write`."""
        return None


def registered_sinks(pm: pluggy.PluginManager) -> dict[str, SinkFactory]:
    """Every sink factory that the loaded plugins register, by name."""
    return collect_registrations(pm.hook.register_sinks, "sink")


def build_sinks(
    pm: pluggy.PluginManager,
    specs: Sequence[Mapping[str, Any]],
    context: PluginContext | None = None,
) -> list[Sink]:
    """One sink per spec: ``spec["type"]`` names it, the other keys are its options; a
    factory that takes a ``context`` gets ``context`` (the run it is built for)."""
    factories = registered_sinks(pm)
    sinks: list[Sink] = []
    for index, spec in enumerate(specs):
        sinks.append(_build_one(factories, spec, f"sinks[{index}]", context or PluginContext()))
    return sinks


def _build_one(
    factories: Mapping[str, SinkFactory], spec: Mapping[str, Any], where: str,
    context: PluginContext,
) -> Sink:  # fmt: skip
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
            factory = factories[kind]
            if takes_context(factory):
                return factory(options, context=context)
            return factory(options)
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


class SinksToUntag:
    """The configured sinks that ``scened untag`` tells about each photo it untags.

    scened removes its keywords from the photo and its sidecars itself, from the
    record it keeps there (``Xmp.scened.*``): that is the whole of what a sink with
    ``records_in_files = True`` wrote (the xmp and sidecar sinks), under whatever
    configuration wrote it, so their ``untag`` is not called again.  Every other sink
    of the library a photo is in (the json and webhook sinks, a plugin's database)
    gets :meth:`Sink.untag`; a photo in no configured library is no sink's business.
    Sinks are built up front, so that a bad sink entry stops ``untag`` before it
    changes anything, and :meth:`close` closes them all (the webhook sends its batch).
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        libraries: Sequence[LibraryConfig],
        *,
        dry_run: bool = False,
        state_dir: Path | None = None,
    ) -> None:
        self._libraries: list[tuple[LibraryConfig, list[tuple[str, Sink]]]] = []
        self._built: list[Sink] = []
        for library in libraries:
            context = PluginContext(library=library.name, library_path=library.path,
                                    dry_run=dry_run, state_dir=state_dir)  # fmt: skip
            built = build_sinks(pm, library.sinks, context)
            self._built += built
            kinds = [str(spec["type"]) for spec in library.sinks]
            told = [(kind, sink) for kind, sink in zip(kinds, built, strict=True)
                    if not getattr(sink, "records_in_files", False)]  # fmt: skip
            if told:
                self._libraries.append((library, told))
        #: Per library name, the photos told (or, in a dry run, that would be).
        self.told: dict[str, int] = {}

    def untag(self, photo: Path, *, dry_run: bool) -> None:
        """Tell the sinks of ``photo``'s library, each of them even when one fails;
        the first failure is raised (a :class:`ScenedError` naming the sink)."""
        resolved = photo.expanduser().resolve()
        found = next(((library, sinks) for library, sinks in self._libraries
                      if resolved.is_relative_to(library.path)), None)  # fmt: skip
        if found is None:
            return
        library, sinks = found
        errors: list[ScenedError] = []
        for kind, sink in sinks:
            try:
                sink.untag(photo, dry_run=dry_run)
            except ScenedError as exc:
                errors.append(ScenedError(f"{kind} sink: {exc.message}", exc.path or photo))
            except Exception as exc:  # a plugin's bug must not stop the other sinks
                errors.append(ScenedError(f"{kind} sink: {type(exc).__name__}: {exc}", photo))
        self.told[library.name] = self.told.get(library.name, 0) + 1
        if errors:
            raise errors[0]

    def sink_names(self, library: str) -> list[str]:
        """The types of the sinks told about the photos of ``library``."""
        return next(([kind for kind, _ in sinks] for lib, sinks in self._libraries
                     if lib.name == library), [])  # fmt: skip

    def close(self) -> None:
        """Close every sink built (each even when another fails; the first error raised)."""
        errors: list[Exception] = []
        for sink in self._built:
            try:
                sink.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
