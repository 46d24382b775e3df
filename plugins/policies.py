"""Built-in tag-selection policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scened import hookimpl
from scened.classes import UNKNOWN_TAG
from scened.errors import ConfigError
from scened.hookspecs import RegisterPolicy
from scened.types import Policy, Prediction


class DefaultPolicy:
    """The SPEC formula: p1 > 0.9 → top class; p1 + p2 > 0.5 → top two; else ``Unknown``."""

    def choose(self, prediction: Prediction) -> list[str]:
        (c1, p1), (c2, p2) = prediction.top(2)
        if p1 > 0.9:
            return [c1]
        if p1 + p2 > 0.5:
            return [c1, c2]
        return [UNKNOWN_TAG]


def default_policy(options: Mapping[str, Any]) -> Policy:
    if options:
        raise ConfigError(f"the default policy takes no options, got {sorted(options)}")
    return DefaultPolicy()


@hookimpl
def register_policies(register: RegisterPolicy) -> None:
    register("default", default_policy)
