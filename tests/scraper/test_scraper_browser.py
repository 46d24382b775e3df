"""The scraper against the local search engine, in a real headless chromium.

The result pages load their thumbnails lazily, append results on scroll and behind a
"more" button, hide behind a consent overlay and mix http and data: URLs, broken links,
duplicates, a re-encoded near duplicate and a tiny image.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from selenium.webdriver.remote.webdriver import WebDriver

from scened_scraper.classes import ClassQuery
from scened_scraper.dataset import MANIFEST, REJECTED, Dataset
from scened_scraper.engines import EngineAdapter, choose_engine
from scened_scraper.fetch import Downloader, HostRateLimiter
from scened_scraper.quality import sha256_hex
from scened_scraper.scrape import ClassReport, QualitySettings, Scraper
from scened_scraper.search import result_urls

from .scraper_fake_engine import AUTO_PAGES, PAGE_SIZE, FakeEngine
from .scraper_media import data_url, near_duplicate, phash_of, seen_on_white, tiny, transparent_png

pytestmark = pytest.mark.slow


class BrowserLender:
    """Lends the module's browser to a Scraper and counts how often it was asked for."""

    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver
        self.lent = 0

    def __call__(self) -> AbstractContextManager[WebDriver]:
        self.lent += 1
        return nullcontext(self.driver)


@pytest.fixture(scope="module")
def adapter(engine: FakeEngine) -> EngineAdapter:
    """The bundled "local" adapter pointed at this module's engine."""
    return choose_engine("local", None, engine.base_url)


def make_scraper(out: Path, adapter: EngineAdapter, lender: BrowserLender) -> Scraper:
    """A scraper writing to ``out`` with the defaults of the command (quick rate limit)."""
    return Scraper(
        Dataset(out, adapter.name),
        adapter,
        Downloader(HostRateLimiter(0.01), timeout_s=10),
        QualitySettings(min_side=100, max_phash_distance=6),
        lender,
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All records of a JSON Lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def serve_beach_results(engine: FakeEngine, photos: list[bytes]) -> list[bytes]:
    """Publish the "Beach" results: 8 usable pictures among every kind of bad result.

    Returns the 8 usable pictures as they should look once saved.  The last result is a
    usable one, so a scraper asking for 8 has to walk through every bad one first.
    """
    served = [engine.serve(f"/img/beach/{i}.jpg", photo) for i, photo in enumerate(photos[:6])]
    png = transparent_png(photos[7])
    engine.serve("/img/beach/copy-of-0.jpg", photos[0])
    engine.serve("/img/beach/near-1.jpg", near_duplicate(photos[1]))
    engine.serve("/img/beach/tiny.jpg", tiny(photos[2]))
    engine.serve("/img/beach/page.jpg", b"<html>an ad, not an image</html>", "image/jpeg")
    engine.serve("/img/beach/cut.jpg", photos[3][: len(photos[3]) // 3])
    engine.results["Beach"] = [
        served[0],
        data_url(photos[6]),
        "/img/beach/copy-of-0.jpg",
        served[1],
        "/img/beach/missing.jpg",
        "/img/beach/near-1.jpg",
        served[2],
        data_url(png, "image/png"),
        "/img/beach/tiny.jpg",
        served[0],
        "/img/beach/page.jpg",
        served[3],
        "/img/beach/cut.jpg",
        served[4],
        served[5],
    ]
    return [*photos[:7], seen_on_white(png)]


@pytest.fixture(scope="module")
def beach_run(
    engine: FakeEngine, driver: WebDriver, adapter: EngineAdapter, photos: dict[str, list[bytes]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, ClassReport, list[bytes]]]:  # fmt: skip
    """One scraping run of "Beach" for 8 images; the output folder, report and pictures."""
    usable = serve_beach_results(engine, photos["Beach"])
    out = tmp_path_factory.mktemp("beach")
    [report] = make_scraper(out, adapter, BrowserLender(driver)).run([ClassQuery("Beach")], 8)
    yield out, report, usable


def test_every_usable_result_is_saved_once(
    beach_run: tuple[Path, ClassReport, list[bytes]],
) -> None:
    out, report, usable = beach_run
    files = sorted((out / "Beach").glob("*.jpg"))
    assert [path.name for path in files] == [f"{n:04d}.jpg" for n in range(1, 9)]
    assert (report.have, report.saved) == (8, 8)
    wanted = [phash_of(photo) for photo in usable]
    for path in files:
        saved = phash_of(path.read_bytes())
        assert sum(saved - picture <= 6 for picture in wanted) == 1, path
    matched = {min(range(8), key=lambda i: phash_of(p.read_bytes()) - wanted[i]) for p in files}
    assert matched == set(range(8))


def test_bad_results_are_skipped_for_the_right_reason(
    beach_run: tuple[Path, ClassReport, list[bytes]],
) -> None:
    out, report, _ = beach_run
    expected = {"broken": 1, "duplicate": 1, "near-duplicate": 1, "tiny": 1, "not-an-image": 2}
    assert report.skipped == Counter(expected)
    rejected = read_jsonl(out / REJECTED)
    by_url = {record["url"].rsplit("/", 1)[-1]: record["reason"] for record in rejected}
    assert by_url["missing.jpg"].startswith("broken: HTTP 404")
    assert by_url["copy-of-0.jpg"] == "duplicate"
    assert by_url["near-1.jpg"] == "near-duplicate"
    assert by_url["tiny.jpg"].startswith("tiny: 48x")
    assert by_url["page.jpg"].startswith("not-an-image")
    assert by_url["cut.jpg"].startswith("not-an-image")


def test_saved_files_are_rgb_jpegs_described_by_the_manifest(
    beach_run: tuple[Path, ClassReport, list[bytes]],
) -> None:
    out, _, _ = beach_run
    records = read_jsonl(out / MANIFEST)
    assert [record["file"] for record in records] == [f"Beach/{n:04d}.jpg" for n in range(1, 9)]
    for record in records:
        data = (out / record["file"]).read_bytes()
        with Image.open(out / record["file"]) as image:
            assert (image.format, image.mode) == ("JPEG", "RGB")
            assert image.size == (record["width"], record["height"])
        assert (record["class"], record["query"], record["engine"]) == ("Beach", "Beach", "local")
        assert record["sha256"] == sha256_hex(data)
        assert record["bytes"] == len(data)


def test_data_urls_are_saved_and_logged_abbreviated(
    beach_run: tuple[Path, ClassReport, list[bytes]],
) -> None:
    out, _, _ = beach_run
    data_records = [r for r in read_jsonl(out / MANIFEST) if r["url"].startswith("data:")]
    kinds = sorted(record["url"].split(",")[0] for record in data_records)
    assert kinds == ["data:image/jpeg;base64", "data:image/png;base64"]
    assert all(len(record["url"]) < 120 and "sha256" in record["url"] for record in data_records)
    http_urls = [r["url"] for r in read_jsonl(out / MANIFEST) if not r["url"].startswith("data:")]
    assert all(url.startswith("http://127.0.0.1:") for url in http_urls)


def test_lazy_loading_infinite_scroll_and_more_button_were_all_needed(
    engine: FakeEngine,
    beach_run: tuple[Path, ClassReport, list[bytes]],
) -> None:
    pages = [path for path in engine.requests if path.startswith("/page?q=Beach")]
    last_page = (len(engine.results["Beach"]) - 1) // PAGE_SIZE
    assert last_page >= AUTO_PAGES  # so the last results sit behind the "more" button
    assert [path.rsplit("=", 1)[-1] for path in pages][: last_page + 1] == [
        str(n) for n in range(last_page + 1)
    ]


def test_a_second_run_with_the_same_count_does_not_start_the_browser(
    engine: FakeEngine, driver: WebDriver, adapter: EngineAdapter,
    beach_run: tuple[Path, ClassReport, list[bytes]],
) -> None:  # fmt: skip
    out, _, _ = beach_run
    before = len(engine.requests)
    lender = BrowserLender(driver)
    [report] = make_scraper(out, adapter, lender).run([ClassQuery("Beach")], 8)
    assert (lender.lent, report.have, report.saved) == (0, 8, 0)
    assert engine.requests[before:] == []


def test_a_larger_count_tops_up_without_downloading_anything_again(
    engine: FakeEngine, driver: WebDriver, adapter: EngineAdapter,
    photos: dict[str, list[bytes]], beach_run: tuple[Path, ClassReport, list[bytes]],
) -> None:  # fmt: skip
    out, _, _ = beach_run
    engine.results["Beach"].append(engine.serve("/img/beach/8.jpg", photos["Beach"][8]))
    engine.results["Beach"].append(engine.serve("/img/beach/9.jpg", photos["Beach"][9]))
    [report] = make_scraper(out, adapter, BrowserLender(driver)).run([ClassQuery("Beach")], 10)
    assert (report.have, report.saved, sum(report.skipped.values())) == (10, 2, 0)
    assert sorted(path.name for path in (out / "Beach").glob("*.jpg"))[-2:] == [
        "0009.jpg",
        "0010.jpg",
    ]
    assert sorted(engine.downloads[-2:]) == ["/img/beach/8.jpg", "/img/beach/9.jpg"]
    fetched = Counter(engine.downloads)
    assert max(fetched.values()) == 1, fetched
    assert len(read_jsonl(out / MANIFEST)) == 10


def test_extra_words_reach_the_engine_and_the_manifest(
    engine: FakeEngine, driver: WebDriver, adapter: EngineAdapter,
    photos: dict[str, list[bytes]], tmp_path: Path,
) -> None:  # fmt: skip
    engine.results["Cat kitten"] = [
        engine.serve(f"/img/cat/{i}.jpg", photo) for i, photo in enumerate(photos["Cat"][:3])
    ]
    query = ClassQuery("Cat", "kitten")
    [report] = make_scraper(tmp_path, adapter, BrowserLender(driver)).run([query], 3)
    assert (report.have, report.short) == (3, False)
    assert {record["query"] for record in read_jsonl(tmp_path / MANIFEST)} == {"Cat kitten"}
    assert "/search?q=Cat+kitten" in engine.requests


def test_a_class_whose_results_run_out_is_reported_short(
    engine: FakeEngine, driver: WebDriver, adapter: EngineAdapter,
    photos: dict[str, list[bytes]], tmp_path: Path,
) -> None:  # fmt: skip
    engine.results["Forest"] = [
        engine.serve(f"/img/forest/{i}.jpg", photo) for i, photo in enumerate(photos["Forest"][:5])
    ]
    [report] = make_scraper(tmp_path, adapter, BrowserLender(driver)).run([ClassQuery("Forest")], 9)
    assert (report.have, report.short) == (5, True)
    assert report.summary() == "Forest: 5/9 images (5 new)"


def test_result_urls_reads_every_thumbnail_once_in_page_order(
    engine: FakeEngine, driver: WebDriver, adapter: EngineAdapter,
    photos: dict[str, list[bytes]],
) -> None:  # fmt: skip
    urls = [f"/img/order/{i}.jpg" for i in range(11)]
    engine.results["order"] = urls
    found = list(result_urls(driver, adapter, "order"))
    assert found == [engine.base_url + url for url in urls]
