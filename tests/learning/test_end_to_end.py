"""Corrections on real photos make a personal model that tags the rest of the library better.

The bundled model confuses two pairs systematically on real photos from ../shared:
a child is often a ``Baby`` (about a quarter of them), a nature scene a
``Mountain`` (about a third).  A library of such photos is tagged with the bundled
model; the user corrects about 40% of them in a photo manager (exiftool: the right
class added, scened's wrong keyword removed) and confirms or chooses on the review
page's backend; ``scened learn`` fits a personal model; the next run re-scores the
library from stored features (nothing decoded); and the other 60% of the photos,
which no label touched, are measured before and after.  Measured here: 40 photos
corrected (71 labels); on the 108 others top-1 went from 62.0% to 70.4% and the
photos carrying a wrong keyword from 41 to 32; the test requires +5 points and fewer
wrong keywords.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from scened.config import parse_config
from scened.daemon.service import run_library, settings_for
from scened.daemon.state import StateDB
from scened.learning.decide import Decision, apply_decision
from scened.learning.learn import learn_library
from scened.learning.store import list_labels
from scened.model import load_classifier
from scened.model.runtime import feature_classifier
from scened.plugins import get_plugin_manager

from ..conftest import SCENES

#: Class → photos of it in the library (the first of each class folder, sorted).
LIBRARY = {"Child": 60, "Baby": 30, "Nature": 60, "Mountain": 30}
#: Every n-th photo of a class (1 of 5 → 40% with two offsets) is corrected by the user.
LABELLED = (0, 2)


def keywords(photos: list[Path]) -> dict[Path, list[str]]:
    out = subprocess.run(["exiftool", "-j", "-XMP-dc:Subject", *map(str, photos)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    found = {}
    for entry in json.loads(out):
        value = entry.get("Subject", [])
        found[Path(entry["SourceFile"])] = [value] if isinstance(value, str) else list(value)
    return found


@pytest.mark.slow
def test_corrections_teach_a_personal_model_that_tags_the_other_photos_better(
    tmp_path: Path,
) -> None:
    library = tmp_path / "photos"
    truth: dict[Path, str] = {}
    for cls, count in LIBRARY.items():
        for i, source in enumerate(sorted((SCENES / cls).glob("*.jpg"))[:count]):
            target = library / cls.lower() / f"{cls.lower()}-{i:03d}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            truth[target] = cls
    labelled = {p for p in truth if int(p.stem[-3:]) % 5 in LABELLED}
    held_out = sorted(set(truth) - labelled)
    table = {"path": str(library), "name": "family", "sinks": [{"type": "xmp"}],
             "policy": {"type": "threshold", "min_probability": 0.0, "top_k": 1}}  # fmt: skip
    config = parse_config({"state_dir": str(tmp_path / "state"), "libraries": [table]}, None)
    pm = get_plugin_manager()
    base = load_classifier()
    settings = settings_for(config, dry_run=False)

    def scan() -> None:
        summary = run_library(config.libraries[0], config=config, classifier=base, pm=pm,
                              settings=settings)  # fmt: skip
        assert summary.ok, summary.line()

    def top1(state: StateDB, photos: list[Path]) -> float:
        rows = [state.get(p) for p in photos]
        hits = [r is not None and r.probabilities is not None
                and base.classes[int(np.argmax(r.probabilities))] == truth[r.path]
                for r in rows]  # fmt: skip
        return float(np.mean(hits))

    scan()
    state = StateDB.open(config.state_dir)
    before = top1(state, held_out)
    tagged_before = keywords(held_out)

    # the user's corrections: in a photo manager (exiftool), and on the review page
    by_page = sorted(labelled)[::4]
    removed: dict[Path, str] = {}
    for photo in sorted(labelled - set(by_page)):
        written = keywords([photo])[photo]
        wrong = [k for k in written if k != truth[photo]]
        if not wrong:
            continue  # right already: nothing for the user to correct
        edits = [f"-XMP-dc:Subject-={k}" for k in wrong] + [f"-XMP-dc:Subject+={truth[photo]}"]
        subprocess.run(["exiftool", "-q", "-overwrite_original", *edits, str(photo)], check=True)
        assert len(wrong) == 1  # top_k = 1: one keyword of scened's a photo
        removed[photo] = wrong[0]
    for photo in by_page:
        record = state.get(photo)
        assert record is not None
        kind = "confirm" if record.tags == (truth[photo],) else "choose"
        apply_decision(photo, Decision(kind, truth[photo]), library=config.libraries[0],  # type: ignore[arg-type]
                       state=state, pm=pm, classes=base.classes)  # fmt: skip
    scan()  # reads the corrections out of the edited photos
    labels = list_labels(state, ["family"])
    assert {lb.path for lb in labels} == set(removed) | set(by_page)
    assert {(lb.path, lb.class_name, lb.positive) for lb in labels if lb.origin == "file"} == {
        *((p, truth[p], True) for p in removed),
        *((p, k, False) for p, k in removed.items()),
    }

    source = feature_classifier(base)
    assert source is not None
    result = learn_library(state, config.state_dir, "family", source)
    c = result.comparison
    print(f"\ncross-validated agreement with the labels: bundled {c.bundled:.1%}, "
          f"personal {c.personal:.1%} ({c.labels} labels on {c.photos} photos)")  # fmt: skip
    assert result.adopted and c.personal > c.bundled

    summary = run_library(config.libraries[0], config=config, classifier=base, pm=pm,
                          settings=settings)  # fmt: skip
    assert summary.ok and summary.classified == 0, summary.line()  # re-scored, not decoded
    after = top1(state, held_out)
    tagged_after = keywords(held_out)
    wrong_before = sum(k != [truth[p]] for p, k in tagged_before.items())
    wrong_after = sum(k != [truth[p]] for p, k in tagged_after.items())
    print(f"held-out photos ({len(held_out)}): top-1 {before:.1%} -> {after:.1%}; "
          f"photos with a wrong keyword {wrong_before} -> {wrong_after}")  # fmt: skip
    assert after >= before + 0.05
    assert wrong_after < wrong_before
    for photo, keyword in removed.items():  # the user's decisions stand
        assert keyword not in keywords([photo])[photo], (photo, keyword)
    state.close()
