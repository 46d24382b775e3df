"""End to end in a real headless chromium: a library of real photos tagged by
``scened run --once`` (a model registered through the plugin hook, the xmp sink),
reviewed through the page's own forms and keyboard, checked with exiftool and in
the state's labels."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from scened.classes import CLASSES
from scened.cli import main
from scened.cli import run as cli_run
from scened.daemon.state import StateDB
from scened.learning.store import list_labels
from scened_scraper.browser import BrowserOptions, open_browser

from .review_helpers import ThreadServer, plugin_manager, review_app, xmp_of

pytestmark = pytest.mark.slow

TOKEN = "browser-token"
ALL_IMAGES_LOADED = "return Array.from(document.images).every(i => i.complete && i.naturalWidth)"
NAMES = ("beach.jpg", "Cat & <co>.jpg", "forest.jpg", "night.jpg", "car.jpg", "flower.jpg")


@pytest.fixture
def trip(real_photos: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Six real photos tagged by ``scened run --once --config FILE``; the config file."""
    library = tmp_path / "trip"
    library.mkdir()
    for source, name in zip(real_photos, NAMES, strict=False):
        shutil.copyfile(source, library / name)
    config = tmp_path / "config.toml"
    libraries = [
        {
            "name": "trip",
            "path": str(library),
            "sinks": [{"type": "xmp"}],
            "policy": {"type": "threshold", "min_probability": 0.05, "top_k": 2},
        }
    ]
    config.write_text(tomli_w.dumps({"state_dir": str(tmp_path / "state"),
                                     "model": {"name": "review-fake"},
                                     "libraries": libraries}))  # fmt: skip
    monkeypatch.setattr(cli_run, "get_plugin_manager", plugin_manager)
    result = CliRunner().invoke(main, ["run", "--once", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "6 tagged" in result.output, result.output
    return config


def _expected_order(state: StateDB, library: Path) -> list[tuple[str, tuple[str, ...], str]]:
    """(name, tags, top class) of each photo, least confident first."""
    rows = []
    for name in NAMES:
        record = state.get(library / name)
        assert record is not None and record.probabilities and record.tags
        probabilities = record.probabilities
        top = CLASSES[probabilities.index(max(probabilities))]
        rows.append((max(probabilities), os.fsencode(library / name), name, record.tags, top))
    rows.sort()
    return [(name, tags, top) for _, _, name, tags, top in rows]


def _decide(driver: WebDriver, index: int, how: str) -> str:
    """Use the form ``how`` of photo ``index``; the flash message of the page it leads to."""
    wait = WebDriverWait(driver, 60)
    article = driver.find_element(By.ID, f"p{index}")
    if how == "confirm":
        article.find_element(By.CSS_SELECTOR, "button.confirm").click()
    elif how == "none":
        article.find_element(By.CSS_SELECTOR, "button.none").click()
    elif how == "choose Mountain":
        form = article.find_element(By.CSS_SELECTOR, "form.choose")
        Select(form.find_element(By.TAG_NAME, "select")).select_by_visible_text("Mountain")
        form.find_element(By.TAG_NAME, "button").click()
    else:  # keys: j (from the photo just decided to this one) then 1 (its top class)
        wait.until(lambda d: _is_current(d.find_element(By.ID, f"p{index - 1}")))
        ActionChains(driver).send_keys("j").perform()
        wait.until(lambda d: _is_current(d.find_element(By.ID, f"p{index}")))
        ActionChains(driver).send_keys("1").perform()
    wait.until(ec.staleness_of(article))
    flash: WebElement = wait.until(ec.presence_of_element_located((By.ID, "flash")))
    return str(flash.text)


def _is_current(article: WebElement) -> bool:
    return "current" in (article.get_attribute("class") or "").split()


def test_a_photographer_corrects_three_photos_in_chromium(
    trip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library, state_dir = tmp_path / "trip", tmp_path / "state"
    state = StateDB.open(state_dir)
    order = _expected_order(state, library)
    monkeypatch.setenv("SCENED_CONFIG", str(trip))  # what `scened serve --config` does
    app = review_app(None, token=TOKEN)

    with ThreadServer(app) as server, open_browser(BrowserOptions()) as driver:
        wait = WebDriverWait(driver, 60)
        driver.get(f"{server.url}/review/login?token={TOKEN}")
        wait.until(ec.element_to_be_clickable((By.LINK_TEXT, "trip"))).click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "article.photo")) == 6)
        shown = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "article h2.path")]
        assert shown == [f"{i}. {name}" for i, (name, _, _) in enumerate(order, start=1)]
        wait.until(lambda d: d.execute_script(ALL_IMAGES_LOADED))
        flashes = [
            _decide(driver, 0, "confirm"),
            _decide(driver, 1, "choose Mountain"),
            _decide(driver, 2, "none"),
            _decide(driver, 3, "keys j 1"),
        ]

    (a, a_tags, _), (b, b_tags, _), (c, c_tags, _), (d, d_tags, d_top) = order[:4]
    d_refused = tuple(t for t in d_tags if t != d_top)
    assert flashes == [
        f"{a}: confirmed {', '.join(a_tags)}",
        f"{b}: tagged Mountain (confirmed); refused {', '.join(b_tags)}",
        f"{c}: no scened tag any more; refused {', '.join(c_tags)}",
        f"{d}: tagged {d_top} (confirmed)"
        + (f"; refused {', '.join(d_refused)}" * bool(d_refused)),
    ]
    files = {name: xmp_of(library / name) for name in NAMES}
    assert files[a]["Subject"] == files[a]["Confirmed"] == list(a_tags)
    assert files[b]["Subject"] == files[b]["Confirmed"] == ["Mountain"]
    assert files[b]["Rejected"] == list(b_tags)
    assert "Subject" not in files[c] and files[c]["Rejected"] == list(c_tags)
    assert files[d]["Subject"] == files[d]["Confirmed"] == [d_top]
    assert files[d].get("Rejected", []) == list(d_refused)
    for name, tags, _ in order[4:]:
        assert files[name]["Subject"] == list(tags) and "Confirmed" not in files[name]
    labels = {(x.path.name, x.class_name, x.positive, x.origin) for x in list_labels(state)}
    assert labels == (
        {(a, t, True, "review") for t in a_tags}
        | {(b, "Mountain", True, "review")} | {(b, t, False, "review") for t in b_tags}
        | {(c, t, False, "review") for t in c_tags}
        | {(d, d_top, True, "review")} | {(d, t, False, "review") for t in d_refused}
    )  # fmt: skip
    state.close()
