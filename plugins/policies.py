"""Built-in tag-selection policies."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from scened import hookimpl
from scened.classes import CLASSES, UNKNOWN_TAG
from scened.errors import ConfigError
from scened.hookspecs import RegisterPolicy
from scened.metadata.options import OptionReader
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


class ThresholdPolicy:
    """Up to ``top_k`` classes whose probability reaches their threshold.

    A class's threshold is its entry in ``class_thresholds``, else
    ``min_probability``.  Classes in ``exclude`` are never emitted; ``rename``
    maps a class to the tag written instead (another language, a user's own
    vocabulary).  When nothing qualifies, ``fallback`` is emitted (``Unknown`` by
    default; an empty string emits no tag at all).
    """

    def __init__(
        self,
        min_probability: float = 0.3,
        top_k: int = 3,
        class_thresholds: Mapping[str, float] | None = None,
        exclude: Collection[str] = (),
        rename: Mapping[str, str] | None = None,
        fallback: str = UNKNOWN_TAG,
    ) -> None:
        self.min_probability = min_probability
        self.top_k = top_k
        self.class_thresholds = dict(class_thresholds or {})
        self.exclude = frozenset(exclude)
        self.rename = dict(rename or {})
        self.fallback = fallback

    def choose(self, prediction: Prediction) -> list[str]:
        ranked = prediction.top(len(prediction.probabilities))
        chosen = [
            name
            for name, probability in ranked
            if name not in self.exclude
            and probability >= self.class_thresholds.get(name, self.min_probability)
        ][: self.top_k]
        if not chosen:
            return [self.fallback] if self.fallback else []
        return list(dict.fromkeys(self.rename.get(name, name) for name in chosen))


_THRESHOLD_OPTIONS = (
    "min_probability", "top_k", "class_thresholds", "exclude", "rename", "fallback",
)  # fmt: skip


def threshold_policy(options: Mapping[str, Any]) -> Policy:
    """Build a :class:`ThresholdPolicy`, naming the option at fault for bad values."""
    reader = OptionReader(options, _THRESHOLD_OPTIONS, "threshold policy")
    thresholds = reader.table("class_thresholds")
    for name, value in thresholds.items():
        key = f"class_thresholds.{name}"
        _known_class(reader, key, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise reader.error(key, f"must be a probability between 0 and 1, got {value!r}")
    rename = reader.table("rename")
    for name, tag in rename.items():
        _known_class(reader, f"rename.{name}", name)
        if not isinstance(tag, str) or not tag.strip():
            raise reader.error(f"rename.{name}", f"must be a non-empty string, got {tag!r}")
    exclude = reader.string_list("exclude")
    for name in exclude:
        _known_class(reader, "exclude", name)
    return ThresholdPolicy(
        min_probability=reader.number("min_probability", 0.3, low=0, high=1),
        top_k=reader.integer("top_k", 3, low=1, high=len(CLASSES)),
        class_thresholds={name: float(value) for name, value in thresholds.items()},
        exclude=exclude,
        rename=rename,
        fallback=reader.string("fallback", UNKNOWN_TAG, allow_empty=True),
    )


def _known_class(reader: OptionReader, key: str, name: str) -> None:
    if name not in CLASSES:
        raise reader.error(key, f"{name!r} is not one of the model's classes")


@hookimpl
def register_policies(register: RegisterPolicy) -> None:
    register("default", default_policy)
    register("threshold", threshold_policy)
