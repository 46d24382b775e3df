"""Starting a headless browser through selenium, with explicit driver and binary paths.

Selenium Manager would try to download drivers from the network: passing the driver's
path to the Service skips it, and ``SE_OFFLINE`` keeps it offline if it ever runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from .errors import ScraperError

HEADLESS_FLAG = "--headless=new"
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1024",
)
DEFAULTS = {
    "chromium": (("chromedriver",), ("chromium", "chromium-browser", "google-chrome")),
    "firefox": (("geckodriver",), ("firefox", "firefox-esr")),
}


@dataclass(frozen=True)
class BrowserOptions:
    """Which browser to drive; empty paths are looked up on PATH."""

    kind: str = "chromium"
    driver: str = ""
    binary: str = ""
    headless: bool = True


def locate(given: str, candidates: tuple[str, ...], what: str, option: str) -> str:
    """The path of an executable: the one given (which must exist) or the first on PATH."""
    if given:
        if not Path(given).is_file():
            raise ScraperError(f"{what} not found at {given}")
        return given
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
    raise ScraperError(f"{what} not found on PATH ({', '.join(candidates)}): pass {option} PATH")


def chromium_driver(options: BrowserOptions, profile: str) -> WebDriver:
    """A chromium (or Chrome) session with the flags a root, headless, offline host needs."""
    drivers, binaries = DEFAULTS["chromium"]
    service = webdriver.ChromeService(
        executable_path=locate(options.driver, drivers, "chromedriver", "--driver")
    )
    chrome = webdriver.ChromeOptions()
    chrome.binary_location = locate(options.binary, binaries, "chromium", "--browser-binary")
    flags = (HEADLESS_FLAG, *CHROMIUM_FLAGS) if options.headless else CHROMIUM_FLAGS
    for flag in (*flags, f"--user-data-dir={profile}"):
        chrome.add_argument(flag)
    return webdriver.Chrome(service=service, options=chrome)


def firefox_driver(options: BrowserOptions, profile: str) -> WebDriver:
    """A Firefox session through geckodriver."""
    drivers, binaries = DEFAULTS["firefox"]
    service = webdriver.FirefoxService(
        executable_path=locate(options.driver, drivers, "geckodriver", "--driver")
    )
    firefox = webdriver.FirefoxOptions()
    firefox.binary_location = locate(options.binary, binaries, "firefox", "--browser-binary")
    if options.headless:
        firefox.add_argument("-headless")
    firefox.add_argument("-profile")
    firefox.add_argument(profile)
    firefox.add_argument("--width=1280")
    firefox.add_argument("--height=1024")
    return webdriver.Firefox(service=service, options=firefox)


@contextmanager
def open_browser(options: BrowserOptions) -> Iterator[WebDriver]:
    """A started browser with a fresh, temporary profile; quit and cleaned up afterwards."""
    if options.kind not in DEFAULTS:
        raise ScraperError(f"unknown browser {options.kind!r}; known: {', '.join(DEFAULTS)}")
    os.environ.setdefault("SE_OFFLINE", "true")
    start = chromium_driver if options.kind == "chromium" else firefox_driver
    with tempfile.TemporaryDirectory(prefix="scened-scrape-") as profile:
        try:
            driver = start(options, profile)
        except (WebDriverException, OSError) as exc:
            message = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
            first_line = message.strip().splitlines()[0]
            raise ScraperError(f"could not start {options.kind}: {first_line}") from exc
        try:
            yield driver
        finally:
            driver.quit()
