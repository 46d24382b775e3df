"""The plugin manager: loads first-party and third-party plugins from entry points.

Nothing happens at import time; call :func:`get_plugin_manager`.  A plugin that
fails to import or register is logged and skipped, never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import Distribution, EntryPoint, entry_points
from typing import Any

import pluggy

from scened import hookspecs
from scened.errors import PluginError, ScenedError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "scened"


class ScenedPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution each plugin came from."""

    def __init__(self) -> None:
        super().__init__("scened")
        self.distributions: dict[str, Distribution] = {}


def get_plugin_manager(*, load_entry_points: bool = True) -> ScenedPluginManager:
    """A fresh plugin manager with every installed plugin registered."""
    pm = ScenedPluginManager()
    pm.add_hookspecs(hookspecs)
    if load_entry_points:
        for entry_point in _entry_points():
            _load_plugin(pm, entry_point)
    pm.check_pending()
    return pm


def _entry_points() -> Iterable[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _load_plugin(pm: ScenedPluginManager, entry_point: EntryPoint) -> None:
    if pm.get_plugin(entry_point.name) is not None or pm.is_blocked(entry_point.name):
        return
    try:
        plugin = entry_point.load()
        pm.register(plugin, name=entry_point.name)
    except Exception as exc:  # a broken plugin must never stop scened
        log.warning(
            "skipping plugin %r (%s): %s: %s",
            entry_point.name,
            entry_point.value,
            type(exc).__name__,
            exc,
        )
        return
    if entry_point.dist is not None:
        pm.distributions[entry_point.name] = entry_point.dist


def collect_registrations(hook: pluggy.HookCaller, kind: str) -> dict[str, Any]:
    """Call a ``register_*`` hook and gather its ``register(name, factory)`` calls by name.

    A name registered twice is an error: which one wins would depend on load order.
    """
    found: dict[str, Any] = {}

    def register(name: str, factory: Any) -> None:
        if name in found:
            raise PluginError(f"{kind} {name!r} is registered twice")
        found[name] = factory

    hook(register=register)
    return found


def unknown_name(kind: str, name: str, registered: Iterable[str]) -> str:
    """``unknown <kind> '<name>' (registered: a, b)``: the one wording for a bad name."""
    known = ", ".join(sorted(registered)) or "none"
    return f"unknown {kind} {name!r} (registered: {known})"


@contextmanager
def factory_bugs_reported(what: str) -> Iterator[None]:
    """A plugin factory's own bug becomes one :class:`PluginError` line, not a traceback.

    ``what`` says what failed (``policy 'x' could not be built``); scened's own
    errors pass through unchanged.
    """
    try:
        yield
    except ScenedError:
        raise
    except Exception as exc:
        raise PluginError(f"{what}: {type(exc).__name__}: {exc}") from exc


def plugin_descriptions(pm: ScenedPluginManager) -> list[dict[str, object]]:
    """Name, distribution, version and hooks of each loaded plugin (for ``scened plugins``)."""
    described: list[dict[str, object]] = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: str(item[0])):
        if plugin is None:
            continue
        dist = pm.distributions.get(str(name))
        described.append(
            {
                "name": name,
                "distribution": dist.metadata["Name"] if dist is not None else None,
                "version": dist.version if dist is not None else None,
                "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
            }
        )
    return described
