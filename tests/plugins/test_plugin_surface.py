"""The plugin surface: BaseSink, stacked policies, run events and plugin commands.

Each hook is exercised by a real plugin registered with a real plugin manager;
the run events by a real library run (the colour classifier of the daemon tests
stands in for the model).  docs/plugins.md's package does the same from outside
(test_third_party_package.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from scened import hookimpl
from scened.cli import main, plugin_commands
from scened.config import InvalidConfigError, parse_config
from scened.daemon.jobs import RunSummary
from scened.daemon.service import run_library, settings_for
from scened.errors import ConfigError, PluginError
from scened.hookspecs import RegisterPolicy
from scened.plugin_api import BaseSink, PluginContext, Prediction, Replaced, TagResult
from scened.plugins import ScenedPluginManager, get_plugin_manager
from scened.policies import STACK, StackedPolicy, build_policy
from scened.sinks import for_writers

from ..daemon.daemon_helpers import ColourClassifier, RecorderPlugin, make_photo


@pytest.fixture
def pm(monkeypatch: pytest.MonkeyPatch) -> ScenedPluginManager:
    """scened's own plugins only, whatever else the virtualenv holds."""
    monkeypatch.setenv("SCENED_LOAD_PLUGINS", "")
    return get_plugin_manager()


# -- BaseSink ---------------------------------------------------------------------------


class ListSink(BaseSink):
    def __init__(self) -> None:
        self.written: list[tuple[str, ...]] = []

    def write(self, result: TagResult, *, dry_run: bool = False) -> Replaced | None:
        self.written.append(result.tags)
        return None


def test_base_sink_needs_only_write(tmp_path: Path) -> None:
    sink = ListSink()
    result = TagResult(tmp_path / "a.jpg", ("Sky",), Prediction((1.0,), ("Sky",), "m"), "p")
    assert sink.write(result) is None and sink.written == [("Sky",)]
    assert sink.untag(tmp_path / "a.jpg") is None
    assert sink.close() is None

    class NoWrite(BaseSink):
        pass

    with pytest.raises(TypeError, match="write"):
        NoWrite()  # type: ignore[abstract]


def test_base_sink_is_called_one_at_a_time_unless_it_says_thread_safe() -> None:
    class Parallel(ListSink):
        thread_safe = True

    plain, parallel = ListSink(), Parallel()
    wrapped, as_is = for_writers([plain, parallel])
    assert wrapped is not plain and wrapped.sink is plain
    assert as_is is parallel


# -- stacked policies ---------------------------------------------------------------------


class Shout:
    """Refines only: upper-cases the tags chosen before it."""

    def refine(self, prediction: Prediction, tags: list[str]) -> list[str]:
        return [tag.upper() for tag in tags]


class Top:
    """Chooses only: the top class."""

    def choose(self, prediction: Prediction) -> list[str]:
        return [prediction.top(1)[0][0]]


class PolicyPlugin:
    @hookimpl
    def register_policies(self, register: RegisterPolicy) -> None:
        register("shout", lambda options: Shout())
        register("top", lambda options: Top())


@pytest.fixture
def stacking(pm: ScenedPluginManager) -> ScenedPluginManager:
    pm.register(PolicyPlugin(), name="stacking")
    return pm


def test_later_policies_refine_what_the_first_chose(stacking: ScenedPluginManager) -> None:
    options = {"policies": [{"type": "threshold", "min_probability": 0.25, "top_k": 2},
                            {"type": "shout"}, {"type": "shout"}]}  # fmt: skip
    policy = build_policy(stacking, STACK, options)
    assert isinstance(policy, StackedPolicy)
    prediction = Prediction((0.5, 0.3, 0.2), ("Beach", "Sky", "Cat"), "m")
    assert policy.choose(prediction) == ["BEACH", "SKY"]
    alone = build_policy(stacking, "threshold", {"min_probability": 0.25, "top_k": 2})
    assert alone.choose(prediction) == ["Beach", "Sky"]  # threshold itself is unchanged


@pytest.mark.parametrize(
    ("policies", "key", "message"),
    [
        ([{"type": "shout"}], "policies[1].type", "cannot come first"),
        ([{"type": "threshold"}, {"type": "top"}], "policies[2].type", "cannot follow"),
        ([{"type": "threshold"}, {"type": "nope"}], "policies[2].type", "unknown policy"),
        ([{"type": "threshold", "top_k": 0}], "policies[1].top_k", "must be between"),
        ([{"type": "threshold"}, "shout"], "policies[2]", "must be a table"),
        ([], "policies", "non-empty list"),
    ],
)
def test_a_bad_stack_names_the_part_at_fault(
    stacking: ScenedPluginManager, policies: list[object], key: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        build_policy(stacking, STACK, {"policies": policies})
    assert caught.value.key == key


def test_a_policy_that_only_refines_cannot_stand_alone(stacking: ScenedPluginManager) -> None:
    with pytest.raises(PluginError, match="'shout' only refines the tags another chose"):
        build_policy(stacking, "shout", {})


def test_no_plugin_may_register_the_stack(pm: ScenedPluginManager) -> None:
    class Impostor:
        @hookimpl
        def register_policies(self, register: RegisterPolicy) -> None:
            register(STACK, lambda options: Top())

    pm.register(Impostor(), name="impostor")
    with pytest.raises(PluginError, match="'stack' is built in"):
        build_policy(pm, "threshold", {})


def test_a_list_of_policies_in_the_configuration_is_a_stack(tmp_path: Path) -> None:
    table = {"path": str(tmp_path), "policy": [{"type": "threshold"}, {"type": "translate"}]}
    config = parse_config({"libraries": [table]}, None)
    (library,) = config.libraries
    assert library.policy_name == STACK
    assert library.policy_options == {"policies": table["policy"]}
    with pytest.raises(InvalidConfigError, match="policy"):
        parse_config({"libraries": [{"path": str(tmp_path), "policy": []}]}, None)


# -- factories' context ---------------------------------------------------------------------


class TopOnly:
    def choose(self, prediction: Prediction) -> list[str]:
        return [prediction.top(1)[0][0]]


class ContextPlugin:
    """A policy and a sink whose factories take the run's context and keep it."""

    def __init__(self) -> None:
        self.seen: dict[str, PluginContext] = {}

    @hookimpl
    def register_policies(self, register: RegisterPolicy) -> None:
        def factory(options: Any, context: PluginContext) -> TopOnly:
            self.seen["policy"] = context
            return TopOnly()

        register("top-only", factory)

    @hookimpl
    def register_sinks(self, register: Any) -> None:
        def factory(options: Any, context: PluginContext) -> ListSink:
            self.seen["sink"] = context
            return ListSink()

        register("remember", factory)


@pytest.mark.parametrize("dry_run", [False, True])
def test_policy_and_sink_factories_are_told_the_run_they_are_built_for(
    pm: ScenedPluginManager, tmp_path: Path, dry_run: bool
) -> None:
    plugin = ContextPlugin()
    pm.register(plugin, name="context")
    folder = tmp_path / "library"
    make_photo(folder / "red.jpg", "red")
    table = {"path": str(folder), "name": "holiday", "sinks": [{"type": "remember"}],
             "policy": {"type": "top-only"}}  # fmt: skip
    config = parse_config({"state_dir": str(tmp_path / "state"), "libraries": [table]}, None)
    classifier = ColourClassifier()

    summary = run_library(config.libraries[0], config=config, classifier=classifier, pm=pm,
                          settings=settings_for(config, dry_run=dry_run))  # fmt: skip

    assert summary.ok and summary.tagged == 1
    for made in ("policy", "sink"):
        context = plugin.seen[made]
        assert (context.library, context.library_path) == ("holiday", folder)
        assert context.labels == tuple(classifier.classes)
        assert context.model_id == classifier.model_id
        assert context.dry_run is dry_run
        assert context.state_dir == tmp_path / "state"


# -- run events ----------------------------------------------------------------------------


class EventsPlugin:
    def __init__(self) -> None:
        self.failed: list[tuple[str, str, str]] = []
        self.scanned: list[RunSummary] = []

    @hookimpl
    def photo_failed(self, path: Path, error: str, library: str) -> None:
        self.failed.append((path.name, error, library))

    @hookimpl
    def library_scanned(self, summary: RunSummary) -> None:
        self.scanned.append(summary)


class BrokenEventsPlugin:
    @hookimpl
    def photo_failed(self, path: Path) -> None:
        raise RuntimeError("photo_failed boom")

    @hookimpl
    def library_scanned(self) -> None:
        raise RuntimeError("library_scanned boom")


def run_library_once(pm: ScenedPluginManager, tmp_path: Path, **library: Any) -> RunSummary:
    folder = tmp_path / "library"
    make_photo(folder / "red.jpg", "red")
    make_photo(folder / "blue.jpg", "blue")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a JPEG")
    table = {"path": str(folder), "name": "lib", "sinks": [{"type": "record"}], **library}
    config = parse_config({"state_dir": str(tmp_path / "state"), "libraries": [table]}, None)
    return run_library(config.libraries[0], config=config, classifier=ColourClassifier(),
                       pm=pm, settings=settings_for(config, dry_run=False))  # fmt: skip


def test_run_events_report_each_failure_and_the_summary(
    stacking: ScenedPluginManager, tmp_path: Path
) -> None:
    events, recorder = EventsPlugin(), RecorderPlugin()
    stacking.register(events, name="events")
    stacking.register(recorder, name="recorder")
    policy = [{"type": "threshold", "min_probability": 0.5, "top_k": 1}, {"type": "shout"}]
    summary = run_library_once(stacking, tmp_path, policy=policy)

    assert [(name, library) for name, _, library in events.failed] == [("broken.jpg", "lib")]
    assert events.failed[0][1] == summary.failures[0][1]
    assert events.scanned == [summary] and (summary.tagged, summary.failed) == (2, 1)
    assert sorted((path.name, tags) for path, tags, _ in recorder.writes) == [
        ("blue.jpg", ("SKY",)), ("red.jpg", ("SUNSET",))
    ]  # fmt: skip


def test_a_raising_event_is_logged_not_raised(
    pm: ScenedPluginManager, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pm.register(RecorderPlugin(), name="recorder")
    pm.register(BrokenEventsPlugin(), name="broken-events")
    with caplog.at_level(logging.WARNING, logger="scened.daemon.runner"):
        summary = run_library_once(pm, tmp_path)
    assert (summary.tagged, summary.failed, summary.error) == (2, 1, "")
    assert "a photo_failed hook failed" in caplog.text
    assert "lib: a library_scanned hook failed" in caplog.text


# -- register_commands ----------------------------------------------------------------------


class CommandsPlugin:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command()
        def greet() -> None:
            """Say hi."""
            click.echo("hi from a plugin")

        @cli.command(name="run")
        def not_run() -> None:
            """Would hide scened run."""


class BrokenCommandsPlugin:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command()
        def half() -> None:
            """Added before the plugin failed."""

        raise RuntimeError("commands boom")


def test_plugin_commands_skip_broken_plugins_and_taken_names(
    pm: ScenedPluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    pm.register(CommandsPlugin(), name="commands")
    pm.register(BrokenCommandsPlugin(), name="broken-commands")
    with caplog.at_level(logging.WARNING, logger="scened.cli"):
        found = plugin_commands(pm, taken={"run", "status"})
    assert sorted(found) == ["greet"]
    assert "skipping the commands of plugin 'broken-commands'" in caplog.text
    assert "commands boom" in caplog.text
    assert "plugin 'commands': command 'run' is taken" in caplog.text


def test_scened_runs_a_plugin_command(
    pm: ScenedPluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    pm.register(CommandsPlugin(), name="commands")
    monkeypatch.setattr("scened.cli.get_plugin_manager", lambda: pm)
    runner = CliRunner()
    assert runner.invoke(main, ["greet"]).output == "hi from a plugin\n"
    assert "greet" in runner.invoke(main, ["--help"]).output
    assert runner.invoke(main, ["nope"]).exit_code == 2


def test_commands_are_not_collected_for_a_built_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_plugins() -> None:
        raise AssertionError("plugins were loaded for a built-in command")

    monkeypatch.setattr("scened.cli.get_plugin_manager", no_plugins)
    assert CliRunner().invoke(main, ["config", "--help"]).exit_code == 0
