"""A library run end to end in-process: what is classified, written, recorded, pruned."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from PIL import Image

from scened import hookimpl
from scened.daemon import runner as runner_module
from scened.daemon.service import run_library, settings_for
from scened.daemon.state import DB_NAME, StateDB
from scened.plugins import ScenedPluginManager
from scened.types import Prediction

from .daemon_helpers import ColourClassifier, ConfigFactory, RecorderPlugin, Runner, make_photo


def test_first_run_tags_every_photo_and_second_run_does_nothing(
    library: Path, run_once: Runner, classifier: ColourClassifier, recorder: RecorderPlugin
) -> None:
    red = make_photo(library / "red.jpg", "red")
    green = make_photo(library / "sub" / "green.PNG", "green")
    blue = make_photo(library / "sub" / "deeper" / "blue.webp", "blue")

    first = run_once()

    assert (first.found, first.tagged, first.classified, first.failed) == (3, 3, 3, 0)
    assert sorted((p.name, tags) for p, tags, _ in recorder.writes) == [
        ("blue.webp", ("Sky",)), ("green.PNG", ("Forest",)), ("red.jpg", ("Sunset",)),
    ]  # fmt: skip
    assert [e["library"] for e in recorder.events] == ["lib"] * 3
    assert {red, green, blue} == {e["path"] for e in recorder.events}

    recorder.writes.clear()
    second = run_once()

    assert (second.found, second.unchanged, second.tagged, second.classified) == (3, 3, 0, 0)
    assert recorder.writes == []
    assert classifier.images_seen == 3


def test_photos_are_classified_in_batches_of_the_configured_size(
    library: Path, run_once: Runner, classifier: ColourClassifier
) -> None:
    for index in range(7):
        make_photo(library / f"p{index}.jpg", "blue")

    summary = run_once()

    assert summary.classified == 7
    assert sum(classifier.batches) == 7
    assert max(classifier.batches) <= 16


def test_edited_photo_is_retagged_and_touched_photo_is_not(
    library: Path, run_once: Runner, classifier: ColourClassifier, recorder: RecorderPlugin
) -> None:
    edited = make_photo(library / "edited.jpg", "red")
    touched = make_photo(library / "touched.jpg", "green")
    run_once()
    recorder.writes.clear()

    make_photo(edited, "blue")  # new content
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # same content

    summary = run_once()

    assert (summary.classified, summary.unchanged) == (1, 1)
    assert recorder.writes == [(edited, ("Sky",), False)]
    assert classifier.images_seen == 3
    recorder.writes.clear()
    assert run_once().unchanged == 2
    assert recorder.writes == []


def test_moved_photo_reuses_its_tags_without_the_model_and_deleted_photo_is_pruned(
    library: Path, run_once: Runner, classifier: ColourClassifier, recorder: RecorderPlugin,
    tmp_path: Path,
) -> None:  # fmt: skip
    moving = make_photo(library / "a" / "moving.jpg", "green")
    doomed = make_photo(library / "doomed.png", "red")
    run_once()
    recorder.writes.clear()

    moved = library / "b" / "renamed.jpg"
    moved.parent.mkdir()
    shutil.move(moving, moved)
    doomed.unlink()

    summary = run_once()

    # pruned: the deleted photo and the moved one's old path
    assert (summary.found, summary.reused, summary.classified, summary.pruned) == (1, 1, 0, 2)
    assert recorder.writes == [(moved, ("Forest",), False)]
    assert classifier.images_seen == 2
    state = StateDB.open(tmp_path / "state")
    assert state.paths("lib") == [moved]
    state.close()


def test_new_model_or_changed_policy_retags(
    library: Path, run_once: Runner, recorder: RecorderPlugin
) -> None:
    make_photo(library / "one.jpg", "red")
    run_once()

    assert run_once(use=ColourClassifier("colour-2")).classified == 1
    changed_policy = {"type": "threshold", "min_probability": 0.5}
    assert run_once(use=ColourClassifier("colour-2"), policy=changed_policy).classified == 1
    assert run_once(use=ColourClassifier("colour-2"), policy=changed_policy).unchanged == 1
    assert len(recorder.writes) == 3


def test_each_photo_fails_on_its_own_and_is_not_retried_unless_asked(
    library: Path, run_once: Runner, recorder: RecorderPlugin
) -> None:
    make_photo(library / "good.jpg", "red")
    (library / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (library / "empty.png").write_bytes(b"")
    make_photo(library / "sinkfail.jpg", "blue")

    summary = run_once()

    assert (summary.tagged, summary.failed) == (1, 3)
    reasons = {path.name: reason for path, reason in summary.failures}
    assert set(reasons) == {"corrupt.jpg", "empty.png", "sinkfail.jpg"}
    assert "No space left on device" in reasons["sinkfail.jpg"]
    assert "not an image" in reasons["empty.png"]
    assert not summary.ok

    # undecodable photos are not retried until they change; a failed write is
    again = run_once()
    assert (again.unchanged, again.failed_before, again.failed) == (1, 2, 1)
    assert again.failures == [(library / "sinkfail.jpg", "No space left on device")]
    assert again.ok is False
    retried = run_once(retry_failed=True)
    assert (retried.unchanged, retried.failed) == (1, 3)


def test_dry_run_changes_nothing_not_even_the_state(
    library: Path, run_once: Runner, recorder: RecorderPlugin, tmp_path: Path
) -> None:
    photo = make_photo(library / "photo.jpg", "red")
    before = photo.read_bytes()

    summary = run_once(dry_run=True)

    assert (summary.tagged, summary.dry_run) == (1, True)
    assert recorder.writes == [(photo, ("Sunset",), True)]
    assert recorder.events[0]["dry_run"] is True
    assert photo.read_bytes() == before
    assert not (tmp_path / "state").exists()

    run_once()
    db = tmp_path / "state" / DB_NAME
    rows_before = sqlite3.connect(db).execute("SELECT * FROM photos").fetchall()
    make_photo(library / "new.jpg", "blue")
    assert run_once(dry_run=True).tagged == 1
    assert sqlite3.connect(db).execute("SELECT * FROM photos").fetchall() == rows_before


def test_missing_library_folder_fails_the_library_and_prunes_nothing(
    library: Path, run_once: Runner, tmp_path: Path
) -> None:
    make_photo(library / "photo.jpg", "red")
    run_once()
    shutil.rmtree(library)  # an unmounted share looks like this

    summary = run_once()

    assert "library folder not readable" in summary.error
    assert not summary.ok
    state = StateDB.open(tmp_path / "state")
    assert state.paths("lib") == [library / "photo.jpg"]
    state.close()


def test_unknown_sink_is_a_library_error_naming_the_key(run_once: Runner) -> None:
    summary = run_once(sinks=[{"type": "record"}, {"type": "nope"}])
    assert "sinks[1].type" in summary.error
    assert "unknown sink 'nope'" in summary.error


class StopAfter:
    """A plugin that asks the run to stop (as SIGTERM does) after ``count`` photos."""

    def __init__(self, count: int, stop: threading.Event) -> None:
        self.count = count
        self.stop = stop
        self.tagged = 0

    @hookimpl
    def photo_tagged(self, path: Path, tags: list[str], prediction: Prediction, library: str,
                     dry_run: bool) -> None:  # fmt: skip
        self.tagged += 1
        if self.tagged >= self.count:
            self.stop.set()


def test_stop_finishes_the_photos_in_hand_records_them_and_prunes_nothing(
    library: Path, make_config: ConfigFactory, classifier: ColourClassifier,
    pm: ScenedPluginManager, recorder: RecorderPlugin, tmp_path: Path,
) -> None:  # fmt: skip
    for index in range(60):
        make_photo(library / f"{index:02d}.jpg", "green")
    config = make_config()
    settings = settings_for(config, dry_run=False)
    run_library(config.libraries[0], config=config, classifier=classifier, pm=pm,
                settings=settings)  # fmt: skip
    for index in range(60, 200):
        make_photo(library / f"{index:03d}.png", "red")
    (library / "00.jpg").unlink()
    stop = threading.Event()
    pm.register(StopAfter(3, stop), name="stopper")
    recorder.events.clear()

    summary = run_library(config.libraries[0], config=config, classifier=classifier, pm=pm,
                          settings=settings, stop=stop)  # fmt: skip

    assert summary.interrupted and summary.pruned == 0
    assert 3 <= summary.tagged < 140
    state = StateDB.open(tmp_path / "state")
    recorded = {p.name for p in state.paths("lib")}
    state.close()
    assert "00.jpg" in recorded  # an interrupted scan prunes nothing
    assert {e["path"].name for e in recorder.events} <= recorded  # every tagged photo saved
    pm.unregister(name="stopper")
    rest = run_library(config.libraries[0], config=config, classifier=classifier, pm=pm,
                       settings=settings)  # fmt: skip
    assert rest.tagged == 140 - summary.tagged and rest.pruned == 1


def test_an_unmounted_share_is_not_an_empty_library(
    library: Path, run_once: Runner, classifier: ColourClassifier, tmp_path: Path
) -> None:
    photos = [make_photo(library / f"p{i}.jpg", "red") for i in range(4)]
    assert run_once().tagged == 4
    elsewhere = tmp_path / "unmounted"
    library.rename(elsewhere)
    library.mkdir()  # the mount point is still there, empty

    summary = run_once()

    assert summary.pruned == 0 and not summary.ok
    assert "4 of 4 known photos are missing" in summary.error
    library.rmdir()
    elsewhere.rename(library)  # the share is back
    seen = classifier.images_seen
    back = run_once()
    assert back.unchanged == 4 and back.pruned == 0
    assert classifier.images_seen == seen  # nothing classified again
    assert all(p.exists() for p in photos)


def test_a_few_deleted_photos_are_still_forgotten(library: Path, run_once: Runner) -> None:
    photos = [make_photo(library / f"p{i}.jpg", "red") for i in range(4)]
    run_once()
    photos[0].unlink()
    summary = run_once()
    assert summary.ok and summary.pruned == 1


def test_a_mass_disappearance_prunes_nothing_unless_the_library_allows_it(
    library: Path, run_once: Runner
) -> None:
    photos = [make_photo(library / f"p{i}.jpg", "red") for i in range(12)]
    run_once()
    for photo in photos[:10]:
        photo.unlink()
    refused = run_once()
    assert refused.pruned == 0 and "10 of 12 known photos are missing" in refused.error
    assert run_once(max_missing_share=1.0).pruned == 10


def test_a_library_folder_that_is_not_the_one_scanned_before_prunes_nothing_at_first(
    library: Path, run_once: Runner, tmp_path: Path
) -> None:
    """A share unmounted and a folder underneath it (another inode) with a few photos:
    what is missing is not forgotten; a library that really moved is, from its second
    scan on."""
    photos = [make_photo(library / f"p{i}.jpg", "red") for i in range(3)]
    run_once()
    library.rename(tmp_path / "mounted-share")
    library.mkdir()  # the mount point, with what lies under it
    shutil.copy2(tmp_path / "mounted-share" / "p0.jpg", photos[0])

    refused = run_once()

    assert refused.pruned == 0 and "is not the folder scanned last time" in refused.error
    assert refused.tagged == 0 and refused.unchanged == 1
    assert run_once().pruned == 2  # the same folder again: it really is the library now


def test_a_failed_state_write_stops_the_scan_and_what_was_written_is_recognised_next_time(
    library: Path, run_once: Runner, recorder: RecorderPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Photos are recorded a group at a time: when the state fails, the scan stops; the
    photos written in the meantime carry their own record, so the next run (the disk
    freed) recognises them and writes none of them again."""
    photos = {make_photo(library / f"p{i:02}.jpg", "red") for i in range(60)}
    real_record = StateDB.record
    recorded: list[Path] = []
    writes_when_it_failed: list[int] = []

    def disk_full_after_two(self: StateDB, record: object) -> None:
        if len(recorded) >= 2:
            writes_when_it_failed.append(len(recorder.writes))
            raise sqlite3.OperationalError("database or disk is full")
        real_record(self, record)  # type: ignore[arg-type]
        recorded.append(record.path)  # type: ignore[attr-defined]

    sinks = [{"type": "xmp"}, {"type": "record"}]
    with monkeypatch.context() as patched:
        patched.setattr(StateDB, "record", disk_full_after_two)
        failed = run_once(sinks=sinks)

    assert "the state database failed (database or disk is full)" in failed.error
    assert not failed.ok and failed.pruned == 0
    first = {path for path, _, dry in recorder.writes if not dry}
    # each writer thread checks before each photo: at most one photo each after it failed
    assert len(recorder.writes) - writes_when_it_failed[0] <= 2
    assert len(first) >= 3
    recorder.writes.clear()

    again = run_once(sinks=sinks)

    second = {path for path, _, dry in recorder.writes if not dry}
    assert again.ok and again.found == len(photos)
    assert not first & second  # nothing written twice
    assert first | second == photos
    assert again.unchanged >= len(first)  # recognised by their own record, not re-tagged


def test_a_photo_without_a_confident_tag_gets_no_keyword_and_is_counted(
    library: Path, run_once: Runner, tmp_path: Path
) -> None:
    sure = make_photo(library / "red.jpg", "red")
    unsure = library / "grey.jpg"
    Image.new("RGB", (96, 64), (128, 128, 128)).save(unsure)  # Sunset, Forest, Sky alike
    before = unsure.read_bytes()

    summary = run_once(sinks=[{"type": "xmp"}], policy={"type": "precision"})

    assert summary.ok and summary.tagged == 2 and summary.untagged == 1
    assert "1 without a confident tag (no keyword written)" in summary.line()
    assert unsure.read_bytes() == before  # never touched, never "Unknown"
    assert sure.read_bytes() != make_photo(tmp_path / "red.jpg", "red").read_bytes()
    stats = StateDB.open(tmp_path / "state").library_stats("lib")
    assert (stats.tagged, stats.untagged) == (2, 1)


def test_a_photo_on_a_share_that_went_away_is_tried_again_next_scan(
    library: Path, run_once: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = make_photo(library / "nfs.jpg", "red")
    real_read = runner_module.read_photo

    def stale(path: Path) -> tuple[str, bytes | None]:
        raise OSError(errno.ESTALE, "Stale file handle", str(path))

    monkeypatch.setattr(runner_module, "read_photo", stale)
    first = run_once()
    assert first.failed == 1 and "Stale file handle" in first.failures[0][1]

    monkeypatch.setattr(runner_module, "read_photo", real_read)
    second = run_once()
    assert (second.failed_before, second.tagged) == (0, 1)  # not "still failing": retried
    assert second.failures == [] and photo.exists()


def test_a_photo_that_is_really_broken_is_not_retried_every_scan(
    library: Path, run_once: Runner
) -> None:
    (library / "broken.jpg").write_bytes(b"not a photo at all")
    assert run_once().failed == 1
    assert run_once().failed_before == 1


def test_a_read_only_library_is_one_line_before_any_photo_is_read(
    library: Path, run_once: Runner, classifier: ColourClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scened.daemon import faults

    for i in range(5):
        make_photo(library / f"p{i}.jpg", "red")
    monkeypatch.setattr(runner_module, "mounted_read_only", lambda folder: folder == library)
    summary = run_once()
    assert summary.error == faults.READ_ONLY.format(path=library, what="so no photo was read")
    assert (summary.found, summary.failed, classifier.images_seen) == (0, 0, 0)
    assert run_once(dry_run=True).ok  # a dry run writes nothing: it may look


def test_a_write_refused_as_read_only_stops_the_scan_with_one_line(
    library: Path, run_once: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system that turns read-only during the scan (ext4 after an I/O error)."""
    from scened.daemon import faults
    from scened.metadata import atomic

    for i in range(40):
        make_photo(library / f"p{i:02}.jpg", "red")

    def read_only(target: Path) -> Path:
        raise OSError(errno.EROFS, "Read-only file system", str(target.parent))

    monkeypatch.setattr(atomic, "_temporary_beside", read_only)
    summary = run_once(sinks=[{"type": "xmp"}])

    assert summary.error == faults.READ_ONLY.format(path=library, what="so the scan stopped")
    assert summary.failed == 1  # the first photo says why; no other is tried


def test_a_broken_sidecar_is_named_as_the_file_at_fault(library: Path, run_once: Runner) -> None:
    """A read-only photo gets its keywords in a sidecar; when that sidecar is broken, the
    failure names the sidecar, not only the photo beside it, and the photo is intact."""
    photo = make_photo(library / "kept.jpg", "red")
    photo.chmod(0o444)
    sidecar = library / "kept.xmp"
    sidecar.write_text("<x:xmpmeta this is not XMP", encoding="utf-8")
    original = photo.read_bytes()

    summary = run_once(sinks=[{"type": "xmp"}])

    assert summary.failed == 1
    [(path, reason)] = summary.failures
    assert path == photo and reason.startswith("kept.xmp: "), reason
    assert photo.read_bytes() == original
    assert sidecar.read_text(encoding="utf-8") == "<x:xmpmeta this is not XMP"
