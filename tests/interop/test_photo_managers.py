"""What digiKam 7.9 and darktable 4.2 show of a library scened tagged, and after untag.

The real applications, headless under Xvfb, index a fresh copy of what is in the
files (:mod:`tests.interop.apps`): every scened tag and every user keyword must be
on the right photo, a second tag must change nothing, and after ``scened untag
--include-other-sidecars`` a fresh index shows no scened tag and all the user's
keywords.  The library: JPEGs (one with the user's keywords in only one field), PNG,
TIFF, a real Apple ProRAW DNG, a real iPhone HEIC with the user's Lightroom sidecar
(``photo.xmp``) and a real HEIF still with the sidecar scened creates
(``photo.heic.xmp``, darktable's name too: it writes into it).  The camera files are
read from ``../shared``, never copied into the repository.  The tags come from
scened's keyword writer (the model is not what is tested).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scened.metadata.fields import KeywordOptions
from scened.metadata.formats import SidecarNaming
from scened.metadata.tagger import KeywordWriter

from ..metadata import photo_oracle
from . import apps

pytestmark = pytest.mark.slow
ROOT = KeywordOptions().root


@dataclass(frozen=True)
class Photo:
    """One photo of the library: its user keywords (``A|B`` paths) and scened's tags."""

    name: str
    tags: tuple[str, ...]
    user: dict[str, list[str]] = field(default_factory=dict)  # exiftool tag -> values
    naming: SidecarNaming | None = None  # keywords in a sidecar of this naming

    @property
    def user_keywords(self) -> set[str]:
        return {v for values in self.user.values() for v in values if "|" in v} or {
            v for values in self.user.values() for v in values
        }


LIBRARY = (
    Photo("plain.jpg", ("Beach",)),
    Photo("mine.jpg", ("Food", "Cake"), {"XMP-lr:HierarchicalSubject": ["Places|Mine"]}),
    Photo("flat.png", ("Forest",), {"XMP-dc:Subject": ["Trip2026"]}),
    Photo("scan.tif", ("Night",), {"IPTC:Keywords": ["Opa"]}),
    Photo("IMG_1361.dng", ("Sky",)),
    Photo("phone-adobe.heic", ("Cat",),
          {"XMP-dc:Subject": ["Oma"], "XMP-lr:HierarchicalSubject": ["People|Oma"]},
          SidecarNaming.ADOBE),
    Photo("still.heic", ("Dog",), naming=SidecarNaming.DIGIKAM),
)  # fmt: skip


def make_library(folder: Path, shared: Path) -> None:
    """The photos with the user's keywords, before scened (sidecars: the user's own)."""
    camera = shared / "data" / "camera-files"
    for photo in LIBRARY:
        path = folder / photo.name
        if path.suffix == ".heic":  # two different files: digiKam gives a byte-identical
            # copy the tags of the one it indexed first, whatever its own files say
            source = "heic.heic" if photo.naming is SidecarNaming.DIGIKAM else "IMG_3578.heic"
            shutil.copyfile(camera / source, path)
        elif path.suffix == ".dng":
            shutil.copyfile(camera / "IMG_1361.dng", path)
        else:
            photo_oracle.make_photo(path)
        if not photo.user:
            continue
        target = photo.naming.path_for(path) if photo.naming else path
        if photo.naming:
            target.write_bytes(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>\n')
        args = [f"-{tag}={value}" for tag, values in photo.user.items() for value in values]
        subprocess.run(["exiftool", "-q", "-overwrite_original", "-codedcharacterset=utf8",
                        *args, str(target)], check=True)  # fmt: skip


def tag_library(folder: Path, writer: KeywordWriter) -> list[bool]:
    """scened's keywords for every photo, as its xmp sink writes them; what changed."""
    changed = []
    for photo in LIBRARY:
        path = folder / photo.name
        if photo.naming:
            sidecar = photo.naming.path_for(path)
            changed.append(writer.tag_sidecar(sidecar, path, photo.tags, KeywordOptions()))
        else:
            changed.append(writer.tag_file(path, photo.tags, KeywordOptions()))
    return changed


def snapshot(folder: Path) -> dict[str, dict[str, list[str]]]:
    """Every keyword field of every file in ``folder``, as exiftool reads them."""
    return {p.name: photo_oracle.keyword_fields(p) for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    missing = [tool for tool in ("Xvfb", "digikam", "darktable") if not shutil.which(tool)]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run scripts/install-system-deps.sh")
    with apps.xvfb() as number:
        yield number


@pytest.fixture(scope="module")
def digikam_schema(display: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return apps.digikam_schema(display, tmp_path_factory.mktemp("digikam-schema"))


def scened(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "scened", *args], capture_output=True,
                          text=True, env=env, check=True)  # fmt: skip


def test_digikam_and_darktable_show_user_and_scened_keywords_and_untag_clears_them(
    tmp_path: Path, shared_dir: Path, display: str, digikam_schema: Path
) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    make_library(folder, shared_dir)
    before = snapshot(folder)
    writer = KeywordWriter()
    assert all(tag_library(folder, writer))
    photos = [folder / photo.name for photo in LIBRARY]

    digikam = apps.digikam_index(display, digikam_schema, folder, tmp_path / "digikam-1")
    darktable = apps.darktable_index(display, photos, tmp_path / "darktable-1")
    for photo in LIBRARY:
        user = photo.user_keywords
        assert {f"{ROOT}/{tag}" for tag in photo.tags} | {k.replace("|", "/") for k in user} == {
            t for t in digikam[photo.name] if t != ROOT
        }, photo.name
        assert {f"{ROOT}|{tag}" for tag in photo.tags} | user <= darktable[photo.name], photo.name

    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert not any(tag_library(folder, writer))  # a second scened run changes nothing
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files

    scened("untag", "--include-other-sidecars", str(folder))
    after = snapshot(folder)
    for name, fields in before.items():
        assert after[name] == fields, name  # every field exactly as before scened
    for name in set(after) - set(before):  # darktable's own sidecars: no copies left
        assert not any(v.startswith(ROOT) for values in after[name].values() for v in values)

    digikam = apps.digikam_index(display, digikam_schema, folder, tmp_path / "digikam-2")
    darktable = apps.darktable_index(display, photos, tmp_path / "darktable-2")
    for photo in LIBRARY:
        user = photo.user_keywords
        scened_words = {ROOT, *photo.tags} | {f"{ROOT}|{t}" for t in photo.tags}
        assert digikam[photo.name] == {k.replace("|", "/") for k in user}, photo.name
        assert user <= darktable[photo.name], photo.name
        assert not scened_words & darktable[photo.name], photo.name
