"""Looks up tag policies registered through the ``register_policies`` hook."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from scened.classes import CLASSES
from scened.errors import PluginError
from scened.plugins import collect_registrations, factory_bugs_reported, unknown_name
from scened.types import Policy, PolicyContext, PolicyFactory

if TYPE_CHECKING:  # the model runtime (numpy, litert) is not needed to read a config
    from scened.model.runtime import Classifier

#: The policy that chooses what is written into photos when a library names none:
#: precision first (no keyword rather than a doubtful one, never ``Unknown``).
WRITE_POLICY = "precision"
#: The policy of the REST API when a request names none (the SPEC formula; its
#: existing clients depend on it).
API_POLICY = "default"


def registered_policies(pm: pluggy.PluginManager) -> dict[str, PolicyFactory]:
    """Every policy factory that the loaded plugins register, by name."""
    return collect_registrations(pm.hook.register_policies, "policy")


def build_policy(
    pm: pluggy.PluginManager,
    name: str,
    options: Mapping[str, Any],
    *,
    classifier: Classifier | None = None,
) -> Policy:
    """The policy ``name`` built with ``options``; a clear error for an unknown name."""
    factories = registered_policies(pm)
    if name not in factories:
        raise PluginError(unknown_name("policy", name, factories))
    factory = factories[name]
    with factory_bugs_reported(f"policy {name!r} could not be built"):
        if _takes_context(factory):
            return factory(options, context=policy_context(classifier, name))
        return factory(options)


def policy_context(classifier: Classifier | None, policy: str) -> PolicyContext:
    """The loaded model's labels and its own defaults for ``policy`` (from model.json)."""
    if classifier is None:
        return PolicyContext(labels=CLASSES)
    meta = getattr(classifier, "metadata", None)
    tables = meta.get("policies", {}) if isinstance(meta, dict) else {}
    defaults = tables.get(policy, {}) if isinstance(tables, dict) else {}
    return PolicyContext(
        labels=tuple(classifier.classes),
        defaults=defaults if isinstance(defaults, dict) else {},
        model_id=classifier.model_id,
    )


def _takes_context(factory: PolicyFactory) -> bool:
    try:
        return "context" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C callable: options only
        return False
