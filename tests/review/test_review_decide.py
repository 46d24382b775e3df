"""Decisions posted through the review page's forms are written into real photos."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from PIL import Image

from scened.config import Config
from scened.daemon.service import run_library, settings_for
from scened.daemon.state import StateDB
from scened.learning.store import list_labels

from .conftest import Serve
from .review_helpers import (
    ColourModel,
    coloured_photo,
    csrf_of,
    make_config,
    plugin_manager,
    put_rows,
    shown_photos,
    tag_library,
    xmp_of,
)

COLOURS = {"red.jpg": (200, 80, 40), "green.jpg": (40, 180, 60), "blue.jpg": (30, 60, 200)}


@pytest.fixture
def tagged(library: Path, config: Config, db: StateDB) -> dict[str, tuple[str, ...]]:
    """Three real JPEGs tagged by a real run (xmp sink): their tags by name."""
    for name, rgb in COLOURS.items():
        coloured_photo(library / name, rgb)
    tag_library(config, plugin_manager())
    tags: dict[str, tuple[str, ...]] = {}
    for name in COLOURS:
        record = db.get(library / name)
        assert record is not None and len(record.tags) == 2
        tags[name] = record.tags
    return tags


def _post(client: httpx.Client, page: str, name: str, kind: str, **extra: str) -> httpx.Response:
    photo = next(p for p in shown_photos(page) if p.name == name)
    form = {"csrf": csrf_of(page), "photo": str(photo.id), "kind": kind, "page": "1",
            "at": str(photo.index), **extra}  # fmt: skip
    return client.post("/review/lib/decide", data=form)


def _flash(answer: httpx.Response) -> str:
    cookie = answer.headers["set-cookie"]
    return unquote(cookie.split("=", 1)[1].split(";", 1)[0])


def test_confirm_choose_and_none_are_written_and_kept_as_labels(
    serve: Serve, library: Path, db: StateDB, tagged: dict[str, tuple[str, ...]]
) -> None:
    with serve() as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/review/lib").text
        confirm = _post(client, page, "red.jpg", "confirm")
        page = client.get("/review/lib").text
        choose = _post(client, page, "green.jpg", "choose", **{"class": "Mountain"})
        page = client.get("/review/lib").text
        none = _post(client, page, "blue.jpg", "none")
        after = client.get("/review/lib")
        again = client.get("/review/lib")

    red, green, blue = tagged["red.jpg"], tagged["green.jpg"], tagged["blue.jpg"]
    assert confirm.status_code == 303 and confirm.headers["location"].startswith("/review/lib?")
    assert _flash(confirm) == f"ok:red.jpg: confirmed {', '.join(red)}"
    assert (
        _flash(choose) == f"ok:green.jpg: tagged Mountain (confirmed); refused {', '.join(green)}"
    )
    assert _flash(none) == f"ok:blue.jpg: no scened tag any more; refused {', '.join(blue)}"
    assert 'id="flash"' in after.text and "blue.jpg: no scened tag any more" in after.text
    assert 'id="flash"' not in again.text  # the message is shown once
    assert "Your decisions: ✓ Mountain" in after.text

    assert xmp_of(library / "red.jpg")["Confirmed"] == list(red)
    green_xmp = xmp_of(library / "green.jpg")
    assert green_xmp["Subject"] == ["Mountain"] and green_xmp["Rejected"] == list(green)
    blue_xmp = xmp_of(library / "blue.jpg")
    assert "Subject" not in blue_xmp and blue_xmp["Rejected"] == list(blue)
    labels = {(label.path.name, label.class_name, label.positive, label.origin)
              for label in list_labels(db, ["lib"])}  # fmt: skip
    assert labels == (
        {("red.jpg", name, True, "review") for name in red}
        | {("green.jpg", "Mountain", True, "review")}
        | {("green.jpg", name, False, "review") for name in green}
        | {("blue.jpg", name, False, "review") for name in blue}
    )
    assert db.get(library / "green.jpg").tags == ("Mountain",)  # type: ignore[union-attr]


@pytest.mark.usefixtures("tagged")
def test_failures_are_one_line_messages_and_change_nothing(
    serve: Serve, library: Path, db: StateDB
) -> None:
    before = (library / "red.jpg").read_bytes()
    with serve() as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/review/lib").text
        unknown_class = _post(client, page, "red.jpg", "choose", **{"class": "Nope"})
        unknown_kind = _post(client, page, "red.jpg", "maybe")
        # edited by another program since the scan: scened leaves it alone
        with Image.open(library / "green.jpg") as image:
            image.rotate(90).save(library / "green.jpg", "JPEG")
        busy = _post(client, page, "green.jpg", "confirm")
        _post(client, page, "blue.jpg", "none")
        stale = _post(client, page, "blue.jpg", "confirm")  # its row was written again
        shown = client.get("/review/lib").text

    assert _flash(unknown_class) == "error:red.jpg: unknown class 'Nope'"
    assert _flash(unknown_kind) == "error:unknown decision 'maybe'"
    assert _flash(busy).startswith("error:green.jpg: changed by something else since it was read")
    assert _flash(stale) == "error:this photo changed since the page was shown: reload the page"
    assert 'class="flash error"' in shown and "reload the page" in shown
    assert (library / "red.jpg").read_bytes() == before
    assert "Confirmed" not in xmp_of(library / "green.jpg")
    assert {label.path.name for label in list_labels(db, ["lib"])} == {"blue.jpg"}


@pytest.mark.usefixtures("tagged")
def test_an_ad_hoc_library_is_reviewed_under_its_path(
    serve: Serve, library: Path, tmp_path: Path
) -> None:
    """``scened run --once PATH`` names the library by its folder: its URL quotes it."""
    folder = tmp_path / "ad hoc"
    coloured_photo(folder / "x.jpg", (200, 80, 40))
    config = make_config(tmp_path / "state", library)
    ad_hoc = config.library_for(folder)
    assert ad_hoc.name == str(folder)
    run_library(ad_hoc, config=config, classifier=ColourModel(), pm=plugin_manager(),
                settings=settings_for(config, dry_run=False))  # fmt: skip
    with serve() as server, httpx.Client(base_url=server.url) as client:
        home = client.get("/review").text
        url = "/review/" + str(folder).replace("/", "%2F").replace(" ", "%20")
        page = client.get(url)
        decided = client.post(
            url + "/decide",
            data={"csrf": csrf_of(page.text), "photo": str(shown_photos(page.text)[0].id),
                  "kind": "none", "page": "1", "at": "0"},
        )  # fmt: skip

    assert f'href="{url}"' in home
    assert page.status_code == 200 and [p.name for p in shown_photos(page.text)] == ["x.jpg"]
    assert _flash(decided).startswith("ok:x.jpg: no scened tag any more")
    assert "Rejected" in xmp_of(folder / "x.jpg")


def test_a_photo_without_tags_has_nothing_to_confirm(
    serve: Serve, library: Path, db: StateDB
) -> None:
    put_rows(db, "lib", [(library / "plain.jpg", (0.5, 0.5) + (0.0,) * 34, ())])
    with serve() as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/review/lib").text
        answer = _post(client, page, "plain.jpg", "confirm")
    assert 'data-key="c" disabled' in page
    assert _flash(answer) == "error:plain.jpg: no tag to confirm"
    assert list_labels(db) == []
