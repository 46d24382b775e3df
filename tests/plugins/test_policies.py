"""The ``default`` and ``threshold`` tag policies, built through the plugin manager."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scened.classes import CLASSES
from scened.errors import ConfigError, PluginError
from scened.plugins import ScenedPluginManager
from scened.policies import build_policy
from scened.types import Prediction

MakePrediction = Callable[..., Prediction]


def test_default_policy_follows_the_spec(
    pm: ScenedPluginManager, make_prediction: MakePrediction
) -> None:
    policy = build_policy(pm, "default", {})
    assert policy.choose(make_prediction(Cat=0.95)) == ["Cat"]
    assert policy.choose(make_prediction(Cat=0.4, Dog=0.2)) == ["Cat", "Dog"]
    assert policy.choose(make_prediction(Cat=0.3, Dog=0.15)) == ["Unknown"]


def test_threshold_min_probability_and_top_k(
    pm: ScenedPluginManager, make_prediction: MakePrediction
) -> None:
    policy = build_policy(pm, "threshold", {"min_probability": 0.1, "top_k": 2})
    assert policy.choose(make_prediction(Beach=0.5, Sky=0.2, Coast=0.15)) == ["Beach", "Sky"]
    loose = build_policy(pm, "threshold", {"min_probability": 0.1, "top_k": 5})
    assert loose.choose(make_prediction(Beach=0.5, Sky=0.2, Coast=0.15)) == [
        "Beach",
        "Sky",
        "Coast",
    ]


def test_threshold_per_class_exclude_rename_and_fallback(
    pm: ScenedPluginManager, make_prediction: MakePrediction
) -> None:
    options = {
        "min_probability": 0.2,
        "class_thresholds": {"Meme": 0.9, "Sky": 0.05},
        "exclude": ["Text document"],
        "rename": {"Beach": "Strand", "Sky": "Himmel"},
    }
    policy = build_policy(pm, "threshold", options)
    probs = make_prediction(Meme=0.5, Text_document=0.3, Beach=0.1, Sky=0.06)
    assert policy.choose(probs) == ["Himmel"]  # Meme below 0.9, text excluded, Beach < 0.2
    assert policy.choose(make_prediction(Beach=0.7)) == ["Strand"]
    assert policy.choose(make_prediction(Cat=0.1)) == ["Unknown"]
    silent = build_policy(pm, "threshold", {"min_probability": 0.5, "fallback": ""})
    assert silent.choose(make_prediction(Cat=0.1)) == []


def test_renames_to_one_name_are_emitted_once(
    pm: ScenedPluginManager, make_prediction: MakePrediction
) -> None:
    options = {"min_probability": 0.1, "rename": {"Coast": "Meer", "Beach": "Meer"}}
    policy = build_policy(pm, "threshold", options)
    assert policy.choose(make_prediction(Beach=0.4, Coast=0.3)) == ["Meer"]


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"min_probability": 1.5}, "min_probability"),
        ({"min_probability": True}, "min_probability"),
        ({"top_k": 0}, "top_k"),
        ({"class_thresholds": {"Catt": 0.5}}, "class_thresholds.Catt"),
        ({"class_thresholds": {"Cat": "high"}}, "class_thresholds.Cat"),
        ({"exclude": "Cat"}, "exclude"),
        ({"exclude": ["Kat"]}, "exclude"),
        ({"rename": {"Cat": ""}}, "rename.Cat"),
        ({"colour": 1}, "colour"),
    ],
)
def test_bad_threshold_options_name_the_key(
    pm: ScenedPluginManager, options: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_policy(pm, "threshold", options)
    assert caught.value.key == key


def test_unknown_policy_lists_the_registered_ones(pm: ScenedPluginManager) -> None:
    with pytest.raises(PluginError, match=r"registered: default, precision, threshold"):
        build_policy(pm, "fancy", {})


def test_a_crashing_policy_factory_is_a_plugin_error(pm: ScenedPluginManager) -> None:
    from scened import hookimpl

    class BrokenPolicyPlugin:
        @hookimpl
        def register_policies(self, register: Callable[..., None]) -> None:
            register("broken", lambda options: 1 / 0)

    pm.register(BrokenPolicyPlugin(), name="broken-policy")
    with pytest.raises(PluginError, match=r"policy 'broken' could not be built: ZeroDivisionError"):
        build_policy(pm, "broken", {})


class _FakeModel:
    """A loaded model as policies see it: its labels and its model.json."""

    def __init__(self, classes: tuple[str, ...], metadata: dict[str, object]) -> None:
        self.classes = classes
        self.model_id = "fake-1"
        self.input_size = 32
        self.metadata = metadata

    def predict(self, batch: object) -> object:  # pragma: no cover - never called
        raise AssertionError


def test_precision_policy_writes_nothing_rather_than_a_doubtful_tag(
    pm: ScenedPluginManager, make_prediction: MakePrediction
) -> None:
    policy = build_policy(pm, "precision", {"min_probability": 0.4, "second_probability": 0.3})
    assert policy.choose(make_prediction(Cat=0.9, Dog=0.05)) == ["Cat"]
    assert policy.choose(make_prediction(Cat=0.5, Dog=0.35)) == ["Cat", "Dog"]
    assert policy.choose(make_prediction(Cat=0.5, Dog=0.25)) == ["Cat"]  # second not likely
    assert policy.choose(make_prediction(Cat=0.35, Dog=0.34)) == []  # never "Unknown"


def test_precision_policy_defaults_come_from_the_model(
    pm: ScenedPluginManager, make_prediction: MakePrediction
) -> None:
    from scened.model.runtime import Classifier

    model = _FakeModel(
        CLASSES, {"policies": {"precision": {"min_probability": 0.8, "second_probability": 0.9}}}
    )
    classifier: Classifier = model  # type: ignore[assignment]
    policy = build_policy(pm, "precision", {}, classifier=classifier)
    assert policy.choose(make_prediction(Cat=0.75)) == []
    assert policy.choose(make_prediction(Cat=0.85)) == ["Cat"]
    overridden = build_policy(pm, "precision", {"min_probability": 0.7}, classifier=classifier)
    assert overridden.choose(make_prediction(Cat=0.75)) == ["Cat"]


def test_class_names_are_checked_against_the_loaded_models_labels(
    pm: ScenedPluginManager,
) -> None:
    from scened.model.runtime import Classifier

    classifier: Classifier = _FakeModel(("Hund", "Katze"), {})  # type: ignore[assignment]
    policy = build_policy(pm, "threshold", {"rename": {"Katze": "Cat"}}, classifier=classifier)
    katze = Prediction((0.2, 0.8), ("Hund", "Katze"), "fake-1")
    assert policy.choose(katze) == ["Cat"]
    with pytest.raises(ConfigError, match="'Beach' is not one of the model's classes"):
        build_policy(pm, "threshold", {"exclude": ["Beach"]}, classifier=classifier)
    with pytest.raises(ConfigError, match="'Beach' is not one of the model's classes"):
        build_policy(pm, "precision", {"exclude": ["Beach"]}, classifier=classifier)


def test_precision_policy_uses_the_models_per_class_thresholds(
    pm: ScenedPluginManager, make_prediction: MakePrediction
) -> None:
    from scened.model.runtime import Classifier

    defaults = {"min_probability": 0.6, "second_probability": 0.9,
                "class_thresholds": {"Text document": 0.3, "Meme": 1.0}}  # fmt: skip
    model = _FakeModel(CLASSES, {"policies": {"precision": defaults}})
    classifier: Classifier = model  # type: ignore[assignment]
    policy = build_policy(pm, "precision", {}, classifier=classifier)
    assert policy.choose(make_prediction(Text_document=0.35)) == ["Text document"]
    assert policy.choose(make_prediction(Meme=0.99)) == []  # the model is never sure of memes
    assert policy.choose(make_prediction(Cat=0.55)) == []
    mine = build_policy(pm, "precision", {"min_probability": 0.5}, classifier=classifier)
    assert mine.choose(make_prediction(Meme=0.99)) == ["Meme"]  # the user's word holds
    with pytest.raises(ConfigError, match=r"class_thresholds\.Cat"):
        build_policy(pm, "precision", {"class_thresholds": {"Cat": 2}}, classifier=classifier)
