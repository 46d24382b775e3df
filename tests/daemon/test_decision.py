"""The one decision: does a photo need work?  And after ``untag``: the files decide."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scened.daemon.decision import Known, Verdict, known_unless_untagged, verdict
from scened.daemon.jobs import RunSummary
from scened.metadata.fields import KeywordOptions
from scened.metadata.tagger import KeywordWriter

from . import daemon_helpers as helpers

SIG = (1, 2, 3, 4)
TAGGED = Known(SIG, True, True)


def test_every_case_of_the_decision() -> None:
    assert verdict(None, SIG) is Verdict.NEEDS_WORK  # new
    assert verdict(Known((1, 2, 3, 5), True, True), SIG) is Verdict.NEEDS_WORK  # changed
    assert verdict(Known(SIG, False, True), SIG) is Verdict.NEEDS_WORK  # other model/policy
    assert verdict(Known(SIG, True, True), SIG) is Verdict.UNCHANGED
    assert verdict(Known(SIG, True, False), SIG) is Verdict.FAILED_BEFORE
    assert verdict(Known(SIG, True, False), SIG, retry_failed=True) is Verdict.NEEDS_WORK


@pytest.fixture
def heic(tmp_path: Path, shared_dir: Path) -> Path:
    photo = tmp_path / "IMG_3578.heic"
    shutil.copyfile(shared_dir / "data" / "camera-files" / "IMG_3578.heic", photo)
    return photo


def test_what_the_state_knows_stands_while_the_files_hold_scened_record(
    tmp_path: Path, heic: Path
) -> None:
    writer = KeywordWriter()
    jpeg = helpers.make_photo(tmp_path / "a.jpg")
    writer.tag_file(jpeg, ["Sunset"], KeywordOptions(), model_id="m1")
    writer.tag_sidecar(heic.with_suffix(".xmp"), heic, ["Sky"], KeywordOptions(), model_id="m1")
    for photo in (jpeg, heic):
        assert known_unless_untagged(TAGGED, ["Sunset"], photo) is TAGGED
        failed = Known(SIG, True, False)
        assert known_unless_untagged(failed, ["Sunset"], photo) is failed
        writer.untag_photo(photo)
        assert known_unless_untagged(TAGGED, ["Sunset"], photo) is None  # new work again
        assert known_unless_untagged(TAGGED, [], photo) is TAGGED  # no tag, no record
        assert known_unless_untagged(None, ["Sunset"], photo) is None
    assert not heic.with_suffix(".xmp").exists()


def test_after_untag_the_next_run_tags_every_format_again(
    library: Path, heic: Path, run_once: helpers.Runner
) -> None:
    shutil.move(heic, library / heic.name)
    jpeg = helpers.make_photo(library / "red.jpg")
    options = {"sinks": [{"type": "xmp"}], "policy": {"type": "threshold", "min_probability": 0.2}}
    first: RunSummary = run_once(**options)
    assert first.tagged == 2
    writer = KeywordWriter()
    for photo in (jpeg, library / heic.name):
        assert writer.untag_photo(photo)

    again: RunSummary = run_once(**options)
    assert again.tagged == 2
    assert (library / "IMG_3578.xmp").exists()
    assert run_once(**options).unchanged == 2
