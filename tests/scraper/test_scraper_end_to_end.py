"""From search results to a working model: scrape three classes, train, classify.

The local engine serves real labelled photos; the scraped folder goes through the real
training command and the model it writes through ``scened classify``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .scraper_fake_engine import FakeEngine
from .test_scraper_cli import REPO, local_engine, scrape

CLASSES = ("Beach", "Cat", "Forest")
PER_CLASS = 8


def run_tool(args: list[str | Path], home: Path) -> subprocess.CompletedProcess[str]:
    """Run a project command with its caches in ``home``; fail the test if it fails."""
    env = {**os.environ, "XDG_CACHE_HOME": str(home / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        list(map(str, args)), cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_scraped_classes_train_a_model_that_classifies_a_new_photo(
    engine: FakeEngine, photos: dict[str, list[bytes]], tmp_path: Path
) -> None:
    for name in CLASSES:
        engine.results[name] = [
            engine.serve(f"/e2e/{name}/{i}.jpg", photo)
            for i, photo in enumerate(photos[name][:PER_CLASS])
        ]
    data, model = tmp_path / "data", tmp_path / "model"
    scraped = scrape(*CLASSES, "-n", str(PER_CLASS), "-o", data, *local_engine(engine))
    assert scraped.returncode == 0, scraped.stderr
    for name in CLASSES:
        assert len(list((data / name).glob("*.jpg"))) == PER_CLASS

    train: list[str | Path] = [sys.executable, "-m", "scened_training", "--data", data]
    run_tool([*train, "--out", model, "--epochs", "2"], tmp_path)
    assert (model / "model.tflite").is_file()

    unseen = tmp_path / "unseen-cat.jpg"
    unseen.write_bytes(photos["Cat"][PER_CLASS])  # a photo the scraper never served
    scened = Path(sys.executable).parent / "scened"
    classified = run_tool([scened, "classify", "--model", model, "--json", unseen], tmp_path)
    record = json.loads(classified.stdout.strip().splitlines()[-1])
    ranked = [name for name, _ in record["top"]]
    assert ranked[0] in CLASSES, record
    assert sorted(ranked[:3]) == sorted(CLASSES), record  # the only classes it has seen
