"""One scraping run: for each class, read results until it has the images asked for."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass, field

from selenium.webdriver.remote.webdriver import WebDriver
from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

from .classes import ClassQuery
from .dataset import ClassState, Dataset, url_key
from .engines import EngineAdapter
from .fetch import Downloader, FetchError
from .quality import UnusableImageError, prepare_image
from .search import result_urls

log = logging.getLogger(__name__)

BrowserFactory = Callable[[], AbstractContextManager[WebDriver]]


@dataclass(frozen=True)
class QualitySettings:
    """What an image must be to enter the dataset."""

    min_side: int = 100
    max_phash_distance: int = 6


@dataclass
class ClassReport:
    """How one class ended: images wanted and present, saved now, skipped by reason."""

    name: str
    wanted: int
    have: int
    saved: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def short(self) -> bool:
        """Whether the class has fewer images than asked for."""
        return self.have < self.wanted

    def summary(self) -> str:
        """One line for the end-of-run report."""
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
        line = f"{self.name}: {self.have}/{self.wanted} images ({self.saved} new"
        return line + (f"; skipped {skipped})" if skipped else ")")


class Scraper:
    """Fills ``dataset`` from ``adapter``'s results, in a browser made by ``open_browser``."""

    def __init__(
        self,
        dataset: Dataset,
        adapter: EngineAdapter,
        downloader: Downloader,
        quality: QualitySettings,
        open_browser: BrowserFactory,
    ) -> None:
        self.dataset = dataset
        self.adapter = adapter
        self.downloader = downloader
        self.quality = quality
        self.open_browser = open_browser

    def run(self, queries: list[ClassQuery], count: int) -> list[ClassReport]:
        """Top every class up to ``count`` images; the browser starts only if needed."""
        states = {
            q.name: self.dataset.load_class(q.name, self.quality.max_phash_distance)
            for q in queries
        }
        reports = [ClassReport(q.name, count, states[q.name].have) for q in queries]
        if all(not report.short for report in reports):
            return reports
        with self.open_browser() as driver:
            for query, report in zip(queries, reports, strict=True):
                if report.short:
                    self.fill_class(driver, query, states[query.name], report)
        return reports

    def fill_class(
        self, driver: WebDriver, query: ClassQuery, state: ClassState, report: ClassReport
    ) -> None:
        """Read ``query``'s results until the class is full or the results run out."""
        urls = result_urls(driver, self.adapter, query.query)
        with progress_bar(report) as bar, closing(urls):
            for url in urls:
                if state.is_known(url):
                    continue
                skipped = self.try_url(state, query.query, url, driver.current_url)
                if skipped:
                    log.info("%s: skipped %s: %s", query.name, url_key(url), skipped)
                    report.skipped[skipped.split(":", 1)[0]] += 1
                    bar.set_postfix(skipped=sum(report.skipped.values()))
                    continue
                report.saved += 1
                report.have = state.have
                bar.update(1)
                if not report.short:
                    return

    def try_url(self, state: ClassState, query: str, url: str, page_url: str) -> str | None:
        """Download, check and save one result; why it was skipped (``"reason: detail"``)."""
        try:
            data = self.downloader.fetch(url, referer=page_url)
            image = prepare_image(data, self.quality.min_side)
        except FetchError as exc:
            if not exc.permanent:
                state.known_urls.add(url_key(url))  # retried by the next run, not this one
                return f"broken: {exc}"
            return self.reject(state, url, f"broken: {exc}")
        except UnusableImageError as exc:
            return self.reject(state, url, str(exc))
        duplicate = state.duplicates.duplicate_reason(image.sha256, image.phash)
        if duplicate:
            return self.reject(state, url, duplicate)
        self.dataset.save(state, query, url, image)
        return None

    def reject(self, state: ClassState, url: str, reason: str) -> str:
        """Log ``url`` as never usable; return ``reason``."""
        self.dataset.reject(state, url, reason)
        return reason


def progress_bar(report: ClassReport) -> tqdm:
    """A class's progress bar on stderr, shown only at a terminal."""
    return tqdm(
        total=report.wanted, initial=report.have, desc=report.name, unit="img", disable=None
    )
