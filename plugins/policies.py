"""Built-in tag-selection policies: ``precision`` (what scened writes), ``default``, ``threshold``.

``precision`` is the policy for keywords written into photos: the top class only
when it is likely (``min_probability``), a second only when it is likely in its
own right (``second_probability``), and no keyword at all (never ``Unknown``)
when nothing is.  Its defaults are the thresholds the model's training chose on
photos of unseen sources for a tag precision of at least 0.9 (``model.json``
``policies.precision``).  ``default`` is the original tag formula (the REST API's
default); ``threshold`` is the configurable general case.  Each rule: docs/tags.md.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from scened import hookimpl
from scened.classes import UNKNOWN_TAG
from scened.errors import ConfigError
from scened.hookspecs import RegisterPolicy
from scened.options import OptionReader
from scened.types import Policy, PolicyContext, Prediction

#: Used when the model carries no thresholds of its own (a third-party model).
PRECISION_DEFAULTS = {"min_probability": 0.5, "second_probability": 0.5}


class DefaultPolicy:
    """The original formula (docs/tags.md): p1 > 0.9 → top class; p1 + p2 > 0.5 → top two;
    else ``Unknown``."""

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


def _class_thresholds(reader: OptionReader, context: PolicyContext) -> dict[str, Any]:
    thresholds = reader.table("class_thresholds")
    for name, value in thresholds.items():
        key = f"class_thresholds.{name}"
        _known_class(reader, key, name, context)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise reader.error(key, f"must be a probability between 0 and 1, got {value!r}")
    return thresholds


def threshold_policy(options: Mapping[str, Any], context: PolicyContext) -> Policy:
    """Build a :class:`ThresholdPolicy`, naming the option at fault for bad values."""
    reader = OptionReader(options, _THRESHOLD_OPTIONS, "threshold policy")
    thresholds = _class_thresholds(reader, context)
    rename, exclude = _rename_and_exclude(reader, context)
    return ThresholdPolicy(
        min_probability=reader.number("min_probability", 0.3, low=0, high=1),
        top_k=reader.integer("top_k", min(3, len(context.labels)), low=1, high=len(context.labels)),
        class_thresholds={name: float(value) for name, value in thresholds.items()},
        exclude=exclude,
        rename=rename,
        fallback=reader.string("fallback", UNKNOWN_TAG, allow_empty=True),
    )


def _rename_and_exclude(
    reader: OptionReader, context: PolicyContext
) -> tuple[dict[str, Any], list[str]]:
    rename = reader.table("rename")
    for name, tag in rename.items():
        _known_class(reader, f"rename.{name}", name, context)
        if not isinstance(tag, str) or not tag.strip():
            raise reader.error(f"rename.{name}", f"must be a non-empty string, got {tag!r}")
    exclude = reader.string_list("exclude")
    for name in exclude:
        _known_class(reader, "exclude", name, context)
    return rename, exclude


def _known_class(reader: OptionReader, key: str, name: str, context: PolicyContext) -> None:
    if name not in context.labels:
        raise reader.error(key, f"{name!r} is not one of the model's classes")


class PrecisionPolicy:
    """The top class if ``p1`` reaches its threshold; a second if ``p2 >= second_probability``.

    A class's threshold is its entry in ``class_thresholds``, else
    ``min_probability``.  Nothing at all when the top class is not likely
    enough: a photo without a keyword is better than a photo with a wrong one.
    """

    def __init__(
        self,
        min_probability: float,
        second_probability: float,
        class_thresholds: Mapping[str, float] | None = None,
        exclude: Collection[str] = (),
        rename: Mapping[str, str] | None = None,
    ) -> None:
        self.min_probability = min_probability
        self.second_probability = second_probability
        self.class_thresholds = dict(class_thresholds or {})
        self.exclude = frozenset(exclude)
        self.rename = dict(rename or {})

    def choose(self, prediction: Prediction) -> list[str]:
        (c1, p1), (c2, p2) = prediction.top(2)
        chosen = []
        if p1 >= self.class_thresholds.get(c1, self.min_probability):
            chosen.append(c1)
            if p2 >= self.second_probability:
                chosen.append(c2)
        return list(dict.fromkeys(self.rename.get(c, c) for c in chosen if c not in self.exclude))


_PRECISION_OPTIONS = (
    "min_probability", "second_probability", "class_thresholds", "exclude", "rename",
)  # fmt: skip


def precision_policy(options: Mapping[str, Any], context: PolicyContext) -> Policy:
    """Build a :class:`PrecisionPolicy`; thresholds default to the model's own.

    The model's per-class thresholds apply unless the user sets
    ``min_probability`` (then it holds for every class they do not list in
    ``class_thresholds``).
    """
    reader = OptionReader(options, _PRECISION_OPTIONS, "precision policy")
    defaults = {**PRECISION_DEFAULTS, **context.defaults}
    rename, exclude = _rename_and_exclude(reader, context)
    model_thresholds = defaults.get("class_thresholds", {})
    thresholds = {} if "min_probability" in options else dict(model_thresholds)
    thresholds.update(_class_thresholds(reader, context))
    return PrecisionPolicy(
        min_probability=reader.number(
            "min_probability", float(defaults["min_probability"]), low=0, high=1
        ),
        second_probability=reader.number(
            "second_probability", float(defaults["second_probability"]), low=0, high=1
        ),
        class_thresholds={name: float(value) for name, value in thresholds.items()},
        exclude=exclude,
        rename=rename,
    )


@hookimpl
def register_policies(register: RegisterPolicy) -> None:
    register("precision", precision_policy)
    register("default", default_policy)
    register("threshold", threshold_policy)
