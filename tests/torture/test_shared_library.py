"""Other programs at work in the same library: uploads still open, edits made meanwhile.

In-process runs with the colour classifier (registered through the plugin hook; the
model is not what is tested) and the real xmp sink, checked with exiftool.  Each race
is forced at a fixed point (a file held open by a real process, a sink that edits the
photo just before scened's write): no sleep decides an outcome.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scened import hookimpl
from scened.config import parse_config
from scened.daemon.jobs import RunSummary
from scened.daemon.service import run_library, settings_for
from scened.daemon.state import StateDB
from scened.errors import ScenedError
from scened.hookspecs import RegisterSink
from scened.plugins import ScenedPluginManager, get_plugin_manager
from scened.types import Sink, TagResult

from ..daemon.daemon_helpers import ColourClassifier, make_photo


def keywords(photo: Path) -> list[str]:
    out = subprocess.run(["exiftool", "-j", "-XMP-dc:Subject", str(photo)], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    value = json.loads(out)[0].get("Subject", [])
    return [value] if isinstance(value, str) else list(value)


class EditMeanwhile:
    """A sink listed before ``xmp``: another program edits the photo in place (exiftool)
    after scened read and classified it, just before scened's own write."""

    def __init__(self) -> None:
        self.armed = True

    @hookimpl
    def register_sinks(self, register: RegisterSink) -> None:
        plugin = self

        class Editor:
            def write(self, result: TagResult, *, dry_run: bool = False) -> None:
                if plugin.armed:
                    subprocess.run(["exiftool", "-q", "-overwrite_original_in_place",
                                    "-XMP-dc:Subject+=Theirs", str(result.path)],
                                   check=True)  # fmt: skip

            def untag(self, path: Path, *, dry_run: bool = False) -> None:
                pass

            def close(self) -> None:
                pass

        def factory(options: Mapping[str, Any]) -> Sink:
            return Editor()

        register("edit-meanwhile", factory)


@pytest.fixture
def editor() -> EditMeanwhile:
    return EditMeanwhile()


@pytest.fixture
def pm(editor: EditMeanwhile) -> ScenedPluginManager:
    manager = get_plugin_manager()
    manager.register(editor, name="test-edit-meanwhile")
    return manager


def run(
    tmp_path: Path, library: Path, pm: ScenedPluginManager, sinks: list[str],
    classifier: ColourClassifier | None = None,
) -> RunSummary:  # fmt: skip
    table = {"path": str(library), "name": "lib", "sinks": [{"type": s} for s in sinks]}
    config = parse_config({"state_dir": str(tmp_path / "state"), "libraries": [table]}, None)
    return run_library(config.libraries[0], config=config,
                       classifier=classifier or ColourClassifier(), pm=pm,
                       settings=settings_for(config, dry_run=False))  # fmt: skip


@dataclass
class Upload:
    """A photo an upload still has open for writing (a real process, paused mid-copy)."""

    photo: Path
    holder: subprocess.Popen[str]

    def finish(self) -> None:
        if self.holder.poll() is None:
            self.holder.communicate("", timeout=30)


@pytest.fixture
def upload(library: Path) -> Iterator[Upload]:
    photo = make_photo(library / "uploading.jpg", "green")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; f = open(sys.argv[1], 'r+b'); print('open', flush=True); sys.stdin.read()",
         str(photo)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "open\n"
    current = Upload(photo, holder)
    yield current
    current.finish()


def test_a_photo_another_program_has_open_for_writing_is_left_then_tagged_once_closed(
    tmp_path: Path, library: Path, pm: ScenedPluginManager, upload: Upload
) -> None:
    settled = make_photo(library / "settled.jpg", "red")
    original = upload.photo.read_bytes()

    first = run(tmp_path, library, pm, ["xmp"])

    assert first.ok and (first.tagged, first.failed) == (1, 0)
    assert [path for path, _ in first.skipped] == [upload.photo]
    assert "open for writing" in first.skipped[0][1]
    assert upload.photo.read_bytes() == original
    assert keywords(settled) == ["Sunset"]

    upload.finish()
    second = run(tmp_path, library, pm, ["xmp"])

    assert (second.tagged, second.skipped) == (1, [])
    assert keywords(upload.photo) == ["Forest"]


def test_an_edit_made_after_the_read_is_kept_and_the_photo_tagged_next_scan(
    tmp_path: Path, library: Path, pm: ScenedPluginManager, editor: EditMeanwhile
) -> None:
    photo = make_photo(library / "shared.jpg", "blue")

    first = run(tmp_path, library, pm, ["edit-meanwhile", "xmp"])

    assert first.ok and (first.tagged, first.failed, len(first.skipped)) == (0, 0, 1)
    assert "changed by something else since it was read" in first.skipped[0][1]
    assert keywords(photo) == ["Theirs"]  # their edit, and no tag meant for the old file

    editor.armed = False
    second = run(tmp_path, library, pm, ["edit-meanwhile", "xmp"])

    assert (second.tagged, second.skipped) == (1, [])
    assert keywords(photo) == ["Theirs", "Sky"]


def exiftool(photo: Path, *arguments: str) -> None:
    """A user's edit, as Lightroom or digiKam would save it (exiftool in place)."""
    subprocess.run(["exiftool", "-q", "-overwrite_original", *arguments, str(photo)], check=True)


def test_a_keyword_edit_by_the_user_is_not_classified_or_written_again(
    tmp_path: Path, library: Path, pm: ScenedPluginManager
) -> None:
    photo = make_photo(library / "edited.jpg", "blue")
    classifier = ColourClassifier()
    assert run(tmp_path, library, pm, ["xmp"], classifier).tagged == 1
    exiftool(photo, "-XMP-dc:Subject-=Sky", "-XMP-dc:Subject+=Holiday", "-Rating=4")
    edited = photo.read_bytes()

    second = run(tmp_path, library, pm, ["xmp"], classifier)

    assert (second.unchanged, second.tagged, classifier.images_seen) == (1, 0, 1)
    assert photo.read_bytes() == edited  # not even rewritten: the user's save stands
    assert keywords(photo) == ["Holiday"]
    third = run(tmp_path, library, pm, ["xmp"], classifier)  # recorded: not even decoded
    assert (third.unchanged, classifier.images_seen) == (1, 1)


def test_new_pixels_at_the_same_path_are_classified_afresh(
    tmp_path: Path, library: Path, pm: ScenedPluginManager
) -> None:
    photo = make_photo(library / "reused-name.jpg", "blue")
    classifier = ColourClassifier()
    run(tmp_path, library, pm, ["xmp"], classifier)
    make_photo(photo, "green")  # another picture saved under the same name

    second = run(tmp_path, library, pm, ["xmp"], classifier)

    assert (second.tagged, classifier.images_seen) == (1, 2)
    assert keywords(photo) == ["Forest"]


def _garbage_header(database: Path) -> None:
    with database.open("r+b") as handle:
        handle.write(b"this is not SQLite at all")


def _corrupt_page(database: Path) -> None:
    """Scribble over the second page (the photos table's first page)."""
    with database.open("r+b") as handle:
        page = int.from_bytes(handle.read(18)[16:18], "big") or 65536
        handle.seek(page)
        handle.write(bytes(range(256)) * (page // 256))


@pytest.mark.parametrize("damage", [_garbage_header, _corrupt_page], ids=["header", "page"])
def test_a_damaged_state_database_is_rebuilt_from_the_photos_own_records(
    tmp_path: Path, library: Path, pm: ScenedPluginManager, damage: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    photos = [make_photo(library / f"p{i}.jpg", c) for i, c in enumerate(["red", "green", "blue"])]
    raw = make_photo(library / "plain.png", "red")  # tagged, but untouched by the record check
    classifier = ColourClassifier()
    assert run(tmp_path, library, pm, ["xmp"], classifier).tagged == 4
    before = {p: p.read_bytes() for p in [*photos, raw]}
    database = tmp_path / "state" / "state.sqlite3"
    sqlite3.connect(database).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    damage(database)

    rebuilt = run(tmp_path, library, pm, ["xmp"], classifier)

    assert rebuilt.ok and rebuilt.unchanged == 4 and rebuilt.tagged == 0
    assert classifier.images_seen == 4  # nothing classified again...
    assert {p: p.read_bytes() for p in before} == before  # ...nor written
    assert "the state database is damaged" in caplog.text
    assert len(list((tmp_path / "state").glob("state.sqlite3.damaged-????????T??????"))) == 1
    state = StateDB.open(tmp_path / "state")
    try:
        assert state.library_stats("lib").tagged == 4
        assert state.get(photos[2]) is not None and state.get(photos[2]).tags == ("Sky",)
    finally:
        state.close()
    again = run(tmp_path, library, pm, ["xmp"], classifier)
    assert (again.unchanged, classifier.images_seen) == (4, 4)


def test_status_names_a_damaged_state_database_in_one_line(tmp_path: Path) -> None:
    state = StateDB.open(tmp_path / "state")
    state.close()
    _garbage_header(tmp_path / "state" / "state.sqlite3")
    with pytest.raises(ScenedError, match=r"the state database is damaged .* rebuilds it"):
        StateDB.open(tmp_path / "state", dry_run=True)
