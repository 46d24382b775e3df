"""``scened untag`` reaches the configured sinks of each photo's library.

The files (the xmp sink's embedded keywords, the sidecar sink's sidecars) are
untagged from scened's record in them, exiftool being the oracle; the json sink
appends an ``untagged`` record and the webhook sink posts one to a real HTTP server
on 127.0.0.1; ``--dry-run`` changes no file, appends nothing and sends nothing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from scened.cli import main

from ..metadata.photo_oracle import keyword_fields
from ..plugins.test_sink_webhook import Receiver, receiver_factory, records  # noqa: F401

pytestmark = pytest.mark.usefixtures("colour_classifier")

PHOTOS = ("sunset.jpg", "trip/forest.png")


def _configure(tmp_path: Path, library: Path, sinks: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[pipeline]\nsettle_seconds = 0\n'
        f'[[libraries]]\nname = "home"\npath = "{library}"\nsinks = [{sinks}]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SCENED_CONFIG", str(config))


def _scened(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _json_events(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return sorted((record["event"], record["path"]) for record in map(json.loads, lines))


def _posted(receiver: Receiver) -> list[tuple[str, str]]:
    found: list[dict[str, Any]] = records(receiver)
    return sorted((record["event"], record["path"]) for record in found)


def test_untag_goes_through_every_sink_and_dry_run_through_none(
    pictures: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver_factory: Callable[[int], Receiver],  # noqa: F811
) -> None:
    receiver = receiver_factory(0)
    log = tmp_path / "tags.jsonl"
    _configure(tmp_path, pictures, (
        '{type = "xmp"}, {type = "sidecar", naming = "digikam"}, '
        f'{{type = "json", path = "{log}"}}, '
        f'{{type = "webhook", url = "{receiver.url}", flush_interval = 0.05}}'
    ), monkeypatch)  # fmt: skip
    ran = _scened("run", "--once")
    assert ran.exit_code == 0, ran.output
    tagged = sorted(("tagged", str(pictures / name)) for name in PHOTOS)
    assert _json_events(log) == tagged and _posted(receiver) == tagged
    sunset, sidecar = pictures / "sunset.jpg", pictures / "sunset.jpg.xmp"
    assert keyword_fields(sunset)["subject"] == ["Sunset"]
    assert keyword_fields(sidecar)["subject"] == ["Sunset"]

    photos_before, log_before = _files(pictures), log.read_bytes()
    dry = _scened("untag", "--dry-run", str(pictures))
    assert dry.exit_code == 0, dry.output
    assert f"would untag {sunset}" in dry.output and f"would untag {sidecar}" in dry.output
    assert "would tell the json, webhook sinks of library home about 2 photos" in dry.output
    assert _files(pictures) == photos_before
    assert log.read_bytes() == log_before and _posted(receiver) == tagged

    done = _scened("untag", str(pictures))
    assert done.exit_code == 0, done.output
    assert "told the json, webhook sinks of library home about 2 photos" in done.output
    for name in PHOTOS:
        photo = pictures / name
        assert keyword_fields(photo) == {"subject": [], "hierarchical": [], "tagslist": [],
                                         "iptc": []}  # fmt: skip
        assert not photo.with_name(f"{photo.name}.xmp").exists()  # it held nothing else
    untagged = sorted(("untagged", str(pictures / name)) for name in PHOTOS)
    assert _json_events(log) == sorted(tagged + untagged)
    assert _posted(receiver) == sorted(tagged + untagged)


def test_a_photo_outside_every_configured_library_is_no_sinks_business(
    pictures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "tags.jsonl"
    _configure(tmp_path, pictures / "trip", f'{{type = "json", path = "{log}"}}', monkeypatch)
    assert _scened("run", "--once", str(pictures)).exit_code == 0  # ad hoc: the xmp sink

    done = _scened("untag", str(pictures / "sunset.jpg"))

    assert done.exit_code == 0, done.output
    assert keyword_fields(pictures / "sunset.jpg")["subject"] == []
    assert not log.exists() and "told" not in done.output


def test_a_failing_sink_fails_the_photo_and_the_files_are_still_untagged(
    pictures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "tags.jsonl"
    _configure(tmp_path, pictures, f'{{type = "xmp"}}, {{type = "json", path = "{log}"}}',
               monkeypatch)  # fmt: skip
    assert _scened("run", "--once").exit_code == 0
    log.unlink()
    log.mkdir()  # the json sink can no longer append

    done = _scened("untag", str(pictures))

    assert done.exit_code == 74, done.output
    assert "json sink: cannot append to the JSON log" in done.output
    assert "2 photos checked, 2 changed, 2 failed" in done.output
    assert all(keyword_fields(pictures / name)["subject"] == [] for name in PHOTOS)
    shutil.rmtree(log)
