"""Looks up tag policies registered through the ``register_policies`` hook, and stacks them.

A library's ``policy`` is one table (``{type = "threshold", min_probability = 0.4}``)
or a list of tables run in order (a *stack*)::

    policy = [{type = "threshold", top_k = 2}, {type = "translate", language = "de"}]

The first policy chooses tags from the prediction (``choose``); each later one gets
the prediction and the tags chosen so far and returns the tags to keep
(``refine``, see :class:`Refiner`).  The list form is read as the built-in
``stack`` policy, ``{type = "stack", policies = [...]}``, which may also be
written out: so every policy, stacked or not, is built by :func:`build_policy`
from one name and one option table, and a stack's canonical JSON (the library's
``policy_key``) changes when any of its parts does, which re-tags the library.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, runtime_checkable

import pluggy

from scened.classes import CLASSES
from scened.errors import ConfigError, PluginError
from scened.plugins import (
    collect_registrations,
    factory_bugs_reported,
    takes_context,
    unknown_name,
)
from scened.types import PluginContext, Policy, PolicyFactory, Prediction

if TYPE_CHECKING:  # the model runtime (numpy, litert) is not needed to read a config
    from scened.model.runtime import Classifier

#: The policy that chooses what is written into photos when a library names none:
#: precision first (no keyword rather than a doubtful one, never ``Unknown``).
WRITE_POLICY = "precision"
#: The policy of the REST API when a request names none (the original tag formula,
#: docs/tags.md; its existing clients depend on it).
API_POLICY = "default"
#: The built-in policy that runs several in order (what a list of policies is read as).
#: Reserved: a plugin may not register a policy of this name.
STACK = "stack"


@runtime_checkable
class Refiner(Protocol):
    """A policy that can follow another in a stack: it edits the tags chosen so far.

    ``refine(prediction, tags)`` gets the model's output and the tags the earlier
    policies of the stack chose (a fresh list, the caller's own) and returns the
    tags to keep: translated, renamed, filtered or added to.  A policy may have both
    ``choose`` (to come first, or alone) and ``refine`` (to come later).
    """

    def refine(self, prediction: Prediction, tags: list[str]) -> list[str]: ...


class StackedPolicy:
    """``first`` chooses, then each of ``then`` refines what the ones before it chose."""

    def __init__(self, first: Policy, then: Sequence[Refiner]) -> None:
        self.first = first
        self.then = tuple(then)

    def choose(self, prediction: Prediction) -> list[str]:
        tags = list(self.first.choose(prediction))
        for refiner in self.then:
            tags = list(refiner.refine(prediction, list(tags)))
        return tags


def registered_policies(pm: pluggy.PluginManager) -> dict[str, PolicyFactory]:
    """Every policy factory that the loaded plugins register, by name."""
    found: dict[str, PolicyFactory] = collect_registrations(pm.hook.register_policies, "policy")
    if STACK in found:
        raise PluginError(f"policy {STACK!r} is built in: a plugin may not register it")
    return found


def build_policy(
    pm: pluggy.PluginManager,
    name: str,
    options: Mapping[str, Any],
    *,
    classifier: Classifier | None = None,
    run: PluginContext | None = None,
) -> Policy:
    """The policy ``name`` built with ``options``; a clear error for an unknown name.

    ``name`` may be :data:`STACK` (options: ``policies``, a list of policy tables).
    A factory that takes a ``context`` gets ``run`` (the library, dry run, state
    folder) completed with the model's labels and its defaults for the policy.
    """
    factories = registered_policies(pm)
    contexts = _Contexts(classifier, run or PluginContext())
    if name == STACK:
        return _build_stack(factories, options, contexts)
    if name not in factories:
        raise PluginError(unknown_name("policy", name, factories))
    policy = _build_one(factories[name], name, options, contexts)
    if not _chooses(policy):
        raise PluginError(f"policy {name!r} only refines the tags another chose: list it "
                          "after one that chooses (policy = [{type = ...}, ...])")  # fmt: skip
    return policy


@dataclass(frozen=True)
class _Contexts:
    """What a policy factory's context is made from."""

    classifier: Classifier | None
    run: PluginContext

    def for_policy(self, name: str) -> PluginContext:
        return policy_context(self.classifier, name, self.run)


def _build_one(
    factory: PolicyFactory, name: str, options: Mapping[str, Any], contexts: _Contexts
) -> object:
    """What ``factory`` builds: a :class:`Policy`, a :class:`Refiner` or both."""
    with factory_bugs_reported(f"policy {name!r} could not be built"):
        if takes_context(factory):
            return factory(options, context=contexts.for_policy(name))
        return factory(options)


def _chooses(policy: object) -> TypeGuard[Policy]:
    return callable(getattr(policy, "choose", None))


def _build_stack(
    factories: Mapping[str, PolicyFactory],
    options: Mapping[str, Any],
    contexts: _Contexts,
) -> Policy:
    """A :class:`StackedPolicy` from ``options["policies"]``; errors name the part at
    fault as ``policies[N]`` (1-based, as :func:`scened.config.dotted_key` counts)."""
    unknown = sorted(set(options) - {"policies"})
    if unknown:
        raise ConfigError("unknown option for the stack policy (known: policies)", key=unknown[0])
    specs = options.get("policies")
    if not isinstance(specs, Sequence) or isinstance(specs, str) or not specs:
        raise ConfigError("the stack policy needs a non-empty list of policies", key="policies")
    (name, first), *rest = [
        _stack_part(factories, spec, f"policies[{position}]", contexts)
        for position, spec in enumerate(specs, start=1)
    ]
    if not _chooses(first):
        raise ConfigError(f"policy {name!r} only refines tags (no choose): it cannot come "
                          "first", key="policies[1].type")  # fmt: skip
    then: list[Refiner] = []
    for position, (name, part) in enumerate(rest, start=2):
        if not isinstance(part, Refiner):
            message = f"policy {name!r} cannot follow another: it has no refine(prediction, tags)"
            raise ConfigError(message, key=f"policies[{position}].type")
        then.append(part)
    return StackedPolicy(first, then)


def _stack_part(
    factories: Mapping[str, PolicyFactory],
    spec: object,
    where: str,
    contexts: _Contexts,
) -> tuple[str, object]:
    """The name and the policy built from one table of a stack (``where``: its key)."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"must be a table with a 'type', got {spec!r}", key=where)
    name = spec.get("type")
    if not isinstance(name, str) or not name:
        raise ConfigError("missing the policy's 'type'", key=f"{where}.type")
    if name not in factories:
        raise ConfigError(unknown_name("policy", name, factories), key=f"{where}.type")
    options = {key: value for key, value in spec.items() if key != "type"}
    try:
        return name, _build_one(factories[name], name, options, contexts)
    except ConfigError as exc:
        key = f"{where}.{exc.key}" if exc.key else where
        raise ConfigError(exc.message, exc.path, key=key) from exc


def policy_context(
    classifier: Classifier | None, policy: str, run: PluginContext | None = None
) -> PluginContext:
    """``run`` (the library, dry run, state folder) with the loaded model's labels and
    its own defaults for ``policy`` (from model.json)."""
    run = run or PluginContext()
    if classifier is None:
        return dataclasses.replace(run, labels=CLASSES)
    meta = getattr(classifier, "metadata", None)
    tables = meta.get("policies", {}) if isinstance(meta, dict) else {}
    defaults = tables.get(policy, {}) if isinstance(tables, dict) else {}
    return dataclasses.replace(
        run,
        labels=tuple(classifier.classes),
        defaults=defaults if isinstance(defaults, dict) else {},
        model_id=classifier.model_id,
    )
