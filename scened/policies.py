"""Looks up tag policies registered through the ``register_policies`` hook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

from scened.errors import PluginError, ScenedError
from scened.plugins import collect_registrations
from scened.types import Policy, PolicyFactory


def registered_policies(pm: pluggy.PluginManager) -> dict[str, PolicyFactory]:
    """Every policy factory that the loaded plugins register, by name."""
    return collect_registrations(pm.hook.register_policies, "policy")


def build_policy(pm: pluggy.PluginManager, name: str, options: Mapping[str, Any]) -> Policy:
    """The policy ``name`` built with ``options``; a clear error for an unknown name."""
    factories = registered_policies(pm)
    if name not in factories:
        known = ", ".join(sorted(factories)) or "none"
        raise PluginError(f"unknown policy {name!r} (registered: {known})")
    try:
        return factories[name](options)
    except ScenedError:
        raise
    except Exception as exc:  # a third-party factory's bug is reported, not a traceback
        raise PluginError(
            f"policy {name!r} could not be built: {type(exc).__name__}: {exc}"
        ) from exc
