"""Fixtures of the scraper tests: the local search engine, a browser, real photos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from scened_scraper.browser import BrowserOptions, open_browser

from .scraper_fake_engine import EngineServer, FakeEngine
from .scraper_media import distinct_photos


@pytest.fixture(scope="session")
def scenes(shared_dir: Path) -> Path:
    """The shared folder of real labelled photos, one subfolder per class."""
    return shared_dir / "data" / "scenes" / "train"


@pytest.fixture(scope="session")
def photos(scenes: Path) -> dict[str, list[bytes]]:
    """Ten clearly different real photos of each of three classes."""
    return {name: distinct_photos(scenes / name, 10) for name in ("Beach", "Cat", "Forest")}


@pytest.fixture(scope="module")
def engine() -> Iterator[FakeEngine]:
    """The local search engine, running for the whole test module."""
    with EngineServer(FakeEngine()) as running:
        yield running


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    """One headless chromium for the whole test module."""
    with open_browser(BrowserOptions()) as browser:
        yield browser
