"""Reading thumbnail URLs off a result page: consent, lazy loading, infinite scroll, "more".

The page is read the way a person looks at it: every thumbnail still showing a
placeholder is scrolled into view in turn (so that lazy loaders give it its image),
then the page is scrolled to the bottom (so that infinite scroll appends results), and
at the bottom the engine's "more" button is clicked if it has one.  Each thumbnail's
URL is taken once: the page script marks it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any
from urllib.parse import urljoin

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from . import page_scripts
from .engines import EngineAdapter

MAX_ROUNDS = 2000
PLACEHOLDER_TRIES = 3


def pick_from_srcset(srcset: str) -> str:
    """The largest candidate of a ``srcset`` (by its ``w`` or ``x`` descriptor)."""
    best, best_size = "", -1.0
    for candidate in srcset.split(","):
        parts = candidate.strip().split()
        if not parts:
            continue
        descriptor = parts[1] if len(parts) > 1 else "1x"
        try:
            size = float(descriptor[:-1])
        except ValueError:
            size = 0.0
        if size > best_size:
            best, best_size = parts[0], size
    return best


def absolute_url(attribute: str, value: str, page_url: str) -> str | None:
    """The image URL an attribute value stands for, or None if it is not fetchable."""
    if attribute.endswith("srcset") and not value.startswith("data:"):
        value = pick_from_srcset(value)
    url = value if value.startswith("data:") else urljoin(page_url, value)
    return url if url.split(":", 1)[0] in ("http", "https", "data") else None


class ResultPage:
    """One engine's result page for one query, open in the browser."""

    def __init__(self, driver: WebDriver, adapter: EngineAdapter) -> None:
        self.driver = driver
        self.adapter = adapter

    def open(self, query: str) -> None:
        """Load the result page and dismiss the consent dialog if one shows up."""
        self.driver.get(self.adapter.search_url(query))
        if self.adapter.consent_button:
            self.click_if_shown(self.adapter.consent_button)

    def click_if_shown(self, selector: str) -> bool:
        """Click the first visible, enabled element matching ``selector``."""
        for element in self.driver.find_elements(By.CSS_SELECTOR, selector):
            try:
                if element.is_displayed() and element.is_enabled():
                    self.driver.execute_script("arguments[0].click();", element)
                    return True
            except WebDriverException:
                continue
        return False

    def run_script(self, script: str, *extra: object) -> Any:
        """Run one of ``page_scripts`` with this adapter's selector and attributes."""
        adapter = self.adapter
        return self.driver.execute_script(
            script,
            adapter.thumbnail,
            list(adapter.url_attributes),
            list(adapter.placeholders),
            *extra,
        )

    def take_new_urls(self) -> list[str]:
        """The URLs of the thumbnails that became real images since the last call."""
        found = self.run_script(page_scripts.HARVEST, False)
        page_url = self.driver.current_url
        urls = (absolute_url(attribute, value, page_url) for attribute, value in found)
        return [url for url in urls if url]

    def advance(self) -> bool:
        """Make more thumbnails show real images; did anything change?

        First every placeholder thumbnail is scrolled into view in turn (lazy loaders
        only load what is seen); then the page is scrolled to the bottom (infinite
        scroll); at the bottom the "more" button is clicked.  Each step waits up to the
        adapter's ``wait_s`` for new thumbnails or a taller page.
        """
        height = self.driver.execute_script(page_scripts.PAGE_HEIGHT)
        if self.adapter.scroll and self.run_script(
            page_scripts.SHOW_NEXT_PLACEHOLDER, PLACEHOLDER_TRIES
        ):
            self.wait_for_results(height)
            return True
        moved = self.adapter.scroll and self.driver.execute_script(page_scripts.SCROLL_TO_BOTTOM)
        if not moved and self.adapter.more_button:
            self.click_if_shown(self.adapter.more_button)
        return self.wait_for_results(height) or bool(moved)

    def wait_for_results(self, height: int) -> bool:
        """Wait up to ``wait_s`` for new real thumbnails or a page taller than ``height``."""

        def progress(driver: WebDriver) -> bool:
            taller = bool(driver.execute_script(page_scripts.PAGE_HEIGHT) > height)
            return taller or bool(self.run_script(page_scripts.HARVEST, True))

        try:
            WebDriverWait(self.driver, self.adapter.wait_s, poll_frequency=0.1).until(progress)
        except TimeoutException:
            return False
        return True


def result_urls(
    driver: WebDriver, adapter: EngineAdapter, query: str
) -> Generator[str, None, None]:
    """Yield the thumbnail URLs of ``query``'s results, page by page, until they run out.

    The caller stops early by closing the generator once it has enough images.
    """
    page = ResultPage(driver, adapter)
    page.open(query)
    idle_rounds = 0
    for _ in range(MAX_ROUNDS):
        urls = page.take_new_urls()
        yield from urls
        progressed = page.advance()
        idle_rounds = 0 if (urls or progressed) else idle_rounds + 1
        if idle_rounds >= adapter.patience:
            return
