"""Image checks, duplicate detection, the dataset folder and downloads (no browser)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from scened_scraper.dataset import MANIFEST, REJECTED, Dataset, url_key
from scened_scraper.dedupe import DuplicateIndex
from scened_scraper.fetch import Downloader, FetchError, HostRateLimiter
from scened_scraper.quality import UnusableImageError, prepare_image, sha256_hex

from .scraper_fake_engine import EngineServer, FakeEngine, Resource
from .scraper_media import data_url, encode, near_duplicate, open_rgb, tiny, transparent_png


def test_a_real_photo_becomes_an_rgb_jpeg_of_the_same_size(photos: dict[str, list[bytes]]) -> None:
    original = open_rgb(photos["Beach"][0])
    prepared = prepare_image(photos["Beach"][0], min_side=100)
    saved = Image.open(io.BytesIO(prepared.jpeg))
    assert (saved.format, saved.mode, saved.size) == ("JPEG", "RGB", original.size)
    assert (prepared.width, prepared.height) == original.size
    assert prepared.sha256 == sha256_hex(prepared.jpeg)


def test_transparency_is_flattened_onto_white(photos: dict[str, list[bytes]]) -> None:
    original = open_rgb(photos["Cat"][0])
    prepared = Image.open(io.BytesIO(prepare_image(transparent_png(photos["Cat"][0]), 100).jpeg))
    x, y = original.width // 4, original.height // 2  # in the half-transparent half
    before, after = original.getpixel((x, y)), prepared.getpixel((x, y))
    assert isinstance(before, tuple) and isinstance(after, tuple)
    for channel_before, channel_after in zip(before, after, strict=True):
        assert abs(channel_after - (channel_before + 255) / 2) <= 8


def test_a_palette_gif_is_accepted_as_rgb(photos: dict[str, list[bytes]]) -> None:
    gif = encode(open_rgb(photos["Forest"][0]).convert("P"), "GIF")
    assert Image.open(io.BytesIO(prepare_image(gif, 100).jpeg)).mode == "RGB"


def test_images_under_the_minimum_side_are_refused(photos: dict[str, list[bytes]]) -> None:
    small = tiny(photos["Beach"][1], side=90)
    with pytest.raises(UnusableImageError, match=r"^tiny: 90x\d+ is under 100 px"):
        prepare_image(small, min_side=100)
    assert prepare_image(small, min_side=40).width == 90


@pytest.mark.parametrize(
    "make",
    [
        lambda photo: b"<!doctype html><p>a web page</p>",
        lambda photo: photo[: len(photo) // 3],
        lambda photo: b"",
    ],
    ids=["html", "truncated-jpeg", "empty"],
)
def test_what_does_not_decode_is_not_an_image(
    photos: dict[str, list[bytes]], make: Callable[[bytes], bytes]
) -> None:
    with pytest.raises(UnusableImageError, match=r"^not-an-image"):
        prepare_image(make(photos["Beach"][2]), min_side=10)


def test_duplicates_and_near_duplicates_are_recognised(photos: dict[str, list[bytes]]) -> None:
    index = DuplicateIndex(max_distance=6)
    first = prepare_image(photos["Beach"][0], 100)
    index.add(first.sha256, first.phash)
    again = prepare_image(photos["Beach"][0], 100)
    near = prepare_image(near_duplicate(photos["Beach"][0]), 100)
    other = prepare_image(photos["Beach"][1], 100)
    assert index.duplicate_reason(again.sha256, again.phash) == "duplicate"
    assert near.sha256 != first.sha256
    assert index.duplicate_reason(near.sha256, near.phash) == "near-duplicate"
    assert index.duplicate_reason(other.sha256, other.phash) is None


def test_data_urls_are_logged_short_and_distinct() -> None:
    first, second = data_url(b"x" * 5000), data_url(b"y" * 5000)
    assert len(url_key(first)) < 120 and url_key(first) == url_key(first)
    assert url_key(first) != url_key(second)
    assert url_key("https://a.example/b.jpg") == "https://a.example/b.jpg"


def test_a_dataset_reopens_with_its_images_numbers_and_known_urls(
    tmp_path: Path, photos: dict[str, list[bytes]]
) -> None:
    dataset = Dataset(tmp_path, "test")
    state = dataset.load_class("Beach", 6)
    for number, photo in enumerate(photos["Beach"][:2]):
        dataset.save(
            state, "Beach sea", f"https://img.example/{number}.jpg", prepare_image(photo, 100)
        )
    dataset.reject(state, "https://img.example/gone.jpg", "broken: HTTP 404")
    (tmp_path / "Beach" / "mine.jpg").write_bytes(photos["Beach"][2])  # added by hand
    (tmp_path / "Beach" / "0007.jpg").write_bytes(b"not a jpeg")  # damaged
    with (tmp_path / MANIFEST).open("a") as manifest:
        manifest.write('{"class": "Beach", "url": "https://img.exa')  # a run killed mid-line

    reopened = Dataset(tmp_path, "test").load_class("Beach", 6)
    assert (reopened.have, reopened.next_index) == (3, 8)
    assert reopened.is_known("https://img.example/1.jpg")
    assert reopened.is_known("https://img.example/gone.jpg")
    assert not reopened.is_known("https://img.example/2.jpg")
    by_hand = prepare_image(photos["Beach"][2], 100)
    assert reopened.duplicates.duplicate_reason(by_hand.sha256, by_hand.phash) is not None
    assert Dataset(tmp_path, "test").load_class("Cat", 6).have == 0
    rejected = [json.loads(line) for line in (tmp_path / REJECTED).read_text().splitlines()]
    assert rejected == [
        {"class": "Beach", "url": "https://img.example/gone.jpg", "reason": "broken: HTTP 404"}
    ]


def test_the_rate_limit_spaces_requests_per_host() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    limiter = HostRateLimiter(0.5, clock=lambda: now[0], sleep=sleep)
    limiter.wait_for("a.example")
    limiter.wait_for("b.example")
    now[0] += 0.2
    limiter.wait_for("a.example")
    now[0] += 1.0
    limiter.wait_for("a.example")
    assert slept == [0.3]


@pytest.fixture(scope="module")
def file_server() -> Iterator[FakeEngine]:
    with EngineServer(FakeEngine()) as engine:
        engine.resources["/down.jpg"] = Resource(b"busy", "text/plain", 503)
        engine.resources["/slow-down.jpg"] = Resource(b"later", "text/plain", 429)
        engine.serve("/big.jpg", b"x" * 2048)
        yield engine


def test_downloads_return_bodies_and_classify_failures(file_server: FakeEngine) -> None:
    downloader = Downloader(HostRateLimiter(0.0), timeout_s=5, max_bytes=1024)
    file_server.serve("/ok.jpg", b"jpeg bytes")
    assert downloader.fetch(file_server.base_url + "/ok.jpg") == b"jpeg bytes"
    assert file_server.downloads[-1] == "/ok.jpg"
    cases = {"/missing.jpg": ("HTTP 404", True), "/down.jpg": ("HTTP 503", False)}
    cases["/big.jpg"] = ("larger than 1024 bytes", True)
    cases["/slow-down.jpg"] = ("HTTP 429", False)
    for path, (reason, permanent) in cases.items():
        with pytest.raises(FetchError, match=reason) as failure:
            downloader.fetch(file_server.base_url + path)
        assert failure.value.permanent is permanent


def test_data_urls_decode_without_the_network() -> None:
    downloader = Downloader(HostRateLimiter(0.0), timeout_s=5)
    assert downloader.fetch(data_url(b"\x89PNG fake", "image/png")) == b"\x89PNG fake"
    assert downloader.fetch("data:text/plain,hello%20world") == b"hello world"
    with pytest.raises(FetchError, match="unsupported URL scheme 'ftp'"):
        downloader.fetch("ftp://files.example/a.jpg")
    with pytest.raises(FetchError, match="network error") as failure:
        downloader.fetch("http://127.0.0.1:9/nothing-listens-here.jpg")
    assert failure.value.permanent is False
