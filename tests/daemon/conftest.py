"""Fixtures for the daemon tests (the helpers themselves are in daemon_helpers.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scened.config import Config, parse_config
from scened.daemon.jobs import RunSummary
from scened.daemon.service import run_library, settings_for
from scened.plugins import ScenedPluginManager, get_plugin_manager

from . import daemon_helpers as helpers

HERE = Path(__file__).parent
ColourClassifier = helpers.ColourClassifier
RecorderPlugin = helpers.RecorderPlugin
ConfigFactory = helpers.ConfigFactory
Runner = helpers.Runner


@pytest.fixture
def classifier() -> ColourClassifier:
    return ColourClassifier()


@pytest.fixture
def recorder() -> RecorderPlugin:
    return RecorderPlugin()


@pytest.fixture
def pm(recorder: RecorderPlugin) -> ScenedPluginManager:
    manager = get_plugin_manager()
    manager.register(recorder, name="test-recorder")
    return manager


@pytest.fixture
def make_config(tmp_path: Path, library: Path) -> ConfigFactory:
    def factory(**library_options: Any) -> Config:
        table = {"path": str(library), "name": "lib", "sinks": [{"type": "record"}]}
        table.update(library_options)
        data = {"state_dir": str(tmp_path / "state"), "libraries": [table]}
        return parse_config(data, None)

    return factory


@pytest.fixture
def run_once(
    make_config: ConfigFactory, classifier: ColourClassifier, pm: ScenedPluginManager
) -> Runner:
    """Run the library once: ``run_once(dry_run=False, classifier=..., **library options)``."""

    def runner(
        *, dry_run: bool = False, retry_failed: bool = False,
        use: ColourClassifier | None = None, **library_options: Any,
    ) -> RunSummary:  # fmt: skip
        config = make_config(**library_options)
        settings = settings_for(config, dry_run=dry_run, retry_failed=retry_failed)
        return run_library(
            config.libraries[0], config=config, classifier=use or classifier, pm=pm,
            settings=settings,
        )  # fmt: skip

    return runner


@pytest.fixture(scope="session")
def colour_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model folder (model.tflite + labels.txt) built by make_colour_model.py."""
    folder = tmp_path_factory.mktemp("colour-model")
    subprocess.run(
        [sys.executable, str(HERE / "make_colour_model.py"), str(folder)],
        check=True,
        capture_output=True,
    )
    return folder
