"""The plugin manager: loads first-party and third-party plugins from entry points.

Nothing happens at import time; call :func:`get_plugin_manager`.  A plugin that
fails to import or register is logged and skipped, never fatal.

``SCENED_LOAD_PLUGINS`` (as llm's ``LLM_LOAD_PLUGINS``) chooses which third-party
plugins load: a comma-separated list of entry-point names or distribution names
(``hello,scened-fancy-words``); set but empty, none.  scened's own plugins (the
``scened`` distribution's entry points) always load.  Unset, every installed
plugin loads.  So a test, or a user chasing a bug, gets the same plugins whatever
the virtualenv happens to hold.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import Distribution, EntryPoint, entry_points
from typing import Any

import pluggy

from scened import hookspecs
from scened.errors import PluginError, ScenedError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "scened"
#: A comma-separated list of the third-party plugins to load (empty: none).
ENV_LOAD_PLUGINS = "SCENED_LOAD_PLUGINS"
#: The distribution whose entry points are scened's own plugins (always loaded).
FIRST_PARTY = "scened"


class ScenedPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution each plugin came from."""

    def __init__(self) -> None:
        super().__init__("scened")
        self.distributions: dict[str, Distribution] = {}


def get_plugin_manager(*, load_entry_points: bool = True) -> ScenedPluginManager:
    """A fresh plugin manager with the installed plugins registered.

    Which third-party plugins load is read from ``$SCENED_LOAD_PLUGINS`` on each
    call (see the module's docstring).
    """
    pm = ScenedPluginManager()
    pm.add_hookspecs(hookspecs)
    if load_entry_points:
        chosen = _chosen_plugins(os.environ.get(ENV_LOAD_PLUGINS))
        found: set[str] = set()
        for entry_point in _entry_points():
            names = _names_of(entry_point)
            if chosen is None or _distribution(entry_point) == FIRST_PARTY or names & chosen:
                found |= names
                _load_plugin(pm, entry_point)
        for name in sorted((chosen or set()) - found):
            log.warning("%s names %r, which no installed plugin has", ENV_LOAD_PLUGINS, name)
    pm.check_pending()
    return pm


def _entry_points() -> Iterable[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _chosen_plugins(setting: str | None) -> set[str] | None:
    """The names in ``$SCENED_LOAD_PLUGINS`` (None when it is unset: load them all)."""
    if setting is None:
        return None
    return {_normalized(name) for name in setting.split(",") if name.strip()}


def _names_of(entry_point: EntryPoint) -> set[str]:
    """The names ``$SCENED_LOAD_PLUGINS`` may use for ``entry_point``: its own name
    and its distribution's."""
    return {_normalized(entry_point.name), _distribution(entry_point)} - {""}


def _distribution(entry_point: EntryPoint) -> str:
    """The normalised name of the distribution that declares ``entry_point`` (or "")."""
    dist = entry_point.dist
    return _normalized(dist.metadata["Name"] or "") if dist is not None else ""


def _normalized(name: str) -> str:
    """A name as PEP 503 compares distribution names: ``Scened_Fancy.Words`` ==
    ``scened-fancy-words``."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _load_plugin(pm: ScenedPluginManager, entry_point: EntryPoint) -> None:
    if pm.get_plugin(entry_point.name) is not None or pm.is_blocked(entry_point.name):
        return
    try:
        plugin = entry_point.load()
        pm.register(plugin, name=entry_point.name)
        try:  # a hook this scened does not have (a newer plugin): pluggy would refuse
            pm.check_pending()  # every plugin at the end, breaking all of scened
        except pluggy.PluginValidationError:
            pm.unregister(name=entry_point.name)
            raise
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


def takes_context(factory: Any) -> bool:
    """Whether a policy or sink factory has a parameter named ``context`` (it is then
    given a :class:`scened.types.PluginContext`, as pluggy gives hook implementations
    only the arguments they name)."""
    try:
        return "context" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C callable: options only
        return False


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
