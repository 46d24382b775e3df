"""A keyword the user removed from a photo scened tagged is never written back."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from scened.metadata.fields import KeywordOptions, Provenance
from scened.metadata.tagger import KeywordWriter


def _remove(path: Path, *edits: str) -> None:
    """What a photo manager does when the user deletes a keyword (exiftool, in place)."""
    subprocess.run(["exiftool", "-q", "-overwrite_original", *edits, str(path)], check=True)


LIGHTROOM_REMOVES_NATURE = ("-XMP-dc:Subject-=Nature", "-XMP-lr:HierarchicalSubject-=Scenes|Nature")
DIGIKAM_REMOVES_NATURE = ("-XMP-digiKam:TagsList-=Scenes/Nature",)


@pytest.mark.parametrize("edits", [LIGHTROOM_REMOVES_NATURE, DIGIKAM_REMOVES_NATURE],
                         ids=["lightroom", "digikam"])  # fmt: skip
def test_a_removed_keyword_stays_removed_through_re_tags(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, edits: tuple[str, ...]
) -> None:
    photo = oracle.make_photo(tmp_path / "alps.jpg")
    oracle.add_user_keywords(photo, ["Trip2026"], [])
    writer.tag_file(photo, ["Mountain", "Nature"], KeywordOptions(), model_id="m1")
    _remove(photo, *edits)
    before = oracle.pixels_exif_icc(photo)

    writer.tag_file(photo, ["Mountain", "Nature"], KeywordOptions(), model_id="m2")

    fields = oracle.keyword_fields(photo)
    assert fields["subject"] == ["Trip2026", "Mountain"]
    assert fields["hierarchical"] == ["Trip2026", "Scenes|Mountain"]  # the user's, carried
    assert fields["tagslist"] == ["Trip2026", "Scenes/Mountain"]  # every field follows
    assert fields["iptc"] == ["Trip2026", "Mountain"]
    assert oracle.values(oracle.exiftool(photo), "XMP-scened:Rejected") == ["Nature"]
    assert oracle.pixels_exif_icc(photo) == before

    writer.tag_file(photo, ["Nature", "Lake"], KeywordOptions(), model_id="m3")  # a new model
    assert oracle.keyword_fields(photo)["subject"] == ["Trip2026", "Lake"]


def test_the_decision_survives_untag_and_a_fresh_tag(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "alps.jpg")
    writer.tag_file(photo, ["Mountain", "Nature"], KeywordOptions(), model_id="m1")
    _remove(photo, *LIGHTROOM_REMOVES_NATURE)
    writer.untag(photo)
    assert oracle.keyword_fields(photo)["subject"] == []

    writer.tag_file(photo, ["Mountain", "Nature"], KeywordOptions(), model_id="m1")

    assert oracle.keyword_fields(photo)["subject"] == ["Mountain"]


def test_a_keyword_the_user_had_already_is_not_a_removal(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "alps.jpg")
    oracle.add_user_keywords(photo, ["Nature"], [])
    writer.tag_file(photo, ["Mountain", "Nature"], KeywordOptions(), model_id="m1")
    _remove(photo, "-XMP-dc:Subject-=Nature", "-IPTC:Keywords-=Nature")  # the user's own
    writer.tag_file(photo, ["Mountain", "Nature"], KeywordOptions(), model_id="m1")
    # scened recorded Nature only where it added it (hierarchical, TagsList), which the
    # user left alone: the tag stays, and the user's own flat keyword is theirs to keep out
    fields = oracle.keyword_fields(photo)
    assert "Scenes|Nature" in fields["hierarchical"]
    assert oracle.values(oracle.exiftool(photo), "XMP-scened:Rejected") == []


def _record(photo: Path, key: str) -> list[str]:
    out = subprocess.run(["exiftool", "-s3", "-sep", ",", f"-XMP-scened:{key}", str(photo)],
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    return out.split(",") if out else []


def test_a_confirmed_tag_survives_any_later_tag_until_the_user_removes_it(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "kid.jpg")
    writer.tag_file(photo, ["Baby"], KeywordOptions(), model_id="m1")
    chosen = Provenance("m1", confirmed=("Child",), rejected=("Baby",))
    writer.tag_file(photo, ["Child"], KeywordOptions(), provenance=chosen)  # the review page

    writer.tag_file(photo, ["Baby", "Family"], KeywordOptions(), model_id="m2")  # a new model

    assert oracle.keyword_fields(photo)["subject"] == ["Child", "Family"]
    assert (_record(photo, "Confirmed"), _record(photo, "Rejected")) == (["Child"], ["Baby"])

    _remove(photo, "-XMP-dc:Subject-=Child")  # the newest decision wins
    writer.tag_file(photo, ["Family"], KeywordOptions(), model_id="m3")
    assert oracle.keyword_fields(photo)["subject"] == ["Family"]
    assert _record(photo, "Confirmed") == [] and "Child" in _record(photo, "Rejected")


def test_untag_keeps_the_users_decisions(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "kid.jpg")
    decided = Provenance("m1", confirmed=("Child",), rejected=("Baby",))
    writer.tag_file(photo, ["Child"], KeywordOptions(), provenance=decided)
    writer.untag(photo)
    assert oracle.keyword_fields(photo)["subject"] == []
    assert (_record(photo, "Confirmed"), _record(photo, "Rejected")) == (["Child"], ["Baby"])
