"""Every keyword field shows the user's keywords and scened's, whichever an app reads first.

digiKam reads only the first non-empty of ``TagsList``, ``hierarchicalSubject``,
``dc:subject`` and IPTC; Lightroom and Windows start elsewhere.  On real files (JPEG,
and a real phone HEIC with sidecars of both namings), read back with exiftool: after
a tag each field an application may read first holds the user's keywords and
scened's, and after ``untag`` every field is exactly as it was.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from scened.metadata.fields import KeywordOptions
from scened.metadata.formats import SidecarNaming, sidecar_for
from scened.metadata.tagger import KeywordWriter

#: exiftool's name of each field, as :func:`photo_oracle.keyword_fields` names them.
TAG = {
    "subject": "XMP-dc:Subject",
    "hierarchical": "XMP-lr:HierarchicalSubject",
    "tagslist": "XMP-digiKam:TagsList",
    "iptc": "IPTC:Keywords",
}
#: The level separator of the hierarchical fields.
SEPARATOR = {"hierarchical": "|", "tagslist": "/"}
TAGS = ["Beach", "Sky"]


def set_fields(path: Path, fields: dict[str, list[str]]) -> None:
    """Set keyword fields as a user's tool would, each on its own (exiftool; [] clears)."""
    args = ["exiftool", "-q", "-overwrite_original", "-codedcharacterset=utf8"]
    for field, values in fields.items():
        args += [f"-{TAG[field]}={value}" for value in values] or [f"-{TAG[field]}="]
    subprocess.run([*args, str(path)], check=True)


def shows(field: str, values: list[str], keyword: str) -> bool:
    """Whether an app reading only ``field`` shows ``keyword`` (levels joined by ``|``).

    A hierarchical field shows it as a path (a flat keyword may also be the last level
    of one); a flat field shows its last level.
    """
    levels = keyword.split("|")
    separator = SEPARATOR.get(field)
    if separator is None:
        return levels[-1] in values
    if len(levels) == 1:
        return any(value.split(separator)[-1] == keyword for value in values)
    return separator.join(levels) in values


def assert_consistent(fields: dict[str, list[str]], user: set[str], root: str = "Scenes") -> None:
    """Each non-empty field shows all of the user's keywords and all of scened's tags."""
    for field, values in fields.items():
        if values:
            for keyword in [*user, *(f"{root}|{tag}" for tag in TAGS)]:
                assert shows(field, values, keyword), (field, values, keyword)


#: The user's keywords before tagging: in one field only, or as Lightroom and digiKam
#: write them (fields the user already has are theirs: scened only adds to them).
ONE_FIELD = {
    "subject": ({"subject": ["Trip2026"]}, {"Trip2026"}),
    "hierarchical": ({"hierarchical": ["Places|Mine"]}, {"Places|Mine"}),
    "tagslist": ({"tagslist": ["Places/Mine", "Trip2026"]}, {"Places|Mine", "Trip2026"}),
    "iptc": ({"iptc": ["Trip2026", "Oma"]}, {"Trip2026", "Oma"}),
    "lightroom": (
        {
            "subject": ["Mine", "Trip2026"],
            "hierarchical": ["Places|Mine", "Trip2026"],
            "iptc": ["Mine", "Trip2026"],
        },
        {"Places|Mine", "Trip2026"},
    ),
    "digikam": (
        {
            "subject": ["Mine"],
            "hierarchical": ["Places|Mine"],
            "tagslist": ["Places/Mine"],
            "iptc": ["Mine"],
        },
        {"Places|Mine"},
    ),
}


@pytest.mark.parametrize("case", list(ONE_FIELD))
def test_embedded_keywords_in_any_fields_show_in_every_field(
    case: str, tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    user_fields, user = ONE_FIELD[case]
    photo = oracle.make_photo(tmp_path / "photo.jpg")
    set_fields(photo, user_fields)
    before = oracle.keyword_fields(photo)
    pixels = oracle.pixels_exif_icc(photo)

    assert writer.tag_file(photo, TAGS, KeywordOptions(), model_id="m1")
    tagged = oracle.keyword_fields(photo)
    assert all(tagged.values()), tagged  # every field an app may read first is there
    assert_consistent(tagged, user)
    for field, values in user_fields.items():  # the user's own fields keep their values first
        assert tagged[field][: len(values)] == values

    image = photo.read_bytes()
    assert not writer.tag_file(photo, TAGS, KeywordOptions(), model_id="m1")  # nothing to do
    assert photo.read_bytes() == image

    assert writer.untag(photo)
    assert oracle.keyword_fields(photo) == before
    assert not oracle.values(oracle.exiftool(photo), "XMP-scened:Tags")
    assert oracle.pixels_exif_icc(photo) == pixels


@pytest.fixture
def heic(tmp_path: Path, shared_dir: Path) -> Path:
    """A real iPhone HEIC (never copied into the repository, only into tmp_path)."""
    photo = tmp_path / "IMG_3578.heic"
    shutil.copyfile(shared_dir / "data" / "camera-files" / "IMG_3578.heic", photo)
    return photo


@pytest.mark.parametrize("naming", list(SidecarNaming))
@pytest.mark.parametrize("case", ["subject", "hierarchical", "tagslist", "lightroom"])
def test_a_users_sidecar_in_either_naming_shows_both_and_is_restored(
    case: str, naming: SidecarNaming, heic: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    user_fields, user = ONE_FIELD[case]
    sidecar = naming.path_for(heic)
    sidecar.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>\n',
        encoding="utf-8",
    )
    set_fields(sidecar, {k: v for k, v in user_fields.items() if k != "iptc"})
    before = oracle.keyword_fields(sidecar)
    photo_bytes = heic.read_bytes()

    # the other naming is what the sink would prefer: the user's existing sidecar wins
    other = next(n for n in SidecarNaming if n is not naming)
    assert sidecar_for(heic, other) == sidecar
    assert writer.tag_sidecar(sidecar, heic, TAGS, KeywordOptions(), model_id="m1")
    tagged = oracle.keyword_fields(sidecar)
    assert tagged["subject"] and tagged["hierarchical"] and tagged["tagslist"]
    assert_consistent({k: v for k, v in tagged.items() if k != "iptc"}, user)
    assert not other.path_for(heic).exists()

    assert writer.untag_photo(heic) == [sidecar]
    assert oracle.keyword_fields(sidecar) == before
    assert heic.read_bytes() == photo_bytes


def test_a_sidecar_scened_creates_is_removed_by_untag(
    heic: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    for naming in SidecarNaming:
        sidecar = naming.path_for(heic)
        assert writer.tag_sidecar(sidecar, heic, TAGS, KeywordOptions(), model_id="m1")
        assert_consistent(oracle.keyword_fields(sidecar), set())
        assert writer.untag_photo(heic) == [sidecar]
        assert not sidecar.exists()


def test_a_field_the_user_edits_after_tagging_becomes_theirs(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    """digiKam adds a tag to the TagsList scened made: the copies there are the user's now,
    so untag leaves them (taking them out would hide the user's keywords in digiKam)."""
    photo = oracle.make_photo(tmp_path / "photo.jpg")
    set_fields(photo, {"subject": ["Trip2026"]})
    writer.tag_file(photo, TAGS, KeywordOptions(), model_id="m1")
    tags_list = oracle.keyword_fields(photo)["tagslist"]
    assert tags_list == ["Trip2026", "Scenes/Beach", "Scenes/Sky"]
    set_fields(photo, {"tagslist": [*tags_list, "People/Oma"]})

    assert writer.tag_file(photo, ["Sky"], KeywordOptions(), model_id="m1")
    assert oracle.keyword_fields(photo)["tagslist"] == ["Trip2026", "People/Oma", "Scenes/Sky"]
    assert writer.untag(photo)
    fields = oracle.keyword_fields(photo)
    assert fields["tagslist"] == ["Trip2026", "People/Oma"]
    assert fields["subject"] == ["Trip2026"]
    assert fields["hierarchical"] == [] and fields["iptc"] == []


def test_a_keyword_the_user_removes_everywhere_is_not_carried_back(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "photo.jpg")
    set_fields(photo, {"subject": ["Trip2026", "Oma"]})
    writer.tag_file(photo, TAGS, KeywordOptions(), model_id="m1")
    fields = oracle.keyword_fields(photo)
    # removed in a tool that writes every field (digiKam, exiftool)
    set_fields(photo, {field: [v for v in values if "Oma" not in v] for field, values in
                       fields.items()})  # fmt: skip

    writer.tag_file(photo, TAGS, KeywordOptions(), model_id="m2")
    again = oracle.keyword_fields(photo)
    assert not any("Oma" in value for values in again.values() for value in values)
    assert_consistent(again, {"Trip2026"})
