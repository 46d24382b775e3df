"""Thumbnails: upright, at most 256 px, cached by path, size and mtime, with ETags."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from PIL import Image

from scened.config import Config
from scened.daemon.state import StateDB

from .conftest import Serve
from .review_helpers import put_rows, shown_photos

PROBABILITIES = (0.9,) + (0.1 / 35,) * 35


def _sideways_photo(path: Path) -> Path:
    """1200x800 pixels stored, with EXIF Orientation 6: upright it is 800x1200."""
    image = Image.new("RGB", (1200, 800), (200, 40, 40))
    image.paste((40, 40, 200), (0, 0, 600, 800))
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, "JPEG", exif=exif.tobytes(), quality=90)
    return path


def test_a_thumbnail_is_upright_small_cached_and_revalidated(
    serve: Serve, db: StateDB, library: Path, config: Config
) -> None:
    photo = _sideways_photo(library / "sideways.jpg")
    put_rows(db, "lib", [(photo, PROBABILITIES, ("Animals",))])

    with serve() as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/review/lib").text
        photo_id = shown_photos(page)[0].id
        assert f'src="/review/thumb/{photo_id}?v=' in page
        first = client.get(f"/review/thumb/{photo_id}")
        etag = first.headers["etag"]
        again = client.get(f"/review/thumb/{photo_id}", headers={"If-None-Match": etag})
        Image.new("RGB", (300, 300), (0, 200, 0)).save(photo, "JPEG")  # edited
        edited = client.get(f"/review/thumb/{photo_id}")
        photo.unlink()
        gone = client.get(f"/review/thumb/{photo_id}")
        unknown = client.get("/review/thumb/999999")

    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    assert first.headers["cache-control"] == "private, max-age=86400"
    with Image.open(io.BytesIO(first.content)) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (171, 256)
        red, _, blue = thumb.convert("RGB").getpixel((85, 30))  # type: ignore[misc]
        assert blue > 150 > red  # the blue half is on top once upright
    digest = etag.strip('"')
    cached = config.state_dir / "thumbnails" / f"{digest}.jpg"
    assert cached.read_bytes() == first.content
    assert again.status_code == 304 and not again.content
    assert edited.status_code == 200 and edited.headers["etag"] != etag
    with Image.open(io.BytesIO(edited.content)) as thumb:
        assert thumb.size == (256, 256)
    assert len(list(cached.parent.glob("*.jpg"))) == 2
    assert gone.status_code == unknown.status_code == 404


def test_a_photo_that_cannot_be_decoded_has_no_thumbnail(
    serve: Serve, db: StateDB, library: Path
) -> None:
    broken = library / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")
    put_rows(db, "lib", [(broken, PROBABILITIES, ())])
    with serve() as server:
        page = httpx.get(f"{server.url}/review/lib").text
        answer = httpx.get(f"{server.url}/review/thumb/{shown_photos(page)[0].id}")
    assert answer.status_code == 404 and answer.text.startswith("no preview: ")
