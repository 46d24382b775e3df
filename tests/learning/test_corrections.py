"""A user's corrections read out of a photo's keywords (as exiv2 reads them back)."""

from __future__ import annotations

from scened.classes import CLASSES
from scened.learning.corrections import labels_from_fields
from scened.metadata.fields import KeywordOptions, plan_tag


def tagged(tags: list[str], user: list[str] | None = None) -> dict[str, object]:
    """The fields of a photo scened tagged with ``tags`` (the user had ``user``)."""
    current: dict[str, object] = {"Xmp.dc.subject": list(user or [])}
    plan = plan_tag(current, tags, KeywordOptions(), "m1")
    return {key: value for key, value in {**current, **plan}.items() if value is not None}


def test_a_removed_scened_keyword_is_a_negative_and_an_added_class_a_positive() -> None:
    fields = tagged(["Mountain", "Nature"], user=["Trip"])
    fields["Xmp.dc.subject"] = ["Trip", "Mountain", "Lake"]  # Nature removed, Lake added

    assert labels_from_fields(fields, CLASSES) == [("Lake", True), ("Nature", False)]


def test_hierarchical_and_digikam_keywords_under_the_root_count_and_others_do_not() -> None:
    fields = tagged(["Beach"])
    fields["Xmp.lr.hierarchicalSubject"] = ["Scenes|Beach", "Scenes|Coast", "Places|Lake"]
    fields["Xmp.digiKam.TagsList"] = ["Scenes/Beach", "Scenes/Sunset"]

    assert labels_from_fields(fields, CLASSES) == [("Coast", True), ("Sunset", True)]


def test_renamed_tags_map_back_to_their_class_and_unknown_words_are_ignored() -> None:
    fields = tagged(["Seaside"])
    fields["Xmp.dc.subject"] = ["Holiday snaps", "Hund"]  # Seaside removed, Hund added

    labels = labels_from_fields(fields, CLASSES, rename={"Coast": "Seaside", "Dog": "Hund"})

    assert labels == [("Coast", False), ("Dog", True)]


def test_an_untouched_photo_gives_no_label() -> None:
    assert labels_from_fields(tagged(["Beach", "Sunset"], user=["Me"]), CLASSES) == []
