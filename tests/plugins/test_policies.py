"""The ``default`` and ``threshold`` tag policies, built through the plugin manager."""

from __future__ import annotations

from collections.abc import Callable

import pytest

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
    with pytest.raises(PluginError, match=r"registered: default, threshold"):
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
