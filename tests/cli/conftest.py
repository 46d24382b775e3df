"""Fixtures of the tests that run ``scened run`` and ``scened status`` in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from scened.cli import run as cli_run
from scened.cli import status as cli_status

from ..daemon import daemon_helpers as helpers


@pytest.fixture
def colour_classifier(no_user_config: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The colour classifier of tests/daemon/daemon_helpers.py (red → Sunset, green →
    Forest, blue → Sky) instead of the bundled model, in an isolated configuration."""
    monkeypatch.setattr(
        cli_run, "classifier_from_config", lambda config, pm=None: helpers.ColourClassifier()
    )
    # the configured model is that one too
    monkeypatch.setattr(cli_status, "expected_model_id", lambda pm, path, name: "colour-1")


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    """``tmp_path/Pictures``: a red ``sunset.jpg`` and a green ``trip/forest.png``."""
    folder = tmp_path / "Pictures"
    helpers.make_photo(folder / "sunset.jpg", "red")
    helpers.make_photo(folder / "trip" / "forest.png", "green")
    return folder
