"""The ``sidecar`` sink: never touches the photo, merges into any existing sidecar."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from scened.plugins import ScenedPluginManager
from scened.sinks import build_sinks
from scened.types import Sink, TagResult

MakeResult = Callable[..., TagResult]


def sidecar_sink(pm: ScenedPluginManager, **options: object) -> Sink:
    return build_sinks(pm, [{"type": "sidecar", **options}])[0]


@pytest.mark.parametrize(
    ("naming", "expected"), [("adobe", "Ölberg.xmp"), ("digikam", "Ölberg.jpg.xmp")]
)
def test_naming_styles_and_photo_untouched(
    tmp_path: Path,
    pm: ScenedPluginManager,
    oracle: ModuleType,
    make_result: MakeResult,
    naming: str,
    expected: str,
) -> None:
    photo = oracle.make_photo(tmp_path / "Ölberg.jpg")
    original = photo.read_bytes()
    sidecar_sink(pm, naming=naming).write(make_result(photo, ("Mountain", "Snow")))
    assert photo.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["Ölberg.jpg", expected])
    fields = oracle.keyword_fields(tmp_path / expected)
    assert fields["subject"] == ["Mountain", "Snow"]
    assert fields["hierarchical"] == ["Scenes|Mountain", "Scenes|Snow"]
    assert fields["tagslist"] == ["Scenes/Mountain", "Scenes/Snow"]


@pytest.mark.parametrize("existing", ["photo.nef.xmp", "photo.xmp"])
def test_an_existing_sidecar_in_either_style_is_merged_into(
    tmp_path: Path,
    pm: ScenedPluginManager,
    oracle: ModuleType,
    make_result: MakeResult,
    existing: str,
) -> None:
    photo = tmp_path / "photo.nef"
    photo.write_bytes(b"raw")
    sidecar = tmp_path / existing
    # a sidecar the user's tool wrote, with a rating and the user's own keywords
    subprocess.run(
        ["exiftool", "-q", "-o", str(sidecar), "-XMP-xmp:Rating=4", "-XMP-dc:Subject=Oma",
         "-XMP-lr:HierarchicalSubject=Leute|Oma", str(oracle.make_photo(tmp_path / "src.jpg"))],
        check=True,
    )  # fmt: skip
    (tmp_path / "src.jpg").unlink()

    sink = sidecar_sink(pm, naming="adobe" if existing.endswith(".nef.xmp") else "digikam")
    sink.write(make_result(photo, ("Family",)))
    sink.write(make_result(photo, ("Portrait", "Family")))  # a re-tag replaces ours only

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["photo.nef", existing])
    info = oracle.exiftool(sidecar)
    assert info["XMP-xmp:Rating"] == 4
    assert oracle.values(info, "XMP-dc:Subject") == ["Oma", "Portrait", "Family"]
    assert oracle.values(info, "XMP-lr:HierarchicalSubject") == [
        "Leute|Oma", "Scenes|Portrait", "Scenes|Family",
    ]  # fmt: skip

    sink.untag(photo)
    info = oracle.exiftool(sidecar)
    assert info["XMP-xmp:Rating"] == 4
    assert oracle.values(info, "XMP-dc:Subject") == ["Oma"]
    assert oracle.values(info, "XMP-lr:HierarchicalSubject") == ["Leute|Oma"]
    assert not [key for key in info if key.startswith("XMP-scened:")]


def test_dry_run_creates_no_sidecar(
    tmp_path: Path, pm: ScenedPluginManager, oracle: ModuleType, make_result: MakeResult
) -> None:
    photo = oracle.make_photo(tmp_path / "a.jpg")
    sidecar_sink(pm).write(make_result(photo), dry_run=True)
    assert [p.name for p in tmp_path.iterdir()] == ["a.jpg"]
