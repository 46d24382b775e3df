"""``scened classify`` on real photos with the bundled model, and on bad files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _scened(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scened", *args], capture_output=True, text=True, check=False
    )


def test_prints_top_three_and_tags(real_photos: list[Path]) -> None:
    result = _scened("classify", str(real_photos[0]), str(real_photos[1]))
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.strip().split("\n" + str(real_photos[1]))
    assert len(blocks) == 2
    for block in blocks:
        lines = block.strip().splitlines()
        assert len([line for line in lines if line.strip().endswith("%")]) == 3
        assert lines[-1].strip().startswith("tags: ")
    assert result.stderr == ""


def test_json_lines_and_a_failure_that_does_not_stop_the_others(
    real_photos: list[Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    result = _scened("classify", "--json", str(real_photos[2]), str(broken), str(real_photos[3]))
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in records] == [str(real_photos[2]), str(broken), str(real_photos[3])]
    good = records[0]
    assert len(good["top"]) == 3
    probabilities = [p for _, p in good["top"]]
    assert probabilities == sorted(probabilities, reverse=True)
    # the tags scened run would write: classes among the top ones, or none when unsure
    assert set(good["tags"]) <= {name for name, _ in good["top"][:2]}
    assert "truncated or corrupt" in records[1]["error"]
    assert "tags" in records[2]


@pytest.mark.parametrize("folder", ["Forest", "Text document", "Flower"])
def test_clear_photos_get_their_class(shared_dir: Path, folder: str) -> None:
    """Classes the model learnt well: the top class of a typical photo is right."""
    photos = sorted((shared_dir / "data" / "scenes" / "train" / folder).glob("*.jpg"))[-3:]
    result = _scened("classify", "--json", *map(str, photos))
    assert result.returncode == 0, result.stderr
    tops = [json.loads(line)["top"][0][0] for line in result.stdout.splitlines()]
    assert tops.count(folder) >= 2, tops


def test_text_file_named_jpg(tmp_path: Path) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("shopping list")
    result = _scened("classify", "--json", str(notes))
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "path": str(notes),
        "error": "not an image file (the content matches no known format)",
    }


def test_missing_model_is_one_clear_line(tmp_path: Path, real_photos: list[Path]) -> None:
    result = _scened("classify", "--model", str(tmp_path / "nowhere"), str(real_photos[0]))
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "model folder not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_registered_model_by_name_and_the_spec_formula_on_request(
    real_photos: list[Path],
) -> None:
    photo = str(real_photos[0])
    default = json.loads(_scened("classify", "--json", photo).stdout)
    spec_model = _scened("classify", "--json", "--model-name", "scenes-mnv2", photo)
    assert spec_model.returncode == 0, spec_model.stderr
    assert json.loads(spec_model.stdout)["top"] != default["top"]  # another model answered
    spec_formula = json.loads(_scened("classify", "--json", "--policy", "default", photo).stdout)
    assert spec_formula["tags"]  # the SPEC's formula always writes something ("Unknown" at worst)
    unknown = _scened("classify", "--model-name", "nope", photo)
    assert unknown.returncode != 0 and "unknown model name 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_a_folder_stands_for_every_photo_below_it(real_photos: list[Path], tmp_path: Path) -> None:
    """The photos a run would tag (scened.formats suffixes, any case), recursively, in
    the order of their paths; hidden files and other files are left out."""
    folder = tmp_path / "Pictures"
    (folder / "2023" / "05").mkdir(parents=True)
    (folder / ".thumbnails").mkdir()
    shutil.copy(real_photos[0], folder / "b.JPG")
    shutil.copy(real_photos[1], folder / "2023" / "05" / "a.jpeg")
    shutil.copy(real_photos[2], folder / ".thumbnails" / "c.jpg")
    (folder / "notes.txt").write_text("not a photo", encoding="utf-8")

    result = _scened("classify", "--json", str(folder), str(real_photos[3]))

    assert result.returncode == 0, result.stderr
    paths = [json.loads(line)["path"] for line in result.stdout.splitlines()]
    assert paths == [str(folder / "2023" / "05" / "a.jpeg"), str(folder / "b.JPG"),
                     str(real_photos[3])]  # fmt: skip
