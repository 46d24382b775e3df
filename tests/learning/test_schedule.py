"""``learn = {after_labels = N}``: the daemon's learning is due once N new labels arrived."""

from __future__ import annotations

from pathlib import Path

from scened.config import parse_config
from scened.daemon.state import StateDB
from scened.learning.schedule import learn_if_due
from scened.learning.store import add_labels
from scened.model import load_classifier


def test_learning_runs_once_enough_new_labels_arrived_and_is_not_repeated(
    tmp_path: Path,
) -> None:
    table = {"path": str(tmp_path / "photos"), "name": "lib", "learn": {"after_labels": 3}}
    config = parse_config({"state_dir": str(tmp_path / "state"), "libraries": [table]}, None)
    library, classifier = config.libraries[0], load_classifier()
    assert library.learn_after_labels == 3
    state = StateDB.open(config.state_dir)
    add_labels(state, "lib", tmp_path / "a.jpg", [("Beach", True), ("Coast", False)], "file")

    assert learn_if_due(config.state_dir, library, classifier) is None  # 2 < 3
    add_labels(state, "lib", tmp_path / "b.jpg", [("Beach", True)], "review")
    line = learn_if_due(config.state_dir, library, classifier)
    assert line is not None and line.startswith("learning skipped: library lib: 3 labels")
    assert learn_if_due(config.state_dir, library, classifier) is None  # not every scan
    state.close()


def test_without_the_setting_nothing_is_learnt(tmp_path: Path) -> None:
    table = {"path": str(tmp_path / "photos"), "name": "lib"}
    config = parse_config({"state_dir": str(tmp_path / "state"), "libraries": [table]}, None)
    assert learn_if_due(config.state_dir, config.libraries[0], load_classifier()) is None
