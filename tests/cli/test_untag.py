"""``scened untag``: removes exactly what scened wrote, as a real command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from scened.metadata.client import MetadataWorker
from scened.metadata.fields import KeywordOptions
from scened.metadata.tagger import KeywordWriter

from ..metadata import photo_oracle


@pytest.fixture(scope="module")
def oracle() -> ModuleType:
    return photo_oracle


@pytest.fixture(scope="module")
def writer() -> Iterator[KeywordWriter]:
    worker = MetadataWorker()
    yield KeywordWriter(worker)
    worker.close()


def scened(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "scened", *args], capture_output=True, text=True, env=env
    )


def test_untag_a_folder_keeps_user_keywords_and_dry_run_changes_nothing(
    tmp_path: Path, oracle: ModuleType, writer: KeywordWriter
) -> None:
    album = tmp_path / "Été 2024"
    album.mkdir()
    photo = oracle.make_photo(album / "plage.jpg")
    oracle.add_user_keywords(photo, ["Familie"], ["Leute|Familie"])
    user_state = oracle.keyword_fields(photo)
    writer.tag_file(photo, ["Beach", "Sky"], KeywordOptions(), model_id="m1")
    raw = album / "plage.nef"
    raw.write_bytes(b"raw")
    writer.tag_sidecar(album / "plage.nef.xmp", raw, ["Beach"], KeywordOptions())
    before = {p.name: p.read_bytes() for p in album.iterdir()}

    dry = scened("untag", "--dry-run", str(album))
    assert dry.returncode == 0, dry.stderr
    assert f"would untag {photo}" in dry.stdout
    assert {p.name: p.read_bytes() for p in album.iterdir()} == before

    done = scened("untag", str(album))
    assert done.returncode == 0, done.stderr
    assert "2 photos checked, 2 changed, 0 failed" in done.stderr
    assert oracle.keyword_fields(photo) == user_state
    assert sorted(p.name for p in album.iterdir()) == ["plage.jpg", "plage.nef"]
    assert raw.read_bytes() == b"raw"


def test_a_bad_file_fails_alone_with_one_line_and_nonzero_exit(
    tmp_path: Path, oracle: ModuleType, writer: KeywordWriter
) -> None:
    good = oracle.make_photo(tmp_path / "good.jpg")
    writer.tag_file(good, ["Cat"], KeywordOptions(), model_id="m1")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")

    result = scened("untag", str(bad), str(good))

    assert result.returncode == 74
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(bad) in errors[0]
    assert "1 of 2 photos could not be untagged" in result.stderr
    assert bad.read_bytes() == b"not a jpeg at all"
    assert oracle.keyword_fields(good)["subject"] == []


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = scened("untag", str(tmp_path / "nope.jpg"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def darktable_sidecar(photo: Path, subject: list[str], hierarchical: list[str]) -> Path:
    """``photo.ext.xmp`` as darktable writes it: its own data and copies of the keywords."""
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        '22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:darktable="http://darktable.'
        'sf.net/" darktable:xmp_version="5"/></rdf:RDF></x:xmpmeta>\n',
        encoding="utf-8",
    )
    args = [f"-XMP-dc:Subject={v}" for v in subject]
    args += [f"-XMP-lr:HierarchicalSubject={v}" for v in hierarchical]
    subprocess.run(["exiftool", "-q", "-overwrite_original", *args, str(sidecar)], check=True)
    return sidecar


@pytest.mark.parametrize("untagged_before", [False, True])
def test_copies_in_another_applications_sidecar_are_reported_and_removed_on_request(
    untagged_before: bool, tmp_path: Path, oracle: ModuleType, writer: KeywordWriter
) -> None:
    photo = oracle.make_photo(tmp_path / "plage.jpg")
    oracle.add_user_keywords(photo, ["Trip2026"], [])
    writer.tag_file(photo, ["Beach", "Sky"], KeywordOptions(), model_id="m1")
    # what darktable 4.2 writes after importing that photo (its tags from both fields)
    theirs = darktable_sidecar(
        photo,
        ["Beach", "Scenes", "Sky", "Trip2026"],
        ["Beach", "Scenes|Beach", "Scenes|Sky", "Sky", "Trip2026"],
    )
    if untagged_before:  # no record left: scened's root says what is a copy
        assert writer.untag_photo(photo) == [photo]
    before = theirs.read_bytes()

    reported = scened("untag", str(photo))
    assert reported.returncode == 0, reported.stderr
    assert f"{theirs}: another application's copies of scened's keywords: " in reported.stderr
    assert "1 sidecars of other applications hold copies" in reported.stderr
    assert theirs.read_bytes() == before
    assert oracle.keyword_fields(photo)["subject"] == ["Trip2026"]

    removed = scened("untag", "--include-other-sidecars", str(photo))
    assert removed.returncode == 0, removed.stderr
    assert f"untagged {theirs}" in removed.stdout
    fields = oracle.keyword_fields(theirs)
    assert fields["subject"] == ["Trip2026"]
    assert fields["hierarchical"] == ["Trip2026"]
    assert oracle.values(oracle.exiftool(theirs), "XMP-darktable:Xmp_version") == ["5"]


def test_untag_says_what_the_next_run_does(
    tmp_path: Path, oracle: ModuleType, writer: KeywordWriter
) -> None:
    photo = oracle.make_photo(tmp_path / "a.jpg")
    writer.tag_file(photo, ["Cat"], KeywordOptions(), model_id="m1")
    result = scened("untag", str(photo))
    assert "The next `scened run` tags these photos again" in result.stderr
    assert "tags these photos again" not in scened("untag", str(photo)).stderr  # nothing done
