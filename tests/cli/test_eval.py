"""``scened eval`` end to end: real labelled photos, the bundled model, bad trees and files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scened.model import load_classifier
from scened.policies import WRITE_POLICY

TREE_CLASSES = ("Beach", "Cat", "Forest", "Night", "Text document")
PER_CLASS = 3
KEYS = {
    "model", "policy", "photos", "failed", "top1_correct", "top1_accuracy",
    "top1_acceptable_correct", "top1_acceptable", "top2_correct", "top2_accuracy",
    "tag_hits", "tag_hit_rate", "tags_written", "tags_acceptable", "tag_precision",
    "untagged", "untagged_share", "ece", "ece_bins", "per_class", "confusions",
    "failures", "ignored_folders",
}  # fmt: skip


def _scened(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scened", *args], capture_output=True, text=True, check=False
    )


def _json(*args: str) -> tuple[int, dict[str, Any]]:
    result = _scened("eval", "--json", *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.fixture
def tree(shared_dir: Path, tmp_path: Path) -> Path:
    """``tmp_path/tree/<Class>/`` with the first photos of a few classes of the train set."""
    root = tmp_path / "tree"
    for name in TREE_CLASSES:
        photos = sorted((shared_dir / "data" / "scenes" / "train" / name).glob("*.jpg"))
        (root / name).mkdir(parents=True)
        for photo in photos[:PER_CLASS]:
            shutil.copy2(photo, root / name / photo.name)
    return root


def test_json_report_on_real_photos(tree: Path) -> None:
    status, report = _json(str(tree), "--batch-size", "4")
    assert status == 0
    assert set(report) == KEYS
    model = load_classifier()
    assert (report["model"], report["policy"]) == (model.model_id, WRITE_POLICY)
    assert report["ece_bins"] == 15
    photos = report["photos"]
    assert photos == len(TREE_CLASSES) * PER_CLASS
    assert (report["failed"], report["failures"], report["ignored_folders"]) == (0, [], [])
    per_class = report["per_class"]
    assert {c["class"]: c["support"] for c in per_class} == dict.fromkeys(TREE_CLASSES, PER_CLASS)
    recalls = [c["recall"] for c in per_class]
    assert recalls == sorted(recalls)
    assert sum(c["correct"] for c in per_class) == report["top1_correct"]
    confusions = report["confusions"]
    assert sum(c["count"] for c in confusions) == photos - report["top1_correct"]
    assert all(c["truth"] != c["predicted"] and c["predicted"] in model.classes for c in confusions)
    assert [c["count"] for c in confusions] == sorted(
        (c["count"] for c in confusions), reverse=True
    )
    # No acceptable classes were given, so "acceptable" is the strict figure.
    assert report["top1_acceptable_correct"] == report["top1_correct"] <= report["top2_correct"]
    assert report["top2_correct"] <= photos
    tagged = photos - report["untagged"]
    assert report["tags_written"] >= tagged  # a tagged photo has at least one tag
    assert report["tags_acceptable"] <= report["tags_written"]
    assert report["tag_hits"] <= tagged
    for rate, count, whole in [
        ("top1_accuracy", "top1_correct", "photos"),
        ("top2_accuracy", "top2_correct", "photos"),
        ("tag_hit_rate", "tag_hits", "photos"),
        ("tag_precision", "tags_acceptable", "tags_written"),
        ("untagged_share", "untagged", "photos"),
    ]:
        assert report[rate] == round(report[count] / report[whole], 6), rate
    assert 0.0 <= report["ece"] <= 1.0
    # The bundled model knows these classes: most typical photos get their own label.
    assert report["top1_correct"] >= photos // 2


def test_acceptable_classes_change_only_the_acceptable_figures(tree: Path) -> None:
    _, strict = _json(str(tree))
    labels = load_classifier().classes
    tsv = tree.parent / "acceptable.tsv"
    lines = [
        f"{photo.relative_to(tree).as_posix()}\t" + ",".join(set(labels) - {photo.parent.name})
        for photo in sorted(tree.rglob("*.jpg"))
    ]
    tsv.write_text("# every class is acceptable for every photo\n" + "\n".join(lines) + "\n")
    status, lenient = _json(str(tree), "--acceptable", str(tsv))
    assert status == 0
    assert lenient["top1_acceptable_correct"] == lenient["photos"]
    assert lenient["top1_acceptable"] == 1.0
    for key in ("top1_correct", "top2_correct", "per_class", "confusions", "ece", "untagged"):
        assert lenient[key] == strict[key], key
    assert lenient["tags_written"] == strict["tags_written"]
    # Every class name is acceptable now: only tags that are no class (Unknown) are not,
    # so every tagged photo with a class tag is a hit.
    assert lenient["tag_hits"] >= strict["tag_hits"]
    assert lenient["tags_acceptable"] >= strict["tags_acceptable"]
    assert lenient["tag_hits"] <= lenient["photos"] - lenient["untagged"]


def test_a_corrupt_photo_is_reported_and_the_others_scored(tree: Path) -> None:
    real = sorted((tree / "Cat").glob("*.jpg"))[0].read_bytes()
    (tree / "Cat" / "truncated.jpg").write_bytes(real[: len(real) // 3])
    (tree / "Night" / "notes.jpg").write_text("not a photo")
    status, report = _json(str(tree))
    assert status == 1
    assert report["photos"] == len(TREE_CLASSES) * PER_CLASS
    assert report["failed"] == 2
    assert report["photos"] + report["failed"] == len(list(tree.rglob("*.jpg")))
    assert [f["path"] for f in report["failures"]] == ["Cat/truncated.jpg", "Night/notes.jpg"]
    truncated, text = (f["reason"] for f in report["failures"])
    assert truncated.startswith("cannot decode (truncated or corrupt?)")
    assert text == "not an image file (the content matches no known format)"
    assert {c["class"]: c["support"] for c in report["per_class"]}["Cat"] == PER_CLASS

    table = _scened("eval", str(tree))
    assert table.returncode == 1
    assert table.stderr == ""  # no progress bar and no stray lines away from a terminal
    out = table.stdout
    heading = f"{report['photos']} photos scored in {len(TREE_CLASSES)} classes"
    assert out.startswith(f"{heading} (model {report['model']}, policy {WRITE_POLICY})\n")
    for label in ("top-1 accuracy", "top-1 acceptable", "top-2 accuracy", "tag hit rate",
                  "tag precision", "photos left untagged", "calibration (ECE)"):  # fmt: skip
        assert re.search(rf"^  {re.escape(label)} +\d+\.\d%", out, re.MULTILINE), label
    assert re.search(r"^  failed +2$", out, re.MULTILINE)
    section = out.split("Per-class recall, worst first:\n")[1].split("\n\n")[0].splitlines()
    rows = [re.fullmatch(r"  (.+?) +(\d+\.\d)%  \((\d+)/(\d+)\)", line) for line in section]
    parsed = [(m[1], int(m[3]), int(m[4])) for m in rows if m]
    assert parsed == [(c["class"], c["correct"], c["support"]) for c in report["per_class"]]
    percents = [float(m[2]) for m in rows if m]
    assert percents == sorted(percents)
    assert "Not scored:\n  Cat/truncated.jpg: " in out
    assert "  Night/notes.jpg: not an image file" in out


def test_unknown_class_folder_is_one_line_unless_ignored(tree: Path) -> None:
    shutil.copytree(tree / "Beach", tree / "Beaches")
    result = _scened("eval", str(tree))
    assert result.returncode == 65
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert (
        f"{tree / 'Beaches'}: folder 'Beaches' is not one of the model's classes" in result.stderr
    )
    assert "did you mean 'Beach'?" in result.stderr

    status, report = _json(str(tree), "--ignore-unknown-classes")
    assert status == 0
    assert report["ignored_folders"] == ["Beaches"]
    assert report["photos"] == len(TREE_CLASSES) * PER_CLASS


def test_malformed_acceptable_tsv_names_the_line(tree: Path) -> None:
    photo = sorted((tree / "Beach").glob("*.jpg"))[0].name
    tsv = tree.parent / "acceptable.tsv"
    tsv.write_text(f"# path\tclasses\nBeach/{photo}\tCoast\nBeach/{photo} Sunset\n")
    result = _scened("eval", str(tree), "--acceptable", str(tsv))
    assert result.returncode == 65
    assert result.stdout == ""
    assert result.stderr == (f"Error: {tsv}: line 3: expected <path><TAB><Class>[,<Class>…]\n")
