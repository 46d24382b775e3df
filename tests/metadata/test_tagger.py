"""Keywords written into every embeddable format, read back by exiftool and exiv2."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from scened.errors import MetadataError
from scened.metadata.fields import KeywordOptions
from scened.metadata.tagger import KeywordWriter

SUFFIXES = [".jpg", ".png", ".tif", ".dng", ".webp"]
WITH_IPTC = {".jpg", ".png", ".tif", ".dng"}


def _bag_items(packet: str, prop: str) -> list[str]:
    match = re.search(rf"<{prop}>\s*<rdf:Bag>(.*?)</rdf:Bag>\s*</{prop}>", packet, re.S)
    assert match, f"{prop} is not an rdf:Bag in:\n{packet}"
    return re.findall(r"<rdf:li>(.*?)</rdf:li>", match.group(1))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_four_fields_written_and_everything_else_kept(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, suffix: str
) -> None:
    photo = oracle.make_photo(tmp_path / f"Strand am Meer – Ü{suffix}")
    before = oracle.pixels_exif_icc(photo)

    assert writer.tag_file(photo, ["Beach", "Été"], KeywordOptions(), model_id="m1")

    fields = oracle.keyword_fields(photo)
    assert fields["subject"] == ["Beach", "Été"]
    assert fields["hierarchical"] == ["Scenes|Beach", "Scenes|Été"]
    assert fields["tagslist"] == ["Scenes/Beach", "Scenes/Été"]
    assert fields["iptc"] == (["Beach", "Été"] if suffix in WITH_IPTC else [])
    packet = oracle.raw_xmp(photo)
    assert _bag_items(packet, "dc:subject") == ["Beach", "Été"]
    assert _bag_items(packet, "lr:hierarchicalSubject") == ["Scenes|Beach", "Scenes|Été"]
    assert oracle.pixels_exif_icc(photo) == before  # pixels, EXIF, ICC untouched
    assert [p.name for p in tmp_path.iterdir()] == [photo.name]  # no temporary left


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_iptc_declares_utf8_and_exiv2_agrees(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, suffix: str
) -> None:
    photo = oracle.make_photo(tmp_path / f"a{suffix}")
    writer.tag_file(photo, ["Schnee", "Bär"], KeywordOptions(), model_id="m1")
    info = oracle.exiftool(photo)
    assert info["IPTC:CodedCharacterSet"] == "\x1b%G"
    iptc = subprocess.run(["exiv2", "-pi", str(photo)], capture_output=True, text=True).stdout
    assert re.search(r"Iptc\.Application2\.Keywords\s+String\s+\d+\s+Bär", iptc), iptc
    xmp = subprocess.run(["exiv2", "-pX", str(photo)], capture_output=True, text=True).stdout
    assert "<rdf:li>Scenes|Bär</rdf:li>" in xmp


@pytest.mark.parametrize("suffix", [".jpg", ".webp", ".tif"])
def test_merge_retag_and_untag_keep_user_keywords(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, suffix: str
) -> None:
    photo = oracle.make_photo(tmp_path / f"p{suffix}")
    oracle.add_user_keywords(photo, ["Urlaub", "Beach"], ["Reisen|Urlaub"])
    user_state = oracle.keyword_fields(photo)
    iptc = suffix in WITH_IPTC

    writer.tag_file(photo, ["Beach", "Sky"], KeywordOptions(), model_id="m1")
    fields = oracle.keyword_fields(photo)
    assert fields["subject"] == ["Urlaub", "Beach", "Sky"]
    assert fields["hierarchical"] == ["Reisen|Urlaub", "Scenes|Beach", "Scenes|Sky"]
    assert fields["iptc"] == (["Urlaub", "Beach", "Sky"] if iptc else [])

    writer.tag_file(photo, ["Forest"], KeywordOptions(root="Motive"), model_id="m2")
    fields = oracle.keyword_fields(photo)
    assert fields["subject"] == ["Urlaub", "Beach", "Forest"]
    assert fields["hierarchical"] == ["Reisen|Urlaub", "Motive|Forest"]
    # digiKam shows the user's keywords too: they are carried into the TagsList scened made
    assert fields["tagslist"] == ["Reisen/Urlaub", "Beach", "Motive/Forest"]

    assert writer.untag(photo)
    assert oracle.keyword_fields(photo) == user_state
    assert not writer.untag(photo)  # nothing of scened's left


def test_untag_of_a_photo_scened_tagged_leaves_no_scened_trace(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "clean.jpg")
    writer.tag_file(photo, ["Night"], KeywordOptions(), model_id="m1")
    writer.untag(photo)
    info = oracle.exiftool(photo)
    assert not [key for key in info if key.startswith(("XMP-", "IPTC:"))], info


def test_dry_run_reports_but_leaves_the_file_alone(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "dry.jpg")
    original = photo.read_bytes()
    assert writer.tag_file(photo, ["Night"], KeywordOptions(), dry_run=True)
    assert photo.read_bytes() == original


def test_mode_is_kept_and_symlink_stays_a_link(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "real.jpg")
    photo.chmod(0o640)
    link = tmp_path / "link.jpg"
    link.symlink_to(photo)
    writer.tag_file(link, ["Cat"], KeywordOptions(), model_id="m1")
    assert link.is_symlink()
    assert photo.stat().st_mode & 0o777 == 0o640
    assert oracle.keyword_fields(photo)["subject"] == ["Cat"]


def test_long_and_non_ascii_keywords_fit_iptc(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "long.jpg")
    long_tag = " ".join(["Sonnenuntergang über dem Mittelmeer"] * 3)  # 110 bytes of UTF-8
    writer.tag_file(photo, [long_tag, "日本"], KeywordOptions(), model_id="m1")
    fields = oracle.keyword_fields(photo)
    assert fields["subject"] == [long_tag, "日本"]
    iptc = fields["iptc"]
    assert len(iptc[0].encode()) <= 64 and long_tag.startswith(iptc[0])
    assert iptc[1] == "日本"


def test_legacy_iptc_without_charset_is_kept_and_xmp_written(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "old.jpg")
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-charset", "iptc=latin",
         "-IPTC:Keywords=Café", "-IPTC:City=Köln", str(photo)],
        check=True,
    )  # fmt: skip
    iptc_before = subprocess.run(["exiv2", "-pi", str(photo)], capture_output=True).stdout
    assert writer.tag_file(photo, ["Food"], KeywordOptions(), model_id="m1")
    assert subprocess.run(["exiv2", "-pi", str(photo)], capture_output=True).stdout == iptc_before
    # the user's legacy keyword is carried, decoded, into the dc:subject scened creates
    assert oracle.keyword_fields(photo)["subject"] == ["Café", "Food"]
    assert writer.untag(photo)
    assert oracle.keyword_fields(photo)["subject"] == []
    assert subprocess.run(["exiv2", "-pi", str(photo)], capture_output=True).stdout == iptc_before


def test_owner_is_kept(tmp_path: Path, writer: KeywordWriter, oracle: ModuleType) -> None:
    photo = oracle.make_photo(tmp_path / "theirs.jpg")
    owner = (4321, 4321) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(photo, *owner)
    writer.tag_file(photo, ["Dog"], KeywordOptions(), model_id="m1")
    assert (photo.stat().st_uid, photo.stat().st_gid) == owner


def test_a_folder_that_cannot_be_written_is_a_clear_error(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = oracle.make_photo(tmp_path / "locked.jpg")
    original = photo.read_bytes()

    def no_room(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", no_room)  # as a folder without write permission
    with pytest.raises(MetadataError, match="cannot write in its folder: Permission denied"):
        writer.tag_file(photo, ["Dog"], KeywordOptions(), model_id="m1")
    assert photo.read_bytes() == original
