"""`scened run --once` and `scened status` in-process, with the real xmp sink.

The model is not what these tests are about: ``classifier_from_config`` is replaced
by the colour classifier of tests/daemon/daemon_helpers.py (red → Sunset, green →
Forest, blue → Sky).  exiftool is the oracle for what was written.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from scened.cli import main
from scened.cli import run as cli_run
from scened.cli import status as cli_status

from ..daemon import daemon_helpers as helpers


def keywords(path: Path) -> list[str]:
    out = subprocess.run(
        ["exiftool", "-j", "-Subject", "-Keywords", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    record = json.loads(out)[0]
    subject = record.get("Subject", [])
    return [subject] if isinstance(subject, str) else list(subject)


pytestmark = pytest.mark.usefixtures("colour_classifier")


@pytest.fixture
def library(pictures: Path) -> Path:
    return pictures


def test_run_once_without_any_configuration_tags_and_summarises(
    library: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, ["run", "--once", str(library)])

    assert result.exit_code == 0, result.output
    assert "2 found, 0 unchanged, 2 tagged (2 classified" in result.output
    assert keywords(library / "sunset.jpg") == ["Sunset"]
    assert keywords(library / "trip" / "forest.png") == ["Forest"]
    assert (tmp_path / "xdg-state" / "scened" / "state.sqlite3").is_file()

    again = CliRunner().invoke(main, ["run", "--once", str(library)])
    assert "2 found, 2 unchanged, 0 tagged" in again.output


def test_a_failed_photo_is_listed_and_makes_the_exit_status_1(library: Path) -> None:
    (library / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")

    result = CliRunner().invoke(main, ["run", "--once", str(library)])

    assert result.exit_code == 1
    assert "2 tagged" in result.output and "1 failed" in result.output
    assert f"failed: {library / 'broken.jpg'}: damaged JPEG" in result.output
    assert keywords(library / "sunset.jpg") == ["Sunset"]


def test_dry_run_shows_what_would_be_written_and_changes_nothing(
    library: Path, tmp_path: Path
) -> None:
    before = {p: p.read_bytes() for p in library.rglob("*") if p.is_file()}

    result = CliRunner().invoke(main, ["run", "--once", "--dry-run", str(library)])

    assert result.exit_code == 0, result.output
    assert f"would tag {library / 'sunset.jpg'}: Sunset" in result.output
    assert "2 would tag" in result.output
    assert {p: p.read_bytes() for p in library.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "xdg-state").exists()


def test_missing_folder_is_reported_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--once", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "library failed:" in result.output and "No such file or directory" in result.output


def test_usage_errors(tmp_path: Path) -> None:
    daemon_with_folder = CliRunner().invoke(main, ["run", str(tmp_path)])
    assert daemon_with_folder.exit_code == 2
    assert "go with --once" in daemon_with_folder.output

    nothing = CliRunner().invoke(main, ["run", "--once"])
    assert nothing.exit_code == 78
    assert nothing.output.strip() == (
        "Error: configuration: libraries: nothing to scan: give folders or configure [[libraries]]"
    )


def test_status_reports_known_tagged_pending_failed_and_model(library: Path) -> None:
    (library / "broken.png").write_bytes(b"")
    CliRunner().invoke(main, ["run", "--once", str(library)])
    helpers.make_photo(library / "new.jpg", "blue")

    result = CliRunner().invoke(main, ["status", "--json", str(library)])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["library"] == str(library.resolve())
    assert (report["known"], report["tagged"], report["failed"]) == (3, 2, 1)
    assert report["pending"] == 1
    assert report["model"] == "colour-1" and report["last_run"]
    text = CliRunner().invoke(main, ["status", str(library)]).output
    assert "known 3, tagged 2 (0 without a confident tag), pending 1, failed 1" in text


def test_status_without_config_or_paths_lists_libraries_run_ad_hoc(library: Path) -> None:
    empty = CliRunner().invoke(main, ["status"])
    assert empty.exit_code == 0
    assert "none run yet" in empty.output
    CliRunner().invoke(main, ["run", "--once", str(library)])

    result = CliRunner().invoke(main, ["status", "--json"])

    assert result.exit_code == 0, result.output
    (report,) = [json.loads(line) for line in result.output.splitlines()]
    assert report["library"] == str(library.resolve())
    assert report["tagged"] == 2 and report["pending"] == 0


def test_leftover_temporary_copies_are_removed_and_fresh_ones_kept(library: Path) -> None:
    """A SIGKILLed scened can leave ``.<stem>.<random>.scened-tmp.jpg`` beside a photo."""
    stale = library / "trip" / ".forest.k2j4h1.scened-tmp.png"
    fresh = library / ".sunset.q8w7e6.scened-tmp.jpg"  # maybe a write in progress
    stale.write_bytes((library / "trip" / "forest.png").read_bytes())
    fresh.write_bytes((library / "sunset.jpg").read_bytes())
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))

    dry = CliRunner().invoke(main, ["run", "--once", "--dry-run", str(library)])
    assert dry.exit_code == 0 and stale.exists()

    result = CliRunner().invoke(main, ["run", "--once", str(library)])

    assert result.exit_code == 0, result.output
    assert "2 found" in result.output  # temporary copies are never taken for photos
    assert not stale.exists()
    assert fresh.exists()


def test_settle_waits_for_photos_just_copied_in(
    library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--settle: the photos were written a moment ago, so the run waits (on the test's
    clock, which moves only when scened sleeps) before it reads them."""
    import time

    from scened.daemon import settle

    start, slept = time.time(), [0.0]
    monkeypatch.setattr(settle, "now", lambda: start + slept[0])
    monkeypatch.setattr(settle, "sleep", lambda seconds: slept.__setitem__(0, slept[0] + seconds))
    result = CliRunner().invoke(main, ["run", "--once", "--settle", "30", str(library)])
    assert result.exit_code == 0, result.output
    assert "2 tagged" in result.output and "skipped" not in result.output
    assert 29 <= slept[0] <= 31  # one wait, as long as the settle time
    assert keywords(library / "sunset.jpg") == ["Sunset"]


def test_settle_goes_with_once() -> None:
    result = CliRunner().invoke(main, ["run", "--settle", "5"])
    assert result.exit_code == 2
    assert "--dry-run and --settle go with --once" in result.output


def test_remote_goes_to_the_daemon_too(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[object, tuple[str, ...]]] = []

    class Daemon:
        def __init__(
            self, config_path: object, *, remote: tuple[str, ...], reporter: object
        ) -> None:
            made.append((config_path, remote))

        def run(self) -> int:
            return 0

    monkeypatch.setattr(cli_run, "Daemon", Daemon)
    result = CliRunner().invoke(
        main, ["run", "--remote", "http://desktop:8080", "--remote", "http://gpu:8080"]
    )
    assert result.exit_code == 0, result.output
    assert made == [(None, ("http://desktop:8080", "http://gpu:8080"))]


def test_status_counts_what_another_model_would_re_tag(
    library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One decision for run and status: a new model means every photo is pending."""
    CliRunner().invoke(main, ["run", "--once", str(library)])
    monkeypatch.setattr(cli_status, "expected_model_id", lambda pm, path, name: "colour-2")
    report = json.loads(CliRunner().invoke(main, ["status", "--json", str(library)]).output)
    assert (report["tagged"], report["pending"]) == (2, 2)
