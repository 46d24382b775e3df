"""The ``xmp`` sink: embedded where the format allows, a sidecar where not."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pillow_heif
import pytest
from PIL import Image

from scened.errors import ConfigError, MetadataError
from scened.plugins import ScenedPluginManager
from scened.sinks import build_sinks
from scened.types import Sink, TagResult

MakeResult = Callable[..., TagResult]
RAW_SUFFIXES = [".CR2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf", ".pef", ".srw"]


def xmp_sink(pm: ScenedPluginManager, **options: object) -> Sink:
    return build_sinks(pm, [{"type": "xmp", **options}])[0]


def test_jpeg_gets_embedded_keywords(
    tmp_path: Path, pm: ScenedPluginManager, oracle: ModuleType, make_result: MakeResult
) -> None:
    photo = oracle.make_photo(tmp_path / "Küste.jpg")
    xmp_sink(pm, root="Szenen").write(make_result(photo))
    fields = oracle.keyword_fields(photo)
    assert fields == {
        "subject": ["Beach", "Sky"],
        "hierarchical": ["Szenen|Beach", "Szenen|Sky"],
        "tagslist": ["Szenen/Beach", "Szenen/Sky"],
        "iptc": ["Beach", "Sky"],
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Küste.jpg"]


@pytest.mark.parametrize("suffix", RAW_SUFFIXES)
def test_camera_raw_gets_an_adobe_sidecar_and_is_never_touched(
    tmp_path: Path,
    pm: ScenedPluginManager,
    oracle: ModuleType,
    make_result: MakeResult,
    suffix: str,
) -> None:
    raw = tmp_path / f"IMG_0001{suffix}"
    raw.write_bytes(b"II*\x00 camera raw bytes that exiv2 must never rewrite")
    xmp_sink(pm).write(make_result(raw))
    assert raw.read_bytes().endswith(b"must never rewrite")
    sidecar = tmp_path / "IMG_0001.xmp"
    info = oracle.exiftool(sidecar)
    assert info["File:FileType"] == "XMP"
    assert oracle.values(info, "XMP-dc:Subject") == ["Beach", "Sky"]
    assert oracle.values(info, "XMP-lr:HierarchicalSubject") == ["Scenes|Beach", "Scenes|Sky"]
    assert oracle.values(info, "XMP-digiKam:TagsList") == ["Scenes/Beach", "Scenes/Sky"]
    assert "<rdf:Bag>" in oracle.raw_xmp(sidecar)


def test_heic_gets_a_sidecar(
    tmp_path: Path, pm: ScenedPluginManager, oracle: ModuleType, make_result: MakeResult
) -> None:
    pillow_heif.register_heif_opener()
    photo = tmp_path / "phone.heic"
    Image.new("RGB", (32, 32), (10, 200, 30)).save(photo)
    original = photo.read_bytes()
    xmp_sink(pm, sidecar_naming="digikam").write(make_result(photo, ("Flower",)))
    assert photo.read_bytes() == original
    assert oracle.keyword_fields(tmp_path / "phone.heic.xmp")["subject"] == ["Flower"]


def test_read_only_photo_gets_a_sidecar_and_keeps_its_bytes(
    tmp_path: Path, pm: ScenedPluginManager, oracle: ModuleType, make_result: MakeResult
) -> None:
    photo = oracle.make_photo(tmp_path / "archive.jpg")
    photo.chmod(0o444)
    original = photo.read_bytes()
    xmp_sink(pm).write(make_result(photo))
    assert photo.read_bytes() == original
    assert oracle.keyword_fields(tmp_path / "archive.xmp")["subject"] == ["Beach", "Sky"]


def test_read_only_photo_can_be_skipped_or_written_by_configuration(
    tmp_path: Path, pm: ScenedPluginManager, oracle: ModuleType, make_result: MakeResult
) -> None:
    photo = oracle.make_photo(tmp_path / "archive.jpg")
    photo.chmod(0o444)
    original = photo.read_bytes()
    xmp_sink(pm, read_only="skip").write(make_result(photo))
    assert photo.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.jpg"]

    xmp_sink(pm, read_only="ignore").write(make_result(photo))
    assert oracle.keyword_fields(photo)["subject"] == ["Beach", "Sky"]
    assert photo.stat().st_mode & 0o777 == 0o444


def test_dry_run_writes_nothing(
    tmp_path: Path, pm: ScenedPluginManager, oracle: ModuleType, make_result: MakeResult
) -> None:
    photo = oracle.make_photo(tmp_path / "a.jpg")
    raw = tmp_path / "b.nef"
    raw.write_bytes(b"raw")
    original = photo.read_bytes()
    sink = xmp_sink(pm)
    sink.write(make_result(photo), dry_run=True)
    sink.write(make_result(raw), dry_run=True)
    assert photo.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "b.nef"]


def test_untag_removes_embedded_and_sidecar_keywords(
    tmp_path: Path, pm: ScenedPluginManager, oracle: ModuleType, make_result: MakeResult
) -> None:
    photo = oracle.make_photo(tmp_path / "a.jpg")
    raw = tmp_path / "a.nef"
    raw.write_bytes(b"raw")
    sink = xmp_sink(pm)
    sink.write(make_result(photo))
    sink.write(make_result(raw))
    sink.untag(photo)
    sink.untag(raw)
    assert oracle.keyword_fields(photo)["subject"] == []
    # the sidecar held nothing but scened's keywords, so it is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "a.nef"]


def test_unsupported_format_is_a_clear_error(
    tmp_path: Path, pm: ScenedPluginManager, make_result: MakeResult
) -> None:
    gif = tmp_path / "anim.gif"
    Image.new("P", (8, 8)).save(gif)
    with pytest.raises(MetadataError, match=r"cannot hold keywords \(\.gif\)") as caught:
        xmp_sink(pm).write(make_result(gif))
    assert caught.value.path == gif


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"root": "A|B"}, "sinks[0].root"),
        ({"sidecar_naming": "windows"}, "sinks[0].sidecar_naming"),
        ({"read_only": "maybe"}, "sinks[0].read_only"),
        ({"iptc": "yes"}, "sinks[0].iptc"),
        ({"colour": "red"}, "sinks[0].colour"),
    ],
)
def test_bad_options_name_the_key(
    pm: ScenedPluginManager, options: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        xmp_sink(pm, **options)
    assert caught.value.key == key
    assert key in str(caught.value)


def test_a_photo_with_several_names_is_never_split_silently(
    tmp_path: Path, pm: ScenedPluginManager, oracle: ModuleType, make_result: MakeResult
) -> None:
    photo = oracle.make_photo(tmp_path / "IMG_1.jpg")
    (tmp_path / "dedup").mkdir()
    twin = tmp_path / "dedup" / "IMG_1.jpg"
    os.link(photo, twin)
    original = photo.read_bytes()

    with pytest.raises(MetadataError, match=r"has 2 names \(hard links\)"):
        xmp_sink(pm).write(make_result(photo))
    assert photo.read_bytes() == original and photo.stat().st_nlink == 2

    xmp_sink(pm, hard_links="sidecar").write(make_result(photo))
    assert photo.read_bytes() == original and photo.stat().st_ino == twin.stat().st_ino
    assert oracle.keyword_fields(tmp_path / "IMG_1.xmp")["subject"] == ["Beach", "Sky"]

    xmp_sink(pm, hard_links="split").write(make_result(photo))
    assert oracle.keyword_fields(photo)["subject"] == ["Beach", "Sky"]
    assert twin.read_bytes() == original and photo.stat().st_nlink == 1
