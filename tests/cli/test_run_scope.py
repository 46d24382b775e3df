"""``scened run --once`` on a photo, or on a folder inside a configured library.

A photo given alone is tagged exactly as a scan of its folder would tag it (its
library is its folder, limited to that photo); a folder or photo inside a configured
library runs with that library's policy, sinks and state, only that part scanned and
pruned.  The colour classifier stands in for the model (tests/cli/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scened.cli import main

from ..daemon import daemon_helpers as helpers
from .test_run import keywords

pytestmark = pytest.mark.usefixtures("colour_classifier")


def status_of(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["status", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


@pytest.fixture
def configured(pictures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration whose library "family" is ``pictures``, with the "default" policy
    and a JSON log as its only sink (no keyword is written into the photos)."""
    config = tmp_path / "config.toml"
    config.write_text(f"""
state_dir = "{tmp_path / "state"}"
[[libraries]]
name = "family"
path = "{pictures}"
policy = {{type = "threshold", min_probability = 0.5}}
sinks = [{{type = "json", path = "{tmp_path / "tags.jsonl"}"}}]
""", encoding="utf-8")  # fmt: skip
    monkeypatch.setenv("SCENED_CONFIG", str(config))
    return config


def logged(tmp_path: Path) -> list[tuple[str, str]]:
    lines = (tmp_path / "tags.jsonl").read_text(encoding="utf-8").splitlines()
    return [(Path(r["path"]).name, r["library"]) for r in map(json.loads, lines)]


def test_a_subfolder_of_a_configured_library_runs_with_its_settings_and_state(
    configured: Path, pictures: Path, tmp_path: Path
) -> None:
    forest = pictures / "trip" / "forest.png"
    before = forest.read_bytes()

    result = CliRunner().invoke(main, ["run", "--once", str(pictures / "trip")])

    assert result.exit_code == 0, result.output
    assert ("forest.png", "family") in logged(tmp_path)  # the library's sink and name
    assert forest.read_bytes() == before  # no xmp sink in this library
    (report,) = status_of()  # listed once, as the configured library
    assert report["library"] == "family"
    assert report["state"] == str(tmp_path / "state" / "state.sqlite3")
    assert not (tmp_path / "xdg-state").exists()  # the configured state_dir only


def test_a_subfolder_run_scans_and_prunes_only_the_subfolder(
    configured: Path, pictures: Path, tmp_path: Path
) -> None:
    assert CliRunner().invoke(main, ["run", "--once"]).exit_code == 0
    assert sorted(logged(tmp_path)) == [("forest.png", "family"), ("sunset.jpg", "family")]
    helpers.make_photo(pictures / "new.jpg", "blue")  # outside the subfolder: left for later
    helpers.make_photo(pictures / "trip" / "lake.jpg", "blue")

    result = CliRunner().invoke(main, ["run", "--once", str(pictures / "trip")])

    assert result.exit_code == 0, result.output
    assert "2 found, 1 unchanged, 1 tagged" in result.output
    assert "0 failed, 0 pruned" in result.output  # sunset.jpg, outside, is not "gone"
    assert logged(tmp_path)[2:] == [("lake.jpg", "family")]
    (whole,) = status_of()
    assert (whole["known"], whole["pending"]) == (3, 1)  # sunset still known, new.jpg pending
    (trip,) = status_of(str(pictures / "trip"))
    assert (trip["library"], trip["path"], trip["known"], trip["pending"]) == (
        "family", str(pictures / "trip"), 2, 0,
    )  # fmt: skip


def test_a_photo_given_alone_is_tagged_as_part_of_its_folder(pictures: Path) -> None:
    forest = pictures / "trip" / "forest.png"
    before = forest.read_bytes()

    result = CliRunner().invoke(main, ["run", "--once", str(pictures / "sunset.jpg")])

    assert result.exit_code == 0, result.output
    assert f"{pictures}: 1 found, 0 unchanged, 1 tagged" in result.output
    assert keywords(pictures / "sunset.jpg") == ["Sunset"]
    assert forest.read_bytes() == before
    (report,) = status_of()  # its folder is the library, never the photo
    assert (report["library"], report["known"], report["pending"]) == (str(pictures), 1, 1)

    again = CliRunner().invoke(main, ["run", "--once", str(pictures)])
    assert "2 found, 1 unchanged, 1 tagged" in again.output  # the same library and state


def test_a_file_that_is_no_photo_is_refused_in_one_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello", encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "--once", str(notes)])
    assert result.exit_code == 1
    assert result.output == f"Error: {notes}: not a photo scened tags (by its name's suffix)\n"
    assert not (tmp_path / "xdg-state").exists()


def test_a_photo_inside_an_excluded_folder_is_left_as_a_scan_leaves_it(
    configured: Path, pictures: Path, tmp_path: Path
) -> None:
    config = configured.read_text(encoding="utf-8").replace(
        'name = "family"', 'name = "family"\nexclude = ["trip"]'
    )
    configured.write_text(config, encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "--once", str(pictures / "trip" / "forest.png")])
    assert result.exit_code == 0, result.output
    assert "0 found" in result.output
    assert not (tmp_path / "tags.jsonl").exists()
    assert [p.name for p in (pictures / "trip").iterdir()] == ["forest.png"]
