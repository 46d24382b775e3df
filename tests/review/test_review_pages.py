"""The review pages over a real server: order, pagination, escaping, headers."""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import httpx
import pytest

from scened.classes import CLASSES
from scened.daemon.state import StateDB
from scened.review.layout import CONTENT_SECURITY_POLICY

from .conftest import Serve
from .review_helpers import Row, make_config, put_rows, shown_photos


def _probabilities(rng: random.Random) -> tuple[float, ...]:
    weights = [rng.random() ** 4 for _ in CLASSES]
    total = sum(weights)
    return tuple(w / total for w in weights)


def test_photos_go_least_confident_first_over_pages_of_50(
    serve: Serve, db: StateDB, library: Path
) -> None:
    rng = random.Random(7)
    rows: list[Row] = [
        (library / f"{i:03d}.jpg", _probabilities(rng), ("Beach",)) for i in range(117)
    ]
    rows += [(library / "no-probabilities.jpg", None, ())]
    rows += [(library / "equal-b.jpg", (0.5, 0.5) + (0.0,) * 34, ("Animals",))]
    rows += [(library / "equal-a.jpg", (0.5, 0.5) + (0.0,) * 34, ("Animals",))]
    put_rows(db, "lib", rows)
    # a list SQLite's JSON cannot read (json.dumps writes NaN) sorts with the unknown
    nan_path = library / "nan.jpg"
    put_rows(db, "lib", [(nan_path, (math.nan,) + (0.1,) * 35, ())])
    put_rows(db, "other", [(Path("/elsewhere/x.jpg"), _probabilities(rng), ("Cat",))])

    with serve() as server, httpx.Client(base_url=server.url) as client:
        pages = [client.get("/review/lib", params={"page": n}) for n in (1, 2, 3)]
        beyond = client.get("/review/lib", params={"page": 99})
        nonsense = client.get("/review/lib", params={"page": "abc"})

    assert all(page.status_code == 200 for page in pages)
    shown = [photo.name for page in pages for photo in shown_photos(page.text)]
    assert [len(shown_photos(page.text)) for page in pages] == [50, 50, 21]

    def confidence(row: Row) -> float:
        probabilities = row[1]
        return max(probabilities) if probabilities else math.inf

    expected = sorted(rows, key=lambda row: (confidence(row), os.fsencode(row[0])))
    names = [row[0].name for row in expected]
    unknown = {"no-probabilities.jpg", "nan.jpg"}
    assert shown[:119] == names[:119] and set(shown[119:]) == unknown
    assert shown.index("equal-a.jpg") + 1 == shown.index("equal-b.jpg")
    assert "x.jpg" not in shown
    assert 'rel="next"' in pages[0].text and 'rel="prev"' not in pages[0].text
    assert 'rel="prev"' in pages[2].text and 'rel="next"' not in pages[2].text
    assert "page 2 of 3" in pages[1].text and "121 tagged photos" in pages[0].text
    assert shown_photos(beyond.text) == shown_photos(pages[2].text)
    assert shown_photos(nonsense.text) == shown_photos(pages[0].text)


def test_each_photo_shows_tags_top_three_and_the_three_forms(
    serve: Serve, db: StateDB, library: Path
) -> None:
    probabilities = [0.0] * len(CLASSES)
    for name, p in (("Beach", 0.62), ("Sky", 0.25), ("Sunset", 0.1), ("Coast", 0.03)):
        probabilities[CLASSES.index(name)] = p
    put_rows(db, "lib", [(library / "trip" / "a.jpg", tuple(probabilities), ("Beach", "Sky"))])

    with serve() as server:
        page = httpx.get(f"{server.url}/review/lib").text

    assert '<h2 class="path">1. trip/a.jpg</h2>' in page
    assert '<span class="tag">Beach</span><span class="tag">Sky</span>' in page
    assert "1 · Beach 62 %" in page and "2 · Sky 25 %" in page and "3 · Sunset 10 %" in page
    assert "Coast 3 %" not in page
    for kind in ("confirm", "choose", "none"):
        assert f'name="kind" value="{kind}"' in page
    assert page.count('action="/review/lib/decide"') == 6  # 3 top classes, 3 actions
    assert page.count("<option ") == len(CLASSES)
    assert '<option value="Beach" selected>' in page
    assert '<img src="/review/thumb/' in page
    assert page.count("<script>") == 1 and "src=" not in page.split("<script>")[1]


def test_paths_tags_and_library_names_are_escaped(
    serve: Serve, db: StateDB, library: Path, tmp_path: Path
) -> None:
    evil = "<script>alert(1)</script>"
    config = make_config(tmp_path / "state", library, f"lib {evil}")
    probabilities = (0.9,) + (0.1 / 35,) * 35
    undecodable = Path(os.fsdecode(os.fsencode(str(library)) + b"/caf\xe9.jpg"))
    put_rows(
        db, config.libraries[0].name,
        [(library / f'{evil}&"q\'.jpg', probabilities, ('<img src=x onerror="alert(2)">',)),
         (undecodable, probabilities, ("Cat",))],
    )  # fmt: skip

    with serve(config=config) as server, httpx.Client(base_url=server.url) as client:
        home = client.get("/review")
        page = client.get("/review/lib%20%3Cscript%3Ealert(1)%3C%2Fscript%3E")

    assert page.status_code == 200, page.text
    for text in (home.text, page.text):
        assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;q&#x27;.jpg" in page.text
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page.text
    assert "caf\ufffd.jpg" in page.text
    assert 'href="/review/lib%20%3Cscript%3Ealert%281%29%3C%2Fscript%3E"' in home.text


def test_html_answers_forbid_everything_but_this_site(serve: Serve, db: StateDB) -> None:
    with serve() as server, httpx.Client(base_url=server.url) as client:
        home = client.get("/review")
        missing = client.get("/review/nope")
        slash = client.get("/review/")

    assert home.status_code == 200 and "lib" in home.text
    assert home.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert home.headers["cache-control"] == "no-store"
    assert slash.status_code == 303 and slash.headers["location"] == "/review"
    assert missing.status_code == 404 and "no library named &#x27;nope&#x27;" in missing.text


def test_a_broken_configuration_is_one_line_on_the_page(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[libraries]]\npath = 3\n")
    monkeypatch.setenv("SCENED_CONFIG", str(bad))
    with serve(config=None) as server:
        answer = httpx.get(f"{server.url}/review")
    assert answer.status_code == 500
    assert "The review page cannot be shown" in answer.text and "bad.toml" in answer.text


def test_probabilities_column_format_is_what_the_state_writes(db: StateDB, library: Path) -> None:
    """The order reads ``probabilities`` as the JSON list StateDB.record writes."""
    put_rows(db, "lib", [(library / "a.jpg", (0.25, 0.75), ())])
    stored = db.connection().execute("SELECT probabilities FROM photos").fetchone()[0]
    assert json.loads(stored) == [0.25, 0.75]
