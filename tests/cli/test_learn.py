"""``scened labels`` and ``scened learn`` at the command line (subprocesses, real state)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from scened.daemon.state import StateDB
from scened.learning.head import PersonalHead
from scened.learning.personal import head_path, save_head
from scened.learning.store import add_labels


def scened(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCENED_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "scened", *args], capture_output=True,
                          text=True, env=env, check=False)  # fmt: skip


def setup(tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    library, state_dir = tmp_path / "photos", tmp_path / "state"
    photos = [library / name for name in ("a.jpg", "b.jpg", "c.jpg")]
    library.mkdir()
    for photo in photos:
        photo.write_bytes(b"not read by these commands")
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{state_dir}"\n[[libraries]]\nname = "family"\n'
                      f'path = "{library}"\n', encoding="utf-8")  # fmt: skip
    state = StateDB.open(state_dir)
    add_labels(state, "family", photos[0], [("Child", True), ("Baby", False)], "file")
    add_labels(state, "family", photos[1], [("Child", True)], "review")
    add_labels(state, "family", photos[2], [("Nature", False)], "file")
    state.close()
    return config, state_dir, photos


def test_labels_are_listed_as_text_and_json_and_exported_as_a_class_tree(tmp_path: Path) -> None:
    config, _, photos = setup(tmp_path)

    text = scened(config, "labels")
    as_json = scened(config, "labels", "--json", "family")
    exported = scened(config, "labels", "--export", str(tmp_path / "tree"))

    assert text.returncode == 0 and text.stdout.splitlines()[-1] == "4 labels"
    assert f"{photos[0]}: is not Baby (file," in text.stdout
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {(r["path"], r["class"], r["positive"], r["origin"]) for r in rows} == {
        (str(photos[0]), "Baby", False, "file"), (str(photos[0]), "Child", True, "file"),
        (str(photos[1]), "Child", True, "review"), (str(photos[2]), "Nature", False, "file"),
    }  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    links = sorted((tmp_path / "tree").rglob("*.jpg"))
    assert [(p.parent.name, p.readlink()) for p in links] == [
        ("Child", photos[0]),
        ("Child", photos[1]),
    ]


def test_learn_with_too_few_labels_says_so_in_one_line_and_keeps_the_bundled_model(
    tmp_path: Path,
) -> None:
    config, state_dir, _ = setup(tmp_path)

    result = scened(config, "learn", "family")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "library family: 4 labels, at least 10 are needed (correct some keywords in your "
        "photo manager or on the review page, then let scened scan)"
    ]
    assert not head_path(state_dir, "family").exists()


def test_learn_reset_goes_back_to_the_bundled_model(tmp_path: Path) -> None:
    config, state_dir, _ = setup(tmp_path)
    zeros = np.zeros(1, np.float32)
    save_head(state_dir, "family", PersonalHead("base", ("A",), zeros, zeros[:, None],
                                                zeros[:, None], zeros, 1.0))  # fmt: skip

    first = scened(config, "learn", "--reset", "family")
    second = scened(config, "learn", "--reset", "family")

    assert first.stdout == "family: back to the bundled model\n"
    assert second.stdout == "family: no personal model\n"
    assert not head_path(state_dir, "family").exists()
