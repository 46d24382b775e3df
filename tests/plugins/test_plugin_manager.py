"""Plugins are found through entry points: first-party, third-party and broken ones."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from scened import hookimpl
from scened.config import parse_config
from scened.daemon.service import run_library, settings_for
from scened.errors import ConfigError, PluginError
from scened.plugins import ScenedPluginManager, get_plugin_manager, plugin_descriptions
from scened.policies import build_policy
from scened.sinks import build_sinks, registered_sinks
from scened.types import Prediction, TagResult

from ..daemon.daemon_helpers import ColourClassifier, make_photo
from ..metadata.photo_oracle import keyword_fields

PLUGIN_SOURCE = '''
"""A third-party scened plugin: one sink, one policy, and a photo_tagged listener."""
from scened import hookimpl

WRITTEN = []
TAGGED = []


class ListSink:
    def __init__(self, options):
        self.prefix = options.get("prefix", "")

    def write(self, result, *, dry_run=False):
        WRITTEN.append((self.prefix + result.path.name, result.tags, dry_run))

    def untag(self, path, *, dry_run=False):
        WRITTEN.append((self.prefix + path.name, (), dry_run))

    def close(self):
        pass


class HelloPolicy:
    def choose(self, prediction):
        return ["Hello " + prediction.top(1)[0][0]]


@hookimpl
def register_sinks(register):
    register("list", ListSink)


@hookimpl
def register_policies(register):
    register("hello", lambda options: HelloPolicy())


@hookimpl
def photo_tagged(path, tags, prediction, library, dry_run):
    TAGGED.append(dict(path=path, tags=tags, library=library, dry_run=dry_run))
'''


def write_distribution(site: Path, name: str, version: str, entry_points: dict[str, str]) -> None:
    """An installed distribution as importlib.metadata sees it: a .dist-info folder."""
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[scened]\n{lines}", encoding="utf-8")


@pytest.fixture
def third_party(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], ModuleType]]:
    """Installs ``scened-hello`` 1.2.3 (good) and ``scened-broken`` 0.1 (raises on import)."""
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "scened_hello_plugin.py").write_text(textwrap.dedent(PLUGIN_SOURCE), "utf-8")
    (site / "scened_broken_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    write_distribution(site, "scened-hello", "1.2.3", {"hello": "scened_hello_plugin"})
    write_distribution(site, "scened-broken", "0.1", {"broken": "scened_broken_plugin"})
    monkeypatch.syspath_prepend(str(site))
    yield lambda: sys.modules["scened_hello_plugin"]
    for module in ("scened_hello_plugin", "scened_broken_plugin"):
        sys.modules.pop(module, None)


def test_first_party_plugins_come_through_entry_points() -> None:
    described = {d["name"]: d for d in plugin_descriptions(get_plugin_manager())}
    assert described["sink_xmp"] == {
        "name": "sink_xmp",
        "distribution": "scened",
        "version": "0.1.0",
        "hooks": ["register_sinks"],
    }
    assert {"policies", "sink_xmp", "sink_sidecar", "sink_json", "sink_webhook"} <= set(described)
    assert sorted(registered_sinks(get_plugin_manager())) == ["json", "sidecar", "webhook", "xmp"]


def test_third_party_distribution_is_discovered_and_broken_one_skipped(
    third_party: Callable[[], ModuleType], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="scened.plugins"):
        pm = get_plugin_manager()
    described = {d["name"]: d for d in plugin_descriptions(pm)}
    assert described["hello"] == {
        "name": "hello",
        "distribution": "scened-hello",
        "version": "1.2.3",
        "hooks": ["photo_tagged", "register_policies", "register_sinks"],
    }
    assert "broken" not in described
    assert "skipping plugin 'broken'" in caplog.text and "boom at import" in caplog.text
    assert "xmp" in registered_sinks(pm)  # the others still load


def test_register_sinks_hook(third_party: Callable[[], ModuleType], tmp_path: Path) -> None:
    pm = get_plugin_manager()
    (sink,) = build_sinks(pm, [{"type": "list", "prefix": "p:"}])
    prediction = Prediction((0.9, 0.1), ("Cat", "Dog"), "m")
    sink.write(TagResult(tmp_path / "a.jpg", ("Cat",), prediction, "default"), dry_run=True)
    assert third_party().WRITTEN == [("p:a.jpg", ("Cat",), True)]


def test_register_policies_hook(third_party: Callable[[], ModuleType]) -> None:
    policy = build_policy(get_plugin_manager(), "hello", {})
    assert policy.choose(Prediction((0.2, 0.8), ("Cat", "Dog"), "m")) == ["Hello Dog"]


def test_photo_tagged_hears_the_keywords_a_run_wrote_into_each_jpeg(
    third_party: Callable[[], ModuleType], tmp_path: Path
) -> None:
    """The installed plugin's photo_tagged listener, through a real run of real JPEGs:
    what it is told is what exiftool then reads from each photo; a dry run tells it
    the same tags and writes nothing."""
    folder = tmp_path / "library"
    photos = [make_photo(folder / "red.jpg", "red"), make_photo(folder / "blue.jpg", "blue")]
    table = {"path": str(folder), "name": "home", "sinks": [{"type": "xmp"}]}
    config = parse_config({"state_dir": str(tmp_path / "state"), "libraries": [table]}, None)
    pm = get_plugin_manager()  # imports the installed scened-hello

    def run(dry_run: bool) -> list[dict[str, Any]]:
        heard: list[dict[str, Any]] = third_party().TAGGED
        heard.clear()
        summary = run_library(config.libraries[0], config=config, classifier=ColourClassifier(),
                              pm=pm, settings=settings_for(config, dry_run=dry_run))  # fmt: skip
        assert (summary.failed, summary.error) == (0, ""), summary
        return sorted(heard, key=lambda call: call["path"])

    before = [photo.read_bytes() for photo in photos]
    dry = run(dry_run=True)
    assert [photo.read_bytes() for photo in photos] == before
    assert [(c["path"].name, c["library"], c["dry_run"]) for c in dry] == [
        ("blue.jpg", "home", True), ("red.jpg", "home", True)
    ]  # fmt: skip

    wet = run(dry_run=False)
    assert [(c["path"].name, c["library"], c["dry_run"]) for c in wet] == [
        ("blue.jpg", "home", False), ("red.jpg", "home", False)
    ]  # fmt: skip
    assert [list(c["tags"]) for c in wet] == [["Sky"], ["Sunset"]]
    for call in wet:
        written = keyword_fields(call["path"])
        assert written["subject"] == written["iptc"] == list(call["tags"]), call
    assert [c["tags"] for c in wet] == [c["tags"] for c in dry]


def test_a_sink_name_registered_twice_is_an_error() -> None:
    pm = ScenedPluginManager()
    pm.add_hookspecs(sys.modules["scened.hookspecs"])

    class Twice:
        @staticmethod
        @hookimpl
        def register_sinks(register: Callable[[str, object], None]) -> None:
            register("xmp", object)
            register("xmp", object)

    pm.register(Twice(), name="twice")
    with pytest.raises(PluginError, match="sink 'xmp' is registered twice"):
        registered_sinks(pm)


@pytest.mark.parametrize(
    ("specs", "key"),
    [
        ([{"root": "x"}], "sinks[0].type"),
        ([{"type": "xmp"}, {"type": "carrier-pigeon"}], "sinks[1].type"),
        (["xmp"], "sinks[0]"),
    ],
)
def test_build_sinks_names_the_bad_entry(specs: list[object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_sinks(get_plugin_manager(), specs)  # type: ignore[arg-type]
    assert caught.value.key == key


def test_a_sink_factory_that_crashes_is_a_plugin_error() -> None:
    pm = ScenedPluginManager()
    pm.add_hookspecs(sys.modules["scened.hookspecs"])

    def factory(options: object) -> object:
        raise KeyError("oops")

    class Buggy:
        @staticmethod
        @hookimpl
        def register_sinks(register: Callable[[str, object], None]) -> None:
            register("buggy", factory)

    pm.register(Buggy(), name="buggy")
    with pytest.raises(PluginError, match=r"sinks\[0\]: sink 'buggy' could not be built: KeyError"):
        build_sinks(pm, [{"type": "buggy"}])


@pytest.mark.parametrize(
    ("setting", "loaded"),
    [
        ("", set()),
        ("hello", {"hello"}),
        (" scened_Hello , broken", {"hello"}),  # a distribution's name, as pip compares it
    ],
)
def test_scened_load_plugins_chooses_the_third_party_plugins(
    third_party: Callable[[], ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    loaded: set[str],
) -> None:
    monkeypatch.setenv("SCENED_LOAD_PLUGINS", setting)
    names = {str(d["name"]) for d in plugin_descriptions(get_plugin_manager())}
    assert names & {"hello", "broken"} == loaded
    assert {"classifiers", "policies", "sink_xmp"} <= names  # scened's own always load


def test_scened_load_plugins_warns_of_a_name_no_plugin_has(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SCENED_LOAD_PLUGINS", "scened-nonexistent")
    with caplog.at_level(logging.WARNING, logger="scened.plugins"):
        get_plugin_manager()
    assert "SCENED_LOAD_PLUGINS names 'scened-nonexistent'" in caplog.text


def test_a_plugin_with_a_hook_scened_lacks_is_skipped_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "scened_future_plugin.py").write_text(
        "from scened import hookimpl\n\n@hookimpl\ndef hook_from_the_future(x):\n    pass\n"
    )
    write_distribution(site, "scened-future", "9.0", {"future": "scened_future_plugin"})
    monkeypatch.syspath_prepend(str(site))
    try:
        with caplog.at_level(logging.WARNING, logger="scened.plugins"):
            pm = get_plugin_manager()
    finally:
        sys.modules.pop("scened_future_plugin", None)
    assert pm.get_plugin("future") is None
    assert "skipping plugin 'future'" in caplog.text and "hook_from_the_future" in caplog.text
    assert "xmp" in registered_sinks(pm)
